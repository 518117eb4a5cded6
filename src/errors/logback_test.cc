#include "errors/logback.h"

#include <gtest/gtest.h>

#include "errors/grouping.h"

namespace kansoku::errors {
namespace {

// What logstash-logback-encoder puts in stack_trace (logback's ThrowableProxyConverter).
const char* kJsonTrace =
    "java.lang.IllegalStateException: payment gateway timeout\n"
    "\tat com.example.checkout.Gateway.charge(Gateway.java:88)\n"
    "\tat com.example.checkout.OrderService.pay(OrderService.java:42)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
    "\tSuppressed: java.io.IOException: close failed\n"
    "\t\tat com.example.checkout.Gateway.close(Gateway.java:99)\n"
    "\t\t... 2 common frames omitted\n"
    "Caused by: java.lang.NumberFormatException: For input string: \"x42\"\n"
    "\tat java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)\n"
    "\tat java.base/java.lang.Integer.parseInt(Integer.java:661)\n"
    "\tat app//com.example.checkout.Gateway.parse(Gateway.java:12) ~[checkout.jar:?]\n"
    "\tat com.example.checkout.Gateway.charge(Gateway.java:86)\n"
    "\t... 2 common frames omitted\n";

// The same exception as logback's SyslogAppender sends it (stackTracePattern "\t"), joined.
const char* kSyslogTrace =
    "\tjava.lang.IllegalStateException: payment gateway timeout\n"
    "\tat com.example.checkout.Gateway.charge(Gateway.java:88)\n"
    "\tat com.example.checkout.OrderService.pay(OrderService.java:42)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
    "\tCaused by: java.lang.NumberFormatException: For input string: \"x42\"\n"
    "\tat java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)\n"
    "\tat java.base/java.lang.Integer.parseInt(Integer.java:661)\n"
    "\tat com.example.checkout.Gateway.parse(Gateway.java:12)\n"
    "\tat com.example.checkout.Gateway.charge(Gateway.java:86)\n"
    "\tat com.example.checkout.OrderService.pay(OrderService.java:42)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:833)\n";

TEST(JavaStackTrace, ChainFramesAndInApp) {
  JavaInAppRules rules;
  rules.include = {"com.example."};
  auto ex = ParseJavaStackTrace(kJsonTrace, rules);
  ASSERT_EQ(ex.size(), 2u);
  // Root cause first, the thrown exception last.
  EXPECT_EQ(ex[0].type, "NumberFormatException");
  EXPECT_EQ(ex[0].module, "java.lang");
  EXPECT_EQ(ex[0].value, "For input string: \"x42\"");
  EXPECT_EQ(ex[1].type, "IllegalStateException");
  EXPECT_EQ(ex[1].value, "payment gateway timeout");
  // Suppressed block skipped; frames oldest call first.
  ASSERT_EQ(ex[1].frames.size(), 3u);
  EXPECT_EQ(ex[1].frames[0].module, "java.lang.Thread");
  EXPECT_EQ(ex[1].frames[0].in_app, 0);
  const Frame& top = ex[1].frames[2];
  EXPECT_EQ(top.module, "com.example.checkout.Gateway");
  EXPECT_EQ(top.function, "charge");
  EXPECT_EQ(top.filename, "Gateway.java");
  EXPECT_EQ(top.lineno, 88);
  EXPECT_EQ(top.in_app, 1);
  ASSERT_EQ(ex[0].frames.size(), 4u);
  EXPECT_EQ(ex[0].frames[0].function, "charge");
  EXPECT_EQ(ex[0].frames[1].module, "com.example.checkout.Gateway");  // app// stripped
  EXPECT_EQ(ex[0].frames[1].function, "parse");
  EXPECT_EQ(ex[0].frames[3].module, "java.lang.NumberFormatException");
  // The syslog form prints the common frames too; they are dropped the same way.
  auto full = ParseJavaStackTrace(kSyslogTrace, rules);
  ASSERT_EQ(full.size(), 2u);
  EXPECT_EQ(full[0].frames.size(), 4u);
  EXPECT_EQ(full[1].frames.size(), 3u);
}

TEST(JavaStackTrace, DefaultInAppExcludesJdk) {
  JavaInAppRules rules;
  EXPECT_FALSE(rules.InApp("java.lang.Thread"));
  EXPECT_FALSE(rules.InApp("ch.qos.logback.core.Appender"));
  EXPECT_TRUE(rules.InApp("com.example.A"));
  rules.include = {"org.acme."};
  EXPECT_FALSE(rules.InApp("com.example.A"));
  EXPECT_TRUE(rules.InApp("org.acme.B"));
}

TEST(JavaStackTrace, MessagesNativeRootFirstAndGarbage) {
  JavaInAppRules rules;
  auto ex = ParseJavaStackTrace(
      "com.acme.BadThing: line one\nline two\n\tat com.acme.X.y(Native Method)\n"
      "\tat com.acme.X.z(Unknown Source)\n",
      rules);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].value, "line one\nline two");
  ASSERT_EQ(ex[0].frames.size(), 2u);
  EXPECT_EQ(ex[0].frames[1].function, "y");
  EXPECT_EQ(ex[0].frames[1].filename, "");
  EXPECT_EQ(ex[0].frames[1].lineno, 0);
  // Root-cause-first output (ShortenedThrowableConverter rootCauseFirst).
  ex = ParseJavaStackTrace(
      "java.io.IOException: root\n\tat a.B.c(B.java:1)\nWrapped by: java.lang.RuntimeException: "
      "outer\n\tat a.B.d(B.java:2)\n",
      rules);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].type, "IOException");
  EXPECT_EQ(ex[1].type, "RuntimeException");
  EXPECT_TRUE(ParseJavaStackTrace("not a stack trace at all", rules).empty());
  EXPECT_TRUE(ParseJavaStackTrace("", rules).empty());
  EXPECT_TRUE(ParseJavaStackTrace("\tat a.B.c(B.java:1)\n", rules).empty());
}

TEST(LogbackEvent, SyslogAndJsonFormsGroupTogether) {
  JavaInAppRules rules;
  rules.include = {"com.example."};
  LogbackRecord a;
  a.ts_ns = 1795651200123456789;
  a.level = "error";
  a.message = "payment failed for order 42";
  a.logger = "com.example.checkout.OrderService";
  a.thread = "main";
  a.stack_trace = kJsonTrace;
  a.source = "json_tcp";
  a.trace_id = "0af7651916cd43dd8448eb211c80319c";
  a.mdc = {{"requestId", "r-123"}};
  std::string id_a;
  std::string ja = LogbackEventJson(a, rules, &id_a);
  ASSERT_FALSE(ja.empty());
  EXPECT_EQ(id_a.size(), 32u);
  Event ea;
  ASSERT_TRUE(ParseEvent(ja, &ea).ok()) << ja;
  EXPECT_EQ(ea.event_id, id_a);
  EXPECT_EQ(ea.platform, "java");
  EXPECT_EQ(ea.logger, a.logger);
  ASSERT_EQ(ea.exceptions.size(), 2u);
  Grouping ga = GroupEvent(ea);
  EXPECT_EQ(ga.basis, "stacktrace");
  EXPECT_EQ(ga.title, "IllegalStateException: payment gateway timeout");
  EXPECT_EQ(ga.culprit, "com.example.checkout.Gateway in charge");

  LogbackRecord b = a;
  b.stack_trace = kSyslogTrace;
  b.source = "syslog";
  b.ts_ns += 5;
  std::string id_b;
  Event eb;
  ASSERT_TRUE(ParseEvent(LogbackEventJson(b, rules, &id_b), &eb).ok());
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(GroupEvent(eb).hash, ga.hash);

  // Another in-app location: another issue.
  LogbackRecord c = a;
  c.stack_trace =
      "java.lang.IllegalStateException: payment gateway timeout\n"
      "\tat com.example.checkout.Refunds.run(Refunds.java:7)\n";
  std::string id_c;
  Event ec;
  ASSERT_TRUE(ParseEvent(LogbackEventJson(c, rules, &id_c), &ec).ok());
  EXPECT_NE(GroupEvent(ec).hash, ga.hash);

  LogbackRecord none = a;
  none.stack_trace = "no exception here";
  EXPECT_EQ(LogbackEventJson(none, rules, &id_c), "");
}

TEST(LogbackEvent, SplitSyslogLine) {
  std::string t, l, m;
  ASSERT_TRUE(SplitLogbackSyslogLine("[main] com.example.checkout.OrderService payment failed", &t,
                                     &l, &m));
  EXPECT_EQ(t, "main");
  EXPECT_EQ(l, "com.example.checkout.OrderService");
  EXPECT_EQ(m, "payment failed");
  ASSERT_TRUE(SplitLogbackSyslogLine("com.example.A boom", &t, &l, &m));
  EXPECT_EQ(t, "");
  EXPECT_EQ(m, "boom");
  EXPECT_FALSE(SplitLogbackSyslogLine("payment failed. retrying", &t, &l, &m));
  EXPECT_FALSE(SplitLogbackSyslogLine("[main payment", &t, &l, &m));
}

}  // namespace
}  // namespace kansoku::errors
