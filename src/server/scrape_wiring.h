#pragma once
// ScrapeService: server-side scrape targets (docs/design/scrape.md §4). Built from the config's
// `scrape:` / `scrape_configs:`; the scrape::Scraper's samples are appended through the ingest
// path (api::IngestInternal: usage guard under tenant "scrape:<job>", protocol "scrape").
// Registers /api/v1/targets, /api/v1/targets/approve and /api/v1/targets/report (agents report
// their own targets; scrape.md §6) and the TargetSetHeld alert source (server and agent jobs).
//
// Order: Open (parse, validate, load state; no threads) -> AddAlertSource (before alerting
// starts) -> RegisterRoutes -> Start(ingest) after HTTP is up -> Stop before storage closes.
// Thread safety: Targets() and Jobs() are thread-safe snapshots, callable between Open and
// destruction; Open/Start/Stop from the composition root's thread.
#include <memory>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "scrape/agent_targets.h"
#include "scrape/scraper.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::api {
class IngestApi;
}

namespace kansoku::server {

class AlertingWiring;

class ScrapeService {
 public:
  explicit ScrapeService(const config::ServerConfig& cfg);
  ~ScrapeService();
  // Parses and validates the scrape jobs (InvalidArgument "file:line: key: why").
  Status Open();
  // Registers the TargetSetHeld source with alerting (before alerting starts).
  void AddAlertSource(AlertingWiring* alerting);
  void RegisterRoutes(net::HttpServer& http);
  void Start(std::shared_ptr<api::IngestApi> ingest);
  void Stop();  // idempotent

  // For the usage inventory (#9 item 1): every server-side target (job, url, labels, first
  // seen, last scrape, samples per scrape, health, state). Empty without scrape jobs.
  std::vector<scrape::TargetStatus> Targets() const;
  std::vector<scrape::JobStatus> Jobs() const;
  scrape::Scraper* scraper() const { return scraper_.get(); }
  // Agents' targets and jobs, as last reported (thread-safe; always present).
  scrape::AgentTargetRegistry* agent_targets() const { return agent_targets_.get(); }

 private:
  const config::ServerConfig& cfg_;
  std::shared_ptr<api::IngestApi> ingest_;
  std::unique_ptr<scrape::Scraper> scraper_;
  std::unique_ptr<scrape::AgentTargetRegistry> agent_targets_;
  bool stopped_ = false;
};

// Validates the scrape part of a config (for `kansoku server --check-config`).
Status CheckScrapeConfig(const config::ServerConfig& cfg);

}  // namespace kansoku::server
