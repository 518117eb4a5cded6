#include "alert/manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "query/engine/engine.h"
#include "query/testing/mem_storage.h"

namespace kansoku::alert {
namespace {

class RecordingSink : public AlertSink {
 public:
  void Send(const std::vector<Alert>& alerts) override {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& a : alerts) got.push_back(a);
  }
  std::mutex mu;
  std::vector<Alert> got;
};

struct Fixture {
  query::testing::MemStorage db;
  query::Engine engine;
  RecordingSink sink;
  std::string dir;
  Fixture() {
    char tmpl[] = "/tmp/alert-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Fixture() { std::system(("rm -rf " + dir).c_str()); }
  ManagerOptions Options() {
    ManagerOptions o;
    o.queryable = &db;
    o.appendable = &db;
    o.engine = &engine;
    o.sinks = {&sink};
    o.default_interval_ms = 15000;
    o.eval_threads = 0;  // the tests evaluate with EvalAllAt
    return o;
  }
  void Put(const tsdb::Labels& ls, int64_t t, double v) {
    auto app = db.NewAppender();
    ASSERT_TRUE(app->Append(ls, t, v).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  double Query(const std::string& q, int64_t t, size_t* n = nullptr) {
    auto r = engine.Query(db, q, t);
    EXPECT_TRUE(r.ok()) << r.error;
    if (n) *n = r.vector.size();
    return r.vector.empty() ? -1 : r.vector[0].v;
  }
  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
  }
};

const char* kRules = R"RULES(groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 30s
        labels: {severity: page, where: "{{ $labels.instance }}"}
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value }})"
          broken: "{{ $labels.job | humanize }}"
)RULES";

TEST(ManagerTest, RecordingAndAlertingRules) {
  Fixture f;
  RuleManager m(f.Options());
  auto file = ParseRuleFile(kRules, "r.yml");
  ASSERT_TRUE(file.ok()) << file.status().message();
  m.SetRuleFilesForTest({std::move(file).value()});
  int64_t t0 = 1700000000000;
  tsdb::Labels a{{"__name__", "up"}, {"job", "node"}, {"instance", "a"}};
  tsdb::Labels b{{"__name__", "up"}, {"job", "node"}, {"instance", "b"}};
  for (int i = 0; i <= 4; ++i) {
    int64_t t = t0 + i * 15000;
    f.Put(a, t, 1);
    f.Put(b, t, 0);
    m.EvalAllAt(t);
  }
  EXPECT_EQ(f.Query("job:up:sum", t0 + 60000), 1);
  auto alerts = m.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].alert.labels.Get("where"), "b");
  EXPECT_EQ(alerts[0].alert.annotations.at("summary"), "b of node is down (0)");
  EXPECT_NE(alerts[0].alert.annotations.at("broken").find("<error expanding template"),
            std::string::npos);
  EXPECT_EQ(f.Query("ALERTS{alertstate=\"firing\",instance=\"b\"}", t0 + 60000), 1);
  EXPECT_EQ(f.Query("ALERTS_FOR_STATE{instance=\"b\"}", t0 + 60000), t0 / 1000.0);
  {
    std::lock_guard<std::mutex> l(f.sink.mu);
    ASSERT_EQ(f.sink.got.size(), 1u);  // firing once (resend delay 1m)
    EXPECT_EQ(f.sink.got[0].labels.Get("alertname"), "Down");
    EXPECT_EQ(f.sink.got[0].labels.Get("severity"), "page");
  }
  // b recovers: resolved alert is sent, ALERTS goes stale.
  int64_t t5 = t0 + 75000;
  f.Put(a, t5, 1);
  f.Put(b, t5, 1);
  m.EvalAllAt(t5);
  {
    std::lock_guard<std::mutex> l(f.sink.mu);
    ASSERT_EQ(f.sink.got.size(), 2u);
    EXPECT_EQ(f.sink.got[1].ends_at_ms, t5);
  }
  size_t n = 0;
  f.Query("ALERTS", t5, &n);
  EXPECT_EQ(n, 0u);
  auto groups = m.Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].rules[1].health, "ok");
}

TEST(ManagerTest, StateSurvivesRestartAndBadReloadKeepsRules) {
  Fixture f;
  f.WriteFile("a.yml", R"(groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 10m
)");
  auto opts = f.Options();
  opts.state_dir = f.dir + "/state";
  opts.rule_patterns = {f.dir + "/*.yml"};
  int64_t t0 = 1700000000000;
  tsdb::Labels b{{"__name__", "up"}, {"instance", "b"}};
  {
    RuleManager m(opts);
    ASSERT_TRUE(m.Start().ok());
    f.Put(b, t0, 0);
    m.EvalAllAt(t0);
    ASSERT_EQ(m.Alerts().size(), 1u);
    EXPECT_EQ(m.Alerts()[0].alert.state, AlertState::kPending);
    ASSERT_TRUE(m.SaveState().ok());
    // A broken file: reload fails with file:line, old rules stay.
    f.WriteFile("b.yml",
                "groups:\n  - name: x\n    rules:\n      - alert: Y\n        expr: 'up =='\n");
    Status st = m.Reload();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("b.yml:5:15"), std::string::npos) << st.message();
    EXPECT_EQ(m.NumRules(), 1u);
    std::remove((f.dir + "/b.yml").c_str());
    m.Stop();  // saves state.json
  }
  RuleManager m2(opts);
  ASSERT_TRUE(m2.Start().ok());
  auto alerts = m2.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.active_at_ms, t0);  // kept: `for` keeps counting across restarts
  f.Put(b, t0 + 10 * 60000, 0);
  m2.EvalAllAt(t0 + 10 * 60000);
  EXPECT_EQ(m2.Alerts()[0].alert.state, AlertState::kFiring);
}

TEST(ManagerTest, NoDataPolicies) {
  Fixture f;
  auto opts = f.Options();
  opts.flapping.threshold = 0;  // fire, resolve, fire, resolve: not damped here
  RuleManager m(opts);
  auto file = ParseRuleFile(R"(groups:
  - name: g
    rules:
      - alert: HighLoad
        expr: load > 5
        annotations: {kansoku_no_data: alert}
      - alert: HighLoadKeep
        expr: load > 5
        annotations: {kansoku_no_data: keep}
      - alert: HighLoadDefault
        expr: load > 5
)",
                            "r.yml");
  ASSERT_TRUE(file.ok()) << file.status().message();
  m.SetRuleFilesForTest({std::move(file).value()});
  int64_t t0 = 1700000000000;
  f.Put(tsdb::Labels{{"__name__", "load"}, {"host", "h"}}, t0, 9);
  m.EvalAllAt(t0);
  EXPECT_EQ(m.Alerts().size(), 3u);
  // Data below threshold: condition false, everything resolves, no no-data alert.
  f.Put(tsdb::Labels{{"__name__", "load"}, {"host", "h"}}, t0 + 60000, 1);
  m.EvalAllAt(t0 + 60000);
  EXPECT_EQ(m.Alerts().size(), 0u);
  // Back high, then the series disappears entirely (past the 5m lookback).
  f.Put(tsdb::Labels{{"__name__", "load"}, {"host", "h"}}, t0 + 120000, 9);
  m.EvalAllAt(t0 + 120000);
  int64_t later = t0 + 120000 + 6 * 60000;
  m.EvalAllAt(later);
  std::map<std::string, std::string> got;
  for (const auto& a : m.Alerts()) {
    got[std::string(a.alert.labels.Get("alertname"))] =
        std::string(a.alert.labels.Get("kansoku_nodata"));
  }
  EXPECT_EQ(got.count("HighLoadDefault"), 0u);  // default: resolves
  ASSERT_EQ(got.count("HighLoadKeep"), 1u);     // keep: frozen
  EXPECT_EQ(got["HighLoadKeep"], "");
  ASSERT_EQ(got.count("HighLoad"), 1u);  // alert: a no-data alert
  EXPECT_EQ(got["HighLoad"], "true");
}

class FakeSource : public Source {
 public:
  std::string name() const override { return "fake"; }
  Result<std::vector<SourceInstance>> Collect(int64_t) override {
    SourceInstance s;
    s.labels = tsdb::Labels{{"alertname", "HostDown"}, {"host", "h1"}};
    s.annotations["summary"] = "no heartbeat";
    return std::vector<SourceInstance>{s};
  }
};

TEST(ManagerTest, SourcesFeedTheSameStateMachine) {
  Fixture f;
  RuleManager m(f.Options());
  m.AddSource(std::make_unique<FakeSource>());
  m.EvalAllAt(1700000000000);
  auto alerts = m.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.labels.Get("host"), "h1");
  EXPECT_EQ(alerts[0].alert.state, AlertState::kFiring);
  std::lock_guard<std::mutex> l(f.sink.mu);
  EXPECT_EQ(f.sink.got.size(), 1u);
}

// A reload moves the rules' alert state into new groups while evaluations may still hold the old
// ones (queued, or waiting for the group's lock): those must be skipped, not evaluated with the
// state gone. Reloads race evaluations on two threads here; before the fix the server crashed
// (null tracker in AlertTracker::Apply) when a rule file was PUT while its group was due.
TEST(ManagerTest, ReloadWhileEvaluatingSkipsReplacedGroups) {
  Fixture f;
  auto opts = f.Options();
  RuleManager m(opts);
  ASSERT_TRUE(m.Start().ok());
  const int64_t t0 = 1700000000000;
  for (int64_t t = t0; t <= t0 + 600000; t += 10000) {
    f.Put(tsdb::Labels{{"__name__", "up"}, {"instance", "a"}, {"job", "j"}}, t, 0);
  }
  auto files = [] {
    RuleFile rf;
    auto parsed = ParseRuleFile(kRules, "r.yml");
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (parsed.ok()) rf = std::move(*parsed);
    return std::vector<RuleFile>{rf};
  };
  m.SetRuleFilesForTest(files());
  std::atomic<bool> stop{false};
  std::thread evals([&] {
    for (int64_t i = 0; !stop; ++i) m.EvalAllAt(t0 + std::min<int64_t>(i, 600) * 1000, 2);
  });
  for (int i = 0; i < 300; ++i) m.SetRuleFilesForTest(files());
  stop = true;
  evals.join();
  m.EvalAllAt(t0 + 600000);
  ASSERT_EQ(m.Alerts().size(), 1U);  // the alert survived every reload
  EXPECT_EQ(m.Alerts()[0].alert.state, AlertState::kFiring);
  m.Stop();
}

}  // namespace
}  // namespace kansoku::alert
