#include "tsdb/fuzz_entry.h"

#include <zlib.h>

#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "tsdb/block.h"
#include "tsdb/chunk.h"
#include "tsdb/encoding.h"
#include "tsdb/exemplars.h"
#include "tsdb/rollup.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {
namespace {

uint32_t Crc32(uint32_t crc, std::string_view s) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// Reads every sample (so ASan sees any bad access) and checks the decoded run.
void IterateChunk(std::string_view bytes, ChunkEncoding e) {
  ChunkIterator it(bytes, e);
  std::vector<Sample> got;
  while (it.Next()) got.push_back(it.At());
  if (e == ChunkEncoding::kXor) {
    // The bulk decoder yields exactly what the iterator yields, or fails where it fails.
    std::vector<Sample> bulk;
    const Status st = DecodeXorChunk(bytes, &bulk);
    KANSOKU_CHECK(st.ok() == it.status().ok(), "BUG: bulk XOR decode disagrees on the status");
    KANSOKU_CHECK(!st.ok() ? bulk.empty() : bulk.size() == got.size(),
                  "BUG: bulk XOR decode disagrees on the samples");
    for (size_t i = 0; st.ok() && i < got.size(); ++i) {
      KANSOKU_CHECK(
          bulk[i].t == got[i].t && std::memcmp(&bulk[i].v, &got[i].v, sizeof(double)) == 0,
          "BUG: bulk XOR decode disagrees on a sample");
    }
  }
  if (!got.empty()) {
    ChunkIterator seek(bytes, e);
    (void)seek.Seek(got[got.size() / 2].t);
  }
  if (!it.status().ok() || got.empty()) return;
  // Encoders take strictly increasing times whose delta-of-deltas fit int64.
  constexpr int64_t kLimit = int64_t{1} << 61;
  bool increasing = got[0].t > -kLimit && got[0].t < kLimit;
  for (size_t i = 1; i < got.size(); ++i) {
    increasing &= got[i - 1].t < got[i].t && got[i].t < kLimit;
  }
  if (!increasing || got.size() > XorChunk::kMaxSamples) return;
  // What decoded cleanly re-encodes and decodes to the same samples, bit for bit.
  std::string enc;
  const ChunkEncoding e2 = EncodeChunk(got.data(), got.size(), &enc);
  ChunkIterator again(enc, e2);
  size_t i = 0;
  while (again.Next()) {
    const Sample s = again.At();
    KANSOKU_CHECK(
        i < got.size() && s.t == got[i].t && std::memcmp(&s.v, &got[i].v, sizeof s.v) == 0,
        "BUG: chunk round trip changed a sample");
    ++i;
  }
  KANSOKU_CHECK(again.status().ok() && i == got.size(), "BUG: chunk round trip lost samples");
}

Status DecodePayload(WalRecordType type, std::string_view payload) {
  switch (type) {
    case WalRecordType::kSeries: {
      // Type 1 is also the exemplar log's only record type (exemplars.h).
      Labels series;
      Exemplar e;
      (void)DecodeExemplarRecord(payload, &series, &e);
      std::vector<WalSeries> v;
      return DecodeWalSeries(payload, &v);
    }
    case WalRecordType::kSymbolSeries: {
      std::vector<WalSeries> v;
      return DecodeWalSymbolSeries(payload, &v);
    }
    case WalRecordType::kSamples: {
      std::vector<WalSample> v;
      return DecodeWalSamples(payload, &v);
    }
    case WalRecordType::kMetadata: {
      std::vector<WalMetadata> v;
      return DecodeWalMetadata(payload, &v);
    }
    case WalRecordType::kChunks: {
      std::vector<WalChunk> v;
      KANSOKU_RETURN_IF_ERROR(DecodeWalChunks(payload, &v));
      for (const auto& c : v) IterateChunk(c.data, c.encoding);
      return Status::Ok();
    }
  }
  return Status::Corruption("unknown record type");
}

}  // namespace

int FuzzChunk(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ChunkEncoding e = (data[0] & 1) != 0 ? ChunkEncoding::kPacked : ChunkEncoding::kXor;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  IterateChunk(bytes, e);
  if (e == ChunkEncoding::kPacked) {
    std::vector<Sample> out;
    (void)DecodePackedChunk(bytes, &out);
  }
  return 0;
}

int FuzzWalRecords(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  std::string buf(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((mode & 2) != 0) {
    const auto type = static_cast<WalRecordType>(static_cast<uint8_t>(buf[0]) % 4 + 1);
    (void)DecodePayload(type, std::string_view(buf).substr(1));
    return 0;
  }
  if ((mode & 1) != 0) {
    // Give each frame (u32 length, u32 crc, u8 type) the CRC of its bytes as far as they go.
    size_t off = 0;
    while (buf.size() - off >= 9) {
      uint32_t len = 0;
      for (int i = 0; i < 4; ++i) len |= uint32_t{static_cast<uint8_t>(buf[off + i])} << (8 * i);
      const size_t avail = buf.size() - off - 9;
      const size_t n = len < avail ? len : avail;
      uint32_t crc = Crc32(0, std::string_view(buf).substr(off + 8, 1));
      crc = Crc32(crc, std::string_view(buf).substr(off + 9, n));
      PutU32(buf.data() + off + 4, crc);
      off += 9 + n;
    }
  }
  size_t end = 0;
  std::string problem;
  (void)ScanWalRecords(buf, DecodePayload, &end, &problem);
  KANSOKU_CHECK(end <= buf.size(), "BUG: WAL scan ended past its input");
  return 0;
}

// A KSR3 record that decodes cleanly: its points are in strictly increasing time order, and the
// windows they describe encode (EncodeRollupSeries) into a record that decodes to the same
// points, bit for bit.
void CheckRollupRoundTrip(const RollupTable& t, size_t id) {
  std::array<std::vector<Sample>, kNumRollupAggs> pts;
  for (int a = 0; a < kNumRollupAggs; ++a) {
    if (!t.Points(id, static_cast<RollupAgg>(a), &pts[a]).ok()) return;
    for (size_t j = 1; j < pts[a].size(); ++j) {
      KANSOKU_CHECK(pts[a][j - 1].t < pts[a][j].t, "BUG: rollup points out of time order");
    }
  }
  const auto& last = pts[static_cast<int>(RollupAgg::kLast)];
  const auto& count = pts[static_cast<int>(RollupAgg::kCount)];
  constexpr int64_t kLimit = int64_t{1} << 54;  // window time deltas the encoder takes
  std::vector<RollupWindow> ws;
  size_t j = 0;
  for (size_t k = 0; k < last.size(); ++k) {
    if (last[k].t <= -kLimit || last[k].t >= kLimit) return;
    RollupWindow w;
    w.t_last = w.t_value = last[k].t;
    w.last = last[k].v;
    if (j < count.size() && count[j].t <= last[k].t) {
      if (!(count[j].v >= 1 && count[j].v < 9007199254740992.0)) return;
      w.t_value = count[j].t;
      w.count = static_cast<uint64_t>(count[j].v);
      w.min = pts[static_cast<int>(RollupAgg::kMin)][j].v;
      w.max = pts[static_cast<int>(RollupAgg::kMax)][j].v;
      w.sum = pts[static_cast<int>(RollupAgg::kSum)][j].v;
      ++j;
    }
    ws.push_back(w);
  }
  KANSOKU_CHECK(j == count.size(), "BUG: rollup value points outside their windows");
  if (ws.empty()) return;  // an empty record (no windows)
  const std::string rec = EncodeRollupSeries(ws);
  for (int a = 0; a < kNumRollupAggs; ++a) {
    std::vector<Sample> again;
    const Status st = DecodeRollupChunk(rec, static_cast<ChunkEncoding>(0x80 + a), &again);
    KANSOKU_CHECK(st.ok() && again.size() == pts[a].size(), "BUG: rollup re-encode lost points");
    for (size_t k = 0; k < again.size(); ++k) {
      KANSOKU_CHECK(again[k].t == pts[a][k].t &&
                        std::bit_cast<uint64_t>(again[k].v) == std::bit_cast<uint64_t>(pts[a][k].v),
                    "BUG: rollup round trip changed a point");
    }
  }
}

int FuzzBlockFiles(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string buf(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((mode & 2) == 0) {
    // Index: ... u32 CRC of everything before it, "KSI1".
    if ((mode & 1) != 0 && buf.size() >= 8) {
      PutU32(buf.data() + buf.size() - 8,
             Crc32(0, std::string_view(buf).substr(0, buf.size() - 8)));
    }
    (void)Block::CheckIndexBytes(buf);
    return 0;
  }
  // Rollup file: ... u32 CRC of everything before it, magic. Series count from byte 1 of mode.
  if ((mode & 1) != 0 && buf.size() >= 8) {
    PutU32(buf.data() + buf.size() - 8, Crc32(0, std::string_view(buf).substr(0, buf.size() - 8)));
  }
  auto t = RollupTable::Decode(std::move(buf), mode >> 2);
  if (t.ok()) {
    for (size_t i = 0; i < static_cast<size_t>(mode >> 2); ++i) {
      for (int a = 0; a < kNumRollupAggs; ++a) {
        const auto agg = static_cast<RollupAgg>(a);
        ChunkEncoding e;
        const std::string_view c = t->ChunkFor(i, agg, &e);
        if (!c.empty()) IterateChunk(c, e);
      }
      if (t->version() == 3) CheckRollupRoundTrip(*t, i);
    }
  }
  return 0;
}

}  // namespace kansoku::tsdb
