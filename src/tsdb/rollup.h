#pragma once
// Downsampled rollups stored inside blocks (format: docs/design/tsdb-block.md, "rollups").
//
// For each series a block may carry, per resolution (5 m and 1 h), min, max, sum, count and last
// of the raw samples in each epoch-aligned window (KSR3: one record per series with a shared
// time column and fields predicted from each other; older files: five chunks per series). Every
// rollup point is stamped with the time of the last raw sample it covers (so "last" points are a
// subset of the raw samples and counters stay counters). Stale markers count only towards "last".
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
// A block whose series would need more points than this at a resolution gets no rollup file
// for it (its raw data is read).
inline constexpr int64_t kMaxRollupPointsPerSeries = 60000;

// One window of one series: what every aggregate is derived from.
struct RollupWindow {
  int64_t t_last = 0;   // time of the window's last raw sample (stale markers included)
  double last = 0;      // its value
  int64_t t_value = 0;  // time of the last non-stale sample (meaningful when count > 0)
  uint64_t count = 0;   // non-stale samples; 0 = the window had only stale markers
  double min = 0, max = 0, sum = 0;
};

// Accumulates one series' samples (time order) into one resolution.
class RollupBuilder {
 public:
  // More windows than this per series and block: no rollup for the series (absurdly wide block).
  static constexpr size_t kMaxWindows = XorChunk::kMaxSamples - 1;
  explicit RollupBuilder(int64_t resolution_ms) : res_(resolution_ms) {}
  void Add(int64_t t, double v);
  // The windows in time order; empty when there were none or more than kMaxWindows.
  std::vector<RollupWindow> Finish();

 private:
  void Flush();
  int64_t res_;
  bool open_ = false;
  int64_t window_ = 0;
  RollupWindow cur_;
  std::vector<RollupWindow> windows_;
  bool overflow_ = false;
};

// One series' KSR3 record (tsdb-block.md); empty for no windows. Windows must come from a
// RollupBuilder (strictly increasing t_last, t_value <= t_last, at most kMaxWindows).
std::string EncodeRollupSeries(const std::vector<RollupWindow>& windows);
// A KSR3 rollup file from the records of every series of a block, in block series order.
std::string EncodeRollupFile(int64_t resolution_ms, const std::vector<std::string>& records);
// The previous format (KSR2: five separate chunks per series), kept so that tests and
// bench/tsdb/block_stats.cc can write what older versions wrote.
std::string EncodeRollupFileV2(int64_t resolution_ms,
                               const std::vector<std::vector<RollupWindow>>& series);

// A decoded rollup file of any version (KSR1, KSR2, KSR3). Immutable; safe for concurrent reads.
class RollupTable {
 public:
  // Takes the file contents; Corruption on bad magic/CRC or a series count other than expected.
  // Series records are framed here and decoded (and checked) by Points.
  static Result<RollupTable> Decode(std::string data, size_t expected_series);
  int64_t resolution() const { return res_; }
  int version() const { return version_; }
  size_t SizeBytes() const { return data_.size(); }
  // Appends the points of one aggregate of series `id` (time order, strictly increasing t) to
  // *out: `last` at each window's t_last; min, max, sum and count at t_value of the windows with
  // count > 0. Corruption on malformed bytes (*out unchanged).
  Status Points(size_t id, RollupAgg agg, std::vector<Sample>* out) const;
  // Where series `id`'s bytes go, for tools (bench/tsdb/block_stats.cc): KSR1/2: the five chunks
  // (encoding 1 XOR, 2 packed); KSR3: header, exceptions and each column (bits / 8).
  struct Part {
    std::string name;
    size_t bytes = 0;
    int encoding = 0;
    size_t points = 0;
  };
  std::vector<Part> Parts(size_t id) const;
  // What Block::Select hands to iterators for (id, agg): KSR1/2 the stored chunk and its
  // encoding; KSR3 the series record with the in-memory encoding kRollup* of agg (decoded by
  // ChunkIterator, chunk.h). Empty when the series has no points for agg.
  std::string_view ChunkFor(size_t id, RollupAgg agg, ChunkEncoding* encoding) const;

 private:
  int64_t res_ = 0;
  int version_ = 0;
  std::string data_;
  struct Ref {
    size_t offset = 0;
    size_t length = 0;
    ChunkEncoding encoding = ChunkEncoding::kXor;
  };
  // KSR1/2: one Ref per aggregate; KSR3: the record in [0].
  std::vector<std::array<Ref, kNumRollupAggs>> index_;
};

struct RollupChoice {
  int64_t resolution_ms;
  RollupAgg agg;
};
std::optional<RollupChoice> ChooseRollup(const SelectHints& hints);

}  // namespace kansoku::tsdb
