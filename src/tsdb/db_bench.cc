// db_bench: end-to-end append (Appender -> WAL -> head) and query throughput.
//   build/tsdb/src/tsdb/db_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tsdb/db.h"
#include "tsdb/test_util.h"

namespace kansoku::tsdb {
namespace {

std::vector<Labels> MakeSeries(int n) {
  std::vector<Labels> out;
  out.reserve(static_cast<size_t>(n));
  for (int s = 0; s < n; ++s) {
    out.push_back(Labels{{"__name__", "node_cpu_seconds_total"},
                         {"instance", "host-" + std::to_string(s / 16) + ":9100"},
                         {"job", "node"},
                         {"cpu", std::to_string(s % 16)}});
  }
  return out;
}

// One "scrape" = one Commit of every series at one timestamp.
void BM_AppendCommit(benchmark::State& state) {
  testing::TempDir dir;
  DBOptions o;
  o.background = false;
  auto db = DB::Open(o, dir.path());
  const auto series = MakeSeries(static_cast<int>(state.range(0)));
  int64_t t = 0;
  for (auto _ : state) {
    auto app = (*db)->NewAppender();
    for (size_t i = 0; i < series.size(); ++i) {
      benchmark::DoNotOptimize(app->Append(series[i], t, static_cast<double>(t + i)));
    }
    if (!app->Commit().ok()) state.SkipWithError("commit failed");
    t += 15000;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["ns/sample"] =
      benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AppendCommit)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Select one metric (16 series of one host) over 2 h of 15 s data and read every sample.
void BM_SelectRead(benchmark::State& state) {
  testing::TempDir dir;
  DBOptions o;
  o.background = false;
  auto db = DB::Open(o, dir.path());
  const auto series = MakeSeries(10000);
  for (int64_t t = 0; t < 2 * 3600000; t += 15000) {
    auto app = (*db)->NewAppender();
    for (size_t i = 0; i < series.size(); ++i)
      (void)app->Append(series[i], t, static_cast<double>(t + i));
    (void)app->Commit();
  }
  auto m = Matcher::Create(MatchType::kEqual, "instance", "host-7:9100").value();
  size_t samples = 0;
  for (auto _ : state) {
    auto q = (*db)->NewQuerier(0, 2 * 3600000);
    auto set = (*q)->Select({m}, SelectHints{});
    samples = 0;
    while ((*set)->Next()) {
      auto it = (*set)->Iterator();
      while (it->Next()) ++samples;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.counters["samples"] = static_cast<double>(samples);
}
BENCHMARK(BM_SelectRead)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kansoku::tsdb
