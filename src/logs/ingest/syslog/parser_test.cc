#include "logs/ingest/syslog/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::ingest::syslog {
namespace {

Options Opts() {
  Options o;
  int64_t now;
  ParseRfc3339Nanos("2026-11-26T06:00:00Z", &now);
  o.now_ns = now;
  o.peer = "127.0.0.1:40000";
  return o;
}

// Frames as captured from rsyslog, logger and logback (shared/clients/README.md).
TEST(Syslog, Rfc5424FromRsyslog) {
  LogRecord r;
  ASSERT_TRUE(
      Parse("<131>1 2026-11-26T05:47:34.663470+00:00 vm kansoku-app 12501 ORDERFAIL "
            "[timeQuality tzKnown=\"1\" isSynced=\"0\"][kansoku@32473 env=\"test\"] "
            "payment failed for order 42: java.lang.IllegalStateException\n",
            Opts(), &r));
  EXPECT_EQ(r.msg, "payment failed for order 42: java.lang.IllegalStateException");
  EXPECT_EQ(FormatRfc3339Nanos(r.ts_ns), "2026-11-26T05:47:34.663470000Z");
  EXPECT_EQ(r.Field("env"), "test");
  EXPECT_EQ(r.Field("procid"), "12501");
  EXPECT_EQ(r.Field("msgid"), "ORDERFAIL");
  EXPECT_EQ(r.Field("facility"), "local0");
  std::sort(r.labels.begin(), r.labels.end());
  EXPECT_EQ(StreamKey(r.labels),
            "{host=\"vm\",level=\"error\",service=\"kansoku-app\",source=\"syslog\"}");
  ASSERT_TRUE(
      Parse("<78>1 2026-11-26T05:47:34+00:00 vm cron - - -  job nightly-backup finished in 12s",
            Opts(), &r));
  EXPECT_EQ(r.msg, " job nightly-backup finished in 12s");
}

TEST(Syslog, Rfc3164Variants) {
  LogRecord r;
  ASSERT_TRUE(
      Parse("<12>Nov 26 05:47:17 vm kansoku-app: udp rfc3164: disk almost full", Opts(), &r));
  EXPECT_EQ(r.msg, "udp rfc3164: disk almost full");
  EXPECT_EQ(FormatRfc3339Nanos(r.ts_ns), "2026-11-26T05:47:17.000000000Z");
  ASSERT_TRUE(Parse("<131>Nov 26 05:47:34 vm kansoku-app[12501] payment failed", Opts(), &r));
  EXPECT_EQ(r.msg, "payment failed");
  EXPECT_EQ(r.Field("procid"), "12501");
  ASSERT_TRUE(Parse("<131>Nov 26 05:48:19 vm kansoku-java[main]: \tat A.b(A.java:1)", Opts(), &r));
  EXPECT_EQ(r.msg, "\tat A.b(A.java:1)");
  // Dec 31 seen on Jan 1 belongs to the previous year.
  Options o = Opts();
  ParseRfc3339Nanos("2027-01-01T00:00:10Z", &o.now_ns);
  ASSERT_TRUE(Parse("<13>Dec 31 23:59:59 h t: x", o, &r));
  EXPECT_EQ(FormatRfc3339Nanos(r.ts_ns), "2026-12-31T23:59:59.000000000Z");
}

TEST(Syslog, BadInputIsKeptAndFlagged) {
  for (const char* bad :
       {"no pri here", "<999>1 x", "<13>garbage without time", "<13>1 not-a-time h a p m - x",
        "<13>1 2026-11-26T05:47:34Z h a p m [x a=\"1] m"}) {
    LogRecord r;
    EXPECT_FALSE(Parse(bad, Opts(), &r)) << bad;
    EXPECT_EQ(r.msg, bad);
    EXPECT_TRUE(r.flags & kFlagParseError);
    EXPECT_FALSE(r.Field("_parse_error").empty());
  }
}

TEST(Syslog, JoinerKeepsStackTracesWithTheirEvent) {
  LogBatch got;
  MultilineJoiner j([&](LogBatch&& b) {
    for (auto& r : b) got.push_back(std::move(r));
  });
  LogBatch in;
  for (const char* m :
       {"<131>Nov 26 05:48:19 vm kansoku-java[main]: c.e.OrderService payment failed",
        "<131>Nov 26 05:48:19 vm kansoku-java[main]: \tjava.lang.IllegalStateException: t",
        "<131>Nov 26 05:48:19 vm kansoku-java[main]: \tat K.main(K.java:14)",
        "<134>Nov 26 05:48:20 vm kansoku-java[main]: c.e.OrderService next"}) {
    LogRecord r;
    ASSERT_TRUE(Parse(m, Opts(), &r));
    in.push_back(std::move(r));
  }
  j.Add(std::move(in));
  j.Flush(std::chrono::milliseconds(0));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].msg,
            "c.e.OrderService payment failed\n\tjava.lang.IllegalStateException: t\n\tat "
            "K.main(K.java:14)");
  EXPECT_EQ(got[1].msg, "c.e.OrderService next");
}

}  // namespace
}  // namespace kansoku::logs::ingest::syslog
