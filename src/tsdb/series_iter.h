#pragma once
// Read-side building blocks shared by the head, blocks and the DB querier.
//
// ChunkRef points at one encoded chunk (docs/design/tsdb-chunks.md) and keeps its owner alive
// (a head chunk snapshot, or a block's mmap). SeriesData is one series as a querier sees it: its
// labels and the chunks overlapping the query range, possibly overlapping each other (head
// out-of-order data, a block and the head). MergedSeriesIterator walks such a chunk list in time
// order, dropping samples outside [mint, maxt] and duplicate timestamps (the first chunk in list
// order wins). Thread safety: values; iterators are single-threaded.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tsdb/chunk.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

struct ChunkRef {
  std::shared_ptr<const void> owner;  // keeps `data` valid
  std::string_view data;              // chunk bytes (header + bit stream)
  ChunkEncoding encoding = ChunkEncoding::kXor;
  int64_t mint = 0;        // inclusive
  int64_t maxt = 0;        // inclusive
  bool check_crc = false;  // verify `crc` (zlib crc32 of the encoding byte + data) before decoding
  uint32_t crc = 0;
  // Optional, owned by `owner`: set once the CRC matched, so repeated reads of the same immutable
  // (mmapped, read-only) bytes verify it only once per process.
  std::atomic<bool>* crc_ok = nullptr;
};

struct SeriesData {
  Labels labels;
  std::vector<ChunkRef> chunks;
  // Labels by reference (Block::Select with label_refs): alternating name and value indexes
  // into `symbols`, valid while the block lives, and `labels` left empty. MergeSeriesLists
  // compares them as they are and builds Labels once per merged series, from a series that has
  // them if any (a large select over a day's blocks built and freed the same labels per block).
  const std::string* symbols = nullptr;
  std::span<const uint32_t> label_syms;
};

// Owns an encoded copy of samples (sorted, unique t) as a ChunkRef; used for head snapshots.
ChunkRef MakeOwnedChunk(std::string bytes, int64_t mint, int64_t maxt);

class MergedSeriesIterator : public SeriesIterator {
 public:
  MergedSeriesIterator(std::vector<ChunkRef> chunks, int64_t mint, int64_t maxt);
  bool Next() override;
  bool Seek(int64_t target) override;
  Sample At() const override { return cur_; }
  Status status() const override { return status_; }
  // Chunks that do not overlap each other (the usual case) are decoded one after the other
  // straight into *out; overlapping ones go through the merge.
  Status ReadRange(int64_t mint, int64_t maxt, std::vector<Sample>* out,
                   SampleFacts* facts) override;

 private:
  struct Active {
    ChunkIterator it;
    size_t order;  // position in the caller's list: lower wins on equal timestamps
  };
  // Sorts the chunks by mint and drops those outside [mint_, maxt_]: done on first use rather
  // than at construction, so it runs on the thread that reads (a query lists every series'
  // iterator on one thread, then reads them on several).
  void Prepare();
  bool AdmitUpTo(int64_t t);  // opens chunks whose mint <= t
  bool Open(size_t i, int64_t seek_to);
  bool Advance(int64_t lower);  // moves to the first sample with t >= lower and t > cur_.t
  bool CheckCrc(const ChunkRef& c);

  std::vector<ChunkRef> chunks_;  // sorted by mint
  std::vector<size_t> order_;     // chunks_[i]'s position in the caller's list
  size_t next_ = 0;               // next chunk not yet opened
  std::vector<Active> heap_;      // min-heap on (At().t, order)
  int64_t mint_, maxt_;
  Sample cur_{0, 0};
  bool prepared_ = false;
  bool started_ = false;
  bool done_ = false;
  Status status_;
};

// A SeriesSet over series already sorted by labels.
class VectorSeriesSet : public SeriesSet {
 public:
  VectorSeriesSet(std::vector<SeriesData> series, int64_t mint, int64_t maxt)
      : series_(std::move(series)), mint_(mint), maxt_(maxt) {}
  bool Next() override { return ++pos_ < series_.size(); }
  const Labels& labels() const override { return series_[pos_].labels; }
  std::unique_ptr<SeriesIterator> Iterator() const override {
    return std::make_unique<MergedSeriesIterator>(series_[pos_].chunks, mint_, maxt_);
  }
  // Moved out: no label strings or chunk references (atomic reference counts) copied.
  Labels TakeLabels() override { return std::move(series_[pos_].labels); }
  std::unique_ptr<SeriesIterator> TakeIterator() override {
    return std::make_unique<MergedSeriesIterator>(std::move(series_[pos_].chunks), mint_, maxt_);
  }

 private:
  std::vector<SeriesData> series_;
  size_t pos_ = static_cast<size_t>(-1);
  int64_t mint_, maxt_;
};

// Merges several label-sorted lists: series with equal labels become one SeriesData whose chunk
// list is the concatenation in argument order (earlier lists win on equal timestamps). With
// parallelism > 1 a large merge runs in two halves on two threads (the same result).
std::vector<SeriesData> MergeSeriesLists(std::vector<std::vector<SeriesData>> lists,
                                         int parallelism = 1);
// Label sets seen without copying their strings: entry i is parts[begin[i], begin[i + 1]), the
// names and values alternating in label order.
struct LabelViewList {
  std::vector<std::string_view> parts;
  std::vector<uint32_t> begin{0};
  size_t size() const { return begin.size() - 1; }
  void Add(const Labels& labels) {
    for (const Label& l : labels.items()) {
      parts.emplace_back(l.name);
      parts.emplace_back(l.value);
    }
    EndEntry();
  }
  void EndEntry() { begin.push_back(static_cast<uint32_t>(parts.size())); }
};

// The union of label-sorted lists of label sets (each list free of duplicates), sorted, each set
// copied once: /api/v1/series over the head and many blocks copies a series' labels once, not
// once per block. The viewed strings must stay valid during the call.
std::vector<SeriesData> MergeLabelLists(const std::vector<LabelViewList>& lists);
// The same union without the copies: fn gets each set as alternating name and value views, in
// label order, and returns false to stop.
void ForEachMergedLabels(const std::vector<LabelViewList>& lists,
                         const std::function<bool(std::span<const std::string_view>)>& fn);

}  // namespace kansoku::tsdb
