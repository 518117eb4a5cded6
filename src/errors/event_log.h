#pragma once
// EventLog: the append-only, segmented log every accepted Sentry item goes to (record framing
// and types: docs/design/errors.md section 5). Segments are "<dir>/00000001", ... of about
// segment_bytes each.
//
// Durability: Append returns after write(2) (survives kill -9); Sync fsyncs (survives power
// loss): the live segment, and the segments Append rotated away from since the previous Sync
// (with the directory), so a rotation never fsyncs inside Append. On Open, a torn or corrupt tail
// of the newest segment is truncated (warning log); a corrupt record in an older segment ends that
// segment's replay (error log, counted).
//
// Thread safety: Append/Sync/Read are thread-safe (Appends serialised by one mutex, Syncs by
// another, so a Sync returns only once everything appended before it is on disk); Replay is
// called once before any Append.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kansoku::errors {

enum class RecordType : uint8_t {
  kEvent = 1,
  kIssueStatus = 2,
  kAttachment = 3,
  kItem = 4,
  kIssueDeleted = 5,
  kIssueAssigned = 6,
};

// Where a record lives: the payload of (segment, offset) is length bytes after its header.
struct RecordRef {
  uint32_t segment = 0;
  uint64_t offset = 0;  // offset of the record header in the segment
  uint32_t length = 0;  // payload length (without type)
};

inline constexpr size_t kRecordHeaderBytes = 9;  // u32 length, u32 crc32, u8 type

// Appends one framed record to *out.
void AppendRecord(std::string* out, RecordType type, std::string_view payload);

// Little-endian payload helpers.
void PutU8(std::string* out, uint8_t v);
void PutU16(std::string* out, uint16_t v);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
void PutBytes16(std::string* out, std::string_view s);  // u16 length + bytes (truncated to 64K)
void PutBytes32(std::string* out, std::string_view s);  // u32 length + bytes
// A cursor over a payload; every Get returns false when the payload is too short.
class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  bool U8(uint8_t* v);
  bool U16(uint16_t* v);
  bool U32(uint32_t* v);
  bool U64(uint64_t* v);
  bool Raw(size_t n, std::string_view* v);
  bool Bytes16(std::string_view* v);
  bool Bytes32(std::string_view* v);

 private:
  std::string_view p_;
};

struct EventLogStats {
  uint64_t records_replayed = 0;
  uint64_t bytes_replayed = 0;
  uint64_t torn_tails_truncated = 0;
  uint64_t corrupt_segments = 0;
};

class EventLog {
 public:
  static constexpr uint64_t kDefaultSegmentBytes = 64ull << 20;
  // Opens dir (created if needed); call Replay, then Append.
  static Result<std::unique_ptr<EventLog>> Open(std::string dir,
                                                uint64_t segment_bytes = kDefaultSegmentBytes);
  ~EventLog();

  // Calls fn for every intact record in order; then opens the newest segment for appending
  // (truncating a torn tail). A non-OK status from fn stops replay and is returned.
  Status Replay(
      const std::function<Status(RecordType, std::string_view payload, const RecordRef&)>& fn);

  // Writes framed records (AppendRecord) with one write(2). *first gets the position of the
  // first byte written, so callers can compute each record's RecordRef. Rotates to a new
  // segment before the write when the current one is full.
  Status Append(std::string_view framed, uint32_t* segment, uint64_t* offset);
  Status Sync();
  // Reads the payload of a record written earlier. NotFound if its segment is gone.
  Result<std::string> Read(const RecordRef& ref) const;

  struct SegmentInfo {
    uint32_t number = 0;
    uint64_t bytes = 0;
    int64_t mtime_ms = 0;  // time of the last write
  };
  // Segments no longer appended to, oldest first.
  std::vector<SegmentInfo> ClosedSegments() const;
  // Calls fn for every intact record of one closed segment.
  Status ScanSegment(
      uint32_t number,
      const std::function<Status(RecordType, std::string_view, const RecordRef&)>& fn) const;
  // Removes a closed segment (InvalidArgument for the one being appended to).
  Status DeleteSegment(uint32_t number);

  uint64_t BytesOnDisk() const;
  const EventLogStats& stats() const { return stats_; }

 private:
  explicit EventLog(std::string dir, uint64_t segment_bytes)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  std::string SegmentPath(uint32_t n) const;
  Status OpenForAppend(uint32_t n, uint64_t size);

  const std::string dir_;
  const uint64_t segment_bytes_;
  std::mutex sync_mu_;  // held through a whole Sync; taken before mu_, never after it
  mutable std::mutex mu_;
  int fd_ = -1;                   // GUARDED_BY(mu_)
  uint32_t segment_ = 0;          // GUARDED_BY(mu_)
  uint64_t size_ = 0;             // GUARDED_BY(mu_)
  bool dirty_ = false;            // GUARDED_BY(mu_)
  std::vector<int> retired_fds_;  // GUARDED_BY(mu_): rotated away from, not yet fsynced
  bool dir_dirty_ = false;        // GUARDED_BY(mu_): a segment was created since the last Sync
  uint64_t allocated_ = 0;        // GUARDED_BY(mu_): bytes of the live segment fallocated
  static constexpr uint64_t kPreallocateBytes = 4ull << 20;
  uint64_t closed_bytes_ = 0;  // GUARDED_BY(mu_): bytes of older segments
  EventLogStats stats_;
};

}  // namespace kansoku::errors
