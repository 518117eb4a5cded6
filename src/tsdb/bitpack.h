#pragma once
// Bit-level helpers shared by the packed chunk encoding (packed_chunk.cc, tsdb-chunks.md
// "Encoding 2") and the KSR3 rollup records (rollup.cc, tsdb-block.md): decimal mantissas,
// zigzag, the 2/3-tier residual code and MSB-first bit/byte readers that bounds-check every read.
// Internal to src/tsdb. Thread safety: plain functions and values.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace kansoku::tsdb::bitpack {

inline constexpr int kMaxExp = 18;    // decimal exponents 0..18
inline constexpr int kMaxWidth = 57;  // widest residual the bit reader takes in one load
inline constexpr double kPow10[kMaxExp + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                               1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                               1e14, 1e15, 1e16, 1e17, 1e18};
inline constexpr double kTwo53 = 9007199254740992.0;

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

inline uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// x rounded to the nearest integer, halfway cases away from zero (std::llround), for
// |x| < 2^53. Inline: std::llround is a libm call, 3 % of the head's ingest CPU via DecimalAt.
// x - trunc(x) is exact in this range, so the comparison with 0.5 decides as llround does.
inline int64_t RoundHalfAway(double x) {
  int64_t t = static_cast<int64_t>(x);  // truncates toward zero
  const double f = x - static_cast<double>(t);
  t += static_cast<int64_t>(f >= 0.5) - static_cast<int64_t>(f <= -0.5);
  return t;
}

// m such that m / 10^e reproduces v bit for bit, if there is one with |m| < 2^53.
inline bool DecimalAt(double v, int e, int64_t* m) {
  if (!std::isfinite(v) || std::fabs(v) * kPow10[e] >= kTwo53) return false;
  const int64_t r = RoundHalfAway(v * kPow10[e]);
  if (Bits(static_cast<double>(r) / kPow10[e]) != Bits(v)) return false;
  *m = r;
  return true;
}

inline int Width(uint64_t u) { return u == 0 ? 0 : 64 - std::countl_zero(u); }

inline void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void PutVarint(std::string* out, int64_t v) { PutUvarint(out, ZigZag(v)); }

// Tiered code for zigzagged residuals:
//   kind 0: "0" + w1 bits | "1" + w2 bits
//   kind 1: "0" (zero)    | "10" + w1 bits | "11" + w2 bits
struct Tiers {
  uint8_t kind = 0, w1 = 0, w2 = 0;
  uint64_t bits = 0;  // total size of the residuals in this code
};

inline Tiers ChooseTiers(const std::vector<uint64_t>& us) {
  uint64_t hist[65] = {};
  int wmax = 0;
  for (uint64_t u : us) {
    const int w = Width(u);
    ++hist[w];
    wmax = std::max(wmax, w);
  }
  const uint64_t n = us.size();
  Tiers best;
  best.bits = UINT64_MAX;
  uint64_t below = 0;  // residuals of width <= w1 (kind 0); of width in [1, w1] (kind 1)
  for (int w1 = 0; w1 <= wmax; ++w1) {
    below += hist[w1];
    const uint64_t k0 =
        n + below * static_cast<uint64_t>(w1) + (n - below) * static_cast<uint64_t>(wmax);
    if (k0 < best.bits) best = {0, static_cast<uint8_t>(w1), static_cast<uint8_t>(wmax), k0};
    if (w1 >= 1) {
      const uint64_t mid = below - hist[0];
      const uint64_t k1 = hist[0] + mid * (2 + static_cast<uint64_t>(w1)) +
                          (n - below) * (2 + static_cast<uint64_t>(wmax));
      if (k1 < best.bits) best = {1, static_cast<uint8_t>(w1), static_cast<uint8_t>(wmax), k1};
    }
  }
  return best;
}

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  // The low n bits of `bits` (n <= 64), most significant first.
  void Write(uint64_t bits, int n) {
    if (n == 0) return;
    if (n < 64) bits &= (uint64_t{1} << n) - 1;
    const int room = 64 - fill_;  // fill_ < 64 between calls
    if (n < room) {
      acc_ = (acc_ << n) | bits;
      fill_ += n;
      return;
    }
    const int rest = n - room;  // bits left over once the word is full, < 64
    const uint64_t word = room == 64 ? bits : (acc_ << room) | (bits >> rest);
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(word >> (56 - 8 * i));
    out_->append(b, 8);
    acc_ = rest == 0 ? 0 : bits & ((uint64_t{1} << rest) - 1);
    fill_ = rest;
  }
  // One tiered code: prefix and payload in one Write (at most 2 + 57 bits).
  void Code(const Tiers& t, uint64_t u) {
    if (t.kind == 1 && u == 0) {
      Write(0, 1);
    } else if (Width(u) <= t.w1) {
      // prefix "0" (kind 0) or "10"
      Write(t.kind == 0 ? u : (uint64_t{2} << t.w1) | u, (t.kind == 0 ? 1 : 2) + t.w1);
    } else {
      // prefix "1" (kind 0) or "11"
      const int p = t.kind == 0 ? 1 : 2;
      Write((((uint64_t{1} << p) - 1) << t.w2) | u, p + t.w2);
    }
  }
  void Finish() {
    while (fill_ > 0) {
      const int take = std::min(fill_, 8);
      out_->push_back(static_cast<char>((acc_ >> (fill_ - take)) << (8 - take)));
      fill_ -= take;
      acc_ &= fill_ == 0 ? 0 : ((uint64_t{1} << fill_) - 1);
    }
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

// MSB-first bit reader over bytes it does not own; every read is bounds-checked.
// a when the top bit of w is set, else b; a conditional move on x86-64, never a branch.
[[gnu::always_inline]] inline int IfNegative(uint64_t w, int a, int b) {
#if defined(__x86_64__)
  asm("test %[w], %[w]\n\tcmovs %[a], %[r]" : [r] "+r"(b) : [w] "r"(w), [a] "r"(a) : "cc");
  return b;
#else
  return static_cast<int64_t>(w) < 0 ? a : b;
#endif
}

class BitReader {
 public:
  BitReader(const uint8_t* p, size_t n) : p_(p), size_bits_(n * 8) {}
  // One tiered code. The next bits are kept in a register (buf_, avail_ of them), refilled by
  // one unaligned 64-bit load (at least 57 bits) when fewer than the widest code remain, so
  // the serial chain from one code to the next is a shift, not a load; near the end of the
  // bytes from the remaining bytes zero-padded, each code checked against the bits that exist;
  // codes wider than 57 bits bit by bit with every read checked. (Decoding was ~45 % of a 24 h
  // sum(rate()) in perf; the bounds-checked reads most of it.)
  size_t pos() const { return end_ - static_cast<size_t>(avail_); }  // bits read so far
  [[gnu::always_inline]] bool Code(const Tiers& t, uint64_t* u) {
    return t.kind == 1 ? Code<1>(t, u) : Code<0>(t, u);
  }
  // The same with the tier kind known at compile time (t.kind == kKind), for decode loops
  // specialised per kind: the kind is then not tested per code.
  template <int kKind>
  [[gnu::always_inline]] bool Code(const Tiers& t, uint64_t* u) {
    constexpr int kPrefix = kKind == 1 ? 2 : 1;
    if (avail_ < kPrefix + t.w2) [[unlikely]] {
      size_t pos = end_ - static_cast<size_t>(avail_);
      const size_t first = pos >> 3;
      if (kPrefix + t.w2 > 57) {
        // On copies: the reader's own address is never taken, so its fields can live in
        // registers through the decode loops.
        uint64_t v = 0;
        const bool ok = CodeChecked(p_, size_bits_, &pos, t, &v);
        end_ = pos;
        avail_ = 0;
        *u = v;
        return ok;
      }
      const int off = static_cast<int>(pos & 7);
      uint64_t w = 0;
      if (first + 8 <= size_bits_ / 8) [[likely]] {
        std::memcpy(&w, p_ + first, sizeof w);
        if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
        avail_ = 64 - off;
        end_ = first * 8 + 64;
      } else {
        // The last bytes (a chunk's last few codes): loaded zero-padded, only the bits that
        // exist counted as available; a code longer than those is cut off (checked below).
        // Bit by bit through CodeChecked, these were ~2.5 % of a 24 h rate() over packed chunks.
        if (pos >= size_bits_) return false;
        for (size_t i = first; i < size_bits_ / 8; ++i) {
          w |= uint64_t{p_[i]} << (56 - 8 * (i - first));
        }
        avail_ = static_cast<int>(size_bits_ - pos);
        end_ = size_bits_;
        buf_ = w << off;
        TakeCode<kKind>(t, u);
        return avail_ >= 0;
      }
      buf_ = w << off;
    }
    TakeCode<kKind>(t, u);
    return true;
  }

 private:
  // Takes one code from buf_ (avail_ goes below 0 when the code is longer than the bits left).
  template <int kKind>
  [[gnu::always_inline]] void TakeCode(const Tiers& t, uint64_t* u) {
    // Branch-free: which tier a code uses follows the data, and a branch on it mispredicts.
    const uint64_t w = buf_;
    const int w1 = t.w1, w2 = t.w2;
    int len;
    // Selects (cmov), not arithmetic masks: the length is on the serial chain from one code to
    // the next (test, select, shift). IfNegative forces the cmov: GCC made a plain `?:` a
    // branch, which data with mixed tiers mispredicts (10-15 % more CPU on a 24 h rate() over
    // node_exporter data, though faster on regular synthetic chunks).
    if constexpr (kKind == 1) {
      const bool nonzero = static_cast<int64_t>(w) < 0;
      const int width = IfNegative(w << 1, w2, w1);
      // width 0 shifts every payload bit out; a zero code ("0") masks the payload away.
      const uint64_t payload = ((w << 2) >> 2) >> (62 - width);
      *u = nonzero ? payload : 0;
      len = nonzero ? 2 + width : 1;
    } else {
      const int width = IfNegative(w, w2, w1);
      *u = ((w << 1) >> 1) >> (63 - width);
      len = 1 + width;
    }
    buf_ <<= len;   // len <= 57
    avail_ -= len;  // the position moves with it (pos() is end_ - avail_)
  }

  // n <= kMaxWidth bits at *pos, bounds-checked.
  static bool Read(const uint8_t* p, size_t size_bits, size_t* pos, int n, uint64_t* out) {
    if (n == 0) {
      *out = 0;
      return true;
    }
    if (*pos + static_cast<size_t>(n) > size_bits) return false;
    const size_t first = *pos >> 3;
    const int off = static_cast<int>(*pos & 7);
    uint64_t w = 0;
    if (first + 8 <= size_bits / 8) {
      std::memcpy(&w, p + first, sizeof w);
      if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    } else {
      for (size_t i = 0; i < 8 && first + i < size_bits / 8; ++i) {
        w |= uint64_t{p[first + i]} << (56 - 8 * i);
      }
    }
    *out = (w << off) >> (64 - n);
    *pos += static_cast<size_t>(n);
    return true;
  }
  [[gnu::noinline]] static bool CodeChecked(const uint8_t* p, size_t size_bits, size_t* pos,
                                            const Tiers& t, uint64_t* u) {
    uint64_t b;
    if (!Read(p, size_bits, pos, 1, &b)) return false;
    if (t.kind == 1) {
      if (b == 0) {
        *u = 0;
        return true;
      }
      if (!Read(p, size_bits, pos, 1, &b)) return false;
    }
    return Read(p, size_bits, pos, b == 0 ? t.w1 : t.w2, u);
  }

  const uint8_t* p_;
  size_t size_bits_;
  // The position is end_ - avail_: end_ (the bit after buf_'s last valid bit) changes only
  // when buf_ is refilled, so a code costs no position update.
  size_t end_ = 0;
  uint64_t buf_ = 0;  // the avail_ bits from pos() on, most significant first
  int avail_ = 0;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool U8(uint8_t* out) {
    if (p_ >= end_) return false;
    *out = *p_++;
    return true;
  }
  bool Uvarint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Varint(int64_t* out) {
    uint64_t u;
    if (!Uvarint(&u)) return false;
    *out = UnZigZag(u);
    return true;
  }
  bool Tier(Tiers* t) {
    return U8(&t->kind) && U8(&t->w1) && U8(&t->w2) && t->kind <= 1 && t->w1 <= t->w2 &&
           t->w2 <= kMaxWidth;
  }
  bool Raw(void* out, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const uint8_t* pos() const { return p_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace kansoku::tsdb::bitpack
