// Benchmarks the collectd JSON parser: 300 value lists (load: 3 values; cpu: 1), ~1000 rows.
#include <benchmark/benchmark.h>

#include <string>

#include "ingest/collectd_json/parser.h"

namespace kansoku::ingest::collectd_json {
namespace {

void BM_ParseCollectdJson(benchmark::State& state) {
  std::string body = "[";
  int rows_per_body = 0;
  for (int i = 0; i < 300; ++i) {
    if (i > 0) body += ",";
    if (i % 3 == 0) {
      body +=
          R"({"values":[0.31494140625,0.439453125,0.21875],"dstypes":["gauge","gauge","gauge"],"dsnames":["shortterm","midterm","longterm"],"time":1795671991.142,"interval":2.000,"host":"web-)" +
          std::to_string(i) +
          R"(","plugin":"load","plugin_instance":"","type":"load","type_instance":""})";
      rows_per_body += 3;
    } else {
      body +=
          R"({"values":[)" + std::to_string(i * 1000) +
          R"(],"dstypes":["derive"],"dsnames":["value"],"time":1795671991.142,"interval":2.000,"host":"web-1","plugin":"cpu","plugin_instance":")" +
          std::to_string(i % 8) + R"(","type":"cpu","type_instance":"idle"})";
      rows_per_body += 1;
    }
  }
  body += "]";
  DecodeOptions opts;
  opts.now_ms = 1795671991000;
  Parser parser;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    (void)parser.Parse(body, opts, sink, report);
    rows += rows_per_body;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_ParseCollectdJson);

}  // namespace
}  // namespace kansoku::ingest::collectd_json
