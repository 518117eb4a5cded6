#include "query/engine/engine.h"

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>

#include "query/engine/evaluator.h"
#include "query/parser/parser.h"

namespace kansoku::query {

std::string_view QueryErrorKindName(QueryErrorKind k) {
  switch (k) {
    case QueryErrorKind::kNone:
      return "";
    case QueryErrorKind::kBadData:
      return "bad_data";
    case QueryErrorKind::kExecution:
      return "execution";
    case QueryErrorKind::kTimeout:
      return "timeout";
    case QueryErrorKind::kCanceled:
      return "canceled";
    case QueryErrorKind::kUnavailable:
      return "unavailable";
  }
  return "";
}

namespace {

struct Bounds {
  int64_t mint = std::numeric_limits<int64_t>::max();
  int64_t maxt = std::numeric_limits<int64_t>::min();
  void Add(int64_t lo, int64_t hi) {
    mint = std::min(mint, lo);
    maxt = std::max(maxt, hi);
  }
};

int64_t AtOf(const TimeModifiers& m, int64_t qs, int64_t qe) {
  return m.at == AtKind::kStart ? qs : m.at == AtKind::kEnd ? qe : m.at_ms;
}

// The time range of samples the expression may read when evaluated over [start, end].
void CollectBounds(const Expr& e, int64_t start, int64_t end, const EngineOptions& o, int64_t qs,
                   int64_t qe, Bounds* b) {
  switch (e.kind) {
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      bool at = vs.mods.at != AtKind::kNone;
      int64_t s = (at ? AtOf(vs.mods, qs, qe) : start) - vs.mods.offset_ms;
      int64_t en = (at ? AtOf(vs.mods, qs, qe) : end) - vs.mods.offset_ms;
      b->Add(s - o.lookback_delta_ms, en);
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      const auto& vs = *ms.vs;
      bool at = vs.mods.at != AtKind::kNone;
      int64_t s = (at ? AtOf(vs.mods, qs, qe) : start) - vs.mods.offset_ms;
      int64_t en = (at ? AtOf(vs.mods, qs, qe) : end) - vs.mods.offset_ms;
      b->Add(s - ms.range_ms, en);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      bool at = sq.mods.at != AtKind::kNone;
      int64_t s = (at ? AtOf(sq.mods, qs, qe) : start) - sq.mods.offset_ms - sq.range_ms;
      int64_t en = (at ? AtOf(sq.mods, qs, qe) : end) - sq.mods.offset_ms;
      CollectBounds(*sq.expr, s, en, o, qs, qe, b);
      return;
    }
    case ExprKind::kParen:
      CollectBounds(*static_cast<const ParenExpr&>(e).expr, start, end, o, qs, qe, b);
      return;
    case ExprKind::kUnary:
      CollectBounds(*static_cast<const UnaryExpr&>(e).expr, start, end, o, qs, qe, b);
      return;
    case ExprKind::kBinary: {
      const auto& bin = static_cast<const BinaryExpr&>(e);
      CollectBounds(*bin.lhs, start, end, o, qs, qe, b);
      CollectBounds(*bin.rhs, start, end, o, qs, qe, b);
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      if (a.param) CollectBounds(*a.param, start, end, o, qs, qe, b);
      CollectBounds(*a.expr, start, end, o, qs, qe, b);
      return;
    }
    case ExprKind::kCall:
      for (const auto& a : static_cast<const Call&>(e).args)
        CollectBounds(*a, start, end, o, qs, qe, b);
      return;
    case ExprKind::kNumber:
    case ExprKind::kString:
      return;
  }
}

QueryResult ErrorResult(QueryErrorKind kind, std::string msg) {
  QueryResult r;
  r.error_kind = kind;
  r.error = std::move(msg);
  return r;
}

QueryErrorKind KindOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kDeadlineExceeded:
      return QueryErrorKind::kTimeout;
    case Status::Code::kUnavailable:
      return QueryErrorKind::kCanceled;
    default:
      return QueryErrorKind::kExecution;
  }
}

}  // namespace

// Counting semaphore with a bounded number of waiters; waiters poll the cancel flag every 50 ms.
class Engine::Gate {
 public:
  Gate(int max_running, int max_queued) : max_running_(max_running), max_queued_(max_queued) {}

  // kNone when admitted (call Release() later), else the error to answer.
  QueryErrorKind Acquire(std::chrono::steady_clock::time_point deadline,
                         const std::atomic<bool>* cancel) {
    std::unique_lock<std::mutex> l(mu_);
    if (max_running_ <= 0 || running_ < max_running_) {
      ++running_;
      return QueryErrorKind::kNone;
    }
    if (queued_ >= max_queued_) {
      ++rejected_;
      return QueryErrorKind::kUnavailable;
    }
    ++queued_;
    for (;;) {
      if (running_ < max_running_) {
        --queued_;
        ++running_;
        return QueryErrorKind::kNone;
      }
      const auto now = std::chrono::steady_clock::now();
      const bool canceled = cancel != nullptr && cancel->load(std::memory_order_relaxed);
      if (now >= deadline || canceled) {
        --queued_;
        ++timeouts_;
        return canceled ? QueryErrorKind::kCanceled : QueryErrorKind::kTimeout;
      }
      cv_.wait_until(l, std::min(deadline, now + std::chrono::milliseconds(50)));
    }
  }
  void Release() {
    {
      std::lock_guard<std::mutex> l(mu_);
      --running_;
    }
    cv_.notify_one();
  }
  EngineStats Stats() {
    std::lock_guard<std::mutex> l(mu_);
    return {running_, queued_, rejected_, timeouts_};
  }

 private:
  const int max_running_, max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t running_ = 0, queued_ = 0, rejected_ = 0, timeouts_ = 0;  // GUARDED_BY(mu_)
};

Engine::Engine(EngineOptions options)
    : options_(options),
      gate_(std::make_shared<Gate>(options.max_concurrency, options.max_queued)) {}

EngineStats Engine::Stats() const { return gate_->Stats(); }

QueryResult Engine::Query(tsdb::Queryable& db, std::string_view query, int64_t time_ms,
                          const QueryControl& control) const {
  auto expr = ParseExpr(query);
  if (!expr.ok()) return ErrorResult(QueryErrorKind::kBadData, expr.status().message());
  return Query(db, **expr, time_ms, control);
}

QueryResult Engine::Query(tsdb::Queryable& db, const Expr& expr, int64_t time_ms,
                          const QueryControl& control) const {
  return Run(db, expr, time_ms, time_ms, 1, true, control);
}

QueryResult Engine::QueryRange(tsdb::Queryable& db, std::string_view query, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, const QueryControl& control) const {
  auto expr = ParseExpr(query);
  if (!expr.ok()) return ErrorResult(QueryErrorKind::kBadData, expr.status().message());
  return QueryRange(db, **expr, start_ms, end_ms, step_ms, control);
}

QueryResult Engine::QueryRange(tsdb::Queryable& db, const Expr& expr, int64_t start_ms,
                               int64_t end_ms, int64_t step_ms, const QueryControl& control) const {
  if (step_ms <= 0) {
    return ErrorResult(
        QueryErrorKind::kBadData,
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if (end_ms < start_ms)
    return ErrorResult(QueryErrorKind::kBadData, "end timestamp must not be before start time");
  ValueType t = expr.Type();
  if (t != ValueType::kScalar && t != ValueType::kVector) {
    return ErrorResult(QueryErrorKind::kBadData,
                       "invalid expression type \"" + std::string(ValueTypeName(t)) +
                           "\" for range query, must be Scalar or instant Vector");
  }
  return Run(db, expr, start_ms, end_ms, step_ms, false, control);
}

QueryResult Engine::Run(tsdb::Queryable& db, const Expr& expr, int64_t start, int64_t end,
                        int64_t step, bool instant, const QueryControl& control) const {
  // Keeps all time arithmetic (offsets, ranges, lookback) far from int64 overflow.
  constexpr int64_t kMaxTime = int64_t{1} << 62;
  if (start < -kMaxTime || end > kMaxTime) {
    return ErrorResult(QueryErrorKind::kBadData, "query time out of range");
  }
  if ((end - start) / step >= options_.max_samples) {
    return ErrorResult(
        QueryErrorKind::kExecution,
        "query processing would load too many samples into memory in query execution");
  }
  EngineOptions opts = options_;
  if (control.lookback_delta_ms > 0) opts.lookback_delta_ms = control.lookback_delta_ms;
  if (control.timeout.count() > 0) opts.timeout = std::min(opts.timeout, control.timeout);
  const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  switch (gate_->Acquire(deadline, control.cancel)) {
    case QueryErrorKind::kNone:
      break;
    case QueryErrorKind::kUnavailable:
      return ErrorResult(
          QueryErrorKind::kUnavailable,
          "too many concurrent queries: " + std::to_string(options_.max_concurrency) +
              " running and " + std::to_string(options_.max_queued) +
              " queued (query.max_concurrency, query.max_queued); try again later");
    case QueryErrorKind::kCanceled:
      return ErrorResult(QueryErrorKind::kCanceled, "query was canceled in query queue");
    default:
      return ErrorResult(QueryErrorKind::kTimeout, "query timed out in query queue");
  }
  struct Releaser {
    Gate* g;
    ~Releaser() { g->Release(); }
  } releaser{gate_.get()};
  Bounds b;
  CollectBounds(expr, start, end, opts, start, end, &b);
  if (b.mint > b.maxt) b.mint = b.maxt = start;
  auto querier = db.NewQuerier(b.mint, b.maxt);
  if (!querier.ok()) return ErrorResult(QueryErrorKind::kExecution, querier.status().message());
  internal::QueryState st;
  st.options = &opts;
  st.querier = querier->get();
  st.deadline = deadline;
  st.cancel = control.cancel;
  st.query_start = start;
  st.query_end = end;
  st.query_step = instant ? 0 : step;
  st.range_query = !instant;
  internal::Evaluator ev(&st, start, end, step);
  auto val = ev.Eval(expr);
  if (!val.ok()) return ErrorResult(KindOf(val.status()), val.status().message());
  QueryResult r;
  r.warnings.assign(st.warnings.begin(), st.warnings.end());
  r.infos.assign(st.infos.begin(), st.infos.end());
  r.ordered = val->ordered;
  r.total_samples = st.samples + st.streamed;
  internal::Val& v = *val;
  if (v.type == ValueType::kString) {
    r.type = ValueType::kString;
    r.str = v.str;
    r.scalar_t = start;
    return r;
  }
  if (instant && v.type == ValueType::kScalar) {
    r.type = ValueType::kScalar;
    r.scalar = v.series[0].points[0].v;
    r.scalar_t = start;
    return r;
  }
  Status s = internal::FinalizeSeries(&v.series);
  if (!s.ok()) return ErrorResult(KindOf(s), s.message());
  if (instant && v.type == ValueType::kVector) {
    r.type = ValueType::kVector;
    r.vector.reserve(v.series.size());
    for (auto& es : v.series) {
      for (const auto& p : es.points) r.vector.push_back({std::move(es.labels), p.t, p.v});
    }
    return r;
  }
  r.type = ValueType::kMatrix;
  r.matrix.reserve(v.series.size());
  for (auto& es : v.series) r.matrix.push_back({std::move(es.labels), std::move(es.points)});
  if (!instant) {
    std::sort(r.matrix.begin(), r.matrix.end(),
              [](const Series& a, const Series& b2) { return a.labels < b2.labels; });
  }
  return r;
}

}  // namespace kansoku::query
