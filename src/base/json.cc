#include "base/json.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace kansoku {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// 0: copied as is; 1: needs an escape; 2: first byte of a multi-byte sequence (or invalid).
constexpr uint8_t Class(unsigned char c) {
  if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) return 1;
  if (c >= 0x80) return 2;
  return 0;
}

// Length of the well-formed UTF-8 sequence starting at s[0] (s[0] >= 0x80), or 0 if none.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;  // no overlongs
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;       // no surrogates
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;  // no overlongs
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;  // <= U+10FFFF
  return 0;
}

#ifdef __SSE2__
// Bit k set when byte k of the 16 at s is not of class 0 (a control byte, '"', '\\', DEL, or a
// byte >= 0x80, which is negative as a signed byte).
inline unsigned SpecialBytes16(const unsigned char* s) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i special = _mm_or_si128(
      _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
  return static_cast<unsigned>(_mm_movemask_epi8(special));
}
#endif

}  // namespace

bool JsonPlain(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
#ifdef __SSE2__
  for (; i + 16 <= n; i += 16) {
    if (SpecialBytes16(p + i) != 0) return false;
  }
#endif
  // The tail (most label names and values are all tail): one table lookup a byte, no branch
  // (a copy into a 16-byte block cost a memcpy call).
  static constexpr auto kSpecial = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c)
      t[static_cast<size_t>(c)] = Class(static_cast<unsigned char>(c)) != 0;
    return t;
  }();
  uint8_t special = 0;
  for (; i < n; ++i) special |= kSpecial[p[i]];
  return special == 0;
}

void AppendJsonEscaped(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t run = 0;  // start of the pending run of bytes copied unchanged
  size_t i = 0;
  while (i < n) {
#ifdef __SSE2__
    // Bytes copied as they are are skipped 16 at a time; a shorter rest is checked in a copy
    // (label names and values are mostly shorter than 16 bytes and need no escape at all).
    unsigned special;
    if (n - i >= 16) {
      special = SpecialBytes16(p + i);
    } else {
      unsigned char rest[16] = {};
      std::memcpy(rest, p + i, n - i);
      special = SpecialBytes16(rest) & ((1u << (n - i)) - 1);
    }
    if (special == 0) {
      i = std::min(i + 16, n);
      continue;
    }
    i += static_cast<size_t>(__builtin_ctz(special));
#endif
    unsigned char c = p[i];
    uint8_t cls = Class(c);
    if (cls == 0) {
      ++i;
      continue;
    }
    if (cls == 2) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    if (cls == 2) {
      out += kReplacement;
    } else {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default: {
          char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, sizeof esc);
        }
      }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, n - run);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

}  // namespace kansoku
