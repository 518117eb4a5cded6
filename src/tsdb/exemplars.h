#pragma once
// ExemplarStore: the exemplars of all series in one circular buffer of `capacity` entries, as
// Prometheus keeps them (oldest overwritten first), made durable by an append log
// (docs/design/exemplars.md has the file format).
//
// Acceptance per series (as Prometheus): an exemplar equal to the series' newest one (labels,
// value and timestamp) is a duplicate and dropped silently; one with a timestamp <= the newest
// one's is "out of order" and refused; exemplar labels longer than 128 UTF-8 runes in total
// (names + values) or not valid UTF-8 are refused. Both are counted (Stats).
//
// Durability: AddBatch writes the accepted exemplars' log records with one write(2) before it
// returns (survives kill -9); Sync() fsyncs them (the DB calls it under the WAL's fsync policy).
// Open replays the log into the ring and truncates a torn or corrupt tail. When the log holds
// more than 2 x capacity records it is rewritten from the ring (tmp file, fsync, rename).
//
// Thread safety: every method is thread-safe (one mutex; appends are short).
// Errors: Open returns IOError when the directory or log cannot be used; AddBatch returns
// IOError when the log write fails (the batch is then not acknowledged, but the exemplars stay
// visible in memory until overwritten).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

struct ExemplarStats {
  uint64_t appended = 0;      // accepted since Open (replay not included)
  uint64_t duplicates = 0;    // dropped: equal to the series' newest exemplar
  uint64_t out_of_order = 0;  // refused: not newer than the series' newest exemplar
  uint64_t invalid = 0;       // refused: labels too long or not UTF-8
  uint64_t stored = 0;        // entries in the ring now
  uint64_t series = 0;        // series with at least one exemplar in the ring
  uint64_t log_records = 0;   // records in the log file now
  uint64_t log_rewrites = 0;
  uint64_t torn_tails_truncated = 0;
  uint64_t replayed = 0;  // records read back at Open
};

class ExemplarStore {
 public:
  // Total runes of an exemplar's label names and values, as Prometheus (and OpenMetrics) limit.
  static constexpr size_t kMaxLabelRunes = 128;

  // Creates dir if needed, replays dir/log into a ring of `capacity` (> 0) entries.
  static Result<std::unique_ptr<ExemplarStore>> Open(std::string dir, size_t capacity);
  ~ExemplarStore();
  ExemplarStore(const ExemplarStore&) = delete;
  ExemplarStore& operator=(const ExemplarStore&) = delete;

  // InvalidArgument if e's labels are not valid UTF-8 or exceed kMaxLabelRunes.
  static Status Validate(const Exemplar& e);
  // Validate, then InvalidArgument "out of order exemplar" if e is not newer than the series'
  // newest stored exemplar. OK for a duplicate (Add drops it). Does not change the store.
  Status Check(const Labels& series, const Exemplar& e) const;

  struct Item {
    const Labels* series;
    const Exemplar* exemplar;
  };
  // Adds each item (dropping duplicates, refusing invalid and out-of-order ones; *rejected and
  // *first_error say how many and why) and writes the added ones' records in one write(2),
  // fsynced too when sync. IOError when the write fails.
  Status AddBatch(const std::vector<Item>& items, bool sync, size_t* rejected = nullptr,
                  Status* first_error = nullptr);
  // One exemplar; its error (if refused) is returned. Not fsynced.
  Status Add(const Labels& series, const Exemplar& e);

  // Series matching all matchers of any set, with their exemplars in [mint, maxt] (time
  // order); series sorted by labels, only those with at least one exemplar in range.
  std::vector<SeriesExemplars> Select(const std::vector<std::vector<Matcher>>& matchers,
                                      int64_t mint, int64_t maxt) const;

  // fsyncs the log if anything was written since the last Sync.
  Status Sync();
  ExemplarStats Stats() const;
  size_t capacity() const { return capacity_; }

 private:
  struct SeriesInfo {
    Exemplar newest;
    size_t count = 0;  // its entries in the ring
  };
  using SeriesMap = std::map<Labels, SeriesInfo>;
  struct Slot {
    SeriesMap::value_type* series = nullptr;  // nullptr: empty slot
    Exemplar e;
  };

  ExemplarStore(std::string dir, size_t capacity);
  Status Load();
  // Decides on e without changing anything: OK (add), AlreadyExists (duplicate),
  // InvalidArgument (refused). `newest` is the series' newest exemplar or nullptr.
  static Status Judge(const Labels& series, const Exemplar* newest, const Exemplar& e);
  void InsertLocked(const Labels& series, const Exemplar& e);
  Status RewriteLocked();
  Status OpenLogLocked();

  const std::string dir_;
  const std::string log_path_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<Slot> ring_;  // GUARDED_BY(mu_)
  size_t next_ = 0;         // GUARDED_BY(mu_): the slot written next (the oldest when full)
  SeriesMap series_;        // GUARDED_BY(mu_)
  int fd_ = -1;             // GUARDED_BY(mu_)
  bool dirty_ = false;      // GUARDED_BY(mu_)
  ExemplarStats stats_;     // GUARDED_BY(mu_)
};

// The log record payload of one exemplar (docs/design/exemplars.md), and its decoder.
std::string EncodeExemplarRecord(const Labels& series, const Exemplar& e);
Status DecodeExemplarRecord(std::string_view payload, Labels* series, Exemplar* e);

}  // namespace kansoku::tsdb
