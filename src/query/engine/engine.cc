#include "query/engine/engine.h"

#include <algorithm>
#include <limits>

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

Engine::Engine(EngineOptions options) : options_(options) {}

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
  Bounds b;
  CollectBounds(expr, start, end, opts, start, end, &b);
  if (b.mint > b.maxt) b.mint = b.maxt = start;
  auto querier = db.NewQuerier(b.mint, b.maxt);
  if (!querier.ok()) return ErrorResult(QueryErrorKind::kExecution, querier.status().message());
  internal::QueryState st;
  st.options = &opts;
  st.querier = querier->get();
  st.deadline = std::chrono::steady_clock::now() + opts.timeout;
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
