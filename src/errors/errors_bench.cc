// Benchmarks the Sentry event pipeline stage by stage, without HTTP, on real SDK bodies (the
// gzip /store/ bodies bench/errors/record_bodies.py records from Debian python3-sentry-sdk):
// gzip decode, ParseEvent, GroupEvent, ErrorStore::Write (with the SDK's gzip kept, and with
// the JSON compressed again), and the whole pipeline. CPU time per event of each stage.
//   /usr/bin/python3 bench/errors/record_bodies.py /tmp/bodies 1000
//   ERRORS_BENCH_BODIES=/tmp/bodies build/release/src/errors/errors_bench
// Without ERRORS_BENCH_BODIES the benchmarks report an error and do nothing.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "errors/event.h"
#include "errors/grouping.h"
#include "errors/store.h"
#include "net/decode.h"

namespace kansoku::errors {
namespace {

struct Bodies {
  std::vector<std::string> gz, json;
};

const Bodies& Load() {
  static Bodies b = [] {
    Bodies out;
    const char* dir = std::getenv("ERRORS_BENCH_BODIES");
    if (dir == nullptr) return out;
    for (int i = 1;; ++i) {
      std::ifstream f(std::string(dir) + "/" + std::to_string(i) + ".gz", std::ios::binary);
      if (!f) break;
      std::stringstream ss;
      ss << f.rdbuf();
      auto dec = net::DecodeContent("gzip", ss.str(), 16 << 20);
      if (!dec.ok()) continue;
      out.gz.push_back(ss.str());
      out.json.push_back(std::move(dec).value());
    }
    return out;
  }();
  return b;
}

bool Ready(benchmark::State& state) {
  if (!Load().gz.empty()) return true;
  state.SkipWithError("set ERRORS_BENCH_BODIES to a directory of recorded bodies (1.gz ...)");
  return false;
}

void BM_DecodeGzip(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& b = Load();
  size_t i = 0;
  for (auto _ : state) {
    auto dec = net::DecodeContent("gzip", b.gz[i++ % b.gz.size()], 16 << 20);
    benchmark::DoNotOptimize(dec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeGzip);

void BM_ParseEvent(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& b = Load();
  size_t i = 0;
  for (auto _ : state) {
    Event e;
    Status st = ParseEvent(b.json[i++ % b.json.size()], &e);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseEvent);

void BM_GroupEvent(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& b = Load();
  std::vector<Event> events(b.json.size());
  for (size_t k = 0; k < b.json.size(); ++k) (void)ParseEvent(b.json[k], &events[k]);
  size_t i = 0;
  for (auto _ : state) {
    Grouping g = GroupEvent(events[i++ % events.size()]);
    benchmark::DoNotOptimize(g);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GroupEvent);

// Store::Write of one parsed event per call (as one /store/ request does): framing, write(2),
// indexing. Arg 1: the SDK's gzip is stored as is; 0: the JSON is compressed again.
void BM_StoreWrite(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& b = Load();
  std::vector<IncomingEvent> events(b.json.size());
  for (size_t k = 0; k < b.json.size(); ++k) {
    auto& e = events[k];
    (void)ParseEvent(b.json[k], &e.event);
    e.project = 1;
    e.key_id = 1;
    e.json = b.json[k];
    if (state.range(0) == 1) e.json_gzip = b.gz[k];
    e.event_id = std::string(32, 'a');
    e.grouping = GroupEvent(e.event);
  }
  char tmpl[] = "/tmp/errors_bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    StoreOptions o;
    o.dir = dir;
    auto store = ErrorStore::Open(o);
    if (!store.ok()) {
      state.SkipWithError(store.status().message().c_str());
      return;
    }
    size_t i = 0;
    std::vector<uint64_t> ids;
    for (auto _ : state) {
      WriteBatch batch;
      batch.events.push_back(events[i++ % events.size()]);
      Status st = (*store)->Write(batch, &ids);
      benchmark::DoNotOptimize(st);
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreWrite)->Arg(1)->Arg(0);

// The whole pipeline of a gzip /store/ body: decode, parse, group, store (SDK gzip kept).
void BM_Pipeline(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& b = Load();
  char tmpl[] = "/tmp/errors_bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    StoreOptions o;
    o.dir = dir;
    auto store = ErrorStore::Open(o);
    if (!store.ok()) {
      state.SkipWithError(store.status().message().c_str());
      return;
    }
    size_t i = 0;
    std::vector<uint64_t> ids;
    for (auto _ : state) {
      const std::string& gz = b.gz[i++ % b.gz.size()];
      auto json = net::DecodeContent("gzip", gz, 16 << 20);
      WriteBatch batch;
      batch.events.emplace_back();
      auto& e = batch.events.back();
      (void)ParseEvent(*json, &e.event);
      e.project = 1;
      e.key_id = 1;
      e.json = *json;
      e.json_gzip = gz;
      e.event_id = e.event.event_id;
      e.grouping = GroupEvent(e.event);
      Status st = (*store)->Write(batch, &ids);
      benchmark::DoNotOptimize(st);
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Pipeline);

}  // namespace
}  // namespace kansoku::errors
