// Benchmarks the log ingest path stage by stage on bench/logs-like data (nginx access lines and
// JSON app logs with random trace ids): JSON-lines decoding, Store::Append (normalise, WAL, head)
// and the flush of a head into blocks (sort, columns, token bloom, zstd). Rows/s and CPU time per
// row of each stage; run alone:  build/release/src/logs/logs_bench
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "logs/ingest/jsonline/parser.h"
#include "logs/store.h"
#include "logs/wal.h"

namespace kansoku::logs {
namespace {

constexpr int64_t kEnd = 1795651200LL;

std::string MakeBody(int n, int seed) {
  std::mt19937_64 rnd(seed);
  const char* services[] = {"checkout", "cart", "search", "auth", "payments", "catalog"};
  const char* paths[] = {"/api/orders", "/api/cart", "/login", "/static/app.js", "/healthz"};
  const char* msgs[] = {"order %d accepted", "cart %d updated with %d items",
                        "upstream timeout after %d ms calling inventory",
                        "payment %d authorised in %d ms", "request %d took %d ms"};
  std::string body;
  char msg[512], line[1024];
  for (int i = 0; i < n; ++i) {
    int64_t us = (kEnd - 86400) * 1000000LL + static_cast<int64_t>(i) * 86400;
    time_t sec = static_cast<time_t>(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[64];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1000000));
    char trace[33];
    snprintf(trace, sizeof trace, "%016llx%016llx", static_cast<unsigned long long>(rnd()),
             static_cast<unsigned long long>(rnd()));
    bool nginx = rnd() % 100 < 45;
    const char* service = nginx ? "nginx" : services[rnd() % 6];
    if (nginx) {
      snprintf(msg, sizeof msg,
               "10.%d.%d.%d - - [25/Nov/2026:%02d:%02d:%02d +0000] \\\"GET %s HTTP/1.1\\\" %d %d "
               "\\\"-\\\" \\\"curl/7.88.1\\\" trace=%s",
               static_cast<int>(rnd() % 256), static_cast<int>(rnd() % 256),
               static_cast<int>(rnd() % 256), tm.tm_hour, tm.tm_min, tm.tm_sec, paths[rnd() % 5],
               rnd() % 10 ? 200 : 502, static_cast<int>(rnd() % 90000), trace);
    } else {
      snprintf(msg, sizeof msg, msgs[rnd() % 5], static_cast<int>(rnd() % 100000),
               static_cast<int>(rnd() % 5000));
    }
    const char* levels[] = {"info", "info", "info", "warn", "error", "debug"};
    snprintf(line, sizeof line,
             "{\"ts\": \"%s\", \"msg\": \"%s\", \"service\": \"%s\", \"host\": \"web-%02d\", "
             "\"level\": \"%s\", \"trace_id\": \"%s\"}\n",
             ts, msg, service, static_cast<int>(rnd() % 24), levels[rnd() % 6], trace);
    body += line;
  }
  return body;
}

const std::string& Body() {
  static const std::string b = MakeBody(100000, 42);
  return b;
}

LogBatch Parse(const std::string& body) {
  static ingest::jsonline::Parser parser;
  ingest::jsonline::Options o;
  o.extra_labels = {{"source", "jsonline"}};
  LogBatch batch;
  ingest::Report rep;
  parser.ParseLines(body, o, &batch, &rep);
  return batch;
}

struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/logs_bench.XXXXXX";
    path = mkdtemp(t);
  }
  ~TmpDir() { std::filesystem::remove_all(path); }
};

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.background = false;
  o.retention_ms = 0;
  o.head_max_rows = 1 << 30;
  o.head_max_bytes = size_t{1} << 40;
  return std::move(Store::Open(o)).value();
}

void BM_ParseJsonLines(benchmark::State& state) {
  const std::string& body = Body();
  int64_t rows = 0;
  for (auto _ : state) {
    LogBatch b = Parse(body);
    rows += static_cast<int64_t>(b.size());
    benchmark::DoNotOptimize(b);
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseJsonLines)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

// What /insert/jsonline does: one thread decodes request after request into the same batch
// (ParseLinesReusing), 10 requests of 10k lines per iteration.
void BM_ParseJsonLinesReusing(benchmark::State& state) {
  const std::string& body = Body();
  std::vector<std::string_view> requests;
  for (size_t pos = 0; pos < body.size();) {
    size_t end = pos;
    for (int l = 0; l < 10000 && end < body.size(); ++l) end = body.find('\n', end) + 1;
    requests.push_back(std::string_view(body).substr(pos, end - pos));
    pos = end;
  }
  ingest::jsonline::Parser parser;
  ingest::jsonline::Options o;
  o.extra_labels = {{"source", "jsonline"}};
  LogBatch batch;
  int64_t rows = 0;
  for (auto _ : state) {
    for (std::string_view req : requests) {
      ingest::Report rep;
      parser.ParseLinesReusing(req, o, &batch, &rep);
      rows += static_cast<int64_t>(batch.size());
      benchmark::DoNotOptimize(batch);
    }
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseJsonLinesReusing)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

// Append only (parsed batches prepared outside the timed region), 10 batches of 10k rows.
void BM_Append(benchmark::State& state) {
  int64_t rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TmpDir dir;
    auto store = OpenStore(dir.path);
    std::vector<LogBatch> batches;
    LogBatch all = Parse(Body());
    for (size_t i = 0; i < all.size(); i += 10000) {
      batches.emplace_back(std::make_move_iterator(all.begin() + static_cast<long>(i)),
                           std::make_move_iterator(
                               all.begin() + static_cast<long>(std::min(all.size(), i + 10000))));
    }
    state.ResumeTiming();
    for (auto& b : batches) {
      rows += static_cast<int64_t>(b.size());
      if (!store->Append(std::move(b)).ok()) state.SkipWithError("append failed");
    }
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Append)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

// What /insert/jsonline does now: each request decoded straight into the store's encoding
// (StartBatch, ParseLinesInto, AppendEncoded), 10 requests of 10k lines per iteration. Compare
// with BM_ParseJsonLinesReusing + BM_Append (the LogRecord path).
void BM_ParseIntoAndAppend(benchmark::State& state) {
  const std::string& body = Body();
  std::vector<std::string_view> requests;
  for (size_t pos = 0; pos < body.size();) {
    size_t end = pos;
    for (int l = 0; l < 10000 && end < body.size(); ++l) end = body.find('\n', end) + 1;
    requests.push_back(std::string_view(body).substr(pos, end - pos));
    pos = end;
  }
  ingest::jsonline::Parser parser;
  ingest::jsonline::Options o;
  o.extra_labels = {{"source", "jsonline"}};
  BatchBuilder builder;
  int64_t rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TmpDir dir;
    auto store = OpenStore(dir.path);
    state.ResumeTiming();
    for (std::string_view req : requests) {
      ingest::Report rep;
      store->StartBatch(&builder, req.size() + req.size() / 4 + 4096);
      parser.ParseLinesInto(req, o, &builder, &rep);
      rows += static_cast<int64_t>(builder.records());
      if (!store->AppendEncoded(builder.Finish()).ok()) state.SkipWithError("append failed");
    }
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseIntoAndAppend)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

// Flush of a 100k-row head into blocks.
void BM_Flush(benchmark::State& state) {
  int64_t rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TmpDir dir;
    auto store = OpenStore(dir.path);
    LogBatch all = Parse(Body());
    rows += static_cast<int64_t>(all.size());
    if (!store->Append(std::move(all)).ok()) state.SkipWithError("append failed");
    state.ResumeTiming();
    if (!store->Flush().ok()) state.SkipWithError("flush failed");
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Flush)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

}  // namespace
}  // namespace kansoku::logs
