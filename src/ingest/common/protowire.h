#pragma once
// Minimal protobuf wire-format reader for the hand-written decoders (remote_write, OTLP).
//
// A ProtoReader walks one message's bytes: Next() reads a tag, then the caller reads the value
// with the matching method or Skip()s it. Every read is bounds-checked; on malformed input the
// reader stops (Next() returns false) and error() says why ("truncated varint at offset 12").
// No allocation: strings and sub-messages are views into the input buffer, which must outlive
// the reader and every view taken from it.
//
// Thread safety: a reader is a small value used by one thread.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kansoku::ingest {

enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

class ProtoReader {
 public:
  explicit ProtoReader(std::string_view buf, size_t base_offset = 0)
      : p_(reinterpret_cast<const uint8_t*>(buf.data())),
        begin_(p_),
        end_(p_ + buf.size()),
        base_(base_offset) {}

  // Reads the next tag. False at the end of the message or on error (check error()).
  bool Next() {
    if (p_ == end_ || failed_) return false;
    uint64_t key;
    if (!ReadVarint(&key)) return false;
    field_ = static_cast<uint32_t>(key >> 3);
    wire_ = static_cast<uint8_t>(key & 7);
    if (field_ == 0 || (key >> 3) > 0x1fffffff) [[unlikely]] {
      return Fail("invalid field number");
    }
    if (wire_ != 0 && wire_ != 1 && wire_ != 2 && wire_ != 5) [[unlikely]] {
      return FailWireType();
    }
    return true;
  }
  uint32_t field() const { return field_; }
  WireType wire_type() const { return static_cast<WireType>(wire_); }

  bool ReadVarint(uint64_t* v) {
    if (p_ != end_ && *p_ < 0x80) [[likely]] {
      *v = *p_++;
      return true;
    }
    return ReadVarintSlow(v);
  }
  [[gnu::noinline]] bool ReadVarintSlow(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail("truncated varint");
      uint8_t b = *p_++;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return Fail("varint longer than 10 bytes");
  }
  bool ReadFixed64(uint64_t* v) {
    if (end_ - p_ < 8) return Fail("truncated fixed64");
    std::memcpy(v, p_, 8);  // little-endian hosts only (x86-64, arm64)
    p_ += 8;
    return true;
  }
  bool ReadFixed32(uint32_t* v) {
    if (end_ - p_ < 4) return Fail("truncated fixed32");
    std::memcpy(v, p_, 4);
    p_ += 4;
    return true;
  }
  bool ReadDouble(double* d) {
    uint64_t u = 0;
    if (!ReadFixed64(&u)) return false;
    std::memcpy(d, &u, 8);
    return true;
  }
  // Length-delimited field (string, bytes, sub-message, packed repeated).
  bool ReadBytes(std::string_view* s) {
    uint64_t n;
    if (!ReadVarint(&n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return Fail("truncated length-delimited field");
    *s = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // Reads a value of the current field's wire type and throws it away.
  bool Skip() {
    uint64_t u;
    uint32_t u32;
    std::string_view s;
    switch (wire_) {
      case 0:
        return ReadVarint(&u);
      case 1:
        return ReadFixed64(&u);
      case 2:
        return ReadBytes(&s);
      case 5:
        return ReadFixed32(&u32);
    }
    return FailWireType();
  }
  // Checks the current field has wire type `want`; fails otherwise.
  bool Expect(WireType want) {
    if (wire_ == static_cast<uint8_t>(want)) [[likely]]
      return true;
    return FailExpect(want);
  }

  size_t offset() const { return base_ + static_cast<size_t>(p_ - begin_); }
  // Offset of a view (taken from this reader's buffer) in the outermost message.
  size_t OffsetOf(std::string_view s) const {
    return base_ + static_cast<size_t>(reinterpret_cast<const uint8_t*>(s.data()) - begin_);
  }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

 private:
  // Error paths, out of line so the hot accessors stay small and inlined.
  [[gnu::cold, gnu::noinline]] bool Fail(const char* why);
  [[gnu::cold, gnu::noinline]] bool FailWireType();
  [[gnu::cold, gnu::noinline]] bool FailExpect(WireType want);

  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  size_t base_;
  uint32_t field_ = 0;
  uint8_t wire_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace kansoku::ingest
