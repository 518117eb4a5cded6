// Packed chunk encoding (encoding 2; docs/design/tsdb-chunks.md "Encoding 2: packed").
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

#include "tsdb/bitpack.h"
#include "tsdb/chunk.h"

namespace kansoku::tsdb {
using namespace bitpack;  // NOLINT(google-build-using-namespace): the helpers this file uses

namespace {
// EncodePackedChunk's working vectors, kept per thread between calls (the head cuts a chunk
// every 120 samples of a series, a block writer one every 480): no allocation per chunk.
struct EncodeScratch {
  std::vector<uint64_t> tres, r1, r2, r3;
  std::vector<int64_t> m, d;
};

// Bytes of v as a zigzag LEB128 varint.
int VarintBytes(int64_t v) { return (std::max(1, Width(ZigZag(v))) + 6) / 7; }

// a / b (b > 0) rounded half away from zero.
int64_t RoundedQuotient(int64_t a, int64_t b) {
  const int64_t q = a / b, r2 = (a % b) * 2;  // |a % b| < b <= 65535: no overflow
  return q + (r2 >= b ? 1 : 0) - (r2 <= -b ? 1 : 0);
}
}  // namespace

bool EncodePackedChunk(const Sample* s, size_t n, std::string* out) {
  if (n == 0 || n > XorChunk::kMaxSamples) return false;
  thread_local EncodeScratch scratch;
  // The header goes straight into *out; on failure *out is left cleared (callers keep the XOR).
  std::string& hdr = *out;
  hdr.clear();
  hdr.push_back(static_cast<char>(n >> 8));
  hdr.push_back(static_cast<char>(n & 0xff));
  PutVarint(&hdr, s[0].t);
  // Timestamps: regular, or delta-of-deltas in the bit stream.
  std::vector<uint64_t>& tres = scratch.tres;
  tres.clear();
  Tiers tt;
  if (n >= 2) {
    const int64_t d1 = s[1].t - s[0].t;
    PutVarint(&hdr, d1);
    bool regular = true;
    for (size_t i = 2; i < n; ++i) regular &= s[i].t - s[i - 1].t == d1;
    if (regular) {
      hdr.push_back(0);
    } else {
      for (size_t i = 2; i < n; ++i) {
        const int64_t dod = (s[i].t - s[i - 1].t) - (s[i - 1].t - s[i - 2].t);
        tres.push_back(ZigZag(dod));
      }
      tt = ChooseTiers(tres);
      if (tt.w2 > kMaxWidth) return out->clear(), false;
      hdr.push_back(1);
      hdr.push_back(static_cast<char>(tt.kind));
      hdr.push_back(static_cast<char>(tt.w1));
      hdr.push_back(static_cast<char>(tt.w2));
    }
  }
  // Values: constant, or decimal mantissas with a common exponent.
  bool constant = true;
  for (size_t i = 1; i < n && constant; ++i) constant = Bits(s[i].v) == Bits(s[0].v);
  const std::vector<uint64_t>* vres = nullptr;
  Tiers vt;
  if (constant) {
    hdr.push_back(0);
    const uint64_t b = Bits(s[0].v);
    for (int i = 0; i < 8; ++i) hdr.push_back(static_cast<char>(b >> (8 * i)));
  } else {
    int e = 0, e_first = 0;
    std::vector<int64_t>& m = scratch.m;
    m.resize(n);
    for (size_t i = 0; i < n; ++i) {
      while (!DecimalAt(s[i].v, e, &m[i])) {
        if (++e > kMaxExp) return out->clear(), false;
      }
      if (i == 0) e_first = e;
    }
    // Earlier values were exact at a smaller exponent, hence at e too (if within 2^53). Only
    // needed when e grew after the first value: until then every m[i] was taken at e.
    if (e != e_first) {
      for (size_t i = 0; i < n; ++i) {
        if (!DecimalAt(s[i].v, e, &m[i])) return out->clear(), false;
      }
    }
    uint64_t g = 0;
    for (size_t i = 1; i < n && g != 1; ++i) {  // once 1, the divisor stays 1
      const int64_t d = m[i] - m[i - 1];
      g = std::gcd(g, static_cast<uint64_t>(d < 0 ? -d : d));
    }
    if (g == 0) g = 1;
    const auto gi = static_cast<int64_t>(g);
    // Order 1 (deltas), 2 (delta-of-deltas) or 3 (deltas less their mean), whichever packs
    // smallest. A counter's steady increments are order 1's residuals far from 0 and order 2's
    // at twice the variance of their noise; order 3 keeps the noise alone, centred.
    std::vector<int64_t>& d = scratch.d;
    std::vector<uint64_t>& r1 = scratch.r1;
    std::vector<uint64_t>& r2 = scratch.r2;
    std::vector<uint64_t>& r3 = scratch.r3;
    d.clear();
    r1.clear();
    r2.clear();
    r3.clear();
    if (gi == 1) {
      for (size_t i = 1; i < n; ++i) d.push_back(m[i] - m[i - 1]);
    } else {
      for (size_t i = 1; i < n; ++i) d.push_back((m[i] - m[i - 1]) / gi);
    }
    for (size_t i = 0; i + 1 < n; ++i) r1.push_back(ZigZag(d[i]));
    for (size_t i = 1; i + 1 < n; ++i) r2.push_back(ZigZag(d[i] - d[i - 1]));
    const Tiers t1 = ChooseTiers(r1), t2 = ChooseTiers(r2);
    // Whole header bytes count: order 2 stores the first delta, order 3 the mean.
    const uint64_t bits1 = t1.bits, bits2 = t2.bits + 8 * VarintBytes(d[0]);
    int order = n >= 3 && bits2 < bits1 ? 2 : 1;
    int64_t c = 0;
    Tiers t3;
    if (order == 2) {
      // Steady increments (order 2 packed smaller than order 1): centred on their mean, which
      // the first and last mantissas give without a pass over the deltas.
      c = RoundedQuotient((m[n - 1] - m[0]) / gi, static_cast<int64_t>(n - 1));
      for (size_t i = 0; i + 1 < n; ++i) r3.push_back(ZigZag(d[i] - c));
      t3 = ChooseTiers(r3);
      if (c != 0 && t3.bits + 8 * VarintBytes(c) < bits2) order = 3;
    }
    vt = order == 1 ? t1 : order == 2 ? t2 : t3;
    if (vt.w2 > kMaxWidth) return out->clear(), false;
    hdr.push_back(1);
    hdr.push_back(static_cast<char>(e));
    PutVarint(&hdr, m[0]);
    hdr.push_back(static_cast<char>(order));
    if (order == 2) PutVarint(&hdr, d[0]);
    if (order == 3) PutVarint(&hdr, c);
    PutUvarint(&hdr, g);
    hdr.push_back(static_cast<char>(vt.kind));
    hdr.push_back(static_cast<char>(vt.w1));
    hdr.push_back(static_cast<char>(vt.w2));
    vres = order == 1 ? &r1 : order == 2 ? &r2 : &r3;
  }
  BitWriter w(out);
  for (uint64_t u : tres) w.Code(tt, u);
  if (vres != nullptr) {
    for (uint64_t u : *vres) w.Code(vt, u);
  }
  w.Finish();
  return true;
}

namespace {

// Times from the delta-of-delta codes (time mode 1): s[0].t is t0, s[1].t is t0 + d1.
template <int kKind>
bool DecodeTimes(BitReader* bits_in, const Tiers& tt, Sample* s, size_t n, int64_t t0, int64_t d1) {
  BitReader bits = *bits_in;  // a local copy stays in registers through the loop
  uint64_t t = static_cast<uint64_t>(t0) + static_cast<uint64_t>(d1);
  uint64_t d = static_cast<uint64_t>(d1);
  s[1].t = static_cast<int64_t>(t);
  for (size_t i = 2; i < n; ++i) {
    uint64_t u;
    if (!bits.Code<kKind>(tt, &u)) return false;
    d += static_cast<uint64_t>(UnZigZag(u));
    t += d;
    s[i].t = static_cast<int64_t>(t);
  }
  *bits_in = bits;
  return true;
}

// Values as m / 10^e, m from first (kOrder 1) or second (kOrder 2) differences in units of g;
// m is the header's m0; delta is, for kOrder 2, the first difference, for kOrder 1 a constant
// added to every difference (order 3's mean times g; 0 for order 1).
// kUnit: g == 1 (most series), so no multiplication per sample.
template <int kOrder, int kKind, bool kScaled, bool kUnit>
bool DecodeValues(BitReader* bits_in, const Tiers& tiers, Sample* s, size_t n, uint64_t m,
                  uint64_t delta, uint64_t g, double scale, bool* decreases) {
  BitReader bits = *bits_in;  // local copies stay in registers through the loop
  const Tiers vt = tiers;
  const auto value = [scale](uint64_t mm) {
    const auto d = static_cast<double>(static_cast<int64_t>(mm));
    return kScaled ? d / scale : d;
  };
  s[0].v = value(m);
  size_t i = 1;
  // The sign bits of every step of m, ORed: a value is below its predecessor only when a step
  // is negative (g > 0 and the scale are positive; m / scale is monotonic in m).
  uint64_t neg = 0;
  if constexpr (kOrder == 2) {
    m += delta;
    neg = delta;
    s[1].v = value(m);
    i = 2;
  }
  // A pointer walks the output (an index cost a copy, a shift and an add per sample).
  for (Sample *p = s + i, *const end = s + n; p != end; ++p) {
    uint64_t u;
    if (!bits.Code<kKind>(vt, &u)) return false;
    const uint64_t r =
        kUnit ? static_cast<uint64_t>(UnZigZag(u)) : static_cast<uint64_t>(UnZigZag(u)) * g;
    if constexpr (kOrder == 1) {
      const uint64_t step = r + delta;
      neg |= step;
      m += step;
    } else {
      delta += r;
      neg |= delta;
      m += delta;
    }
    p->v = value(m);
  }
  *bits_in = bits;
  *decreases = static_cast<int64_t>(neg) < 0;
  return true;
}

}  // namespace

Status DecodePackedChunk(std::string_view bytes, std::vector<Sample>* out, SampleFacts* facts) {
  if (facts != nullptr) *facts = SampleFacts{};
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  auto bad = [] { return Status::Corruption("packed chunk: truncated or malformed"); };
  if (bytes.size() < 2) return bad();
  const size_t n = (size_t{p[0]} << 8) | p[1];
  if (n == 0) return bad();
  ByteReader br(p + 2, bytes.size() - 2);
  int64_t t0 = 0, d1 = 0;
  uint8_t tmode = 0;
  Tiers tt;
  if (!br.Varint(&t0)) return bad();
  if (n >= 2) {
    if (!br.Varint(&d1) || !br.U8(&tmode) || tmode > 1) return bad();
    if (tmode == 1 && !br.Tier(&tt)) return bad();
  }
  uint8_t vmode;
  if (!br.U8(&vmode) || vmode > 1) return bad();
  uint64_t const_bits = 0;
  uint8_t e = 0, order = 1;
  int64_t m0 = 0, first_delta = 0;
  uint64_t g = 1;
  Tiers vt;
  if (vmode == 0) {
    uint8_t b[8];
    if (!br.Raw(b, 8)) return bad();
    for (int i = 0; i < 8; ++i) const_bits |= uint64_t{b[i]} << (8 * i);
  } else {
    if (!br.U8(&e) || e > kMaxExp || !br.Varint(&m0) || !br.U8(&order) || order < 1 || order > 3) {
      return bad();
    }
    // Order 2's first delta, order 3's mean delta (both in units of g).
    if (order >= 2 && (n < 3 || !br.Varint(&first_delta))) return bad();
    if (!br.Uvarint(&g) || g == 0 || g > (uint64_t{1} << 62) || !br.Tier(&vt)) return bad();
  }
  const size_t base = out->size();
  out->resize(base + n);
  Sample* s = out->data() + base;
  BitReader bits(br.pos(), br.remaining());
  // Timestamps.
  s[0].t = t0;
  if (n >= 2) {
    // Unsigned arithmetic: corrupt input wraps instead of overflowing.
    bool ok = true;
    if (tmode == 0) {
      // Four per iteration: one add and four stores instead of four adds, stores and loop
      // tests (7 instructions per sample were 6 % of a 24 h rate() over node_exporter data).
      const uint64_t d = static_cast<uint64_t>(d1);
      uint64_t t = static_cast<uint64_t>(t0);
      size_t i = 1;
      for (; i + 4 <= n; i += 4) {
        s[i].t = static_cast<int64_t>(t + d);
        s[i + 1].t = static_cast<int64_t>(t + 2 * d);
        s[i + 2].t = static_cast<int64_t>(t + 3 * d);
        t += 4 * d;
        s[i + 3].t = static_cast<int64_t>(t);
      }
      for (; i < n; ++i) {
        t += d;
        s[i].t = static_cast<int64_t>(t);
      }
    } else {
      ok = tt.kind == 1 ? DecodeTimes<1>(&bits, tt, s, n, t0, d1)
                        : DecodeTimes<0>(&bits, tt, s, n, t0, d1);
    }
    // The encoder only writes strictly increasing times. With one constant delta that is d1 > 0
    // without overflow; otherwise every pair is checked.
    int64_t last_t = 0;
    const bool steady = tmode == 0 && d1 > 0 &&
                        !__builtin_mul_overflow(d1, static_cast<int64_t>(n - 1), &last_t) &&
                        !__builtin_add_overflow(t0, last_t, &last_t);
    for (size_t i = 1; ok && i < n && !steady; ++i) ok = s[i].t > s[i - 1].t;
    if (!ok) {
      out->resize(base);
      return bad();
    }
  }
  // Time mode 0 with two or more samples is one constant step, d1 > 0 (checked above).
  const int64_t interval = n >= 2 && tmode == 0 ? d1 : 0;
  // Values.
  if (vmode == 0) {
    double v;
    std::memcpy(&v, &const_bits, sizeof v);
    for (size_t i = 0; i < n; ++i) s[i].v = v;
    if (facts != nullptr) {
      *facts = SampleFacts{.no_nan = !std::isnan(v), .no_decrease = true, .interval = interval};
    }
    return Status::Ok();
  }
  const double scale = kPow10[e];
  const uint64_t m = static_cast<uint64_t>(m0);
  const uint64_t delta = static_cast<uint64_t>(first_delta) * g;
  // One loop per (order, tier kind, scaled or not, unit g or not): nothing but the code is
  // tested per sample.
  using Fn = bool (*)(BitReader*, const Tiers&, Sample*, size_t, uint64_t, uint64_t, uint64_t,
                      double, bool*);
  static constexpr Fn kLoops[2][2][2][2] = {
      {{{DecodeValues<1, 0, false, false>, DecodeValues<1, 0, false, true>},
        {DecodeValues<1, 0, true, false>, DecodeValues<1, 0, true, true>}},
       {{DecodeValues<1, 1, false, false>, DecodeValues<1, 1, false, true>},
        {DecodeValues<1, 1, true, false>, DecodeValues<1, 1, true, true>}}},
      {{{DecodeValues<2, 0, false, false>, DecodeValues<2, 0, false, true>},
        {DecodeValues<2, 0, true, false>, DecodeValues<2, 0, true, true>}},
       {{DecodeValues<2, 1, false, false>, DecodeValues<2, 1, false, true>},
        {DecodeValues<2, 1, true, false>, DecodeValues<2, 1, true, true>}}},
  };
  bool decreases = true;
  if (!kLoops[order == 2 ? 1 : 0][vt.kind][e != 0][g == 1](&bits, vt, s, n, m, delta, g, scale,
                                                           &decreases)) {
    out->resize(base);
    return bad();
  }
  // A mantissa over a power of ten is never NaN.
  if (facts != nullptr) {
    *facts = SampleFacts{.no_nan = true, .no_decrease = !decreases, .interval = interval};
  }
  return Status::Ok();
}

ChunkEncoding EncodeChunk(const Sample* s, size_t n, std::string* out) {
  const bool ok = EncodePackedChunk(s, n, out);
  // XOR is written only when it is smaller; usually the count stops a few samples in.
  if (ok && XorChunkSize(s, n, out->size()) > out->size()) return ChunkEncoding::kPacked;
  XorChunk x;
  for (size_t i = 0; i < n; ++i) x.Append(s[i].t, s[i].v);
  if (ok && out->size() < x.SizeBytes()) return ChunkEncoding::kPacked;
  out->assign(x.Bytes());
  return ChunkEncoding::kXor;
}

}  // namespace kansoku::tsdb
