#pragma once
// Scrape targets API (docs/design/scrape.md §4), over a scrape::Scraper:
//   GET  /api/v1/targets[?state=active|held|dropped|any]   (read scope) Prometheus' shape plus
//        heldTargets, reasons, firstSeen, samplesPerScrape and per-job counts
//   POST /api/v1/targets/approve {"job": J[, "target": T]} (admin scope) enrolls held targets
// Thread safety: the Scraper is thread-safe; it must outlive the HTTP server.
namespace kansoku::net {
class HttpServer;
}
namespace kansoku::scrape {
class Scraper;
}

namespace kansoku::api {

// `scraper` may be null (no scrape jobs configured): the list is empty, approve answers 404.
void RegisterTargetsApi(net::HttpServer& http, scrape::Scraper* scraper);

}  // namespace kansoku::api
