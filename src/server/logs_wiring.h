#pragma once
// Wiring of the log subsystem into `kansoku server`: opens data_dir/logs, registers the log
// HTTP routes, starts the syslog / JSON-over-TCP listeners, and stops in reverse.
// Order used by Server: Open (after metrics storage) -> AddRoutes (before HTTP starts) ->
// StartListeners (after HTTP) ... StopListeners (after HTTP stopped) -> Close.
// Thread safety: called from the server's main thread only. Ownership: owns the store.
#include <functional>
#include <memory>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "config/config.h"
#include "logs/record.h"

namespace kansoku::net {
class HttpServer;
class UdpListener;
class TcpStreamListener;
}  // namespace kansoku::net
namespace kansoku::usage {
class Guard;
}
namespace kansoku::logs {
class Store;
namespace api {
class LogsApi;
}
}  // namespace kansoku::logs

namespace kansoku::server {

class LogsSubsystem {
 public:
  LogsSubsystem(const config::ServerConfig& cfg, metrics::Registry* registry);
  ~LogsSubsystem();
  Status Open();
  // `guard` (may be null) accounts and limits log bytes per token (usage guard).
  void AddRoutes(net::HttpServer& http, usage::Guard* guard = nullptr);
  Status StartListeners();
  void StopListeners();
  void Close();
  // The in-process append seam (errors subsystem: Sentry `log` items). Null before Open.
  logs::Store* store() const { return store_.get(); }
  // Sees every batch of the syslog and JSON-over-TCP listeners (errors subsystem: logback
  // errors). Set before AddRoutes.
  void SetListenerObserver(std::function<void(const logs::LogBatch&)> fn) {
    listener_observer_ = std::move(fn);
  }

 private:
  const config::ServerConfig& cfg_;
  metrics::Registry* registry_;
  std::unique_ptr<logs::Store> store_;
  std::shared_ptr<logs::api::LogsApi> api_;
  std::function<void(const logs::LogBatch&)> listener_observer_;
  std::unique_ptr<net::UdpListener> syslog_udp_;
  std::unique_ptr<net::TcpStreamListener> syslog_tcp_;
  std::unique_ptr<net::TcpStreamListener> json_tcp_;
};

}  // namespace kansoku::server
