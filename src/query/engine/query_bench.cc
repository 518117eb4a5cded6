// Benchmarks: PromQL parsing, and representative queries over synthetic data in MemStorage
// (1000 series of counters, 15s scrape interval, 2h of data).
#include <benchmark/benchmark.h>

#include <string>

#include "query/engine/engine.h"
#include "query/parser/parser.h"
#include "query/testing/mem_storage.h"

namespace kansoku::query {
namespace {

constexpr int64_t kInterval = 15'000;
constexpr int64_t kSpan = 2 * 3600 * 1000;

testing::MemStorage* SyntheticDb() {
  static testing::MemStorage* db = [] {
    auto* d = new testing::MemStorage();
    auto app = d->NewAppender();
    for (int s = 0; s < 1000; ++s) {
      tsdb::Labels ls{{"__name__", "http_requests_total"},
                      {"instance", "host-" + std::to_string(s % 100)},
                      {"job", "job-" + std::to_string(s % 10)},
                      {"code", s % 3 == 0 ? "500" : "200"},
                      {"shard", std::to_string(s / 100)}};
      double v = 0;
      for (int64_t t = 0; t <= kSpan; t += kInterval) {
        v += static_cast<double>((s % 7) + 1);
        (void)app->Append(ls, t, v);
      }
    }
    (void)app->Commit();
    return d;
  }();
  return db;
}

void BM_Parse(benchmark::State& state) {
  const std::string q =
      "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / on(job) group_left "
      "sum by (job) (rate(http_requests_total[5m])) > bool 0.01 or vector(0)";
  for (auto _ : state) {
    auto r = ParseExpr(q);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * q.size()));
}
BENCHMARK(BM_Parse);

void BM_InstantSumRate(benchmark::State& state) {
  auto* db = SyntheticDb();
  Engine engine;
  for (auto _ : state) {
    auto r = engine.Query(*db, "sum by (job) (rate(http_requests_total[5m]))", kSpan);
    if (!r.ok()) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_InstantSumRate)->Unit(benchmark::kMillisecond);

void BM_RangeErrorRatio(benchmark::State& state) {
  auto* db = SyntheticDb();
  Engine engine;
  const char* q =
      "sum by (job) (rate(http_requests_total{code=\"500\"}[5m])) / "
      "sum by (job) (rate(http_requests_total[5m]))";
  for (auto _ : state) {
    auto r = engine.QueryRange(*db, q, 0, kSpan, 60'000);  // 121 steps
    if (!r.ok()) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RangeErrorRatio)->Unit(benchmark::kMillisecond);

// The shape of bench/promql's (a) (rate windows per step, fused into a sum) on one thread, so
// CPU time per iteration is the kernel's: 1000 series x 481 steps of 15 s.
void BM_RangeSumRateOneThread(benchmark::State& state) {
  auto* db = SyntheticDb();
  EngineOptions o;
  o.parallelism = 1;
  Engine engine(o);
  for (auto _ : state) {
    auto r = engine.QueryRange(*db, "sum by (instance) (rate(http_requests_total[5m]))", 0, kSpan,
                               kInterval);
    if (!r.ok()) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RangeSumRateOneThread)->Unit(benchmark::kMillisecond);

void BM_RangeHistogramLikeQuantile(benchmark::State& state) {
  auto* db = SyntheticDb();
  Engine engine;
  for (auto _ : state) {
    auto r = engine.QueryRange(*db, "quantile by (job) (0.9, rate(http_requests_total[1m]))", 0,
                               kSpan, 60'000);
    if (!r.ok()) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RangeHistogramLikeQuantile)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kansoku::query
