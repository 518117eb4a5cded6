#include "alert/rule_file.h"

#include <gtest/gtest.h>

namespace kansoku::alert {
namespace {

const char* kGood = R"(groups:
  - name: node
    interval: 15s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          team: infra
      - alert: InstanceDown
        expr: up == 0
        for: 1m
        keep_firing_for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} down"
          kansoku_no_data: keep
  - name: other
    rules: []
)";

TEST(RuleFileTest, Parses) {
  auto f = ParseRuleFile(kGood, "r.yml");
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_EQ(f->groups.size(), 2u);
  const auto& g = f->groups[0];
  EXPECT_EQ(g.name, "node");
  EXPECT_EQ(g.interval_ms, 15000);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_FALSE(g.rules[0].alerting);
  EXPECT_EQ(g.rules[0].name, "job:up:sum");
  EXPECT_TRUE(g.rules[1].alerting);
  EXPECT_EQ(g.rules[1].for_ms, 60000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 300000);
  EXPECT_EQ(g.rules[1].no_data, NoDataPolicy::kKeep);
  EXPECT_EQ(g.rules[1].annotations.count("kansoku_no_data"), 0u);
  EXPECT_EQ(g.rules[1].annotations.at("summary"), "{{ $labels.instance }} down");
  EXPECT_EQ(g.rules[1].line, 9);
  EXPECT_NE(g.rules[1].parsed, nullptr);
}

TEST(RuleFileTest, ErrorsNameFileLineAndReason) {
  struct Case {
    std::string yaml, want;
  } cases[] = {
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up ==\n",
       "r.yml:5:15: group \"a\", rule 1 (\"X\"): could not parse expression"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        for: 5 "
       "minutes\n",
       "r.yml:6:14: group \"a\", rule 1 (\"X\"): field \"for\": not a valid duration"},
      {"groups:\n  - name: a\n    rules:\n      - record: X\n        expr: up\n        bogus: 1\n",
       "r.yml:6:9: group \"a\", rule 1 (\"X\"): field \"bogus\" not found"},
      {"groups:\n  - name: a\n  - name: a\n", "r.yml:3:5: group name \"a\" is repeated"},
      {"groups:\n  - name: a\n    rules:\n      - record: 'bad name'\n        expr: up\n",
       "invalid recording rule name"},
      {"groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        for: 1m\n",
       "invalid field \"for\" in recording rule"},
      {"groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        "
       "annotations:\n          s: '{{ $labels.x '\n",
       "annotation s: template: __alert_x:1: unclosed action"},
      {"groups:\n  - name: a\n    rules:\n      - expr: up\n",
       "one of \"record\" or \"alert\" must be set"},
      {"groups: [\n", "r.yml:2:1:"},
      {"groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: 'rate(up[5m])[1m:]'\n",
       "instant vector or a scalar"},
  };
  for (const auto& c : cases) {
    auto f = ParseRuleFile(c.yaml, "r.yml");
    ASSERT_FALSE(f.ok()) << c.yaml;
    EXPECT_NE(f.status().message().find(c.want), std::string::npos)
        << "got: " << f.status().message() << "\nwant: " << c.want;
  }
}

TEST(RuleFileTest, EmptyFileHasNoGroups) {
  auto f = ParseRuleFile("", "e.yml");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->groups.empty());
}

}  // namespace
}  // namespace kansoku::alert
