#include "logs/ingest/jsonline/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::ingest::jsonline {
namespace {

TEST(JsonLines, MapsMessageTimeAndFields) {
  Parser p;
  Options o;
  LogBatch out;
  Report rep;
  p.ParseLines(
      "{\"@timestamp\":\"2026-11-26T05:48:28.103Z\",\"@version\":\"1\",\"message\":\"payment "
      "failed\","
      "\"level\":\"ERROR\",\"stack_trace\":\"java.lang.IllegalStateException: x\\n\\tat "
      "A.b(A.java:1)\","
      "\"http\":{\"status\":502},\"ok\":false}\n"
      "\n"
      "{\"_msg\":\"second\",\"ts\":1795672203.5}\r\n"
      "not json at all\n"
      "{\"msg\":\"bad time\",\"time\":\"yesterday\"}",
      o, &out, &rep);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(rep.records, 4u);
  EXPECT_EQ(rep.flagged, 2u);
  EXPECT_EQ(out[0].msg, "payment failed");
  EXPECT_EQ(FormatRfc3339Nanos(out[0].ts_ns), "2026-11-26T05:48:28.103000000Z");
  EXPECT_EQ(out[0].Field("level"), "ERROR");  // the store makes it a label
  EXPECT_EQ(out[0].Field("stack_trace"), "java.lang.IllegalStateException: x\n\tat A.b(A.java:1)");
  EXPECT_EQ(out[0].Field("http.status"), "502");
  EXPECT_EQ(out[0].Field("ok"), "false");
  EXPECT_EQ(out[1].ts_ns, 1795672203500000000LL);
  EXPECT_EQ(out[2].msg, "not json at all");
  EXPECT_TRUE(out[2].flags & kFlagParseError);
  EXPECT_NE(rep.errors[0].find("line 4"), std::string::npos) << rep.errors[0];
  EXPECT_TRUE(out[3].flags & kFlagParseError);
  EXPECT_EQ(out[3].Field("time"), "yesterday");
}

TEST(JsonLines, NumberTimestampsByMagnitude) {
  EXPECT_EQ(NumberToNanos(1795672203), 1795672203000000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123.0), 1795672203123000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123456.0), 1795672203123456000LL);
}

}  // namespace
}  // namespace kansoku::logs::ingest::jsonline
