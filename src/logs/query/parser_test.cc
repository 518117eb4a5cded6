#include "logs/query/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::query {
namespace {

TEST(LogQueryParser, AcceptsTheLanguage) {
  const char* ok[] = {
      "*",
      "error",
      "error timeout",
      "error and timeout or \"payment failed\"",
      "-debug not info !trace",
      "service:checkout level:=error",
      "trace_id:=\"f00dfacecafe4b1d8e2a9c7b3d5e6f01\"",
      "~\"5[0-9]{2}\" host:~\"web-[0-9]+\"",
      "{service=\"api\", level=~\"err|warn\", host!=\"x\", env!~\"dev.*\"} timeout",
      "_stream:{service=\"api\"} _time:1h",
      "_time:[2026-11-26T00:00:00Z, 2026-11-27T00:00:00Z) error",
      "duration:>1.5 status:>=500 size:<10",
      "user:* -stack_trace:*",
      "level:(error or warn)",
      "time* | limit 10",
      "error | stats count() by (service, level)",
      ("error | stats by (service) count() as n, count_uniq(host) as hosts | sort by (n desc) | "
       "limit 5"),
      "* | sort by (_time asc) | fields _time, _msg | offset 2",
      "r-123 10.0.0.1 level=error",
  };
  for (const char* q : ok) {
    auto r = ParseLogQuery(q);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
  }
}

TEST(LogQueryParser, ErrorsNameTheOffset) {
  struct Case {
    const char* q;
    const char* want;
  } cases[] = {
      {"(error", "offset 6: expected ')'"},
      {"\"open", "unterminated string"},
      {"~\"[\"", "invalid regular expression"},
      {"error | count", "expected a pipe"},
      {"error | stats sum()", "sum() needs a field"},
      {"_time:soon", "expected a duration"},
      {"{service=api}", "expected a quoted label value"},
      {"x | limit -1", "non-negative integer"},
      {"status:>abc", "expected a number"},
  };
  for (const auto& c : cases) {
    auto r = ParseLogQuery(c.q);
    ASSERT_FALSE(r.ok()) << c.q;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << c.q << " -> " << r.status().message();
  }
}

TEST(LogQueryParser, Structure) {
  auto r = ParseLogQuery("a or b c | stats count() by (level)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->filter->kind, FilterKind::kOr);
  ASSERT_EQ(r->filter->kids.size(), 2u);
  EXPECT_EQ(r->filter->kids[1]->kind, FilterKind::kAnd);
  ASSERT_EQ(r->pipes.size(), 1u);
  EXPECT_EQ(r->pipes[0].by, std::vector<std::string>{"level"});
  auto t = ParseLogQuery("_time:90m x");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rel_ns, 90LL * 60 * 1000000000);
  EXPECT_EQ(t->filter->kind, FilterKind::kPhrase);
}

TEST(Duration, Parses) {
  int64_t ns;
  ASSERT_TRUE(ParseDurationNs("1h30m", &ns));
  EXPECT_EQ(ns, 5400LL * 1000000000);
  ASSERT_TRUE(ParseDurationNs("250ms", &ns));
  EXPECT_EQ(ns, 250000000);
  EXPECT_FALSE(ParseDurationNs("5 parsecs", &ns));
}

}  // namespace
}  // namespace kansoku::logs::query
