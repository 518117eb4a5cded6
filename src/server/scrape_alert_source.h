#pragma once
// TargetSetHeld (docs/design/scrape.md §3): an alert::Source firing one alert per scrape job
// whose target set grew faster than its max_growth and whose new targets are held until
// approved. Labels: alertname="TargetSetHeld", job, scope="server", severity="warning"; value =
// held targets. Thread safety: reads ScrapeService's thread-safe snapshots only.
#include <cstdint>
#include <memory>

#include "alert/source.h"

namespace kansoku::server {

class ScrapeService;

// `scrape` must outlive the source (the RuleManager owns it and stops before the service).
std::unique_ptr<alert::Source> MakeTargetSetHeldSource(const ScrapeService* scrape,
                                                       int64_t interval_ms);

}  // namespace kansoku::server
