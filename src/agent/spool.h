#pragma once
// Spool: the agent's bounded on-disk queue of encoded batches (docs/design/agent.md §3).
//
// One file per batch in `dir`, named <seq:20 digits>-<samples>.rw, holding exactly the HTTP body
// to send (snappy-compressed remote_write). Files are written as .tmp and renamed, so a crash
// leaves either the whole batch or nothing; stray .tmp files are removed by Open. Order is the
// sequence number: PushBack appends newer data, PushFront puts back an older batch (one that
// was in flight when the agent stopped).
//
// Bound: when the total size would exceed max_bytes, the oldest files are deleted and the
// samples they held are returned to the caller to count as dropped. A single batch larger than
// the bound is refused (dropped) itself.
//
// Thread safety: not thread-safe; the Shipper serializes access under its mutex.
// Errors: IOError when the directory or a file cannot be written or read.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "base/status.h"

namespace kansoku::agent {

class Spool {
 public:
  static Result<std::unique_ptr<Spool>> Open(const std::string& dir, int64_t max_bytes);

  // Appends a batch; *dropped_samples (>= 0) = samples evicted to stay within the bound.
  Status PushBack(const std::string& body, uint32_t samples, uint64_t* dropped_samples);
  // Inserts a batch older than every spooled one.
  Status PushFront(const std::string& body, uint32_t samples, uint64_t* dropped_samples);
  // Reads the oldest batch. False when empty. *seq identifies it for Remove.
  Result<bool> Front(std::string* body, uint32_t* samples, uint64_t* seq);
  // Deletes the batch with this sequence number if it is still spooled.
  void Remove(uint64_t seq);

  size_t files() const { return entries_.size(); }
  int64_t bytes() const { return bytes_; }
  uint64_t samples() const { return samples_; }

 private:
  struct Entry {
    uint64_t seq;
    uint32_t samples;
    int64_t bytes;
  };
  Spool(std::string dir, int64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string FileName(const Entry& e) const;
  Status Write(const Entry& e, const std::string& body);
  uint64_t EvictFor(int64_t incoming);

  std::string dir_;
  int64_t max_bytes_;
  std::deque<Entry> entries_;  // ascending seq
  int64_t bytes_ = 0;
  uint64_t samples_ = 0;
  uint64_t next_seq_ = 1000000000000ULL;  // room below for PushFront
};

}  // namespace kansoku::agent
