#include "errors/quota.h"

namespace kansoku::errors {

std::string QuotaDecision::Header() const {
  return std::to_string(retry_after_s) + ":error;default;security:" + scope + ":" + reason;
}

QuotaDecision RateLimiter::TryAcquire(int64_t project_id, const Limits& project, int64_t key_id,
                                      const Limits& key, int64_t n) {
  QuotaDecision d;
  if (project.per_minute <= 0 && project.per_day <= 0 && key.per_minute <= 0 && key.per_day <= 0) {
    return d;
  }
  int64_t now = clock_.NowMs();
  int64_t minute = now / 60000, day = now / 86400000;
  std::lock_guard<std::mutex> lock(mu_);
  struct Check {
    Window* w;
    const Limits* l;
    const char* scope;
  };
  Check checks[2] = {{&windows_[{0, project_id}], &project, "project"},
                     {&windows_[{1, key_id}], &key, "key"}};
  for (auto& c : checks) {
    if (c.w->minute != minute) {
      c.w->minute = minute;
      c.w->minute_count = 0;
    }
    if (c.w->day != day) {
      c.w->day = day;
      c.w->day_count = 0;
    }
  }
  for (auto& c : checks) {
    auto refuse = [&](int64_t wait_ms, const char* window) {
      int64_t s = (wait_ms + 999) / 1000;
      if (s < 1) s = 1;
      if (!d.allowed && s <= d.retry_after_s) return;
      d.allowed = false;
      d.retry_after_s = s;
      d.scope = c.scope;
      d.reason = std::string(c.scope) + "_quota_" + window;
    };
    if (c.l->per_minute > 0 && c.w->minute_count + n > c.l->per_minute) {
      refuse((minute + 1) * 60000 - now, "minute");
    }
    if (c.l->per_day > 0 && c.w->day_count + n > c.l->per_day) {
      refuse((day + 1) * 86400000 - now, "day");
    }
  }
  if (!d.allowed) return d;
  for (auto& c : checks) {
    c.w->minute_count += n;
    c.w->day_count += n;
  }
  return d;
}

}  // namespace kansoku::errors
