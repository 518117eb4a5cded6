#include "logs/ingest/otlp_logs/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::ingest::otlp_logs {
namespace {

TEST(OtlpLogs, Json) {
  // As @opentelemetry/exporter-logs-otlp-http 0.223 sends it (shared/clients/README.md).
  LogBatch out;
  Report rep;
  ASSERT_TRUE(ParseJson(R"({"resourceLogs":[{"resource":{"attributes":[
      {"key":"service.name","value":{"stringValue":"checkout"}},
      {"key":"deployment.environment","value":{"stringValue":"test"}}]},
    "scopeLogs":[{"scope":{"name":"kansoku-demo","version":"0.1.0"},"logRecords":[
      {"timeUnixNano":"1795672203671000000","observedTimeUnixNano":"1795672203672000000",
       "severityNumber":17,"severityText":"ERROR","body":{"stringValue":"payment failed for order 42"},
       "attributes":[{"key":"order.id","value":{"intValue":42}}],
       "traceId":"f00dfacecafe4b1d8e2a9c7b3d5e6f01","spanId":"0102030405060708"},
      {"observedTimeUnixNano":"1795672203672000000","severityNumber":9,"body":{"stringValue":"ok"}}
    ]}]}]})",
                        &out, &rep)
                  .ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ts_ns, 1795672203671000000LL);
  EXPECT_EQ(out[0].msg, "payment failed for order 42");
  EXPECT_EQ(StreamKey(out[0].labels), "{service=\"checkout\",level=\"ERROR\",source=\"otlp\"}");
  EXPECT_EQ(out[0].Field("order.id"), "42");
  EXPECT_EQ(out[0].Field("trace_id"), "f00dfacecafe4b1d8e2a9c7b3d5e6f01");
  EXPECT_EQ(out[0].Field("deployment.environment"), "test");
  EXPECT_EQ(out[0].Field("otel.scope.name"), "kansoku-demo");
  EXPECT_EQ(out[1].ts_ns, 1795672203672000000LL);
  EXPECT_EQ(out[1].labels[1].value, "info");
  EXPECT_FALSE(ParseJson("[1]", &out, &rep).ok());
}

}  // namespace
}  // namespace kansoku::logs::ingest::otlp_logs
