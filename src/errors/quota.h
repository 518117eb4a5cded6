#pragma once
// RateLimiter: event quotas per project and per key, per minute and per day, over fixed
// windows (the wall-clock minute; the UTC day), answered as Sentry does (docs/design/errors.md
// section 6). A limit of 0 is unlimited.
//
// Thread safety: thread-safe (one mutex; the map holds one small entry per project and key).
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "base/clock.h"

namespace kansoku::errors {

struct Limits {
  int64_t per_minute = 0;
  int64_t per_day = 0;
};

struct QuotaDecision {
  bool allowed = true;
  int64_t retry_after_s = 0;  // when refused: seconds until the window that refused ends
  std::string scope;          // "project" or "key"
  std::string reason;         // "project_quota_minute", "key_quota_day", ...
  // The X-Sentry-Rate-Limits value for a refusal of the event categories.
  std::string Header() const;
};

class RateLimiter {
 public:
  explicit RateLimiter(Clock& clock) : clock_(clock) {}
  // Takes n events from both the project's and the key's budgets, or none of them. When refused,
  // the decision names the scope and the longest wait among the limits that refused.
  QuotaDecision TryAcquire(int64_t project_id, const Limits& project, int64_t key_id,
                           const Limits& key, int64_t n = 1);

 private:
  struct Window {
    int64_t minute = -1, minute_count = 0;
    int64_t day = -1, day_count = 0;
  };
  Clock& clock_;
  std::mutex mu_;
  std::map<std::pair<int, int64_t>, Window> windows_;  // GUARDED_BY(mu_); (0 project|1 key, id)
};

// Spike protection (docs/design/errors.md section 6): a per-project limit per minute derived
// from the project's own recent volume, as Sentry's spike protection does. The baseline is the
// mean events per minute the project had accepted over `window_ms` before the current bucket
// (buckets of max(1 min, window/168)); the limit for the current minute is
// max(floor_per_minute, multiplier * baseline). A refusal is answered like a quota (429,
// Retry-After to the end of the minute, X-Sentry-Rate-Limits with reason spike_protection).
// The counters live in memory and are rebuilt at start from the event log (Seed, called for
// every stored event while the ErrorStore replays), so the baseline survives a restart.
struct SpikeOptions {
  bool enabled = true;
  int64_t window_ms = 7LL * 24 * 3600 * 1000;
  double multiplier = 10;
  int64_t floor_per_minute = 10000;
};

// Thread safety: thread-safe (one mutex).
class SpikeProtector {
 public:
  SpikeProtector(Clock& clock, const SpikeOptions& o);
  // Counts n events of the project if they fit this minute's limit; else refuses and counts
  // nothing.
  QuotaDecision TryAcquire(int64_t project_id, int64_t n = 1);
  // Counts n events the project had accepted at at_ms (replay of the event log at start): they
  // join the baseline, or this minute's count when at_ms is in the current minute. Events
  // older than the window are ignored. Never refuses.
  void Seed(int64_t project_id, int64_t at_ms, int64_t n = 1);
  // The current per-minute limit of the project (for the API and tests).
  int64_t LimitPerMinute(int64_t project_id);

 private:
  struct Project {
    int64_t first_bucket = -1;
    std::deque<std::pair<int64_t, int64_t>> buckets;  // (bucket index, events), oldest first
    int64_t minute = -1, minute_count = 0;
  };
  int64_t Limit(Project& p, int64_t bucket);  // mu_ held
  Clock& clock_;
  const SpikeOptions o_;
  const int64_t bucket_ms_;
  std::mutex mu_;
  std::map<int64_t, Project> projects_;  // GUARDED_BY(mu_)
};

}  // namespace kansoku::errors
