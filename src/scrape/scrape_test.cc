#include "scrape/scrape.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace kansoku::scrape {
namespace {

std::string Get(const ScrapedSample& s, const std::string& name) {
  for (const auto& l : s.labels) {
    if (l.first == name) return l.second;
  }
  return "<none>";
}

TEST(ParseExposition, Text004) {
  auto r = ParseExposition(
      "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
      "# TYPE node_cpu_seconds_total counter\n"
      "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 320.13\n"
      "node_load1 1.02\n"
      "weird{a=\"x\\\"y\\\\z\\nw\",b=\"\",} -Inf 1700000000123\n"
      "nan_metric NaN\r\n"
      "\n"
      "spaced { a = \"1\" } +Inf\n",
      false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ(Get((*r)[0], "__name__"), "node_cpu_seconds_total");
  EXPECT_EQ(Get((*r)[0], "mode"), "idle");
  EXPECT_EQ((*r)[0].value, 320.13);
  EXPECT_EQ((*r)[0].timestamp_ms, 0);
  EXPECT_EQ(Get((*r)[2], "a"), "x\"y\\z\nw");
  EXPECT_EQ((*r)[2].value, -HUGE_VAL);
  EXPECT_EQ((*r)[2].timestamp_ms, 1700000000123);
  EXPECT_TRUE(std::isnan((*r)[3].value));
  EXPECT_EQ(Get((*r)[4], "a"), "1");
}

TEST(ParseExposition, OpenMetrics) {
  auto r = ParseExposition(
      "# TYPE http_requests counter\n"
      "# UNIT http_requests requests\n"
      "http_requests_total{code=\"200\"} 1027 1700000000.5 # {trace_id=\"abc\"} 1 1700000000\n"
      "http_requests_created{code=\"200\"} 1699999999\n"
      "# EOF\n"
      "garbage after eof\n",
      true);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].value, 1027);
  EXPECT_EQ((*r)[0].timestamp_ms, 1700000000500);
  ASSERT_TRUE((*r)[0].exemplar.has_value());
  EXPECT_EQ((*r)[0].exemplar->labels, (LabelSet{{"trace_id", "abc"}}));
  EXPECT_EQ((*r)[0].exemplar->value, 1);
  EXPECT_EQ((*r)[0].exemplar->timestamp_ms, 1700000000000);
  EXPECT_FALSE((*r)[1].exemplar.has_value());
  auto e = ParseExposition("a_total 1 # {} 0.5\n", true);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)[0].exemplar.has_value());
  EXPECT_TRUE((*e)[0].exemplar->labels.empty());
  EXPECT_EQ((*e)[0].exemplar->timestamp_ms, 0);  // the sample's time is used
  for (const char* bad : {"a_total 1 # trace 1\n", "a_total 1 # {a=\"b\"}\n",
                          "a_total 1 # {a=b} 1\n", "a_total 1 # {} 1 # {} 1\n"}) {
    auto b = ParseExposition(bad, true);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("line 1: bad exemplar"), std::string::npos)
        << b.status().message();
  }
  // Text 0.0.4 has no exemplars: the rest of the line is an error there, as before.
  EXPECT_FALSE(ParseExposition("a 1 # {} 1\n", false).ok());
}

TEST(ParseExposition, InvalidIsAnErrorWithTheLine) {
  for (const char* bad : {"1abc 1\n", "m{a=1} 2\n", "m{a=\"1\" 2\n", "m notanumber\n",
                          "m{a=\"1\",a=\"2\"} 1\n", "ok 1\nm 1 zz\n"}) {
    auto r = ParseExposition(bad, false);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("line "), std::string::npos) << r.status().message();
    }
  }
  auto big = ParseExposition("a 1\nb 2\nc 3\n", false, 2);
  EXPECT_EQ(big.status().code(), Status::Code::kResourceExhausted);
}

TEST(FileSd, JsonAndYaml) {
  char t[] = "/tmp/kansoku-filesd-XXXXXX";
  std::string dir = mkdtemp(t);
  std::ofstream(dir + "/a.json")
      << R"([{"targets":["127.0.0.1:9100","127.0.0.1:9101"],"labels":{"env":"prod"}}])";
  std::ofstream(dir + "/b.yml") << "- targets: [\"10.0.0.1:9100\"]\n";
  std::ofstream(dir + "/bad.json") << "{\"targets\":1}";
  auto a = LoadFileSd(dir + "/a.json");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].targets.size(), 2u);
  EXPECT_EQ((*a)[0].labels, (LabelSet{{"env", "prod"}}));
  ScrapeJobConfig c;
  c.job = "node";
  c.file_sd = {dir + "/*.json", dir + "/*.yml"};
  c.static_targets = {"127.0.0.1:1"};
  c.labels = {{"team", "infra"}};
  auto job = ScrapeJob::Create(c);
  ASSERT_TRUE(job.ok());
  std::vector<std::string> errors;
  auto groups = (*job)->Targets(&errors);
  EXPECT_EQ(groups.size(), 3u);  // static, a.json, b.yml
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("bad.json"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ScrapeJob, BadRegexAndUnreachableTarget) {
  ScrapeJobConfig c;
  c.job = "x";
  c.metric_keep = "(";
  EXPECT_FALSE(ScrapeJob::Create(c).ok());
  c.metric_keep = "";
  c.timeout_ms = 2000;
  auto job = ScrapeJob::Create(c);
  ASSERT_TRUE(job.ok());
  auto o = (*job)->Scrape("127.0.0.1:1", {}, 1000);
  EXPECT_FALSE(o.up);
  EXPECT_FALSE(o.error.empty());
  ASSERT_EQ(o.samples.size(), 3u);  // up, scrape_duration_seconds, scrape_samples_scraped
  EXPECT_EQ(Get(o.samples[0], "__name__"), "up");
  EXPECT_EQ(o.samples[0].value, 0);
  EXPECT_EQ(Get(o.samples[0], "job"), "x");
  EXPECT_EQ(Get(o.samples[0], "instance"), "127.0.0.1:1");
}

}  // namespace
}  // namespace kansoku::scrape
