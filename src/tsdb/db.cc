#include "tsdb/db.h"
#include "tsdb/series_iter.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <unordered_map>

#include "base/flat_map64.h"
#include "base/log.h"

namespace kansoku::tsdb {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kBlockPrefix = "b-";

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Hands whole free pages of malloc's heap back to the system. Called after the head drops a
// persisted range and after compaction closes blocks: their memory was freed in pieces among live
// data, and glibc keeps such pages (in the arena of each thread that allocated them) until it
// is asked; on bench/tsdb's import that was ~15 MB of peak RSS.
void ReleaseFreeHeap() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Largest number of samples per WAL samples record (keeps records well under the frame limit).
constexpr size_t kMaxSamplesPerRecord = 1 << 16;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Appender

// Appender handles: the DB's tag in the high bits, the series ref in the low kHandleRefBits.
constexpr int kHandleRefBits = 40;
constexpr uint64_t kHandleRefMask = (uint64_t{1} << kHandleRefBits) - 1;

class DBAppender : public Appender {
 public:
  explicit DBAppender(DB* db) : db_(db) {}
  ~DBAppender() override {
    if (!done_) Rollback();
  }

  Status Append(const Labels& labels, int64_t t, double v) override {
    uint64_t handle = 0;
    return AppendWithHandle(&handle, labels, t, v);
  }

  Status AppendWithHandle(uint64_t* handle, const Labels& labels, int64_t t, double v) override {
    KANSOKU_CHECK(!done_, "BUG: Appender used after Commit/Rollback");
    // Each series is pinned once per batch; index_ finds it again by ref.
    uint32_t idx = UINT32_MAX;
    if (*handle != 0 && *handle == last_handle_) {
      idx = last_idx_;  // the same series as the previous call: decoders send runs
    } else if (*handle != 0 && (*handle >> kHandleRefBits) == db_->handle_tag_) {
      const SeriesRef ref = *handle & kHandleRefMask;
      if (const uint32_t* found = index_.Find(ref)) {
        idx = *found;
      } else if (auto s = db_->head_.PinByRef(ref); s != nullptr) {
        idx = AddPinned(std::move(s));
        index_.Insert(ref, idx);
      }
    }
    if (idx == UINT32_MAX) {
      auto res = db_->head_.GetOrCreatePinned(labels);
      if (!res.ok()) {
        db_->samples_rejected_.fetch_add(1);
        return res.status();
      }
      std::shared_ptr<MemSeries> s = std::move(res).value();
      const SeriesRef ref = s->ref();
      if (const uint32_t* found = index_.Find(ref)) {
        db_->head_.Unpin(s.get());  // pinned already for this batch
        idx = *found;
      } else {
        idx = AddPinned(std::move(s));
        index_.Insert(ref, idx);
      }
      *handle = ref <= kHandleRefMask ? (db_->handle_tag_ << kHandleRefBits) | ref : 0;
    }
    last_handle_ = *handle;
    last_idx_ = idx;
    Batched& b = batch_[idx];
    // Newer than this batch's newest staged sample of the series, which the head accepted: the
    // head's check (a series lock) would pass too, short of a concurrent appender, which Commit
    // catches. Decoders send each series' samples in time order, so most samples skip it.
    Status st = b.staged && t > b.last.t ? Status::Ok() : db_->head_.Appendable(*b.series, t, v);
    if (st.ok() && db_->options_.retention_ms > 0) {
      // Any age is accepted per series (backfill), except what retention would delete at once.
      const int64_t newest = db_->head_.MaxTime();
      if (newest != INT64_MIN && t < newest - db_->options_.retention_ms) {
        st = Status::InvalidArgument(
            "too old: sample for series " + labels.ToString() + " at timestamp " +
            std::to_string(t) + " is beyond the retention period (" +
            std::to_string(db_->options_.retention_ms) + " ms before the newest sample " +
            std::to_string(newest) + ")");
      }
    }
    if (st.ok() && b.staged) {
      // Order within this batch: the head has not seen these samples yet.
      const Sample prev = b.last;
      if (t == prev.t) {
        // Bitwise on purpose: a repeated NaN (or staleness marker) is the same sample.
        // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
        if (std::memcmp(&v, &prev.v, sizeof v) == 0) return Status::Ok();
        st = Status::InvalidArgument("duplicate sample for timestamp: series " + labels.ToString() +
                                     " at timestamp " + std::to_string(t) +
                                     " already has a different value in this batch");
      } else if (t < prev.t && (db_->options_.out_of_order_window_ms <= 0 ||
                                t < prev.t - db_->options_.out_of_order_window_ms)) {
        st = Status::InvalidArgument(
            "out of order sample: series " + labels.ToString() + " at timestamp " +
            std::to_string(t) + " is older than its newest sample at " + std::to_string(prev.t) +
            " in this batch (out-of-order window " +
            std::to_string(db_->options_.out_of_order_window_ms) + " ms)");
      }
    }
    if (!st.ok()) {
      db_->samples_rejected_.fetch_add(1);
      return st;
    }
    if (staged_.size() >= kNoNext) {
      db_->samples_rejected_.fetch_add(1);
      return Status::ResourceExhausted("too many samples in one append batch");
    }
    // The new sample links back to the series' previous one (a write to the new, sequential
    // position only: a forward link written into the previous sample was a cache miss per
    // sample on large requests).
    uint32_t prev = kNoNext;
    if (!b.staged) {
      b.staged = true;
      b.last = Sample{t, v};
    } else {
      if (t > b.last.t) b.last = Sample{t, v};
      prev = b.last_staged;
    }
    b.last_staged = static_cast<uint32_t>(staged_.size());
    ++b.count;
    staged_.push_back({idx, prev, t, v});
    return Status::Ok();
  }

  Status UpdateMetadata(std::string_view metric_name, const MetricMetadata& md) override {
    KANSOKU_CHECK(!done_, "BUG: Appender used after Commit/Rollback");
    if (!IsValidMetricName(metric_name)) {
      return Status::InvalidArgument("invalid metric name \"" + std::string(metric_name) + "\"");
    }
    metadata_.push_back({std::string(metric_name), md});
    return Status::Ok();
  }

  Status AppendExemplar(const Labels& series, const Exemplar& e) override {
    KANSOKU_CHECK(!done_, "BUG: Appender used after Commit/Rollback");
    ExemplarStore* store = db_->exemplars_.get();
    if (store == nullptr) return Status::Ok();  // exemplar storage off
    // Against this batch's own newest exemplar of the series first, then the store's.
    const uint64_t h = series.Hash();
    auto [it, fresh] = exemplar_last_.try_emplace(h, exemplars_.size());
    if (!fresh && exemplars_[it->second].first == series) {
      const Exemplar& prev = exemplars_[it->second].second;
      if (prev == e) return Status::Ok();  // duplicate: dropped, as the store does
      if (e.t <= prev.t) {
        return Status::InvalidArgument("out of order exemplar: series " + series.ToString() +
                                       " at timestamp " + std::to_string(e.t) +
                                       " is not newer than its exemplar at " +
                                       std::to_string(prev.t) + " in this batch");
      }
      KANSOKU_RETURN_IF_ERROR(ExemplarStore::Validate(e));
    } else {
      // A new series in this batch (or a hash collision: the store re-checks at commit).
      Status st = ValidateLabels(series);
      if (st.ok()) st = store->Check(series, e);
      if (!st.ok()) {
        if (fresh) exemplar_last_.erase(it);
        return st;
      }
    }
    it->second = exemplars_.size();
    exemplars_.emplace_back(series, e);
    return Status::Ok();
  }

  Status Commit() override {
    KANSOKU_CHECK(!done_, "BUG: Appender used after Commit/Rollback");
    done_ = true;
    if (staged_.empty() && metadata_.empty()) {
      UnpinAll();  // series pinned by samples that were all refused
      return CommitExemplars();
    }
    std::shared_lock<std::shared_mutex> commit_lock(db_->commit_mu_, std::defer_lock);
    {
      // Through the gate first, so a waiting WAL rotation is not starved by a stream of commits
      // (the rwlock itself prefers readers).
      std::lock_guard<std::mutex> gate(db_->commit_gate_);
      commit_lock.lock();
    }
    std::string buf;
    std::vector<MemSeries*> newly_logged;
    {
      std::vector<WalSeries> series;
      for (const auto& b : batch_) {
        if (b.staged && !b.series->logged.load()) {
          series.push_back({b.series->ref(), b.series->labels()});
          b.series->logged.store(true);  // tentatively; reset below if the write fails
          newly_logged.push_back(b.series.get());
        }
      }
      if (!series.empty()) AppendWalRecord(&buf, WalRecordType::kSeries, EncodeWalSeries(series));
      std::vector<WalSample> samples;
      samples.reserve(std::min(staged_.size(), kMaxSamplesPerRecord));
      staged_.ForEach([&](const Staged& st) {
        samples.push_back({batch_[st.idx].series->ref(), st.t, st.v});
        if (samples.size() == kMaxSamplesPerRecord) {
          AppendWalRecord(&buf, WalRecordType::kSamples, EncodeWalSamples(samples));
          samples.clear();
        }
      });
      if (!samples.empty()) {
        AppendWalRecord(&buf, WalRecordType::kSamples, EncodeWalSamples(samples));
      }
      if (!metadata_.empty()) {
        std::vector<WalMetadata> md;
        for (const auto& [name, m] : metadata_) md.push_back({name, m});
        AppendWalRecord(&buf, WalRecordType::kMetadata, EncodeWalMetadata(md));
      }
    }
    Status st = db_->wal_->Write(buf, db_->options_.wal_fsync_interval_ms <= 0);
    if (!st.ok()) {
      for (MemSeries* s : newly_logged) s->logged.store(false);
      db_->samples_rejected_.fetch_add(staged_.size());
      UnpinAll();
      return st;
    }

    // Series by series (each one's samples in append order, gathered backwards through its
    // chain in staged_): one lock of a series per batch, not one per sample, and its open chunk
    // stays in cache. On bench/tsdb's import a request's 200k samples are 5k series of 40
    // samples, interleaved: each link is a cache miss, so the chains of kLanes series are walked
    // in lockstep (their misses overlap); the series are appended in batch_ order as before.
    size_t rejected = 0;
    Status first_error;
    constexpr size_t kLanes = 8;
    std::array<std::vector<Sample>, kLanes> runs;
    std::array<const Batched*, kLanes> lane_of;
    std::array<uint32_t, kLanes> at, left;
    for (size_t next = 0;;) {
      size_t lanes = 0;
      for (; lanes < kLanes && next < batch_.size(); ++next) {
        const Batched& b = batch_[next];
        if (!b.staged) continue;
        lane_of[lanes] = &b;
        runs[lanes].resize(b.count);
        at[lanes] = b.last_staged;
        left[lanes] = b.count;
        ++lanes;
      }
      if (lanes == 0) break;
      for (bool more = true; more;) {
        more = false;
        for (size_t l = 0; l < lanes; ++l) {
          if (left[l] == 0) continue;
          const Staged& st = staged_[at[l]];
          runs[l][--left[l]] = Sample{st.t, st.v};
          at[l] = st.prev;
          more = more || left[l] != 0;
        }
      }
      for (size_t l = 0; l < lanes; ++l) {
        rejected +=
            db_->head_.AppendRun(*lane_of[l]->series, runs[l].data(), runs[l].size(), &first_error);
      }
    }
    if (!metadata_.empty()) {
      std::lock_guard<std::mutex> l(db_->md_mu_);
      for (auto& [name, m] : metadata_) db_->metadata_[name] = std::move(m);
    }
    commit_lock.unlock();
    UnpinAll();
    // After the samples they belong to, before the commit is acknowledged (kill -9 safe).
    KANSOKU_RETURN_IF_ERROR(CommitExemplars());
    if (rejected > 0) {
      db_->samples_rejected_.fetch_add(rejected);
      return Status::InvalidArgument(
          std::to_string(rejected) +
          " samples rejected at commit; first: " + first_error.message());
    }
    return Status::Ok();
  }

  void Rollback() override {
    done_ = true;
    exemplars_.clear();
    exemplar_last_.clear();
    UnpinAll();
  }

 private:
  // Adds the staged exemplars to the store (its own log, written with write(2) and fsynced under
  // the WAL's policy). Ones refused now (lost a race with a concurrent appender) are counted by
  // the store; only an IO error fails the commit.
  Status CommitExemplars() {
    if (exemplars_.empty()) return Status::Ok();
    std::vector<ExemplarStore::Item> items;
    items.reserve(exemplars_.size());
    for (const auto& [series, e] : exemplars_) items.push_back({&series, &e});
    Status st = db_->exemplars_->AddBatch(items, db_->options_.wal_fsync_interval_ms <= 0);
    exemplars_.clear();
    exemplar_last_.clear();
    return st.WithContext("exemplars");
  }

  static constexpr uint32_t kNoNext = UINT32_MAX;
  struct Staged {
    uint32_t idx;   // the series: batch_[idx] (pinned)
    uint32_t prev;  // position in staged_ of the series' previous sample, kNoNext = none
    int64_t t;
    double v;
  };
  // The staged samples, in blocks of fixed size: a request of 200k samples (a 25 MB text
  // import) holds 4.8 MB instead of a vector's up to 6.3 MB capacity, plus the old array while
  // it grows (9.4 MB at once), per request in flight.
  class StagedSamples {
   public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    void push_back(const Staged& s) {
      if (size_ % kBlock == 0) blocks_.push_back(std::make_unique_for_overwrite<Staged[]>(kBlock));
      blocks_.back()[size_ % kBlock] = s;
      ++size_;
    }
    Staged& operator[](size_t i) { return blocks_[i / kBlock][i % kBlock]; }
    const Staged& operator[](size_t i) const { return blocks_[i / kBlock][i % kBlock]; }
    template <class Fn>
    void ForEach(Fn&& fn) const {
      for (size_t i = 0; i < size_; i += kBlock) {
        const Staged* b = blocks_[i / kBlock].get();
        const size_t n = std::min(kBlock, size_ - i);
        for (size_t j = 0; j < n; ++j) fn(b[j]);
      }
    }
    void clear() {
      blocks_.clear();
      size_ = 0;
    }

   private:
    static constexpr size_t kBlock = 4096;  // 96 KiB
    std::vector<std::unique_ptr<Staged[]>> blocks_;
    size_t size_ = 0;
  };
  struct Batched {
    std::shared_ptr<MemSeries> series;  // pinned until the batch ends
    bool staged = false;                // some sample of it is in staged_
    Sample last{0, 0};                  // its newest staged sample
    uint32_t last_staged = 0;           // position in staged_ of its last sample (when staged)
    uint32_t count = 0;                 // its samples in staged_
  };
  uint32_t AddPinned(std::shared_ptr<MemSeries> s) {
    batch_.push_back({std::move(s), false, Sample{0, 0}, 0, 0});
    return static_cast<uint32_t>(batch_.size() - 1);
  }
  std::vector<std::pair<Labels, Exemplar>> exemplars_;  // staged, in append order
  std::unordered_map<uint64_t, size_t> exemplar_last_;  // series hash -> its newest in exemplars_
  void UnpinAll() {
    for (const auto& b : batch_) db_->head_.Unpin(b.series.get());
    batch_.clear();
    index_.Clear();
    last_handle_ = 0;
    staged_.clear();
    metadata_.clear();
  }

  DB* db_;
  bool done_ = false;
  StagedSamples staged_;
  std::vector<Batched> batch_;  // series pinned by this batch
  FlatMap64 index_;             // ref -> position in batch_
  uint64_t last_handle_ = 0;    // the previous call's series (0 = none)
  uint32_t last_idx_ = 0;       // and its position in batch_
  std::vector<std::pair<std::string, MetricMetadata>> metadata_;
};

// ---------------------------------------------------------------------------------------------
// Querier

class DBQuerier : public Querier {
 public:
  DBQuerier(DB* db, int64_t mint, int64_t maxt) : db_(db), mint_(mint), maxt_(maxt) {}

  Result<std::unique_ptr<SeriesSet>> Select(const std::vector<Matcher>& matchers,
                                            const SelectHints& hints) override {
    std::optional<RollupChoice> rollup;
    if (db_->options_.use_rollups) rollup = ChooseRollup(hints);
    // /api/v1/series reads labels only: no chunk references (nor head snapshots) are made, and
    // the set's iterators are empty.
    const bool labels_only = hints.func == "series";
    KANSOKU_ASSIGN_OR_RETURN(auto series,
                             SelectData(matchers, rollup, labels_only, hints.parallelism));
    return std::unique_ptr<SeriesSet>(
        std::make_unique<VectorSeriesSet>(std::move(series), mint_, maxt_));
  }

  Status ForEachSeriesLabels(const std::vector<Matcher>& matchers, const SelectHints& hints,
                             const LabelPartsFn& fn) override {
    (void)hints;  // the querier's [mint, maxt] bounds the series, as Select's
    return WithLabelLists(
        matchers, [&](const std::vector<LabelViewList>& lists) { ForEachMergedLabels(lists, fn); });
  }

  Result<std::vector<std::string>> LabelNames(const std::vector<Matcher>& matchers) override {
    std::vector<std::string> out;
    if (matchers.empty()) {
      std::shared_lock<std::shared_mutex> l(db_->blocks_mu_);
      out = db_->head_.LabelNames();
      for (const auto& b : BlocksLocked()) {
        auto names = b->LabelNames();
        out.insert(out.end(), names.begin(), names.end());
      }
    } else {
      KANSOKU_ASSIGN_OR_RETURN(auto series, SelectData(matchers, {}, true));
      for (const auto& s : series) {
        for (const auto& l : s.labels) out.push_back(l.name);
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               const std::vector<Matcher>& matchers) override {
    std::vector<std::string> out;
    if (matchers.empty()) {
      // Each source's values are sorted and mostly the same: merged into the sorted result one
      // source at a time, copying only values not seen yet (a block's values are views into
      // it, alive under the lock).
      std::shared_lock<std::shared_mutex> l(db_->blocks_mu_);
      out = db_->head_.LabelValues(name);
      std::vector<std::string_view> values;
      std::vector<std::string> merged;
      for (const auto& b : BlocksLocked()) {
        values.clear();
        b->ForEachValue(name, [&](std::string_view v, const Postings&) { values.push_back(v); });
        merged.clear();
        merged.reserve(out.size() + values.size());
        size_t i = 0, j = 0;
        while (i < out.size() || j < values.size()) {
          if (j == values.size() || (i < out.size() && out[i] < values[j])) {
            merged.push_back(std::move(out[i++]));
          } else if (i == out.size() || values[j] < out[i]) {
            merged.emplace_back(values[j++]);
          } else {
            merged.push_back(std::move(out[i++]));
            ++j;
          }
        }
        out.swap(merged);
      }
      return out;
    } else {
      KANSOKU_ASSIGN_OR_RETURN(auto series, SelectData(matchers, {}, true));
      for (const auto& s : series) {
        std::string_view v = s.labels.Get(name);
        if (!v.empty()) out.emplace_back(v);
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  std::vector<std::shared_ptr<Block>> BlocksLocked() const {
    std::vector<std::shared_ptr<Block>> out;
    for (const auto& b : db_->blocks_) {
      if (b->meta().maxt > mint_ && b->meta().mint <= maxt_) out.push_back(b);
    }
    return out;
  }

  // A selector whose matchers all match "" would select everything: refused, with the index's
  // error text.
  static Status RefuseAllEmpty(const std::vector<Matcher>& matchers) {
    for (const auto& m : matchers) {
      if (!m.MatchesEmpty()) return Status::Ok();
    }
    MemPostings empty;
    return SelectPostings(empty, matchers).status();
  }

  // Views of the labels of the head's and each block's series matching matchers (label-sorted
  // lists, the head's first), passed to f under the blocks' lock, which keeps the blocks alive
  // (a vector here keeps the head's series).
  template <class F>
  Status WithLabelLists(const std::vector<Matcher>& matchers, F f) {
    KANSOKU_RETURN_IF_ERROR(RefuseAllEmpty(matchers));
    std::shared_lock<std::shared_mutex> l(db_->blocks_mu_);
    KANSOKU_ASSIGN_OR_RETURN(auto head, db_->head_.SelectLabels(matchers, mint_, maxt_));
    const auto blocks = BlocksLocked();
    std::vector<LabelViewList> lists(1 + blocks.size());
    if (!head.empty()) {
      lists[0].parts.reserve(2 * head.front()->labels().size() * head.size());
      lists[0].begin.reserve(head.size() + 1);
    }
    for (const auto& s : head) lists[0].Add(s->labels());
    for (size_t i = 0; i < blocks.size(); ++i) {
      KANSOKU_RETURN_IF_ERROR(blocks[i]->SelectLabels(matchers, mint_, maxt_, &lists[i + 1]));
    }
    f(std::as_const(lists));
    return Status::Ok();
  }

  Result<std::vector<SeriesData>> SelectData(const std::vector<Matcher>& matchers,
                                             const std::optional<RollupChoice>& rollup = {},
                                             bool labels_only = false, int parallelism = 1) {
    KANSOKU_RETURN_IF_ERROR(RefuseAllEmpty(matchers));
    if (labels_only) {
      std::vector<SeriesData> out;
      KANSOKU_RETURN_IF_ERROR(WithLabelLists(matchers, [&](const std::vector<LabelViewList>& l) {
        out = MergeLabelLists(l);  // each resulting series' labels copied once
      }));
      return out;
    }
    std::vector<std::vector<SeriesData>> lists;
    std::shared_lock<std::shared_mutex> l(db_->blocks_mu_);
    // The head first: on duplicate timestamps its (newest) value wins.
    // Source 0 is the head, source i > 0 block i - 1. Sources are read in order on this thread
    // until one yields many series; the rest are then shared with up to parallelism - 1 more
    // threads (a 6,400-series selector over a day's blocks spent a quarter of its query's wall
    // time here, single-threaded, before the evaluation's own threads started).
    const auto blocks = BlocksLocked();
    const size_t n_src = 1 + blocks.size();
    lists.resize(n_src);
    std::vector<Status> errors(n_src);
    // A head with many matching series (its postings, looked up once and then read) predicts a
    // large select: then every source is shared out from the start (below).
    std::optional<Postings> head_refs;
    if (parallelism > 1 && n_src >= 3) {
      KANSOKU_ASSIGN_OR_RETURN(head_refs, db_->head_.Matching(matchers));
    }
    auto read = [&](size_t i) {
      bool used = false;
      auto r = i == 0 ? (head_refs ? Result<std::vector<SeriesData>>(
                                         db_->head_.Select(*head_refs, mint_, maxt_))
                                   : db_->head_.Select(matchers, mint_, maxt_))
                      : blocks[i - 1]->Select(matchers, mint_, maxt_, rollup, &used,
                                              /*label_refs=*/true);
      if (!r.ok()) {
        errors[i] = r.status();
        return;
      }
      if (used) db_->rollup_reads_.fetch_add(1);
      lists[i] = std::move(*r);
    };
    constexpr size_t kManySeries = 256;  // below this a thread costs more than it saves
    // Read order: the blocks, then the head. The head's select snapshots every open chunk and
    // sorts what it finds (by rank, Head::RefreshLabelOrder), a large select's costliest read:
    // when the reads are shared out it goes first, on a thread of its own, instead of alone
    // before the threads start. (The merge below still gives the head's samples precedence.)
    std::vector<size_t> order;
    order.reserve(n_src);
    for (size_t b = 1; b < n_src; ++b) order.push_back(b);
    order.push_back(0);
    const bool head_many = head_refs && head_refs->size() >= kManySeries;
    size_t i = 0;
    while (i < n_src && !head_many) {
      read(order[i]);
      const bool many = lists[order[i]].size() >= kManySeries;
      ++i;
      if (many && parallelism > 1 && n_src - i >= 2) break;
    }
    if (i < n_src) {
      std::rotate(order.begin() + static_cast<ptrdiff_t>(i), order.end() - 1, order.end());
      std::atomic<size_t> next{i};
      auto work = [&] {
        for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < n_src;) {
          read(order[k]);
        }
      };
      const size_t extra = std::min<size_t>(static_cast<size_t>(parallelism) - 1, n_src - i - 1);
      std::vector<std::thread> pool;
      pool.reserve(extra);
      for (size_t t = 0; t < extra; ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
    }
    l.unlock();
    for (const Status& st : errors) KANSOKU_RETURN_IF_ERROR(st);
    if (lists.size() == 1) return std::move(lists[0]);
    return MergeSeriesLists(std::move(lists), parallelism);
  }

  DB* db_;
  int64_t mint_, maxt_;
};

// ---------------------------------------------------------------------------------------------
// DB

namespace {
HeadOptions MakeHeadOptions(const DBOptions& o) {
  HeadOptions h;
  h.chunk_range_ms = o.block_range_ms;
  h.ooo_window_ms = o.out_of_order_window_ms;
  h.samples_per_chunk = o.samples_per_chunk;
  h.max_series = o.max_series;
  return h;
}
}  // namespace

namespace {
uint64_t NextHandleTag() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1) & ((uint64_t{1} << (64 - kHandleRefBits)) - 1);
}
}  // namespace

DB::DB(const DBOptions& options, std::string dir)
    : options_(options),
      dir_(std::move(dir)),
      handle_tag_(NextHandleTag()),
      clock_(options.clock != nullptr ? *options.clock : Clock::Real()),
      head_(MakeHeadOptions(options)) {}

Result<std::unique_ptr<DB>> DB::Open(const DBOptions& options, std::string dir) {
  if (options.block_range_ms <= 0) {
    return Status::InvalidArgument("tsdb: block_range_ms must be > 0");
  }
  if (options.out_of_order_window_ms < 0) {
    return Status::InvalidArgument("tsdb: out_of_order_window_ms must be >= 0");
  }
  if (options.samples_per_chunk == 0 || options.samples_per_chunk > XorChunk::kMaxSamples) {
    return Status::InvalidArgument("tsdb: samples_per_chunk must be in [1, 65535]");
  }
  std::unique_ptr<DB> db(new DB(options, std::move(dir)));
  KANSOKU_RETURN_IF_ERROR(db->Load());
  if (options.background) {
    if (options.wal_fsync_interval_ms > 0) {
      db->sync_thread_ = std::thread([d = db.get()] { d->SyncLoop(); });
    }
    db->head_thread_ = std::thread([d = db.get()] { d->HeadLoop(); });
    db->blocks_thread_ = std::thread([d = db.get()] { d->BlocksLoop(); });
  }
  return db;
}

DB::~DB() {
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (head_thread_.joinable()) head_thread_.join();
  if (blocks_thread_.joinable()) blocks_thread_.join();
  const double waited = SecondsSince(start);
  if (wal_ != nullptr && options_.checkpoint_on_close) {
    // The head as compact chunk records instead of every segment's raw samples: a smaller WAL
    // on disk while stopped and a faster start. A failure leaves the segments as they were.
    // Nothing else runs now: both of the encoding threads' cores are the close's.
    Status st = Checkpoint(/*threads=*/2);
    if (!st.ok()) log::Error("tsdb: checkpoint at close failed", {{"error", st.ToString()}});
  }
  const double checkpointed = SecondsSince(start);
  if (wal_ != nullptr) {
    Status st = wal_->Sync();
    if (!st.ok()) log::Error("tsdb: final WAL fsync failed", {{"error", st.ToString()}});
  }
  // Where the close's time went (bench/tsdb's "flush"): waiting for the background threads
  // (a persist or compaction in progress), the checkpoint, the final fsync.
  log::Info("tsdb: closed", {{"wait_background_seconds", waited},
                             {"checkpoint_seconds", checkpointed - waited},
                             {"seconds", SecondsSince(start)}});
  wal_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status DB::Load() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IOError("cannot create tsdb directory " + dir_ + ": " + ec.message());
  const std::string lock_path = dir_ + "/lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return Status::FromErrno("cannot open " + lock_path, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("tsdb directory " + dir_ +
                               " is in use by another kansoku process (flock on " + lock_path +
                               ")");
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kBlockPrefix) || !e.is_directory(ec)) continue;
    if (name.ends_with(".tmp")) {
      log::Warn("tsdb: removing incomplete block", {{"dir", e.path().string()}});
      KANSOKU_RETURN_IF_ERROR(RemoveAll(e.path().string()));
      continue;
    }
    names.push_back(name);
  }
  if (ec) return Status::IOError("cannot list " + dir_ + ": " + ec.message());
  int64_t persisted_until = INT64_MIN;
  for (const auto& name : names) {
    KANSOKU_ASSIGN_OR_RETURN(auto block, Block::Open(dir_ + "/" + name));
    persisted_until = std::max(persisted_until, block->meta().maxt);
    blocks_.push_back(std::move(block));
    next_block_seq_ =
        std::max(next_block_seq_.load(), std::atoi(name.c_str() + kBlockPrefix.size()) + 1);
  }
  std::sort(blocks_.begin(), blocks_.end(),
            [](const auto& a, const auto& b) { return a->meta().mint < b->meta().mint; });
  head_.SetMinValidTime(persisted_until);
  persisted_until_ = persisted_until;

  // Replay the WAL into the head.
  const auto start = std::chrono::steady_clock::now();
  std::vector<WalSeries> series;
  std::vector<WalSample> samples;
  std::vector<WalMetadata> md;
  uint64_t unknown_refs = 0;
  std::vector<WalChunk> chunks;
  std::vector<std::shared_ptr<MemSeries>> by_ref_cache;
  constexpr SeriesRef kDenseRefLimit = SeriesRef{1} << 28;
  // Refs are dense: a vector beats the head's locked hash maps during replay.
  auto series_of = [&](SeriesRef ref, std::shared_ptr<MemSeries>* sparse) -> MemSeries* {
    if (ref < by_ref_cache.size()) return by_ref_cache[ref].get();
    if (ref >= kDenseRefLimit) {
      *sparse = head_.GetByRef(ref);
      return sparse->get();
    }
    return nullptr;
  };
  Status st = ReplayWal(
      dir_ + "/wal",
      [&](WalRecordType type, std::string_view payload) -> Status {
        switch (type) {
          case WalRecordType::kSeries:
          case WalRecordType::kSymbolSeries: {
            series.clear();
            KANSOKU_RETURN_IF_ERROR(type == WalRecordType::kSeries
                                        ? DecodeWalSeries(payload, &series)
                                        : DecodeWalSymbolSeries(payload, &series));
            for (const auto& s : series) {
              KANSOKU_ASSIGN_OR_RETURN(auto ms, head_.CreateWithRef(s.ref, s.labels));
              ms->logged.store(true);
              if (s.ref < kDenseRefLimit) {
                if (s.ref >= by_ref_cache.size()) by_ref_cache.resize(s.ref + 1 + s.ref / 2);
                by_ref_cache[s.ref] = std::move(ms);
              }
            }
            break;
          }
          case WalRecordType::kSamples: {
            samples.clear();
            KANSOKU_RETURN_IF_ERROR(DecodeWalSamples(payload, &samples));
            for (const auto& s : samples) {
              std::shared_ptr<MemSeries> sparse;
              MemSeries* cur = series_of(s.ref, &sparse);
              if (cur == nullptr) {
                ++unknown_refs;
                continue;
              }
              (void)head_.Append(*cur, s.t, s.v);  // same checks as at commit time
            }
            break;
          }
          case WalRecordType::kChunks: {
            chunks.clear();
            KANSOKU_RETURN_IF_ERROR(DecodeWalChunks(payload, &chunks));
            for (const auto& c : chunks) {
              std::shared_ptr<MemSeries> sparse;
              MemSeries* cur = series_of(c.ref, &sparse);
              ChunkIterator it(c.data, c.encoding);
              while (it.Next()) {
                if (cur == nullptr) {
                  ++unknown_refs;
                  continue;
                }
                const Sample smp = it.At();
                (void)head_.Append(*cur, smp.t, smp.v);
              }
              KANSOKU_RETURN_IF_ERROR(it.status());
            }
            break;
          }
          case WalRecordType::kMetadata: {
            md.clear();
            KANSOKU_RETURN_IF_ERROR(DecodeWalMetadata(payload, &md));
            for (auto& m : md) metadata_[m.metric] = std::move(m.md);
            break;
          }
        }
        return Status::Ok();
      },
      &replay_stats_);
  KANSOKU_RETURN_IF_ERROR(st.WithContext("tsdb: WAL replay"));
  replay_seconds_ = SecondsSince(start);
  if (unknown_refs > 0) {
    log::Warn("tsdb wal: samples for unknown series skipped",
              {{"samples", static_cast<unsigned long long>(unknown_refs)}});
  }
  const HeadStats hs = head_.Stats();
  log::Info("tsdb: opened",
            {{"dir", dir_},
             {"blocks", static_cast<unsigned long long>(blocks_.size())},
             {"head_series", static_cast<unsigned long long>(hs.series)},
             {"wal_records", static_cast<unsigned long long>(replay_stats_.records_replayed)},
             {"replay_seconds", replay_seconds_}});
  KANSOKU_ASSIGN_OR_RETURN(wal_, WalWriter::Open(dir_ + "/wal", options_.wal_segment_bytes));
  if (options_.max_exemplars > 0) {
    KANSOKU_ASSIGN_OR_RETURN(exemplars_,
                             ExemplarStore::Open(dir_ + "/exemplars", options_.max_exemplars));
  }
  return Status::Ok();
}

std::vector<SeriesExemplars> DB::SelectExemplars(const std::vector<std::vector<Matcher>>& matchers,
                                                 int64_t mint, int64_t maxt) {
  if (exemplars_ == nullptr) return {};
  return exemplars_->Select(matchers, mint, maxt);
}

std::unique_ptr<Appender> DB::NewAppender() { return std::make_unique<DBAppender>(this); }

Result<std::unique_ptr<Querier>> DB::NewQuerier(int64_t mint, int64_t maxt) {
  if (maxt < mint) {
    return Status::InvalidArgument("tsdb: querier range end " + std::to_string(maxt) +
                                   " is before its start " + std::to_string(mint));
  }
  return std::unique_ptr<Querier>(std::make_unique<DBQuerier>(this, mint, maxt));
}

std::vector<std::pair<std::string, MetricMetadata>> DB::Metadata(std::string_view metric,
                                                                 size_t limit) {
  std::vector<std::pair<std::string, MetricMetadata>> out;
  std::lock_guard<std::mutex> l(md_mu_);
  if (!metric.empty()) {
    auto it = metadata_.find(metric);
    if (it != metadata_.end()) out.emplace_back(it->first, it->second);
    return out;
  }
  for (const auto& [name, md] : metadata_) {
    if (limit > 0 && out.size() >= limit) break;
    out.emplace_back(name, md);
  }
  return out;
}

std::vector<std::shared_ptr<Block>> DB::BlocksSnapshot(int64_t mint, int64_t maxt) const {
  std::shared_lock<std::shared_mutex> l(blocks_mu_);
  std::vector<std::shared_ptr<Block>> out;
  for (const auto& b : blocks_) {
    if (b->meta().maxt > mint && b->meta().mint <= maxt) out.push_back(b);
  }
  return out;
}

std::vector<BlockMeta> DB::Blocks() const {
  std::vector<BlockMeta> out;
  for (const auto& b : BlocksSnapshot(INT64_MIN, INT64_MAX)) out.push_back(b->meta());
  return out;
}

DBStats DB::Stats() const {
  DBStats s;
  const HeadStats h = head_.Stats();
  s.head_series = h.series;
  s.head_chunks = h.chunks;
  s.samples_appended = h.samples_appended;
  s.ooo_samples_appended = h.ooo_samples_appended;
  s.series_created = h.series_created;
  s.series_removed = h.series_removed;
  s.head_min_time = h.min_time;
  s.head_max_time = h.max_time;
  s.samples_rejected = samples_rejected_.load();
  for (const auto& b : BlocksSnapshot(INT64_MIN, INT64_MAX)) {
    ++s.blocks;
    s.block_bytes += b->SizeBytes();
  }
  s.wal_bytes = wal_->DiskBytes();
  s.bytes_on_disk = s.block_bytes + s.wal_bytes;
  s.head_compactions = head_compactions_.load();
  s.block_compactions = block_compactions_.load();
  s.blocks_deleted_by_retention = retention_deleted_.load();
  s.wal_torn_tails_truncated = replay_stats_.torn_tails_truncated;
  s.wal_replay_records = replay_stats_.records_replayed;
  s.rollup_block_reads = rollup_reads_.load();
  s.wal_replay_seconds = replay_seconds_;
  return s;
}

Status DB::SyncWal() { return wal_->Sync(); }

std::string DB::NextBlockName() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%08d", std::string(kBlockPrefix).c_str(),
                next_block_seq_.fetch_add(1));
  return buf;
}

Result<int> DB::CompactHead(bool follow_writers) {
  std::lock_guard<std::mutex> hl(head_mu_);
  return CompactHeadLocked(follow_writers ? Trigger::kRound : Trigger::kAll);
}

Result<int> DB::CompactHeadBehindWriters() {
  std::lock_guard<std::mutex> hl(head_mu_);
  return CompactHeadLocked(Trigger::kTick);
}

Result<int> DB::CompactHeadLocked(Trigger trigger) {
  const int64_t r = options_.block_range_ms;
  // Writers' frontiers. Each call (round or tick) takes what was appended since the previous
  // call; a round's frontier spans the last two rounds (one round could be too short to see a
  // paused sender), a tick's the last two ticks.
  const int64_t appended = head_.TakeMinAppendedTime();
  round_min_appended_ = std::min(round_min_appended_, appended);
  const int64_t tick_frontier = std::min(appended, prev_tick_min_appended_);
  prev_tick_min_appended_ = appended;
  int64_t round_frontier = INT64_MIN;
  if (trigger == Trigger::kRound) {
    round_frontier = std::min(round_min_appended_, prev_round_min_appended_);
    prev_round_min_appended_ = round_min_appended_;
    round_min_appended_ = INT64_MAX;
  }
  int written = 0;
  for (;;) {
    const int64_t head_min = head_.MinTime();
    const int64_t head_max = head_.MaxTime();
    if (head_min == INT64_MAX || head_max == INT64_MIN) break;
    const int64_t lo = FloorDiv(head_min, r) * r;
    const int64_t hi = lo + r;
    if (head_max - lo < r + r / 2) break;
    if (trigger != Trigger::kAll && head_max - lo < kMaxHeadRanges * r && round_frontier < hi) {
      // Not forced and the slow frontier has not passed: persist only right behind writers
      // that all moved past the range.
      if (tick_frontier < hi || !head_.AllSeriesPast(hi)) break;
    }
    KANSOKU_RETURN_IF_ERROR(PersistRange(lo, hi));
    ++written;
  }
  // One checkpoint for all ranges persisted (backfill can persist many at once). A tick leaves
  // it to the next round: a checkpoint rewrites the whole head, and during a fast import ticks
  // persist a range every few seconds; until then the WAL keeps the persisted samples too.
  if (written > 0) checkpoint_due_ = true;
  if (checkpoint_due_ && trigger != Trigger::kTick) {
    KANSOKU_RETURN_IF_ERROR(Checkpoint());
    checkpoint_due_ = false;
  }
  return written;
}

Status DB::PersistRange(int64_t lo, int64_t hi) {
  // Appends below hi are backfill from here on: they wait on the backfill lock until the range is
  // truncated, so the snapshot below is final for [lo, hi). hi may be below the bound already
  // (a backfilled range): then the lock alone does it, and the block overlaps older ones.
  const auto start = std::chrono::steady_clock::now();
  head_.SetMinValidTime(hi);
  auto backfill_lock = head_.LockBackfill();
  std::shared_ptr<Block> block;
  // Rollups are written when compaction merges head blocks into wider ones (where a 5 m or 1 h
  // window series pays for its chunk headers); a 2 h block would spend a third of its bytes and
  // of its write time on them. Without compaction, every block gets them.
  const bool rollups = options_.max_block_range_ms <= options_.block_range_ms && AgedForRollups(hi);
  std::string name;
  std::unique_ptr<BlockWriter> writer;  // created with the first series that has data
  KANSOKU_RETURN_IF_ERROR(head_.ForEachSnapshot(
      lo, hi - 1, [&](const Labels& labels, std::vector<ChunkRef> chunks) -> Status {
        if (writer == nullptr) {
          name = NextBlockName();
          KANSOKU_ASSIGN_OR_RETURN(writer, BlockWriter::Create(dir_, name, rollups));
        }
        MergedSeriesIterator it(std::move(chunks), lo, hi - 1);
        return writer->AddSeries(labels, it);
      }));
  if (writer != nullptr) {
    KANSOKU_ASSIGN_OR_RETURN(BlockMeta meta, writer->Finish(lo, hi, 1));
    KANSOKU_ASSIGN_OR_RETURN(block, Block::Open(dir_ + "/" + name));
    log::Info("tsdb: persisted head block",
              {{"block", name},
               {"mint", static_cast<long long>(lo)},
               {"maxt", static_cast<long long>(hi)},
               {"series", static_cast<unsigned long long>(meta.num_series)},
               {"samples", static_cast<unsigned long long>(meta.num_samples)},
               {"seconds", SecondsSince(start)}});
  }
  {
    std::unique_lock<std::shared_mutex> l(blocks_mu_);
    if (block != nullptr) {
      blocks_.push_back(std::move(block));
      std::sort(blocks_.begin(), blocks_.end(),
                [](const auto& a, const auto& b) { return a->meta().mint < b->meta().mint; });
    }
    head_.Truncate(lo, hi);
  }
  ReleaseFreeHeap();  // the truncated chunks were freed all over the heap
  int64_t cur = persisted_until_.load();
  while (hi > cur && !persisted_until_.compare_exchange_weak(cur, hi)) {
  }
  head_compactions_.fetch_add(1);
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    compact_requested_ = true;
  }
  bg_cv_.notify_all();
  return Status::Ok();
}

Status DB::Checkpoint(int threads) {
  int upto;
  {
    std::lock_guard<std::mutex> gate(commit_gate_);
    std::unique_lock<std::shared_mutex> l(commit_mu_);
    KANSOKU_ASSIGN_OR_RETURN(upto, wal_->Rotate());
  }
  // Every commit that wrote to a segment <= upto has applied to the head by now.
  return wal_->Checkpoint(upto, [&](const WalWriter::Emit& emit) -> Status {
    std::string rec;
    auto flush = [&](WalRecordType type, const std::string& payload) {
      rec.clear();
      AppendWalRecord(&rec, type, payload);
      return emit(rec);
    };
    std::vector<std::shared_ptr<MemSeries>> all = head_.AllSeries();
    std::vector<WalSeries> series;
    for (const auto& s : all) {
      series.push_back({s->ref(), s->labels()});
      if (series.size() == 4096) {
        KANSOKU_RETURN_IF_ERROR(flush(WalRecordType::kSymbolSeries, EncodeWalSymbolSeries(series)));
        series.clear();
      }
    }
    if (!series.empty()) {
      KANSOKU_RETURN_IF_ERROR(flush(WalRecordType::kSymbolSeries, EncodeWalSymbolSeries(series)));
    }
    // The head's samples as encoded chunks (the smaller of packed and XOR per run), ~10x
    // smaller than samples records. Series [begin, end) of `all` as framed chunks records
    // appended to *out.
    auto encode = [&](size_t begin, size_t end, std::string* out) {
      constexpr size_t kRun = BlockWriter::kSamplesPerChunk;
      constexpr size_t kPayloadBytes = 1 << 20;
      std::string payload, bytes;
      for (size_t k = begin; k < end; ++k) {
        const std::vector<Sample> smp = head_.SamplesOf(*all[k]);
        for (size_t i = 0; i < smp.size(); i += kRun) {
          const size_t n = std::min(kRun, smp.size() - i);
          const ChunkEncoding e = EncodeChunk(smp.data() + i, n, &bytes);
          AppendWalChunk(&payload, WalChunk{all[k]->ref(), e, bytes});
          if (payload.size() >= kPayloadBytes) {
            AppendWalRecord(out, WalRecordType::kChunks, payload);
            payload.clear();
          }
        }
      }
      if (!payload.empty()) AppendWalRecord(out, WalRecordType::kChunks, payload);
    };
    // Groups of series in order; with two threads a helper encodes every second group while
    // this one encodes (and writes) the group before it. Two groups' records in memory at most.
    constexpr size_t kGroup = 512;
    std::string first, second;
    for (size_t g = 0; g < all.size(); g += 2 * kGroup) {
      const size_t mid = std::min(g + kGroup, all.size());
      const size_t end = std::min(g + 2 * kGroup, all.size());
      std::thread helper;
      if (threads > 1 && mid < end) helper = std::thread([&] { encode(mid, end, &second); });
      encode(g, mid, &first);
      if (helper.joinable()) {
        helper.join();
      } else {
        encode(mid, end, &second);
      }
      KANSOKU_RETURN_IF_ERROR(emit(first));
      KANSOKU_RETURN_IF_ERROR(emit(second));
      first.clear();
      second.clear();
    }
    std::vector<WalMetadata> md;
    {
      std::lock_guard<std::mutex> l(md_mu_);
      for (const auto& [name, m] : metadata_) md.push_back({name, m});
    }
    if (!md.empty())
      KANSOKU_RETURN_IF_ERROR(flush(WalRecordType::kMetadata, EncodeWalMetadata(md)));
    return Status::Ok();
  });
}

Result<int> DB::ApplyRetention() {
  std::lock_guard<std::mutex> cl(compact_mu_);
  std::vector<std::shared_ptr<Block>> doomed;
  {
    std::unique_lock<std::shared_mutex> l(blocks_mu_);
    if (blocks_.empty()) return 0;
    if (options_.retention_ms > 0) {
      int64_t newest = head_.MaxTime();
      for (const auto& b : blocks_) newest = std::max(newest, b->meta().maxt);
      const int64_t cutoff = newest - options_.retention_ms;
      while (!blocks_.empty() && blocks_.front()->meta().maxt <= cutoff) {
        doomed.push_back(blocks_.front());
        blocks_.erase(blocks_.begin());
      }
    }
    if (options_.retention_bytes > 0) {
      uint64_t total = wal_->DiskBytes();
      for (const auto& b : blocks_) total += b->SizeBytes();
      while (!blocks_.empty() && total > options_.retention_bytes) {
        total -= blocks_.front()->SizeBytes();
        doomed.push_back(blocks_.front());
        blocks_.erase(blocks_.begin());
      }
    }
  }
  for (const auto& b : doomed) {
    log::Info("tsdb: deleting block beyond retention",
              {{"dir", b->dir()},
               {"mint", static_cast<long long>(b->meta().mint)},
               {"maxt", static_cast<long long>(b->meta().maxt)}});
    // Queries holding the block keep its mapping; the files go now.
    KANSOKU_RETURN_IF_ERROR(RemoveAll(b->dir()));
  }
  retention_deleted_.fetch_add(doomed.size());
  return static_cast<int>(doomed.size());
}

Result<BlockMeta> DB::RewriteBlocks(const std::vector<std::shared_ptr<Block>>& sources,
                                    int64_t mint, int64_t maxt, int level, bool rollups) {
  const auto start = std::chrono::steady_clock::now();
  const std::string name = NextBlockName();
  KANSOKU_ASSIGN_OR_RETURN(auto writer, BlockWriter::Create(dir_, name, rollups));
  // A k-way merge of the sources' series (each in label order), one series at a time: no
  // source's whole series list in memory, and the chunk pages read are unmapped as it goes.
  struct Cursor {
    const Block* block;
    size_t id;
    Labels labels;  // of series `id` while id < NumSeries()
  };
  std::vector<Cursor> cursors;
  for (const auto& b : sources) {
    if (b->NumSeries() > 0) cursors.push_back({b.get(), 0, b->LabelsOf(0)});
  }
  constexpr size_t kReleaseEvery = 1024;  // series between ReleaseMappedPages calls
  size_t written_series = 0;
  for (;;) {
    const Cursor* min = nullptr;
    for (const Cursor& c : cursors) {
      if (c.id < c.block->NumSeries() && (min == nullptr || c.labels < min->labels)) min = &c;
    }
    if (min == nullptr) break;
    Labels labels = min->labels;
    std::vector<ChunkRef> chunks;
    for (Cursor& c : cursors) {  // in source order, as the chunks were merged before
      if (c.id >= c.block->NumSeries() || !(c.labels == labels)) continue;
      KANSOKU_RETURN_IF_ERROR(c.block->AppendChunks(c.id, INT64_MIN, INT64_MAX, &chunks));
      if (++c.id < c.block->NumSeries()) c.labels = c.block->LabelsOf(c.id);
    }
    // Copied as they are when the sources' chunks follow each other (BlockWriter::
    // CanCopyChunks: the usual case, blocks of adjacent ranges), else merged and re-encoded.
    KANSOKU_RETURN_IF_ERROR(writer->AddSeriesChunks(labels, std::move(chunks), mint, maxt - 1));
    if (++written_series % kReleaseEvery == 0) {
      for (const auto& b : sources) b->ReleaseMappedPages();
    }
  }
  for (const auto& b : sources) b->ReleaseMappedPages();
  KANSOKU_ASSIGN_OR_RETURN(BlockMeta meta, writer->Finish(mint, maxt, level));
  KANSOKU_ASSIGN_OR_RETURN(auto block, Block::Open(dir_ + "/" + name));
  {
    std::unique_lock<std::shared_mutex> l(blocks_mu_);
    std::erase_if(blocks_, [&](const auto& b) {
      return std::find(sources.begin(), sources.end(), b) != sources.end();
    });
    blocks_.push_back(std::move(block));
    std::sort(blocks_.begin(), blocks_.end(),
              [](const auto& a, const auto& b) { return a->meta().mint < b->meta().mint; });
  }
  // A crash before these removals leaves overlapping blocks; queries deduplicate them and the
  // next compaction merges them again.
  for (const auto& b : sources) KANSOKU_RETURN_IF_ERROR(RemoveAll(b->dir()));
  log::Info("tsdb: compacted blocks",
            {{"block", name},
             {"sources", static_cast<unsigned long long>(sources.size())},
             {"level", meta.level},
             {"rollups", rollups},
             {"series", static_cast<unsigned long long>(meta.num_series)},
             {"chunks", static_cast<unsigned long long>(meta.num_chunks)},
             {"chunks_copied", static_cast<unsigned long long>(writer->copied_chunks())},
             {"seconds", SecondsSince(start)}});
  block_compactions_.fetch_add(1);
  return meta;
}

bool DB::AgedForRollups(int64_t block_maxt) const {
  // Nothing persisted yet (INT64_MIN) or an age beyond the clock's range: nothing is old enough
  // (the subtraction overflowed here before, which UBSan caught).
  int64_t bound;
  if (__builtin_sub_overflow(persisted_until_.load(), options_.rollup_min_age_ms, &bound)) {
    return false;
  }
  return block_maxt <= bound;
}

Result<int> DB::CompactBlocks() {
  std::lock_guard<std::mutex> cl(compact_mu_);
  int written = 0;
  // Rollups only for blocks ending at least rollup_min_age_ms behind the newest persisted range.
  const auto aged = [&](int64_t block_maxt) { return AgedForRollups(block_maxt); };
  for (int64_t range = options_.block_range_ms * 3;
       options_.max_block_range_ms > options_.block_range_ms &&
       range <= options_.max_block_range_ms;
       range *= 3) {
    // Group blocks by aligned window of this width; merge a window once data exists past it.
    std::vector<std::shared_ptr<Block>> all = BlocksSnapshot(INT64_MIN, INT64_MAX);
    const int64_t newest = persisted_until_.load();
    std::map<int64_t, std::vector<std::shared_ptr<Block>>> groups;
    for (const auto& b : all) {
      const int64_t w = FloorDiv(b->meta().mint, range);
      if (FloorDiv(b->meta().maxt - 1, range) != w) continue;  // already wider than the window
      groups[w].push_back(b);
    }
    for (auto& entry : groups) {  // not a structured binding: clang 14 can't capture those
      const int64_t w = entry.first;
      auto& group = entry.second;
      if (group.size() < 2 || (w + 1) * range > newest) continue;
      int64_t mint = INT64_MAX, maxt = INT64_MIN;
      int level = 1;
      bool had_rollups = false;  // a merge never drops rollups its sources had
      for (const auto& b : group) {
        mint = std::min(mint, b->meta().mint);
        maxt = std::max(maxt, b->meta().maxt);
        level = std::max(level, b->meta().level + 1);
        had_rollups |= b->HasRollups();
      }
      KANSOKU_RETURN_IF_ERROR(
          RewriteBlocks(group, mint, maxt, level, had_rollups || aged(maxt)).status());
      ++written;
    }
  }
  // Blocks that aged past rollup_min_age_ms without rollups: rewritten alone, with them. A block
  // whose series would need more points than a rollup file takes even at 1 h keeps none.
  for (const auto& b : BlocksSnapshot(INT64_MIN, INT64_MAX)) {
    const BlockMeta& m = b->meta();
    if (b->HasRollups() || m.num_series == 0 || !aged(m.maxt) ||
        (m.maxt - m.mint) / std::end(kRollupResolutions)[-1] > kMaxRollupPointsPerSeries) {
      continue;
    }
    KANSOKU_RETURN_IF_ERROR(RewriteBlocks({b}, m.mint, m.maxt, m.level, true).status());
    ++written;
  }
  if (written > 0) ReleaseFreeHeap();  // the merged blocks' in-memory indexes
  return written;
}

bool DB::WaitOrStop(int64_t ms) {
  std::unique_lock<std::mutex> l(bg_mu_);
  bg_cv_.wait_for(l, std::chrono::milliseconds(ms), [&] { return stop_; });
  return !stop_;
}

void DB::SyncLoop() {
  log::RateLimited err_limit(60000);
  while (WaitOrStop(options_.wal_fsync_interval_ms)) {
    Status st = wal_->Sync();
    if (st.ok() && exemplars_ != nullptr) st = exemplars_->Sync();
    if (!st.ok() && err_limit.Allow()) {
      log::Error("tsdb: WAL fsync failed", {{"error", st.ToString()}});
    }
  }
}

void DB::HeadLoop() {
  const int64_t period_ms =
      options_.background_interval_ms > 0 ? options_.background_interval_ms : 30000;
  const int64_t tick_ms = options_.persist_check_interval_ms > 0
                              ? std::min(options_.persist_check_interval_ms, period_ms)
                              : period_ms;
  auto next_round = std::chrono::steady_clock::now() + std::chrono::milliseconds(period_ms);
  log::RateLimited err_limit(60000);
  while (WaitOrStop(tick_ms)) {
    // New series since the last ranking: ranked again (at most every 10 s), so selects sort by
    // rank (Head::RefreshLabelOrder).
    head_.RefreshLabelOrder(10000);
    Result<int> r = 0;
    if (std::chrono::steady_clock::now() < next_round) {
      r = CompactHeadBehindWriters();
    } else {
      next_round = std::chrono::steady_clock::now() + std::chrono::milliseconds(period_ms);
      r = CompactHead(/*follow_writers=*/true);
    }
    if (!r.ok() && err_limit.Allow()) {
      log::Error("tsdb: head compaction failed", {{"error", r.status().ToString()}});
    }
  }
}

void DB::BlocksLoop() {
  const int64_t period_ms =
      options_.background_interval_ms > 0 ? options_.background_interval_ms : 30000;
  for (;;) {
    {
      // A round every period, and right after a head range was persisted (a window may have
      // become complete: merged now, not up to a period later, so fewer blocks stay open).
      std::unique_lock<std::mutex> l(bg_mu_);
      bg_cv_.wait_for(l, std::chrono::milliseconds(period_ms),
                      [&] { return stop_ || compact_requested_; });
      if (stop_) return;
      compact_requested_ = false;
    }
    auto r2 = CompactBlocks();
    if (!r2.ok()) log::Error("tsdb: block compaction failed", {{"error", r2.status().ToString()}});
    auto r3 = ApplyRetention();
    if (!r3.ok()) log::Error("tsdb: retention failed", {{"error", r3.status().ToString()}});
  }
}

}  // namespace kansoku::tsdb
