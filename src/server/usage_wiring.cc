#include "server/usage_wiring.h"

#include "base/clock.h"
#include "base/log.h"
#include "tsdb/storage.h"
#include "usage/guard.h"

namespace kansoku::server {
namespace {

usage::TenantLimits ToLimits(const config::TenantLimitsConfig& c) {
  usage::TenantLimits l;
  l.max_active_series = static_cast<uint64_t>(c.max_active_series);
  l.max_new_series_per_hour = static_cast<uint64_t>(c.max_new_series_per_hour);
  l.max_series_per_metric = static_cast<uint64_t>(c.max_series_per_metric);
  l.max_label_values_per_name = static_cast<uint64_t>(c.max_label_values_per_name);
  l.max_samples_per_second = static_cast<double>(c.max_samples_per_second);
  return l;
}

}  // namespace

UsageService::UsageService(const config::ServerConfig& cfg, metrics::Registry& registry,
                           tsdb::Appendable* storage)
    : storage_(storage), interval_ms_(cfg.usage.self_scrape_interval_ms) {
  usage::GuardOptions o;
  o.default_limits = ToLimits(cfg.limits.default_limits);
  for (const auto& [token, limits] : cfg.limits.tokens) o.tenant_limits[token] = ToLimits(limits);
  o.active_window_ms = cfg.usage.active_window_ms;
  o.accounting_labels = cfg.usage.accounting_labels;
  o.top_n = static_cast<size_t>(cfg.usage.top_n);
  guard_ = std::make_unique<usage::Guard>(o);
  guard_->RegisterMetrics(registry);
}

UsageService::~UsageService() { Stop(); }

void UsageService::Start() {
  sweeper_ = std::thread([this] {
    std::unique_lock lock(mu_);
    auto next_sweep = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; })) {
      lock.unlock();
      if (std::chrono::steady_clock::now() >= next_sweep) {
        guard_->Sweep();
        next_sweep += std::chrono::seconds(60);
      }
      WriteUsageMetrics();
      lock.lock();
    }
  });
}

void UsageService::WriteUsageMetrics() {
  if (storage_ == nullptr) return;
  std::vector<std::pair<tsdb::Labels, double>> samples;
  guard_->Collect(&samples);
  if (samples.empty()) return;
  // Internal writer: not guarded (the guard's own metrics are bounded by top_n).
  auto app = storage_->NewAppender();
  const int64_t now = Clock::Real().NowMs();
  for (const auto& [labels, v] : samples) (void)app->Append(labels, now, v);
  Status st = app->Commit();
  if (!st.ok()) log::Warn("cannot store usage metrics", {{"error", st.message()}});
}

void UsageService::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

}  // namespace kansoku::server
