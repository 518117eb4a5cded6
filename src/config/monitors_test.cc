#include <gtest/gtest.h>

#include "config/config.h"

namespace kansoku::config {
namespace {

TEST(MonitorsConfigTest, DefaultsAndFullSections) {
  auto d = ParseServerConfig("", "c.yml");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->monitors.errors.new_issue);
  EXPECT_TRUE(d->monitors.cron.enabled);
  EXPECT_EQ(d->monitors.cron.default_margin_ms, 60000);
  EXPECT_DOUBLE_EQ(d->monitors.limit_warn_at, 0.8);
  EXPECT_TRUE(d->budgets.empty());
  auto c = ParseServerConfig(R"(monitors:
  interval: 5s
  errors:
    regression: false
    event_thresholds:
      - {project: 2, events: 100, window: 10m, labels: {severity: page}}
  cron:
    monitors:
      - {slug: nightly, schedule: "0 3 * * *", timezone: Asia/Tokyo, checkin_margin: 5m}
  log_queries:
    - {name: oom, query: '"out of memory"', threshold: 3, group_by: [host]}
budgets:
  - {name: web-hosts, kind: hosts, selector: {service: web}, limit: 20}
  - {name: shop, kind: active_series, selector: {service: shop}, limit: 1000, warn_at: 0.5}
)",
                             "c.yml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& m = c->monitors;
  EXPECT_EQ(m.interval_ms, 5000);
  EXPECT_FALSE(m.errors.regression);
  ASSERT_EQ(m.errors.event_thresholds.size(), 1u);
  EXPECT_EQ(m.errors.event_thresholds[0].project, 2);
  EXPECT_EQ(m.errors.event_thresholds[0].events, 100u);
  EXPECT_EQ(m.errors.event_thresholds[0].window_ms, 600000);
  EXPECT_EQ(m.errors.event_thresholds[0].labels.at("severity"), "page");
  ASSERT_EQ(m.cron.monitors.size(), 1u);
  EXPECT_EQ(m.cron.monitors[0].margin_ms, 300000);
  EXPECT_EQ(m.cron.monitors[0].max_runtime_ms, -1);
  ASSERT_EQ(m.log_queries.size(), 1u);
  EXPECT_EQ(m.log_queries[0].group_by, std::vector<std::string>{"host"});
  ASSERT_EQ(c->budgets.size(), 2u);
  EXPECT_EQ(c->budgets[1].warn_at, 0.5);
  EXPECT_EQ(c->budgets[0].selector.at("service"), "web");
}

TEST(MonitorsConfigTest, ErrorsNameLineAndField) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"monitors:\n  errors:\n    new_issue: maybe\n",
       "monitors.errors.new_issue: expected true or false"},
      {"monitors:\n  cron:\n    monitors:\n      - {schedule: '* * * * *'}\n",
       "line 4: monitors.cron.monitors[0]: `slug` is required"},
      {"monitors:\n  log_queries:\n    - name: a\n      query: x\n      windw: 5m\n",
       "line 5: monitors.log_queries[0].windw: unknown key"},
      {"budgets:\n  - {name: a, kind: disks, limit: 1}\n", "budgets[0].kind: \"disks\""},
      {"budgets:\n  - {name: a, kind: hosts}\n", "budgets[0].limit: a positive budget is required"},
      {"budgets:\n  - {name: a, kind: hosts, limit: 1, selector: {team: x}}\n",
       "budgets[0].selector.team: unknown for kind hosts"},
      {"budgets:\n  - {name: a, kind: hosts, limit: 1}\n  - {name: a, kind: hosts, limit: 2}\n",
       "\"a\" is used twice"},
      {"monitors:\n  interval: 10ms\n", "monitors.interval: must be at least 1s"},
  };
  for (const auto& c : cases) {
    auto r = ParseServerConfig(c.yaml, "c.yml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("c.yml:", 0), 0u) << r.status().message();
  }
}

}  // namespace
}  // namespace kansoku::config
