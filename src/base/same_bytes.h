#pragma once
// Inline equality and order of byte strings for hot loops. Thread safety: plain functions.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kansoku {

// a == b without a call for short strings: up to 16 bytes are compared as two overlapping
// 8-byte (or 4-byte) words, read within both strings. For callers that compare equal strings
// almost every time: the logs block writer (tokens, field names; the byte loop and memcmp calls
// this replaced were ~10 % of a flush) and the merge of label lists from many tsdb blocks.
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 16) return std::memcmp(p, q, n) == 0;
    uint64_t x0, y0, x1, y1;
    std::memcpy(&x0, p, 8);
    std::memcpy(&y0, q, 8);
    std::memcpy(&x1, p + n - 8, 8);
    std::memcpy(&y1, q + n - 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  if (n >= 4) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, p, 4);
    std::memcpy(&y0, q, 4);
    std::memcpy(&x1, p + n - 4, 4);
    std::memcpy(&y1, q + n - 4, 4);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

// a's order against b's (<0, 0, >0, as std::string_view::compare) for callers that mostly
// compare equal strings (label lists of the same series from several sources): equal ones are
// passed over by SameBytes without a call.
inline int CompareBytes(std::string_view a, std::string_view b) {
  if (SameBytes(a, b)) return 0;
  return a.compare(b);
}

}  // namespace kansoku
