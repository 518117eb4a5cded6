#include "server/usage_wiring.h"

#include "base/clock.h"
#include "base/log.h"
#include "meta/host_store.h"
#include "meta/project_store.h"
#include "server/scrape_wiring.h"
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
  l.max_events_per_minute = static_cast<double>(c.max_events_per_minute);
  l.max_log_bytes_per_second = static_cast<double>(c.max_log_bytes_per_second);
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

void UsageService::AddScrapeInventory(const ScrapeService* scrape) {
  if (scrape == nullptr) return;
  guard_->AddInventory("scrape_target", [scrape] {
    std::vector<usage::SourceInfo> out;
    auto add = [&out](const scrape::TargetStatus& t, const std::string& host) {
      usage::SourceInfo s;
      // An agent's target is named from its host: two agents may both scrape 127.0.0.1:9100.
      s.name = host.empty() ? t.url : t.url + " on " + host;
      s.first_seen_ms = t.first_seen_ms;
      s.last_seen_ms = t.last_scrape_ms;
      std::string state(scrape::TargetStateName(t.state));
      s.status = t.state == scrape::TargetState::kActive ? t.health : state;
      s.detail = (host.empty() ? "" : "agent " + host + ", ") + "job " + t.job + ", " +
                 std::to_string(t.samples_per_scrape) + " samples/scrape every " +
                 std::to_string(t.interval_ms / 1000) + "s";
      if (!t.reason.empty()) s.detail += " (" + t.reason + ")";
      if (t.interval_ms > 0) {
        s.samples_per_second =
            static_cast<double>(t.samples_per_scrape) * 1000.0 / static_cast<double>(t.interval_ms);
      }
      out.push_back(std::move(s));
    };
    for (const auto& t : scrape->Targets()) add(t, "");
    for (const auto& t : scrape->agent_targets()->Targets(Clock::Real().NowMs())) {
      add(t.status, t.host.empty() ? t.host_id : t.host);
    }
    return out;
  });
}

void UsageService::AddInventory(meta::HostStore* hosts, meta::ProjectStore* projects) {
  if (hosts != nullptr) {
    guard_->AddInventory("host", [hosts] {
      std::vector<usage::SourceInfo> out;
      meta::HostFilter f;
      f.include_retired = true;
      for (const auto& h : hosts->List(f)) {
        usage::SourceInfo s;
        s.name = h.name;
        s.first_seen_ms = h.registered_at_ms;
        s.last_seen_ms = h.last_heartbeat_ms;
        s.status = h.retired() ? "retired" : h.unreachable ? "unreachable" : h.status;
        std::string roles;
        for (const auto& r : h.roles) roles += (roles.empty() ? "" : ",") + r;
        s.detail = "agent " + h.id + ", service " + h.service + ", roles " + roles;
        out.push_back(std::move(s));
      }
      return out;
    });
  }
  if (projects != nullptr) {
    auto list = [projects] {
      auto r = projects->List();
      return r.ok() ? std::move(r).value() : std::vector<meta::Project>{};
    };
    guard_->AddInventory("sentry_project", [list] {
      std::vector<usage::SourceInfo> out;
      for (const auto& p : list()) {
        usage::SourceInfo s;
        s.name = p.name;
        s.first_seen_ms = p.created_at_ms;
        size_t enabled = 0;
        for (const auto& k : p.keys) enabled += k.enabled() ? 1 : 0;
        s.detail = "project " + std::to_string(p.id) + ", " + std::to_string(p.keys.size()) +
                   " keys (" + std::to_string(enabled) + " enabled), quota " +
                   (p.events_per_minute != 0 ? std::to_string(p.events_per_minute) + "/min"
                                             : std::string("none"));
        out.push_back(std::move(s));
      }
      return out;
    });
    guard_->AddInventory("sentry_key", [list] {
      std::vector<usage::SourceInfo> out;
      for (const auto& p : list()) {
        for (const auto& k : p.keys) {
          usage::SourceInfo s;
          s.name = k.public_key;
          s.first_seen_ms = k.created_at_ms;
          s.status = k.enabled() ? "enabled" : "disabled";
          s.detail =
              "project " + p.name + (k.label.empty() ? "" : ", " + k.label) +
              (k.events_per_minute != 0 ? ", quota " + std::to_string(k.events_per_minute) + "/min"
                                        : "");
          out.push_back(std::move(s));
        }
      }
      return out;
    });
  }
}

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
