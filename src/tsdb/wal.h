#pragma once
// Write-ahead log for the head (format: docs/design/tsdb-wal.md).
//
// A WAL is a directory of numbered segment files ("00000001", ...) plus at most one checkpoint
// file ("checkpoint.00000007": the head's state as of the end of segment 7). Each record is
// framed as length + CRC32 + type + payload. WalWriter appends framed records to the newest
// segment (a fresh segment is started on Open and whenever the current one exceeds
// segment_bytes); ReplayWal reads the checkpoint and the later segments in order.
//
// Durability: Write() returns once the bytes are in the kernel (write(2)), which survives
// kill -9 of this process; Sync() (fsync) makes them survive power loss. A torn or corrupt tail
// of the newest segment is truncated on replay with a warning; corruption inside an older
// segment skips the rest of that segment (error log) and replay continues with the next one.
//
// Thread safety: WalWriter is thread-safe (one mutex); ReplayWal is a free function used at
// startup.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/chunk.h"
#include "tsdb/index.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

enum class WalRecordType : uint8_t {
  kSeries = 1,
  kSamples = 2,
  kMetadata = 3,
  kChunks = 4,
  kSymbolSeries = 5,  // series records' content with labels as references into a symbol table
};

struct WalSeries {
  SeriesRef ref;
  Labels labels;
};
struct WalSample {
  SeriesRef ref;
  int64_t t;
  double v;
};
// A run of one series' samples as an encoded chunk (checkpoints write these: smaller than
// samples records and cheaper to replay).
struct WalChunk {
  SeriesRef ref;
  ChunkEncoding encoding;
  std::string_view data;  // points into the record payload (decode) or the caller's bytes
};
struct WalMetadata {
  std::string metric;
  MetricMetadata md;
};

// Appends one framed record (header + payload) to *out.
void AppendWalRecord(std::string* out, WalRecordType type, std::string_view payload);
std::string EncodeWalSeries(const std::vector<WalSeries>& series);
// The same series with each distinct string once (checkpoints: ~5x smaller on node_exporter
// series, whose names and values repeat from series to series).
std::string EncodeWalSymbolSeries(const std::vector<WalSeries>& series);
std::string EncodeWalSamples(const std::vector<WalSample>& samples);
std::string EncodeWalMetadata(const std::vector<WalMetadata>& md);
void AppendWalChunk(std::string* payload, const WalChunk& c);
Status DecodeWalSeries(std::string_view payload, std::vector<WalSeries>* out);
Status DecodeWalSymbolSeries(std::string_view payload, std::vector<WalSeries>* out);
Status DecodeWalSamples(std::string_view payload, std::vector<WalSample>* out);
Status DecodeWalMetadata(std::string_view payload, std::vector<WalMetadata>* out);
Status DecodeWalChunks(std::string_view payload, std::vector<WalChunk>* out);

struct WalStats {
  uint64_t records_replayed = 0;
  uint64_t bytes_replayed = 0;
  uint64_t torn_tails_truncated = 0;
  uint64_t corrupt_segments = 0;
};

// Walks the framed records of one file's bytes, calling fn(type, payload) for each intact one.
// Stops at the first incomplete record, CRC mismatch or unknown type: *end is that record's
// offset and *problem says why ("" when the bytes ended cleanly; *end == data.size()). A non-OK
// status from fn stops the walk and is returned. Never reads outside `data`.
Status ScanWalRecords(std::string_view data,
                      const std::function<Status(WalRecordType, std::string_view)>& fn, size_t* end,
                      std::string* problem, WalStats* stats = nullptr);

// Calls fn(type, payload) for every intact record of the checkpoint and the later segments.
// A non-OK status from fn stops replay and is returned.
Status ReplayWal(const std::string& dir,
                 const std::function<Status(WalRecordType, std::string_view)>& fn,
                 WalStats* stats = nullptr);

class WalWriter {
 public:
  static constexpr uint64_t kDefaultSegmentBytes = 128ull << 20;
  // Creates dir if needed and starts a new segment after the newest existing one.
  static Result<std::unique_ptr<WalWriter>> Open(std::string dir,
                                                 uint64_t segment_bytes = kDefaultSegmentBytes);
  ~WalWriter();

  // Appends already framed records (AppendWalRecord) in one write(2); sync=true fsyncs too
  // (under the lock: every acknowledged record is then durable before the answer).
  Status Write(std::string_view framed, bool sync);
  // Makes everything written before the call durable: segments left since the last Sync, the
  // directory when segments were created, then the current segment. The fdatasyncs run outside
  // the writers' lock (writers go on meanwhile), one Sync at a time, so a second caller does not
  // return while the first one's fsync of its records is still running.
  Status Sync();
  // Closes the current segment and starts the next; returns the closed segment's number.
  Result<int> Rotate();
  // Writes checkpoint.<upto> atomically (tmp file, fsync, rename) from the framed records
  // `produce` passes to emit (streamed to the file, so the checkpoint need not fit in memory),
  // then deletes segments <= upto and older checkpoints.
  using Emit = std::function<Status(std::string_view framed)>;
  Status Checkpoint(int upto, const std::function<Status(const Emit& emit)>& produce);
  uint64_t BytesWritten() const;
  // Bytes of every segment and checkpoint in the directory.
  uint64_t DiskBytes() const;
  const std::string& dir() const { return dir_; }

 private:
  WalWriter(std::string dir, uint64_t segment_bytes)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  // Leaves the current segment for segment n. sync_now: fsync a dirty old segment and the
  // directory here (sync-on-write mode, Open); otherwise both wait for the next Sync.
  Status OpenSegmentLocked(int n, bool sync_now);
  // Syncs retired segments, the directory and the live segment (fd_ >= 0) under mu_.
  Status SyncLocked();
  // Gives back the live segment's blocks allocated beyond what was written.
  void TrimPreallocationLocked();
  static constexpr uint64_t kPreallocateBytes = 4ull << 20;

  const std::string dir_;
  const uint64_t segment_bytes_;
  std::mutex sync_mu_;  // one Sync at a time; taken before mu_
  mutable std::mutex mu_;
  std::vector<int> retired_;  // GUARDED_BY(mu_) left while dirty, open until synced
  bool dir_dirty_ = false;    // GUARDED_BY(mu_) segments created since the directory's fsync
  int fd_ = -1;               // GUARDED_BY(mu_)
  int segment_ = 0;           // GUARDED_BY(mu_)
  uint64_t seg_size_ = 0;     // GUARDED_BY(mu_)
  uint64_t allocated_ = 0;    // GUARDED_BY(mu_) fallocate'd (KEEP_SIZE) bytes of the segment
  bool dirty_ = false;        // GUARDED_BY(mu_)
  uint64_t written_ = 0;      // GUARDED_BY(mu_)
};

// File-system helpers shared with the block code.
Status WriteAll(int fd, std::string_view data, const std::string& path);
Status FsyncDir(const std::string& dir);
Result<std::string> ReadFileToString(const std::string& path);
Status RemoveAll(const std::string& path);

}  // namespace kansoku::tsdb
