#pragma once
// Server: the composition root of `kansoku server`. The only place that knows every subsystem:
// it opens storage, builds the HTTP routes of each subsystem, starts them in dependency order
// and stops them in reverse (drain HTTP, then flush storage).
//
// Thread safety: Start and Stop are called from one thread (main). Ownership: owns everything.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "config/config.h"

namespace kansoku::meta {
class TokenStore;
class HostStore;
class ProjectStore;
class DashboardStore;
}  // namespace kansoku::meta
namespace kansoku::errors {
class ErrorStore;
class RateLimiter;
class SpikeProtector;
}  // namespace kansoku::errors
namespace kansoku::tsdb {
class DB;
}
namespace kansoku::query {
class Engine;
}
namespace kansoku::api {
class IngestApi;
class ErrorsApi;
}  // namespace kansoku::api
namespace kansoku::net {
class HttpServer;
class TcpStreamListener;
class Authenticator;
}  // namespace kansoku::net

namespace kansoku::server {

class LogsSubsystem;
class AlertingWiring;
class UsageService;
class ScrapeService;

struct ServerOptions {
  config::ServerConfig config;
  // Admin token to ensure at start (from KANSOKU_ADMIN_TOKEN or the config's admin_token_file);
  // empty = create and print one on first start when no token exists.
  std::string admin_token;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  Status Start();
  // Graceful: not ready, drain HTTP, flush and close storage. Idempotent.
  void Stop();
  // SIGHUP: re-reads rule files (and validates the notifications file). Errors leave the
  // running configuration in place.
  Status Reload();
  std::vector<std::string> BoundAddresses() const;
  // Set when Start created the first admin token (the caller prints it once).
  const std::string& first_admin_token() const { return first_admin_token_; }
  // The hosts registry (inventory, unreachable hosts); valid between Start and Stop.
  meta::HostStore* hosts() const { return hosts_.get(); }
  // Server-side scrape targets (server/scrape_wiring.h); valid between Start and Stop.
  ScrapeService* scrape() const { return scrape_.get(); }
  // The first project's DSN when Start created it (printed once with the admin token), else "".
  std::string FirstProjectDsn() const;

 private:
  void AddRoutes();
  Status OpenMetricsStorage();
  // Error tracking (server/errors_wiring.cc): projects, event store, Sentry and issues routes.
  Status OpenErrors();
  void AddErrorsRoutes();
  void CloseErrors();

  ServerOptions opts_;
  metrics::Registry registry_;
  std::unique_ptr<meta::TokenStore> tokens_;
  std::unique_ptr<meta::HostStore> hosts_;
  std::unique_ptr<meta::DashboardStore> dashboards_;
  std::unique_ptr<tsdb::DB> tsdb_;
  std::unique_ptr<query::Engine> engine_;
  std::unique_ptr<UsageService> usage_;
  std::unique_ptr<net::Authenticator> auth_;
  std::unique_ptr<net::HttpServer> http_;
  std::shared_ptr<api::IngestApi> ingest_api_;
  std::unique_ptr<meta::ProjectStore> projects_;
  std::unique_ptr<errors::RateLimiter> error_limiter_;
  std::unique_ptr<errors::SpikeProtector> error_spike_;
  std::unique_ptr<errors::ErrorStore> error_store_;
  std::shared_ptr<api::ErrorsApi> errors_api_;
  std::string first_project_key_;  // public key of the project created at this start
  std::unique_ptr<net::TcpStreamListener> graphite_tcp_;
  std::unique_ptr<LogsSubsystem> logs_;  // log storage, routes and listeners (logs_wiring.h)
  std::unique_ptr<AlertingWiring> alerting_;
  std::unique_ptr<ScrapeService> scrape_;  // server-side scrape targets (scrape_wiring.h)
  std::atomic<bool> ready_{false};
  std::string first_admin_token_;
  std::string web_dir_;
  bool stopped_ = false;
};

// Command-line flags of `kansoku server`; set ones override the config file.
struct ServerFlags {
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> listen;
  std::string admin_token_file;
  std::string tls_cert_file, tls_key_file;
  std::string log_level, log_format;
  std::string web_dir;
  std::string graphite_tcp;                    // --graphite-tcp HOST:PORT
  std::vector<std::string> rule_files;         // --rules GLOB (repeatable)
  std::vector<std::string> alertmanager_urls;  // --alertmanager-url URL (repeatable)
  std::string notifications_file;              // --notifications FILE
  bool check_config = false;                   // load and validate, print the result, exit
};

// `kansoku server`: runs until SIGTERM/SIGINT, drains, returns the process exit code
// (0 after a clean shutdown, 1 on startup errors, 2 on config errors).
int RunServer(const ServerFlags& flags);

}  // namespace kansoku::server
