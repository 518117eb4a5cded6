#include "scrape/enrollment.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "scrape/config.h"
#include "scrape/scraper.h"

namespace kansoku::scrape {
namespace {

TEST(Selector, Operators) {
  auto s = Selector::Parse("env=prod, monitor=true,team=~\"a|b\",zone!~test.*,tier!=db");
  ASSERT_TRUE(s.ok()) << s.status().message();
  LabelSet ok = {{"env", "prod"}, {"monitor", "true"}, {"team", "b"}, {"zone", "eu"}};
  EXPECT_TRUE(s->Matches(ok));
  LabelSet wrong_env = ok;
  wrong_env[0].second = "dev";
  EXPECT_FALSE(s->Matches(wrong_env));
  LabelSet test_zone = ok;
  test_zone[3].second = "test-1";
  EXPECT_FALSE(s->Matches(test_zone));
  LabelSet db = ok;
  db.emplace_back("tier", "db");
  EXPECT_FALSE(s->Matches(db));
  LabelSet no_team = {{"env", "prod"}, {"monitor", "true"}};
  EXPECT_FALSE(s->Matches(no_team));  // a missing label is "", which does not match a|b
  EXPECT_TRUE(Selector::Parse("")->Matches({}));
  EXPECT_TRUE(Selector::Parse("x=\"a,b\"")->Matches({{"x", "a,b"}}));
}

TEST(Selector, ErrorsNameThePosition) {
  for (const char* bad : {"=x", "env", "env!", "a=~(", "a=1,", "a=\"x", "a=\"x\" b=2"}) {
    auto s = Selector::Parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find("selector"), std::string::npos);
    }
  }
}

std::vector<Enrollment::Discovered> Targets(int from, int to, const LabelSet& labels = {}) {
  std::vector<Enrollment::Discovered> out;
  for (int i = from; i < to; ++i) {
    Enrollment::Discovered d;
    d.target = "10.0.0." + std::to_string(i) + ":9100";
    d.target_labels = labels;
    d.target_labels.emplace_back("__address__", d.target);
    out.push_back(std::move(d));
  }
  return out;
}

size_t Count(const std::vector<EnrolledTarget>& v, TargetState s) {
  size_t n = 0;
  for (const auto& t : v) n += t.state == s;
  return n;
}

TEST(Enrollment, SelectorListsTheRestAsNotSelected) {
  Enrollment e("node", *Selector::Parse("env=prod"), {});
  auto d = Targets(0, 3, {{"env", "prod"}});
  auto dev = Targets(3, 5, {{"env", "dev"}});
  d.insert(d.end(), dev.begin(), dev.end());
  bool changed;
  auto r = e.Update(d, false, 1000, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 3u);
  EXPECT_EQ(Count(r, TargetState::kNotSelected), 2u);
  EXPECT_NE(r[3].reason.find("env=prod"), std::string::npos);
}

TEST(Enrollment, GrowthHoldAndApproval) {
  const int64_t h = 3600 * 1000;
  Enrollment e("node", Selector(), {0.5, 10, h});
  bool changed;
  auto r = e.Update(Targets(0, 4), false, 0, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 4u);  // first discovery = baseline
  // +6 is within min_targets 10.
  r = e.Update(Targets(0, 10), false, 1000, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 10u);
  // 10 -> 40 within the hour: base is still 4 (the 6 are recent), limit max(10, 6): held.
  r = e.Update(Targets(0, 40), false, 2000, &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 10u);
  EXPECT_EQ(Count(r, TargetState::kHeld), 30u);
  EXPECT_EQ(e.held_since_ms(), 2000);
  EXPECT_NE(r[39].reason.find("approve"), std::string::npos);
  // Further growth joins the hold; disappearing held targets are forgotten.
  r = e.Update(Targets(0, 45), false, 3000, &changed);
  EXPECT_EQ(Count(r, TargetState::kHeld), 35u);
  r = e.Update(Targets(0, 44), false, 4000, &changed);
  EXPECT_EQ(Count(r, TargetState::kHeld), 34u);
  // Approve one, then the rest.
  EXPECT_EQ(e.Approve("10.0.0.43:9100", 5000), 1u);
  EXPECT_EQ(e.Approve("", 5000), 33u);
  r = e.Update(Targets(0, 44), false, 6000, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 44u);
  EXPECT_EQ(e.held_since_ms(), 0);
  // Approved targets are baseline: +50% of 38 (44 - the 6 recent) = 57 fits without a hold.
  r = e.Update(Targets(0, 57), false, 7000, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 57u);
  // After the window, everything is baseline again.
  r = e.Update(Targets(0, 85), false, 7000 + h + 1, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 85u);
}

TEST(Enrollment, PartialDiscoveryAndFlappingTargetsAreNotNew) {
  Enrollment e("node", Selector(), {0.5, 0, 3600 * 1000});
  bool changed;
  e.Update(Targets(0, 10), false, 0, &changed);
  // A file that failed to parse: nothing is forgotten, nothing new is counted.
  auto r = e.Update(Targets(0, 2), true, 1000, &changed);
  EXPECT_EQ(e.enrolled(), 10u);
  // Gone and back within the window: still enrolled, no hold.
  e.Update(Targets(0, 2), false, 2000, &changed);
  EXPECT_EQ(e.enrolled(), 2u);
  r = e.Update(Targets(0, 10), false, 3000, &changed);
  EXPECT_EQ(Count(r, TargetState::kActive), 10u);
  EXPECT_EQ(e.held(), 0u);
}

TEST(Enrollment, SaveAndRestore) {
  Enrollment e("node", Selector(), {0.5, 0, 3600 * 1000});
  bool changed;
  e.Update(Targets(0, 4), false, 0, &changed);
  e.Update(Targets(0, 40), false, 1000, &changed);
  ASSERT_EQ(e.held(), 36u);
  YAML::Node n = YAML::Load(e.SaveJson());
  std::vector<Enrollment::SavedTarget> saved;
  for (auto it = n["enrolled"].begin(); it != n["enrolled"].end(); ++it) {
    saved.push_back({it->first.as<std::string>(), it->second["at"].as<int64_t>(),
                     it->second["auto"].as<bool>(), false});
  }
  for (auto it = n["held"].begin(); it != n["held"].end(); ++it) {
    saved.push_back({it->first.as<std::string>(), it->second.as<int64_t>(), false, true});
  }
  Enrollment r("node", Selector(), {0.5, 0, 3600 * 1000});
  r.Restore(saved, n["held_since"].as<int64_t>(), 4, 6);
  auto list = r.Update(Targets(0, 40), false, 2000, &changed);
  EXPECT_EQ(Count(list, TargetState::kActive), 4u);
  EXPECT_EQ(Count(list, TargetState::kHeld), 36u);
  EXPECT_EQ(r.held_since_ms(), 1000);
}

TEST(ScrapeConfig, PrometheusAndShortSpellings) {
  YAML::Node n = YAML::Load(R"(
- job_name: node
  scrape_interval: 5s
  static_configs:
    - targets: ["127.0.0.1:9100"]
      labels: {env: prod}
  file_sd_configs:
    - files: ["/tmp/x/*.json"]
  relabel_configs:
    - source_labels: [__address__]
      regex: "10\\..*"
      action: drop
  metric_relabel_configs:
    - source_labels: [__name__]
      regex: "go_.*"
      action: drop
  selector: "env=prod"
  max_growth: 0.5
  min_targets: 10
- job: short
  targets: ["127.0.0.1:1"]
  file_sd: ["/tmp/y.yml"]
  metric_keep: "node_.*"
)");
  std::vector<ScrapeJobConfig> jobs;
  Status st = ParseJobs(n, "k.yml", "scrape_configs", &jobs);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].interval_ms, 5000);
  ASSERT_EQ(jobs[0].static_groups.size(), 1u);
  EXPECT_EQ(jobs[0].file_sd, std::vector<std::string>{"/tmp/x/*.json"});
  EXPECT_EQ(jobs[0].target_relabel.size(), 1u);
  EXPECT_EQ(jobs[0].target_relabel[0].action, RelabelAction::kDrop);
  EXPECT_EQ(jobs[0].max_growth, 0.5);
  EXPECT_EQ(jobs[0].min_targets, 10u);
  EXPECT_EQ(jobs[1].static_targets.size(), 1u);
}

TEST(ScrapeConfig, ErrorsNameLineAndKey) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"- job_name: a\n  selector: 'env=~('\n", "k.yml:2: scrape_configs[0].selector"},
      {"- job_name: a\n  max_growth: lots\n", "max_growth"},
      {"- job_name: a\n  relabel_configs:\n    - action: replace\n",
       "k.yml:3: scrape_configs[0].relabel_configs[0]: (replace) needs target_label"},
      {"- job_name: a\n  relabel_configs:\n    - {action: rename, source_labels: [x]}\n",
       "k.yml:3: scrape_configs[0].relabel_configs[0].action: unknown relabel action \"rename\""},
      {"- job_name: a\n  bogus: 1\n", "k.yml:2: scrape_configs[0].bogus: unknown key"},
      {"- job_name: a\n- job_name: a\n", "defined twice"},
      {"- targets: [x]\n", "job name is required"},
  };
  for (const auto& c : cases) {
    std::vector<ScrapeJobConfig> jobs;
    Status st = ParseJobs(YAML::Load(c.yaml), "k.yml", "scrape_configs", &jobs);
    EXPECT_FALSE(st.ok()) << c.yaml;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << st.message();
  }
}

TEST(ScrapeJob, TargetRelabelAndStaticGroups) {
  ScrapeJobConfig c;
  c.job = "j";
  c.static_groups = {{{"10.0.0.1:9100", "127.0.0.1:9100"}, {{"env", "prod"}}}};
  c.labels = {{"team", "infra"}, {"env", "ignored"}};
  RelabelRule drop;
  drop.action = RelabelAction::kDrop;
  drop.source_labels = {"__address__"};
  drop.regex = "10\\..*";
  c.target_relabel = {drop};
  auto job = ScrapeJob::Create(c);
  ASSERT_TRUE(job.ok());
  std::vector<std::string> errs;
  auto groups = (*job)->Targets(&errs);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].labels, (LabelSet{{"env", "prod"}, {"team", "infra"}}));
  EXPECT_FALSE((*job)->Resolve("10.0.0.1:9100", groups[0].labels).kept);
  ResolvedTarget kept = (*job)->Resolve("127.0.0.1:9100", groups[0].labels);
  EXPECT_TRUE(kept.kept);
  EXPECT_EQ(kept.url, "http://127.0.0.1:9100/metrics");
  EXPECT_EQ(
      kept.labels,
      (LabelSet{{"job", "j"}, {"instance", "127.0.0.1:9100"}, {"env", "prod"}, {"team", "infra"}}));
}

TEST(ScrapeJob, RelabelRewritesAddressPathParamsAndLabels) {
  // The blackbox-exporter pattern: the discovered address becomes ?target=, the instance label,
  // and the exporter's address replaces it; a group label is renamed through labelmap.
  auto jobs = [] {
    std::vector<ScrapeJobConfig> out;
    Status st = ParseJobs(YAML::Load(R"yaml(
- job_name: blackbox
  metrics_path: /probe
  static_configs:
    - targets: ["example.test:443"]
      labels: {__meta_owner: payments}
  relabel_configs:
    - {source_labels: [__address__], target_label: __param_target}
    - {source_labels: [__param_target], target_label: instance}
    - {target_label: __address__, replacement: "127.0.0.1:9115"}
    - {action: labelmap, regex: "__meta_(.+)", replacement: "team_$1"}
    - {source_labels: [team_owner], regex: "(.*)", target_label: team_owner, replacement: "${1}-oncall"}
)yaml"),
                          "k.yml", "scrape_configs", &out);
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }();
  ASSERT_EQ(jobs.size(), 1u);
  auto job = ScrapeJob::Create(jobs[0]);
  ASSERT_TRUE(job.ok()) << job.status().message();
  std::vector<std::string> errs;
  auto groups = (*job)->Targets(&errs);
  ASSERT_EQ(groups.size(), 1u);
  ResolvedTarget t = (*job)->Resolve("example.test:443", groups[0].labels);
  ASSERT_TRUE(t.kept) << t.reason;
  EXPECT_EQ(t.url, "http://127.0.0.1:9115/probe?target=example.test%3A443");
  EXPECT_EQ(t.labels, (LabelSet{{"job", "blackbox"},
                                {"instance", "example.test:443"},
                                {"team_owner", "payments-oncall"}}));
  // A rule that empties __address__ leaves nothing to scrape: not kept, with the reason.
  ScrapeJobConfig c = jobs[0];
  RelabelRule clear;
  clear.target_label = "__address__";
  clear.replacement = "";
  c.target_relabel = {clear};
  auto cleared = ScrapeJob::Create(c);
  ASSERT_TRUE(cleared.ok());
  ResolvedTarget none = (*cleared)->Resolve("example.test:443", {});
  EXPECT_FALSE(none.kept);
  EXPECT_NE(none.reason.find("no __address__"), std::string::npos);
}

TEST(Scraper, FileSdGrowthIsHeldAndPersisted) {
  char t[] = "/tmp/kansoku-scraper-XXXXXX";
  std::string dir = mkdtemp(t);
  auto write_sd = [&](int n) {
    std::ofstream f(dir + "/sd.json");
    f << "[{\"targets\":[";
    for (int i = 0; i < n; ++i) f << (i ? "," : "") << "\"127.0.0.1:" << (1 + i) << "\"";
    f << "],\"labels\":{\"env\":\"prod\"}},{\"targets\":[\"127.0.0.2:1\"],\"labels\":{\"env\":"
         "\"dev\"}}]";
  };
  write_sd(4);
  ScrapeJobConfig c;
  c.job = "sd";
  c.file_sd = {dir + "/*.json"};
  c.selector = "env=prod";
  c.max_growth = 0.5;
  c.min_targets = 5;
  c.timeout_ms = 500;
  FakeClock clock;
  ScraperOptions o;
  o.jobs = {c};
  o.clock = &clock;
  o.state_file = dir + "/state.db";
  std::atomic<int> sunk{0};
  o.sink = [&](const std::string& job, std::vector<ScrapedSample>& s) {
    EXPECT_EQ(job, "sd");
    sunk += static_cast<int>(s.size());
    return std::string();
  };
  {
    auto s = Scraper::Create(o);
    ASSERT_TRUE(s.ok()) << s.status().message();
    (*s)->SyncNow();
    auto jobs = (*s)->Jobs();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].active, 4u);
    EXPECT_EQ(jobs[0].not_selected, 1u);
    (*s)->ScrapeAllNow();
    EXPECT_EQ(sunk.load(), 4 * 3);  // nothing listens: up 0 + the 2 scrape_* series each
    for (const auto& ts : (*s)->Targets()) {
      if (ts.state == TargetState::kActive) {
        EXPECT_EQ(ts.health, "down");
        EXPECT_FALSE(ts.last_error.empty());
      }
    }
    write_sd(40);
    clock.AdvanceMs(1000);
    (*s)->SyncNow();
    jobs = (*s)->Jobs();
    EXPECT_EQ(jobs[0].active, 4u);
    EXPECT_EQ(jobs[0].held, 36u);
    EXPECT_EQ(jobs[0].hold_base, 4u);
  }
  {
    // A restart keeps the hold.
    auto s = Scraper::Create(o);
    ASSERT_TRUE(s.ok());
    (*s)->SyncNow();
    EXPECT_EQ((*s)->Jobs()[0].held, 36u);
    EXPECT_EQ((*s)->Approve("nope", "").status().code(), Status::Code::kNotFound);
    auto n = (*s)->Approve("sd", "");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 36u);
    EXPECT_EQ((*s)->Jobs()[0].active, 40u);
  }
  {
    auto s = Scraper::Create(o);
    ASSERT_TRUE(s.ok());
    (*s)->SyncNow();
    EXPECT_EQ((*s)->Jobs()[0].active, 40u);
    EXPECT_EQ((*s)->Jobs()[0].held, 0u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku::scrape
