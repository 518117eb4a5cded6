#pragma once
// OTLP/HTTP metrics decoder (POST /v1/metrics): ExportMetricsServiceRequest in protobuf
// (application/x-protobuf, hand-written wire decoder) or JSON (application/json, simdjson)
// -> RowBatch, following Prometheus' OTLP translation (docs/design/ingest-otlp-metrics.md):
//
//  - resource attributes: service.name -> job (prefixed "<service.namespace>/" when set),
//    service.instance.id -> instance; the other resource attributes go to one target_info
//    series per resource (value 1), and the ones listed in Options::promote_resource_attributes
//    are also copied to every series. Data point attributes become labels.
//  - names: split on bytes outside [a-zA-Z0-9] and joined with '_' ("http.server.duration" ->
//    "http_server_duration"); with Options::add_suffixes (default, as Prometheus) the unit is
//    appended ("s" -> "_seconds", "By" -> "_bytes", "By/s" -> "_bytes_per_second", "{req}"
//    dropped, "1" -> "_ratio" for gauges) and monotonic sums get "_total". Label names:
//    invalid bytes -> '_', a leading digit gets "key_", a single leading '_' gets "key".
//  - gauge and sum points -> one row; histogram -> classic <name>_bucket{le=...} (cumulative),
//    <name>_bucket{le="+Inf"} = count, <name>_sum, <name>_count; summary -> <name>{quantile=...},
//    <name>_sum, <name>_count. Exponential histograms are rejected (kUnsupported).
//  - temporality: cumulative is stored as is. Delta sums/histograms need per-series state:
//    with Options::delta set, each delta is added to a running total (DeltaAccumulator) and the
//    total is stored; without it delta points are rejected (kUnsupported), as Prometheus does.
//  - time_unix_nano -> ms (0 -> now); the NO_RECORDED_VALUE flag -> the staleness marker.
//
// Errors: a malformed body (bad JSON, truncated protobuf, wrong wire types, wrong JSON types in
// the structure) is a request error (InvalidArgument "cannot parse OTLP ...", nothing stored,
// 400). A bad data point (bucket count mismatch, delta without accumulator, timestamp out of
// range, unsupported type) is rejected with "data point N (metric \"x\"): why" and the rest is
// stored. The handler answers 200 with EncodeExportResponse(report, json) (OTLP partial success)
// unless report.outcome() is a request error.
//
// Ownership: label views point into `body`, the parser's JSON document or the batch arena;
// valid during RowSink::Consume only. Thread safety: a Parser is single-threaded (keep one per
// worker thread); DeltaAccumulator is thread-safe and shared by all handlers.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::otlp_metrics {

// Running totals for delta-temporality series: Add() returns the sum of all deltas seen for the
// label set (order-independent). When it holds more than max_series it forgets everything
// (totals restart from the next delta: a counter reset that rate() handles).
// Thread-safe: one instance shared by all OTLP handlers.
class DeltaAccumulator {
 public:
  explicit DeltaAccumulator(size_t max_series = 1 << 20) : max_series_(max_series) {}
  double Add(const LabelView* labels, uint32_t n, double delta);
  size_t size() const;

 private:
  size_t max_series_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, double> totals_;  // GUARDED_BY(mu_); key: sorted k=v pairs
};

struct Options {
  // Unit and _total suffixes (Prometheus' UnderscoreEscapingWithSuffixes, its default).
  bool add_suffixes = true;
  // One target_info series per resource with its non-identifying attributes.
  bool emit_target_info = true;
  // Resource attributes copied onto every series (as Prometheus' promote_resource_attributes).
  std::vector<std::string> promote_resource_attributes;
  // State for delta temporality; null -> delta points are rejected.
  DeltaAccumulator* delta = nullptr;
};

class Parser {
 public:
  Parser();
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Both return the request-level Status (also recorded in the report).
  Status ParseProto(std::string_view body, const Options& options, const DecodeOptions& opts,
                    RowSink& sink, DecodeReport& report);
  Status ParseJson(std::string_view body, const Options& options, const DecodeOptions& opts,
                   RowSink& sink, DecodeReport& report);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OTLP response body: ExportMetricsServiceResponse, with partial_success
// {rejected_data_points, error_message = report.Summary()} when rows were rejected. JSON or
// protobuf to match the request's Content-Type.
std::string EncodeExportResponse(const DecodeReport& report, bool json);

// Exposed for tests: Prometheus-style metric name from an OTLP name and unit.
enum class Kind : unsigned char { kGauge, kSum, kHistogram, kSummary, kExponentialHistogram };
std::string BuildMetricName(std::string_view name, std::string_view unit, Kind kind, bool monotonic,
                            bool add_suffixes);
std::string NormalizeLabelName(std::string_view name);

}  // namespace kansoku::ingest::otlp_metrics
