#include "base/flat_map64.h"

#include <gtest/gtest.h>

#include <unordered_map>

namespace kansoku {
namespace {

TEST(FlatMap64Test, InsertFindClear) {
  FlatMap64 m;
  EXPECT_EQ(m.Find(1), nullptr);
  EXPECT_EQ(m.Insert(7, 70), 70u);
  EXPECT_EQ(m.Insert(7, 71), 70u);  // an existing key keeps its value
  ASSERT_NE(m.Find(7), nullptr);
  EXPECT_EQ(*m.Find(7), 70u);
  EXPECT_EQ(m.Find(8), nullptr);
  m.Clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Find(7), nullptr);
}

TEST(FlatMap64Test, MatchesUnorderedMapThroughGrowth) {
  FlatMap64 m;
  std::unordered_map<uint64_t, uint32_t> ref;
  uint64_t x = 88172645463325252ULL;
  for (uint32_t i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Small keys (dense ids) and large ones (hashes) both.
    const uint64_t key = (i % 2 == 0) ? (i / 2) + 1 : (x | 1);
    m.Insert(key, i);
    ref.emplace(key, i);
  }
  EXPECT_EQ(m.size(), ref.size());
  for (const auto& [k, v] : ref) {
    const uint32_t* got = m.Find(k);
    ASSERT_NE(got, nullptr) << k;
    EXPECT_EQ(*got, v);
  }
  EXPECT_EQ(m.Find(0xdeadbeefdeadbeeeULL), nullptr);
}

}  // namespace
}  // namespace kansoku
