#pragma once
// RateLimiter: event quotas per project and per key, per minute and per day, over fixed
// windows (the wall-clock minute; the UTC day), answered as Sentry does (docs/design/errors.md
// section 6). A limit of 0 is unlimited.
//
// Thread safety: thread-safe (one mutex; the map holds one small entry per project and key).
#include <cstdint>
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

}  // namespace kansoku::errors
