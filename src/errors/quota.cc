#include "errors/quota.h"

#include <algorithm>
#include <iterator>

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

SpikeProtector::SpikeProtector(Clock& clock, const SpikeOptions& o)
    : clock_(clock), o_(o), bucket_ms_(std::max<int64_t>(60000, o.window_ms / 168)) {}

int64_t SpikeProtector::Limit(Project& p, int64_t bucket) {
  // Drop buckets that left the window; the current bucket is not part of the baseline.
  int64_t oldest = bucket - o_.window_ms / bucket_ms_;
  while (!p.buckets.empty() && p.buckets.front().first < oldest) p.buckets.pop_front();
  int64_t total = 0;
  for (const auto& [b, n] : p.buckets) {
    if (b < bucket) total += n;
  }
  // Minutes of history: since the project's first event, at most the window.
  int64_t since = std::max(p.first_bucket, oldest);
  double minutes = p.first_bucket < 0 || since >= bucket
                       ? 0
                       : static_cast<double>((bucket - since) * bucket_ms_) / 60000.0;
  double baseline = minutes > 0 ? static_cast<double>(total) / minutes : 0;
  auto dynamic = static_cast<int64_t>(o_.multiplier * baseline);
  return std::max(o_.floor_per_minute, dynamic);
}

QuotaDecision SpikeProtector::TryAcquire(int64_t project_id, int64_t n) {
  QuotaDecision d;
  if (!o_.enabled) return d;
  int64_t now = clock_.NowMs();
  int64_t minute = now / 60000, bucket = now / bucket_ms_;
  std::lock_guard<std::mutex> lock(mu_);
  Project& p = projects_[project_id];
  if (p.minute != minute) {
    p.minute = minute;
    p.minute_count = 0;
  }
  if (p.minute_count + n > Limit(p, bucket)) {
    d.allowed = false;
    d.retry_after_s = std::max<int64_t>(1, ((minute + 1) * 60000 - now + 999) / 1000);
    d.scope = "project";
    d.reason = "spike_protection";
    return d;
  }
  p.minute_count += n;
  if (p.first_bucket < 0) p.first_bucket = bucket;
  if (p.buckets.empty() || p.buckets.back().first != bucket) p.buckets.emplace_back(bucket, 0);
  p.buckets.back().second += n;
  return d;
}

void SpikeProtector::Seed(int64_t project_id, int64_t at_ms, int64_t n) {
  if (!o_.enabled || n <= 0) return;
  int64_t now = clock_.NowMs();
  int64_t bucket = at_ms / bucket_ms_, now_bucket = now / bucket_ms_;
  if (bucket < now_bucket - o_.window_ms / bucket_ms_ || bucket > now_bucket) return;
  std::lock_guard<std::mutex> lock(mu_);
  Project& p = projects_[project_id];
  if (at_ms / 60000 == now / 60000) {
    if (p.minute != now / 60000) {
      p.minute = now / 60000;
      p.minute_count = 0;
    }
    p.minute_count += n;
  }
  if (p.first_bucket < 0 || bucket < p.first_bucket) p.first_bucket = bucket;
  // The log is in arrival order, so the bucket is almost always the newest one.
  auto it = p.buckets.end();
  while (it != p.buckets.begin() && std::prev(it)->first > bucket) --it;
  if (it != p.buckets.begin() && std::prev(it)->first == bucket) {
    std::prev(it)->second += n;
  } else {
    p.buckets.emplace(it, bucket, n);
  }
}

int64_t SpikeProtector::LimitPerMinute(int64_t project_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return Limit(projects_[project_id], clock_.NowMs() / bucket_ms_);
}

}  // namespace kansoku::errors
