#include "tsdb/rollup.h"

#include <zlib.h>

#include <cmath>
#include <numeric>

#include "tsdb/bitpack.h"
#include "tsdb/encoding.h"

namespace kansoku::tsdb {
namespace {

using namespace bitpack;  // NOLINT(google-build-using-namespace): the helpers this file uses

constexpr std::string_view kMagicV1 = "KSR1";  // chunks are XOR, no encoding byte
constexpr std::string_view kMagicV2 = "KSR2";  // five chunks per series, each with its encoding
constexpr std::string_view kMagic = "KSR3";    // one record per series (tsdb-block.md)

// KSR3 record: value modes, decimal column ids, tier kinds.
constexpr uint8_t kModeDecimal = 1, kModeFloat = 2;
enum Col : uint8_t { kColLast = 0, kColMax = 1, kColMin = 2, kColSum = 3, kNumValueCols = 4 };
constexpr int kColUlp = 4;  // the sum's correction in units in the last place (no exceptions)
constexpr uint8_t kAllZero = 2;
constexpr int64_t kMaxUlp = int64_t{1} << 30;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

uint32_t Crc(std::string_view d) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
}

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// Wrapping arithmetic: damaged records must not overflow (UB); valid ones never wrap.
int64_t Add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t Sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
// The sum's prediction: count × (min + max) / 2 in mantissas.
int64_t SumPrediction(uint64_t count, int64_t mn, int64_t mx) {
  return Mul(static_cast<int64_t>(count), Add(mn, mx)) >> 1;
}
uint64_t Abs(int64_t v) { return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v); }

// Smallest exponent at which v is a decimal mantissa below 2^53; -1 if none.
int MinExponent(double v) {
  int64_t m;
  for (int e = 0; e <= kMaxExp; ++e) {
    if (DecimalAt(v, e, &m)) return e;
  }
  return -1;
}

// One residual column of the decimal mode: header (tier kind, widths, divisor) + codes.
struct Column {
  std::vector<int64_t> r;  // residuals (exceptions: 0)
  uint64_t g = 1;
  Tiers t;
  std::vector<uint64_t> codes;
  bool Prepare(bool divisor) {
    g = 0;
    if (divisor) {
      for (int64_t x : r) g = std::gcd(g, Abs(x));
    }
    if (g == 0 || g > (uint64_t{1} << 62)) g = 1;
    codes.clear();
    bool zero = true;
    for (int64_t x : r) {
      codes.push_back(ZigZag(x / static_cast<int64_t>(g)));
      zero &= x == 0;
    }
    if (zero) {
      t = {kAllZero, 0, 0, 0};
      return true;
    }
    t = ChooseTiers(codes);
    return t.w2 <= kMaxWidth;
  }
  size_t Bits() const { return t.kind == kAllZero ? 0 : t.bits; }
  void PutHeader(std::string* out, bool divisor) const {
    out->push_back(static_cast<char>(t.kind));
    if (t.kind == kAllZero) return;
    out->push_back(static_cast<char>(t.w1));
    out->push_back(static_cast<char>(t.w2));
    if (divisor) PutUvarint(out, g);
  }
  void PutCodes(BitWriter* w) const {
    if (t.kind == kAllZero) return;
    for (uint64_t u : codes) w->Code(t, u);
  }
};

struct Exception {
  uint8_t col;
  uint32_t index;  // window (last) or value window (max, min, sum)
  uint64_t bits;
};

// Decimal mode: false when it does not apply (no common exponent, residuals too wide).
bool EncodeDecimal(const std::vector<RollupWindow>& w, const std::vector<uint32_t>& vw,
                   std::string* out) {
  const size_t n = w.size(), nv = vw.size();
  // The exponent: each value's smallest one, then the e that minimises ~80 bits per value
  // needing more (an exception) plus ~3.3 bits per value and digit (one odd value, such as a
  // counter's first sample with 11 fraction digits, must not widen every mantissa).
  size_t hist[kMaxExp + 2] = {};  // [e + 1]; [0]: no exponent
  auto count = [&](double v) { ++hist[MinExponent(v) + 1]; };
  for (const auto& x : w) count(x.last);
  for (uint32_t k : vw) count(w[k].min), count(w[k].max);
  int e = 0;
  double best = 0;
  size_t above = n + 2 * nv - hist[0] - hist[1];  // values whose smallest exponent is > e
  for (int c = 0; c <= kMaxExp; ++c) {
    if (c > 0) above -= hist[c + 1];
    const double cost =
        80.0 * static_cast<double>(above + hist[0]) + 3.33 * c * static_cast<double>(n + 2 * nv);
    if (c == 0 || cost < best) {
      best = cost;
      e = c;
    }
  }
  std::vector<Exception> exc;
  auto mant = [&](double v, uint8_t col, uint32_t idx, int64_t pred, int64_t* m) {
    if (DecimalAt(v, e, m)) return true;
    exc.push_back({col, idx, Bits(v)});
    *m = pred;
    return false;
  };
  // last: order 1 (deltas) or 2 (delta-of-deltas); both computed, the smaller kept.
  std::vector<int64_t> raw(n);
  std::vector<bool> is_exc(n);
  for (size_t k = 0; k < n; ++k) is_exc[k] = !DecimalAt(w[k].last, e, &raw[k]);
  std::vector<int64_t> lstate[2];
  Column lcol[2];
  int64_t first_delta = 0;
  for (int order = 1; order <= 2; ++order) {
    std::vector<int64_t>& lm = lstate[order - 1];
    Column& c = lcol[order - 1];
    lm.resize(n);
    lm[0] = is_exc[0] ? 0 : raw[0];
    for (size_t k = 1; k < n; ++k) {
      int64_t p;
      if (order == 1) {
        p = lm[k - 1];
      } else if (k == 1) {
        first_delta = is_exc[1] ? 0 : Sub(raw[1], lm[0]);
        lm[1] = Add(lm[0], first_delta);
        continue;
      } else {
        p = Sub(Add(lm[k - 1], lm[k - 1]), lm[k - 2]);
      }
      lm[k] = is_exc[k] ? p : raw[k];
      c.r.push_back(Sub(lm[k], p));
    }
    if (!c.Prepare(true)) c.t.bits = UINT64_MAX / 4;
  }
  const bool order2 = n >= 3 && lcol[1].Bits() + 8 < lcol[0].Bits();
  if (!order2 && lcol[0].t.bits == UINT64_MAX / 4) return false;
  const std::vector<int64_t>& lm = lstate[order2 ? 1 : 0];
  const Column& lc = lcol[order2 ? 1 : 0];
  for (size_t k = 0; k < n; ++k) {
    if (is_exc[k]) exc.push_back({kColLast, static_cast<uint32_t>(k), Bits(w[k].last)});
  }
  // max against the same window's last.
  Column xc, nc[2], sc, uc;
  std::vector<int64_t> xm(nv), nm(nv);
  for (size_t j = 0; j < nv; ++j) {
    const int64_t p = lm[vw[j]];
    mant(w[vw[j]].max, kColMax, static_cast<uint32_t>(j), p, &xm[j]);
    xc.r.push_back(Sub(xm[j], p));
  }
  // min against the same window's last (0) or the previous window's (1).
  std::vector<Exception> min_exc;
  for (size_t j = 0; j < nv; ++j) {
    const int64_t p0 = lm[vw[j]], p1 = lm[vw[j] == 0 ? 0 : vw[j] - 1];
    int64_t m;
    if (DecimalAt(w[vw[j]].min, e, &m)) {
      nm[j] = m;
      nc[0].r.push_back(Sub(m, p0));
      nc[1].r.push_back(Sub(m, p1));
    } else {
      min_exc.push_back({kColMin, static_cast<uint32_t>(j), Bits(w[vw[j]].min)});
      nm[j] = INT64_MIN;  // fixed below once the predictor is known
      nc[0].r.push_back(0);
      nc[1].r.push_back(0);
    }
  }
  if (!xc.Prepare(true)) return false;
  const bool ok0 = nc[0].Prepare(true), ok1 = nc[1].Prepare(true);
  if (!ok0 && !ok1) return false;
  const int minpred = !ok0 || (ok1 && nc[1].Bits() < nc[0].Bits()) ? 1 : 0;
  for (size_t j = 0; j < nv; ++j) {
    if (nm[j] == INT64_MIN && !min_exc.empty()) {
      // An exception's state is its prediction. (A real mantissa is > -2^53, never INT64_MIN.)
      nm[j] = minpred == 0 ? lm[vw[j]] : lm[vw[j] == 0 ? 0 : vw[j] - 1];
    }
  }
  exc.insert(exc.end(), min_exc.begin(), min_exc.end());
  // sum against count × (min + max) / 2, plus its correction in ulps.
  for (size_t j = 0; j < nv; ++j) {
    const RollupWindow& x = w[vw[j]];
    const int64_t p = SumPrediction(x.count, nm[j], xm[j]);
    int64_t m = 0, ulp = 0;
    bool ok = std::isfinite(x.sum) && std::fabs(x.sum) * kPow10[e] < kTwo53;
    if (ok) {
      m = std::llround(x.sum * kPow10[e]);
      const double q = static_cast<double>(m) / kPow10[e];
      ulp = static_cast<int64_t>(Bits(x.sum) - Bits(q));
      ok = (Bits(x.sum) >> 63) == (Bits(q) >> 63) && ulp > -kMaxUlp && ulp < kMaxUlp;
    }
    if (!ok) {
      exc.push_back({kColSum, static_cast<uint32_t>(j), Bits(x.sum)});
      m = p;
      ulp = 0;
    }
    sc.r.push_back(Sub(m, p));
    uc.r.push_back(ulp);
  }
  if (!sc.Prepare(true) || !uc.Prepare(false)) return false;
  std::stable_sort(exc.begin(), exc.end(), [](const Exception& a, const Exception& b) {
    return a.col != b.col ? a.col < b.col : a.index < b.index;
  });

  out->push_back(static_cast<char>(kModeDecimal));
  out->push_back(static_cast<char>(e));
  out->push_back(static_cast<char>((order2 ? 1 : 0) | (minpred << 1)));
  PutVarint(out, lm[0]);
  if (order2) PutVarint(out, first_delta);
  lc.PutHeader(out, true);
  if (nv > 0) {
    xc.PutHeader(out, true);
    nc[minpred].PutHeader(out, true);
    sc.PutHeader(out, true);
    uc.PutHeader(out, false);
  }
  PutUvarint(out, exc.size());
  int prev_col = -1;
  int64_t prev = -1;
  for (const auto& x : exc) {
    if (x.col != prev_col) prev = -1;
    out->push_back(static_cast<char>(x.col));
    PutUvarint(out, static_cast<uint64_t>(x.index - prev - 1));
    for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(x.bits >> (8 * i)));
    prev_col = x.col;
    prev = x.index;
  }
  BitWriter bw(out);
  lc.PutCodes(&bw);
  if (nv > 0) {
    xc.PutCodes(&bw);
    nc[minpred].PutCodes(&bw);
    sc.PutCodes(&bw);
    uc.PutCodes(&bw);
  }
  bw.Finish();
  return true;
}

// Float mode: each value column as the smaller of a packed and an XOR chunk over times 0, 1, ...
void EncodeFloat(const std::vector<RollupWindow>& w, const std::vector<uint32_t>& vw,
                 std::string* out) {
  out->push_back(static_cast<char>(kModeFloat));
  std::vector<Sample> s;
  std::string bytes;
  auto put = [&] {
    const ChunkEncoding e = EncodeChunk(s.data(), s.size(), &bytes);
    out->push_back(static_cast<char>(e));
    PutUvarint(out, bytes.size());
    out->append(bytes);
  };
  for (size_t k = 0; k < w.size(); ++k) s.push_back({static_cast<int64_t>(k), w[k].last});
  put();
  if (vw.empty()) return;
  for (int col = kColMax; col <= kColSum; ++col) {
    if (col == kColMax && std::all_of(vw.begin(), vw.end(), [&](uint32_t k) {
          return Bits(w[k].max) == Bits(w[k].last);
        })) {
      out->push_back(0);  // a counter's max: its window's last, every time
      continue;
    }
    s.clear();
    for (size_t j = 0; j < vw.size(); ++j) {
      const RollupWindow& x = w[vw[j]];
      s.push_back({static_cast<int64_t>(j), col == kColMax   ? x.max
                                            : col == kColMin ? x.min
                                                             : x.sum});
    }
    put();
  }
}

// A decoded KSR3 record: what the requested aggregate needs (later columns may be left out).
struct Decoded {
  std::vector<int64_t> t_last;
  std::vector<double> last;
  std::vector<uint32_t> vw;  // windows with count > 0
  std::vector<uint64_t> count;
  std::vector<int64_t> t_value;  // per value window
  std::vector<double> max, min, sum;
  std::vector<RollupTable::Part>* parts = nullptr;
};

Status Bad() { return Status::Corruption("rollup record: truncated or malformed"); }

// Whether a record has a window with count > 0 (the counts come first); true when malformed, so
// that the decoder reports it.
bool HasValueWindows(std::string_view rec) {
  ByteReader br(reinterpret_cast<const uint8_t*>(rec.data()), rec.size());
  uint64_t n, runs, c, len;
  if (!br.Uvarint(&n) || !br.Uvarint(&runs)) return true;
  for (uint64_t i = 0; i < runs && i < n; ++i) {
    if (!br.Uvarint(&c) || !br.Uvarint(&len)) return true;
    if (c > 0) return true;
  }
  return runs == 0 || runs > n;
}

bool ReadTierHeader(ByteReader* br, Tiers* t, uint64_t* g, bool divisor) {
  if (!br->U8(&t->kind) || t->kind > kAllZero) return false;
  *g = 1;
  if (t->kind == kAllZero) return true;
  if (!br->U8(&t->w1) || !br->U8(&t->w2) || t->w1 > t->w2 || t->w2 > kMaxWidth) return false;
  if (divisor && (!br->Uvarint(g) || *g == 0 || *g > (uint64_t{1} << 62))) return false;
  return true;
}

bool ReadCode(BitReader* bits, const Tiers& t, uint64_t g, int64_t* r) {
  uint64_t u = 0;
  if (t.kind != kAllZero && !bits->Code(t, &u)) return false;
  *r = Mul(UnZigZag(u), static_cast<int64_t>(g));
  return true;
}

// Decodes the record up to the column `want` needs (kNumRollupAggs: everything).
Status DecodeRecord(std::string_view rec, int want, Decoded* d) {
  const auto* p = reinterpret_cast<const uint8_t*>(rec.data());
  ByteReader br(p, rec.size());
  auto part = [&](const char* name, size_t bytes, size_t points) {
    if (d->parts != nullptr) d->parts->push_back({name, bytes, 0, points});
  };
  uint64_t n;
  if (!br.Uvarint(&n) || n == 0 || n > RollupBuilder::kMaxWindows) return Bad();
  // Counts, run-length coded.
  uint64_t runs;
  if (!br.Uvarint(&runs) || runs > n) return Bad();
  d->count.clear();
  d->count.reserve(n);
  for (uint64_t i = 0; i < runs; ++i) {
    uint64_t c, len;
    if (!br.Uvarint(&c) || !br.Uvarint(&len) || len == 0 || len > n - d->count.size()) return Bad();
    d->count.insert(d->count.end(), len, c);
  }
  if (d->count.size() != n) return Bad();
  // Times of the windows' last samples.
  int64_t t0 = 0, d1 = 0;
  uint8_t tmode = 0;
  Tiers tt;
  if (!br.Varint(&t0)) return Bad();
  if (n >= 2 && (!br.Varint(&d1) || !br.U8(&tmode) || tmode > 1 || (tmode == 1 && !br.Tier(&tt))))
    return Bad();
  d->t_last.resize(n);
  d->t_last[0] = t0;
  if (n >= 2) {
    BitReader tbits(br.pos(), br.remaining());
    int64_t dt = d1;
    d->t_last[1] = Add(t0, d1);
    for (size_t k = 2; k < n; ++k) {
      if (tmode == 1) {
        uint64_t u;
        if (!tbits.Code(tt, &u)) return Bad();
        dt = Add(dt, UnZigZag(u));
      }
      d->t_last[k] = Add(d->t_last[k - 1], dt);
    }
    if (!br.Skip((tbits.pos() + 7) / 8)) return Bad();
  }
  for (size_t k = 1; k < n; ++k) {
    if (d->t_last[k] <= d->t_last[k - 1]) return Bad();
  }
  const size_t time_end = static_cast<size_t>(br.pos() - p);
  part("time", time_end, n);
  for (uint32_t k = 0; k < n; ++k) {
    if (d->count[k] > 0) d->vw.push_back(k);
  }
  const size_t nv = d->vw.size();
  // Windows whose value time is before their last sample's.
  uint64_t nt;
  if (!br.Uvarint(&nt) || nt > nv) return Bad();
  std::vector<std::pair<uint64_t, uint64_t>> tv(nt);
  for (uint64_t i = 0, prev = 0; i < nt; ++i) {
    uint64_t delta, diff;
    if (!br.Uvarint(&delta) || !br.Uvarint(&diff) || diff == 0 || delta >= n) return Bad();
    const uint64_t idx = (i == 0 ? 0 : prev + 1) + delta;
    if (idx >= n || d->count[idx] == 0) return Bad();
    tv[i] = {idx, diff};
    prev = idx;
  }
  uint8_t mode;
  if (!br.U8(&mode) || (mode != kModeDecimal && mode != kModeFloat)) return Bad();
  // Decimal header.
  uint8_t e = 0, flags = 0;
  int64_t l0 = 0, first_delta = 0;
  Tiers ct[5];
  uint64_t cg[5] = {1, 1, 1, 1, 1};
  std::vector<Exception> exc;
  if (mode == kModeDecimal) {
    if (!br.U8(&e) || e > kMaxExp || !br.U8(&flags) || flags > 3 || !br.Varint(&l0)) return Bad();
    if ((flags & 1) != 0 && (n < 3 || !br.Varint(&first_delta))) return Bad();
    if (!ReadTierHeader(&br, &ct[kColLast], &cg[kColLast], true)) return Bad();
    if (nv > 0) {
      for (int c = kColMax; c <= kColUlp; ++c) {
        if (!ReadTierHeader(&br, &ct[c], &cg[c], c != kColUlp)) return Bad();
      }
    }
    uint64_t ne;
    if (!br.Uvarint(&ne) || ne > n + 3 * nv) return Bad();
    exc.resize(ne);
    int prev_col = -1;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < ne; ++i) {
      uint8_t col, b[8];
      uint64_t delta;
      if (!br.U8(&col) || col >= kNumValueCols || col < prev_col || !br.Uvarint(&delta) ||
          !br.Raw(b, 8)) {
        return Bad();
      }
      const uint64_t limit = col == kColLast ? n : nv;
      const uint64_t idx = (col != prev_col ? 0 : prev + 1) + delta;
      if (delta >= limit || idx >= limit) return Bad();
      uint64_t bits = 0;
      for (int k = 0; k < 8; ++k) bits |= uint64_t{b[k]} << (8 * k);
      exc[i] = {col, static_cast<uint32_t>(idx), bits};
      prev_col = col;
      prev = idx;
    }
  }
  part("header", static_cast<size_t>(br.pos() - p) - time_end, n);
  BitReader bits(br.pos(), br.remaining());
  d->t_value.resize(nv);
  for (size_t j = 0, i = 0; j < nv; ++j) {
    const uint32_t k = d->vw[j];
    int64_t t = d->t_last[k];
    if (i < tv.size() && tv[i].first == k) {
      t = Sub(t, static_cast<int64_t>(tv[i++].second));
      if (t >= d->t_last[k] || (k > 0 && t <= d->t_last[k - 1])) return Bad();
    }
    d->t_value[j] = t;
  }
  if (want == static_cast<int>(RollupAgg::kCount)) return Status::Ok();
  size_t ei = 0;
  auto exception = [&](int col, uint32_t idx, double* v) {
    if (ei < exc.size() && exc[ei].col == col && exc[ei].index == idx) {
      *v = FromBits(exc[ei++].bits);
      return true;
    }
    return false;
  };
  size_t mark = bits.pos();
  auto column_done = [&](const char* name, size_t points) {
    part(name, (bits.pos() - mark + 7) / 8, points);
    mark = bits.pos();
  };
  if (mode == kModeFloat) {
    std::vector<Sample> s;
    auto column = [&](size_t expect, std::vector<double>* out) {
      uint8_t enc;
      uint64_t len;
      if (!br.U8(&enc)) return false;
      if (enc == 0 && out == &d->max) {  // the last of each value window
        out->resize(expect);
        for (size_t j = 0; j < expect; ++j) (*out)[j] = d->last[d->vw[j]];
        part("float", 1, expect);
        return true;
      }
      if (!br.Uvarint(&len) || len > br.remaining()) return false;
      std::string_view c(reinterpret_cast<const char*>(br.pos()), len);
      br.Skip(len);
      s.clear();
      const bool ok =
          enc == static_cast<uint8_t>(ChunkEncoding::kPacked) ? DecodePackedChunk(c, &s).ok()
          : enc == static_cast<uint8_t>(ChunkEncoding::kXor)  ? DecodeXorChunk(c, &s).ok()
                                                              : false;
      if (!ok || s.size() != expect) return false;
      out->resize(expect);
      for (size_t i = 0; i < expect; ++i) {
        if (s[i].t != static_cast<int64_t>(i)) return false;
        (*out)[i] = s[i].v;
      }
      part("float", len + 2, expect);
      return true;
    };
    if (!column(n, &d->last)) return Bad();
    if (want == static_cast<int>(RollupAgg::kLast) || nv == 0) return Status::Ok();
    if (!column(nv, &d->max) || !column(nv, &d->min) || !column(nv, &d->sum)) return Bad();
    return Status::Ok();
  }
  const double scale = kPow10[e];
  // last.
  std::vector<int64_t> lm(n);
  d->last.resize(n);
  lm[0] = l0;
  const bool order2 = (flags & 1) != 0;
  for (size_t k = 1; k < n; ++k) {
    int64_t r;
    if (order2 && k == 1) {
      lm[1] = Add(l0, first_delta);
      continue;
    }
    if (!ReadCode(&bits, ct[kColLast], cg[kColLast], &r)) return Bad();
    const int64_t pr = order2 ? Sub(Add(lm[k - 1], lm[k - 1]), lm[k - 2]) : lm[k - 1];
    lm[k] = Add(pr, r);
  }
  for (size_t k = 0; k < n; ++k) {
    if (!exception(kColLast, static_cast<uint32_t>(k), &d->last[k])) {
      d->last[k] = static_cast<double>(lm[k]) / scale;
    }
  }
  column_done("last", n);
  if (want == static_cast<int>(RollupAgg::kLast) || nv == 0) return Status::Ok();
  // max.
  std::vector<int64_t> xm(nv), nm(nv);
  d->max.resize(nv);
  for (size_t j = 0; j < nv; ++j) {
    int64_t r;
    if (!ReadCode(&bits, ct[kColMax], cg[kColMax], &r)) return Bad();
    xm[j] = Add(lm[d->vw[j]], r);
    if (!exception(kColMax, static_cast<uint32_t>(j), &d->max[j])) {
      d->max[j] = static_cast<double>(xm[j]) / scale;
    }
  }
  column_done("max", nv);
  if (want == static_cast<int>(RollupAgg::kMax)) return Status::Ok();
  d->min.resize(nv);
  for (size_t j = 0; j < nv; ++j) {
    int64_t r;
    if (!ReadCode(&bits, ct[kColMin], cg[kColMin], &r)) return Bad();
    const uint32_t k = d->vw[j];
    nm[j] = Add((flags & 2) != 0 ? lm[k == 0 ? 0 : k - 1] : lm[k], r);
    if (!exception(kColMin, static_cast<uint32_t>(j), &d->min[j])) {
      d->min[j] = static_cast<double>(nm[j]) / scale;
    }
  }
  column_done("min", nv);
  if (want == static_cast<int>(RollupAgg::kMin)) return Status::Ok();
  d->sum.resize(nv);
  std::vector<int64_t> sm(nv);
  for (size_t j = 0; j < nv; ++j) {
    int64_t r;
    if (!ReadCode(&bits, ct[kColSum], cg[kColSum], &r)) return Bad();
    sm[j] = Add(SumPrediction(d->count[d->vw[j]], nm[j], xm[j]), r);
  }
  column_done("sum", nv);
  for (size_t j = 0; j < nv; ++j) {
    int64_t ulp;
    if (!ReadCode(&bits, ct[kColUlp], 1, &ulp)) return Bad();
    if (!exception(kColSum, static_cast<uint32_t>(j), &d->sum[j])) {
      const double q = static_cast<double>(sm[j]) / scale;
      d->sum[j] = FromBits(Bits(q) + static_cast<uint64_t>(ulp));
    }
  }
  column_done("sum_ulp", nv);
  part("exceptions (in header)", exc.size() * 10, exc.size());
  return Status::Ok();
}

}  // namespace

void RollupBuilder::Add(int64_t t, double v) {
  const int64_t w = FloorDiv(t, res_);
  if (open_ && w != window_) Flush();
  if (!open_) {
    open_ = true;
    window_ = w;
    cur_ = RollupWindow{};
  }
  cur_.t_last = t;
  cur_.last = v;
  if (IsStaleNaN(v)) return;
  if (cur_.count == 0) {
    cur_.min = cur_.max = v;
    cur_.sum = 0;
  }
  // As PromQL's min/max_over_time: a NaN is replaced by any later value.
  if (std::isnan(cur_.min) || v < cur_.min) cur_.min = v;
  if (std::isnan(cur_.max) || v > cur_.max) cur_.max = v;
  cur_.sum += v;
  ++cur_.count;
  cur_.t_value = t;
}

void RollupBuilder::Flush() {
  if (!open_) return;
  open_ = false;
  if (windows_.size() >= kMaxWindows) {
    overflow_ = true;  // absurdly wide block: no rollups rather than a partial one
    return;
  }
  if (cur_.count == 0) {  // only stale markers: no value point (fields fixed for the encoder)
    cur_.t_value = cur_.t_last;
    cur_.min = cur_.max = cur_.sum = 0;
  }
  windows_.push_back(cur_);
}

std::vector<RollupWindow> RollupBuilder::Finish() {
  Flush();
  if (overflow_) return {};
  return std::move(windows_);
}

std::string EncodeRollupSeries(const std::vector<RollupWindow>& w) {
  std::string out;
  const size_t n = w.size();
  if (n == 0) return out;
  KANSOKU_CHECK(n <= RollupBuilder::kMaxWindows, "BUG: too many rollup windows");
  PutUvarint(&out, n);
  // Counts: runs of equal values.
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (const auto& x : w) {
    if (!runs.empty() && runs.back().first == x.count) {
      ++runs.back().second;
    } else {
      runs.push_back({x.count, 1});
    }
  }
  PutUvarint(&out, runs.size());
  for (const auto& [c, len] : runs) {
    PutUvarint(&out, c);
    PutUvarint(&out, len);
  }
  PutVarint(&out, w[0].t_last);
  std::vector<uint64_t> tres;
  Tiers tt;
  if (n >= 2) {
    const int64_t d1 = w[1].t_last - w[0].t_last;
    PutVarint(&out, d1);
    for (size_t k = 2; k < n; ++k) {
      tres.push_back(ZigZag((w[k].t_last - w[k - 1].t_last) - (w[k - 1].t_last - w[k - 2].t_last)));
    }
    const bool regular = std::all_of(tres.begin(), tres.end(), [](uint64_t u) { return u == 0; });
    if (regular) {
      out.push_back(0);
      tres.clear();
    } else {
      tt = ChooseTiers(tres);
      // Window times are within 2^57 ms of each other in any block a DB writes.
      KANSOKU_CHECK(tt.w2 <= kMaxWidth, "BUG: rollup window times too far apart");
      out.push_back(1);
      out.push_back(static_cast<char>(tt.kind));
      out.push_back(static_cast<char>(tt.w1));
      out.push_back(static_cast<char>(tt.w2));
      BitWriter tw(&out);  // the n-2 codes, padded to a byte
      for (uint64_t u : tres) tw.Code(tt, u);
      tw.Finish();
    }
  }
  std::vector<uint32_t> vw;
  for (uint32_t k = 0; k < n; ++k) {
    if (w[k].count > 0) vw.push_back(k);
  }
  std::vector<std::pair<uint32_t, uint64_t>> tv;
  for (uint32_t k : vw) {
    if (w[k].t_value != w[k].t_last) {
      tv.push_back({k, static_cast<uint64_t>(w[k].t_last - w[k].t_value)});
    }
  }
  PutUvarint(&out, tv.size());
  for (size_t i = 0; i < tv.size(); ++i) {
    PutUvarint(&out, tv[i].first - (i == 0 ? 0 : tv[i - 1].first + 1));
    PutUvarint(&out, tv[i].second);
  }
  // Values: the decimal mode when it applies and is smaller, else the float mode.
  std::string dec, flt;
  const bool have_dec = EncodeDecimal(w, vw, &dec);
  EncodeFloat(w, vw, &flt);
  out.append(have_dec && dec.size() <= flt.size() ? dec : flt);
  return out;
}

std::string EncodeRollupFile(int64_t resolution_ms, const std::vector<std::string>& records) {
  std::string out(kMagic);
  enc::PutUvarint(&out, static_cast<uint64_t>(resolution_ms));
  enc::PutUvarint(&out, records.size());
  for (const auto& r : records) enc::PutString(&out, r);
  enc::PutU32(&out, Crc(out));
  out.append(kMagic);
  return out;
}

std::string EncodeRollupFileV2(int64_t resolution_ms,
                               const std::vector<std::vector<RollupWindow>>& series) {
  std::string out(kMagicV2);
  enc::PutUvarint(&out, static_cast<uint64_t>(resolution_ms));
  enc::PutUvarint(&out, series.size());
  std::string bytes, c;
  for (const auto& w : series) {
    std::array<std::vector<Sample>, kNumRollupAggs> pts;
    for (const auto& x : w) {
      pts[static_cast<int>(RollupAgg::kLast)].push_back({x.t_last, x.last});
      if (x.count == 0) continue;
      pts[static_cast<int>(RollupAgg::kMin)].push_back({x.t_value, x.min});
      pts[static_cast<int>(RollupAgg::kMax)].push_back({x.t_value, x.max});
      pts[static_cast<int>(RollupAgg::kSum)].push_back({x.t_value, x.sum});
      pts[static_cast<int>(RollupAgg::kCount)].push_back({x.t_value, static_cast<double>(x.count)});
    }
    for (const auto& p : pts) {
      c.clear();
      if (!p.empty()) {
        c.push_back(static_cast<char>(EncodeChunk(p.data(), p.size(), &bytes)));
        c.append(bytes);
      }
      enc::PutString(&out, c);
    }
  }
  enc::PutU32(&out, Crc(out));
  out.append(kMagicV2);
  return out;
}

Result<RollupTable> RollupTable::Decode(std::string data, size_t expected_series) {
  if (data.size() < 2 * kMagic.size() + 4) return Status::Corruption("rollup file: too short");
  const std::string_view magic = std::string_view(data).substr(0, 4);
  const int version = magic == kMagicV1 ? 1 : magic == kMagicV2 ? 2 : magic == kMagic ? 3 : 0;
  if (version == 0 || std::string_view(data).substr(data.size() - 4) != magic) {
    return Status::Corruption("rollup file: bad magic");
  }
  const size_t body = data.size() - 8;
  if (Crc(std::string_view(data).substr(0, body)) != enc::GetU32(data.data() + body)) {
    return Status::Corruption("rollup file: checksum mismatch");
  }
  RollupTable t;
  t.version_ = version;
  enc::Decoder d(std::string_view(data).substr(kMagic.size(), body - kMagic.size()));
  t.res_ = static_cast<int64_t>(d.Uvarint());
  const uint64_t n = d.Uvarint();
  if (!d.ok() || n != expected_series) {
    return Status::Corruption("rollup file: series count " + std::to_string(n) +
                              " does not match the index (" + std::to_string(expected_series) +
                              ")");
  }
  t.index_.resize(n);
  const int per_series = version == 3 ? 1 : kNumRollupAggs;
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    for (int a = 0; a < per_series; ++a) {
      std::string_view c = d.String();
      Ref r;
      if (version == 2 && !c.empty()) {
        const auto e = static_cast<uint8_t>(c[0]);
        if (e != static_cast<uint8_t>(ChunkEncoding::kXor) &&
            e != static_cast<uint8_t>(ChunkEncoding::kPacked)) {
          return Status::Corruption("rollup file: unknown chunk encoding " + std::to_string(e));
        }
        r.encoding = static_cast<ChunkEncoding>(e);
        c.remove_prefix(1);
      }
      r.offset = static_cast<size_t>(c.data() - data.data());
      r.length = c.size();
      t.index_[i][a] = r;
    }
  }
  if (!d.ok() || !d.done()) return Status::Corruption("rollup file: truncated or trailing bytes");
  t.data_ = std::move(data);  // offsets stay valid: they index the same bytes
  return t;
}

std::string_view RollupTable::ChunkFor(size_t id, RollupAgg agg, ChunkEncoding* encoding) const {
  if (version_ == 3) {
    const Ref& r = index_[id][0];
    *encoding = static_cast<ChunkEncoding>(0x80 + static_cast<int>(agg));
    const std::string_view rec = std::string_view(data_).substr(r.offset, r.length);
    if (agg != RollupAgg::kLast && !rec.empty() && !HasValueWindows(rec)) return {};
    return rec;
  }
  const Ref& r = index_[id][static_cast<int>(agg)];
  *encoding = r.encoding;
  return std::string_view(data_).substr(r.offset, r.length);
}

Status RollupTable::Points(size_t id, RollupAgg agg, std::vector<Sample>* out) const {
  ChunkEncoding e;
  const std::string_view c = ChunkFor(id, agg, &e);
  if (c.empty()) return Status::Ok();
  return e == ChunkEncoding::kPacked ? DecodePackedChunk(c, out)
         : e == ChunkEncoding::kXor  ? DecodeXorChunk(c, out)
                                     : DecodeRollupChunk(c, e, out);
}

std::vector<RollupTable::Part> RollupTable::Parts(size_t id) const {
  static constexpr const char* kNames[] = {"min", "max", "sum", "count", "last"};
  std::vector<Part> out;
  if (version_ == 3) {
    const Ref& r = index_[id][0];
    if (r.length == 0) return out;
    Decoded d;
    d.parts = &out;
    (void)DecodeRecord(std::string_view(data_).substr(r.offset, r.length), -1, &d);
    out.push_back({"framing", r.length < 128 ? 1u : 2u, 0, 0});
    return out;
  }
  for (int a = 0; a < kNumRollupAggs; ++a) {
    const std::string_view c =
        std::string_view(data_).substr(index_[id][a].offset, index_[id][a].length);
    Part p;
    p.name = kNames[a];
    p.bytes = c.size() + (c.empty() ? 1 : 2);  // length varint (1 byte here) + encoding byte
    p.encoding = c.empty() ? 0 : static_cast<int>(index_[id][a].encoding);
    p.points =
        c.size() >= 2 ? (size_t{static_cast<uint8_t>(c[0])} << 8) | static_cast<uint8_t>(c[1]) : 0;
    out.push_back(std::move(p));
  }
  return out;
}

Status DecodeRollupChunk(std::string_view record, ChunkEncoding e, std::vector<Sample>* out) {
  const int agg = static_cast<int>(e) - 0x80;
  if (agg < 0 || agg >= kNumRollupAggs) return Status::Corruption("chunk: unknown encoding");
  Decoded d;
  KANSOKU_RETURN_IF_ERROR(DecodeRecord(record, agg, &d));
  if (agg == static_cast<int>(RollupAgg::kLast)) {
    for (size_t k = 0; k < d.t_last.size(); ++k) out->push_back({d.t_last[k], d.last[k]});
    return Status::Ok();
  }
  const std::vector<double>* v = agg == static_cast<int>(RollupAgg::kMin)   ? &d.min
                                 : agg == static_cast<int>(RollupAgg::kMax) ? &d.max
                                 : agg == static_cast<int>(RollupAgg::kSum) ? &d.sum
                                                                            : nullptr;
  for (size_t j = 0; j < d.vw.size(); ++j) {
    out->push_back({d.t_value[j], v != nullptr ? (*v)[j] : static_cast<double>(d.count[d.vw[j]])});
  }
  return Status::Ok();
}

std::optional<RollupChoice> ChooseRollup(const SelectHints& hints) {
  std::optional<RollupAgg> agg;
  const std::string& f = hints.func;
  if (f == "rate" || f == "increase" || f == "delta" || f == "last_over_time") {
    agg = RollupAgg::kLast;
  } else if (f == "max_over_time") {
    agg = RollupAgg::kMax;
  } else if (f == "min_over_time") {
    agg = RollupAgg::kMin;
  } else if (f == "sum_over_time") {
    agg = RollupAgg::kSum;
  }
  if (!agg || hints.range <= 0 || hints.step <= 0) return std::nullopt;
  for (auto it = std::rbegin(kRollupResolutions); it != std::rend(kRollupResolutions); ++it) {
    const int64_t r = *it;
    if (hints.step >= r && hints.range >= 6 * r) return RollupChoice{r, *agg};
  }
  return std::nullopt;
}

}  // namespace kansoku::tsdb
