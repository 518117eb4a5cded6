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
// Usage: kansoku_block_stats DIR [--reencode [OUT_DIR]]  (OUT_DIR: write the re-encoded files)
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tsdb/block.h"
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [--reencode]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const bool reencode = argc > 2 && std::string(argv[2]) == "--reencode";
  const char* dump_dir = argc > 3 ? argv[3] : nullptr;  // writes the re-encoded files there
  std::vector<std::string> blocks;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("b-", 0) == 0 && n.find(".tmp") == std::string::npos)
      blocks.push_back(e.path().string());
  }
  std::sort(blocks.begin(), blocks.end());
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
