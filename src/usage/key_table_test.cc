#include "usage/key_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace kansoku::usage {
namespace {

// Random inserts, erases and lookups against std::unordered_map. Keys are drawn from a small
// range (many erases of present keys, long probe runs) and some share their home slot (keys
// that differ only in bits the slot hash drops when the table is small), so backward-shift
// erasure is exercised across wrap-around at the end of the slot array.
TEST(KeyTableTest, MatchesUnorderedMapUnderInsertsAndErases) {
  std::mt19937_64 rng(42);
  KeyTable<uint64_t> t;
  std::unordered_map<uint64_t, uint64_t> ref;
  for (int op = 0; op < 200000; ++op) {
    const uint64_t key = 1 + rng() % 300;
    const int what = static_cast<int>(rng() % 3);
    if (what == 0) {
      if (ref.count(key) == 0) {
        t.Insert(key, key * 7 + static_cast<uint64_t>(op));
        ref[key] = key * 7 + static_cast<uint64_t>(op);
      }
    } else if (what == 1) {
      t.Erase(key);
      ref.erase(key);
    } else {
      uint64_t* v = t.Find(key);
      auto it = ref.find(key);
      ASSERT_EQ(v != nullptr, it != ref.end()) << "op " << op << " key " << key;
      if (v != nullptr) {
        ASSERT_EQ(*v, it->second) << "op " << op;
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  size_t seen = 0;
  t.ForEach([&](uint64_t key, uint64_t& v) {
    ++seen;
    EXPECT_EQ(ref.at(key), v);
  });
  EXPECT_EQ(seen, ref.size());
  // Erasing everything leaves an empty table that still finds nothing and takes new keys.
  for (const auto& [key, v] : ref) t.Erase(key);
  EXPECT_EQ(t.size(), 0u);
  for (uint64_t key = 1; key <= 300; ++key) EXPECT_EQ(t.Find(key), nullptr);
  t.Insert(5, 55);
  EXPECT_EQ(*t.Find(5), 55u);
  const size_t cap = t.capacity();
  t.Clear();
  EXPECT_EQ(t.Find(5), nullptr);
  EXPECT_EQ(t.capacity(), cap);
}

// A value pointer can be written through; absent keys and erasing an absent key are harmless.
TEST(KeyTableTest, FindGivesAWritableValue) {
  struct Counts {
    uint32_t a = 0, b = 0;
  };
  KeyTable<Counts> t;
  EXPECT_EQ(t.Find(1), nullptr);
  t.Erase(1);
  t.Insert(1, Counts{1, 2});
  ++t.Find(1)->b;
  EXPECT_EQ(t.Find(1)->a, 1u);
  EXPECT_EQ(t.Find(1)->b, 3u);
  t.Erase(2);
  EXPECT_EQ(t.size(), 1u);
}

}  // namespace
}  // namespace kansoku::usage
