#pragma once
// The log store's write-ahead log (docs/design/logs-storage.md, "WAL").
//
// LogWal appends one frame per batch to the newest segment (`NNNNNNNN.wal`), with one write(2)
// per frame; Rotate() starts a new segment and returns its number; DropBefore(n) deletes older
// segments once their rows are in blocks. ReplayLogWal reads every segment in order.
//
// Durability: Write returns after writev(2) (survives kill -9). Sync makes everything written
// before it survive power loss: the live segment, the segments Rotate left since the previous
// Sync and the directory (their entries). No fsync runs under the mutex, so a Sync or a Rotate
// never blocks Write for the length of an fsync. The destructor syncs what is pending.
//
// Thread safety: LogWal is thread-safe (one mutex; Syncs run one at a time, outside it).
// Ownership: owns its descriptors.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "logs/record.h"

namespace kansoku::logs {

// WAL payload of one batch (also used by tests and the fuzzer).
std::string EncodeBatch(const LogBatch& batch);
// Where each record's message and fields lie in an encoded payload: views into it, valid while
// that string lives and is not modified.
struct EncodedViews {
  std::vector<std::string_view> msgs;  // one per record
  std::vector<KVView> fields;          // every record's fields, record after record
  // One per record: its encoded labels (varint n, then the names and values), which are equal
  // bytes exactly when the (normalised: sorted, deduplicated) label lists are equal, and their
  // XXH3-64, hashed while the bytes are in cache (the head's stream key).
  std::vector<std::string_view> labels;
  std::vector<uint64_t> label_hashes;
  // One per record: the index of its label set in the payload's label table (records with equal
  // labels have the same index), and the number of sets.
  std::vector<uint32_t> label_sets;
  size_t n_label_sets = 0;
  // One per record: its time, flags and number of fields (its fields' views in `fields`).
  std::vector<int64_t> ts;
  std::vector<uint8_t> flags;
  std::vector<uint32_t> n_fields;
};
// An encoded batch as the store appends it: the payload's bytes (kept alive by owner, never
// moved) and the views of its records.
struct EncodedBatch {
  std::shared_ptr<const void> owner;
  std::string_view payload;
  EncodedViews views;
  size_t records() const { return views.ts.size(); }
};
// Encodes batch into *out (replacing its contents; sized exactly, one allocation) and, when
// views is not null, fills it with views into *out. Same bytes as EncodeBatch.
void EncodeBatchTo(const LogBatch& batch, std::string* out, EncodedViews* views);
// EncodeBatchTo in two steps, so that a caller can prepare each record and have it measured
// while its bytes are still in cache: Add() every record, in order, once it is final, then
// EncodeTo() the same batch (unchanged since). Same bytes as EncodeBatchTo. Appends no longer
// use it (BatchBuilder below normalises and encodes in one pass); the WAL replay re-encodes its
// already normalised batches with EncodeBatchTo.
class BatchEncoder {
 public:
  explicit BatchEncoder(size_t records);  // records: how many will be added (a reserve)
  ~BatchEncoder();
  void Add(const LogRecord& r);
  void EncodeTo(const LogBatch& batch, std::string* out, EncodedViews* views);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What Store::Append does to a record before encoding it (docs/design/logs-storage.md,
// "Model"): fields named in label_names become labels, labels are sorted and deduplicated,
// empty ones dropped, level normalised, a message longer than max_line_bytes cut, ts 0 -> now.
struct NormalizeRules {
  std::vector<std::string> label_names;  // service, host, level, source + configured ones
  size_t max_line_bytes = 1 << 20;
};

// Encodes a batch straight from a decoder's views, without LogRecords: each Add() normalises
// the record by NormalizeRules exactly as Store::Append normalises a LogRecord and writes its
// encoding at once (one copy of its bytes, from the decoder's buffer into the payload);
// Finish() adds the header and label table. The payload is byte for byte what Append would
// have encoded from the same records as LogRecords. Reusable: Reset() keeps the buffers.
// Thread safety: one thread at a time.
class BatchBuilder {
 public:
  BatchBuilder();
  ~BatchBuilder();
  // Starts a new batch: ts 0 becomes now_ns; size_hint: bytes the records will probably take.
  void Reset(const NormalizeRules* rules, int64_t now_ns, size_t size_hint);
  // One record. The views need to live only during the call.
  void Add(int64_t ts_ns, uint8_t flags, std::span<const KVView> labels, std::string_view msg,
           std::span<const KVView> fields);
  size_t records() const;
  // The usage guard's view of the records added (Admit in logs/api): per distinct label list as
  // passed to Add (before normalisation, in the order given), its records and bytes (message +
  // field names and values, as passed).
  struct SentStream {
    std::vector<KV> labels;
    uint64_t records = 0, bytes = 0;
  };
  const std::vector<SentStream>& sent_streams() const;
  // The finished batch; the builder is empty afterwards (Reset before the next).
  EncodedBatch Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Status DecodeBatch(std::string_view payload, LogBatch* out);

struct WalReplayStats {
  uint64_t frames = 0;
  uint64_t rows = 0;
  uint64_t torn_tails = 0;
  uint64_t corrupt_segments = 0;
};

// Replays segments numbered >= first_seq in order, calling fn for every batch. A torn or
// corrupt tail of the newest segment is truncated (warning); corruption in an older segment
// skips the rest of it (error log). Returns the highest segment number seen (0 when none).
Result<uint64_t> ReplayLogWal(const std::string& dir, uint64_t first_seq,
                              const std::function<void(LogBatch&&)>& fn, WalReplayStats* stats);

class LogWal {
 public:
  // Opens a fresh segment numbered `seq` in dir (created if needed).
  static Result<std::unique_ptr<LogWal>> Open(const std::string& dir, uint64_t seq);
  ~LogWal();

  // Appends one frame (a batch payload). IOError if the write fails; the segment is then
  // truncated back so a half-written frame is never followed by good ones.
  Status Write(std::string_view payload);
  // fdatasyncs the segments given up since the last Sync (then closes them), the directory and
  // the live segment, outside the mutex. Returns once everything written before the call is
  // durable (waits for a Sync already running). IOError if an fsync fails.
  Status Sync();
  // Starts segment current+1; returns the number of the new segment. The old segment and the
  // new directory entry are left to the next Sync (no fsync here).
  Result<uint64_t> Rotate();
  // Deletes segments numbered < seq. The caller holds their rows elsewhere, durably: those not
  // fsynced yet (given up since the last Sync) are closed without an fsync.
  void DropBefore(uint64_t seq);
  // Segments DropBefore closed without an fsync (they were given up and not yet synced).
  uint64_t retired_dropped() const;
  uint64_t current_seq() const;
  uint64_t bytes() const;  // total bytes of all live segments
  const std::string& dir() const { return dir_; }

 private:
  LogWal(std::string dir) : dir_(std::move(dir)) {}
  Status OpenSegment(uint64_t seq);
  // Gives back the live segment's blocks allocated beyond what was written (mu_ held).
  void TrimPreallocation();
  static constexpr uint64_t kPreallocateBytes = 4ull << 20;
  std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable sync_cv_;  // signalled when a Sync ends
  int fd_ = -1;                      // GUARDED_BY(mu_)
  uint64_t seq_ = 0;                 // GUARDED_BY(mu_)
  uint64_t seg_bytes_ = 0;           // GUARDED_BY(mu_)
  uint64_t allocated_ = 0;           // GUARDED_BY(mu_) fallocate'd (KEEP_SIZE) bytes of the segment
  uint64_t older_bytes_ = 0;         // GUARDED_BY(mu_) bytes of earlier, still present segments
  uint64_t writes_ = 0;              // GUARDED_BY(mu_) frames written so far
  uint64_t synced_writes_ = 0;       // GUARDED_BY(mu_) frames known durable (a Sync covered them)
  // GUARDED_BY(mu_) segments rotated away from and not fsynced yet: (number, descriptor)
  std::vector<std::pair<uint64_t, int>> retired_fds_;
  uint64_t retired_dropped_ = 0;  // GUARDED_BY(mu_)
  bool dir_dirty_ = false;        // GUARDED_BY(mu_) a segment was created since the last Sync
  bool syncing_ = false;          // GUARDED_BY(mu_) a Sync is fsyncing (outside mu_)
};

std::string WalSegmentName(uint64_t seq);

}  // namespace kansoku::logs
