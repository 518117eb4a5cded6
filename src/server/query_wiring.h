#pragma once
// Wiring of the PromQL engine into the server: its admission-gate figures on /metrics
// (kansoku_query_running, kansoku_query_queued, kansoku_query_rejected_total,
// kansoku_query_queue_timeouts_total). The engine must outlive the registry's scrapes.
#include "base/metrics.h"
#include "query/engine/engine.h"

namespace kansoku::server {

void RegisterQueryMetrics(metrics::Registry& registry, const query::Engine& engine);

}  // namespace kansoku::server
