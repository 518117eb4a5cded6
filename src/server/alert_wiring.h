#pragma once
// Alerting wiring for the composition root: builds Silences, the Dispatcher (when a
// notifications file is configured), the Alertmanager forwarder (when URLs are configured) and
// the RuleManager, registers the alerting HTTP API, and reloads on SIGHUP / the API.
// Start order: silences -> dispatcher -> forwarder -> rule manager; Stop in reverse, before
// storage closes. Thread safety: Start/Stop from the main thread; Reload is thread-safe.
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "config/config.h"

namespace kansoku::tsdb {
class DB;
}
namespace kansoku::query {
class Engine;
}
namespace kansoku::net {
class HttpServer;
}
namespace kansoku::meta {
class HostStore;
}
namespace kansoku::errors {
class ErrorStore;
}
namespace kansoku::logs {
class Store;
}
namespace kansoku::usage {
class Guard;
}
namespace kansoku::alert {
class RuleManager;
class Dispatcher;
class Silences;
class AlertmanagerForwarder;
class Source;
}  // namespace kansoku::alert

namespace kansoku::server {

class AlertingWiring {
 public:
  AlertingWiring(const config::ServerConfig& cfg, tsdb::DB* db, const query::Engine* engine,
                 metrics::Registry* registry);
  ~AlertingWiring();
  // Built-in host monitors (HostDown, CheckFailed) over the hosts registry; call before Start.
  void SetHostStore(meta::HostStore* hosts) { hosts_ = hosts; }
  // Another built-in monitor (e.g. TargetSetHeld), registered with the host ones; before Start.
  void AddSource(std::unique_ptr<alert::Source> source);
  Status Start();
  // Built-in monitors of the `monitors:` and `budgets:` config (error issues, cron check-ins,
  // log queries, usage budgets; server/monitor_sources.h); after Start. Null stores turn their
  // monitors off. A bad schedule, query or budget is returned (the server refuses to start).
  struct MonitorStores {
    errors::ErrorStore* errors = nullptr;
    logs::Store* logs = nullptr;
    usage::Guard* guard = nullptr;
  };
  Status AddMonitors(const MonitorStores& stores);
  void RegisterRoutes(net::HttpServer& http);
  // Re-reads rule files and the notifications file; on error nothing changes.
  Status Reload();
  void Stop();
  alert::RuleManager* rules() { return rules_.get(); }

 private:
  const config::ServerConfig& cfg_;
  tsdb::DB* db_;
  const query::Engine* engine_;
  metrics::Registry* registry_;
  meta::HostStore* hosts_ = nullptr;
  std::vector<std::unique_ptr<alert::Source>> extra_sources_;
  std::unique_ptr<alert::Silences> silences_;
  std::unique_ptr<alert::Dispatcher> dispatcher_;
  std::unique_ptr<alert::AlertmanagerForwarder> forwarder_;
  std::unique_ptr<alert::RuleManager> rules_;
  bool stopped_ = false;
};

}  // namespace kansoku::server
