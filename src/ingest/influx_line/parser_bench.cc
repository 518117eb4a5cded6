// Benchmarks the line-protocol parser: 1000 lines, 3 tags, 4 numeric fields (4000 rows).
#include <benchmark/benchmark.h>

#include <string>

#include "ingest/influx_line/parser.h"

namespace kansoku::ingest::influx_line {
namespace {

void BM_ParseInflux(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    body += "cpu,host=web-" + std::to_string(i % 50) + ",region=eu-west-1,cpu=cpu" +
            std::to_string(i % 8) +
            " usage_idle=91.5,usage_user=4.25,usage_system=" + std::to_string(i) +
            ".5,cores=2i 1795671866000000000\n";
  }
  DecodeOptions opts;
  opts.now_ms = 1795671866473;
  Options o;
  Parser parser;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    parser.Parse(body, o, opts, sink, report);
    rows += 4000;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_ParseInflux);

}  // namespace
}  // namespace kansoku::ingest::influx_line
