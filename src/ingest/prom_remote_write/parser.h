#pragma once
// Prometheus remote-write 1.0 decoder: WriteRequest protobuf -> RowBatch.
//
// Input: the protobuf body after snappy block decoding (the HTTP layer undoes
// Content-Encoding: snappy; DecodeSnappyBlock is here for it and for tests). Hand-written wire
// decoder for prometheus.WriteRequest (no protoc):
//   WriteRequest  { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//   TimeSeries    { repeated Label labels = 1; repeated Sample samples = 2;
//                   repeated Exemplar exemplars = 3; repeated Histogram histograms = 4 }
//   Exemplar      { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }  // ms
//   Label         { string name = 1; string value = 2; }
//   Sample        { double value = 1; int64 timestamp = 2; }   // ms; proto3: zeros omitted
//   MetricMetadata{ MetricType type = 1; string metric_family_name = 2; string help = 4;
//                   string unit = 5; }
// Unknown fields are skipped. Native histograms (field 4) are not supported: each is counted as
// a rejected row (kUnsupported).
//
// Errors:
//  - request level (malformed protobuf: truncated message, bad varint, wrong wire type): nothing
//    of the request is handed to the sink (all or nothing), report.SetRequestError gets
//    InvalidArgument "cannot parse remote write request: ...", the returned Status is that
//    error, and the outcome is 400 (the sender must not retry);
//  - row level (no metric name, too many labels, timestamp out of range): that row (or the
//    series' rows) is rejected in the report ("timeseries N (name): why"); the rest is stored and
//    the response is 400 as Prometheus does, so the sender drops the batch instead of retrying.
// NaN values, including the staleness marker (tsdb::StaleNaN), are stored as sent.
//
// Ownership: label views point into `body`, which must outlive the call. Thread safety: the
// functions are reentrant; a Decoder object reuses its batch and is single-threaded.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::prom_remote_write {

// Snappy *block* format (not framed) into *out (resized; reuse it across requests to avoid
// allocation). InvalidArgument "cannot decode snappy block: ..." on corrupt input, and
// ResourceExhausted when the declared decoded size exceeds max_decoded_bytes.
Status DecodeSnappyBlock(std::string_view compressed, std::string* out,
                         size_t max_decoded_bytes = 64u << 20);

class Decoder {
 public:
  // Decodes one WriteRequest. Returns the request-level Status (also recorded in the report);
  // row errors are only in the report.
  Status Decode(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                DecodeReport& report);

 private:
  RowBatch batch_;
  std::vector<LabelView> ex_labels_;  // scratch for one exemplar's labels
};

// Convenience wrapper with a fresh Decoder.
Status DecodeWriteRequest(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                          DecodeReport& report);

}  // namespace kansoku::ingest::prom_remote_write
