// chunk_bench: XOR chunk encode/decode speed and size on node_exporter-like data, packed chunk
// decode speed, and the cost of the head's packed re-encode of a closed chunk.
//   build/tsdb/src/tsdb/chunk_bench
// Counters report ns/sample (time per sample) and bytes/sample.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "tsdb/chunk.h"

namespace kansoku::tsdb {
namespace {

constexpr int kSamplesPerChunk = 120;
constexpr int kSeries = 200;

// kind 0: counter (bytes-like, integer increments); 1: gauge (load-like, 2 decimals);
// 2: gauge with few distinct values (up, filesystem size); 3: float counter (cpu seconds).
std::vector<std::vector<Sample>> MakeData(int kind, int jitter_ms) {
  std::mt19937_64 rng(42 + kind);
  std::vector<std::vector<Sample>> out(kSeries);
  for (auto& series : out) {
    int64_t t = 1700000000000 + static_cast<int64_t>(rng() % 15000);
    double v = kind == 2 ? 1.0 : static_cast<double>(rng() % 100000);
    for (int i = 0; i < kSamplesPerChunk; ++i) {
      const int64_t j =
          jitter_ms == 0 ? 0 : static_cast<int64_t>(rng() % (2 * jitter_ms + 1)) - jitter_ms;
      series.push_back({t + j, v});
      t += 15000;
      switch (kind) {
        case 0:
          v += static_cast<double>(rng() % 50000);
          break;
        case 1:
          v = std::round((1.5 + std::sin(i / 10.0) + (rng() % 100) / 100.0) * 100) / 100;
          break;
        case 2:
          if (rng() % 50 == 0) v = static_cast<double>(rng() % 3);
          break;
        case 3:
          v += 15.0 * (rng() % 1000) / 1000.0;
          break;
      }
    }
  }
  return out;
}

void Args(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1, 2, 3}) {
    for (int jitter : {0, 2, 50}) b->Args({kind, jitter});
  }
}

// The benchmark's data (kind, jitter_ms from its arguments) as XOR chunks, one per series.
std::vector<std::string> XorChunksOf(const benchmark::State& state, size_t* samples) {
  std::vector<std::string> chunks;
  for (const auto& series :
       MakeData(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)))) {
    XorChunk c;
    for (const auto& s : series) c.Append(s.t, s.v);
    chunks.emplace_back(c.Bytes());
    *samples += c.NumSamples();
  }
  return chunks;
}

// Items processed and ns/sample for `samples` samples per iteration.
void PerSample(benchmark::State& state, size_t samples) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.counters["ns/sample"] =
      benchmark::Counter(static_cast<double>(state.iterations() * samples),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Encode(benchmark::State& state) {
  const auto data = MakeData(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t bytes = 0, samples = 0;
  for (auto _ : state) {
    bytes = 0;
    samples = 0;
    for (const auto& series : data) {
      XorChunk c;
      for (const auto& s : series) c.Append(s.t, s.v);
      bytes += c.SizeBytes();
      samples += c.NumSamples();
      benchmark::DoNotOptimize(c.Bytes().data());
    }
  }
  state.counters["bytes/sample"] = static_cast<double>(bytes) / static_cast<double>(samples);
  PerSample(state, samples);
}
BENCHMARK(BM_Encode)->Apply(Args)->ArgNames({"kind", "jitter_ms"});

void BM_Decode(benchmark::State& state) {
  size_t samples = 0;
  const std::vector<std::string> chunks = XorChunksOf(state, &samples);
  for (auto _ : state) {
    double sum = 0;
    for (const auto& c : chunks) {
      ChunkIterator it(c);
      while (it.Next()) sum += it.At().v;
    }
    benchmark::DoNotOptimize(sum);
  }
  PerSample(state, samples);
}
BENCHMARK(BM_Decode)->Apply(Args)->ArgNames({"kind", "jitter_ms"});

// The bulk decode the query path reads head chunks with (DecodeXorChunk into a vector).
void BM_DecodeBulk(benchmark::State& state) {
  size_t samples = 0;
  const std::vector<std::string> chunks = XorChunksOf(state, &samples);
  std::vector<Sample> decoded;
  for (auto _ : state) {
    for (const auto& c : chunks) {
      decoded.clear();
      if (!DecodeXorChunk(c, &decoded).ok()) state.SkipWithError("decode failed");
      benchmark::DoNotOptimize(decoded.data());
    }
  }
  PerSample(state, samples);
}
BENCHMARK(BM_DecodeBulk)->Apply(Args)->ArgNames({"kind", "jitter_ms"});

// Decoding the packed encoding (what blocks and closed head chunks hold), whole chunks at a time
// as the query engine reads them. Series whose packed form is not smaller are left out (the store
// keeps XOR for them).
void BM_DecodePacked(benchmark::State& state) {
  std::vector<std::string> chunks;
  size_t samples = 0;
  for (const auto& series :
       MakeData(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)))) {
    std::string packed;
    if (!EncodePackedChunk(series.data(), series.size(), &packed)) continue;
    chunks.push_back(std::move(packed));
    samples += series.size();
  }
  std::vector<Sample> decoded;
  for (auto _ : state) {
    for (const auto& c : chunks) {
      decoded.clear();
      if (!DecodePackedChunk(c, &decoded).ok()) state.SkipWithError("decode failed");
      benchmark::DoNotOptimize(decoded.data());
    }
  }
  PerSample(state, samples);
}
BENCHMARK(BM_DecodePacked)->Apply(Args)->ArgNames({"kind", "jitter_ms"});

// What the head adds when it cuts a chunk (head.cc CloseChunk): decode the XOR bytes, encode
// them packed, keep the smaller. ns/sample is on top of BM_Encode's; bytes/sample is the kept one.
void BM_CloseChunk(benchmark::State& state) {
  size_t samples = 0;
  const std::vector<std::string> chunks = XorChunksOf(state, &samples);
  std::vector<Sample> decoded;
  std::string packed;
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const auto& c : chunks) {
      decoded.clear();
      const bool ok = DecodeXorChunk(c, &decoded).ok() &&
                      EncodePackedChunk(decoded.data(), decoded.size(), &packed) &&
                      packed.size() < c.size();
      bytes += ok ? packed.size() : c.size();
      benchmark::DoNotOptimize(packed.data());
    }
  }
  state.counters["bytes/sample"] = static_cast<double>(bytes) / static_cast<double>(samples);
  PerSample(state, samples);
}
BENCHMARK(BM_CloseChunk)->Apply(Args)->ArgNames({"kind", "jitter_ms"});

}  // namespace
}  // namespace kansoku::tsdb
