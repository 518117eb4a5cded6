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

// ParseLinesInto (what /insert/jsonline uses: no LogRecords) gives the payload, views and counts
// that ParseLines' records give through the same builder: values kept as views into the DOM,
// the line or the parser's own texts (numbers, arrays, parse errors) all arrive intact, also
// when the builder's buffer grows and the stream_fields labels and extra labels are in play.
TEST(JsonLines, LinesIntoABuilderEqualParsedRecords) {
  std::string body;
  for (int i = 0; i < 400; ++i) {
    body += "{\"ts\":" + std::to_string(1795672203000 + i) + ",\"msg\":\"line " +
            std::to_string(i) + " \\u00e9\",\"service\":\"s" + std::to_string(i % 3) +
            "\",\"env\":\"e" + std::to_string(i % 2) + "\",\"level\":\"WARNING\",\"a\":{\"b\":[" +
            std::to_string(i) + ",{\"c\":null}]},\"n\":" + std::to_string(i * 7) + ".5}\n";
    if (i % 50 == 0) body += "not json " + std::to_string(i) + "\n\n";
    if (i % 70 == 0) body += "{\"msg\":\"t\",\"time\":\"yesterday\",\"source\":\"x\"}\n";
    if (i % 90 == 0) body += "{\"other\":\"no message key\",\"host\":\"\"}\r\n";
  }
  Options o;
  o.extra_labels = {{"source", "jsonline"}};
  o.stream_fields = {"env"};
  NormalizeRules rules;
  rules.label_names = {"service", "host", "level", "source"};
  rules.max_line_bytes = 40;  // some lines are cut
  Parser p;
  LogBatch records;
  Report want_rep;
  p.ParseLines(body, o, &records, &want_rep);
  BatchBuilder want_b;
  want_b.Reset(&rules, 7, 0);
  std::vector<KVView> labels, fields;
  for (const auto& r : records) {
    labels.clear();
    for (const auto& l : r.labels) labels.push_back(KVView{l.name, l.value});
    fields.clear();
    for (const auto& f : r.fields) fields.push_back(KVView{f.name, f.value});
    want_b.Add(r.ts_ns, r.flags, labels, r.msg, fields);
  }
  EncodedBatch want = want_b.Finish();
  BatchBuilder b;
  for (int round = 0; round < 2; ++round) {  // the second one reuses the parser and builder
    b.Reset(&rules, 7, round == 0 ? 0 : body.size());
    Report rep;
    p.ParseLinesInto(body, o, &b, &rep);
    EXPECT_EQ(rep.records, want_rep.records);
    EXPECT_EQ(rep.flagged, want_rep.flagged);
    ASSERT_EQ(b.sent_streams().size(), want_b.sent_streams().size());
    for (size_t i = 0; i < b.sent_streams().size(); ++i) {
      EXPECT_EQ(b.sent_streams()[i].labels, want_b.sent_streams()[i].labels);
      EXPECT_EQ(b.sent_streams()[i].records, want_b.sent_streams()[i].records);
      EXPECT_EQ(b.sent_streams()[i].bytes, want_b.sent_streams()[i].bytes);
    }
    EncodedBatch got = b.Finish();
    EXPECT_EQ(got.payload, want.payload);
    EXPECT_EQ(got.views.ts, want.views.ts);
    ASSERT_EQ(got.views.fields.size(), want.views.fields.size());
    for (size_t i = 0; i < got.views.fields.size(); ++i) {
      EXPECT_EQ(got.views.fields[i].value, want.views.fields[i].value);
    }
  }
  EXPECT_EQ(want_rep.records, 400u + 8 + 6 + 5);
  EXPECT_EQ(want_rep.flagged, 8u + 6);
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(want.payload, &out).ok());
  EXPECT_EQ(out[0].labels,
            (std::vector<KV>{
                {"env", "e0"}, {"level", "warn"}, {"service", "s0"}, {"source", "jsonline"}}));
  EXPECT_EQ(out[0].Field("a.b"), "[0,{\"c\":null}]");
  EXPECT_EQ(out[0].Field("n"), "0.5");
  EXPECT_EQ(out[0].ts_ns, 1795672203000000000);
}

TEST(JsonLines, NumberTimestampsByMagnitude) {
  EXPECT_EQ(NumberToNanos(1795672203), 1795672203000000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123.0), 1795672203123000000LL);
  EXPECT_EQ(NumberToNanos(1795672203123456.0), 1795672203123456000LL);
}

}  // namespace
}  // namespace kansoku::logs::ingest::jsonline
