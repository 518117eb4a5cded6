#include "tsdb/chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tsdb/bitpack.h"

namespace kansoku::tsdb {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

std::vector<Sample> Decode(std::string_view bytes, Status* st = nullptr) {
  std::vector<Sample> out;
  ChunkIterator it(bytes);
  while (it.Next()) out.push_back(it.At());
  if (st != nullptr) *st = it.status();
  return out;
}

void ExpectRoundTrip(const std::vector<Sample>& in) {
  XorChunk c;
  for (const auto& s : in) c.Append(s.t, s.v);
  ASSERT_EQ(c.NumSamples(), in.size());
  Status st;
  auto out = Decode(c.Bytes(), &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].t, in[i].t) << i;
    EXPECT_EQ(Bits(out[i].v), Bits(in[i].v)) << i;
  }
  std::vector<Sample> bulk{{1, 2}};  // appended after what is there
  ASSERT_TRUE(DecodeXorChunk(c.Bytes(), &bulk).ok());
  ASSERT_EQ(bulk.size(), in.size() + 1);
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(bulk[i + 1].t, in[i].t) << i;
    EXPECT_EQ(Bits(bulk[i + 1].v), Bits(in[i].v)) << i;
  }
}

struct Case {
  const char* name;
  std::vector<Sample> (*gen)();
};

std::vector<Sample> Regular() {
  std::vector<Sample> s;
  s.reserve(120);
  for (int i = 0; i < 120; ++i) s.push_back({1700000000000 + i * 15000, 1.0 * i});
  return s;
}
std::vector<Sample> Jittered() {
  std::mt19937_64 rng(1);
  std::vector<Sample> s;
  int64_t t = 1700000000000;
  double v = 100;
  for (int i = 0; i < 500; ++i) {
    t += 15000 + static_cast<int64_t>(rng() % 201) - 100;
    v += static_cast<double>(rng() % 1000) / 7.0;
    s.push_back({t, v});
  }
  return s;
}
std::vector<Sample> WildTimes() {
  // Exercises every delta-of-delta bucket, negative times and huge jumps.
  std::vector<int64_t> ts = {-5000,
                             -4999,
                             0,
                             1,
                             200,
                             5000,
                             600000,
                             600001,
                             10000000000,
                             10000000001,
                             9000000000000000,
                             9000000000000001};
  std::vector<Sample> s;
  for (size_t i = 0; i < ts.size(); ++i) s.push_back({ts[i], static_cast<double>(i)});
  return s;
}
std::vector<Sample> SpecialValues() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> vs = {0.0,        -0.0,         inf,
                            -inf,       std::nan(""), StaleNaN(),
                            1e-300,     -1e300,       StaleNaN(),
                            StaleNaN(), 42.0,         std::numeric_limits<double>::denorm_min()};
  std::vector<Sample> s;
  for (size_t i = 0; i < vs.size(); ++i) s.push_back({static_cast<int64_t>(i) * 1000, vs[i]});
  return s;
}
std::vector<Sample> RandomBits() {
  std::mt19937_64 rng(7);
  std::vector<Sample> s;
  for (int i = 0; i < 300; ++i) {
    uint64_t b = rng();
    double v;
    std::memcpy(&v, &b, sizeof v);
    s.push_back({i * 10 + static_cast<int64_t>(rng() % 5), v});
  }
  return s;
}
std::vector<Sample> Single() { return {{123456, 3.5}}; }
std::vector<Sample> Constant() {
  std::vector<Sample> s;
  s.reserve(1000);
  for (int i = 0; i < 1000; ++i) s.push_back({i * 60000, 1.0});
  return s;
}

// Every data set above, for the tests that run them all.
const Case kAllCases[] = {{"regular", Regular},        {"jittered", Jittered},
                          {"wild_times", WildTimes},   {"special_values", SpecialValues},
                          {"random_bits", RandomBits}, {"single", Single},
                          {"constant", Constant}};

TEST(ChunkTest, RoundTripTable) {
  for (const auto& c : kAllCases) {
    SCOPED_TRACE(c.name);
    ExpectRoundTrip(c.gen());
  }
}

// Values whose XOR with the previous one has 30..62 meaningful bits at every shift, after
// timestamps of each delta-of-delta size: the bulk decoder reads a sample from one 64-bit word
// when its bits fit in the 57 the word surely holds, so this crosses that edge at every bit
// offset, in a reused window ("10") and in a new one ("11").
TEST(ChunkTest, RoundTripValuesAroundTheWordBoundary) {
  std::mt19937_64 rng(11);
  std::vector<Sample> s;
  uint64_t bits = 0x4059000000000000ULL;
  int64_t t = 1'700'000'000'000;
  const int64_t dods[] = {0, 0, 0, 3, -100, 4000, -200000};
  int64_t delta = 15000;
  for (int i = 0; i < 4000; ++i) {
    const int len = 30 + static_cast<int>(rng() % 33);
    const int shift = static_cast<int>(rng() % static_cast<uint64_t>(65 - len));
    const uint64_t mask = ((1ULL << len) - 1) << shift;
    uint64_t x = rng() & mask;
    x |= 1ULL << shift;              // lowest meaningful bit set
    x |= 1ULL << (shift + len - 1);  // highest meaningful bit set
    bits ^= x;
    delta += dods[rng() % 7];
    if (delta < 1000) delta += 400000;  // timestamps keep increasing
    t += delta;
    double v;
    std::memcpy(&v, &bits, sizeof v);
    s.push_back({t, v});
    if (rng() % 3 == 0) {  // the same window again
      uint64_t y = (rng() & mask) | (1ULL << shift) | (1ULL << (shift + len - 1));
      bits ^= y;
      t += delta;
      std::memcpy(&v, &bits, sizeof v);
      s.push_back({t, v});
    }
  }
  ExpectRoundTrip(s);
}

// XorChunkSize counts what XorChunk writes: equal sizes on every kind of input and every
// prefix, and past a limit it answers limit + 1 exactly when the chunk is larger than the limit.
TEST(ChunkTest, XorChunkSizeMatchesTheEncoder) {
  for (const auto& c : kAllCases) {
    SCOPED_TRACE(c.name);
    const std::vector<Sample> in = c.gen();
    XorChunk x;
    EXPECT_EQ(XorChunkSize(in.data(), 0), x.SizeBytes());
    for (size_t n = 1; n <= in.size() && n <= 600; ++n) {
      x.Append(in[n - 1].t, in[n - 1].v);
      const size_t size = x.SizeBytes();
      ASSERT_EQ(XorChunkSize(in.data(), n), size) << n;
      for (size_t limit : {size_t{0}, size_t{2}, size - 1, size, size + 1, size / 2}) {
        const size_t got = XorChunkSize(in.data(), n, limit);
        if (size > limit) {
          ASSERT_EQ(got, limit + 1) << n << " " << limit;
        } else {
          ASSERT_EQ(got, size) << n << " " << limit;
        }
      }
    }
  }
}

TEST(ChunkTest, StaleNaNBitPatternPreserved) {
  XorChunk c;
  c.Append(1000, 1.0);
  c.Append(2000, StaleNaN());
  c.Append(3000, std::nan(""));
  auto out = Decode(c.Bytes());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(IsStaleNaN(out[1].v));
  EXPECT_FALSE(IsStaleNaN(out[2].v));
  EXPECT_TRUE(std::isnan(out[2].v));
}

TEST(ChunkTest, ConstantSeriesIsSmall) {
  XorChunk c;
  for (int i = 0; i < 120; ++i) c.Append(i * 15000, 5.0);
  // Header + first sample (~12 bytes) + 2 bits per further sample.
  EXPECT_LT(c.SizeBytes(), 50u);
}

TEST(ChunkTest, Seek) {
  XorChunk c;
  for (int i = 0; i < 100; ++i) c.Append(i * 10, i);
  ChunkIterator it(c.Bytes());
  ASSERT_TRUE(it.Seek(55));
  EXPECT_EQ(it.At().t, 60);
  ASSERT_TRUE(it.Seek(20));  // already past: stays
  EXPECT_EQ(it.At().t, 60);
  ASSERT_TRUE(it.Next());
  EXPECT_EQ(it.At().t, 70);
  EXPECT_FALSE(it.Seek(1000));
  EXPECT_TRUE(it.status().ok());
}

TEST(ChunkTest, TruncatedBytesReportCorruption) {
  auto in = Jittered();
  XorChunk c;
  for (const auto& s : in) c.Append(s.t, s.v);
  std::string bytes(c.Bytes());
  for (size_t cut : {size_t{1}, size_t{5}, bytes.size() / 2, bytes.size() - 3}) {
    Status st;
    auto out = Decode(std::string_view(bytes).substr(0, cut), &st);
    EXPECT_FALSE(st.ok()) << cut;
    EXPECT_EQ(st.code(), Status::Code::kCorruption);
    EXPECT_LT(out.size(), in.size());
  }
}

// The bulk decoder agrees with the iterator on every prefix and on garbled bytes: same samples
// when the iterator decodes them all, Corruption (and *out unchanged) when it reports one.
TEST(ChunkTest, BulkDecodeMatchesIteratorOnDamagedBytes) {
  const Case cases[] = {{"jittered", Jittered},
                        {"wild_times", WildTimes},
                        {"special_values", SpecialValues},
                        {"random_bits", RandomBits}};
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  for (const auto& cs : cases) {
    SCOPED_TRACE(cs.name);
    XorChunk c;
    for (const auto& s : cs.gen()) c.Append(s.t, s.v);
    const std::string whole(c.Bytes());
    std::vector<std::string> inputs;
    for (size_t cut = 0; cut <= whole.size(); cut += 1 + cut / 16)
      inputs.push_back(whole.substr(0, cut));
    for (int k = 0; k < 200; ++k) {
      std::string g = whole;
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      g[2 + (rng >> 33) % (g.size() - 2)] ^= static_cast<char>(1 + (rng >> 20) % 255);
      inputs.push_back(std::move(g));
    }
    for (const auto& in : inputs) {
      Status st;
      const auto want = Decode(in, &st);
      std::vector<Sample> got{{7, 7}};
      const Status bst = DecodeXorChunk(in, &got);
      ASSERT_EQ(bst.ok(), st.ok()) << in.size();
      if (!st.ok()) {
        EXPECT_EQ(bst.code(), Status::Code::kCorruption);
        ASSERT_EQ(got.size(), 1u);
        continue;
      }
      ASSERT_EQ(got.size(), want.size() + 1);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i + 1].t, want[i].t) << i;
        ASSERT_EQ(Bits(got[i + 1].v), Bits(want[i].v)) << i;
      }
    }
  }
}

TEST(ChunkTest, SnapshotOfGrowingChunkDecodesPrefix) {
  // The head copies a chunk's bytes while it keeps growing: the copy must decode on its own.
  XorChunk c;
  for (int i = 0; i < 10; ++i) c.Append(i * 1000, i * 1.5);
  std::string snap(c.Bytes());
  for (int i = 10; i < 20; ++i) c.Append(i * 1000, i * 1.5);
  auto out = Decode(snap);
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(out[9].t, 9000);
}

// Packed encoding (encoding 2).

void ExpectPackedRoundTrip(const std::vector<Sample>& in, bool expect_packed) {
  std::string bytes;
  const bool ok = EncodePackedChunk(in.data(), in.size(), &bytes);
  ASSERT_EQ(ok, expect_packed);
  // EncodeChunk picks one of the two; both decode to the input bit for bit.
  std::string best;
  const ChunkEncoding e = EncodeChunk(in.data(), in.size(), &best);
  std::vector<std::string_view> all = {best};
  std::vector<ChunkEncoding> encs = {e};
  if (ok) {
    all.push_back(bytes);
    encs.push_back(ChunkEncoding::kPacked);
  }
  for (size_t k = 0; k < all.size(); ++k) {
    ChunkIterator it(all[k], encs[k]);
    std::vector<Sample> out;
    while (it.Next()) out.push_back(it.At());
    ASSERT_TRUE(it.status().ok()) << it.status().ToString();
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      EXPECT_EQ(out[i].t, in[i].t) << i;
      EXPECT_EQ(Bits(out[i].v), Bits(in[i].v)) << i << " " << in[i].v << " " << out[i].v;
    }
  }
}

std::vector<Sample> Decimals(int digits, double scale, uint64_t seed, bool counter) {
  std::mt19937_64 rng(seed);
  std::vector<Sample> s;
  double v = std::round(scale * 1000) / 1000;
  const double p = std::pow(10, digits);
  for (int i = 0; i < 480; ++i) {
    const double step = scale * (static_cast<double>(rng() % 1000) / 1000.0 - (counter ? 0 : 0.5));
    v = std::round((v + step) * p) / p;
    s.push_back({1700000000000 + i * 15000, v});
  }
  return s;
}

TEST(PackedChunkTest, RoundTripsDecimalsBitForBit) {
  ExpectPackedRoundTrip(Decimals(2, 10, 1, true), true);      // cpu seconds
  ExpectPackedRoundTrip(Decimals(3, 0.5, 2, true), true);     // io time
  ExpectPackedRoundTrip(Decimals(0, 3e8, 3, true), true);     // byte counters
  ExpectPackedRoundTrip(Decimals(2, 2, 4, false), true);      // load, negative steps
  ExpectPackedRoundTrip(Decimals(6, 1e-3, 5, false), true);   // small values, 6 digits
  ExpectPackedRoundTrip(Decimals(0, -1e15, 6, false), true);  // big mantissas
  ExpectPackedRoundTrip(Regular(), true);
  ExpectPackedRoundTrip(Constant(), true);
  ExpectPackedRoundTrip(Single(), true);
  ExpectPackedRoundTrip(Jittered(), false);  // v += k/7: not decimal
  ExpectPackedRoundTrip(WildTimes(), true);
  ExpectPackedRoundTrip({{0, 1}, {1, 1}, {9000000000000000, 1}, {9000000000000001, 1}}, true);
  // Mostly-zero residuals with some small and rare large ones (the tier kind with a one-bit
  // zero code), in times and in values: a steady counter, now and then a little faster or a
  // jump, scraped with some jitter and a rare missed scrape.
  {
    std::vector<Sample> steady;
    double v = 100;
    int64_t t = 1700000000000;
    for (int i = 0; i < 480; ++i) {
      t += 15000 + (i % 7 == 0 ? 2 : 0) - (i % 7 == 1 ? 2 : 0) + (i % 97 == 0 ? 15000 : 0);
      v += i % 53 == 0 ? 777 : (i % 5 == 0 ? 6 : 5);
      steady.push_back({t, v});
    }
    ExpectPackedRoundTrip(steady, true);
  }
  // Differences in units of g = 7 (a multiplication per sample) and of g = 1, both orders:
  // jumpy steps (order 1) and steady ones with a small wobble (order 2).
  for (const double unit : {7.0, 1.0}) {
    std::vector<Sample> jumpy, steady;
    double a = 1000, b = 1000;
    for (int i = 0; i < 300; ++i) {
      a += unit * static_cast<double>((i * 7919) % 97);
      b += unit * (40 + (i % 3));
      jumpy.push_back({1700000000000 + i * 15000, a});
      steady.push_back({1700000000000 + i * 15000, b});
    }
    ExpectPackedRoundTrip(jumpy, true);
    ExpectPackedRoundTrip(steady, true);
  }
  // A delta-of-delta wider than the bit reader's 57 bits: XOR only.
  ExpectPackedRoundTrip({{0, 1}, {1, 1}, {int64_t{1} << 60, 1}}, false);
}

// Where a packed chunk with regular times has its header's value order byte.
size_t PackedOrderAt(std::string_view b) {
  size_t p = 2;
  auto skip_varint = [&] {
    while (p < b.size() && (static_cast<uint8_t>(b[p]) & 0x80) != 0) ++p;
    ++p;
  };
  skip_varint();  // t0
  skip_varint();  // d1
  EXPECT_EQ(b[p++], 0) << "times not regular";
  EXPECT_EQ(b[p++], 1) << "values not decimal";
  ++p;            // e
  skip_varint();  // m0
  return p;
}
int PackedValueOrder(std::string_view b) { return static_cast<uint8_t>(b[PackedOrderAt(b)]); }

// Steady increments with noise (counters): first differences less their mean (order 3), for
// rising and falling series, in units of g = 1 and g = 4, with decimals; exact round trip and
// smaller than the orders 1 and 2 would be (their residuals' bits, from the same tiers).
TEST(PackedChunkTest, SteadyIncrementsWithNoiseUseTheCentredOrder) {
  for (const int64_t unit : {1, 4}) {
    for (const int sign : {1, -1}) {
      for (const int digits : {0, 2}) {
        std::mt19937_64 rng(unit * 10 + sign + digits);
        std::vector<Sample> in;
        int64_t m = 1000000;
        const double p = std::pow(10, digits);
        for (int i = 0; i < 480; ++i) {
          in.push_back({1700000000000 + i * 15000, static_cast<double>(m) / p});
          m += sign * unit * (1000 + static_cast<int64_t>(rng() % 301) - 150);
        }
        std::string bytes;
        ASSERT_TRUE(EncodePackedChunk(in.data(), in.size(), &bytes));
        EXPECT_EQ(PackedValueOrder(bytes), 3) << unit << " " << sign << " " << digits;
        ExpectPackedRoundTrip(in, true);
        // About 9.3 bits a sample for the noise (301 values) instead of ~10.3 (order 2's
        // doubled variance) or ~12 (order 1's offset steps).
        EXPECT_LT(bytes.size(), 480 * 9.9 / 8) << unit << " " << sign << " " << digits;
        std::vector<Sample> out;
        SampleFacts facts;
        ASSERT_TRUE(DecodePackedChunk(bytes, &out, &facts).ok());
        EXPECT_EQ(facts.no_decrease, sign > 0);
      }
    }
  }
  // Steps of the same size (order 2's zero residuals) and steps around 0 (order 1) keep theirs.
  std::vector<Sample> same, walk;
  std::mt19937_64 rng(5);
  double w = 0;
  for (int i = 0; i < 300; ++i) {
    same.push_back({1700000000000 + i * 15000, 1000.0 + 5 * i});
    walk.push_back({1700000000000 + i * 15000, w});
    w += static_cast<double>(static_cast<int>(rng() % 101) - 50);
  }
  std::string bytes;
  ASSERT_TRUE(EncodePackedChunk(same.data(), same.size(), &bytes));
  EXPECT_EQ(PackedValueOrder(bytes), 2);
  ASSERT_TRUE(EncodePackedChunk(walk.data(), walk.size(), &bytes));
  EXPECT_EQ(PackedValueOrder(bytes), 1);
  // No order 4.
  bytes[PackedOrderAt(bytes)] = 4;
  std::vector<Sample> out;
  EXPECT_EQ(DecodePackedChunk(bytes, &out, nullptr).code(), Status::Code::kCorruption);
}

// DecodePackedChunk's facts (no NaN, no value below its predecessor) agree with a look at each
// decoded sample, for both value orders, decreases at every position that is special to the
// decoder (the second sample: order 2's first difference; the last) and constant chunks.
TEST(PackedChunkTest, DecodeReportsNaNsAndDecreases) {
  std::vector<std::vector<Sample>> inputs = {
      Decimals(2, 10, 1, true),
      Decimals(3, 0.5, 2, true),
      Decimals(0, 3e8, 3, true),
      Decimals(2, 2, 4, false),
      Regular(),
      Constant(),
      Single(),
      WildTimes(),
  };
  // A steady counter (order 2 suits it) and a jumpy one (order 1), each with one drop at the
  // second, a middle and the last sample.
  for (const bool steady : {true, false}) {
    for (const size_t drop : {size_t{1}, size_t{77}, size_t{239}}) {
      std::vector<Sample> c;
      double v = 1000;
      for (size_t i = 0; i < 240; ++i) {
        v += steady ? 5 : static_cast<double>((i * 7919) % 300);
        c.push_back({1700000000000 + static_cast<int64_t>(i) * 15000, i == drop ? 3.0 : v});
      }
      inputs.push_back(c);
    }
  }
  // A noisy steady counter (order 3) with one drop, as above.
  for (const size_t drop : {size_t{1}, size_t{77}, size_t{239}}) {
    std::vector<Sample> c;
    double v = 1000;
    for (size_t i = 0; i < 240; ++i) {
      v += static_cast<double>(900 + (i * 7919) % 200);
      c.push_back({1700000000000 + static_cast<int64_t>(i) * 15000, i == drop ? 3.0 : v});
    }
    inputs.push_back(c);
  }
  std::vector<Sample> nan_const = Constant();
  for (Sample& x : nan_const) x.v = StaleNaN();
  inputs.push_back(nan_const);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::vector<Sample>& in = inputs[k];
    std::string bytes;
    ASSERT_TRUE(EncodePackedChunk(in.data(), in.size(), &bytes)) << k;
    std::vector<Sample> out;
    SampleFacts facts{.no_nan = false, .no_decrease = false};
    ASSERT_TRUE(DecodePackedChunk(bytes, &out, &facts).ok()) << k;
    ASSERT_EQ(out.size(), in.size()) << k;
    bool nan = false, decrease = false;
    for (size_t i = 0; i < out.size(); ++i) {
      nan |= std::isnan(out[i].v);
      if (i > 0) decrease |= out[i].v < out[i - 1].v;
    }
    EXPECT_EQ(facts.no_nan, !nan) << k;
    EXPECT_EQ(facts.no_decrease, !decrease) << k;
    // The interval: the one step between times when there is one (the encoder then writes
    // them as regular), else 0.
    int64_t step = out.size() >= 2 ? out[1].t - out[0].t : 0;
    for (size_t i = 1; i < out.size(); ++i) {
      if (out[i].t - out[i - 1].t != step) step = 0;
    }
    EXPECT_EQ(facts.interval, step) << k;
  }
}

// The encoder takes every mantissa at the final exponent: values exact at a smaller one
// (before the exponent grew, and after it) as well as the value that made it grow.
TEST(PackedChunkTest, ExponentGrowingAfterTheFirstValue) {
  const auto at = [](std::vector<double> vs) {
    std::vector<Sample> s;
    for (size_t i = 0; i < vs.size(); ++i) s.push_back({1700000000000 + int64_t(i) * 15000, vs[i]});
    return s;
  };
  ExpectPackedRoundTrip(at({1, 2, 2.5, 3.25, 4, 5}), true);          // e 0 -> 1 -> 2
  ExpectPackedRoundTrip(at({7, 8, 9, 10, 11, 11.001}), true);        // grows at the last value
  ExpectPackedRoundTrip(at({1.25, 2, 3, 4.5, 6, 7}), true);          // the first value's is final
  ExpectPackedRoundTrip(at({-3, -2.5, -2.25, -2.125, 0, 1}), true);  // negative, e up to 3
}

// A chunk the encoder gives up on leaves *out empty, whatever it held.
TEST(PackedChunkTest, FailureLeavesTheOutputEmpty) {
  for (const std::vector<Sample>& in : {RandomBits(), SpecialValues()}) {
    std::string out = "left over from an earlier chunk";
    EXPECT_FALSE(EncodePackedChunk(in.data(), in.size(), &out));
    EXPECT_TRUE(out.empty());
  }
}

// RoundHalfAway (DecimalAt's rounding) agrees with std::llround everywhere below 2^53,
// halfway cases and the neighbours of integers and half-integers included.
TEST(BitpackTest, RoundHalfAwayIsLlround) {
  std::vector<double> xs = {0.0,
                            0.5,
                            -0.5,
                            1.5,
                            -1.5,
                            2.5,
                            -2.5,
                            0.49999999999999994,
                            -0.49999999999999994,
                            4503599627370495.5,
                            -4503599627370495.5,
                            4503599627370497.0,
                            9007199254740991.0,
                            -9007199254740991.0,
                            2251799813685247.75,
                            1e15 + 0.5};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const double base = static_cast<double>(static_cast<int64_t>(rng() % (uint64_t{1} << 52))) *
                        (i % 2 == 0 ? 1 : -1) / std::pow(10.0, static_cast<int>(rng() % 16));
    for (double x :
         {base, base + 0.5, std::nextafter(base + 0.5, 0.0), std::nextafter(base + 0.5, 1e300)}) {
      if (std::fabs(x) < 9007199254740992.0) xs.push_back(x);
    }
  }
  for (double x : xs) ASSERT_EQ(bitpack::RoundHalfAway(x), std::llround(x)) << x;
}

// BitWriter::Write puts the low n bits of each value (n = 0..64) MSB first, across word
// boundaries, as a bit-by-bit writer would; Code writes prefix and payload as separate writes
// would.
TEST(BitpackTest, WriterMatchesBitByBit) {
  std::mt19937_64 rng(11);
  std::string got;
  std::vector<bool> want;
  bitpack::BitWriter w(&got);
  const bitpack::Tiers t0{0, 5, 40, 0}, t1{1, 3, 57, 0};
  const auto put = [&](uint64_t v, int n) {
    for (int b = n - 1; b >= 0; --b) want.push_back(((v >> b) & 1) != 0);
  };
  for (int i = 0; i < 5000; ++i) {
    const uint64_t v = rng();
    switch (rng() % 3) {
      case 0: {
        const int n = static_cast<int>(rng() % 65);
        w.Write(v, n);  // bits above n are ignored
        put(v, n);
        break;
      }
      case 1:
      case 2: {
        const bitpack::Tiers& t = rng() % 2 == 0 ? t0 : t1;
        const uint64_t u = v >> (rng() % 64);
        const uint64_t code = bitpack::Width(u) <= t.w1 || (t.kind == 1 && u == 0)
                                  ? u
                                  : u & ((uint64_t{1} << t.w2) - 1);
        w.Code(t, code);
        if (t.kind == 1 && code == 0) {
          put(0, 1);
        } else if (bitpack::Width(code) <= t.w1) {
          put(t.kind == 0 ? 0 : 2, t.kind == 0 ? 1 : 2), put(code, t.w1);
        } else {
          put(t.kind == 0 ? 1 : 3, t.kind == 0 ? 1 : 2), put(code, t.w2);
        }
        break;
      }
    }
  }
  w.Finish();
  ASSERT_EQ(got.size(), (want.size() + 7) / 8);
  for (size_t b = 0; b < want.size(); ++b) {
    ASSERT_EQ(((static_cast<uint8_t>(got[b / 8]) >> (7 - b % 8)) & 1) != 0, want[b]) << b;
  }
  for (size_t b = want.size(); b < got.size() * 8; ++b) {
    ASSERT_EQ((static_cast<uint8_t>(got[b / 8]) >> (7 - b % 8)) & 1, 0) << "padding " << b;
  }
}

TEST(PackedChunkTest, NonDecimalValuesFallBackToXor) {
  ExpectPackedRoundTrip(SpecialValues(), false);
  ExpectPackedRoundTrip(RandomBits(), false);
  std::vector<Sample> with_stale = Decimals(2, 10, 9, true);
  with_stale[100].v = StaleNaN();
  ExpectPackedRoundTrip(with_stale, false);
  ExpectPackedRoundTrip({{0, 0.0}, {1, -0.0}}, false);  // -0 is not 0/10^e
  ExpectPackedRoundTrip({{0, 9223372036854775807.0}, {1, 9223372036854775807.0}}, true);
  ExpectPackedRoundTrip({{0, 9007199254740994.0}, {1, 9007199254740996.0}}, false);
}

TEST(PackedChunkTest, SmallerThanXorOnTypicalSeries) {
  struct C {
    const char* name;
    std::vector<Sample> in;
    double max_bytes_per_sample;
  };
  // Page-sized gauge: the common divisor takes 12 bits off every delta.
  std::vector<Sample> pages;
  std::mt19937_64 rng(3);
  double v = 4096.0 * 1000000;
  for (int i = 0; i < 480; ++i) {
    v += 4096.0 * static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
    pages.push_back({i * 15000, v});
  }
  const C cases[] = {{"cpu", Decimals(2, 10, 1, true), 1.6},
                     {"pages", pages, 1.7},
                     {"constant", Constant(), 0.05},
                     {"regular", Regular(), 0.35}};
  for (const auto& c : cases) {
    std::string packed;
    ASSERT_TRUE(EncodePackedChunk(c.in.data(), c.in.size(), &packed)) << c.name;
    XorChunk x;
    for (const auto& s : c.in) x.Append(s.t, s.v);
    const double per = static_cast<double>(packed.size()) / static_cast<double>(c.in.size());
    EXPECT_LT(per, c.max_bytes_per_sample) << c.name;
    EXPECT_LT(packed.size(), x.SizeBytes()) << c.name;
  }
}

TEST(PackedChunkTest, TruncatedOrGarbledBytesReportCorruption) {
  auto in = Decimals(2, 10, 1, true);
  in[7].t += 3;  // irregular timestamps: both bit sections in use
  std::string bytes;
  ASSERT_TRUE(EncodePackedChunk(in.data(), in.size(), &bytes));
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    ChunkIterator it(std::string_view(bytes).substr(0, cut), ChunkEncoding::kPacked);
    size_t n = 0;
    while (it.Next()) ++n;
    EXPECT_EQ(it.status().code(), Status::Code::kCorruption) << cut;
    EXPECT_EQ(n, 0u);
  }
  // Cut within the last 9 bytes, where codes are read from the zero-padded tail: the final
  // byte always holds a code's bit, so every cut loses one.
  for (const auto& seq : {in, Regular(), Decimals(3, 1000, 7, false)}) {
    std::string b;
    ASSERT_TRUE(EncodePackedChunk(seq.data(), seq.size(), &b));
    for (size_t cut = b.size() - 9; cut < b.size(); ++cut) {
      std::vector<Sample> out;
      EXPECT_EQ(DecodePackedChunk(std::string_view(b).substr(0, cut), &out).code(),
                Status::Code::kCorruption)
          << cut << " of " << b.size();
      EXPECT_TRUE(out.empty());
    }
    std::vector<Sample> whole;
    ASSERT_TRUE(DecodePackedChunk(b, &whole).ok());
    ASSERT_EQ(whole.size(), seq.size());
    for (size_t i = 0; i < seq.size(); ++i) {
      EXPECT_EQ(whole[i].t, seq[i].t);
      EXPECT_EQ(std::bit_cast<uint64_t>(whole[i].v), std::bit_cast<uint64_t>(seq[i].v));
    }
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {  // must not crash or trip sanitizers
    std::string g = bytes;
    g[rng() % g.size()] = static_cast<char>(rng());
    std::vector<Sample> out;
    (void)DecodePackedChunk(g, &out);
  }
  ChunkIterator unknown(bytes, static_cast<ChunkEncoding>(9));
  EXPECT_FALSE(unknown.Next());
  EXPECT_EQ(unknown.status().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace kansoku::tsdb
