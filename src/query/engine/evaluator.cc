#include "query/engine/evaluator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "query/engine/eval_util.h"
#include "query/functions/functions.h"

namespace kansoku::query::internal {

namespace fn = functions;
using tsdb::Label;
using tsdb::Labels;
using tsdb::LabelsBuilder;

Status FinalizeSeries(std::vector<EvalSeries>* series) {
  for (auto& s : *series) {
    if (s.drop_name && s.labels.Has(tsdb::kMetricName)) {
      s.labels = LabelsBuilder(s.labels).Del(tsdb::kMetricName).Build();
    }
    s.drop_name = false;
  }
  std::unordered_map<std::string, size_t> seen;
  std::vector<EvalSeries> out;
  out.reserve(series->size());
  for (auto& s : *series) {
    auto [it, inserted] = seen.emplace(LabelsKey(s.labels), out.size());
    if (inserted) {
      out.push_back(std::move(s));
      continue;
    }
    auto& dst = out[it->second].points;
    std::vector<Point> m;
    m.reserve(dst.size() + s.points.size());
    std::merge(dst.begin(), dst.end(), s.points.begin(), s.points.end(), std::back_inserter(m),
               [](const Point& a, const Point& b) { return a.t < b.t; });
    for (size_t i = 1; i < m.size(); ++i) {
      if (m[i].t == m[i - 1].t)
        return ExecError("vector cannot contain metrics with the same labelset");
    }
    dst = std::move(m);
  }
  *series = std::move(out);
  return Status::Ok();
}

Status CheckDeadline(const QueryState& st) {
  if (st.cancel != nullptr && st.cancel->load(std::memory_order_relaxed)) {
    return Status::Unavailable("query was canceled in query execution");
  }
  if (std::chrono::steady_clock::now() > st.deadline) {
    return Status::DeadlineExceeded("query timed out in query execution");
  }
  return Status::Ok();
}

Status Evaluator::Check() { return CheckDeadline(*st_); }

Status Evaluator::Account(int64_t n) {
  st_->samples += n;
  if (st_->samples > st_->options->max_samples) {
    return Status::ResourceExhausted(
        "query processing would load too many samples into memory in query execution");
  }
  return Status::Ok();
}

int64_t Evaluator::AtTime(const TimeModifiers& m) const {
  switch (m.at) {
    case AtKind::kTimestamp:
      return m.at_ms;
    case AtKind::kStart:
      return st_->query_start;
    case AtKind::kEnd:
      return st_->query_end;
    case AtKind::kNone:
      break;
  }
  return 0;
}

namespace {
int Parallelism(const EngineOptions& o) {
  if (o.parallelism > 0) return o.parallelism;
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(hw, 1U, 4U));
}
}  // namespace

Status ForEachSeries(QueryState* st, const VectorSelector& vs, int64_t mint, int64_t maxt,
                     int64_t range, std::string_view func, int64_t step, bool keep_stale,
                     const SeriesFn& fn) {
  tsdb::SelectHints hints;
  hints.start = mint;
  hints.end = maxt;
  hints.step = step;
  hints.func = std::string(func);
  hints.range = range;
  hints.parallelism = Parallelism(*st->options);
  auto set_r = st->querier->Select(vs.matchers, hints);
  if (!set_r.ok()) return set_r.status();
  auto& set = *set_r;
  std::vector<Point> points;
  Labels labels;
  while (set->Next()) {
    labels = set->TakeLabels();
    points.clear();
    auto it = set->TakeIterator();
    KANSOKU_RETURN_IF_ERROR(it->ReadRange(mint, maxt, &points, nullptr));
    if (!keep_stale) {
      std::erase_if(points, [](const Point& p) { return tsdb::IsStaleNaN(p.v); });
    }
    const auto n = static_cast<int64_t>(points.size());
    if (st->samples + n > st->options->max_samples) {
      return Status::ResourceExhausted(
          "query processing would load too many samples into memory in query execution");
    }
    st->samples += n;
    Status s = fn(labels, points);
    st->samples -= n;
    st->streamed += n;
    KANSOKU_RETURN_IF_ERROR(s);
  }
  return set->status();
}

namespace {
Status TooManySamples() {
  return Status::ResourceExhausted(
      "query processing would load too many samples into memory in query execution");
}

}  // namespace

Status ForEachSeriesParallel(QueryState* st, const VectorSelector& vs, int64_t mint, int64_t maxt,
                             int64_t range, std::string_view func, int64_t step, bool keep_stale,
                             const PlanFn& plan, const IndexedSeriesFn& fn) {
  tsdb::SelectHints hints;
  hints.start = mint;
  hints.end = maxt;
  hints.step = step;
  hints.func = std::string(func);
  hints.range = range;
  hints.parallelism = Parallelism(*st->options);
  auto set_r = st->querier->Select(vs.matchers, hints);
  if (!set_r.ok()) return set_r.status();
  auto& set = *set_r;
  // The series set is single-threaded: list every series and its iterator first. Each iterator
  // owns its chunk references, so they can then be read on any thread.
  struct Item {
    Labels labels;
    std::unique_ptr<tsdb::SeriesIterator> it;
  };
  std::vector<Item> items;
  while (set->Next()) items.push_back({set->TakeLabels(), set->TakeIterator()});
  KANSOKU_RETURN_IF_ERROR(set->status());
  // Threads only pay off with enough series to share.
  size_t threads = std::min<size_t>(static_cast<size_t>(Parallelism(*st->options)),
                                    std::max<size_t>(1, items.size() / 8));
  std::vector<std::vector<uint32_t>> units;
  {
    std::vector<const Labels*> labels(items.size());
    for (size_t i = 0; i < items.size(); ++i) labels[i] = &items[i].labels;
    plan(labels, threads, &units);
  }
  if (items.empty()) return Status::Ok();
  if (!units.empty()) threads = std::min(threads, units.size());
  const size_t n_units = units.empty() ? items.size() : units.size();

  const int64_t base = st->samples;  // not changed by anyone while the workers run
  const int64_t limit = st->options->max_samples;
  std::atomic<int64_t> held{0};  // raw samples in flight + points kept
  std::atomic<int64_t> streamed{0};
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  Status first_error;
  auto fail = [&](Status s) {
    std::lock_guard<std::mutex> l(err_mu);
    if (first_error.ok()) first_error = std::move(s);
    failed.store(true, std::memory_order_relaxed);
    return false;
  };
  // One series: read, drop stale markers, fn. False once this query failed.
  auto one = [&](size_t i, std::vector<Point>& points) -> bool {
    if (failed.load(std::memory_order_relaxed)) return false;
    Status s = CheckDeadline(*st);
    if (!s.ok()) return fail(std::move(s));
    points.clear();
    tsdb::SampleFacts facts;
    s = items[i].it->ReadRange(mint, maxt, &points, &facts);
    items[i].it.reset();
    if (!s.ok()) return fail(std::move(s));
    if (!keep_stale && !facts.no_nan) {
      std::erase_if(points, [](const Point& p) { return tsdb::IsStaleNaN(p.v); });
      facts = {};
    }
    const auto n = static_cast<int64_t>(points.size());
    if (base + held.fetch_add(n, std::memory_order_relaxed) + n > limit) {
      return fail(TooManySamples());
    }
    int64_t kept = 0;
    s = fn(i, items[i].labels, points, facts, &kept);
    held.fetch_add(kept - n, std::memory_order_relaxed);
    streamed.fetch_add(n, std::memory_order_relaxed);
    if (!s.ok()) return fail(std::move(s));
    if (kept > 0 && base + held.load(std::memory_order_relaxed) > limit) {
      return fail(TooManySamples());
    }
    return true;
  };
  auto work = [&] {
    std::vector<Point> points;
    for (;;) {
      const size_t u = next.fetch_add(1, std::memory_order_relaxed);
      if (u >= n_units) return;
      if (units.empty()) {
        if (!one(u, points)) return;
        continue;
      }
      for (uint32_t i : units[u]) {
        if (!one(i, points)) return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  KANSOKU_RETURN_IF_ERROR(first_error);
  st->samples += held.load();
  st->streamed += streamed.load();
  return Status::Ok();
}

namespace {
struct Loaded {
  Labels labels;
  std::vector<Point> points;
};
}  // namespace

// Loads all series matching vs with samples in [mint, maxt] (all held in memory, accounted).
static Result<std::vector<Loaded>> SelectSeries(QueryState* st, const VectorSelector& vs,
                                                int64_t mint, int64_t maxt, int64_t range,
                                                std::string_view func, int64_t step,
                                                bool keep_stale) {
  std::vector<Loaded> out;
  int64_t total = 0;
  KANSOKU_RETURN_IF_ERROR(ForEachSeries(
      st, vs, mint, maxt, range, func, step, keep_stale,
      [&](Labels& labels, std::vector<Point>& points) -> Status {
        // st->samples counts this series while we run; total the ones loaded before it.
        if (st->samples + total > st->options->max_samples) {
          return Status::ResourceExhausted(
              "query processing would load too many samples into memory in query execution");
        }
        total += static_cast<int64_t>(points.size());
        out.push_back({std::move(labels), std::move(points)});
        return Status::Ok();
      }));
  st->samples += total;
  st->streamed -= total;  // still held: counted in st->samples
  return out;
}

Result<Val> Evaluator::EvalVectorSelector(const VectorSelector& vs, bool sample_ts) {
  const int64_t lookback = st_->options->lookback_delta_ms;
  bool has_at = vs.mods.at != AtKind::kNone;
  int64_t at = AtTime(vs.mods);
  int64_t min_ref = (has_at ? at : start_) - vs.mods.offset_ms;
  int64_t max_ref = (has_at ? at : end_) - vs.mods.offset_ms;
  KANSOKU_ASSIGN_OR_RETURN(
      auto loaded, SelectSeries(st_, vs, min_ref - lookback + 1, max_ref, 0, "", step_, true));
  Val out;
  out.type = ValueType::kVector;
  size_t n = NumSteps();
  for (auto& l : loaded) {
    KANSOKU_RETURN_IF_ERROR(Check());
    EvalSeries s;
    size_t j = 0;  // first point with t > ref
    for (size_t i = 0; i < n; ++i) {
      int64_t ref = (has_at ? at : Ts(i)) - vs.mods.offset_ms;
      while (j < l.points.size() && l.points[j].t <= ref) ++j;
      if (j == 0) continue;
      const Point& p = l.points[j - 1];
      if (p.t <= ref - lookback || tsdb::IsStaleNaN(p.v)) continue;
      s.points.push_back({Ts(i), sample_ts ? static_cast<double>(p.t) / 1000 : p.v});
    }
    if (s.points.empty()) continue;
    KANSOKU_RETURN_IF_ERROR(Account(static_cast<int64_t>(s.points.size())));
    s.labels = std::move(l.labels);
    out.series.push_back(std::move(s));
  }
  return out;
}

Result<Evaluator::RangeSource> Evaluator::LoadRange(const Expr& e0) {
  const Expr& e = *UnwrapParens(&e0);
  RangeSource src;
  if (e.kind == ExprKind::kMatrixSelector) {
    const auto& ms = static_cast<const MatrixSelector&>(e);
    const auto& vs = *ms.vs;
    src.range_ms = ms.range_ms;
    src.offset_ms = vs.mods.offset_ms;
    src.has_at = vs.mods.at != AtKind::kNone;
    src.at = AtTime(vs.mods);
    int64_t min_ref = (src.has_at ? src.at : start_) - src.offset_ms;
    int64_t max_ref = (src.has_at ? src.at : end_) - src.offset_ms;
    KANSOKU_ASSIGN_OR_RETURN(auto loaded, SelectSeries(st_, vs, min_ref - src.range_ms + 1, max_ref,
                                                       src.range_ms, "", step_, false));
    for (auto& l : loaded) {
      EvalSeries s;
      s.labels = std::move(l.labels);
      s.points = std::move(l.points);
      src.series.push_back(std::move(s));
    }
    return src;
  }
  if (e.kind == ExprKind::kSubquery) {
    const auto& sq = static_cast<const SubqueryExpr&>(e);
    src.range_ms = sq.range_ms;
    src.offset_ms = sq.mods.offset_ms;
    src.has_at = sq.mods.at != AtKind::kNone;
    src.at = AtTime(sq.mods);
    int64_t step = sq.step_ms > 0 ? sq.step_ms : st_->options->default_subquery_step_ms;
    int64_t outer_start = src.has_at ? src.at : start_;
    int64_t outer_end = src.has_at ? src.at : end_;
    int64_t base = outer_start - src.offset_ms - src.range_ms;
    int64_t new_start = step * (base / step);  // truncating division, as Go
    if (new_start <= base) new_start += step;
    int64_t new_end = outer_end - src.offset_ms;
    if (new_start > new_end) return src;
    if ((new_end - new_start) / step >= st_->options->max_samples) {
      return Status::ResourceExhausted(
          "query processing would load too many samples into memory in query execution");
    }
    Evaluator inner(st_, new_start, new_end, step);
    KANSOKU_ASSIGN_OR_RETURN(Val v, inner.Eval(*sq.expr));
    if (v.type == ValueType::kScalar) {
      // Not reachable: the parser only allows instant vectors here.
      return src;
    }
    src.series = std::move(v.series);
    return src;
  }
  return Status::Internal("BUG: LoadRange on a non-range expression");
}

Result<Val> Evaluator::EvalRangeAsMatrix(const Expr& e) {
  KANSOKU_ASSIGN_OR_RETURN(RangeSource src, LoadRange(e));
  Val out;
  out.type = ValueType::kMatrix;
  int64_t ref = (src.has_at ? src.at : start_) - src.offset_ms;
  for (auto& s : src.series) {
    EvalSeries o;
    o.labels = std::move(s.labels);
    o.drop_name = s.drop_name;
    for (const auto& p : s.points) {
      if (p.t > ref - src.range_ms && p.t <= ref) o.points.push_back(p);
    }
    if (!o.points.empty()) out.series.push_back(std::move(o));
  }
  return out;
}

Result<Val> Evaluator::Eval(const Expr& e) {
  KANSOKU_RETURN_IF_ERROR(Check());
  size_t n = NumSteps();
  switch (e.kind) {
    case ExprKind::kNumber: {
      double v = static_cast<const NumberLiteral&>(e).value;
      Val out;
      out.type = ValueType::kScalar;
      out.series.resize(1);
      out.series[0].points.reserve(n);
      for (size_t i = 0; i < n; ++i) out.series[0].points.push_back({Ts(i), v});
      return out;
    }
    case ExprKind::kString: {
      Val out;
      out.type = ValueType::kString;
      out.str = static_cast<const StringLiteral&>(e).value;
      return out;
    }
    case ExprKind::kParen:
      return Eval(*static_cast<const ParenExpr&>(e).expr);
    case ExprKind::kVectorSelector:
      return EvalVectorSelector(static_cast<const VectorSelector&>(e), false);
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return EvalRangeAsMatrix(e);
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      KANSOKU_ASSIGN_OR_RETURN(Val v, Eval(*u.expr));
      if (u.negate) {
        for (auto& s : v.series) {
          for (auto& p : s.points) p.v = -p.v;
          if (v.type == ValueType::kVector) s.drop_name = true;
        }
      }
      return v;
    }
    case ExprKind::kBinary:
      return EvalBinary(static_cast<const BinaryExpr&>(e));
    case ExprKind::kAggregate:
      return EvalAggregate(static_cast<const AggregateExpr&>(e));
    case ExprKind::kCall:
      return EvalCall(static_cast<const Call&>(e));
  }
  return Status::Internal("BUG: unknown expression kind");
}

}  // namespace kansoku::query::internal
