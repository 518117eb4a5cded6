#pragma once
// Little helpers for the tsdb's on-disk formats: varints, fixed-width integers, length-prefixed
// strings, and a bounds-checked Decoder. Thread safety: plain functions and values.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kansoku::tsdb::enc {

inline void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void PutVarint(std::string* out, int64_t v) {
  PutUvarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline void PutU32(std::string* out, uint32_t v) {  // little-endian
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutDouble(std::string* out, double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  PutU64(out, b);
}
inline void PutString(std::string* out, std::string_view s) {
  PutUvarint(out, s.size());
  out->append(s);
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Decoder reads from a byte span; any overrun sets ok() to false and returns zeros from then on.
class Decoder {
 public:
  explicit Decoder(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  uint64_t Uvarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      const auto b = static_cast<unsigned char>(*p_++);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t Varint() {
    const uint64_t u = Uvarint();
    return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  }
  uint8_t U8() {
    if (p_ == end_) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(*p_++);
  }
  uint32_t U32() {
    if (remaining() < 4) return static_cast<uint32_t>(Fail());
    const uint32_t v = GetU32(p_);
    p_ += 4;
    return v;
  }
  uint64_t U64() {
    if (remaining() < 8) return Fail();
    const uint64_t v = GetU64(p_);
    p_ += 8;
    return v;
  }
  double Double() {
    const uint64_t b = U64();
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
  }
  std::string_view Bytes(size_t n) {
    if (remaining() < n) {
      Fail();
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  std::string_view String() { return Bytes(Uvarint()); }

 private:
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace kansoku::tsdb::enc
