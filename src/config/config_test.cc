#include "config/config.h"

#include <gtest/gtest.h>

namespace kansoku::config {
namespace {

TEST(ConfigTest, EmptyIsDefaults) {
  auto c = ParseServerConfig("", "k.yml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_EQ(c->listen, std::vector<std::string>{"127.0.0.1:9400"});
  EXPECT_EQ(c->http.idle_timeout_ms, 60000);
}

TEST(ConfigTest, ParsesValues) {
  auto c = ParseServerConfig(R"(
data_dir: /var/lib/kansoku
listen: ["127.0.0.1:1", "[::1]:1"]
log: {level: debug, format: json}
http:
  idle_timeout: 2m
  max_body_size: 8MiB
)",
                             "k.yml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->data_dir, "/var/lib/kansoku");
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->log.format, "json");
  EXPECT_EQ(c->http.idle_timeout_ms, 120000);
  EXPECT_EQ(c->http.max_body_bytes, 8 << 20);
}

TEST(ConfigTest, TsdbRollupSettings) {
  auto d = ParseServerConfig("", "k.yml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tsdb.rollup_min_age_ms, 40LL * 3600 * 1000);
  EXPECT_TRUE(d->tsdb.use_rollups);
  auto c = ParseServerConfig("tsdb:\n  rollup_min_age: 0s\n  use_rollups: false\n", "k.yml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tsdb.rollup_min_age_ms, 0);
  EXPECT_FALSE(c->tsdb.use_rollups);
}

TEST(ConfigTest, PerTokenLimits) {
  auto c = ParseServerConfig(
      "limits:\n  default:\n    max_active_series: 100\n  tokens:\n    ci:\n"
      "      max_active_series: 5\n      max_samples_per_second: 1000\n    bulk: {}\n"
      "usage:\n  active_window: 30m\n  accounting_labels: [team]\n",
      "k.yml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->limits.default_limits.max_active_series, 100);
  ASSERT_EQ(c->limits.tokens.size(), 2u);
  EXPECT_EQ(c->limits.tokens.at("ci").max_active_series, 5);
  EXPECT_EQ(c->limits.tokens.at("ci").max_samples_per_second, 1000);
  EXPECT_EQ(c->limits.tokens.at("bulk").max_active_series, 0);
  EXPECT_EQ(c->usage.active_window_ms, 30 * 60 * 1000);
  EXPECT_EQ(c->usage.accounting_labels, std::vector<std::string>{"team"});
}

TEST(ConfigTest, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"data_dir: x\nhttp:\n  idel_timeout: 5s\n", "k.yml:3:3: http.idel_timeout: unknown key"},
      {"http:\n  idle_timeout: ten\n",
       "k.yml:2:17: http.idle_timeout: cannot parse duration \"ten\""},
      {"http:\n  max_connections: -1\n", "k.yml:2:20: http.max_connections: must be between 1"},
      {"log:\n  level: loud\n", "log.level: \"loud\" is not one of"},
      {"tls:\n  cert_file: a.pem\n", "cert_file and key_file must be set together"},
      {"listen: [unclosed\n", "k.yml:2:1: invalid YAML"},
      {"listeners:\n  allow_cidrs: [10.0.0.0/99]\n", "prefix > 32"},
      {"- a\n- b\n", "(top level): expected a mapping"},
      // Found by fuzz_config: a null/complex key used to escape as a yaml-cpp exception.
      {"?\n:\nA\x1c\x1c~:\n", "k.yml:"},
      {"? [a, b]\n: 1\n", "keys must be plain names"},
      {"limits:\n  tokens:\n    ci:\n      max_active_series: -5\n",
       "k.yml:4:26: limits.tokens.ci.max_active_series: must not be negative"},
      {"limits:\n  tokens:\n    ci:\n      max_series: 5\n",
       "k.yml:4:7: limits.tokens.ci.max_series: unknown key"},
      {"usage:\n  accounting_labels: [a, b, c, d, e, f, g]\n", "at most 6 label names"},
  };
  for (const auto& tc : cases) {
    auto c = ParseServerConfig(tc.yaml, "k.yml");
    ASSERT_FALSE(c.ok()) << tc.yaml;
    EXPECT_NE(c.status().message().find(tc.want), std::string::npos)
        << "got: " << c.status().message() << "\nwant: " << tc.want;
  }
}

}  // namespace
}  // namespace kansoku::config
