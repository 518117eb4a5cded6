#pragma once
// Head: the in-memory, writable part of the TSDB: series, their recent chunks, and the inverted
// index over them.
//
// Series identity: a series is found by Labels::Hash() and then compared label by label, so hash
// collisions are safe. Each series gets a SeriesRef, unique for the head's lifetime (and
// preserved across restarts through the WAL).
//
// Samples: a series keeps closed, immutable chunks plus one open chunk. A chunk is cut at
// HeadOptions::samples_per_chunk samples or when a sample crosses a multiple of chunk_range_ms
// (the block range), so no chunk spans two blocks. A sample older than the series' newest one is
// accepted when it is within ooo_window_ms of it; it goes to a small sorted per-series buffer
// merged at read time. Re-appending the exact sample (same timestamp, same value bits) is a
// no-op; the same timestamp with another value is an error.
//
// Backfill: there is no head-wide lower bound. Whether a sample is accepted depends only on its
// own series (newer than the series' newest sample, or within ooo_window_ms of it), so a series
// with no newer data takes samples of any age even while other series are written at "now".
// MinValidTime() is the end of the newest range persisted into a block; samples below it are
// "backfill" and go through a second lock (LockBackfill) so a range being persisted sees a final
// snapshot: Truncate(lo, hi) drops exactly the persisted range, and backfill that arrived while it
// was written stays in the head for the next persist (an overlapping block, merged by compaction).
//
// Thread safety: every method is thread-safe. Series lookup is striped over kShards mutexes, each
// series has its own mutex guarding its chunks, and the postings index has a reader/writer lock.
// Lock order: backfill -> hash shard -> index -> ref shard; a series mutex is never held while
// taking any of those. Ownership: series are shared_ptr so that appenders can pin them (Pin/Unpin)
// across a batch; a pinned series is never garbage-collected.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "tsdb/chunk.h"
#include "tsdb/index.h"
#include "tsdb/labels.h"
#include "tsdb/series_iter.h"

namespace kansoku::tsdb {

struct HeadOptions {
  int64_t chunk_range_ms = 2 * 3600 * 1000;  // chunks never cross a multiple of this
  int64_t ooo_window_ms = 0;                 // 0: reject every out-of-order sample
  uint32_t samples_per_chunk = 120;
  size_t max_series = 0;  // 0: unlimited; else ResourceExhausted beyond it
  // Series hash; nullptr = Labels::Hash(). Tests pass a colliding one.
  uint64_t (*hash_fn)(const Labels&) = nullptr;
};

// The closed (full, immutable) chunks of one series, oldest first. Each chunk is re-encoded when
// cut into the smaller of the XOR bytes it was appended as and the packed encoding
// (tsdb-chunks.md), as blocks do: on bench/tsdb's data packed is ~40% smaller at 120 samples.
// Closed chunks are most of the head's memory, so a series keeps them in one list (one array of
// headers, one string of bytes) instead of an object and a string per chunk; the list is copied
// on write (a cut appends to a copy, a truncation keeps a copy of the rest), so a snapshot holds
// the list it saw with one reference and reads it without the series lock.
class ClosedChunks {
 public:
  struct Meta {
    int64_t mint, maxt;
    uint32_t size;  // bytes, after the previous chunks' bytes
    ChunkEncoding encoding;
  };
  size_t size() const { return meta_.size(); }
  bool empty() const { return meta_.empty(); }
  const std::vector<Meta>& meta() const { return meta_; }
  // Calls fn(meta, bytes) for each chunk, oldest first; stops when fn returns true.
  template <class Fn>
  bool AnyOf(Fn&& fn) const {
    size_t off = 0;
    for (const Meta& m : meta_) {
      if (fn(m, std::string_view(bytes_).substr(off, m.size))) return true;
      off += m.size;
    }
    return false;
  }
  // A new list: `prev` (may be null) plus one chunk.
  static std::shared_ptr<const ClosedChunks> With(const ClosedChunks* prev, const Meta& m,
                                                  std::string_view bytes);
  // A new list without the chunks for which drop(meta) is true; null when none is left.
  template <class Pred>
  static std::shared_ptr<const ClosedChunks> Without(const ClosedChunks& prev, Pred&& drop) {
    auto out = std::make_shared<ClosedChunks>();
    size_t keep = 0, keep_bytes = 0;
    for (const Meta& m : prev.meta_) {
      if (!drop(m)) {
        ++keep;
        keep_bytes += m.size;
      }
    }
    if (keep == 0) return nullptr;
    out->meta_.reserve(keep);
    out->bytes_.reserve(keep_bytes);
    prev.AnyOf([&](const Meta& m, std::string_view b) {
      if (!drop(m)) {
        out->meta_.push_back(m);
        out->bytes_.append(b);
      }
      return false;
    });
    return out;
  }

 private:
  std::vector<Meta> meta_;
  std::string bytes_;  // the chunks' bytes, back to back
};

class MemSeries {
 public:
  MemSeries(SeriesRef ref, Labels labels, uint64_t hash)
      : ref_(ref), hash_(hash), labels_(std::move(labels)) {}
  SeriesRef ref() const { return ref_; }
  const Labels& labels() const { return labels_; }
  // Set once the series record is in the WAL (the DB's appender uses it).
  std::atomic<bool> logged{false};

 private:
  friend class Head;
  const SeriesRef ref_;
  const uint64_t hash_;  // HashOf(labels_), the shard key
  const Labels labels_;
  std::mutex mu_;
  std::shared_ptr<const ClosedChunks> chunks_;  // GUARDED_BY(mu_); null = none
  XorChunk open_;                               // GUARDED_BY(mu_)
  std::vector<Sample> ooo_;                     // GUARDED_BY(mu_), sorted by t
  int64_t max_t_ = INT64_MIN;                   // GUARDED_BY(mu_)
  double last_v_ = 0;                           // GUARDED_BY(mu_)
  int pins_ = 0;                                // GUARDED_BY(hash shard mutex)
  bool deleted_ = false;                        // GUARDED_BY(hash shard mutex)
  // Position in label order among the series Head::RefreshLabelOrder last ranked; kNoRank for a
  // series created since. GUARDED_BY(Head::order_mu_)
  uint32_t order_rank_ = UINT32_MAX;
};

struct HeadStats {
  uint64_t series = 0;
  uint64_t samples_appended = 0;
  uint64_t ooo_samples_appended = 0;
  uint64_t chunks = 0;  // closed + non-empty open chunks
  uint64_t series_created = 0;
  uint64_t series_removed = 0;
  int64_t min_time = INT64_MAX;  // INT64_MAX/INT64_MIN when empty
  int64_t max_time = INT64_MIN;
};

class Head {
 public:
  static constexpr size_t kShards = 64;

  explicit Head(HeadOptions options);
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Finds or creates the series and pins it (Unpin when the batch is done). A new series' labels
  // are checked with ValidateLabels (InvalidArgument); ResourceExhausted at max_series.
  Result<std::shared_ptr<MemSeries>> GetOrCreatePinned(const Labels& labels);
  // The live series whose own ref this is, pinned; nullptr if there is none (never created,
  // garbage-collected, or a replay alias). No label hashing: the appenders' fast path.
  std::shared_ptr<MemSeries> PinByRef(SeriesRef ref);
  void Unpin(MemSeries* series);
  // WAL replay: creates the series with this ref (or returns the existing one when the labels
  // match). Corruption when the ref is taken by other labels.
  Result<std::shared_ptr<MemSeries>> CreateWithRef(SeriesRef ref, const Labels& labels);
  std::shared_ptr<MemSeries> GetByRef(SeriesRef ref) const;

  // Checks whether (t, v) could be appended now, without appending it.
  Status Appendable(MemSeries& s, int64_t t, double v);
  // Appends one sample (the checks of Appendable, then the write). *noop is set for an exact
  // duplicate.
  Status Append(MemSeries& s, int64_t t, double v, bool* noop = nullptr);
  // Appends samples[0, n) of one series in that order, as n Append calls would, under one lock
  // of the series (and one update of the head's counters): a commit's samples grouped by series.
  // Returns how many were refused; *first_error (if not null) gets the first refusal's status
  // when it is still OK.
  size_t AppendRun(MemSeries& s, const Sample* samples, size_t n, Status* first_error = nullptr);

  // Series matching the matchers with at least one chunk overlapping [mint, maxt], sorted by
  // labels, with snapshots of those chunks.
  Result<std::vector<SeriesData>> Select(const std::vector<Matcher>& matchers, int64_t mint,
                                         int64_t maxt);
  // The refs of the series matching the matchers (their postings; no time range, no series
  // read). Its size estimates a Select's, and Select(refs, ...) then reads them without
  // evaluating the matchers again.
  Result<Postings> Matching(const std::vector<Matcher>& matchers) const;
  // Select of the series Matching returned.
  std::vector<SeriesData> Select(const Postings& refs, int64_t mint, int64_t maxt);
  // The same series as Select, labels only (no snapshots), sorted by labels; the series are
  // returned so that their labels stay alive.
  Result<std::vector<std::shared_ptr<MemSeries>>> SelectLabels(const std::vector<Matcher>& matchers,
                                                               int64_t mint, int64_t maxt);
  // Every series (sorted by labels) with a snapshot of its chunks overlapping [mint, maxt].
  std::vector<SeriesData> SnapshotAll(int64_t mint, int64_t maxt);
  // The same series, one at a time (snapshot taken just before the call; series without chunks
  // there are skipped): a head block is written without a copy of every series' labels and
  // chunk refs. Stops at, and returns, the first error fn returns.
  Status ForEachSnapshot(int64_t mint, int64_t maxt,
                         const std::function<Status(const Labels&, std::vector<ChunkRef>)>& fn);
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(std::string_view name) const;
  // Every live series; for checkpoints.
  std::vector<std::shared_ptr<MemSeries>> AllSeries() const;
  // Ranks every live series by its labels, so that Select, SelectLabels and the snapshots sort
  // the series they return by an integer instead of comparing labels (a quarter of a small
  // /api/v1/series request's instructions went to that sort). Series created after the last
  // call are not ranked; they are sorted by labels and merged in. Does nothing when no series
  // was created since the last call, or when the last call was less than min_interval_ms ago
  // (the interval is stretched to 100x the last ranking's duration, so ranking costs at most
  // ~1 % of a core under constant series churn). Thread-safe; the sort runs without locks
  // (selects wait only while the ranks are written). Returns true if it ranked.
  bool RefreshLabelOrder(int64_t min_interval_ms);
  // All samples of a series in time order (closed, open and out-of-order merged).
  std::vector<Sample> SamplesOf(MemSeries& s);

  // Persisting [lo, hi): hold the returned lock (exclusive) from the snapshot of the range until
  // Truncate(lo, hi) returns. Appends below MinValidTime() wait for it; others don't.
  std::unique_lock<std::shared_mutex> LockBackfill() {
    return std::unique_lock<std::shared_mutex>(backfill_mu_);
  }
  // Raises MinValidTime() to hi, drops the chunks and samples in [lo, hi) and removes series left
  // without data (unless pinned). Returns the number of series removed.
  size_t Truncate(int64_t lo, int64_t hi);
  // Raises MinValidTime() (never lowers it). Call before snapshotting [.., t) for a block.
  void SetMinValidTime(int64_t t);
  int64_t MinValidTime() const { return min_valid_.load(); }
  // Oldest/newest sample time in the head (INT64_MAX/INT64_MIN when empty); MinTime is
  // recomputed by Truncate.
  int64_t MinTime() const { return min_time_.load(); }
  // The oldest timestamp appended since the previous call (INT64_MAX if none), and resets it:
  // how far back writers are currently writing (an import's frontier). DB::CompactHead uses it
  // to leave ranges that are still being backfilled in the head.
  int64_t TakeMinAppendedTime() { return min_appended_.exchange(INT64_MAX); }
  // True when no series is still writing below t: every series with a sample before t has one
  // at or after t too. With in-order writers (an import walking through old data) nothing more
  // can arrive below t for those series except out-of-order samples. Stops at the first series
  // that lags; O(series) otherwise.
  bool AllSeriesPast(int64_t t) const;
  int64_t MaxTime() const { return max_time_.load(); }
  HeadStats Stats() const;
  // Largest ref handed out so far.
  SeriesRef LastRef() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<uint64_t, std::vector<std::shared_ptr<MemSeries>>> by_hash;
  };
  struct RefShard {
    mutable std::mutex mu;
    std::unordered_map<SeriesRef, std::shared_ptr<MemSeries>> by_ref;
  };
  // Locks the series for appending samples from time t on: *l takes s.mu_, and *bl (deferred
  // on entry) takes backfill_mu_ shared when t is below the persisted bound.
  void LockForAppend(MemSeries& s, int64_t t, std::shared_lock<std::shared_mutex>* bl,
                     std::unique_lock<std::mutex>* l);
  Status CheckLocked(MemSeries& s, int64_t t, double v, bool* noop, bool* in_order);
  // Writes a sample CheckLocked passed (not a no-op) to the series' open chunk or its
  // out-of-order buffer; the caller counts it in samples_appended_ and NoteTime()s it.
  void WriteLocked(MemSeries& s, int64_t t, double v, bool in_order);
  bool FindLocked(MemSeries& s, int64_t t, double* v);
  void SnapshotLocked(MemSeries& s, int64_t mint, int64_t maxt, std::vector<ChunkRef>* out);
  std::shared_ptr<MemSeries> Insert(uint64_t hash, SeriesRef ref, const Labels& labels);
  int64_t RangeEnd(int64_t t) const;
  uint64_t HashOf(const Labels& l) const {
    return options_.hash_fn != nullptr ? options_.hash_fn(l) : l.Hash();
  }
  void NoteTime(int64_t t);
  // The series' order_rank_s, read under order_mu_.
  std::vector<uint32_t> RanksOf(const std::vector<std::shared_ptr<MemSeries>>& series) const;

  const HeadOptions options_;
  Shard shards_[kShards];
  RefShard ref_shards_[kShards];
  mutable std::shared_mutex index_mu_;
  MemPostings postings_;    // GUARDED_BY(index_mu_)
  SeriesRef next_ref_ = 1;  // GUARDED_BY(index_mu_)
  std::atomic<int64_t> min_valid_{INT64_MIN};
  // Shared by appends below min_valid_ (backfill), exclusive while a range is persisted.
  std::shared_mutex backfill_mu_;
  std::atomic<int64_t> min_time_{INT64_MAX};
  std::atomic<int64_t> max_time_{INT64_MIN};
  std::atomic<int64_t> min_appended_{INT64_MAX};
  std::atomic<uint64_t> num_series_{0};
  std::atomic<uint64_t> samples_appended_{0};
  std::atomic<uint64_t> ooo_appended_{0};
  std::atomic<int64_t> chunks_{0};
  std::atomic<uint64_t> series_created_{0};
  std::atomic<uint64_t> series_removed_{0};
  // RefreshLabelOrder: order_mu_ guards every MemSeries::order_rank_ (shared while selects read
  // them); refresh_mu_ serializes refreshes and guards the two fields after it.
  mutable std::shared_mutex order_mu_;
  std::mutex refresh_mu_;
  uint64_t ranked_created_ = 0;  // series_created_ when the last ranking started
  std::chrono::steady_clock::time_point next_refresh_{};
};

}  // namespace kansoku::tsdb
