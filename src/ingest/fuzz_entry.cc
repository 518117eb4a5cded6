#include "ingest/fuzz_entry.h"

#include <string>
#include <string_view>

#include "ingest/collectd_json/parser.h"
#include "ingest/common/appender_sink.h"
#include "ingest/graphite/parser.h"
#include "ingest/influx_line/parser.h"
#include "ingest/otlp_metrics/parser.h"
#include "ingest/prom_remote_write/parser.h"
#include "ingest/prom_text/parser.h"
#include "tsdb/exemplars.h"

namespace kansoku::ingest {

namespace {
std::string_view View(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}
// Validates labels like the storage does and drops everything: lets the fuzzer reach
// AppenderSink (labels building, raw-key cache, duplicate detection).
class ValidatingNullAppender : public tsdb::Appender {
 public:
  Status Append(const tsdb::Labels& labels, int64_t, double) override {
    return tsdb::ValidateLabels(labels);
  }
  Status UpdateMetadata(std::string_view, const tsdb::MetricMetadata&) override {
    return Status::Ok();
  }
  Status AppendExemplar(const tsdb::Labels& series, const tsdb::Exemplar& e) override {
    KANSOKU_RETURN_IF_ERROR(tsdb::ValidateLabels(series));
    return tsdb::ExemplarStore::Validate(e);
  }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}
};

// Runs decode(sink, report) into an AppenderSink whose cache is shared by two runs, so the
// second run takes the cache-hit paths.
template <typename Decode>
void ThroughAppender(Decode decode) {
  SeriesCache cache(256);
  for (int i = 0; i < 2; ++i) {
    ValidatingNullAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    decode(static_cast<RowSink&>(sink), report);
    (void)sink.Commit();
    (void)report.Summary();
  }
}

DecodeOptions FuzzOptions() {
  DecodeOptions o;
  o.now_ms = 1795671866473;
  o.flush_rows = 64;  // exercise the flush path
  return o;
}
}  // namespace

int FuzzPromRemoteWrite(const uint8_t* data, size_t size) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  DecodeReport report;
  (void)prom_remote_write::DecodeWriteRequest(View(data, size), opts, sink, report);
  ThroughAppender([&](RowSink& s, DecodeReport& r) {
    (void)prom_remote_write::DecodeWriteRequest(View(data, size), opts, s, r);
  });
  std::string decoded;
  if (prom_remote_write::DecodeSnappyBlock(View(data, size), &decoded, 1 << 20).ok()) {
    DecodeReport report2;
    (void)prom_remote_write::DecodeWriteRequest(decoded, opts, sink, report2);
  }
  (void)report.Summary();
  return 0;
}

int FuzzPromText(const uint8_t* data, size_t size) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  for (auto f : {prom_text::Format::kPrometheusText, prom_text::Format::kOpenMetrics}) {
    DecodeReport report;
    prom_text::ParsePromText(View(data, size), f, opts, sink, report);
    (void)report.Summary();
  }
  for (auto f : {prom_text::Format::kPrometheusText, prom_text::Format::kOpenMetrics}) {
    // OpenMetrics: exemplars reach the sink's AppendExemplar path too.
    ThroughAppender([&](RowSink& s, DecodeReport& r) {
      prom_text::ParsePromText(View(data, size), f, opts, s, r);
    });
  }
  return 0;
}

int FuzzInfluxLine(const uint8_t* data, size_t size) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  for (auto p : {influx_line::Precision::kNanoseconds, influx_line::Precision::kHours}) {
    influx_line::Options o;
    o.precision = p;
    DecodeReport report;
    influx_line::ParseInfluxLines(View(data, size), o, opts, sink, report);
    (void)report.Summary();
  }
  ThroughAppender([&](RowSink& s, DecodeReport& r) {
    influx_line::ParseInfluxLines(View(data, size), influx_line::Options{}, opts, s, r);
  });
  return 0;
}

int FuzzGraphite(const uint8_t* data, size_t size) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  DecodeReport report;
  std::string_view body = View(data, size);
  graphite::ParseGraphite(body.substr(0, graphite::CompleteLinesLength(body)), opts, sink, report);
  (void)report.Summary();
  return 0;
}

int FuzzCollectdJson(const uint8_t* data, size_t size) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  DecodeReport report;
  (void)collectd_json::ParseCollectdJson(View(data, size), opts, sink, report);
  (void)report.Summary();
  return 0;
}

namespace {
int FuzzOtlp(const uint8_t* data, size_t size, bool json) {
  DecodeOptions opts = FuzzOptions();
  DiscardSink sink(true);
  otlp_metrics::DeltaAccumulator acc(1000);
  otlp_metrics::Parser parser;
  for (bool with_delta : {false, true}) {
    otlp_metrics::Options o;
    o.delta = with_delta ? &acc : nullptr;
    o.add_suffixes = with_delta;
    o.promote_resource_attributes = {"host.name"};
    DecodeReport report;
    Status st = json ? parser.ParseJson(View(data, size), o, opts, sink, report)
                     : parser.ParseProto(View(data, size), o, opts, sink, report);
    (void)st;
    (void)otlp_metrics::EncodeExportResponse(report, json);
  }
  ThroughAppender([&](RowSink& s, DecodeReport& r) {
    otlp_metrics::Options o;
    (void)(json ? parser.ParseJson(View(data, size), o, opts, s, r)
                : parser.ParseProto(View(data, size), o, opts, s, r));
  });
  return 0;
}
}  // namespace

int FuzzOtlpProto(const uint8_t* data, size_t size) { return FuzzOtlp(data, size, false); }
int FuzzOtlpJson(const uint8_t* data, size_t size) { return FuzzOtlp(data, size, true); }

}  // namespace kansoku::ingest
