#include "server/query_wiring.h"

namespace kansoku::server {

void RegisterQueryMetrics(metrics::Registry& registry, const query::Engine& engine) {
  const query::Engine* e = &engine;
  registry.GaugeFunc("kansoku_query_running",
                     "PromQL queries evaluating now (query.max_concurrency).",
                     [e] { return static_cast<double>(e->Stats().running); });
  registry.GaugeFunc("kansoku_query_queued",
                     "PromQL queries waiting for a slot (query.max_queued).",
                     [e] { return static_cast<double>(e->Stats().queued); });
  registry.CounterFunc("kansoku_query_rejected_total",
                       "PromQL queries refused because the wait queue was full (503 unavailable).",
                       [e] { return static_cast<double>(e->Stats().rejected_total); });
  registry.CounterFunc("kansoku_query_queue_timeouts_total",
                       "PromQL queries that timed out or were canceled waiting for a slot.",
                       [e] { return static_cast<double>(e->Stats().queue_timeouts_total); });
}

}  // namespace kansoku::server
