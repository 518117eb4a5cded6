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

#include "base/flat_map64.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"
#include "tsdb/storage.h"

namespace kansoku::ingest {

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
  struct RawEntry {
    uint64_t context;
    std::string key;
    Entry* entry;                  // the map entry of these labels (one Labels copy per series),
    std::unique_ptr<Entry> owned;  // or this one's, for a series whose map slot holds another
  };
  struct Tables {
    size_t size() const { return map.size() + raw_entries.size(); }
    std::unordered_map<uint64_t, Entry> map;  // node-based: references stay valid
    // hash(raw key, context) (0 written as 1) -> index in raw_entries; a flat table: this
    // lookup runs once per row.
    FlatMap64 raw_index;
    std::deque<RawEntry> raw_entries;  // references stay valid
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
  // Builds (or reuses) Labels for series `idx` of the batch; nullptr + report entry if invalid.
  // Caller holds cache_->mu_.
  SeriesCache::Entry* LabelsFor(const RowBatch& batch, uint32_t idx, uint64_t n_samples);
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
  std::vector<SeriesCache::Entry*> series_labels_;  // per batch series; null = not built yet
  std::vector<bool> series_bad_;
};

}  // namespace kansoku::ingest
