#pragma once
// Internal: the step-wise expression evaluator behind Engine. Not part of the public API.
//
// An Evaluator evaluates one AST over [start, end] every step against one Querier. Instant
// vectors are represented as series with points at the step timestamps; range-vector
// arguments are loaded once as raw samples and windowed per step.
// Thread safety: one thread. Ownership: borrows the querier, options and annotation sinks.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "query/engine/engine.h"
#include "query/engine/value.h"
#include "query/parser/ast.h"
#include "tsdb/storage.h"

namespace kansoku::query::internal {

struct EvalSeries {
  tsdb::Labels labels;
  std::vector<Point> points;
  bool drop_name = false;  // delayed __name__ removal (done at the end of the query)
};

struct Val {
  ValueType type = ValueType::kNone;
  std::vector<EvalSeries> series;  // scalar: one series, one point per step
  std::string str;
  bool ordered = false;
};

// State shared by the top-level evaluator and the ones subqueries create.
struct QueryState {
  const EngineOptions* options = nullptr;
  tsdb::Querier* querier = nullptr;
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* cancel = nullptr;
  int64_t samples = 0;   // samples currently accounted
  int64_t streamed = 0;  // samples loaded and released again (ForEachSeries), for the stats
  int64_t query_start = 0;
  int64_t query_end = 0;
  int64_t query_step = 0;  // 0 for instant queries
  bool range_query = false;
  std::set<std::string> warnings;
  std::set<std::string> infos;
};

class Evaluator {
 public:
  Evaluator(QueryState* state, int64_t start, int64_t end, int64_t step)
      : st_(state), start_(start), end_(end), step_(step) {}
  Result<Val> Eval(const Expr& e);

 private:
  size_t NumSteps() const { return static_cast<size_t>((end_ - start_) / step_) + 1; }
  int64_t Ts(size_t i) const { return start_ + static_cast<int64_t>(i) * step_; }
  Status Check();
  Status Account(int64_t n);
  int64_t AtTime(const TimeModifiers& m) const;

  Result<Val> EvalVectorSelector(const VectorSelector& vs, bool sample_ts);
  Result<Val> EvalRangeAsMatrix(const Expr& e);
  // Raw samples of a matrix selector or subquery, windowed per step by the caller.
  struct RangeSource {
    std::vector<EvalSeries> series;  // raw points, no stale markers
    int64_t range_ms = 0;
    int64_t offset_ms = 0;
    bool has_at = false;
    int64_t at = 0;
  };
  Result<RangeSource> LoadRange(const Expr& e);
  Result<Val> EvalCall(const Call& c);
  // A consumer fused into a range function over a matrix selector (an aggregation of it), so
  // the function's output is never materialised per series. plan groups the series into units
  // (see PlanFn) and returns false to decline (the function's output is then returned as
  // usual); otherwise consume(i, points) gets series i's output points (step-aligned, in step
  // order) on a worker thread, the series of one unit in order, and the returned Val is empty.
  struct RangeSink {
    std::function<bool(const std::vector<const tsdb::Labels*>&, size_t,
                       std::vector<std::vector<uint32_t>>*)>
        plan;
    std::function<void(size_t, const std::vector<Point>&)> consume;
    bool fused = false;  // set when plan accepted
  };
  Result<Val> EvalRangeFunction(const Call& c, int fn, const Expr& range_arg,
                                const std::vector<const Val*>& params, RangeSink* sink = nullptr);
  // EvalCall of a range function with an optional sink (nullopt: c is not a range function).
  Result<Val> EvalRangeCall(const Call& c, RangeSink* sink);
  Result<Val> EvalAggregate(const AggregateExpr& a);
  Result<Val> EvalBinary(const BinaryExpr& b);
  Result<Val> EvalVectorBinary(const BinaryExpr& b, Val lhs, Val rhs);
  // histogram_quantile (one q), histogram_quantiles (qs, label) and histogram_fraction
  // (qs[0] = lower, upper).
  Result<Val> EvalHistogramQuantile(const std::vector<Val>& qs, Val in, bool fraction,
                                    const Val* upper, const std::string& q_label);

  QueryState* st_;
  int64_t start_, end_, step_;
};

// Streams every series matching vs with samples in [mint, maxt] through fn, one at a time (its
// labels and points, stale markers dropped unless keep_stale; fn may move from both, the buffers
// are reused). The points count against max_samples while fn runs; fn accounts for what it keeps.
using SeriesFn = std::function<Status(tsdb::Labels&, std::vector<Point>&)>;
Status ForEachSeries(QueryState* st, const VectorSelector& vs, int64_t mint, int64_t maxt,
                     int64_t range, std::string_view func, int64_t step, bool keep_stale,
                     const SeriesFn& fn);

// ForEachSeries for CPU-heavy per-series work: the matching series are listed first, then
// plan(labels, threads, &units) is called once with every series' labels (label order) and the
// number of threads that will run; then fn(i, labels, points, &kept) runs for series i on up to
// EngineOptions::parallelism threads, the caller's included. plan may fill units to chain
// series: the series of one unit run on one thread in the listed order (units in any order, on
// any thread; every series in exactly one unit); left empty, every series is a unit of its own.
// fn also gets what the storage knew of the points (tsdb::SampleFacts) as they are passed.
// fn must touch only state of slot i (or of its unit) or its own thread-safe state, and report
// the points it keeps in *kept (they count against max_samples together with the raw samples in
// flight). The kept points are added to st->samples at the end; the first error stops the others.
using PlanFn = std::function<void(const std::vector<const tsdb::Labels*>& labels, size_t threads,
                                  std::vector<std::vector<uint32_t>>* units)>;
using IndexedSeriesFn = std::function<Status(size_t, const tsdb::Labels&, std::vector<Point>&,
                                             const tsdb::SampleFacts&, int64_t*)>;
Status ForEachSeriesParallel(QueryState* st, const VectorSelector& vs, int64_t mint, int64_t maxt,
                             int64_t range, std::string_view func, int64_t step, bool keep_stale,
                             const PlanFn& plan, const IndexedSeriesFn& fn);

// Deadline and cancellation (thread-safe).
Status CheckDeadline(const QueryState& st);

// Drops __name__ from series marked drop_name and merges/rejects series with equal labels.
// (Evaluator methods live in evaluator.cc, binary.cc, aggregate.cc and calls.cc.)
Status FinalizeSeries(std::vector<EvalSeries>* series);

}  // namespace kansoku::query::internal
