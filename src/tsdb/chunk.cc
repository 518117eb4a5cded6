#include "tsdb/chunk.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace kansoku::tsdb {
namespace {

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1); }

uint64_t DoubleBits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
double BitsDouble(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// Sign-extends the low n bits of u.
int64_t SignExtend(uint64_t u, int n) {
  const int shift = 64 - n;
  return static_cast<int64_t>(u << shift) >> shift;
}

struct DodBucket {
  int prefix_len;   // number of prefix bits ("10" = 2, ...)
  uint64_t prefix;  // prefix value
  int payload;      // payload bits
};
constexpr DodBucket kDodBuckets[] = {{2, 0b10, 8}, {3, 0b110, 13}, {4, 0b1110, 20}};

}  // namespace

size_t XorChunkSize(const Sample* s, size_t n, size_t limit) {
  // XorChunk::Append's bit counts, without writing the bits (keep the two in step; the test
  // XorChunkSizeMatchesTheEncoder compares them on every kind of input).
  const auto varint_bits = [](int64_t v) {
    uint64_t u = ZigZag(v);
    size_t bits = 8;
    while (u >= 0x80) {
      bits += 8;
      u >>= 7;
    }
    return bits;
  };
  if (n == 0) return 2;
  if (limit < 3) return limit + 1;  // a sample takes at least one byte after the header
  const size_t limit_bits = limit >= SIZE_MAX / 8 ? SIZE_MAX : (limit - 2) * 8;
  size_t bits = 0;
  int64_t t_delta = 0;
  int leading = 0xff, trailing = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t vb = DoubleBits(s[i].v);
    if (i == 0) {
      bits += varint_bits(s[0].t) + 64;
    } else {
      const int64_t delta = s[i].t - s[i - 1].t;
      if (i == 1) {
        bits += varint_bits(delta);
      } else {
        const int64_t dod = delta - t_delta;
        if (dod == 0) {
          bits += 1;
        } else {
          size_t b_bits = 4 + 64;
          for (const auto& b : kDodBuckets) {
            const int64_t lo = -(int64_t{1} << (b.payload - 1));
            const int64_t hi = (int64_t{1} << (b.payload - 1)) - 1;
            if (dod >= lo && dod <= hi) {
              b_bits = static_cast<size_t>(b.prefix_len + b.payload);
              break;
            }
          }
          bits += b_bits;
        }
      }
      t_delta = delta;
      const uint64_t x = vb ^ DoubleBits(s[i - 1].v);
      if (x == 0) {
        bits += 1;
      } else {
        int lead = std::countl_zero(x);
        const int trail = std::countr_zero(x);
        if (lead > 31) lead = 31;
        if (leading != 0xff && lead >= leading && trail >= trailing) {
          bits += static_cast<size_t>(2 + 64 - leading - trailing);
        } else {
          bits += static_cast<size_t>(2 + 5 + 6 + (64 - lead - trail));
          leading = lead;
          trailing = trail;
        }
      }
    }
    if (bits > limit_bits) return limit + 1;
  }
  return 2 + (bits + 7) / 8;
}

XorChunk::XorChunk() { bytes_.assign(2, '\0'); }

void XorChunk::WriteBits(uint64_t bits, int n) {
  if (n < 64) bits &= (uint64_t{1} << n) - 1;
  if (free_bits_ > 0) {  // first the unused low bits of the last byte
    auto& last = reinterpret_cast<unsigned char&>(bytes_.back());
    if (n <= free_bits_) {
      last |= static_cast<unsigned char>(bits << (free_bits_ - n));
      free_bits_ -= n;
      return;
    }
    n -= free_bits_;
    last |= static_cast<unsigned char>(bits >> n);
    free_bits_ = 0;
  }
  // Then whole bytes and a last partial one, appended at once (at most 8 bytes).
  char buf[8];
  int k = 0;
  for (; n >= 8; n -= 8) buf[k++] = static_cast<char>(bits >> (n - 8));
  if (n > 0) {
    buf[k++] = static_cast<char>(bits << (8 - n));
    free_bits_ = 8 - n;
  }
  bytes_.append(buf, static_cast<size_t>(k));
}

void XorChunk::WriteVarint(int64_t v) {
  uint64_t u = ZigZag(v);
  while (u >= 0x80) {
    WriteBits((u & 0x7f) | 0x80, 8);
    u >>= 7;
  }
  WriteBits(u, 8);
}

void XorChunk::Append(int64_t t, double v) {
  KANSOKU_CHECK(num_samples_ < kMaxSamples, "BUG: XorChunk full; cut a new chunk first");
  KANSOKU_CHECK(num_samples_ == 0 || t > t_, "BUG: XorChunk::Append out of order");
  const uint64_t vb = DoubleBits(v);
  if (num_samples_ == 0) {
    WriteVarint(t);
    WriteBits(vb, 64);
    min_t_ = t;
  } else {
    const int64_t delta = t - t_;
    if (num_samples_ == 1) {
      WriteVarint(delta);
    } else {
      const int64_t dod = delta - t_delta_;
      if (dod == 0) {
        WriteBits(0, 1);
      } else {
        bool done = false;
        for (const auto& b : kDodBuckets) {
          const int64_t lo = -(int64_t{1} << (b.payload - 1));
          const int64_t hi = (int64_t{1} << (b.payload - 1)) - 1;
          if (dod >= lo && dod <= hi) {
            WriteBits(b.prefix, b.prefix_len);
            WriteBits(static_cast<uint64_t>(dod), b.payload);
            done = true;
            break;
          }
        }
        if (!done) {
          WriteBits(0b1111, 4);
          WriteBits(static_cast<uint64_t>(dod), 64);
        }
      }
    }
    t_delta_ = delta;
    const uint64_t x = vb ^ v_bits_;
    if (x == 0) {
      WriteBits(0, 1);
    } else {
      int lead = std::countl_zero(x);
      const int trail = std::countr_zero(x);
      if (lead > 31) lead = 31;
      if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
        WriteBits(0b10, 2);
        WriteBits(x >> trailing_, 64 - leading_ - trailing_);
      } else {
        const int len = 64 - lead - trail;
        WriteBits(0b11, 2);
        WriteBits(static_cast<uint64_t>(lead), 5);
        WriteBits(static_cast<uint64_t>(len & 63), 6);
        WriteBits(x >> trail, len);
        leading_ = lead;
        trailing_ = trail;
      }
    }
  }
  t_ = t;
  v_bits_ = vb;
  ++num_samples_;
  bytes_[0] = static_cast<char>(num_samples_ >> 8);
  bytes_[1] = static_cast<char>(num_samples_ & 0xff);
}

ChunkIterator::ChunkIterator(std::string_view bytes, ChunkEncoding encoding) {
  if (encoding == ChunkEncoding::kPacked || IsRollupEncoding(encoding)) {
    is_packed_ = true;
    status_ = encoding == ChunkEncoding::kPacked ? DecodePackedChunk(bytes, &packed_)
                                                 : DecodeRollupChunk(bytes, encoding, &packed_);
    n_ = static_cast<uint32_t>(packed_.size());
    return;
  }
  if (encoding != ChunkEncoding::kXor) {
    Fail();
    return;
  }
  if (bytes.size() < 2) {
    Fail();
    return;
  }
  data_ = reinterpret_cast<const uint8_t*>(bytes.data());
  n_ = (uint32_t{data_[0]} << 8) | data_[1];
  size_bits_ = bytes.size() * 8;
  pos_ = 16;
}

bool ChunkIterator::Fail() {
  if (status_.ok()) status_ = Status::Corruption("chunk: truncated or malformed bit stream");
  read_ = n_;
  return false;
}

bool ChunkIterator::ReadBits(int n, uint64_t* out) {
  if (pos_ + static_cast<size_t>(n) > size_bits_) return Fail();
  const size_t first = pos_ >> 3;
  const int off = static_cast<int>(pos_ & 7);
  if (n <= 56 && first + 8 <= (size_bits_ >> 3)) {
    // Fast path: one unaligned big-endian 64-bit load covers off + n <= 63 bits.
    uint64_t w;
    std::memcpy(&w, data_ + first, sizeof w);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    *out = n == 0 ? 0 : (w << off) >> (64 - n);
    pos_ += static_cast<size_t>(n);
    return true;
  }
  uint64_t r = 0;
  while (n > 0) {
    const size_t byte = pos_ >> 3;
    const int off = static_cast<int>(pos_ & 7);
    const int avail = 8 - off;
    const int take = n < avail ? n : avail;
    const uint64_t bits = (data_[byte] >> (avail - take)) & ((1u << take) - 1);
    r = (r << take) | bits;
    pos_ += take;
    n -= take;
  }
  *out = r;
  return true;
}

bool ChunkIterator::ReadBit(bool* out) {
  if (pos_ >= size_bits_) return Fail();
  *out = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
  ++pos_;
  return true;
}

bool ChunkIterator::ReadVarint(int64_t* out) {
  uint64_t u = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint64_t b;
    if (!ReadBits(8, &b)) return false;
    u |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = UnZigZag(u);
      return true;
    }
  }
  return Fail();
}

bool ChunkIterator::Next() {
  if (read_ >= n_ || !status_.ok()) return false;
  if (is_packed_) {
    t_ = packed_[read_].t;
    v_ = packed_[read_].v;
    ++read_;
    return true;
  }
  if (read_ == 0) {
    if (!ReadVarint(&t_) || !ReadBits(64, &v_bits_)) return false;
    v_ = BitsDouble(v_bits_);
    ++read_;
    return true;
  }
  if (read_ == 1) {
    if (!ReadVarint(&t_delta_)) return false;
  } else {
    // Count leading one bits of the prefix (at most 4).
    int ones = 0;
    bool bit = true;
    while (ones < 4) {
      if (!ReadBit(&bit)) return false;
      if (!bit) break;
      ++ones;
    }
    int64_t dod = 0;
    uint64_t raw;
    if (ones == 0) {
      dod = 0;
    } else if (ones <= 3) {
      const int payload = kDodBuckets[ones - 1].payload;
      if (!ReadBits(payload, &raw)) return false;
      dod = SignExtend(raw, payload);
    } else {
      if (!ReadBits(64, &raw)) return false;
      dod = static_cast<int64_t>(raw);
    }
    // Unsigned: damaged bytes wrap instead of overflowing int64 (UB).
    t_delta_ = static_cast<int64_t>(static_cast<uint64_t>(t_delta_) + static_cast<uint64_t>(dod));
  }
  t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(t_delta_));
  bool bit = false;
  if (!ReadBit(&bit)) return false;
  if (bit) {
    if (!ReadBit(&bit)) return false;
    if (bit) {
      uint64_t lead, len;
      if (!ReadBits(5, &lead) || !ReadBits(6, &len)) return false;
      if (len == 0) len = 64;
      if (lead + len > 64) return Fail();
      leading_ = static_cast<int>(lead);
      trailing_ = 64 - leading_ - static_cast<int>(len);
    }
    const int len = 64 - leading_ - trailing_;
    uint64_t x;
    if (!ReadBits(len, &x)) return false;
    v_bits_ ^= x << trailing_;
  }
  v_ = BitsDouble(v_bits_);
  ++read_;
  return true;
}

namespace {

// Bit reader for DecodeXorChunk: one unaligned big-endian 64-bit load per read (zero-padded past
// the end), every read bounds-checked against the stream's length.
class FastBits {
 public:
  FastBits(const uint8_t* data, size_t size) : data_(data), size_(size), size_bits_(size * 8) {}
  size_t pos() const { return pos_; }
  // The next 64 bits at the position, left-aligned (bits past the end read as 0).
  [[gnu::always_inline]] uint64_t Peek() const {
    const size_t first = pos_ >> 3;
    uint64_t w;
    if (first + 8 <= size_) {
      std::memcpy(&w, data_ + first, sizeof w);
      if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    } else {
      w = 0;
      for (size_t i = 0; i < 8; ++i) {
        w <<= 8;
        if (first + i < size_) w |= data_[first + i];
      }
    }
    return w << (pos_ & 7);
  }
  // Whether a whole 64-bit word loads at the position: then PeekWord's first 57 bits are all
  // stream bits, and Advance may consume up to 57 of them without a bounds check.
  [[gnu::always_inline]] bool HasWord() const { return (pos_ >> 3) + 8 <= size_; }
  [[gnu::always_inline]] uint64_t PeekWord() const {
    uint64_t w;
    std::memcpy(&w, data_ + (pos_ >> 3), sizeof w);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    return w << (pos_ & 7);
  }
  [[gnu::always_inline]] void Advance(size_t n) { pos_ += n; }
  // Consumes n bits; false when fewer remain.
  [[gnu::always_inline]] bool Skip(size_t n) {
    if (pos_ + n > size_bits_) return false;
    pos_ += n;
    return true;
  }
  // n in [0, 64].
  [[gnu::always_inline]] bool Read(int n, uint64_t* out) {
    if (n <= 56) [[likely]] {
      const uint64_t w = Peek();
      *out = n == 0 ? 0 : w >> (64 - n);
      return Skip(static_cast<size_t>(n));
    }
    return ReadWide(n, out);
  }
  // n in (56, 64].
  // Inlined (rare, but a call would take the reader's address and keep its position in memory
  // through the decode loop).
  [[gnu::always_inline]] bool ReadWide(int n, uint64_t* out) {
    const uint64_t hi = Peek() >> 32;
    if (!Skip(32)) return false;
    const uint64_t lo = Peek() >> (64 - (n - 32));
    if (!Skip(static_cast<size_t>(n - 32))) return false;
    *out = (hi << (n - 32)) | lo;
    return true;
  }
  bool Varint(int64_t* out) {
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint64_t b;
      if (!Read(8, &b)) return false;
      u |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = UnZigZag(u);
        return true;
      }
    }
    return false;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t size_bits_;
  size_t pos_ = 16;  // after the 2-byte sample count
};

}  // namespace

Status DecodeXorChunk(std::string_view bytes, std::vector<Sample>* out) {
  const auto corrupt = [&](size_t base) {
    out->resize(base);
    return Status::Corruption("chunk: truncated or malformed bit stream");
  };
  const size_t base = out->size();
  if (bytes.size() < 2) return corrupt(base);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint32_t n = (uint32_t{data[0]} << 8) | data[1];
  if (n == 0) return Status::Ok();
  // Written through a pointer into the sized vector: push_back's capacity check per sample kept
  // the compiler from inlining it (9 % of a 24 h rate() query in perf).
  out->resize(base + n);
  Sample* s = out->data() + base;
  FastBits r(data, bytes.size());
  int64_t t, t_delta = 0;
  uint64_t v_bits;
  if (!r.Varint(&t) || !r.Read(64, &v_bits)) return corrupt(base);
  s[0] = {t, BitsDouble(v_bits)};
  int leading = 0, trailing = 0;
  // The value after its timestamp, the general way: a Peek for the control bits, then a Read.
  // For sample 1 and for samples the one-word path below does not take.
  const auto value_slow = [&]() -> bool {
    const uint64_t w = r.Peek();
    if ((w >> 63) == 0) return r.Skip(1);
    if ((w >> 62) & 1) {
      // "11": a new window, 5 bits leading zeros, 6 bits length.
      const uint64_t lead = (w >> 57) & 0x1f;
      uint64_t len = (w >> 51) & 0x3f;
      if (!r.Skip(13)) return false;
      if (len == 0) len = 64;
      if (lead + len > 64) return false;
      leading = static_cast<int>(lead);
      trailing = 64 - leading - static_cast<int>(len);
    } else if (!r.Skip(2)) {
      return false;
    }
    uint64_t x;
    if (!r.Read(64 - leading - trailing, &x)) return false;
    v_bits ^= x << trailing;
    return true;
  };
  if (n >= 2) {
    if (!r.Varint(&t_delta)) return corrupt(base);
    t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(t_delta));
    if (!value_slow()) return corrupt(base);
    s[1] = {t, BitsDouble(v_bits)};
  }
  for (uint32_t i = 2; i < n; ++i) {
    if (r.HasWord()) {
      // One load per sample while a whole word is readable: the timestamp's prefix and payload
      // (at most 25 bits), then the value's control bits and meaningful bits when they fit in
      // the rest of the 57 bits the word surely holds (a regular series: 1 + 2 + meaningful
      // bits); a value past the word is read from the position after its control bits.
      const uint64_t w = r.PeekWord();
      const int ones = std::countl_zero(~w | 1);  // never zero: no branch for it; > 3 anyway
      if (ones <= 3) {
        int used = 1;
        if (ones > 0) {
          const int payload = kDodBuckets[ones - 1].payload;
          const int64_t dod = SignExtend(w << (ones + 1) >> (64 - payload), payload);
          t_delta =
              static_cast<int64_t>(static_cast<uint64_t>(t_delta) + static_cast<uint64_t>(dod));
          used = ones + 1 + payload;
        }
        t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(t_delta));
        const uint64_t v = w << used;
        int len = 0, skip;
        if ((v >> 63) == 0) {
          skip = 1;
        } else if (((v >> 62) & 1) == 0) {
          len = 64 - leading - trailing;
          skip = 2;
        } else {
          const int lead = static_cast<int>((v >> 57) & 0x1f);
          len = static_cast<int>((v >> 51) & 0x3f);
          if (len == 0) len = 64;
          if (lead + len > 64) return corrupt(base);
          leading = lead;
          trailing = 64 - lead - len;
          skip = 13;
        }
        if (used + skip + len <= 57) {
          if (len > 0) v_bits ^= (v << skip >> (64 - len)) << trailing;
          r.Advance(static_cast<size_t>(used + skip + len));
        } else {
          r.Advance(static_cast<size_t>(used + skip));
          uint64_t x;
          if (!r.Read(len, &x)) return corrupt(base);
          v_bits ^= x << trailing;
        }
        s[i] = {t, BitsDouble(v_bits)};
        continue;
      }
    }
    {
      // Prefix of at most 4 one bits, then the delta-of-delta's payload.
      const uint64_t w = r.Peek();
      int ones = std::countl_one(w);
      if (ones > 4) ones = 4;
      int64_t dod = 0;
      if (ones == 0) {
        if (!r.Skip(1)) return corrupt(base);
      } else if (ones <= 3) {
        const int payload = kDodBuckets[ones - 1].payload;
        // ones + 1 prefix bits + payload <= 25 bits: all in w.
        dod = SignExtend(w << (ones + 1) >> (64 - payload), payload);
        if (!r.Skip(static_cast<size_t>(ones) + 1 + static_cast<size_t>(payload))) {
          return corrupt(base);
        }
      } else {
        uint64_t raw;
        if (!r.Skip(4) || !r.Read(64, &raw)) return corrupt(base);
        dod = static_cast<int64_t>(raw);
      }
      t_delta = static_cast<int64_t>(static_cast<uint64_t>(t_delta) + static_cast<uint64_t>(dod));
    }
    t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(t_delta));
    if (!value_slow()) return corrupt(base);
    s[i] = {t, BitsDouble(v_bits)};
  }
  return Status::Ok();
}

bool ChunkIterator::Seek(int64_t target) {
  if (read_ > 0 && t_ >= target) return true;
  while (Next()) {
    if (t_ >= target) return true;
  }
  return false;
}

}  // namespace kansoku::tsdb
