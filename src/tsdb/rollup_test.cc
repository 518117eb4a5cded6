#include "tsdb/rollup.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

namespace kansoku::tsdb {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The points of one aggregate as RollupTable::Points must return them for these windows.
std::vector<Sample> Expected(const std::vector<RollupWindow>& ws, RollupAgg agg) {
  std::vector<Sample> out;
  for (const auto& w : ws) {
    if (agg == RollupAgg::kLast) {
      out.push_back({w.t_last, w.last});
      continue;
    }
    if (w.count == 0) continue;
    const double v = agg == RollupAgg::kMin   ? w.min
                     : agg == RollupAgg::kMax ? w.max
                     : agg == RollupAgg::kSum ? w.sum
                                              : static_cast<double>(w.count);
    out.push_back({w.t_value, v});
  }
  return out;
}

// Writes the series as a KSR3 file (and a KSR2 file), reads every aggregate back through
// RollupTable::Points and through a ChunkIterator over ChunkFor, and checks them bit for bit.
void ExpectRoundTrip(const std::vector<std::vector<RollupWindow>>& series, int64_t res) {
  std::vector<std::string> records;
  for (const auto& ws : series) records.push_back(EncodeRollupSeries(ws));
  for (const std::string& file :
       {EncodeRollupFile(res, records), EncodeRollupFileV2(res, series)}) {
    auto t = RollupTable::Decode(file, series.size());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->resolution(), res);
    for (size_t i = 0; i < series.size(); ++i) {
      for (int a = 0; a < kNumRollupAggs; ++a) {
        SCOPED_TRACE("version " + std::to_string(t->version()) + " series " + std::to_string(i) +
                     " agg " + std::to_string(a));
        const auto agg = static_cast<RollupAgg>(a);
        const std::vector<Sample> want = Expected(series[i], agg);
        std::vector<Sample> got;
        ASSERT_TRUE(t->Points(i, agg, &got).ok());
        ASSERT_EQ(got.size(), want.size());
        for (size_t j = 0; j < want.size(); ++j) {
          EXPECT_EQ(got[j].t, want[j].t) << j;
          EXPECT_EQ(Bits(got[j].v), Bits(want[j].v))
              << j << ": " << got[j].v << " vs " << want[j].v;
        }
        ChunkEncoding e;
        const std::string_view c = t->ChunkFor(i, agg, &e);
        EXPECT_EQ(c.empty(), want.empty());
        if (c.empty()) continue;
        ChunkIterator it(c, e);
        size_t j = 0;
        while (it.Next()) {
          ASSERT_LT(j, want.size());
          EXPECT_EQ(it.At().t, want[j].t);
          EXPECT_EQ(Bits(it.At().v), Bits(want[j].v));
          ++j;
        }
        EXPECT_TRUE(it.status().ok());
        EXPECT_EQ(j, want.size());
      }
    }
  }
}

std::vector<RollupWindow> Build(const std::vector<Sample>& raw, int64_t res) {
  RollupBuilder b(res);
  for (const auto& s : raw) b.Add(s.t, s.v);
  return b.Finish();
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
    const std::vector<RollupWindow> got = b.Finish();
    ExpectRoundTrip({got}, res);
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
    auto last = Expected(got, RollupAgg::kLast);
    auto mn = Expected(got, RollupAgg::kMin);
    auto mx = Expected(got, RollupAgg::kMax);
    auto sum = Expected(got, RollupAgg::kSum);
    auto cnt = Expected(got, RollupAgg::kCount);
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

TEST(RollupTest, EdgeValuesRoundTripBitExactly) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<Sample>> cases = {
      {},                                                // no samples
      {{42, 1.5}},                                       // a single point
      {{-1, 3}},                                         // negative time, single point
      {{0, StaleNaN()}},                                 // only a stale marker: no value windows
      {{0, -0.0}, {15000, -0.0}, {400000, 0.0}},         // -0 is not +0
      {{0, inf}, {15000, -inf}, {30000, 1}},             // infinities
      {{0, nan}, {15000, 2}, {310000, nan}},             // NaN replaced by later values; NaN sum
      {{0, 0.1}, {1, 0.2}, {2, 0.3}},                    // sum 0.6000000000000001
      {{0, 1.0 / 3}, {15000, 2.0 / 3}, {900000, M_PI}},  // not decimals
      {{0, 1e300}, {15000, 1e300}, {30000, -1e300}},     // huge; sum overflows to inf
      {{0, 9007199254740993.0}, {15000, 1.7e308}},       // beyond 2^53
  };
  // A counter, a gauge with stale markers and gaps, a constant, and one ending in a stale marker.
  std::vector<Sample> counter, gauge, constant, ending;
  std::mt19937_64 rng(7);
  double c = 1e6;
  for (int64_t t = 1000; t < 6 * 3600000; t += 15000) {
    c = std::round((c + static_cast<double>(rng() % 1000) / 100) * 100) / 100;
    counter.push_back({t, c});
    constant.push_back({t, 4096});
    ending.push_back({t, static_cast<double>(t / 15000 % 7)});
    if (t / 15000 % 50 < 10) continue;  // gaps: whole windows missing
    gauge.push_back({t + static_cast<int64_t>(rng() % 200),
                     rng() % 13 == 0 ? StaleNaN() : static_cast<double>(rng() % 4096) * 8});
  }
  ending.push_back({ending.back().t + 15000, StaleNaN()});
  cases.push_back(counter);
  cases.push_back(gauge);
  cases.push_back(constant);
  cases.push_back(ending);
  for (int64_t res : kRollupResolutions) {
    std::vector<std::vector<RollupWindow>> series;
    for (const auto& raw : cases) series.push_back(Build(raw, res));
    ExpectRoundTrip(series, res);
  }
}

TEST(RollupTest, DecimalCountersCostFewBytesPerWindow) {
  // 3-decimal counters (disk io time) and 2-decimal ones (cpu seconds), 12 h at 15 s: the
  // decimal mode applies (sums carry their rounding error as ulps) and is far below KSR2.
  for (int digits : {2, 3}) {
    SCOPED_TRACE(digits);
    const double scale = digits == 2 ? 100 : 1000;
    std::mt19937_64 rng(11);
    std::vector<Sample> raw;
    double v = 45000.5;
    for (int64_t t = 7000; t < 12 * 3600000; t += 15000) {
      v = std::round((v + static_cast<double>(rng() % 2000) / scale) * scale) / scale;
      raw.push_back({t, v});
    }
    const std::vector<RollupWindow> ws = Build(raw, 300000);
    ExpectRoundTrip({ws}, 300000);
    const size_t ksr3 = EncodeRollupSeries(ws).size();
    const size_t ksr2 = EncodeRollupFileV2(300000, {ws}).size();
    EXPECT_LT(ksr3 * 2, ksr2) << ksr3 << " vs " << ksr2;
    EXPECT_LT(static_cast<double>(ksr3) / static_cast<double>(ws.size()), 6.5);
  }
}

TEST(RollupTest, FileRoundTripAndCorruption) {
  RollupBuilder b(300000);
  for (int i = 0; i < 100; ++i) b.Add(i * 15000, i);
  const std::vector<RollupWindow> ws = b.Finish();
  EXPECT_EQ(ws.size(), 5u);
  std::string file = EncodeRollupFile(300000, {EncodeRollupSeries(ws), ""});
  auto t = RollupTable::Decode(file, 2);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->version(), 3);
  std::vector<Sample> count;
  ASSERT_TRUE(t->Points(0, RollupAgg::kCount, &count).ok());
  ASSERT_EQ(count.size(), 5u);
  EXPECT_EQ(count[0].v, 20);
  ChunkEncoding e;
  EXPECT_TRUE(t->ChunkFor(1, RollupAgg::kMax, &e).empty());
  EXPECT_FALSE(RollupTable::Decode(file, 3).ok());
  file[10] ^= 1;
  EXPECT_EQ(RollupTable::Decode(file, 2).status().code(), Status::Code::kCorruption);
}

TEST(RollupTest, DamagedRecordsAreCorruption) {
  std::vector<Sample> raw;
  for (int64_t t = 0; t < 3 * 3600000; t += 15000) raw.push_back({t, static_cast<double>(t % 977)});
  raw.push_back({raw.back().t + 1, StaleNaN()});
  const std::string rec = EncodeRollupSeries(Build(raw, 300000));
  ASSERT_FALSE(rec.empty());
  // Every truncation and every single-byte change either decodes or is Corruption; truncations
  // never decode to the full series.
  for (size_t cut = 0; cut < rec.size(); ++cut) {
    for (int a = 0; a < kNumRollupAggs; ++a) {
      std::vector<Sample> out;
      const Status st =
          DecodeRollupChunk(rec.substr(0, cut), static_cast<ChunkEncoding>(0x80 + a), &out);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Status::Code::kCorruption);
        EXPECT_TRUE(out.empty());
      }
    }
  }
  for (size_t i = 0; i < rec.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = rec;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      std::vector<Sample> out;
      const Status st = DecodeRollupChunk(bad, ChunkEncoding::kRollupSum, &out);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Status::Code::kCorruption);
      }
      for (size_t j = 1; j < out.size(); ++j) EXPECT_LT(out[j - 1].t, out[j].t);
    }
  }
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
