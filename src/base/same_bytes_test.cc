#include "base/same_bytes.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace kansoku
