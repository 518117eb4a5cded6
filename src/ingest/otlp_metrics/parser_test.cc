#include "ingest/otlp_metrics/parser.h"

#include <cmath>

#include <gtest/gtest.h>

#include "ingest/common/test_util.h"
#include "tsdb/storage.h"

namespace kansoku::ingest::otlp_metrics {
namespace {

using testing::ProtoWriter;

constexpr int64_t kNow = 1795672203600;

// The shape the OpenTelemetry JS exporter 0.223 sends (shared/clients/README.md §7): int64 as
// strings, counts and bucket counts as numbers, aggregationTemporality 2, asDouble.
constexpr std::string_view kJsPayload = R"({"resourceMetrics":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"checkout"}},
  {"key":"service.namespace","value":{"stringValue":"shop"}},
  {"key":"service.instance.id","value":{"stringValue":"pod-7"}},
  {"key":"telemetry.sdk.language","value":{"stringValue":"nodejs"}},
  {"key":"host.cpus","value":{"intValue":4}}]},
 "scopeMetrics":[{"scope":{"name":"kansoku-demo","version":"0.1.0"},"metrics":[
  {"name":"orders_created","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
   "dataPoints":[{"attributes":[{"key":"region","value":{"stringValue":"eu"}}],
     "startTimeUnixNano":"1795672203552000000","timeUnixNano":"1795672203560000000","asDouble":1}]}},
  {"name":"queue.depth","unit":"{items}","gauge":{"dataPoints":[
     {"attributes":[{"key":"queue","value":{"stringValue":"email"}}],
      "timeUnixNano":"1795672203560000000","asInt":"17"}]}},
  {"name":"http.server.duration","unit":"ms","histogram":{"aggregationTemporality":2,
   "dataPoints":[{"attributes":[{"key":"http.route","value":{"stringValue":"/pay"}}],
     "startTimeUnixNano":"1795672203552000000","timeUnixNano":"1795672203560000000",
     "count":3,"sum":130.5,"bucketCounts":[1,0,2,0],"explicitBounds":[5,10,250],
     "min":0.5,"max":125}]}}
 ]}]}]})";

struct Parsed {
  CollectingSink sink;
  DecodeReport report;
  Status status;
};

DecodeOptions Opts() {
  DecodeOptions o;
  o.now_ms = kNow;
  return o;
}

std::unique_ptr<Parsed> ParseJson(std::string_view body, const Options& options = {}) {
  auto p = std::make_unique<Parsed>();
  Parser parser;
  p->status = parser.ParseJson(body, options, Opts(), p->sink, p->report);
  return p;
}

std::unique_ptr<Parsed> ParseProto(std::string_view body, const Options& options = {}) {
  auto p = std::make_unique<Parsed>();
  Parser parser;
  p->status = parser.ParseProto(body, options, Opts(), p->sink, p->report);
  return p;
}

const CollectingSink::Row* Find(const CollectingSink& s, std::string_view name,
                                std::string_view lname = {}, std::string_view lvalue = {}) {
  for (const auto& r : s.rows) {
    if (r.labels.MetricName() == name && (lname.empty() || r.labels.Get(lname) == lvalue)) {
      return &r;
    }
  }
  return nullptr;
}

void CheckJsPayloadRows(const Parsed& p) {
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.report.rows_rejected(), 0u) << p.report.Summary();
  const auto* orders = Find(p.sink, "orders_created_total");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->labels, (tsdb::Labels{{"__name__", "orders_created_total"},
                                          {"instance", "pod-7"},
                                          {"job", "shop/checkout"},
                                          {"region", "eu"}}));
  EXPECT_EQ(orders->value, 1);
  EXPECT_EQ(orders->timestamp_ms, 1795672203560);
  const auto* depth = Find(p.sink, "queue_depth");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(depth->value, 17);
  EXPECT_EQ(depth->labels.Get("queue"), "email");
  // Histogram: cumulative buckets 1, 1, 3 and +Inf = count.
  const auto* b5 = Find(p.sink, "http_server_duration_milliseconds_bucket", "le", "5");
  const auto* b10 = Find(p.sink, "http_server_duration_milliseconds_bucket", "le", "10");
  const auto* b250 = Find(p.sink, "http_server_duration_milliseconds_bucket", "le", "250");
  const auto* binf = Find(p.sink, "http_server_duration_milliseconds_bucket", "le", "+Inf");
  ASSERT_TRUE(b5 && b10 && b250 && binf);
  EXPECT_EQ(b5->value, 1);
  EXPECT_EQ(b10->value, 1);
  EXPECT_EQ(b250->value, 3);
  EXPECT_EQ(binf->value, 3);
  EXPECT_EQ(b5->labels.Get("http_route"), "/pay");
  const auto* sum = Find(p.sink, "http_server_duration_milliseconds_sum");
  const auto* count = Find(p.sink, "http_server_duration_milliseconds_count");
  ASSERT_TRUE(sum && count);
  EXPECT_EQ(sum->value, 130.5);
  EXPECT_EQ(count->value, 3);
  const auto* info = Find(p.sink, "target_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->labels, (tsdb::Labels{{"__name__", "target_info"},
                                        {"host_cpus", "4"},
                                        {"instance", "pod-7"},
                                        {"job", "shop/checkout"},
                                        {"telemetry_sdk_language", "nodejs"}}));
  EXPECT_EQ(info->value, 1);
  EXPECT_EQ(p.sink.rows.size(), 9u);
}

TEST(OtlpJsonTest, JsExporterPayload) { CheckJsPayloadRows(*ParseJson(kJsPayload)); }

// The same request in protobuf (what exporter-metrics-otlp-proto sends).
std::string JsPayloadProto() {
  auto kv = [](std::string_view k, std::string_view v) {
    ProtoWriter any;
    any.Str(1, v);
    ProtoWriter w;
    w.Str(1, k).Msg(2, any);
    return w;
  };
  ProtoWriter cpus_any;
  cpus_any.Varint(3, 4);
  ProtoWriter cpus;
  cpus.Str(1, "host.cpus").Msg(2, cpus_any);
  ProtoWriter resource;
  resource.Msg(1, kv("service.name", "checkout"))
      .Msg(1, kv("service.namespace", "shop"))
      .Msg(1, kv("service.instance.id", "pod-7"))
      .Msg(1, kv("telemetry.sdk.language", "nodejs"))
      .Msg(1, cpus);
  ProtoWriter sum_pt;
  sum_pt.Msg(7, kv("region", "eu"))
      .Fixed64(2, 1795672203552000000ULL)
      .Fixed64(3, 1795672203560000000ULL)
      .Double(4, 1);
  ProtoWriter sum;
  sum.Msg(1, sum_pt).Varint(2, 2).Varint(3, 1);
  ProtoWriter m1;
  m1.Str(1, "orders_created").Str(3, "1").Msg(7, sum);
  ProtoWriter g_pt;
  g_pt.Msg(7, kv("queue", "email")).Fixed64(3, 1795672203560000000ULL).Fixed64(6, 17);
  ProtoWriter gauge;
  gauge.Msg(1, g_pt);
  ProtoWriter m2;
  m2.Str(1, "queue.depth").Str(3, "{items}").Msg(5, gauge);
  ProtoWriter h_pt;
  h_pt.Msg(9, kv("http.route", "/pay"))
      .Fixed64(3, 1795672203560000000ULL)
      .Fixed64(4, 3)
      .Double(5, 130.5)
      .PackedFixed64(6, {1, 0, 2, 0})
      .PackedDouble(7, {5, 10, 250});
  ProtoWriter hist;
  hist.Msg(1, h_pt).Varint(2, 2);
  ProtoWriter m3;
  m3.Str(1, "http.server.duration").Str(3, "ms").Msg(9, hist);
  ProtoWriter scope;
  scope.Str(1, "kansoku-demo");
  ProtoWriter sm;
  sm.Msg(1, scope).Msg(2, m1).Msg(2, m2).Msg(2, m3);
  ProtoWriter rm;
  rm.Msg(2, sm).Msg(1, resource);  // resource after the metrics: must still apply
  ProtoWriter req;
  req.Msg(1, rm);
  return req.data();
}

TEST(OtlpProtoTest, JsExporterPayload) { CheckJsPayloadRows(*ParseProto(JsPayloadProto())); }

TEST(OtlpProtoTest, MalformedIsAllOrNothing) {
  std::string body = JsPayloadProto();
  for (size_t cut : {body.size() - 1, body.size() / 2, size_t{3}}) {
    auto p = ParseProto(body.substr(0, cut));
    EXPECT_EQ(p->status.code(), Status::Code::kInvalidArgument) << cut;
    EXPECT_EQ(p->status.message().rfind("cannot parse OTLP metrics protobuf: ", 0), 0u)
        << p->status.message();
    EXPECT_TRUE(p->sink.rows.empty()) << cut;
    EXPECT_EQ(p->report.HttpStatus(), 400);
  }
}

TEST(OtlpJsonTest, RequestErrors) {
  struct Case {
    std::string_view body;
    std::string_view error;
  };
  const Case cases[] = {
      {"{", "cannot parse OTLP metrics JSON: invalid JSON: "},
      {"[]", "cannot parse OTLP metrics JSON: want an object at the top level"},
      {R"({"resourceMetrics":{}})",
       "cannot parse OTLP metrics JSON: resourceMetrics: want an array"},
      {R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":[]}]}]}]})",
       "cannot parse OTLP metrics JSON: resourceMetrics[0].scopeMetrics[0].metrics[0].gauge: "
       "want an object"},
  };
  for (const Case& c : cases) {
    auto p = ParseJson(c.body);
    EXPECT_EQ(p->status.message().rfind(c.error, 0), 0u) << c.body << " -> " << p->status.message();
    EXPECT_EQ(p->report.HttpStatus(), 400);
  }
  auto empty = ParseJson("{}");
  EXPECT_TRUE(empty->status.ok());
  EXPECT_EQ(EncodeExportResponse(empty->report, true), "{}");
}

std::string OneMetric(std::string_view metric_json) {
  return std::string(
             R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeMetrics":[{"metrics":[)") +
         std::string(metric_json) + "]}]}]}";
}

TEST(OtlpJsonTest, BadPointsAreRejectedOthersKept) {
  struct Case {
    std::string metric;
    RejectReason reason;
    std::string error;
  };
  const Case cases[] = {
      {R"({"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1795672203560000000","count":1,"bucketCounts":[1,0],"explicitBounds":[1,2]}]}})",
       RejectReason::kBadValue,
       "data point 2 (metric \"h\"): histogram has 2 bucket counts for 2 explicit bounds; want "
       "bounds + 1"},
      {R"({"name":"d","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1795672203560000000","asDouble":1}]}})",
       RejectReason::kUnsupported,
       "data point 2 (metric \"d\"): delta temporality is not supported on this endpoint; "
       "configure the exporter for cumulative temporality"},
      {R"({"name":"e","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1795672203560000000"}]}})",
       RejectReason::kUnsupported,
       "data point 2 (metric \"e\"): exponential histograms are not supported"},
      {R"({"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"4102444800000000000","asDouble":1}]}})",
       RejectReason::kTimestampOutOfRange,
       "data point 2 (metric \"g\"): timestamp 4102444800000 ms is more than 172800s in the "
       "future"},
      {R"({"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"soon","asDouble":1}]}})",
       RejectReason::kBadTimestamp,
       "data point 2 (metric \"g\"): cannot parse timeUnixNano: want an integer (string) of "
       "nanoseconds"},
      // Regression (fuzzer, UBSan): an empty name reached memcpy(nullptr, 0) in Concat.
      {R"({"name":"..","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":1}]}})",
       RejectReason::kInvalidLabel,
       "data point 2 (metric \"..\"): metric name is empty after normalization"},
      {R"({"name":"g","gauge":{"dataPoints":[{"asDouble":"x"}]}})", RejectReason::kBadValue,
       "data point 2 (metric \"g\"): cannot parse asDouble: not a number"},
  };
  const std::string good =
      R"({"name":"ok","gauge":{"dataPoints":[{"timeUnixNano":"1795672203560000000","asDouble":1}]}})";
  for (const Case& c : cases) {
    auto p = ParseJson(OneMetric(good + "," + c.metric + "," + good));
    ASSERT_TRUE(p->status.ok()) << p->status.ToString();
    EXPECT_EQ(p->sink.rows.size(), 2u) << c.metric;  // the two "ok" points (no target_info)
    EXPECT_EQ(p->report.rejected(c.reason), 1u) << c.metric << ": " << p->report.Summary();
    ASSERT_EQ(p->report.errors().size(), 1u) << c.metric;
    EXPECT_EQ(p->report.errors()[0], c.error);
    std::string resp = EncodeExportResponse(p->report, true);
    EXPECT_EQ(
        resp.rfind("{\"partialSuccess\":{\"rejectedDataPoints\":\"1\",\"errorMessage\":\"", 0), 0u)
        << resp;
  }
}

TEST(OtlpJsonTest, DeltaAccumulatesAcrossRequests) {
  DeltaAccumulator acc;
  Options o;
  o.delta = &acc;
  const std::string delta = OneMetric(
      R"({"name":"reqs","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"attributes":[{"key":"code","value":{"intValue":"200"}}],"timeUnixNano":"1795672203560000000","asInt":"5"}]}})");
  auto p1 = ParseJson(delta, o);
  auto p2 = ParseJson(delta, o);
  const auto* r1 = Find(p1->sink, "reqs_total");
  const auto* r2 = Find(p2->sink, "reqs_total");
  ASSERT_TRUE(r1 && r2) << p1->report.Summary();
  EXPECT_EQ(r1->value, 5);
  EXPECT_EQ(r2->value, 10);
  EXPECT_EQ(r2->labels.Get("code"), "200");
  EXPECT_EQ(acc.size(), 1u);
}

TEST(OtlpJsonTest, SummaryAndNoRecordedValue) {
  auto p = ParseJson(OneMetric(
      R"({"name":"rpc.latency","unit":"s","summary":{"dataPoints":[{"timeUnixNano":"1795672203560000000","count":"10","sum":2.5,"quantileValues":[{"quantile":0.5,"value":0.2},{"quantile":0.99,"value":0.9}]}]}},)"
      R"({"name":"temp","gauge":{"dataPoints":[{"timeUnixNano":"1795672203560000000","flags":1}]}})"));
  ASSERT_TRUE(p->status.ok());
  const auto* q99 = Find(p->sink, "rpc_latency_seconds", "quantile", "0.99");
  ASSERT_NE(q99, nullptr);
  EXPECT_EQ(q99->value, 0.9);
  ASSERT_NE(Find(p->sink, "rpc_latency_seconds_count"), nullptr);
  EXPECT_EQ(Find(p->sink, "rpc_latency_seconds_count")->value, 10);
  const auto* temp = Find(p->sink, "temp");
  ASSERT_NE(temp, nullptr);
  EXPECT_TRUE(tsdb::IsStaleNaN(temp->value));
}

TEST(OtlpNamesTest, Table) {
  struct Case {
    std::string_view name, unit;
    Kind kind;
    bool monotonic, suffixes;
    std::string_view want;
  };
  const Case cases[] = {
      {"orders_created", "1", Kind::kSum, true, true, "orders_created_total"},
      {"http.server.duration", "ms", Kind::kHistogram, false, true,
       "http_server_duration_milliseconds"},
      {"system.memory.usage", "By", Kind::kGauge, false, true, "system_memory_usage_bytes"},
      {"net.io", "By/s", Kind::kGauge, false, true, "net_io_bytes_per_second"},
      {"cpu.utilization", "1", Kind::kGauge, false, true, "cpu_utilization_ratio"},
      {"requests", "{request}", Kind::kSum, true, true, "requests_total"},
      {"requests_total", "", Kind::kSum, true, true, "requests_total"},
      {"duration_seconds", "s", Kind::kGauge, false, true, "duration_seconds"},
      {"2xx.count", "", Kind::kGauge, false, true, "_2xx_count"},
      {"http.server.duration", "ms", Kind::kHistogram, false, false, "http_server_duration"},
      {"a:b..c", "", Kind::kGauge, false, false, "a:b_c"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(BuildMetricName(c.name, c.unit, c.kind, c.monotonic, c.suffixes), c.want) << c.name;
  }
  EXPECT_EQ(NormalizeLabelName("http.route"), "http_route");
  EXPECT_EQ(NormalizeLabelName("2fa"), "key_2fa");
  EXPECT_EQ(NormalizeLabelName("_x"), "key_x");
  EXPECT_EQ(NormalizeLabelName("__x"), "__x");
}

TEST(OtlpResponseTest, Protobuf) {
  DecodeReport r;
  EXPECT_EQ(EncodeExportResponse(r, false), "");
  r.Reject(RejectReason::kUnsupported, "x");
  std::string resp = EncodeExportResponse(r, false);
  ASSERT_GE(resp.size(), 6u);
  EXPECT_EQ(resp[0], 0x0a);
  EXPECT_EQ(resp[2], 0x08);
  EXPECT_EQ(resp[3], 0x01);
  EXPECT_EQ(resp[4], 0x12);
}

}  // namespace
}  // namespace kansoku::ingest::otlp_metrics
