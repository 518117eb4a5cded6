#pragma once
// XorChunk: a compressed run of one series' samples (delta-of-delta timestamps, XOR floats;
// docs/design/tsdb-chunks.md is the byte format). ChunkIterator decodes a chunk's bytes.
//
// Contract:
//   - Append requires t strictly greater than the last appended t and NumSamples() < kMaxSamples;
//     violating either is a bug (KANSOKU_CHECK). Callers cut a new chunk before that.
//   - Values are stored by bit pattern: every NaN (StaleNaN included) round-trips exactly.
//   - ChunkIterator reads bytes it does not own; the caller keeps them alive and unchanged while
//     it iterates. Truncated or malformed bytes end iteration with a Corruption status().
// Thread safety: XorChunk is a plain value (external locking for concurrent use); a
// ChunkIterator over immutable bytes may run on any one thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

// kXor: XorChunk below (the head's appendable chunks). kPacked: written by blocks when smaller;
// a decimal exponent, mantissa deltas (or delta-of-deltas) divided by their common divisor,
// packed with a per-chunk 2- or 3-tier bit-width code; regular timestamps cost no bits.
//
// kRollup*: in memory only, never written as a chunk encoding: a KSR3 rollup series record
// (rollup.h, tsdb-block.md) read as the points of one aggregate; decoded whole when opened.
enum class ChunkEncoding : uint8_t {
  kXor = 1,
  kPacked = 2,
  kRollupMin = 0x80,
  kRollupMax = 0x81,
  kRollupSum = 0x82,
  kRollupCount = 0x83,
  kRollupLast = 0x84,
};
inline bool IsRollupEncoding(ChunkEncoding e) {
  return static_cast<uint8_t>(e) >= 0x80 && static_cast<uint8_t>(e) <= 0x84;
}
// Appends the points of the aggregate `e` names from a KSR3 record (rollup.cc); Corruption on
// malformed bytes (*out unchanged).
Status DecodeRollupChunk(std::string_view record, ChunkEncoding e, std::vector<Sample>* out);

// Packed encoding of n samples (strictly increasing t, 1 <= n <= XorChunk::kMaxSamples). False
// when it does not apply: a value that is not a decimal of at most 18 fraction digits with a
// mantissa below 2^53 (NaN, infinities, most computed floats), unless all values are the same.
// *out is replaced by the chunk, or left empty when false. Thread-safe (per-thread scratch).
bool EncodePackedChunk(const Sample* s, size_t n, std::string* out);
// Appends a packed chunk's samples to *out, their times strictly increasing (checked);
// Corruption on malformed bytes (*out unchanged). facts (nullable): what the decoding saw of
// the values (no NaN and no decrease within the chunk are known for free: one OR per sample).
Status DecodePackedChunk(std::string_view bytes, std::vector<Sample>* out,
                         SampleFacts* facts = nullptr);
// The byte size XorChunk gives samples s[0, n) (strictly increasing t), counted without
// encoding; once it exceeds `limit` it stops and returns limit + 1 (EncodeChunk needs only to
// know whether XOR beats a packed encoding, which it rarely does).
size_t XorChunkSize(const Sample* s, size_t n, size_t limit = SIZE_MAX);
// The smaller of the packed and XOR encodings of the samples into *out.
ChunkEncoding EncodeChunk(const Sample* s, size_t n, std::string* out);

// Appends all samples of an XOR chunk to *out in one pass (what ChunkIterator yields, faster);
// Corruption on truncated or malformed bytes (*out unchanged).
Status DecodeXorChunk(std::string_view bytes, std::vector<Sample>* out);

class XorChunk {
 public:
  static constexpr uint32_t kMaxSamples = 65535;

  XorChunk();
  void Append(int64_t t, double v);
  uint32_t NumSamples() const { return num_samples_; }
  bool empty() const { return num_samples_ == 0; }
  int64_t MinTime() const { return min_t_; }
  int64_t MaxTime() const { return t_; }
  // The encoded bytes (header + bit stream); valid until the next Append.
  std::string_view Bytes() const { return bytes_; }
  size_t SizeBytes() const { return bytes_.size(); }

 private:
  void WriteBits(uint64_t bits, int n);
  void WriteVarint(int64_t v);

  std::string bytes_;
  int free_bits_ = 0;  // unused low bits in bytes_.back()
  uint32_t num_samples_ = 0;
  int64_t min_t_ = 0;
  int64_t t_ = 0;
  int64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  int leading_ = 0xff;  // 0xff: no XOR window yet
  int trailing_ = 0;
};

class ChunkIterator {
 public:
  ChunkIterator() = default;
  explicit ChunkIterator(std::string_view bytes, ChunkEncoding encoding = ChunkEncoding::kXor);
  // Number of samples the header announces (0 for malformed bytes).
  uint32_t NumSamples() const { return n_; }
  bool Next();
  // First sample with t >= target at or after the current position.
  bool Seek(int64_t target);
  Sample At() const { return {t_, v_}; }
  const Status& status() const { return status_; }

 private:
  bool ReadBits(int n, uint64_t* out);
  bool ReadBit(bool* out);
  bool ReadVarint(int64_t* out);
  bool Fail();

  const uint8_t* data_ = nullptr;
  size_t size_bits_ = 0;
  size_t pos_ = 0;  // bit position
  uint32_t n_ = 0;
  uint32_t read_ = 0;  // samples decoded so far
  int64_t t_ = 0;
  int64_t t_delta_ = 0;
  uint64_t v_bits_ = 0;
  double v_ = 0;
  int leading_ = 0;
  int trailing_ = 0;
  Status status_;
  std::vector<Sample> packed_;  // a packed chunk, decoded whole at construction
  bool is_packed_ = false;
};

}  // namespace kansoku::tsdb
