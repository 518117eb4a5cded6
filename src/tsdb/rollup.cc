#include "tsdb/rollup.h"

#include <zlib.h>

#include <cmath>

#include "tsdb/encoding.h"

namespace kansoku::tsdb {
namespace {

constexpr std::string_view kMagicV1 = "KSR1";  // chunks are XOR, no encoding byte
constexpr std::string_view kMagic = "KSR2";    // each chunk starts with its encoding byte

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

uint32_t Crc(std::string_view d) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
}

}  // namespace

void RollupBuilder::Add(int64_t t, double v) {
  const int64_t w = FloorDiv(t, res_);
  if (open_ && w != window_) Flush();
  if (!open_) {
    open_ = true;
    window_ = w;
    count_ = 0;
  }
  last_t_ = t;
  last_ = v;
  if (IsStaleNaN(v)) return;
  if (count_ == 0) {
    min_ = max_ = v;
    sum_ = 0;
  }
  // As PromQL's min/max_over_time: a NaN is replaced by any later value.
  if (std::isnan(min_) || v < min_) min_ = v;
  if (std::isnan(max_) || v > max_) max_ = v;
  sum_ += v;
  ++count_;
  last_value_t_ = t;
}

void RollupBuilder::Flush() {
  if (!open_) return;
  open_ = false;
  if (points_[static_cast<int>(RollupAgg::kLast)].size() >= XorChunk::kMaxSamples - 1) {
    overflow_ = true;  // absurdly wide block: no rollups rather than a partial one
    return;
  }
  points_[static_cast<int>(RollupAgg::kLast)].push_back({last_t_, last_});
  if (count_ > 0) {
    points_[static_cast<int>(RollupAgg::kMin)].push_back({last_value_t_, min_});
    points_[static_cast<int>(RollupAgg::kMax)].push_back({last_value_t_, max_});
    points_[static_cast<int>(RollupAgg::kSum)].push_back({last_value_t_, sum_});
    points_[static_cast<int>(RollupAgg::kCount)].push_back(
        {last_value_t_, static_cast<double>(count_)});
  }
}

RollupChunks RollupBuilder::Finish() {
  Flush();
  RollupChunks out;
  if (overflow_) return out;
  std::string bytes;
  for (int i = 0; i < kNumRollupAggs; ++i) {
    if (points_[i].empty()) continue;
    const ChunkEncoding e = EncodeChunk(points_[i].data(), points_[i].size(), &bytes);
    out[i].push_back(static_cast<char>(e));
    out[i].append(bytes);
  }
  return out;
}

std::string EncodeRollupFile(int64_t resolution_ms, const std::vector<RollupChunks>& series) {
  std::string out(kMagic);
  enc::PutUvarint(&out, static_cast<uint64_t>(resolution_ms));
  enc::PutUvarint(&out, series.size());
  for (const auto& s : series) {
    for (const auto& c : s) enc::PutString(&out, c);
  }
  enc::PutU32(&out, Crc(out));
  out.append(kMagic);
  return out;
}

Result<RollupTable> RollupTable::Decode(std::string data, size_t expected_series) {
  if (data.size() < 2 * kMagic.size() + 4) return Status::Corruption("rollup file: too short");
  const std::string_view magic = std::string_view(data).substr(0, 4);
  const bool v1 = magic == kMagicV1;
  if ((!v1 && magic != kMagic) || std::string_view(data).substr(data.size() - 4) != magic) {
    return Status::Corruption("rollup file: bad magic");
  }
  const size_t body = data.size() - 8;
  if (Crc(std::string_view(data).substr(0, body)) != enc::GetU32(data.data() + body)) {
    return Status::Corruption("rollup file: checksum mismatch");
  }
  RollupTable t;
  enc::Decoder d(std::string_view(data).substr(kMagic.size(), body - kMagic.size()));
  t.res_ = static_cast<int64_t>(d.Uvarint());
  const uint64_t n = d.Uvarint();
  if (!d.ok() || n != expected_series) {
    return Status::Corruption("rollup file: series count " + std::to_string(n) +
                              " does not match the index (" + std::to_string(expected_series) +
                              ")");
  }
  t.index_.resize(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    for (int a = 0; a < kNumRollupAggs; ++a) {
      std::string_view c = d.String();
      Ref r;
      if (!v1 && !c.empty()) {
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

Status RollupTable::Points(size_t id, RollupAgg agg, std::vector<Sample>* out) const {
  const std::string_view c = Chunk(id, agg);
  if (c.empty()) return Status::Ok();
  const ChunkEncoding e = Encoding(id, agg);
  return e == ChunkEncoding::kPacked ? DecodePackedChunk(c, out) : DecodeXorChunk(c, out);
}

std::vector<RollupTable::Part> RollupTable::Parts(size_t id) const {
  static constexpr const char* kNames[] = {"min", "max", "sum", "count", "last"};
  std::vector<Part> out;
  for (int a = 0; a < kNumRollupAggs; ++a) {
    const std::string_view c = Chunk(id, static_cast<RollupAgg>(a));
    Part p;
    p.name = kNames[a];
    p.bytes = c.size() + (c.empty() ? 1 : 2);  // length varint (1 byte here) + encoding byte
    p.encoding = c.empty() ? 0 : static_cast<int>(Encoding(id, static_cast<RollupAgg>(a)));
    p.points =
        c.size() >= 2 ? (size_t{static_cast<uint8_t>(c[0])} << 8) | static_cast<uint8_t>(c[1]) : 0;
    out.push_back(std::move(p));
  }
  return out;
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
