#pragma once
// The log store's write-ahead log (docs/design/logs-storage.md, "WAL").
//
// LogWal appends one frame per batch to the newest segment (`NNNNNNNN.wal`), with one write(2)
// per frame; Rotate() starts a new segment and returns its number; DropBefore(n) deletes older
// segments once their rows are in blocks. ReplayLogWal reads every segment in order.
//
// Thread safety: LogWal is thread-safe (one mutex). Ownership: owns its descriptor.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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
};
// Encodes batch into *out (replacing its contents; sized exactly, one allocation) and, when
// views is not null, fills it with views into *out. Same bytes as EncodeBatch.
void EncodeBatchTo(const LogBatch& batch, std::string* out, EncodedViews* views);
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
  Status Sync();
  // Starts segment current+1; returns the number of the new segment.
  Result<uint64_t> Rotate();
  // Deletes segments numbered < seq.
  void DropBefore(uint64_t seq);
  uint64_t current_seq() const;
  uint64_t bytes() const;  // total bytes of all live segments
  const std::string& dir() const { return dir_; }

 private:
  LogWal(std::string dir) : dir_(std::move(dir)) {}
  Status OpenSegment(uint64_t seq);
  std::string dir_;
  mutable std::mutex mu_;
  int fd_ = -1;               // GUARDED_BY(mu_)
  uint64_t seq_ = 0;          // GUARDED_BY(mu_)
  uint64_t seg_bytes_ = 0;    // GUARDED_BY(mu_)
  uint64_t older_bytes_ = 0;  // GUARDED_BY(mu_) bytes of earlier, still present segments
  bool dirty_ = false;        // GUARDED_BY(mu_)
};

std::string WalSegmentName(uint64_t seq);

}  // namespace kansoku::logs
