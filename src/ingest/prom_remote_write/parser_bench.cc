// Benchmarks the remote-write decoder on a Prometheus-like request: 500 series of 8 labels, one
// sample each (max_samples_per_send: 500). Reports rows/s.
#include <benchmark/benchmark.h>
#include <snappy.h>

#include <string>

#include "ingest/common/appender_sink.h"
#include "ingest/common/test_util.h"
#include "ingest/prom_remote_write/parser.h"

namespace kansoku::ingest::prom_remote_write {
namespace {

using testing::ProtoWriter;

std::string MakeRequest(int series) {
  ProtoWriter req;
  for (int i = 0; i < series; ++i) {
    ProtoWriter ts;
    auto label = [&](std::string_view n, const std::string& v) {
      ProtoWriter l;
      l.Str(1, n).Str(2, v);
      ts.Msg(1, l);
    };
    label("__name__", "node_cpu_seconds_total");
    label("cpu", std::to_string(i % 16));
    label("env", "kansoku-acceptance");
    label("instance", "10.0.0." + std::to_string(i / 16) + ":9100");
    label("job", "node");
    label("mode", "idle");
    label("region", "eu-west-1");
    label("service", "checkout");
    ProtoWriter s;
    s.Double(1, 320.13 + i).Varint(2, 1795671866473);
    ts.Msg(2, s);
    req.Msg(1, ts);
  }
  return req.data();
}

void BM_DecodeDiscard(benchmark::State& state) {
  std::string body = MakeRequest(500);
  DecodeOptions opts;
  opts.now_ms = 1795671866473;
  Decoder dec;
  DiscardSink sink;
  int64_t rows = 0;
  for (auto _ : state) {
    DecodeReport report;
    (void)dec.Decode(body, opts, sink, report);
    rows += 500;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_DecodeDiscard);

// Decode + snappy + AppenderSink (Labels building) into a no-op appender.
class NullAppender : public tsdb::Appender {
 public:
  Status Append(const tsdb::Labels&, int64_t, double) override { return Status::Ok(); }
  Status UpdateMetadata(std::string_view, const tsdb::MetricMetadata&) override {
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Rollback() override {}
};

// state.range(0) == 1: a SeriesCache shared across requests (the handler's steady state).
void BM_SnappyDecodeAppend(benchmark::State& state) {
  SeriesCache cache;
  SeriesCache* cache_ptr = state.range(0) == 1 ? &cache : nullptr;
  std::string body = MakeRequest(500);
  std::string compressed;
  snappy::Compress(body.data(), body.size(), &compressed);
  DecodeOptions opts;
  opts.now_ms = 1795671866473;
  Decoder dec;
  std::string buf;
  int64_t rows = 0;
  for (auto _ : state) {
    NullAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, cache_ptr);
    (void)DecodeSnappyBlock(compressed, &buf);
    (void)dec.Decode(buf, opts, sink, report);
    (void)sink.Commit();
    rows += 500;
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SnappyDecodeAppend)->Arg(0)->Arg(1);

}  // namespace
}  // namespace kansoku::ingest::prom_remote_write
