// Benchmarks the text-format parser on a node_exporter-like body (1000 lines, a few labels).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ingest/common/appender_sink.h"
#include "ingest/prom_text/parser.h"

namespace kansoku::ingest::prom_text {
namespace {

std::string MakeBody(int lines) {
  std::string b =
      "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
      "# TYPE node_cpu_seconds_total counter\n";
  for (int i = 0; i < lines; ++i) {
    b += "node_cpu_seconds_total{cpu=\"" + std::to_string(i % 64) +
         "\",mode=\"idle\",instance=\"web-" + std::to_string(i / 64) + ":9100\"} " +
         std::to_string(320.13 + i) + " 1795671866473\n";
  }
  return b;
}

void BM_ParsePromText(benchmark::State& state) {
  std::string body = MakeBody(1000);
  DecodeOptions opts;
  opts.now_ms = 1795671866473;
  Parser parser;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    parser.Parse(body, Format::kPrometheusText, opts, sink, report);
    rows += 1000;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_ParsePromText);

class NullAppender : public tsdb::Appender {
 public:
  Status Append(const tsdb::Labels&, int64_t, double) override { return Status::Ok(); }
  Status UpdateMetadata(std::string_view, const tsdb::MetricMetadata&) override {
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}
};

// Parse + AppenderSink with a SeriesCache shared across requests (the import/scrape steady
// state: the same series every time).
void BM_ParsePromTextAppendCached(benchmark::State& state) {
  std::string body = MakeBody(1000);
  DecodeOptions opts;
  opts.now_ms = 1795671866473;
  Parser parser;
  SeriesCache cache;
  int64_t rows = 0;
  for (auto _ : state) {
    NullAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    parser.Parse(body, Format::kPrometheusText, opts, sink, report);
    (void)sink.Commit();
    rows += 1000;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParsePromTextAppendCached);

// bench/tsdb's import, per worker: bodies of 8192 lines cycling through state.range(0) series of
// 5 labels (gen.cc's), every series already known to the cache and the parser.
void BM_ImportLikeAppendCached(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  constexpr int kLines = 8192;
  std::vector<std::string> bodies;
  for (int start = 0; start < series; start += kLines) {
    std::string b;
    for (int i = start; i < start + kLines; ++i) {
      const int s = i % series;
      const std::string host = "host-" + std::to_string(s / 200);
      b += "node_cpu_seconds_total{cpu=\"" + std::to_string(s % 200 / 8) + "\",mode=\"mode" +
           std::to_string(s % 8) + "\",instance=\"" + host + ":9100\",job=\"node\",host=\"" + host +
           "\"} " + std::to_string(871199.39 + i) + " 1795797491815\n";
    }
    bodies.push_back(std::move(b));
  }
  DecodeOptions opts;
  opts.now_ms = 1795797491815;
  Parser parser;
  SeriesCache cache;
  int64_t rows = 0;
  size_t next = 0;
  for (auto _ : state) {
    NullAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    parser.Parse(bodies[next], Format::kPrometheusText, opts, sink, report);
    (void)sink.Commit();
    next = (next + 1) % bodies.size();
    rows += kLines;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ImportLikeAppendCached)->Arg(1000)->Arg(20000);

}  // namespace
}  // namespace kansoku::ingest::prom_text
