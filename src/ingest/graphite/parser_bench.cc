// Benchmarks the Graphite parser on collectd-style lines (1000 lines, CRLF).
#include <benchmark/benchmark.h>

#include <string>

#include "ingest/graphite/parser.h"

namespace kansoku::ingest::graphite {
namespace {

void BM_ParseGraphite(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    body += "collectd.web-" + std::to_string(i % 50) + ".cpu-" + std::to_string(i % 8) +
            ".cpu-idle " + std::to_string(i) + ".125 1795671991\r\n";
  }
  DecodeOptions opts;
  opts.now_ms = 1795671991000;
  Parser parser;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    parser.Parse(body, opts, sink, report);
    rows += 1000;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_ParseGraphite);

}  // namespace
}  // namespace kansoku::ingest::graphite
