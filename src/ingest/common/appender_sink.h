#pragma once
// AppenderSink: writes decoded batches into a tsdb::Appender and records per-row outcomes.
//
// Use, per request:
//   auto app = appendable.NewAppender();
//   DecodeReport report;
//   AppenderSink sink(*app, report);
//   DecodeXxx(body, opts, sink, report);   // any decoder; calls sink.Consume per batch
//   sink.Commit();                          // exactly once; fills report on failure
//   respond(report.HttpStatus(), report.Summary());
//
// Per series in a batch the sink builds tsdb::Labels once (sorted, empty values dropped,
// duplicate names rejected as kInvalidLabel); a series repeated inside one batch (same label
// set) reuses the built Labels. Each sample is Append()ed; a non-OK Status rejects that row only
// (reason kStorage, with the appender's message) and the batch goes
// on; an Unavailable row also sets a request error (the response becomes retryable). Metadata
// rows go to UpdateMetadata (failures are counted as skipped values: metadata is advisory).
//
// Commit(): calls Appender::Commit once. If it fails, nothing of this request is durable: the
// accepted rows are moved to rejected (kStorage) and the report gets the error as a request
// error, which classifies the response as retryable (503) unless it was InvalidArgument.
//
// Thread safety: one sink per request, one thread. The appender and report must outlive it.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingest/common/report.h"
#include "ingest/common/rows.h"
#include "tsdb/storage.h"

namespace kansoku::ingest {

// RawKeyTable: raw keys (SeriesRow::raw_key, with their key context) -> a series' cached labels
// and the storage's handle for that key, for AppenderSink's per-row lookup. Built for the cache
// misses of that lookup (on bench/tsdb's import each row's series was last touched ~5000 rows
// before, so its memory has left the caches): a slot of the open-addressing index holds the hash
// and the item's address, and an item holds the key's bytes and the handle next to each other
// (one allocation-free arena), so a hit reads the slot and one item — not a slot, a deque
// element, a heap string and the labels' entry as before.
// Items are never removed (the owner replaces the whole table). Thread safety: none (the
// SeriesCache's mutex guards it; Item::handle is shared through std::atomic_ref).
class RawKeyTable {
 public:
  struct Item {
    uint64_t context;
    void* value;      // the owner's (SeriesCache: the Entry with the labels)
    uint64_t handle;  // Appender::AppendWithHandle's for this key, 0 = none yet
    uint32_t key_size;
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
  };
  static_assert(sizeof(Item) % alignof(Item) == 0);

  RawKeyTable() = default;
  RawKeyTable(const RawKeyTable&) = delete;
  RawKeyTable& operator=(const RawKeyTable&) = delete;

  // The item inserted with this hash (not 0), or nullptr. The caller compares key and context:
  // a hash names at most one item (a second key with the same hash is not inserted).
  Item* Find(uint64_t hash) const {
    if (size_ == 0) return nullptr;
    for (size_t i = SlotOf(hash);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == hash) return s.item;
      if (s.hash == 0) return nullptr;
    }
  }
  // Hints the CPU to load the slot Find(hash) reads first. Unconditional on purpose (GCC 12
  // drops a prefetch under a branch); on an empty table it prefetches nullptr, which is harmless.
  void Prefetch(uint64_t hash) const {
    __builtin_prefetch(slots_.data() + (((hash * 0x9e3779b97f4a7c15ULL) >> (shift_ & 63)) & mask_));
  }
  // Adds an item; hash (not 0) must not be in the table yet.
  Item* Insert(uint64_t hash, uint64_t context, std::string_view key, void* value);
  size_t size() const { return size_; }
  // Bytes held by the items and the index.
  size_t MemoryBytes() const { return arena_bytes_ + slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0 = empty
    Item* item = nullptr;
  };
  size_t SlotOf(uint64_t hash) const {
    return static_cast<size_t>((hash * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  void Grow();
  char* Allocate(size_t bytes);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;  // the items
  char* free_ = nullptr;                         // in blocks_.back()
  size_t free_bytes_ = 0;
  size_t arena_bytes_ = 0;
};

// SeriesCache: label views (in input order) -> built tsdb::Labels and the storage's appender
// handle (Appender::AppendWithHandle), so a series seen in an earlier request costs a hash and a
// compare instead of allocations and the storage's own label lookup. Entries are verified on hit
// (no false matches). When it holds more than max_entries at the start of a batch it is replaced
// by an empty one (batches still using the old one keep it until they end).
// Thread-safe: one cache is shared by every worker thread of a handler (one copy of each series'
// labels, not one per thread: on bench/tsdb's import two per-thread caches were ~24 MB of the
// peak heap); lookups take its mutex once per batch (AppenderSink::Consume), not per row.
class SeriesCache {
 public:
  explicit SeriesCache(size_t max_entries = 1 << 20)
      : max_entries_(max_entries), tables_(std::make_shared<Tables>()) {}
  size_t size() const {
    std::lock_guard<std::mutex> l(mu_);
    return tables_->size();
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    tables_ = std::make_shared<Tables>();
  }

 private:
  friend class AppenderSink;
  struct Entry {
    tsdb::Labels labels;
    // Appender::AppendWithHandle's, 0 = none yet. Shared by threads: read and written through
    // std::atomic_ref (relaxed; a stale value only costs the storage's slower lookup).
    uint64_t handle = 0;
  };
  struct Tables {
    size_t size() const { return map.size() + raw.size(); }
    std::unordered_map<uint64_t, Entry> map;  // node-based: references stay valid
    // hash(raw key, context) (0 written as 1) -> the map entry of its labels (one Labels copy
    // per series) or, for a series whose map slot holds another, one in `owned`. This lookup
    // runs once per row; its items carry the handle of their own key.
    RawKeyTable raw;
    std::deque<Entry> owned;  // references stay valid
  };
  // The tables a batch uses (replaced by an empty set first when over max_entries); they stay
  // valid while the returned pointer is held.
  std::shared_ptr<Tables> ForBatch() {
    std::lock_guard<std::mutex> l(mu_);
    if (tables_->size() > max_entries_) tables_ = std::make_shared<Tables>();
    return tables_;
  }
  const size_t max_entries_;
  // Guards tables_ and the contents of every Tables (entries are only added, never changed,
  // except their handle).
  mutable std::mutex mu_;
  std::shared_ptr<Tables> tables_;
};

class AppenderSink : public RowSink {
 public:
  // `cache` may be null (then only series repeated within one batch share their Labels).
  AppenderSink(tsdb::Appender& appender, DecodeReport& report, SeriesCache* cache = nullptr)
      : appender_(appender), report_(report), cache_(cache != nullptr ? cache : &local_cache_) {}

  void Consume(const RowBatch& batch) override;
  // Deferred series are found by raw key, else parsed by the batch's LabelResolver.
  bool TakesDeferredLabels() const override { return true; }
  // Commits the appender once. Must be called exactly once, after decoding.
  Status Commit();

 private:
  // A batch series' labels and the handle to append them with (in the raw key's item or the
  // labels' entry).
  struct Resolved {
    SeriesCache::Entry* entry = nullptr;  // null: not built yet, or invalid (series_bad_)
    uint64_t* handle = nullptr;
  };
  // Builds (or reuses) Labels for series `idx` of the batch; entry nullptr + report entry if
  // invalid. Caller holds cache_->mu_.
  Resolved LabelsFor(const RowBatch& batch, uint32_t idx, uint64_t n_samples);
  // The same from label views l[0, num_labels) (hash of views, sort, build); no raw-key lookup.
  SeriesCache::Entry* LabelsFromViews(const RowBatch& batch, uint32_t idx, const LabelView* l,
                                      uint32_t num_labels, uint64_t n_samples);

  tsdb::Appender& appender_;
  DecodeReport& report_;
  bool committed_ = false;
  uint64_t accepted_here_ = 0;
  uint64_t exemplars_here_ = 0;  // staged; counted as accepted once Commit succeeds
  SeriesCache local_cache_{0};
  SeriesCache* cache_;
  std::shared_ptr<SeriesCache::Tables> tables_;  // cache_'s, for the current batch
  // Scratch, reused across batches.
  std::vector<LabelView> sorted_;
  std::vector<LabelView> deferred_;          // a deferred series' labels, from the batch's resolver
  std::deque<SeriesCache::Entry> collided_;  // built labels whose hash slot holds another series
  // How far ahead of the current row Consume starts a raw-key lookup: the slot, then the item.
  static constexpr size_t kPrefetchSlot = 16;
  static constexpr size_t kPrefetchItem = 8;
  std::vector<Resolved> series_labels_;  // per batch series
  std::vector<uint64_t> handles_;        // per batch series: *series_labels_[i].handle
  std::vector<bool> series_bad_;
};

}  // namespace kansoku::ingest
