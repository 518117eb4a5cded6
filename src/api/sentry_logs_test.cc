#include "api/sentry_logs.h"

#include <gtest/gtest.h>

namespace kansoku::api {
namespace {

TEST(SentryLogs, ItemsMapped) {
  const char* payload =
      R"({"version":2,"items":[{"timestamp":1795651200.25,"level":"error","body":"payment failed",)"
      R"("trace_id":"1bb3990c1bb3990c1bb3990c1bb3990c","severity_number":17,"attributes":{)"
      R"("order":{"value":42,"type":"integer"},"ok":{"value":false,"type":"boolean"},)"
      R"("sentry.release":{"value":"app@2","type":"string"},)"
      R"("sentry.trace.parent_span_id":{"value":"aaaabbbbccccdddd","type":"string"},)"
      R"("server.address":{"value":"web-1","type":"string"}}},)"
      R"({"level":"warn","body":"second"}]})";
  SentryLogContext ctx;
  ctx.project = 3;
  ctx.project_name = "checkout";
  ctx.now_ns = 7;
  logs::LogBatch out;
  Status st = SentryLogItemToRecords(payload, ctx, &out);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(out.size(), 2u);
  const auto& r = out[0];
  EXPECT_EQ(r.ts_ns, 1795651200250000000);
  EXPECT_EQ(r.msg, "payment failed");
  EXPECT_EQ(r.Field("trace_id"), "1bb3990c1bb3990c1bb3990c1bb3990c");
  EXPECT_EQ(r.Field("severity_number"), "17");
  EXPECT_EQ(r.Field("order"), "42");
  EXPECT_EQ(r.Field("ok"), "false");
  EXPECT_EQ(r.Field("sentry.release"), "app@2");
  EXPECT_EQ(r.Field("span_id"), "aaaabbbbccccdddd");
  EXPECT_EQ(r.Field("sentry_project"), "3");
  auto label = [](const logs::LogRecord& rec, const char* name) {
    for (const auto& l : rec.labels)
      if (l.name == name) return l.value;
    return std::string();
  };
  EXPECT_EQ(label(r, "level"), "error");
  EXPECT_EQ(label(r, "service"), "checkout");
  EXPECT_EQ(label(r, "source"), "sentry");
  EXPECT_EQ(label(r, "host"), "web-1");
  EXPECT_EQ(out[1].ts_ns, 7);  // no timestamp: now
  EXPECT_EQ(label(out[1], "level"), "warn");
}

TEST(SentryLogs, Errors) {
  SentryLogContext ctx;
  logs::LogBatch out;
  Status st = SentryLogItemToRecords("{not json", ctx, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not valid JSON"), std::string::npos);
  st = SentryLogItemToRecords(R"({"items":[{"body":"a"},{"level":"info"}]})", ctx, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("log item 1"), std::string::npos) << st.message();
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  ASSERT_TRUE(SentryLogItemToRecords(R"({"body":"bare","level":"info"})", ctx, &out).ok());
  ASSERT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace kansoku::api
