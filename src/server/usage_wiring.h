#pragma once
// UsageService: the server's usage guard (docs/design/usage.md) built from the config, with the
// thread that sweeps expired series once a minute and writes the kansoku_usage_* metrics into the
// TSDB every usage.self_scrape_interval (so PromQL, dashboards and alert rules see them).
// Thread safety: Start/Stop from the composition root's thread; guard() is thread-safe.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "config/config.h"

namespace kansoku::metrics {
class Registry;
}
namespace kansoku::usage {
class Guard;
}
namespace kansoku::meta {
class HostStore;
class ProjectStore;
}  // namespace kansoku::meta
namespace kansoku::tsdb {
class Appendable;
}

namespace kansoku::server {

class ScrapeService;

class UsageService {
 public:
  // `storage` (may be null) receives the usage metrics; it must outlive Stop().
  UsageService(const config::ServerConfig& cfg, metrics::Registry& registry,
               tsdb::Appendable* storage);
  ~UsageService();
  void Start();
  void Stop();  // idempotent
  usage::Guard* guard() { return guard_.get(); }
  // Inventory providers (docs/design/usage.md §Inventory): registered hosts (kind "host", merged
  // with the hosts seen in series labels) and Sentry projects and keys ("sentry_project",
  // "sentry_key"). The stores must outlive this service's guard users (the HTTP server).
  void AddInventory(meta::HostStore* hosts, meta::ProjectStore* projects);
  // Server-side scrape targets (kind "scrape_target": every discovered target with its state —
  // active, held, not_selected, dropped — health, last scrape and samples per scrape).
  void AddScrapeInventory(const ScrapeService* scrape);

 private:
  void WriteUsageMetrics();
  std::unique_ptr<usage::Guard> guard_;
  tsdb::Appendable* storage_;
  int64_t interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread sweeper_;
};

}  // namespace kansoku::server
