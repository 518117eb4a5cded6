#include "ingest/influx_line/parser.h"

#include <gtest/gtest.h>

namespace kansoku::ingest::influx_line {
namespace {

constexpr int64_t kNow = 1795671866473;

struct Parsed {
  CollectingSink sink;
  DecodeReport report;
};

std::unique_ptr<Parsed> Parse(std::string_view body, Precision p = Precision::kNanoseconds,
                              DecodeOptions opts = {}) {
  if (opts.now_ms == 0) opts.now_ms = kNow;
  auto r = std::make_unique<Parsed>();
  Options o;
  o.precision = p;
  ParseInfluxLines(body, o, opts, r->sink, r->report);
  return r;
}

// influx -execute 'INSERT ...' from shared/clients/README.md §8: note the leading space.
TEST(InfluxLineTest, InfluxCliInsert) {
  DecodeOptions opts;
  opts.extra_labels = {{"db", "kansoku"}};
  auto p = Parse(
      " cpu,host=web-1,region=eu usage_idle=91.5,usage_user=4.25,cores=2i,healthy=true,"
      "label=\"a b\" 1700000000000000000\n",
      Precision::kNanoseconds, opts);
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 4u);
  const tsdb::Labels want{
      {"__name__", "cpu_usage_idle"}, {"db", "kansoku"}, {"host", "web-1"}, {"region", "eu"}};
  EXPECT_EQ(p->sink.rows[0].labels, want);
  EXPECT_EQ(p->sink.rows[0].value, 91.5);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(p->sink.rows[1].labels.MetricName(), "cpu_usage_user");
  EXPECT_EQ(p->sink.rows[2].labels.MetricName(), "cpu_cores");
  EXPECT_EQ(p->sink.rows[2].value, 2);
  EXPECT_EQ(p->sink.rows[3].labels.MetricName(), "cpu_healthy");
  EXPECT_EQ(p->sink.rows[3].value, 1);
  EXPECT_EQ(p->report.values_skipped(), 1u);  // label="a b"
}

// influx -import -precision s: header comments and blank lines.
TEST(InfluxLineTest, InfluxCliImport) {
  auto p = Parse(
      "# DML\n# CONTEXT-DATABASE: kansoku\n# CONTEXT-RETENTION-POLICY: autogen\n\n"
      "mem,host=web-1 used_bytes=1048576i,free_bytes=524288i 1700000000\n\n"
      "http_requests,host=web-1,code=200 count=17i 1700000010\r\n",
      Precision::kSeconds);
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 3u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "mem_used_bytes"}, {"host", "web-1"}}));
  EXPECT_EQ(p->sink.rows[0].value, 1048576);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(p->sink.rows[2].labels.Get("code"), "200");
  EXPECT_EQ(p->sink.rows[2].timestamp_ms, 1700000010000);
  EXPECT_EQ(p->sink.rows[2].line, 7u);
}

TEST(InfluxLineTest, EscapesTypesAndDefaults) {
  auto p = Parse(
      "my\\ meas\\,x,tag\\ key=v\\,a\\=l f\\=1=1u,b=F,c=-1.5e3,d=\"q\\\"uote, x=1\"\n"
      "disk.io,dev=sda reads=3\n",
      Precision::kMilliseconds);
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 4u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "my_meas_x_f_1"}, {"tag_key", "v,a=l"}}));
  EXPECT_EQ(p->sink.rows[0].value, 1);
  EXPECT_EQ(p->sink.rows[1].value, 0);
  EXPECT_EQ(p->sink.rows[2].value, -1500);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, kNow);
  EXPECT_EQ(p->sink.rows[3].labels.MetricName(), "disk_io_reads");
  EXPECT_EQ(p->report.values_skipped(), 1u);
}

TEST(InfluxLineTest, SkipSingleField) {
  CollectingSink sink;
  DecodeReport report;
  DecodeOptions opts;
  opts.now_ms = kNow;
  Options o;
  o.skip_single_field = true;
  ParseInfluxLines("temp,room=a value=21.5\nx a=1,b=2\n", o, opts, sink, report);
  ASSERT_EQ(sink.rows.size(), 3u);
  EXPECT_EQ(sink.rows[0].labels.MetricName(), "temp");
  EXPECT_EQ(sink.rows[1].labels.MetricName(), "x_a");
}

TEST(InfluxLineTest, BadLines) {
  struct Case {
    std::string_view line;
    RejectReason reason;
    std::string_view error;
  };
  const Case cases[] = {
      {"cpu", RejectReason::kSyntax,
       "line 2: cannot parse \"cpu\": missing fields after measurement \"cpu\""},
      {"cpu,host value=1", RejectReason::kSyntax,
       "line 2: cannot parse tag \"host\" of measurement \"cpu\": missing '='"},
      {"cpu,host= value=1", RejectReason::kSyntax,
       "line 2: cannot parse tag \"host\" of measurement \"cpu\": empty tag value"},
      {"cpu value=abc", RejectReason::kBadValue,
       "line 2: cannot parse value \"abc\" of field \"value\" of measurement \"cpu\": want a "
       "float, an integer (12i), an unsigned (12u), a boolean or a quoted string"},
      {"cpu value=1.5i", RejectReason::kBadValue,
       "line 2: cannot parse value \"1.5i\" of field \"value\" of measurement \"cpu\": want a "
       "float, an integer (12i), an unsigned (12u), a boolean or a quoted string"},
      {"cpu value=NaN", RejectReason::kBadValue,
       "line 2: cannot parse value \"NaN\" of field \"value\" of measurement \"cpu\": want a "
       "float, an integer (12i), an unsigned (12u), a boolean or a quoted string"},
      {"cpu value=\"open", RejectReason::kBadValue,
       "line 2: cannot parse field \"value\" of measurement \"cpu\": unterminated string value"},
      {"cpu value=1 12x", RejectReason::kBadTimestamp,
       "line 2: cannot parse timestamp \"12x\" of measurement \"cpu\": want an integer in the "
       "request precision"},
      {"cpu value=1 1 2", RejectReason::kSyntax,
       "line 2: cannot parse \"cpu value=1 1 2\": unexpected \"2\" after the timestamp"},
      {"cpu value=1 1", RejectReason::kTimestampOutOfRange,
       "line 2: measurement \"cpu\": timestamp 0 ms is more than 315360000s in the past"},
      {",host=a value=1", RejectReason::kSyntax,
       "line 2: cannot parse \",host=a value=1\": missing measurement"},
      {"cpu =1", RejectReason::kSyntax,
       "line 2: cannot parse field \"\" of measurement \"cpu\": empty field key"},
  };
  for (const Case& c : cases) {
    std::string body = "ok value=1\n" + std::string(c.line) + "\nok value=2\n";
    auto p = Parse(body);
    EXPECT_EQ(p->sink.rows.size(), 2u) << c.line;
    EXPECT_EQ(p->report.rejected(c.reason), 1u) << c.line << ": " << p->report.Summary();
    ASSERT_EQ(p->report.errors().size(), 1u) << c.line;
    EXPECT_EQ(p->report.errors()[0], c.error) << c.line;
  }
}

TEST(InfluxLineTest, Precision) {
  EXPECT_EQ(*ParsePrecision(""), Precision::kNanoseconds);
  EXPECT_EQ(*ParsePrecision("us"), Precision::kMicroseconds);
  EXPECT_EQ(*ParsePrecision("s"), Precision::kSeconds);
  Result<Precision> bad = ParsePrecision("weeks");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "cannot parse precision \"weeks\": want one of ns, us, ms, s, m, h");
  auto p = Parse("a v=1 1700000000000000\n", Precision::kMicroseconds);
  ASSERT_EQ(p->sink.rows.size(), 1u);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1700000000000);
  auto h = Parse("a v=1 9223372036854775807\n", Precision::kHours);
  EXPECT_EQ(h->report.rejected(RejectReason::kBadTimestamp), 1u);
}

}  // namespace
}  // namespace kansoku::ingest::influx_line
