#pragma once
// collectd write_http JSON parser (Format "JSON") -> RowBatch, for POST /collectd.
//
// Input: a JSON array of value lists, as collectd 5.12 sends:
//   [{"values":[0.31,0.43,0.21],"dstypes":["gauge","gauge","gauge"],
//     "dsnames":["shortterm","midterm","longterm"],"time":1795671991.142,"interval":2.000,
//     "host":"kansoku-test","plugin":"load","plugin_instance":"","type":"load",
//     "type_instance":""}, ...]
// Mapping (docs/design/ingest-collectd-json.md): one row per value,
//   name   = collectd_<plugin>_<type>[_<dsname>][_total]
//            dsname omitted when it is "value" (single-value types); "_total" for the cumulative
//            dstypes "derive" and "counter" (Prometheus counter naming); sanitized.
//   labels = host, plugin_instance, type_instance (empty ones dropped)
//   time   = float seconds -> ms (absent or 0 -> now); null values (collectd's NaN) are skipped.
//
// Errors: invalid JSON or a top level that is not an array is a request error
// (InvalidArgument "cannot parse collectd JSON: ...", nothing stored, 400). A bad value list
// (missing plugin/type, mismatched array lengths, non-numeric value, unknown dstype) is rejected
// with "value list N: ..." (one rejected row per value) and the others are stored.
//
// Ownership: label views point into the parser's copy of the document (simdjson DOM); valid
// during RowSink::Consume only. Thread safety: a Parser (which reuses its simdjson buffers) is
// single-threaded; keep one per worker thread.
#include <memory>
#include <string_view>

#include "base/status.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::collectd_json {

class Parser {
 public:
  Parser();
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Returns the request-level Status (also recorded in the report).
  Status Parse(std::string_view body, const DecodeOptions& opts, RowSink& sink,
               DecodeReport& report);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Status ParseCollectdJson(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                         DecodeReport& report);

}  // namespace kansoku::ingest::collectd_json
