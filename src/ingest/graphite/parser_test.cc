#include "ingest/graphite/parser.h"

#include <gtest/gtest.h>

namespace kansoku::ingest::graphite {
namespace {

constexpr int64_t kNow = 1795672000000;

struct Parsed {
  CollectingSink sink;
  DecodeReport report;
};

std::unique_ptr<Parsed> Parse(std::string_view body) {
  DecodeOptions opts;
  opts.now_ms = kNow;
  auto r = std::make_unique<Parsed>();
  ParseGraphite(body, opts, r->sink, r->report);
  return r;
}

// collectd write_graphite lines from shared/clients/README.md §2: CRLF, nan.
TEST(GraphiteTest, CollectdPayload) {
  auto p = Parse(
      "collectd.kansoku-test.load.load.shortterm 0.31494140625 1795671991\r\n"
      "collectd.kansoku-test.memory.memory-used 760487936 1795672319\r\n"
      "collectd.kansoku-test.cpu-0.cpu-interrupt nan 1795672013\r\n");
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 2u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "collectd_kansoku_test_load_load_shortterm"}}));
  EXPECT_EQ(p->sink.rows[0].value, 0.31494140625);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1795671991000);
  EXPECT_EQ(p->sink.rows[1].labels.MetricName(), "collectd_kansoku_test_memory_memory_used");
  EXPECT_EQ(p->sink.rows[1].value, 760487936);
  EXPECT_EQ(p->report.values_skipped(), 1u);  // nan
}

TEST(GraphiteTest, TagsDefaultsAndWhitespace) {
  auto p = Parse(
      "  disk.used;host=web-1;mount.point=/var 42\n"
      "\n"
      "a.b\t1.5\t-1\n"
      "c 2 1795671999.5\n"
      "9lives 1\n");
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 4u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "disk_used"}, {"host", "web-1"}, {"mount_point", "/var"}}));
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, kNow);
  EXPECT_EQ(p->sink.rows[1].timestamp_ms, kNow);
  EXPECT_EQ(p->sink.rows[2].timestamp_ms, 1795671999500);
  EXPECT_EQ(p->sink.rows[3].labels.MetricName(), "_9lives");
}

TEST(GraphiteTest, BadLines) {
  struct Case {
    std::string_view line;
    RejectReason reason;
    std::string_view error;
  };
  const Case cases[] = {
      {"a.b", RejectReason::kSyntax, "line 2: cannot parse \"a.b\": missing value after path"},
      {"a.b x 1795672000", RejectReason::kBadValue,
       "line 2: cannot parse value \"x\" of \"a.b\": not a number"},
      {"a.b 1 soon", RejectReason::kBadTimestamp,
       "line 2: cannot parse timestamp \"soon\" of \"a.b\": want seconds since the epoch"},
      {"a.b 1 1795672000 extra", RejectReason::kSyntax,
       "line 2: cannot parse \"a.b 1 1795672000 extra\": unexpected \"extra\" after the "
       "timestamp"},
      {"a.b;host 1", RejectReason::kSyntax,
       "line 2: cannot parse tag \"host\" of \"a.b\": want name=value, both non-empty"},
      {";x=y 1", RejectReason::kSyntax, "line 2: cannot parse \";x=y 1\": empty metric path"},
      {"a.b 1 4102444800", RejectReason::kTimestampOutOfRange,
       "line 2: metric \"a.b\": timestamp 4102444800000 ms is more than 172800s in the future"},
  };
  for (const Case& c : cases) {
    std::string body = "ok 1\r\n" + std::string(c.line) + "\r\nok 2\r\n";
    auto p = Parse(body);
    EXPECT_EQ(p->sink.rows.size(), 2u) << c.line;
    EXPECT_EQ(p->report.rejected(c.reason), 1u) << c.line << ": " << p->report.Summary();
    ASSERT_EQ(p->report.errors().size(), 1u) << c.line;
    EXPECT_EQ(p->report.errors()[0], c.error) << c.line;
  }
}

TEST(GraphiteTest, CompleteLinesLength) {
  EXPECT_EQ(CompleteLinesLength("a 1\nb 2\nc"), 8u);
  EXPECT_EQ(CompleteLinesLength("partial"), 0u);
  EXPECT_EQ(CompleteLinesLength("a 1\r\n"), 5u);
}

}  // namespace
}  // namespace kansoku::ingest::graphite
