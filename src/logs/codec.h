#pragma once
// Varint / string helpers for the log WAL and block formats. Readers are bounds-checked and
// return false on truncated input (never read past the end).
// Thread safety: plain functions and small values.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/same_bytes.h"  // SameBytes (block writer, WAL batch builder)
#include "logs/record.h"

namespace kansoku::logs {

inline void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
inline void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
inline void PutU32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian hosts only
  out->append(b, 4);
}
inline void PutKVs(std::string* out, const std::vector<KV>& kvs) {
  PutVarint(out, kvs.size());
  for (const auto& kv : kvs) {
    PutString(out, kv.name);
    PutString(out, kv.value);
  }
}

// Sequential reader over a byte range.
class Decoder {
 public:
  explicit Decoder(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      uint8_t b = static_cast<uint8_t>(*p_++);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool SVarint(int64_t* v) {
    uint64_t u;
    if (!Varint(&u)) return false;
    *v = UnZigZag(u);
    return true;
  }
  bool Bytes(size_t n, std::string_view* s) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *s = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool String(std::string_view* s) {
    uint64_t n;
    return Varint(&n) && Bytes(n, s);
  }
  bool Byte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool KVs(std::vector<KV>* out) {
    uint64_t n;
    if (!Varint(&n) || n > remaining()) return false;
    out->clear();
    out->reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view a, b;
      if (!String(&a) || !String(&b)) return false;
      out->push_back(KV{std::string(a), std::string(b)});
    }
    return true;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace kansoku::logs
