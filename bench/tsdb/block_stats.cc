// kansoku_block_stats: where the bytes of a kansoku tsdb directory go (issue 3, bytes/sample).
//
// For every block directory b-* under DIR (a data dir's tsdb/): samples, series, and the bytes of
// chunks, index (labels / chunk refs / postings; and what zlib would make of it) and each rollup
// file; inside rollup files the bytes, points and encodings per field (min, max, sum, count,
// last, and for KSR3 the shared timestamp column).
// --reencode also rebuilds every block's rollups from its raw samples with the current encoder
// (rollup.cc) and prints their size and the CPU time it took, so an encoding change can be
// measured on the same data without another ingest; it also reads every aggregate of every
// series back and exits 1 on the first value or time that is not bit-identical.
//
// --chunks instead breaks the chunks files down: per chunk kind (XOR, packed with constant
// values, packed decimal) and per metric name, chunks, samples, bytes of chunk data and of the
// per-chunk overhead (the chunks file's record framing plus the index's chunk reference).
//
// --codes prints what the packed-decimal chunks' value residuals (the bulk of the bytes) would
// take in other codes: the current two-tier code, three tiers, Rice with the best parameter per
// chunk (quotient capped at 16, then an escape), and the entropy of the residuals' width classes
// plus their payload bits (a bound for any code that sends a width class and then the bits).
//
// Usage: kansoku_block_stats DIR [--reencode [OUT_DIR] | --chunks | --codes]
//   (OUT_DIR: write the re-encoded files)
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "tsdb/bitpack.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"
#include "tsdb/encoding.h"
#include "tsdb/rollup.h"
#include "tsdb/series_iter.h"

namespace fs = std::filesystem;
using kansoku::Status;
using namespace kansoku::tsdb;  // NOLINT: a small tool

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

size_t Deflated(std::string_view s) {
  uLongf n = compressBound(static_cast<uLong>(s.size()));
  std::string out(n, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(s.data()),
                static_cast<uLong>(s.size()), 6) != Z_OK)
    return 0;
  return n;
}

struct IndexStats {
  uint64_t labels = 0, chunk_refs = 0, postings = 0, total = 0, deflated = 0;
  uint64_t series = 0, label_string_bytes = 0, symbols = 0;
};

IndexStats IndexBreakdown(const std::string& data) {
  IndexStats st;
  st.total = data.size();
  if (data.size() < 40) return st;
  const bool v1 = data.compare(0, 4, "KSI1") == 0;
  const size_t footer = data.size() - (v1 ? 24 : 32);
  const uint64_t symbols_off = v1 ? 0 : enc::GetU64(data.data() + footer);
  const uint64_t series_off = enc::GetU64(data.data() + footer + (v1 ? 0 : 8));
  const uint64_t postings_off = enc::GetU64(data.data() + footer + (v1 ? 8 : 16));
  if (!v1) st.symbols = series_off - symbols_off;
  enc::Decoder d(std::string_view(data).substr(series_off, postings_off - series_off));
  st.series = d.Uvarint();
  for (uint64_t i = 0; i < st.series && d.ok(); ++i) {
    size_t before = d.remaining();
    const uint64_t nl = d.Uvarint();
    for (uint64_t j = 0; j < 2 * nl; ++j) {
      if (v1) {
        st.label_string_bytes += d.String().size();
      } else {
        d.Uvarint();
      }
    }
    st.labels += before - d.remaining();
    before = d.remaining();
    const uint64_t nc = d.Uvarint();
    for (uint64_t j = 0; j < nc; ++j) {
      d.Varint();
      d.Uvarint();
      d.Uvarint();
    }
    st.chunk_refs += before - d.remaining();
  }
  st.postings = footer - postings_off;
  st.deflated = Deflated(data);
  return st;
}

constexpr const char* kAggNames[] = {"min", "max", "sum", "count", "last"};

struct FieldStats {
  uint64_t bytes = 0, points = 0, chunks = 0, xor_chunks = 0, packed_chunks = 0;
  uint64_t xor_bytes = 0, packed_bytes = 0;
};

// Per resolution: per field, plus what the points look like.
struct RollupStats {
  uint64_t file_bytes = 0, series = 0;
  std::map<std::string, FieldStats> fields;
  uint64_t windows = 0, same_ts = 0, max_eq_last = 0, min_eq_prev_last = 0, count_const_series = 0,
           sum_decimal = 0, sum_points = 0;
};

bool IsDecimal(double v) {
  if (!std::isfinite(v)) return false;
  for (int e = 0; e <= 12; ++e) {
    const double p = std::pow(10.0, e);
    if (std::fabs(v) * p >= 9007199254740992.0) return false;
    const double r = std::round(v * p);
    if (r / p == v) return true;
  }
  return false;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

void RollupBreakdown(const std::string& path, size_t nseries, RollupStats* st) {
  const std::string data = ReadAll(path);
  st->file_bytes += data.size();
  auto t = RollupTable::Decode(data, nseries);
  if (!t.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), t.status().ToString().c_str());
    return;
  }
  st->series += nseries;
  for (size_t i = 0; i < nseries; ++i) {
    std::vector<Sample> pts[kNumRollupAggs];
    for (int a = 0; a < kNumRollupAggs; ++a) {
      std::vector<Sample>& v = pts[a];
      Status s = t->Points(i, static_cast<RollupAgg>(a), &v);
      if (!s.ok()) std::fprintf(stderr, "series %zu: %s\n", i, s.ToString().c_str());
    }
    for (const auto& f : t->Parts(i)) {
      FieldStats& fs = st->fields[f.name];
      fs.bytes += f.bytes;
      if (f.bytes > 0) ++fs.chunks;
      if (f.encoding == 1) ++fs.xor_chunks, fs.xor_bytes += f.bytes;
      if (f.encoding == 2) ++fs.packed_chunks, fs.packed_bytes += f.bytes;
      fs.points += f.points;
    }
    const auto& last = pts[4];
    const auto& mn = pts[0];
    const auto& mx = pts[1];
    const auto& sum = pts[2];
    const auto& cnt = pts[3];
    st->windows += last.size();
    // Windows with values: match by timestamp.
    size_t j = 0;
    double prev_last = 0;
    bool have_prev = false;
    for (size_t k = 0; k < last.size(); ++k) {
      if (j < mn.size() && mn[j].t == last[k].t) {
        ++st->same_ts;
        if (Bits(mx[j].v) == Bits(last[k].v)) ++st->max_eq_last;
        if (have_prev && Bits(mn[j].v) == Bits(prev_last)) ++st->min_eq_prev_last;
        ++j;
      }
      prev_last = last[k].v;
      have_prev = true;
    }
    bool cc = !cnt.empty();
    for (size_t k = 1; k < cnt.size(); ++k) cc &= cnt[k].v == cnt[0].v;
    st->count_const_series += cc;
    for (const auto& s : sum) {
      ++st->sum_points;
      st->sum_decimal += IsDecimal(s.v);
    }
  }
}

struct ChunkKindStats {
  uint64_t chunks = 0, samples = 0, data_bytes = 0, framing_bytes = 0;
};

size_t UvarintLen(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

// Samples a chunk's header announces (u16 big-endian at offset 0 in both encodings); 0 when
// the bytes are too short.
uint32_t ChunkSamples(std::string_view data) {
  return data.size() >= 2
             ? (uint32_t{static_cast<uint8_t>(data[0])} << 8) | static_cast<uint8_t>(data[1])
             : 0;
}

// Kind of a chunk: "xor", "packed-const" (vmode 0) or "packed-decimal"; "?" when its header does
// not parse (the block's readers would report Corruption).
const char* ChunkKind(const ChunkRef& c) {
  if (c.encoding == ChunkEncoding::kXor) return "xor";
  enc::Decoder d(c.data.substr(std::min<size_t>(2, c.data.size())));
  const uint32_t n = ChunkSamples(c.data);
  d.Varint();
  if (n >= 2) {
    d.Varint();
    if (d.U8() == 1) {
      d.U8(), d.U8(), d.U8();
    }
  }
  const uint8_t vmode = d.U8();
  if (!d.ok()) return "?";
  return vmode == 0 ? "packed-const" : "packed-decimal";
}

// Per kind and per metric name, over every block of the directory.
void ChunkBreakdown(const std::vector<std::string>& blocks) {
  std::map<std::string, ChunkKindStats> kinds, metrics;
  ChunkKindStats total;
  for (const auto& b : blocks) {
    auto blk = Block::Open(b);
    if (!blk.ok()) {
      std::fprintf(stderr, "%s: %s\n", b.c_str(), blk.status().ToString().c_str());
      continue;
    }
    for (size_t id = 0; id < (*blk)->NumSeries(); ++id) {
      std::vector<ChunkRef> refs;
      if (!(*blk)->AppendChunks(id, INT64_MIN, INT64_MAX, &refs).ok()) continue;
      const Labels labels = (*blk)->LabelsOf(id);
      std::string metric = "(none)";
      for (const auto& l : labels) {
        if (l.name == "__name__") metric = l.value;
      }
      for (const ChunkRef& c : refs) {
        const uint64_t n = ChunkSamples(c.data);
        // Record: uvarint len + encoding byte + CRC32; index: three varints, ~2+3+2 bytes.
        const uint64_t framing = UvarintLen(c.data.size()) + 1 + 4 + 7;
        for (ChunkKindStats* st : {&kinds[ChunkKind(c)], &metrics[metric], &total}) {
          ++st->chunks;
          st->samples += n;
          st->data_bytes += c.data.size();
          st->framing_bytes += framing;
        }
      }
    }
  }
  const auto row = [&](const std::string& name, const ChunkKindStats& st) {
    std::printf("  %-44s %8llu %11llu %11llu %6.3f %6.3f %5.1f%%\n", name.c_str(),
                static_cast<unsigned long long>(st.chunks),
                static_cast<unsigned long long>(st.samples),
                static_cast<unsigned long long>(st.data_bytes),
                static_cast<double>(st.data_bytes) / static_cast<double>(st.samples),
                static_cast<double>(st.framing_bytes) / static_cast<double>(st.samples),
                100.0 * static_cast<double>(st.data_bytes + st.framing_bytes) /
                    static_cast<double>(total.data_bytes + total.framing_bytes));
  };
  std::printf("%-46s %8s %11s %11s %6s %6s %6s\n", "chunks by kind", "chunks", "samples", "data_B",
              "B/smp", "frm/s", "share");
  for (const auto& [k, st] : kinds) row(k, st);
  row("total", total);
  std::vector<std::pair<std::string, ChunkKindStats>> by(metrics.begin(), metrics.end());
  std::sort(by.begin(), by.end(), [](const auto& a, const auto& b) {
    return a.second.data_bytes + a.second.framing_bytes >
           b.second.data_bytes + b.second.framing_bytes;
  });
  std::printf("\n%-46s\n", "chunks by metric (most bytes first)");
  for (const auto& [m, st] : by) row(m, st);
}

// Sizes of the packed-decimal chunks' value residuals under other codes (--codes). The
// residuals are rebuilt as EncodePackedChunk builds them (exponent, common divisor, order; the
// order-3 choice approximately: header varints counted as one byte).
void CodeCosts(const std::vector<std::string>& blocks) {
  using namespace bitpack;  // NOLINT(google-build-using-namespace)
  double cur = 0, t3 = 0, rice = 0, went = 0, nres = 0;
  for (const auto& b : blocks) {
    auto blk = Block::Open(b);
    if (!blk.ok()) continue;
    for (size_t id = 0; id < (*blk)->NumSeries(); ++id) {
      std::vector<ChunkRef> refs;
      if (!(*blk)->AppendChunks(id, INT64_MIN, INT64_MAX, &refs).ok()) continue;
      for (const ChunkRef& c : refs) {
        if (c.encoding != ChunkEncoding::kPacked || std::string(ChunkKind(c)) != "packed-decimal")
          continue;
        std::vector<Sample> s;
        if (!DecodePackedChunk(c.data, &s, nullptr).ok()) continue;
        const size_t n = s.size();
        int e = 0;
        std::vector<int64_t> m(n);
        for (size_t i = 0; i < n; ++i)
          while (!DecimalAt(s[i].v, e, &m[i])) ++e;
        for (size_t i = 0; i < n; ++i) DecimalAt(s[i].v, e, &m[i]);
        uint64_t g = 0;
        for (size_t i = 1; i < n; ++i) {
          const int64_t d = m[i] - m[i - 1];
          g = std::gcd(g, static_cast<uint64_t>(d < 0 ? -d : d));
        }
        if (g == 0) g = 1;
        const auto gi = static_cast<int64_t>(g);
        std::vector<uint64_t> r1, r2;
        for (size_t i = 1; i < n; ++i) r1.push_back(ZigZag((m[i] - m[i - 1]) / gi));
        for (size_t i = 2; i < n; ++i)
          r2.push_back(ZigZag(((m[i] - m[i - 1]) - (m[i - 1] - m[i - 2])) / gi));
        Tiers a = ChooseTiers(r1), bb = ChooseTiers(r2);
        const bool second = n >= 3 && bb.bits + 8 < a.bits;
        // Order 3 (docs/design/tsdb-chunks.md) where order 2 beat order 1: deltas less their
        // mean, when that packs smaller (its header varint counted as 8 bits).
        std::vector<uint64_t> r3;
        bool third = false;
        if (second) {
          const auto steps = static_cast<int64_t>(n - 1);
          const double mean =
              static_cast<double>((m[n - 1] - m[0]) / gi) / static_cast<double>(steps);
          const auto c = static_cast<int64_t>(std::llround(mean));
          for (size_t i = 1; i < n; ++i) r3.push_back(ZigZag((m[i] - m[i - 1]) / gi - c));
          third = c != 0 && ChooseTiers(r3).bits + 8 < bb.bits + 8;
        }
        const auto& us = third ? r3 : second ? r2 : r1;
        cur += static_cast<double>(third ? ChooseTiers(r3).bits : (second ? bb : a).bits);
        nres += static_cast<double>(us.size());
        // 3 tiers: "0"+w1 | "10"+w2 | "11"+wmax
        uint64_t hist[65] = {};
        int wmax = 0;
        for (uint64_t u : us) ++hist[Width(u)], wmax = std::max(wmax, Width(u));
        double best3 = 1e18;
        for (int w1 = 0; w1 <= wmax; ++w1)
          for (int w2 = w1; w2 <= wmax; ++w2) {
            double c3 = 0;
            for (int w = 0; w <= wmax; ++w)
              c3 += static_cast<double>(hist[w]) * (w <= w1 ? 1 + w1 : w <= w2 ? 2 + w2 : 2 + wmax);
            best3 = std::min(best3, c3);
          }
        t3 += best3;
        // Rice with parameter k, unary quotient capped at 16 then escape (16 zeros + wmax bits).
        double bestr = 1e18;
        for (int k = 0; k <= wmax; ++k) {
          double cr = 0;
          for (uint64_t u : us) {
            const uint64_t q = u >> k;
            cr += q < 16 ? static_cast<double>(q + 1 + k) : 16 + wmax;
          }
          bestr = std::min(bestr, cr);
        }
        rice += bestr;
        // Width-class entropy + (w-1) payload bits: a lower bound for width-based codes.
        double h = 0;
        for (int w = 0; w <= wmax; ++w) {
          if (hist[w] == 0) continue;
          const double p = static_cast<double>(hist[w]) / static_cast<double>(us.size());
          h += static_cast<double>(hist[w]) * (-std::log2(p) + std::max(0, w - 1));
        }
        went += h;
      }
    }
  }
  std::printf("residuals %.0f: bytes tier2 %.0f, tier3 %.0f, rice %.0f, width-entropy %.0f\n", nres,
              cur / 8, t3 / 8, rice / 8, went / 8);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [--reencode [OUT_DIR] | --chunks | --codes]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const bool reencode = argc > 2 && std::string(argv[2]) == "--reencode";
  const bool chunks = argc > 2 && std::string(argv[2]) == "--chunks";
  const char* dump_dir = argc > 3 ? argv[3] : nullptr;  // writes the re-encoded files there
  std::vector<std::string> blocks;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("b-", 0) == 0 && n.find(".tmp") == std::string::npos)
      blocks.push_back(e.path().string());
  }
  std::sort(blocks.begin(), blocks.end());
  if (argc > 2 && std::string(argv[2]) == "--codes") {
    CodeCosts(blocks);
    return 0;
  }
  if (chunks) {
    ChunkBreakdown(blocks);
    return 0;
  }
  uint64_t tot_samples = 0, tot_chunks = 0, tot_index = 0, tot_rollup = 0, tot_re = 0;
  double tot_re_s = 0;
  std::map<int64_t, RollupStats> all;
  std::printf("%-12s %5s %6s %11s %11s %6s %10s %10s %10s %10s\n", "block", "level", "hours",
              "samples", "chunks_B", "B/smp", "index_B", "idx_zlib", "r5m_B", "r1h_B");
  for (const auto& b : blocks) {
    auto meta = ReadBlockMeta(b + "/meta");
    if (!meta.ok()) continue;
    const uint64_t cb = FileSize(b + "/chunks");
    const std::string idx = ReadAll(b + "/index");
    const IndexStats is = IndexBreakdown(idx);
    const uint64_t r5 = FileSize(b + "/rollup-300000"), r1 = FileSize(b + "/rollup-3600000");
    std::printf(
        "%-12s %5d %6.1f %11llu %11llu %6.3f %10llu %10llu %10llu %10llu\n",
        fs::path(b).filename().c_str(), meta->level,
        static_cast<double>(meta->maxt - meta->mint) / 3.6e6,
        static_cast<unsigned long long>(meta->num_samples), static_cast<unsigned long long>(cb),
        static_cast<double>(cb) / static_cast<double>(meta->num_samples),
        static_cast<unsigned long long>(idx.size()), static_cast<unsigned long long>(is.deflated),
        static_cast<unsigned long long>(r5), static_cast<unsigned long long>(r1));
    std::printf(
        "    index: series %llu, symbols %llu B, labels %llu B (inline strings %llu B), "
        "chunk refs %llu B, postings %llu B\n",
        static_cast<unsigned long long>(is.series), static_cast<unsigned long long>(is.symbols),
        static_cast<unsigned long long>(is.labels),
        static_cast<unsigned long long>(is.label_string_bytes),
        static_cast<unsigned long long>(is.chunk_refs),
        static_cast<unsigned long long>(is.postings));
    tot_samples += meta->num_samples;
    tot_chunks += cb;
    tot_index += idx.size();
    tot_rollup += r5 + r1;
    for (int64_t r : kRollupResolutions) {
      const std::string p = b + "/rollup-" + std::to_string(r);
      if (fs::exists(p)) RollupBreakdown(p, is.series, &all[r]);
    }
    if (reencode) {
      auto blk = Block::Open(b);
      if (!blk.ok()) {
        std::fprintf(stderr, "%s: %s\n", b.c_str(), blk.status().ToString().c_str());
        continue;
      }
      auto series = (*blk)->Select({}, meta->mint, meta->maxt);
      if (!series.ok()) continue;
      const auto t0 = std::chrono::steady_clock::now();
      uint64_t bytes = 0, bytes_v2 = 0;
      for (int64_t r : kRollupResolutions) {
        if ((meta->maxt - meta->mint) / r > 60000) continue;
        std::vector<std::string> rs;
        std::vector<std::vector<RollupWindow>> ws;
        rs.reserve(series->size());
        for (auto& s : *series) {
          MergedSeriesIterator it(s.chunks, meta->mint, meta->maxt);
          RollupBuilder rb(r);
          while (it.Next()) rb.Add(it.At().t, it.At().v);
          ws.push_back(rb.Finish());
          rs.push_back(EncodeRollupSeries(ws.back()));
        }
        const std::string file = EncodeRollupFile(r, rs);
        bytes += file.size();
        bytes_v2 += EncodeRollupFileV2(r, ws).size();
        if (dump_dir != nullptr) {
          std::ofstream(std::string(dump_dir) + "/" + fs::path(b).filename().string() + "-rollup-" +
                            std::to_string(r),
                        std::ios::binary)
              << file;
        }
        // Every aggregate of every series must read back bit for bit.
        auto t = RollupTable::Decode(file, ws.size());
        for (size_t i = 0; t.ok() && i < ws.size(); ++i) {
          for (int a = 0; a < kNumRollupAggs; ++a) {
            std::vector<Sample> got;
            Status st = t->Points(i, static_cast<RollupAgg>(a), &got);
            size_t j = 0;
            bool same = st.ok();
            for (const auto& x : ws[i]) {
              if (!same) break;
              if (a != 4 && x.count == 0) continue;
              const double v = a == 0   ? x.min
                               : a == 1 ? x.max
                               : a == 2 ? x.sum
                               : a == 3 ? static_cast<double>(x.count)
                                        : x.last;
              const int64_t ts = a == 4 ? x.t_last : x.t_value;
              same = j < got.size() && got[j].t == ts && Bits(got[j].v) == Bits(v);
              ++j;
            }
            if (!same || j != got.size()) {
              std::fprintf(stderr, "MISMATCH block %s res %lld series %zu agg %d\n", b.c_str(),
                           static_cast<long long>(r), i, a);
              return 1;
            }
          }
        }
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf(
          "    reencoded rollups: KSR3 %llu B, KSR2 %llu B (on disk %llu), %.2f s incl. raw "
          "decode and check\n",
          static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(bytes_v2),
          static_cast<unsigned long long>(r5 + r1), secs);
      tot_re += bytes;
      tot_re_s += secs;
    }
  }
  const double n = static_cast<double>(tot_samples);
  std::printf("\ntotal: %llu samples; chunks %.3f B/sample, index %.3f, rollups %.3f",
              static_cast<unsigned long long>(tot_samples), tot_chunks / n, tot_index / n,
              tot_rollup / n);
  if (reencode) std::printf(" (re-encoded: %.3f, %.1f s)", tot_re / n, tot_re_s);
  std::printf("\n");
  for (const auto& [r, st] : all) {
    std::printf("\nrollup-%lld: %llu B = %.3f B/raw sample; %llu windows (%.2f B/window)\n",
                static_cast<long long>(r), static_cast<unsigned long long>(st.file_bytes),
                st.file_bytes / n, static_cast<unsigned long long>(st.windows),
                static_cast<double>(st.file_bytes) / static_cast<double>(st.windows));
    for (const auto& [name, f] : st.fields) {
      std::printf(
          "  %-6s %10llu B  %.2f B/point  points %9llu  chunks %7llu  xor %7llu (%llu B)"
          "  packed %7llu (%llu B)\n",
          name.c_str(), static_cast<unsigned long long>(f.bytes),
          f.points ? static_cast<double>(f.bytes) / static_cast<double>(f.points) : 0.0,
          static_cast<unsigned long long>(f.points), static_cast<unsigned long long>(f.chunks),
          static_cast<unsigned long long>(f.xor_chunks),
          static_cast<unsigned long long>(f.xor_bytes),
          static_cast<unsigned long long>(f.packed_chunks),
          static_cast<unsigned long long>(f.packed_bytes));
    }
    std::printf(
        "  windows with values stamped like last: %.4f; max==last: %.4f; "
        "min==previous last: %.4f; series with constant count: %.4f; sum decimal: %.4f\n",
        static_cast<double>(st.same_ts) / st.windows,
        static_cast<double>(st.max_eq_last) / st.same_ts,
        static_cast<double>(st.min_eq_prev_last) / st.same_ts,
        static_cast<double>(st.count_const_series) / st.series,
        static_cast<double>(st.sum_decimal) / st.sum_points);
  }
  return 0;
}
