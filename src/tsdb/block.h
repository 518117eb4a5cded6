#pragma once
// Blocks: immutable, persisted time ranges of the TSDB (format: docs/design/tsdb-block.md).
//
// A block directory holds `meta` (text), `chunks` (encoded chunks, mmapped when read) and
// `index` (series with their chunk references + postings). BlockWriter builds one in
// "<name>.tmp" and Finish() fsyncs every file and renames it into place, so a block directory
// either is complete or does not exist. Block::Open loads the index into memory and maps the
// chunks file.
//
// Thread safety: a Block is immutable after Open and safe for concurrent readers. It must be
// held by shared_ptr: the ChunkRefs it hands out keep it (and its mapping) alive, so a block can
// be deleted from disk while queries still read it. BlockWriter is single-threaded.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "tsdb/index.h"
#include "tsdb/labels.h"
#include "tsdb/rollup.h"
#include "tsdb/series_iter.h"

namespace kansoku::tsdb {

struct LabelViewList;  // tsdb/series_iter.h

struct BlockMeta {
  int64_t mint = 0;  // inclusive
  int64_t maxt = 0;  // exclusive
  uint64_t num_series = 0;
  uint64_t num_samples = 0;
  uint64_t num_chunks = 0;
  int level = 1;  // 1: cut from the head; n: compacted from level n-1 blocks
};

class BlockWriter {
 public:
  // Block chunks are written whole, so they may be longer than the head's: fewer per-chunk
  // headers, CRCs and index entries (2 h of a 15 s series is one chunk).
  static constexpr uint32_t kSamplesPerChunk = 480;
  // Writes into parent/name.tmp (removed first if it exists). rollups = false writes no rollup
  // files (the DB's head-cut blocks, which compaction later merges and rolls up).
  static Result<std::unique_ptr<BlockWriter>> Create(std::string parent, std::string name,
                                                     bool rollups = true);
  ~BlockWriter();
  // Adds a series with the samples `it` yields (time order); labels must be strictly increasing
  // across calls. A series without samples is skipped.
  Status AddSeries(const Labels& labels, SeriesIterator& it);
  // Adds a series from encoded chunks (as Block::AppendChunks hands them out, in any order),
  // keeping its samples in [mint, maxt]. The chunks are copied as they are, without decoding
  // and re-encoding (compaction's usual case, ~10x cheaper), when CanCopyChunks says so;
  // otherwise they are merged and re-encoded as AddSeries does. A chunk whose ref asks for a
  // CRC check and fails it is Corruption, as when it is decoded. Labels as AddSeries.
  Status AddSeriesChunks(const Labels& labels, std::vector<ChunkRef> chunks, int64_t mint,
                         int64_t maxt);
  // Whether `chunks` (sorted by mint) can be copied as they are into a block of [mint, maxt]:
  // XOR or packed, each inside the range, each one's maxt before the next one's mint (no
  // overlap, so nothing to deduplicate), at most kSamplesPerChunk samples each, and no more
  // chunks than re-encoding would cut (ceil(samples / kSamplesPerChunk)), so a series of short
  // chunks is still merged into long ones.
  static bool CanCopyChunks(const std::vector<ChunkRef>& chunks, int64_t mint, int64_t maxt);
  // Chunks written so far by copying, for tests and logs.
  uint64_t copied_chunks() const { return copied_chunks_; }
  // Writes index and meta, fsyncs, renames parent/name.tmp -> parent/name. [mint, maxt).
  Result<BlockMeta> Finish(int64_t mint, int64_t maxt, int level);

 private:
  struct ChunkMeta {
    int64_t mint, maxt;
    uint64_t offset;
  };
  // A series added: its (name, value) pairs label_syms_[2 * labels_begin ..] (num_labels of
  // them), its chunks chunk_metas_[chunks_begin ..]. Labels are kept as writer-local symbol
  // numbers until Finish (a block has tens of thousands of series; Labels cost ~50 bytes a
  // label plus each string longer than 15 bytes).
  struct Entry {
    uint32_t labels_begin, num_labels;
    uint32_t chunks_begin, num_chunks;
  };
  uint32_t Symbol(const std::string& s);
  BlockWriter(std::string parent, std::string name, bool rollups)
      : parent_(std::move(parent)), name_(std::move(name)), rollups_(rollups) {}
  // Encodes samples[0, n) (n >= 1) as one chunk, the smaller of XOR and packed.
  Status FlushChunk(const Sample* samples, size_t n);
  // Records the series whose chunks were written from chunks_begin on (none: skipped).
  void EndSeries(const Labels& labels, uint32_t chunks_begin, std::vector<RollupBuilder>& rollups);
  // Appends one chunk record (tsdb-block.md) and its meta.
  Status WriteChunk(ChunkEncoding e, std::string_view data, uint32_t crc, int64_t mint,
                    int64_t maxt);

  std::string parent_, name_;
  const bool rollups_;
  int chunks_fd_ = -1;
  uint64_t chunks_off_ = 0;
  std::string chunk_buf_;
  std::vector<Sample> pending_;  // the series being added
  std::string enc_buf_;          // its encoding
  std::vector<Entry> entries_;
  std::vector<uint32_t> label_syms_;
  std::vector<ChunkMeta> chunk_metas_;
  // Symbol number -> string (the keys of symbol_ids_, whose nodes never move).
  std::unordered_map<std::string, uint32_t> symbol_ids_;
  std::vector<const std::string*> symbols_;
  Labels last_labels_;  // of the last series added, for the order check
  // Per entry when rollups_: its KSR3 series records, one per kRollupResolutions.
  std::vector<std::array<std::string, std::size(kRollupResolutions)>> rollups_data_;
  uint64_t samples_ = 0, chunks_ = 0, copied_chunks_ = 0;
  bool finished_ = false;
};

class Block : public IndexReader, public std::enable_shared_from_this<Block> {
 public:
  static Result<std::shared_ptr<Block>> Open(const std::string& dir);
  // Parses index file bytes as Open does (Corruption on anything malformed) and drops the
  // result: the fuzzer's entry (src/tsdb/fuzz_entry.h).
  static Status CheckIndexBytes(std::string_view data);
  ~Block() override;

  const BlockMeta& meta() const { return meta_; }
  const std::string& dir() const { return dir_; }
  bool HasRollups() const { return !rollups_.empty(); }
  uint64_t SizeBytes() const { return size_bytes_; }

  // Series matching the matchers (all series when matchers is empty) that have chunks
  // overlapping [mint, maxt], sorted by labels.
  Result<std::vector<SeriesData>> Select(const std::vector<Matcher>& matchers, int64_t mint,
                                         int64_t maxt) const {
    return Select(matchers, mint, maxt, std::nullopt);
  }
  // With a rollup choice, series come with the block's rollup chunk for that resolution and
  // aggregate instead of raw chunks; *used (if given) tells whether the block had that rollup.
  // label_refs: series come with their labels by reference (SeriesData::symbols), for
  // MergeSeriesLists, which must then run while the block lives.
  Result<std::vector<SeriesData>> Select(const std::vector<Matcher>& matchers, int64_t mint,
                                         int64_t maxt, const std::optional<RollupChoice>& rollup,
                                         bool* used = nullptr, bool label_refs = false) const;
  // The same series as Select, labels only, appended to *out in label order: for /api/v1/series.
  // The views are into the block and valid while it lives.
  Status SelectLabels(const std::vector<Matcher>& matchers, int64_t mint, int64_t maxt,
                      LabelViewList* out) const;
  bool HasRollup(int64_t resolution_ms) const;

  // Sequential reads (compaction): series ids 0 .. NumSeries()-1 are in label order.
  size_t NumSeries() const { return chunk_begin_.empty() ? 0 : chunk_begin_.size() - 1; }
  Labels LabelsOf(size_t id) const;
  // Appends the chunks of series `id` overlapping [mint, maxt], as Select returns them.
  Status AppendChunks(size_t id, int64_t mint, int64_t maxt, std::vector<ChunkRef>* out) const;
  // Unmaps the chunk pages this process has touched (madvise MADV_DONTNEED on the read-only
  // shared mapping: the data stays in the page cache and is faulted in again when read). A
  // compaction reads each source once, front to back; without this every source's chunks stay
  // in the process' RSS until the merge ends (bench/tsdb: +30-40 MB of RssFile per merge).
  void ReleaseMappedPages() const;
  std::vector<std::string> LabelNames() const { return postings_.LabelNames(); }
  std::vector<std::string> LabelValues(std::string_view name) const {
    return postings_.LabelValues(name);
  }

  // IndexReader over block-local series ids (ordinals in label order).
  void ForEachValue(
      std::string_view name,
      const std::function<void(std::string_view, const Postings&)>& fn) const override {
    postings_.ForEachValue(name, fn);
  }
  const Postings* Get(std::string_view name, std::string_view value) const override {
    return postings_.Get(name, value);
  }
  const Postings& All() const override { return postings_.All(); }

 private:
  // A chunk's number in chunks_ is its slot in crc_ok_.
  struct ChunkMeta {
    int64_t mint, maxt;
    uint64_t offset;
  };
  Block() = default;
  Status LoadIndex(std::string_view data);
  Status ChunkAt(size_t chunk, ChunkRef* out) const;
  std::span<const ChunkMeta> ChunksOf(size_t id) const {
    return {chunks_.data() + chunk_begin_[id], chunks_.data() + chunk_begin_[id + 1]};
  }
  std::string dir_;
  BlockMeta meta_;
  // The series table, flat: a block is open for as long as its data is retained and every block
  // holds every series of its range, so labels are symbol numbers (8 bytes a label, not two
  // std::strings) and chunk metas one array (no vector per series). Series id i has the (name,
  // value) symbol pairs label_syms_[2 * label_begin_[i] .. 2 * label_begin_[i + 1]) and the
  // chunks chunks_[chunk_begin_[i] .. chunk_begin_[i + 1]); both begin arrays end with a sentinel.
  std::vector<std::string> symbols_;
  std::vector<uint32_t> label_syms_;
  std::vector<uint32_t> label_begin_;
  std::vector<ChunkMeta> chunks_;
  std::vector<uint32_t> chunk_begin_;
  MemPostings postings_;
  std::vector<RollupTable> rollups_;
  const char* map_ = nullptr;
  size_t map_size_ = 0;
  uint64_t size_bytes_ = 0;
  // Per chunk: its CRC was verified once (the mapping is read-only, so later reads skip it).
  std::unique_ptr<std::atomic<bool>[]> crc_ok_;
};

Status WriteBlockMeta(const std::string& path, const BlockMeta& m);
Result<BlockMeta> ReadBlockMeta(const std::string& path);

}  // namespace kansoku::tsdb
