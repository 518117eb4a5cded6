#include "errors/grouping.h"

#include <gtest/gtest.h>

namespace kansoku::errors {
namespace {

Grouping G(const std::string& json) {
  Event e;
  Status st = ParseEvent(json, &e);
  EXPECT_TRUE(st.ok()) << st.message();
  return GroupEvent(e);
}

TEST(Normalize, Message) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"card declined for order 42", "card declined for order <int>"},
      {"took 1.25 s", "took <float> s"},
      {"queue 2 is 52% full", "queue <int> is <int>% full"},
      {"user 3f2a9c1b-1111-4222-8333-444455556666 not found", "user <uuid> not found"},
      {"connect to 10.0.0.12:5432 failed", "connect to <ip> failed"},
      {"connect to fe80::1 failed", "connect to <ip> failed"},
      {"mail dev@example.invalid bounced", "mail <email> bounced"},
      {"GET https://x.example/a?b=1 failed", "GET <url> failed"},
      {"object 0xdeadbeef freed", "object <hex> freed"},
      {"commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "commit <hex>"},
      {"id=42, name=x", "id=<int>, name=x"},
      {"at 2026-11-26T05:43:38Z ok", "at <date> ok"},
      {"order42 stays", "order42 stays"},
      {"For input string: \"x42\"", "For input string: \"x42\""},
  };
  for (const auto& c : cases) EXPECT_EQ(NormalizeMessage(c.in), c.want) << c.in;
}

TEST(Normalize, Filename) {
  EXPECT_EQ(NormalizeFilename("/srv/app/releases/3f2a9c1b/app.py"), "app.py");
  EXPECT_EQ(NormalizeFilename("https://cdn/x/main.3f2a9c1b.js?v=2"), "main.<hash>.js");
  EXPECT_EQ(NormalizeFilename("C:\\app\\foo.cs"), "foo.cs");
}

const char* kPyEvent = R"J({"event_id":"82a86f7d0d8f4ad8b3c2b1ab1c9e8f00","level":"error",
 "exception":{"values":[{"type":"ValueError","value":"card declined for order 42",
  "stacktrace":{"frames":[
    {"filename":"lib/site.py","module":"site","function":"run","in_app":false,"context_line":"x()"},
    {"filename":"app.py","abs_path":"/srv/app.py","module":"__main__","function":"charge",
     "context_line":"    raise ValueError(\"card declined for order %d\" % order_id)","in_app":true,"lineno":7}]}}]},
 "release":"r1","environment":"test","tags":{"component":"checkout"},"user":{"id":"u-42"}})J";

TEST(Grouping, StackTraceUsesInAppFramesOnly) {
  Grouping a = G(kPyEvent);
  EXPECT_EQ(a.basis, "stacktrace");
  EXPECT_EQ(a.title, "ValueError: card declined for order 42");
  EXPECT_EQ(a.culprit, "__main__ in charge");
  EXPECT_EQ(a.hash.size(), 32u);
  // A different value and a different system frame: same group (value is not used with frames).
  std::string b = kPyEvent;
  b.replace(b.find("order 42"), 8, "order 43");
  b.replace(b.find("\"run\""), 5, "\"go\"");
  EXPECT_EQ(G(b).hash, a.hash);
  // A different in-app function: another group.
  std::string c = kPyEvent;
  c.replace(c.find("\"charge\""), 8, "\"refund\"");
  EXPECT_NE(G(c).hash, a.hash);
}

TEST(Grouping, ExceptionWithoutFramesUsesTypeAndNormalisedValue) {
  Grouping a = G(R"({"exception":[{"type":"KeyError","value":"id 17 missing"}]})");
  Grouping b = G(R"({"exception":{"values":[{"type":"KeyError","value":"id 99 missing"}]}})");
  Grouping c = G(R"({"exception":{"values":[{"type":"IndexError","value":"id 99 missing"}]}})");
  EXPECT_EQ(a.basis, "exception");
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_NE(a.hash, c.hash);
}

TEST(Grouping, SyntheticExceptionGroupsByMessage) {
  // @sentry/node captureMessage: synthetic exception whose frames are SDK internals.
  Grouping a = G(R"({"message":"disk almost full on 10.0.0.1","exception":{"values":[
     {"value":"disk almost full on 10.0.0.1","mechanism":{"type":"generic","synthetic":true},
      "stacktrace":{"frames":[{"function":"captureMessage","in_app":true}]}}]}})");
  Grouping b = G(R"({"message":"disk almost full on 10.0.0.2"})");
  EXPECT_EQ(a.basis, "message");
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.title, "disk almost full on 10.0.0.1");
}

TEST(Grouping, LogentryTemplate) {
  Grouping a = G(
      R"({"logentry":{"message":"order %s failed","params":["a-1"],"formatted":"order a-1 failed"}})");
  Grouping b = G(
      R"({"logentry":{"message":"order %s failed","params":["b-2"],"formatted":"order b-2 failed"}})");
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.title, "order a-1 failed");
}

TEST(Grouping, Fingerprint) {
  Grouping base = G(R"({"exception":[{"type":"E","value":"v"}]})");
  Grouping fp = G(R"({"exception":[{"type":"E","value":"v"}],"fingerprint":["db-timeout"]})");
  Grouping fp2 = G(R"({"exception":[{"type":"F","value":"w"}],"fingerprint":["db-timeout"]})");
  Grouping d1 =
      G(R"({"exception":[{"type":"E","value":"v"}],"fingerprint":["{{ default }}","eu"]})");
  Grouping d2 = G(R"({"exception":[{"type":"E","value":"v"}],"fingerprint":["{{default}}","us"]})");
  Grouping d3 = G(R"({"exception":[{"type":"E","value":"v"}],"fingerprint":["{{ default }}"]})");
  EXPECT_EQ(fp.basis, "fingerprint");
  EXPECT_EQ(fp.hash, fp2.hash);
  EXPECT_NE(fp.hash, base.hash);
  EXPECT_NE(d1.hash, d2.hash);
  EXPECT_EQ(d3.components, base.components);
}

TEST(Event, FieldsAndTimestamps) {
  Event e;
  ASSERT_TRUE(ParseEvent(kPyEvent, &e).ok());
  EXPECT_EQ(e.event_id, "82a86f7d0d8f4ad8b3c2b1ab1c9e8f00");
  EXPECT_EQ(e.release, "r1");
  EXPECT_EQ(e.UserKey(), "id:u-42");
  ASSERT_EQ(e.tags.size(), 1u);
  EXPECT_DOUBLE_EQ(ParseSentryTimestamp("2026-11-26T05:43:38.250Z"), 1795671818.25);
  EXPECT_DOUBLE_EQ(ParseSentryTimestamp("2026-11-26T06:43:38+01:00"), 1795671818.0);
  EXPECT_EQ(NormalizeEventId("B545698B-0D8F-4AD8-B3C2-B1AB1C9E8F00"),
            "b545698b0d8f4ad8b3c2b1ab1c9e8f00");
  EXPECT_FALSE(ParseEvent("[1]", &e).ok());
  EXPECT_FALSE(ParseEvent("{", &e).ok());
  ASSERT_TRUE(ParseEvent(R"({"tags":[["a","1"],["b",2]],"level":7,"exception":5})", &e).ok());
  EXPECT_EQ(e.tags.size(), 2u);
}

}  // namespace
}  // namespace kansoku::errors
