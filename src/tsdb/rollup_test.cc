#include "tsdb/rollup.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

namespace kansoku::tsdb {
namespace {

// A RollupChunks entry: empty, or the encoding byte followed by the chunk.
std::vector<Sample> Decode(std::string_view bytes) {
  std::vector<Sample> out;
  if (bytes.empty()) return out;
  ChunkIterator it(bytes.substr(1), static_cast<ChunkEncoding>(bytes[0]));
  while (it.Next()) out.push_back(it.At());
  EXPECT_TRUE(it.status().ok());
  return out;
}

TEST(RollupTest, AggregatesMatchBruteForce) {
  std::mt19937_64 rng(3);
  std::vector<Sample> raw;
  for (int64_t t = -3600000; t < 3 * 3600000; t += 15000 + static_cast<int64_t>(rng() % 7)) {
    double v = static_cast<double>(rng() % 1000) / 10.0;
    if (rng() % 40 == 0) v = StaleNaN();
    raw.push_back({t, v});
  }
  for (int64_t res : kRollupResolutions) {
    SCOPED_TRACE(res);
    RollupBuilder b(res);
    for (const auto& s : raw) b.Add(s.t, s.v);
    RollupChunks got = b.Finish();
    // Brute force per window.
    struct W {
      int64_t t_last = 0, t_val = 0;
      double last = 0, mn = 1e300, mx = -1e300, sum = 0;
      int count = 0;
    };
    std::map<int64_t, W> ws;
    for (const auto& s : raw) {
      const int64_t w = s.t >= 0 ? s.t / res : -((-s.t + res - 1) / res);
      W& x = ws[w];
      x.t_last = s.t;
      x.last = s.v;
      if (IsStaleNaN(s.v)) continue;
      x.t_val = s.t;
      x.mn = std::min(x.mn, s.v);
      x.mx = std::max(x.mx, s.v);
      x.sum += s.v;
      ++x.count;
    }
    auto last = Decode(got[static_cast<int>(RollupAgg::kLast)]);
    auto mn = Decode(got[static_cast<int>(RollupAgg::kMin)]);
    auto mx = Decode(got[static_cast<int>(RollupAgg::kMax)]);
    auto sum = Decode(got[static_cast<int>(RollupAgg::kSum)]);
    auto cnt = Decode(got[static_cast<int>(RollupAgg::kCount)]);
    ASSERT_EQ(last.size(), ws.size());
    size_t i = 0, j = 0;
    for (const auto& [w, x] : ws) {
      EXPECT_EQ(last[i].t, x.t_last);
      uint64_t a, b2;
      std::memcpy(&a, &last[i].v, 8);
      std::memcpy(&b2, &x.last, 8);
      EXPECT_EQ(a, b2);
      ++i;
      if (x.count == 0) continue;
      ASSERT_LT(j, mn.size());
      EXPECT_EQ(mn[j].t, x.t_val);
      EXPECT_EQ(mn[j].v, x.mn);
      EXPECT_EQ(mx[j].v, x.mx);
      EXPECT_DOUBLE_EQ(sum[j].v, x.sum);
      EXPECT_EQ(cnt[j].v, x.count);
      ++j;
    }
    EXPECT_EQ(j, mn.size());
  }
}

TEST(RollupTest, FileRoundTripAndCorruption) {
  RollupBuilder b(300000);
  for (int i = 0; i < 100; ++i) b.Add(i * 15000, i);
  std::vector<RollupChunks> series = {b.Finish(), RollupChunks{}};
  std::string file = EncodeRollupFile(300000, series);
  auto t = RollupTable::Decode(file, 2);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->resolution(), 300000);
  const std::string_view count = t->Chunk(0, RollupAgg::kCount);
  ChunkIterator it(count, t->Encoding(0, RollupAgg::kCount));
  size_t n = 0;
  while (it.Next()) ++n;
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(n, 5u);
  EXPECT_TRUE(t->Chunk(1, RollupAgg::kMax).empty());
  EXPECT_FALSE(RollupTable::Decode(file, 3).ok());
  file[10] ^= 1;
  EXPECT_EQ(RollupTable::Decode(file, 2).status().code(), Status::Code::kCorruption);
}

TEST(RollupTest, ChooseRollup) {
  struct Case {
    const char* func;
    int64_t step, range;
    bool want;
    int64_t res;
    RollupAgg agg;
  };
  const int64_t m = 60000, h = 3600000;
  const std::vector<Case> cases = {
      {"rate", 1 * h, 1 * h, true, 5 * m, RollupAgg::kLast},
      {"rate", 1 * m, 1 * h, false, 0, RollupAgg::kLast},  // step too fine
      {"rate", 1 * h, 5 * m, false, 0, RollupAgg::kLast},  // range too short
      {"max_over_time", 1 * h, 1 * h, true, 5 * m, RollupAgg::kMax},
      {"min_over_time", 1 * h, 1 * h, true, 5 * m, RollupAgg::kMin},
      {"sum_over_time", 1 * h, 1 * h, true, 5 * m, RollupAgg::kSum},
      {"increase", 24 * h, 24 * h, true, 1 * h, RollupAgg::kLast},
      {"avg_over_time", 24 * h, 24 * h, false, 0, RollupAgg::kLast},  // not decomposable here
      {"count_over_time", 24 * h, 24 * h, false, 0, RollupAgg::kLast},
      {"", 24 * h, 0, false, 0, RollupAgg::kLast},  // plain selector: raw
      {"irate", 24 * h, 24 * h, false, 0, RollupAgg::kLast},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.func) + " step=" + std::to_string(c.step));
    SelectHints hints;
    hints.func = c.func;
    hints.step = c.step;
    hints.range = c.range;
    auto got = ChooseRollup(hints);
    ASSERT_EQ(got.has_value(), c.want);
    if (!c.want) continue;
    EXPECT_EQ(got->resolution_ms, c.res);
    EXPECT_EQ(got->agg, c.agg);
  }
}

}  // namespace
}  // namespace kansoku::tsdb
