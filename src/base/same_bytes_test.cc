#include "base/same_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kansoku {
namespace {

// SameBytes agrees with == for every length up to 40 and a difference at any position, first
// and last bytes included.
TEST(SameBytesTest, IsEquality) {
  std::string a(48, 'x'), b(48, 'x');
  for (size_t n = 0; n <= 40; ++n) {
    for (size_t off = 0; off < 3; ++off) {
      std::string_view x(a.data() + off, n), y(b.data() + 2 - off, n);
      EXPECT_TRUE(SameBytes(x, y)) << n;
      EXPECT_FALSE(SameBytes(x, std::string_view(b.data(), n + 1))) << n;
      for (size_t k = 0; k < n; ++k) {
        b[2 - off + k] = static_cast<char>(0x80 | k);
        EXPECT_FALSE(SameBytes(x, y)) << n << " " << k;
        EXPECT_FALSE(SameBytes(y, x)) << n << " " << k;
        b[2 - off + k] = 'x';
      }
    }
  }
}

// CompareBytes has the sign of std::string_view::compare for every pair of short strings over
// a three-letter alphabet (prefixes, equal strings, bytes >= 0x80 included).
TEST(SameBytesTest, CompareBytesIsTheOrderOfCompare) {
  const char kAlphabet[] = {'a', 'b', static_cast<char>(0xe3)};
  std::vector<std::string> all{""};
  for (size_t i = 0; i < all.size() && all.size() < 400; ++i) {
    if (all[i].size() >= 5) continue;
    for (char c : kAlphabet) all.push_back(all[i] + c);
  }
  const auto sign = [](int v) { return (v > 0) - (v < 0); };
  for (const auto& x : all) {
    for (const auto& y : all) {
      EXPECT_EQ(sign(CompareBytes(x, y)), sign(std::string_view(x).compare(y))) << x << " " << y;
    }
  }
  // Long strings differing only in their last byte, past the 16 bytes SameBytes reads inline.
  const std::string p(30, 'q');
  EXPECT_LT(CompareBytes(p + "a", p + "b"), 0);
  EXPECT_GT(CompareBytes(p + "b", p + "a"), 0);
  EXPECT_EQ(CompareBytes(p + "b", p + "b"), 0);
}

}  // namespace
}  // namespace kansoku
