// Aggregation operators (sum, avg, min, max, count, group, stddev, stdvar, topk, bottomk,
// limitk, quantile, count_values) with by/without grouping.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <unordered_map>

#include "query/engine/eval_util.h"
#include "query/functions/functions.h"

namespace kansoku::query::internal {

namespace fn = functions;
using tsdb::Label;
using tsdb::Labels;
using tsdb::LabelsBuilder;

// ---------------------------------------------------------------------------------------------
// Aggregations

namespace {
// Accumulator of the simple aggregations (sum, avg, min, max, count, group, stddev, stdvar) for
// one group at one step; values are added in input series order.
struct Acc {
  double value = 0, c = 0, mean = 0, cmean = 0, count = 0;
  bool seen = false, incremental = false;
};
// The accumulator of a fused sum: Acc's sum part (24 bytes instead of 48), as a 24 h sum by over
// dozens of groups holds one per group and step (the page faults of a larger table showed).
struct SumAcc {
  double value = 0, c = 0;
  bool seen = false;
};

// topk/bottomk with k up to this keep each group's k first by insertion (see EvalAggregate).
constexpr int64_t kSmallTopk = 16;

bool IsAccOp(AggOp op) {
  switch (op) {
    case AggOp::kSum:
    case AggOp::kAvg:
    case AggOp::kMin:
    case AggOp::kMax:
    case AggOp::kCount:
    case AggOp::kGroup:
    case AggOp::kStddev:
    case AggOp::kStdvar:
      return true;
    default:
      return false;
  }
}

inline void AccAdd(AggOp op, Acc& g, double v) {
  bool first = !g.seen;
  g.seen = true;
  // Only avg, count, stddev and stdvar read count: a fused sum's loop (where op is a constant)
  // has one load, add and store less per point.
  if (op != AggOp::kSum) g.count += 1;
  switch (op) {
    case AggOp::kSum:
      g.value = fn::KahanSumInc(v, g.value, &g.c);
      break;
    case AggOp::kAvg:
      if (first) {
        g.value = v;
        break;
      }
      if (!g.incremental) {
        double nc = g.c;
        double ns = fn::KahanSumInc(v, g.value, &nc);
        if (!std::isinf(ns)) {
          g.value = ns;
          g.c = nc;
          break;
        }
        g.incremental = true;
        g.mean = g.value / (g.count - 1);
        g.cmean = g.c / (g.count - 1);
      }
      {
        double q = (g.count - 1) / g.count;
        double qc = q * g.cmean;
        g.mean = fn::KahanSumInc(v / g.count, q * g.mean, &qc);
        g.cmean = qc;
      }
      break;
    case AggOp::kMin:
      if (first || v < g.value || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kMax:
      if (first || v > g.value || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kCount:
    case AggOp::kGroup:
      break;
    case AggOp::kStddev:
    case AggOp::kStdvar: {
      double delta = v - (g.mean + g.cmean);
      g.mean = fn::KahanSumInc(delta / g.count, g.mean, &g.cmean);
      g.value = fn::KahanSumInc(delta * (v - (g.mean + g.cmean)), g.value, &g.c);
      break;
    }
    default:
      break;
  }
}

// The aggregate of a seen accumulator.
inline double AccValue(AggOp op, const Acc& x) {
  switch (op) {
    case AggOp::kSum:
      return std::isinf(x.value) ? x.value : x.value + x.c;
    case AggOp::kAvg:
      return x.incremental ? x.mean + x.cmean
                           : (x.count == 1 ? x.value : (x.value + x.c) / x.count);
    case AggOp::kMin:
    case AggOp::kMax:
      return x.value;
    case AggOp::kCount:
      return x.count;
    case AggOp::kGroup:
      return 1;
    case AggOp::kStdvar:
      return (x.value + x.c) / x.count;
    case AggOp::kStddev:
      return std::sqrt((x.value + x.c) / x.count);
    default:
      return 0;
  }
}

}  // namespace

Result<Val> Evaluator::EvalAggregate(const AggregateExpr& a) {
  size_t n = NumSteps();
  Val param;
  if (a.param) {
    KANSOKU_ASSIGN_OR_RETURN(param, Eval(*a.param));
  }
  // Group key per input series.
  std::vector<size_t> group_of;
  std::vector<Labels> group_labels;
  std::vector<bool> group_drop;
  std::unordered_map<std::string, size_t> groups;
  bool by_name = !a.without && std::find(a.grouping.begin(), a.grouping.end(),
                                         std::string(tsdb::kMetricName)) != a.grouping.end();
  auto group = [&](const Labels& ls, bool drop_name) {
    std::vector<Label> g;
    for (const auto& l : ls) {
      bool listed = std::find(a.grouping.begin(), a.grouping.end(), l.name) != a.grouping.end();
      if (a.without ? (!listed && l.name != tsdb::kMetricName) : listed) g.push_back(l);
    }
    Labels gl = Labels::FromSortedUnchecked(std::move(g));
    auto [it, ins] = groups.emplace(LabelsKey(gl), group_labels.size());
    if (ins) {
      group_labels.push_back(std::move(gl));
      group_drop.push_back(false);
    }
    if (by_name && drop_name) group_drop[it->second] = true;
    return it->second;
  };

  Val in;
  bool have_in = false;
  if (const Expr* inner = UnwrapParens(a.expr.get());
      IsAccOp(a.op) && inner->kind == ExprKind::kCall &&
      fn::LookupRangeFn(static_cast<const Call*>(inner)->func->name)) {
    // An aggregation of a range function over a matrix selector: fused, so the function's
    // output never exists per series. Each group's series run in order on one thread
    // (EvalRangeFunction's units), adding straight into the group's accumulators: the same
    // additions in the same order as below, so results are bit-identical; it needs enough
    // groups to keep the threads busy, otherwise the function's output is aggregated below.
    const auto& call = *static_cast<const Call*>(inner);
    const bool drops_name = !fn::RangeFnKeepsName(*fn::LookupRangeFn(call.func->name));
    std::vector<Acc> rows;          // ng * n accumulators, group-major (a.op != kSum)
    std::vector<SumAcc> sums;       // the same for a.op == kSum
    std::vector<size_t> first_out;  // per group, its first series with output
    RangeSink sink;
    sink.plan = [&](const std::vector<const Labels*>& labels, size_t threads,
                    std::vector<std::vector<uint32_t>>* units) {
      group_of.resize(labels.size());
      for (size_t k = 0; k < labels.size(); ++k) group_of[k] = group(*labels[k], drops_name);
      const size_t ng = group_labels.size();
      if (threads > 1 && ng < 4 * threads) {
        group_of.clear();
        group_labels.clear();
        group_drop.clear();
        groups.clear();
        return false;
      }
      units->assign(ng, {});
      for (size_t k = 0; k < labels.size(); ++k) {
        (*units)[group_of[k]].push_back(static_cast<uint32_t>(k));
      }
      // Biggest groups first, so the last units to finish are small.
      std::stable_sort(units->begin(), units->end(),
                       [](const auto& x, const auto& y) { return x.size() > y.size(); });
      if (a.op == AggOp::kSum) {
        sums.assign(ng * n, SumAcc{});
      } else {
        rows.assign(ng * n, Acc{});
      }
      first_out.assign(ng, SIZE_MAX);
      return true;
    };
    sink.consume = [&](size_t k, const std::vector<Point>& pts) {
      if (pts.empty()) return;
      const size_t g = group_of[k];
      if (first_out[g] == SIZE_MAX) first_out[g] = k;  // one thread per group, k ascending
      // Inlined per accumulator below, so sum's loop has no switch.
      auto add = [&](auto* row, auto add_one) {
        // The function's output is one point per step at most, at the step's time, in order:
        // when the first and last are size-1 steps apart, they are a run of consecutive steps
        // (the common case) and need no walk along the steps.
        const size_t m = pts.size();
        if (step_ > 0 && pts.back().t - pts.front().t == static_cast<int64_t>(m - 1) * step_) {
          auto* r = row + (pts.front().t - start_) / step_;
          for (size_t i = 0; i < m; ++i) add_one(r[i], pts[i].v);
          return;
        }
        size_t si = 0;
        int64_t st = start_;
        for (const Point& p : pts) {
          while (st < p.t && si + 1 < n) st = Ts(++si);
          if (st == p.t) add_one(row[si], p.v);
        }
      };
      if (a.op == AggOp::kSum) {
        // AccAdd(kSum, ...) on the sum part alone.
        add(&sums[g * n], [](SumAcc& x, double v) {
          x.seen = true;
          x.value = fn::KahanSumInc(v, x.value, &x.c);
        });
      } else {
        add(&rows[g * n], [op = a.op](Acc& x, double v) { AccAdd(op, x, v); });
      }
    };
    KANSOKU_ASSIGN_OR_RETURN(in, EvalRangeCall(call, &sink));
    if (sink.fused) {
      Val out;
      out.type = ValueType::kVector;
      int64_t kept = 0;
      // Groups in the order their first series with output comes (as below, where series
      // without output are not in the input at all).
      std::vector<size_t> order(group_labels.size());
      for (size_t g = 0; g < order.size(); ++g) order[g] = g;
      std::sort(order.begin(), order.end(),
                [&](size_t x, size_t y) { return first_out[x] < first_out[y]; });
      for (size_t g : order) {
        if (first_out[g] == SIZE_MAX) break;
        EvalSeries res;
        if (a.op == AggOp::kSum) {
          // Counted, then written through an index (push_back was a call per point: 24
          // instructions each, 2.6 % of bench/promql (c)).
          const SumAcc* row = &sums[g * n];
          res.points.resize(static_cast<size_t>(
              std::count_if(row, row + n, [](const SumAcc& x) { return x.seen; })));
          Point* o = res.points.data();
          for (size_t i = 0; i < n; ++i) {
            const SumAcc& x = row[i];
            // AccValue(kSum, ...).
            if (x.seen) *o++ = Point{Ts(i), std::isinf(x.value) ? x.value : x.value + x.c};
          }
        } else {
          for (size_t i = 0; i < n; ++i) {
            const Acc& x = rows[g * n + i];
            if (x.seen) res.points.push_back({Ts(i), AccValue(a.op, x)});
          }
        }
        if (res.points.empty()) continue;
        kept += static_cast<int64_t>(res.points.size());
        res.labels = std::move(group_labels[g]);
        res.drop_name = group_drop[g];
        out.series.push_back(std::move(res));
      }
      KANSOKU_RETURN_IF_ERROR(Account(kept));
      return out;
    }
    have_in = true;
  }
  if (!have_in) {
    KANSOKU_ASSIGN_OR_RETURN(in, Eval(*a.expr));
  }
  group_of.resize(in.series.size());
  for (size_t k = 0; k < in.series.size(); ++k) {
    group_of[k] = group(in.series[k].labels, in.series[k].drop_name);
  }
  size_t ng = group_labels.size();
  Val out;
  out.type = ValueType::kVector;
  std::vector<Cursor> cur(in.series.size());

  if (a.op == AggOp::kTopk || a.op == AggOp::kBottomk || a.op == AggOp::kLimitk ||
      a.op == AggOp::kLimitRatio) {
    std::vector<EvalSeries> res(in.series.size());
    std::vector<std::vector<std::pair<double, size_t>>> members(ng);
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = Ts(i);
      double pv = ScalarAt(param, i);
      if (std::isnan(pv)) {
        return ExecError(a.op == AggOp::kLimitRatio ? "Ratio value is NaN"
                                                    : "Parameter value is NaN");
      }
      if (a.op == AggOp::kLimitRatio) {
        // Keeps a deterministic, label-hash-based share of the series: r in (0,1] keeps
        // hash fractions below r, r in [-1,0) the complementary ones (>= 1 + r).
        double ratio = pv;
        if (ratio < -1 || ratio > 1) {
          ratio = ratio < -1 ? -1 : 1;
          st_->warnings.insert("PromQL warning: ratio value should be between -1 and 1, got " +
                               fn::FormatFloatShortest(pv) + ", capping to " +
                               fn::FormatFloatShortest(ratio));
        }
        if (ratio == 0) continue;
        for (size_t s = 0; s < in.series.size(); ++s) {
          const Point* p = cur[s].At(in.series[s].points, ts);
          if (p == nullptr) continue;
          double offset = static_cast<double>(in.series[s].labels.Hash()) /
                          static_cast<double>(std::numeric_limits<uint64_t>::max());
          if ((ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1.0 + ratio)) {
            res[s].points.push_back({ts, p->v});
          }
        }
        continue;
      }
      if (pv >= 9.223372036854775807e18 || pv <= -9.223372036854775807e18) {
        return ExecError("Scalar value " + std::to_string(pv) + " overflows int64");
      }
      int64_t k = static_cast<int64_t>(pv);
      if (k < 1) continue;
      for (auto& mbr : members) mbr.clear();
      // The k first of a stable sort (value, NaN last; ties in series order): the order below,
      // made total by the series index, so the k first are one set however they are found.
      const bool top = a.op == AggOp::kTopk;
      const auto before = [top](const std::pair<double, size_t>& x,
                                const std::pair<double, size_t>& y) {
        const bool xn = std::isnan(x.first), yn = std::isnan(y.first);
        if (xn != yn) return yn;
        if (!xn && x.first != y.first) return top ? x.first > y.first : x.first < y.first;
        return x.second < y.second;
      };
      if (a.op != AggOp::kLimitk && k <= kSmallTopk) {
        // A small k (the usual topk(5, ...)): each group keeps only its k first so far, sorted,
        // and a series enters by insertion; most series lose to the group's k-th at once. (All
        // members and a partial sort per group and step were most of a 24 h topk's own time.)
        const auto kk = static_cast<size_t>(k);
        for (size_t s = 0; s < in.series.size(); ++s) {
          const Point* p = cur[s].At(in.series[s].points, ts);
          if (p == nullptr) continue;
          auto& mbr = members[group_of[s]];
          const std::pair<double, size_t> x{p->v, s};
          if (mbr.size() == kk) {
            if (!before(x, mbr.back())) continue;
            mbr.pop_back();
          }
          auto at = mbr.end();
          while (at != mbr.begin() && before(x, *(at - 1))) --at;
          mbr.insert(at, x);
        }
        for (auto& mbr : members) {
          for (const auto& [v, s] : mbr) res[s].points.push_back({ts, v});
        }
        continue;
      }
      for (size_t s = 0; s < in.series.size(); ++s) {
        if (const Point* p = cur[s].At(in.series[s].points, ts))
          members[group_of[s]].push_back({p->v, s});
      }
      for (auto& mbr : members) {
        size_t take = std::min(mbr.size(), static_cast<size_t>(k));
        if (a.op != AggOp::kLimitk) {
          std::partial_sort(mbr.begin(), mbr.begin() + static_cast<std::ptrdiff_t>(take), mbr.end(),
                            before);
        }
        for (size_t t = 0; t < take; ++t) res[mbr[t].second].points.push_back({ts, mbr[t].first});
      }
    }
    // For instant queries order the output like Prometheus: by group, then by rank.
    std::vector<std::pair<double, size_t>> order;
    for (size_t s = 0; s < res.size(); ++s) {
      if (!res[s].points.empty()) order.push_back({res[s].points.back().v, s});
    }
    if (n == 1 && a.op != AggOp::kLimitk) {
      bool top = a.op == AggOp::kTopk;
      std::stable_sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
        if (group_of[x.second] != group_of[y.second])
          return group_of[x.second] < group_of[y.second];
        if (std::isnan(x.first)) return false;
        if (std::isnan(y.first)) return true;
        return top ? x.first > y.first : x.first < y.first;
      });
    }
    for (const auto& [v, s] : order) {
      res[s].labels = std::move(in.series[s].labels);
      res[s].drop_name = in.series[s].drop_name;
      out.series.push_back(std::move(res[s]));
    }
    out.ordered = true;
    return out;
  }

  if (a.op == AggOp::kCountValues) {
    const std::string& label = param.str;
    if (!ValidLabelName(label)) return ExecError("invalid label name " + GoQuote(label));
    std::map<std::pair<size_t, std::string>, size_t> idx;
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = Ts(i);
      std::map<std::pair<size_t, std::string>, double> counts;
      for (size_t s = 0; s < in.series.size(); ++s) {
        if (const Point* p = cur[s].At(in.series[s].points, ts)) {
          counts[{group_of[s], fn::FormatFloatShortest(p->v)}] += 1;
        }
      }
      for (const auto& [key, c] : counts) {
        auto [it, ins] = idx.emplace(key, out.series.size());
        if (ins) {
          EvalSeries s;
          s.labels = LabelsBuilder(group_labels[key.first]).Set(label, key.second).Build();
          out.series.push_back(std::move(s));
        }
        out.series[it->second].points.push_back({ts, c});
      }
    }
    return out;
  }

  if (a.op == AggOp::kQuantile) {
    std::vector<std::vector<double>> vals(ng);
    std::vector<EvalSeries> res(ng);
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = Ts(i);
      double q = ScalarAt(param, i);
      if (std::isnan(q) || q < 0 || q > 1) {
        st_->warnings.insert("PromQL warning: quantile value should be between 0 and 1, got " +
                             fn::FormatFloatShortest(q));
      }
      for (auto& v : vals) v.clear();
      for (size_t s = 0; s < in.series.size(); ++s) {
        if (const Point* p = cur[s].At(in.series[s].points, ts)) vals[group_of[s]].push_back(p->v);
      }
      for (size_t g = 0; g < ng; ++g) {
        if (!vals[g].empty()) res[g].points.push_back({ts, fn::Quantile(q, vals[g])});
      }
    }
    for (size_t g = 0; g < ng; ++g) {
      if (res[g].points.empty()) continue;
      res[g].labels = group_labels[g];
      res[g].drop_name = group_drop[g];
      out.series.push_back(std::move(res[g]));
    }
    return out;
  }

  // Series-major over tiles of steps: every input series' points of a tile are added to its
  // group's accumulators in one sequential pass (the same order per group and step as a
  // step-major loop: input series order), with ng * tile accumulators alive.
  const size_t tile = std::clamp<size_t>((size_t{1} << 16) / std::max<size_t>(ng, 1), 1, n);
  std::vector<Acc> acc(ng * tile);
  std::vector<EvalSeries> res(ng);
  std::vector<size_t> pos(in.series.size(), 0);
  // Per input series, the step its next point is compared with (points and steps both ascend:
  // a walk instead of two integer divisions per point).
  std::vector<size_t> step_at(in.series.size(), 0);
  for (size_t i0 = 0; i0 < n; i0 += tile) {
    KANSOKU_RETURN_IF_ERROR(Check());
    const size_t i1 = std::min(n, i0 + tile);
    std::fill(acc.begin(), acc.end(), Acc{});
    const int64_t t1 = Ts(i1 - 1);
    for (size_t s = 0; s < in.series.size(); ++s) {
      const std::vector<Point>& pts = in.series[s].points;
      size_t& p = pos[s];
      size_t& si = step_at[s];
      if (si < i0) si = i0;
      int64_t st = Ts(si);
      Acc* row = &acc[group_of[s] * tile];
      for (; p < pts.size() && pts[p].t <= t1; ++p) {
        while (st < pts[p].t) st = Ts(++si);  // stops at i1 - 1 at the latest (t <= t1)
        if (st != pts[p].t) continue;         // not a step time
        AccAdd(a.op, row[si - i0], pts[p].v);
      }
    }
    for (size_t g = 0; g < ng; ++g) {
      for (size_t i = i0; i < i1; ++i) {
        const Acc& x = acc[g * tile + (i - i0)];
        if (!x.seen) continue;
        const double v = AccValue(a.op, x);
        res[g].points.push_back({Ts(i), v});
      }
    }
  }
  for (size_t g = 0; g < ng; ++g) {
    if (res[g].points.empty()) continue;
    res[g].labels = group_labels[g];
    res[g].drop_name = group_drop[g];
    out.series.push_back(std::move(res[g]));
  }
  return out;
}

}  // namespace kansoku::query::internal
