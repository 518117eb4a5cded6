// db_bench: end-to-end append (Appender -> WAL -> head) and query throughput.
//   build/tsdb/src/tsdb/db_bench
#include <benchmark/benchmark.h>

#include <memory>
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

// bench/tsdb's import request: one Commit of state.range(0) series x 40 scrapes, the series
// interleaved (every series at t, then every series at t + 15 s, ...), through the appender
// handles as the ingest sink uses them. The head takes them series by series (Head::AppendRun).
// With ->Threads(n), n appenders commit to one DB at once (as the import's worker threads do),
// each on its own series.
void BM_AppendCommitInterleaved(benchmark::State& state) {
  static testing::TempDir* dir = nullptr;
  static std::unique_ptr<DB> db;
  static std::vector<Labels> all;
  const int n = static_cast<int>(state.range(0));
  if (state.thread_index() == 0) {
    dir = new testing::TempDir();
    DBOptions o;
    o.background = false;
    db = std::move(DB::Open(o, dir->path())).value();
    all = MakeSeries(n * state.threads());
  }
  // Google Benchmark starts every thread's loop together (a barrier), after this setup.
  std::vector<Labels> series;
  std::vector<uint64_t> handles(static_cast<size_t>(n), 0);
  constexpr int kScrapes = 40;
  int64_t t = 0;
  bool first = true;
  for (auto _ : state) {
    if (first) {
      series.assign(all.begin() + static_cast<long>(n) * state.thread_index(),
                    all.begin() + static_cast<long>(n) * (state.thread_index() + 1));
      first = false;
    }
    auto app = db->NewAppender();
    for (int k = 0; k < kScrapes; ++k, t += 15000) {
      for (size_t i = 0; i < series.size(); ++i) {
        benchmark::DoNotOptimize(
            app->AppendWithHandle(&handles[i], series[i], t, static_cast<double>(t + i)));
      }
    }
    if (!app->Commit().ok()) state.SkipWithError("commit failed");
  }
  const auto samples = state.iterations() * state.range(0) * kScrapes;
  state.SetItemsProcessed(samples);
  if (state.thread_index() == 0) {  // every thread left the loop (its end is a barrier too)
    db.reset();
    delete dir;
    dir = nullptr;
  }
}
BENCHMARK(BM_AppendCommitInterleaved)
    ->Arg(5000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

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
