// bench/rules: how long one evaluation round of N alerting rules over M series takes on the
// real embedded TSDB (head, WAL on disk), with ALERTS / ALERTS_FOR_STATE written back through
// the Appender, using T evaluation threads. The target: 10,000 rules over 100,000
// series within a 15 s interval on 2 cores.
//
//   rules_bench [--rules 10000] [--series 100000] [--threads 2] [--rounds 3] [--dir /tmp/x]
//
// Data: `bench_m<k>{instance="i<j>", shard="s<j % 10>"}` for k < series/100, j < 100, values
// 0..99 (deterministic). Rule r: `bench_m<r % names>{shard="s<(r / names) % 10>"} > 89` in groups
// of 100 rules, so each rule selects 10 series and ~10% of them fire.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "alert/manager.h"
#include "alert/rule_file.h"
#include "query/engine/engine.h"
#include "tsdb/db.h"

using namespace kansoku;

namespace {
class CountingSink : public alert::AlertSink {
 public:
  void Send(const std::vector<alert::Alert>& a) override { n += a.size(); }
  std::atomic<size_t> n{0};
};

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  int rules = 10000, series = 100000, threads = 2, rounds = 3;
  std::string dir = "/tmp/kansoku-rules-bench-" + std::to_string(getpid());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--rules") rules = std::atoi(argv[i + 1]);
    if (k == "--series") series = std::atoi(argv[i + 1]);
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    if (k == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (k == "--dir") dir = argv[i + 1];
  }
  int names = std::max(1, series / 100);
  tsdb::DBOptions o;
  auto db = tsdb::DB::Open(o, dir);
  if (!db.ok()) {
    std::fprintf(stderr, "cannot open tsdb: %s\n", db.status().message().c_str());
    return 1;
  }
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto t0 = std::chrono::steady_clock::now();
  // Two samples per series, 15 s apart.
  for (int pass = 0; pass < 2; ++pass) {
    auto app = (*db)->NewAppender();
    for (int k = 0; k < names; ++k) {
      for (int j = 0; j < 100; ++j) {
        tsdb::Labels ls{{"__name__", "bench_m" + std::to_string(k)},
                        {"instance", "i" + std::to_string(j)},
                        {"shard", "s" + std::to_string(j % 10)}};
        double v = static_cast<double>((k * 7919 + j * 104729 + pass) % 100);
        (void)app->Append(ls, now - 15000 + pass * 15000, v);
      }
    }
    if (!app->Commit().ok()) return 1;
  }
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string yaml = "groups:\n";
  for (int r = 0; r < rules; ++r) {
    if (r % 100 == 0)
      yaml += "  - name: g" + std::to_string(r / 100) + "\n    interval: 15s\n    rules:\n";
    yaml += "      - alert: High" + std::to_string(r) + "\n        expr: bench_m" +
            std::to_string(r % names) + "{shard=\"s" + std::to_string((r / names) % 10) +
            "\"} > 89\n        labels: {severity: warn}\n        annotations: {summary: "
            "\"{{ $labels.instance }} is {{ $value }}\"}\n";
  }
  auto file = alert::ParseRuleFile(yaml, "bench.yml");
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().message().c_str());
    return 1;
  }
  query::Engine engine;
  CountingSink sink;
  alert::ManagerOptions mo;
  mo.queryable = db->get();
  mo.appendable = db->get();
  mo.engine = &engine;
  mo.sinks = {&sink};
  mo.eval_threads = 0;
  alert::RuleManager m(mo);
  m.SetRuleFilesForTest({std::move(file).value()});
  std::printf("rules=%d series=%d threads=%d load_seconds=%.2f\n", rules, names * 100, threads,
              load_s);
  for (int round = 0; round < rounds; ++round) {
    double cpu0 = CpuSeconds();
    auto s = std::chrono::steady_clock::now();
    m.EvalAllAt(now + round * 15000, threads);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
    double cpu = CpuSeconds() - cpu0;
    size_t firing = 0;
    for (const auto& a : m.Alerts()) firing += a.alert.state == alert::AlertState::kFiring;
    std::printf("round=%d wall_seconds=%.3f cpu_seconds=%.3f alerts_firing=%zu alerts_sent=%zu\n",
                round, wall, cpu, firing, sink.n.load());
  }
  db->reset();
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
