#pragma once
// Scrape targets API (docs/design/scrape.md §4), over a scrape::Scraper:
//   GET  /api/v1/targets[?state=active|held|dropped|any]   (read scope) Prometheus' shape plus
//        heldTargets, reasons, firstSeen, samplesPerScrape and per-job counts
//   POST /api/v1/targets/approve {"job": J[, "target": T][, "host": H]} (admin scope) enrolls
//        held targets: the server's job J (unless a host is named) and agents' jobs J (their
//        next report's answer carries the approval; scrape.md §6)
//   POST /api/v1/targets/report  (ingest scope) an agent's targets (scrape/agent_targets.h);
//        the answer carries pending approvals
// Agent targets are listed with "scope":"agent" and "agent":{hostId,host,reportedAt}; the
// server's with "scope":"server".
// Thread safety: the Scraper and the registry are thread-safe; both must outlive the server.
namespace kansoku::net {
class HttpServer;
}
namespace kansoku::scrape {
class Scraper;
class AgentTargetRegistry;
}  // namespace kansoku::scrape

namespace kansoku::api {

struct TargetsSources {
  scrape::Scraper* scraper = nullptr;             // null: no server-side scrape jobs
  scrape::AgentTargetRegistry* agents = nullptr;  // null: agents' reports are not accepted
};
// With neither source the list is empty and approve answers 404.
void RegisterTargetsApi(net::HttpServer& http, TargetsSources sources);

}  // namespace kansoku::api
