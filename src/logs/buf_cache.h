#pragma once
// BufCache: large byte buffers handed back by their users and kept for the next one that needs
// as much, so that reusing them costs no page faults, zeroing and unmapping (a log scan decodes
// one block after another into ~10 MB buffers: fresh ones were ~30 % of a regex count's CPU).
//
// Holds at most max_bytes; buffers under min_bytes are never kept (malloc's own free lists
// serve those). ReleaseIdle frees everything held once nothing was taken for a while, so an
// idle server does not keep a query's buffers. Ownership: Take hands a buffer (new[]) to the
// caller, Give takes it back (kept or delete[]d); buffers held at destruction are freed.
// Thread-safe: every member takes one internal mutex (held for a scan of at most a few
// entries, never during a copy).
#include <chrono>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace kansoku::logs {

class BufCache {
 public:
  using Clock = std::chrono::steady_clock;
  BufCache(size_t min_bytes, size_t max_bytes) : min_(min_bytes), max_(max_bytes) {}
  ~BufCache();
  BufCache(const BufCache&) = delete;
  BufCache& operator=(const BufCache&) = delete;

  // A buffer of at least n bytes, its capacity in *cap: the smallest held one that fits, else a
  // new one of exactly n. now: the time of the take (ReleaseIdle measures idleness from it).
  char* Take(size_t n, size_t* cap, Clock::time_point now = Clock::now());
  // Hands p (capacity cap, from Take; nullptr is ignored) back: kept when cap >= min_bytes and
  // it fits under max_bytes, else freed.
  void Give(char* p, size_t cap);
  // Frees every held buffer when nothing was taken since now - idle; returns the bytes freed.
  size_t ReleaseIdle(Clock::time_point now, Clock::duration idle);
  size_t HeldBytes() const;

 private:
  const size_t min_, max_;
  mutable std::mutex mu_;
  std::vector<std::pair<char*, size_t>> free_;  // guarded by mu_
  size_t held_ = 0;                             // guarded by mu_: bytes in free_
  Clock::time_point last_take_{};               // guarded by mu_
};

// The cache of log scans' decode buffers (1 MiB and more, at most 64 MiB held); never destroyed.
BufCache& ScanBufCache();

}  // namespace kansoku::logs
