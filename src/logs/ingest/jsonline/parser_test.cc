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

// A reused batch gives exactly the records a fresh one does: nothing of the previous request
// (labels, fields, flags, time, a longer message) leaks into the records decoded over it, and
// records beyond the new request's lines are dropped.
TEST(JsonLines, ReusedBatchHoldsOnlyTheNewRequest) {
  const std::string first =
      "{\"msg\":\"a much longer first message that leaves capacity behind\",\"ts\":1795672203,"
      "\"service\":\"api\",\"trace_id\":\"0123456789abcdef0123456789abcdef\",\"x\":{\"y\":1}}\n"
      "not json\n"
      "{\"msg\":\"third\",\"host\":\"web-1\"}\n"
      "{\"msg\":\"fourth\"}\n";
  const std::string second =
      "{\"msg\":\"short\",\"level\":\"warn\"}\n"
      "{\"msg\":\"bad time\",\"time\":\"yesterday\"}\n"
      "{\"log\":\"third again\"}\n";
  Options o;
  o.extra_labels = {{"source", "jsonline"}};
  Parser p;
  LogBatch reused;
  Report r1, r2, fresh_rep;
  p.ParseLinesReusing(first, o, &reused, &r1);
  ASSERT_EQ(reused.size(), 4u);
  p.ParseLinesReusing(second, o, &reused, &r2);
  LogBatch fresh;
  p.ParseLines(second, o, &fresh, &fresh_rep);
  ASSERT_EQ(reused.size(), 3u);
  ASSERT_EQ(fresh.size(), 3u);
  for (size_t i = 0; i < fresh.size(); ++i) {
    EXPECT_EQ(reused[i].ts_ns, fresh[i].ts_ns) << i;
    EXPECT_EQ(reused[i].flags, fresh[i].flags) << i;
    EXPECT_EQ(reused[i].msg, fresh[i].msg) << i;
    EXPECT_EQ(reused[i].labels, fresh[i].labels) << i;
    EXPECT_EQ(reused[i].fields, fresh[i].fields) << i;
  }
  EXPECT_EQ(reused[0].msg, "short");
  EXPECT_EQ(reused[0].ts_ns, 0);
  EXPECT_TRUE(reused[1].flags & kFlagParseError);
  EXPECT_EQ(reused[2].Field("trace_id"), "");
  EXPECT_EQ(r2.records, 3u);
  EXPECT_EQ(r2.flagged, 1u);
  EXPECT_EQ(r2.records, fresh_rep.records);
}

// Lines of a body are parsed where they lie (simdjson reads the 64 bytes after each, which here
// are the next lines: quotes, braces, an unterminated string); every record equals the one
// ParseObject makes from a copy of the line alone, also when a reused batch and its nested key
// names are decoded over again.
TEST(JsonLines, InPlaceLinesEqualCopiedOnes) {
  const std::vector<std::string> lines = {
      "{\"msg\":\"caf\\u00e9 "
      "\\\"quoted\\\"\\n\",\"a\":{\"b\":{\"c\":\"deep\"},\"d\":[1,2]},\"n\":-3}",
      "{\"msg\":\"unterminated",
      "{\"ts\":\"2026-11-26T05:48:28.103Z\",\"log\":\"x\",\"e\":{\"f\":null,\"g\":true},\"h\":1.5}",
      "\"}}}]]\"\"\"",
      "{\"message\":\"" + std::string(200, 'm') +
          "\",\"a\":{\"b\":\"other\"},\"u\":18446744073709551615}",
      "{}",
      "{\"msg\":\"last\",\"time\":\"bad\",\"k\":{\"l\":{\"m\":{\"n\":\"o\"}}}}",
  };
  std::string body;
  for (int rep = 0; rep < 3; ++rep) {
    for (const auto& l : lines) body += l + "\n";
  }
  Options o;
  o.extra_labels = {{"source", "jsonline"}};
  Parser p;
  LogBatch reused, fresh;
  Report r1, r2, r3;
  p.ParseLinesReusing(body, o, &reused, &r1);
  p.ParseLinesReusing(body, o, &reused, &r2);
  p.ParseLines(body, o, &fresh, &r3);
  ASSERT_EQ(reused.size(), 3 * lines.size());
  ASSERT_EQ(fresh.size(), 3 * lines.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    Parser alone;
    LogRecord want;
    std::string why;
    alone.ParseObject(lines[i % lines.size()], o, &want, &why);
    for (const LogRecord* got : {&reused[i], &fresh[i]}) {
      EXPECT_EQ(got->ts_ns, want.ts_ns) << i;
      EXPECT_EQ(got->flags, want.flags) << i;
      EXPECT_EQ(got->msg, want.msg) << i;
      EXPECT_EQ(got->labels, want.labels) << i;
      EXPECT_EQ(got->fields, want.fields) << i;
    }
  }
  EXPECT_EQ(fresh[0].msg, "caf\xc3\xa9 \"quoted\"\n");
  EXPECT_EQ(fresh[0].Field("a.b.c"), "deep");
  EXPECT_EQ(fresh[0].Field("a.d"), "[1,2]");
  EXPECT_EQ(fresh[6].Field("k.l.m.n"), "o");
  EXPECT_TRUE(fresh[1].flags & kFlagParseError);
  EXPECT_EQ(r2.flagged, 3u * 3);  // unterminated, not an object, bad time
}

TEST(JsonLines, NumberTimestampsByMagnitude) {
  EXPECT_EQ(NumberToNanos(1795672203), 1795672203000000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123.0), 1795672203123000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123456.0), 1795672203123456000LL);
}

}  // namespace
}  // namespace kansoku::logs::ingest::jsonline
