#pragma once
// PromQL engine: evaluates expressions against a tsdb::Queryable.
//
// What: Query (instant) and QueryRange (range) evaluate a PromQL expression as Prometheus 3.x
// does for float samples (5 m lookback, staleness markers, delayed __name__ removal). Each
// selector's series are fetched once for the whole range and evaluated step-wise in memory.
// Errors: never thrown; QueryResult::error_kind tells bad_data (parse/type errors, bad
// arguments), execution (runtime errors, the max-samples limit), timeout, canceled.
// Limits: EngineOptions::max_samples caps samples held in memory (loaded and produced); the
// query fails with a clear error instead of exhausting memory. timeout bounds wall time: the
// deadline is looked at between series, every ~256 k points the window functions (and rate's
// counter-reset corrections) read within one, and along long aggregations and binary
// operations.
// Concurrency: at most EngineOptions::max_concurrency queries evaluate at once (every caller of
// this Engine: HTTP API, rules, dashboards); further ones wait, at most max_queued of them, for a
// free slot until their timeout (error kind timeout, "query timed out in query queue"); beyond
// the queue a query is refused at once (error kind unavailable). Stats() counts both.
// Thread safety: an Engine is immutable after construction apart from its internally
// synchronized admission gate; Query/QueryRange may be called concurrently. The Queryable must be
// safe for concurrent NewQuerier calls (storage.h says so).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "query/engine/value.h"
#include "query/parser/ast.h"
#include "tsdb/storage.h"

namespace kansoku::query {

struct EngineOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  int64_t max_samples = 50'000'000;              // samples in memory at once, per query
  int64_t lookback_delta_ms = 5 * 60 * 1000;     // how far back an instant selector looks
  int64_t default_subquery_step_ms = 60 * 1000;  // step of `x[5m:]` subqueries
  // Threads one query may use to evaluate range functions over many series (the calling thread
  // included); 0 = std::thread::hardware_concurrency() capped at 4; 1 = no extra threads.
  int parallelism = 0;
  // Admission: queries evaluating at once (0 = no limit) and queries waiting for a slot.
  int max_concurrency = 20;
  int max_queued = 100;
};

struct EngineStats {
  int64_t running = 0;               // queries evaluating now
  int64_t queued = 0;                // queries waiting for a slot now
  int64_t rejected_total = 0;        // refused because the queue was full (unavailable)
  int64_t queue_timeouts_total = 0;  // timed out (or canceled) while waiting for a slot
};

// Optional per-call controls (the HTTP API's timeout= and lookback_delta= parameters).
struct QueryControl {
  const std::atomic<bool>* cancel = nullptr;  // set to true to cancel a running query
  std::chrono::milliseconds timeout{0};       // > 0: min(this, EngineOptions::timeout)
  int64_t lookback_delta_ms = 0;              // > 0: overrides EngineOptions::lookback_delta_ms
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});

  // Instant query at time_ms (ms since epoch).
  QueryResult Query(tsdb::Queryable& db, std::string_view query, int64_t time_ms,
                    const QueryControl& control = {}) const;
  QueryResult Query(tsdb::Queryable& db, const Expr& expr, int64_t time_ms,
                    const QueryControl& control = {}) const;

  // Range query over [start_ms, end_ms] every step_ms (> 0). Result type is kMatrix (or an
  // error); a string expression is a bad_data error as in Prometheus.
  QueryResult QueryRange(tsdb::Queryable& db, std::string_view query, int64_t start_ms,
                         int64_t end_ms, int64_t step_ms, const QueryControl& control = {}) const;
  QueryResult QueryRange(tsdb::Queryable& db, const Expr& expr, int64_t start_ms, int64_t end_ms,
                         int64_t step_ms, const QueryControl& control = {}) const;

  const EngineOptions& options() const { return options_; }
  EngineStats Stats() const;

  class Gate;  // admission control (engine.cc)

 private:
  QueryResult Run(tsdb::Queryable& db, const Expr& expr, int64_t start_ms, int64_t end_ms,
                  int64_t step_ms, bool instant, const QueryControl& control) const;
  EngineOptions options_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace kansoku::query
