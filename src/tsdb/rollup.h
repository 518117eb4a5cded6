#pragma once
// Downsampled rollups stored inside blocks (format: docs/design/tsdb-block.md, "rollups").
//
// For each series a block may carry, per resolution (5 m and 1 h), five XOR chunks: min, max,
// sum, count and last of the raw samples in each epoch-aligned window. Every rollup point is
// stamped with the time of the last raw sample it covers (so "last" points are a subset of the
// raw samples and counters stay counters). Stale markers count only towards "last".
//
// ChooseRollup decides from SelectHints whether a query may read rollups instead of raw samples:
// only range-vector functions whose result survives pre-aggregation (rate, increase, delta,
// last_over_time -> last; max_over_time -> max; min_over_time -> min; sum_over_time -> sum), only
// when the step is at least the resolution and the range holds at least 6 rollup points.
// Everything else reads raw data. Thread safety: plain values and functions.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/chunk.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

enum class RollupAgg : uint8_t { kMin = 0, kMax = 1, kSum = 2, kCount = 3, kLast = 4 };
inline constexpr int kNumRollupAggs = 5;
inline constexpr int64_t kRollupResolutions[] = {300000, 3600000};  // 5 m, 1 h

// Per aggregate: empty = no points; else the chunk encoding byte followed by the chunk.
using RollupChunks = std::array<std::string, kNumRollupAggs>;

// Accumulates one series' samples (time order) into one resolution.
class RollupBuilder {
 public:
  explicit RollupBuilder(int64_t resolution_ms) : res_(resolution_ms) {}
  void Add(int64_t t, double v);
  RollupChunks Finish();

 private:
  void Flush();
  int64_t res_;
  bool open_ = false;
  int64_t window_ = 0;
  // Current window.
  int64_t last_t_ = 0, last_value_t_ = 0;
  double last_ = 0, min_ = 0, max_ = 0, sum_ = 0;
  uint64_t count_ = 0;
  std::array<std::vector<Sample>, kNumRollupAggs> points_;
  bool overflow_ = false;
};

// A rollup file: the rollup chunks of every series of a block, in block series order.
std::string EncodeRollupFile(int64_t resolution_ms, const std::vector<RollupChunks>& series);

class RollupTable {
 public:
  // Takes the file contents; Corruption on bad magic/CRC or a series count other than expected.
  static Result<RollupTable> Decode(std::string data, size_t expected_series);
  int64_t resolution() const { return res_; }
  // Chunk bytes of series `id` (block ordinal); empty when it has no points.
  std::string_view Chunk(size_t id, RollupAgg agg) const {
    const Ref& r = index_[id][static_cast<int>(agg)];
    return std::string_view(data_).substr(r.offset, r.length);
  }
  ChunkEncoding Encoding(size_t id, RollupAgg agg) const {
    return index_[id][static_cast<int>(agg)].encoding;
  }
  size_t SizeBytes() const { return data_.size(); }
  // Appends the points of one aggregate of series `id` (time order) to *out; Corruption on
  // malformed bytes (*out then holds what decoded before the damage).
  Status Points(size_t id, RollupAgg agg, std::vector<Sample>* out) const;
  // Where series `id`'s bytes go, for tools (bench/tsdb/block_stats.cc): one entry per stored
  // part (KSR1/2: the five chunks; encoding 1 XOR, 2 packed, 0 other), bytes incl. framing.
  struct Part {
    std::string name;
    size_t bytes = 0;
    int encoding = 0;
    size_t points = 0;
  };
  std::vector<Part> Parts(size_t id) const;

 private:
  int64_t res_ = 0;
  std::string data_;
  struct Ref {
    size_t offset = 0;
    size_t length = 0;
    ChunkEncoding encoding = ChunkEncoding::kXor;
  };
  std::vector<std::array<Ref, kNumRollupAggs>> index_;
};

struct RollupChoice {
  int64_t resolution_ms;
  RollupAgg agg;
};
std::optional<RollupChoice> ChooseRollup(const SelectHints& hints);

}  // namespace kansoku::tsdb
