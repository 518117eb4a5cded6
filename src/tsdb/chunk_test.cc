#include "tsdb/chunk.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

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
}

struct Case {
  const char* name;
  std::vector<Sample> (*gen)();
};

std::vector<Sample> Regular() {
  std::vector<Sample> s;
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
  std::vector<int64_t> ts = {-5000, -4999, 0, 1, 200, 5000, 600000, 600001, 10000000000,
                             10000000001, 9000000000000000, 9000000000000001};
  std::vector<Sample> s;
  for (size_t i = 0; i < ts.size(); ++i) s.push_back({ts[i], static_cast<double>(i)});
  return s;
}
std::vector<Sample> SpecialValues() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> vs = {0.0, -0.0, inf, -inf, std::nan(""), StaleNaN(), 1e-300, -1e300,
                            StaleNaN(), StaleNaN(), 42.0, std::numeric_limits<double>::denorm_min()};
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
  for (int i = 0; i < 1000; ++i) s.push_back({i * 60000, 1.0});
  return s;
}

TEST(ChunkTest, RoundTripTable) {
  const Case cases[] = {{"regular", Regular},     {"jittered", Jittered},
                        {"wild_times", WildTimes}, {"special_values", SpecialValues},
                        {"random_bits", RandomBits}, {"single", Single},
                        {"constant", Constant}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRoundTrip(c.gen());
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

}  // namespace
}  // namespace kansoku::tsdb
