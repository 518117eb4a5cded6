// Benchmarks the OTLP decoders: one resource, 200 cumulative sums (one point each, 3
// attributes) and 20 histograms (16 buckets -> 19 rows each). JSON and protobuf.
#include <benchmark/benchmark.h>

#include <string>

#include "ingest/common/test_util.h"
#include "ingest/otlp_metrics/parser.h"

namespace kansoku::ingest::otlp_metrics {
namespace {

using testing::ProtoWriter;

constexpr int kRowsPerRequest = 200 + 20 * 19 + 1;  // + target_info

std::string MakeJson() {
  std::string b =
      R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"host.name","value":{"stringValue":"web-1"}}]},"scopeMetrics":[{"scope":{"name":"bench"},"metrics":[)";
  for (int i = 0; i < 200; ++i) {
    if (i) b += ",";
    b +=
        R"({"name":"orders.created.)" + std::to_string(i) +
        R"(","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"attributes":[{"key":"region","value":{"stringValue":"eu"}},{"key":"code","value":{"intValue":"200"}},{"key":"method","value":{"stringValue":"GET"}}],"startTimeUnixNano":"1795672203552000000","timeUnixNano":"1795672203560000000","asDouble":)" +
        std::to_string(i) + "}]}}";
  }
  for (int i = 0; i < 20; ++i) {
    b +=
        R"(,{"name":"http.server.duration.)" + std::to_string(i) +
        R"(","unit":"ms","histogram":{"aggregationTemporality":2,"dataPoints":[{"attributes":[{"key":"http.route","value":{"stringValue":"/pay"}}],"timeUnixNano":"1795672203560000000","count":150,"sum":1234.5,"bucketCounts":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,40],"explicitBounds":[0,5,10,25,50,75,100,250,500,750,1000,2500,5000,7500,10000]}]}})";
  }
  b += "]}]}]}";
  return b;
}

std::string MakeProto() {
  auto kv = [](std::string_view k, std::string_view v) {
    ProtoWriter any;
    any.Str(1, v);
    ProtoWriter w;
    w.Str(1, k).Msg(2, any);
    return w;
  };
  ProtoWriter resource;
  resource.Msg(1, kv("service.name", "checkout")).Msg(1, kv("host.name", "web-1"));
  ProtoWriter sm;
  for (int i = 0; i < 200; ++i) {
    ProtoWriter pt;
    pt.Msg(7, kv("region", "eu")).Msg(7, kv("code", "200")).Msg(7, kv("method", "GET"));
    pt.Fixed64(2, 1795672203552000000ULL).Fixed64(3, 1795672203560000000ULL).Double(4, i);
    ProtoWriter sum;
    sum.Msg(1, pt).Varint(2, 2).Varint(3, 1);
    ProtoWriter m;
    m.Str(1, "orders.created." + std::to_string(i)).Str(3, "1").Msg(7, sum);
    sm.Msg(2, m);
  }
  for (int i = 0; i < 20; ++i) {
    ProtoWriter pt;
    pt.Msg(9, kv("http.route", "/pay")).Fixed64(3, 1795672203560000000ULL).Fixed64(4, 150);
    pt.Double(5, 1234.5);
    pt.PackedFixed64(6, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 40});
    pt.PackedDouble(7, {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000});
    ProtoWriter h;
    h.Msg(1, pt).Varint(2, 2);
    ProtoWriter m;
    m.Str(1, "http.server.duration." + std::to_string(i)).Str(3, "ms").Msg(9, h);
    sm.Msg(2, m);
  }
  ProtoWriter rm;
  rm.Msg(1, resource).Msg(2, sm);
  ProtoWriter req;
  req.Msg(1, rm);
  return req.data();
}

void Run(benchmark::State& state, bool json) {
  std::string body = json ? MakeJson() : MakeProto();
  DecodeOptions opts;
  opts.now_ms = 1795672203600;
  Options o;
  Parser parser;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    Status st = json ? parser.ParseJson(body, o, opts, sink, report)
                     : parser.ParseProto(body, o, opts, sink, report);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
    rows += kRowsPerRequest;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}

void BM_OtlpJson(benchmark::State& state) { Run(state, true); }
void BM_OtlpProto(benchmark::State& state) { Run(state, false); }
BENCHMARK(BM_OtlpJson);
BENCHMARK(BM_OtlpProto);

}  // namespace
}  // namespace kansoku::ingest::otlp_metrics
