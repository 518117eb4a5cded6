// Function calls: range-vector functions, instant-vector functions, label functions,
// classic-histogram functions.
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "query/engine/eval_util.h"
#include "query/functions/functions.h"

namespace kansoku::query::internal {

namespace fn = functions;
using tsdb::Label;
using tsdb::Labels;
using tsdb::LabelsBuilder;

namespace {

// The first index in [i, end) whose time is > t, for sorted points (i moves forward one window
// edge per step). Four at a time first: a window edge usually moves by several samples per step
// (4 for a 15 s series at a 60 s step), and a test per sample was 13 % of a 24 h sum(rate()).
inline size_t SkipThrough(const Point* p, size_t i, size_t end, int64_t t) {
  while (i + 4 <= end && p[i + 3].t <= t) i += 4;
  while (i < end && p[i].t <= t) ++i;
  return i;
}

// SkipThrough that first tries the edge's previous advance *adv (a regular series moves each
// window edge by the same count every step: two comparisons instead of a scan), and records
// the advance it took.
inline size_t SkipThroughLike(const Point* p, size_t i, size_t end, int64_t t, size_t* adv) {
  const size_t j = i + *adv;
  if (j < end && p[j].t > t && (j == i || p[j - 1].t <= t)) return j;
  const size_t r = SkipThrough(p, i, end, t);
  *adv = r - i;
  return r;
}

// floor(a / b) for b > 0.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Whether any value is below its predecessor (a counter reset), four comparisons per branch.
inline bool AnyDecrease(const std::vector<Point>& points) {
  const Point* p = points.data();
  const size_t n = points.size();
  size_t k = 1;
  for (; k + 4 <= n; k += 4) {
    const bool d = (p[k].v < p[k - 1].v) | (p[k + 1].v < p[k].v) | (p[k + 2].v < p[k + 1].v) |
                   (p[k + 3].v < p[k + 2].v);
    if (d) return true;
  }
  for (; k < n; ++k) {
    if (p[k].v < p[k - 1].v) return true;
  }
  return false;
}

// The query's deadline, looked at once per ~256 k points a series' windows read: one series of
// huge windows (max_over_time(x[1d]) at a 10 s step over 1 s data reads 86,400 points a step, and
// so does rate's correction of a window holding a counter reset) can take seconds. One per
// kernel call (not shared between threads).
struct DeadlineEveryPoints {
  const QueryState& st;
  size_t read = 0;
  Status late;  // why Past returned true
  bool Past(size_t points) {
    read += points;
    if (read < (size_t{1} << 18)) return false;
    read = 0;
    late = CheckDeadline(st);
    return !late.ok();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Functions

Result<Val> Evaluator::EvalRangeFunction(const Call& c, int fn_id, const Expr& range_arg,
                                         const std::vector<const Val*>& params, RangeSink* sink) {
  auto rf = static_cast<fn::RangeFn>(fn_id);
  size_t n = NumSteps();
  Val out;
  out.type = ValueType::kVector;
  bool keeps_name = fn::RangeFnKeepsName(rf);
  std::string_view fname = c.func->name;
  if (rf == fn::RangeFn::kQuantileOverTime) {
    for (size_t i = 0; i < n; ++i) {
      double q = ScalarAt(*params[0], i);
      if (std::isnan(q) || q < 0 || q > 1) {
        st_->warnings.insert("PromQL warning: quantile value should be between 0 and 1, got " +
                             fn::FormatFloatShortest(q));
      }
    }
  }
  if (rf == fn::RangeFn::kDoubleExponentialSmoothing) {
    for (size_t i = 0; i < n; ++i) {
      double sf = ScalarAt(*params[0], i), tf = ScalarAt(*params[1], i);
      if (!(sf > 0 && sf < 1)) {
        return ExecError("invalid smoothing factor. Expected: 0 < sf < 1, got: " +
                         fn::FormatFloatShortest(sf));
      }
      if (!(tf > 0 && tf < 1)) {
        return ExecError("invalid trend factor. Expected: 0 < tf < 1, got: " +
                         fn::FormatFloatShortest(tf));
      }
    }
  }
  bool absent = rf == fn::RangeFn::kAbsentOverTime;
  std::vector<bool> any_at_step(absent ? n : 0, false);
  const bool counter_fn = rf == fn::RangeFn::kRate || rf == fn::RangeFn::kIncrease;
  const bool counter_info = fname == "rate" || fname == "increase";
  // Per-thread scratch of the kernel below.
  struct Scratch {
    std::vector<double> pv;
    std::vector<uint32_t> resets;  // rate/increase: resets[k] = decreases among points[0..k]
  };
  auto not_a_counter = [&](const Labels& labels) {
    std::string_view name = labels.MetricName();
    auto ends = [&](std::string_view suf) {
      return name.size() >= suf.size() && name.substr(name.size() - suf.size()) == suf;
    };
    return !name.empty() && !ends("_total") && !ends("_sum") && !ends("_count") && !ends("_bucket");
  };
  RangeSource src;  // range/offset/@ of the argument (and its series when it is a subquery)
  // The range window of each step over one series' raw points (two pointers), the kernel per
  // window, into *o. Thread-safe: reads only shared immutable state and `sc`.
  // interval: the points' one step when the storage knows it (tsdb::SampleFacts), else 0.
  // Fails only when the query's deadline passes (or it is canceled) during a long series.
  auto kernel = [&](const std::vector<Point>& points, bool never_decreases, int64_t interval,
                    Scratch& sc, std::vector<Point>* o) -> Status {
    sc.pv.resize(params.size());
    // Most counters never go down in a query's span: the storage often knows (a packed chunk's
    // decoder sees it for free), otherwise one branch-free pass finds out; only a series that
    // does pays for the per-sample reset counts (a store per sample).
    const bool has_resets = counter_fn && !never_decreases && AnyDecrease(points);
    if (has_resets) {
      sc.resets.resize(points.size());
      uint32_t r = 0;
      for (size_t k = 0; k < points.size(); ++k) {
        if (k > 0 && points[k].v < points[k - 1].v) ++r;
        sc.resets[k] = r;
      }
    }
    const auto no_resets = [&](size_t lo, size_t hi) {
      return counter_fn && (!has_resets || sc.resets[hi - 1] == sc.resets[lo]);
    };
    if (points.empty()) return Status::Ok();
    DeadlineEveryPoints deadline{*st_};
    // Output written through an index into a sized vector (push_back per point was not inlined:
    // 9 % of a 24 h sum(rate()) in perf); sized for at most one point per step whose window can
    // hold a sample, grown if that estimate is short, trimmed at the end.
    size_t k = o->size();
    {
      const int64_t span = points.back().t - points.front().t + src.range_ms;
      const size_t est = step_ > 0 ? static_cast<size_t>(span / step_) + 2 : n;
      o->resize(k + std::min<size_t>(n, est));
    }
    const auto emit = [&](int64_t t, double v) {
      if (k == o->size()) o->resize(k + k / 2 + 16);
      (*o)[k++] = Point{t, v};
    };
    struct Trim {
      std::vector<Point>* o;
      const size_t* k;
      ~Trim() { o->resize(*k); }
    } trim{o, &k};
    size_t lo = 0, hi = 0;
    const double range_s = static_cast<double>(src.range_ms) / 1000;
    if (rf == fn::RangeFn::kRate || rf == fn::RangeFn::kIncrease || rf == fn::RangeFn::kDelta) {
      // The common case without the generic dispatch: ExtrapolatedRate inlined per flavour
      // (its RateShape kept while windows repeat it).
      // Locals instead of members and *o: stores into the output no longer make the compiler
      // reload them every step.
      const Point* p = points.data();
      const size_t np = points.size();
      const uint32_t* resets = has_resets ? sc.resets.data() : nullptr;
      const int64_t step = step_, range_ms = src.range_ms;
      // The window's end moves with the step, or stays at the @ time.
      const int64_t ref_step = src.has_at ? 0 : step;
      // One loop per flavour (GCC -O2 does not unswitch loops), with the output index and the
      // window edges in locals: `k` has its address taken (Trim), and incrementing it in
      // memory put a store and a reload on every step's path.
      // A regular series (each point `interval` ms after the one before, as the storage
      // reports) at a step that is a multiple of the interval: away from the series' ends every
      // window holds the same number of points and has the same shape, and both edges move by
      // step / interval points a step, so those windows need neither the edge searches nor the
      // shape test (~75 of ~100 instructions a window in a 24 h sum(rate()) over 15 s data).
      // The same windows and operands as the general loop, so the same bits.
      const int64_t d = interval;
      const bool lockstep = d > 0 && ref_step > 0 && ref_step % d == 0 && range_ms > 0;
      const auto run = [&]<bool kRate, bool kCounter>() {
        Point* out = o->data();
        size_t cap = o->size();
        size_t kk = k, h = hi, l = lo;
        size_t hi_adv = 0, lo_adv = 0;
        // The window shape last computed (RateShape): a regular series repeats it every step,
        // so the extrapolation's divisions and comparisons run once per distinct shape.
        int64_t shape_from_start = -1, shape_to_end = -1;
        size_t shape_n = 0;
        fn::RateShape shape;
        const int64_t ref0 = (src.has_at ? src.at : start_) - src.offset_ms;
        // Steps [from, to), each window's edges searched from the previous window's.
        const auto general = [&](size_t from, size_t to) {
          int64_t eval_ts = start_ + static_cast<int64_t>(from) * step - step;
          int64_t ref = ref0 + static_cast<int64_t>(from) * ref_step - ref_step;
          for (size_t i = from; i < to; ++i) {
            eval_ts += step;
            ref += ref_step;
            const int64_t rstart = ref - range_ms;
            h = SkipThroughLike(p, h, np, ref, &hi_adv);
            l = SkipThroughLike(p, l, h, rstart, &lo_adv);
            if (h - l < 2) continue;
            const bool no_resets = kCounter && (resets == nullptr || resets[h - 1] == resets[l]);
            if (kCounter && !no_resets && deadline.Past(h - l)) return;
            const double result =
                fn::RateResult(std::span<const Point>(p + l, h - l), kCounter, no_resets);
            // Window edges are exclusive at the start, so from_start > 0 and never -1.
            const int64_t from_start = p[l].t - rstart, to_end = ref - p[h - 1].t;
            if (from_start != shape_from_start || to_end != shape_to_end || h - l != shape_n) {
              shape = fn::RateShape::Of(from_start, to_end, p[h - 1].t - p[l].t, h - l, range_s);
              shape_from_start = from_start;
              shape_to_end = to_end;
              shape_n = h - l;
            }
            const double v = fn::RateFromShape(shape, p[l].v, result, kCounter, kRate);
            if (kk == cap) {
              o->resize(kk + kk / 2 + 16);
              out = o->data();
              cap = o->size();
            }
            out[kk++] = Point{eval_ts, v};
          }
        };
        // p[j].t = t0 + j * d, so step i's window (ref0 + i * ref_step - range, ref0 + i *
        // ref_step] holds points [l0 + i * q, h0 + i * q) for the steps [f_lo, f_hi) where those
        // bounds lie within [0, np].
        const int64_t t0 = p[0].t;
        const int64_t q = lockstep ? ref_step / d : 1;
        const int64_t h0 = lockstep ? FloorDiv(ref0 - t0, d) + 1 : 0;
        const int64_t l0 = lockstep ? FloorDiv(ref0 - range_ms - t0, d) + 1 : 0;
        const auto nsteps = static_cast<int64_t>(n), npts = static_cast<int64_t>(np);
        const int64_t f_lo = l0 >= 0 ? 0 : (-l0 + q - 1) / q;
        const int64_t f_hi = npts < h0 ? 0 : std::min(nsteps, (npts - h0) / q + 1);
        if (!lockstep || f_lo >= f_hi) {
          general(0, n);
          k = kk;
          return;
        }
        general(0, static_cast<size_t>(f_lo));
        if (!deadline.late.ok()) return;
        if (const int64_t width = h0 - l0; width >= 2) {
          const fn::RateShape sh =
              fn::RateShape::Of(t0 + l0 * d - (ref0 - range_ms), ref0 - (t0 + (h0 - 1) * d),
                                (width - 1) * d, static_cast<size_t>(width), range_s);
          const auto count = static_cast<size_t>(f_hi - f_lo);
          if (cap - kk < count) {
            o->resize(kk + count);
            out = o->data();
            cap = o->size();
          }
          const auto w = static_cast<size_t>(width), stride = static_cast<size_t>(q);
          const Point* first = p + (l0 + f_lo * q);
          const uint32_t* const rs = resets;
          size_t r = static_cast<size_t>(l0 + f_lo * q);
          int64_t eval_ts = start_ + f_lo * step;
          const int64_t tstep = step;
          Point* dst = out + kk;
          for (size_t i = 0; i < count; ++i, first += stride, r += stride, eval_ts += tstep) {
            const bool no_resets = kCounter && (rs == nullptr || rs[r + w - 1] == rs[r]);
            if (kCounter && !no_resets && deadline.Past(w)) return;
            const double result =
                fn::RateResult(std::span<const Point>(first, w), kCounter, no_resets);
            dst[i] = Point{eval_ts, fn::RateFromShape(sh, first->v, result, kCounter, kRate)};
          }
          kk += count;
        }
        // The general loop goes on from the last of these windows' edges.
        h = static_cast<size_t>(h0 + (f_hi - 1) * q);
        l = static_cast<size_t>(l0 + (f_hi - 1) * q);
        hi_adv = lo_adv = static_cast<size_t>(q);
        general(static_cast<size_t>(f_hi), n);
        k = kk;
      };
      if (rf == fn::RangeFn::kRate) {
        run.template operator()<true, true>();
      } else if (counter_fn) {
        run.template operator()<false, true>();
      } else {
        run.template operator()<false, false>();
      }
      return deadline.late;
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t eval_ts = Ts(i);
      int64_t ref = (src.has_at ? src.at : eval_ts) - src.offset_ms;
      int64_t rstart = ref - src.range_ms;
      hi = SkipThrough(points.data(), hi, points.size(), ref);
      lo = SkipThrough(points.data(), lo, hi, rstart);
      if (lo >= hi) continue;
      if (deadline.Past(hi - lo)) return deadline.late;
      for (size_t k = 0; k < params.size(); ++k) sc.pv[k] = ScalarAt(*params[k], i);
      fn::RangeWindow w{rstart, ref, eval_ts, range_s};
      w.no_counter_resets = no_resets(lo, hi);
      auto v = fn::EvalRange(rf, std::span<const Point>(points.data() + lo, hi - lo), w, sc.pv);
      if (v) emit(eval_ts, *v);
    }
    return Status::Ok();
  };
  // Serial path (subqueries, absent_over_time): one series at a time.
  Scratch serial_scratch;
  auto process = [&](Labels& labels, bool drop_name, const std::vector<Point>& points) -> Status {
    KANSOKU_RETURN_IF_ERROR(Check());
    if (counter_info && !points.empty() && not_a_counter(labels)) {
      st_->infos.insert(
          "PromQL info: metric might not be a counter, name does not end in "
          "_total/_sum/_count/_bucket: \"" +
          std::string(labels.MetricName()) + "\"");
    }
    if (absent) {
      size_t lo = 0, hi = 0;
      for (size_t i = 0; i < n; ++i) {
        int64_t ref = (src.has_at ? src.at : Ts(i)) - src.offset_ms;
        hi = SkipThrough(points.data(), hi, points.size(), ref);
        lo = SkipThrough(points.data(), lo, hi, ref - src.range_ms);
        if (lo < hi) any_at_step[i] = true;
      }
      return Status::Ok();
    }
    EvalSeries o;
    KANSOKU_RETURN_IF_ERROR(kernel(points, false, 0, serial_scratch, &o.points));
    if (o.points.empty()) return Status::Ok();
    KANSOKU_RETURN_IF_ERROR(Account(static_cast<int64_t>(o.points.size())));
    o.labels = std::move(labels);
    o.drop_name = drop_name || !keeps_name;
    out.series.push_back(std::move(o));
    return Status::Ok();
  };
  const Expr& range_expr = *UnwrapParens(&range_arg);
  if (range_expr.kind == ExprKind::kMatrixSelector) {
    // Streamed: one raw series in memory per thread at a time; series spread over threads,
    // results kept in label order.
    const auto& ms = static_cast<const MatrixSelector&>(range_expr);
    const auto& vs = *ms.vs;
    src.range_ms = ms.range_ms;
    src.offset_ms = vs.mods.offset_ms;
    src.has_at = vs.mods.at != AtKind::kNone;
    src.at = AtTime(vs.mods);
    int64_t min_ref = (src.has_at ? src.at : start_) - src.offset_ms;
    int64_t max_ref = (src.has_at ? src.at : end_) - src.offset_ms;
    if (absent) {
      KANSOKU_RETURN_IF_ERROR(ForEachSeries(st_, vs, min_ref - src.range_ms + 1, max_ref,
                                            src.range_ms, "", step_, false,
                                            [&](Labels& labels, std::vector<Point>& points) {
                                              return process(labels, false, points);
                                            }));
    } else {
      std::vector<EvalSeries> slots;
      std::vector<std::string> info;  // slot i's metric name when it is not named like a counter
      bool fused = false;
      // The function, step and range go to the storage as hints: long ranges at large steps
      // read a block's rollups instead of its raw chunks (tsdb::ChooseRollup).
      KANSOKU_RETURN_IF_ERROR(ForEachSeriesParallel(
          st_, vs, min_ref - src.range_ms + 1, max_ref, src.range_ms, fname, step_, false,
          [&](const std::vector<const Labels*>& labels, size_t threads,
              std::vector<std::vector<uint32_t>>* units) {
            info.assign(labels.size(), {});
            fused = sink != nullptr && sink->plan(labels, threads, units);
            if (!fused) slots.resize(labels.size());
          },
          [&](size_t i, const Labels& labels, std::vector<Point>& points,
              const tsdb::SampleFacts& facts, int64_t* kept) -> Status {
            const bool never_decreases = facts.no_nan && facts.no_decrease;
            thread_local Scratch sc;
            if (counter_info && !points.empty() && not_a_counter(labels)) {
              info[i] = labels.MetricName();
            }
            if (fused) {
              // The output goes straight to the sink through a per-thread buffer.
              thread_local std::vector<Point> buf;
              buf.clear();
              KANSOKU_RETURN_IF_ERROR(kernel(points, never_decreases, facts.interval, sc, &buf));
              sink->consume(i, buf);
              if (buf.capacity() > (size_t{1} << 16)) buf = {};  // bounded retention
              *kept = 0;
            } else {
              KANSOKU_RETURN_IF_ERROR(
                  kernel(points, never_decreases, facts.interval, sc, &slots[i].points));
              *kept = static_cast<int64_t>(slots[i].points.size());
              if (*kept > 0) slots[i].labels = labels;
            }
            if (sc.resets.capacity() > (size_t{1} << 16)) sc.resets = {};  // bounded retention
            return Status::Ok();
          }));
      for (const std::string& name : info) {
        if (!name.empty()) {
          st_->infos.insert(
              "PromQL info: metric might not be a counter, name does not end in "
              "_total/_sum/_count/_bucket: \"" +
              name + "\"");
        }
      }
      if (fused) {
        sink->fused = true;
        return out;
      }
      out.series.reserve(slots.size());
      for (auto& o : slots) {
        if (o.points.empty()) continue;
        o.drop_name = !keeps_name;
        out.series.push_back(std::move(o));
      }
    }
  } else {
    KANSOKU_ASSIGN_OR_RETURN(src, LoadRange(range_arg));
    for (auto& s : src.series) KANSOKU_RETURN_IF_ERROR(process(s.labels, s.drop_name, s.points));
  }
  if (absent) {
    EvalSeries o;
    for (size_t i = 0; i < n; ++i) {
      if (!any_at_step[i]) o.points.push_back({Ts(i), 1});
    }
    if (!o.points.empty()) {
      // Labels from the equality matchers of a plain matrix selector.
      const Expr* e = UnwrapParens(&range_arg);
      if (e->kind == ExprKind::kMatrixSelector) {
        const auto& vs = *static_cast<const MatrixSelector*>(e)->vs;
        LabelsBuilder lb;
        std::unordered_map<std::string, int> seen;
        for (const auto& m : vs.matchers) {
          if (m.name() != tsdb::kMetricName) seen[m.name()]++;
        }
        for (const auto& m : vs.matchers) {
          if (m.type() == tsdb::MatchType::kEqual && m.name() != tsdb::kMetricName &&
              seen[m.name()] == 1)
            lb.Set(m.name(), m.value());
        }
        o.labels = lb.Build();
      }
      out.series.push_back(std::move(o));
    }
  }
  return out;
}

Result<Val> Evaluator::EvalRangeCall(const Call& c, RangeSink* sink) {
  auto rf = fn::LookupRangeFn(c.func->name);
  if (!rf) return Status::Internal("not a range function: " + std::string(c.func->name));
  std::vector<Val> param_vals;
  const Expr* range_arg = nullptr;
  for (const auto& a : c.args) {
    if (a->Type() == ValueType::kMatrix) {
      range_arg = a.get();
    } else {
      KANSOKU_ASSIGN_OR_RETURN(Val pv, Eval(*a));
      param_vals.push_back(std::move(pv));
    }
  }
  std::vector<const Val*> params;
  params.reserve(param_vals.size());
  for (const auto& p : param_vals) params.push_back(&p);
  return EvalRangeFunction(c, static_cast<int>(*rf), *range_arg, params, sink);
}

namespace {
// Go regexp Expand semantics for $1, ${1}, $name, ${name}.
std::string ExpandTemplate(std::string_view tmpl, const re2::RE2& re,
                           const std::vector<re2::StringPiece>& groups) {
  std::string out;
  const auto& named = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out += c;
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out += c;
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() &&
             (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_'))
        ++j;
      name = std::string(tmpl.substr(i + 1, j - i - 1));
    }
    if (name.empty()) {
      out += c;
      continue;
    }
    i = j - 1;
    bool numeric =
        std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (numeric) {
      size_t idx = name.size() > 9 ? groups.size() : std::stoul(name);
      if (idx < groups.size()) out.append(groups[idx].data(), groups[idx].size());
    } else {
      auto it = named.find(name);
      if (it != named.end() && static_cast<size_t>(it->second) < groups.size())
        out.append(groups[it->second].data(), groups[it->second].size());
    }
  }
  return out;
}

}  // namespace

Result<Val> Evaluator::EvalCall(const Call& c) {
  std::string_view name = c.func->name;
  size_t n = NumSteps();
  if (name == "time") {
    Val v;
    v.type = ValueType::kScalar;
    v.series.resize(1);
    for (size_t i = 0; i < n; ++i)
      v.series[0].points.push_back({Ts(i), static_cast<double>(Ts(i)) / 1000});
    return v;
  }
  if (name == "step" || name == "range" || name == "start" || name == "end") {
    double v = name == "step"    ? static_cast<double>(st_->query_step) / 1000
               : name == "range" ? static_cast<double>(st_->query_end - st_->query_start) / 1000
               : name == "start" ? static_cast<double>(st_->query_start) / 1000
                                 : static_cast<double>(st_->query_end) / 1000;
    Val out;
    out.type = ValueType::kScalar;
    out.series.resize(1);
    for (size_t i = 0; i < n; ++i) out.series[0].points.push_back({Ts(i), v});
    return out;
  }
  if (name == "min_of" || name == "max_of") {
    KANSOKU_ASSIGN_OR_RETURN(Val a, Eval(*c.args[0]));
    KANSOKU_ASSIGN_OR_RETURN(Val b, Eval(*c.args[1]));
    for (size_t i = 0; i < n; ++i) {
      double x = a.series[0].points[i].v, y = b.series[0].points[i].v;
      double r = std::isnan(x) || std::isnan(y) ? kNaN
                 : name == "min_of"             ? std::min(x, y)
                                                : std::max(x, y);
      a.series[0].points[i].v = r;
    }
    return a;
  }
  if (name == "pi") {
    Val v;
    v.type = ValueType::kScalar;
    v.series.resize(1);
    for (size_t i = 0; i < n; ++i) v.series[0].points.push_back({Ts(i), M_PI});
    return v;
  }
  if (name == "timestamp") {
    const Expr* arg = UnwrapParens(c.args[0].get());
    Val v;
    if (arg->kind == ExprKind::kVectorSelector) {
      KANSOKU_ASSIGN_OR_RETURN(v,
                               EvalVectorSelector(*static_cast<const VectorSelector*>(arg), true));
    } else {
      KANSOKU_ASSIGN_OR_RETURN(v, Eval(*arg));
      for (auto& s : v.series) {
        for (auto& p : s.points) p.v = static_cast<double>(p.t) / 1000;
      }
    }
    for (auto& s : v.series) s.drop_name = true;
    return v;
  }
  if (fn::LookupRangeFn(name)) return EvalRangeCall(c, nullptr);
  if (name == "vector") {
    KANSOKU_ASSIGN_OR_RETURN(Val s, Eval(*c.args[0]));
    s.type = ValueType::kVector;
    return s;
  }
  if (name == "scalar") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    Val v;
    v.type = ValueType::kScalar;
    v.series.resize(1);
    std::vector<Cursor> cur(in.series.size());
    for (size_t i = 0; i < n; ++i) {
      int count = 0;
      double val = kNaN;
      for (size_t s = 0; s < in.series.size(); ++s) {
        if (const Point* p = cur[s].At(in.series[s].points, Ts(i))) {
          ++count;
          val = p->v;
        }
      }
      v.series[0].points.push_back({Ts(i), count == 1 ? val : kNaN});
    }
    return v;
  }
  if (name == "absent") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    std::vector<bool> present(n, false);
    for (const auto& s : in.series) {
      for (const auto& p : s.points) present[static_cast<size_t>((p.t - start_) / step_)] = true;
    }
    Val out;
    out.type = ValueType::kVector;
    EvalSeries o;
    for (size_t i = 0; i < n; ++i) {
      if (!present[i]) o.points.push_back({Ts(i), 1});
    }
    if (!o.points.empty()) {
      const Expr* e = UnwrapParens(c.args[0].get());
      if (e->kind == ExprKind::kVectorSelector) {
        const auto& vs = *static_cast<const VectorSelector*>(e);
        LabelsBuilder lb;
        std::unordered_map<std::string, int> seen;
        for (const auto& m : vs.matchers) {
          if (m.name() != tsdb::kMetricName) seen[m.name()]++;
        }
        for (const auto& m : vs.matchers) {
          if (m.type() == tsdb::MatchType::kEqual && m.name() != tsdb::kMetricName &&
              seen[m.name()] == 1)
            lb.Set(m.name(), m.value());
        }
        o.labels = lb.Build();
      }
      out.series.push_back(std::move(o));
    }
    return out;
  }
  // Instant-vector functions with optional scalar parameters.
  if (fn::IsMathFunction(name) || name == "round" || name == "clamp" || name == "clamp_min" ||
      name == "clamp_max") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    std::vector<Val> ps;
    for (size_t k = 1; k < c.args.size(); ++k) {
      KANSOKU_ASSIGN_OR_RETURN(Val p, Eval(*c.args[k]));
      ps.push_back(std::move(p));
    }
    Val out;
    out.type = ValueType::kVector;
    for (auto& s : in.series) {
      EvalSeries o;
      for (const auto& p : s.points) {
        size_t i = static_cast<size_t>((p.t - start_) / step_);
        double v = p.v;
        if (name == "round") {
          double to = ps.empty() ? 1 : ScalarAt(ps[0], i);
          double inv = 1.0 / to;
          v = std::floor(v * inv + 0.5) / inv;
        } else if (name == "clamp") {
          double lo = ScalarAt(ps[0], i), hi = ScalarAt(ps[1], i);
          if (hi < lo) continue;
          v = std::isnan(v) || std::isnan(lo) || std::isnan(hi) ? kNaN
                                                                : std::max(lo, std::min(hi, v));
        } else if (name == "clamp_min") {
          double lo = ScalarAt(ps[0], i);
          v = std::isnan(v) || std::isnan(lo) ? kNaN : std::max(lo, v);
        } else if (name == "clamp_max") {
          double hi = ScalarAt(ps[0], i);
          v = std::isnan(v) || std::isnan(hi) ? kNaN : std::min(hi, v);
        } else {
          v = *fn::ApplyMath(name, v);
        }
        o.points.push_back({p.t, v});
      }
      if (o.points.empty()) continue;
      o.labels = std::move(s.labels);
      o.drop_name = true;
      out.series.push_back(std::move(o));
    }
    return out;
  }
  if (fn::IsDateFunction(name)) {
    Val in;
    if (c.args.empty()) {
      in.type = ValueType::kVector;
      in.series.resize(1);
      for (size_t i = 0; i < n; ++i)
        in.series[0].points.push_back({Ts(i), static_cast<double>(Ts(i)) / 1000});
    } else {
      KANSOKU_ASSIGN_OR_RETURN(in, Eval(*c.args[0]));
    }
    for (auto& s : in.series) {
      for (auto& p : s.points) p.v = fn::ApplyDate(name, p.v);
      s.drop_name = true;
    }
    return in;
  }
  if (name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
      name == "sort_by_label_desc") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    if (st_->range_query) {
      st_->warnings.insert(
          "PromQL warning: sort is ineffective for range queries since results are always ordered "
          "by labels");
    }
    std::vector<std::string> labels;
    for (size_t k = 1; k < c.args.size(); ++k)
      labels.push_back(static_cast<const StringLiteral*>(UnwrapParens(c.args[k].get()))->value);
    if (n == 1) {
      auto val = [](const EvalSeries& s) { return s.points.back().v; };
      if (name == "sort" || name == "sort_desc") {
        bool desc = name == "sort_desc";
        std::stable_sort(in.series.begin(), in.series.end(),
                         [&](const EvalSeries& a, const EvalSeries& b) {
                           double x = val(a), y = val(b);
                           if (std::isnan(x)) return !std::isnan(y);
                           if (std::isnan(y)) return false;
                           return desc ? x > y : x < y;
                         });
      } else {
        bool desc = name == "sort_by_label_desc";
        std::stable_sort(in.series.begin(), in.series.end(),
                         [&](const EvalSeries& a, const EvalSeries& b) {
                           for (const auto& l : labels) {
                             std::string_view x = a.labels.Get(l), y = b.labels.Get(l);
                             if (x == y) continue;
                             return desc ? fn::NaturalLess(y, x) : fn::NaturalLess(x, y);
                           }
                           return desc ? b.labels < a.labels : a.labels < b.labels;
                         });
      }
      in.ordered = true;
    }
    return in;
  }
  if (name == "label_replace" || name == "label_join") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    auto str_arg = [&](size_t k) {
      return static_cast<const StringLiteral*>(UnwrapParens(c.args[k].get()))->value;
    };
    std::string dst = str_arg(1);
    if (name == "label_replace") {
      std::string repl = str_arg(2), src = str_arg(3), regex = str_arg(4);
      RE2::Options opts;
      opts.set_log_errors(false);
      opts.set_dot_nl(true);
      re2::RE2 re("^(?:" + regex + ")$", opts);
      if (!re.ok()) {
        return Status::InvalidArgument("invalid regular expression in label_replace(): " + regex);
      }
      if (!ValidLabelName(dst)) {
        return Status::InvalidArgument("invalid destination label name in label_replace(): " + dst);
      }
      int ngroups = re.NumberOfCapturingGroups() + 1;
      std::vector<re2::StringPiece> groups(ngroups);
      for (auto& s : in.series) {
        std::string_view sv = s.labels.Get(src);
        if (!re.Match(re2::StringPiece(sv.data(), sv.size()), 0, sv.size(), RE2::UNANCHORED,
                      groups.data(), ngroups))
          continue;
        std::string res = ExpandTemplate(repl, re, groups);
        s.labels = LabelsBuilder(s.labels).Set(dst, res).Build();
        if (dst == tsdb::kMetricName) s.drop_name = false;
      }
    } else {
      std::string sep = str_arg(2);
      if (!ValidLabelName(dst))
        return Status::InvalidArgument("invalid destination label name in label_join(): " + dst);
      std::vector<std::string> srcs;
      for (size_t k = 3; k < c.args.size(); ++k) {
        srcs.push_back(str_arg(k));
        if (!ValidLabelName(srcs.back()))
          return Status::InvalidArgument("invalid source label name in label_join(): " +
                                         srcs.back());
      }
      for (auto& s : in.series) {
        std::string res;
        for (size_t k = 0; k < srcs.size(); ++k) {
          if (k) res += sep;
          res += s.labels.Get(srcs[k]);
        }
        s.labels = LabelsBuilder(s.labels).Set(dst, res).Build();
        if (dst == tsdb::kMetricName) s.drop_name = false;
      }
    }
    KANSOKU_RETURN_IF_ERROR(CheckNoDuplicates(in.series));
    return in;
  }
  if (name == "histogram_quantile") {
    std::vector<Val> qs(1);
    KANSOKU_ASSIGN_OR_RETURN(qs[0], Eval(*c.args[0]));
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[1]));
    return EvalHistogramQuantile(qs, std::move(in), false, nullptr, "");
  }
  if (name == "histogram_quantiles") {
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    std::string label = static_cast<const StringLiteral*>(UnwrapParens(c.args[1].get()))->value;
    if (!ValidLabelName(label)) return ExecError("invalid label name " + GoQuote(label));
    std::vector<Val> qs;
    for (size_t k = 2; k < c.args.size(); ++k) {
      KANSOKU_ASSIGN_OR_RETURN(Val q, Eval(*c.args[k]));
      qs.push_back(std::move(q));
    }
    return EvalHistogramQuantile(qs, std::move(in), false, nullptr, label);
  }
  if (name == "histogram_fraction") {
    std::vector<Val> lo(1);
    KANSOKU_ASSIGN_OR_RETURN(lo[0], Eval(*c.args[0]));
    KANSOKU_ASSIGN_OR_RETURN(Val hi, Eval(*c.args[1]));
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[2]));
    return EvalHistogramQuantile(lo, std::move(in), true, &hi, "");
  }
  if (name == "histogram_count" || name == "histogram_sum" || name == "histogram_avg" ||
      name == "histogram_stddev" || name == "histogram_stdvar") {
    // Native histograms only: float samples are ignored.
    KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*c.args[0]));
    Val out;
    out.type = ValueType::kVector;
    return out;
  }
  return Status::InvalidArgument("function \"" + std::string(name) + "\" is not supported");
}

Result<Val> Evaluator::EvalHistogramQuantile(const std::vector<Val>& qs, Val in, bool fraction,
                                             const Val* upper, const std::string& q_label) {
  size_t n = NumSteps();
  // Group buckets by labels without "le" and __name__.
  std::unordered_map<std::string, size_t> groups;
  std::vector<Labels> group_labels;
  std::vector<int> group_of(in.series.size(), -1);
  std::vector<double> le_of(in.series.size());
  for (size_t s = 0; s < in.series.size(); ++s) {
    std::string_view le = in.series[s].labels.Get("le");
    char* end = nullptr;
    std::string les(le);
    double ub = std::strtod(les.c_str(), &end);
    if (le.empty() || end == les.c_str() || *end != '\0') {
      st_->warnings.insert(
          "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"" + les +
          "\" for metric name \"" + std::string(in.series[s].labels.MetricName()) + "\"");
      continue;
    }
    le_of[s] = ub;
    // Grouped with __name__ still present (delayed removal): buckets of different metrics
    // stay apart and collide only when names are finally dropped, as in Prometheus.
    Labels gl = LabelsBuilder(in.series[s].labels).Del("le").Build();
    if (!q_label.empty() && gl.Has(q_label)) {
      return ExecError("label " + GoQuote(q_label) + " already exists in the input series " +
                       gl.ToString());
    }
    auto [it, ins] = groups.emplace(LabelsKey(gl), group_labels.size());
    if (ins) group_labels.push_back(std::move(gl));
    group_of[s] = static_cast<int>(it->second);
  }
  size_t nq = qs.size();
  std::vector<EvalSeries> res(group_labels.size() * nq);
  std::vector<std::vector<fn::Bucket>> buckets(group_labels.size());
  std::vector<Cursor> cur(in.series.size());
  for (size_t i = 0; i < n; ++i) {
    int64_t ts = Ts(i);
    for (size_t k = 0; k < nq; ++k) {
      double qv = ScalarAt(qs[k], i);
      if (!fraction && (std::isnan(qv) || qv < 0 || qv > 1)) {
        st_->warnings.insert("PromQL warning: quantile value should be between 0 and 1, got " +
                             fn::FormatFloatShortest(qv));
      }
    }
    for (auto& b : buckets) b.clear();
    for (size_t s = 0; s < in.series.size(); ++s) {
      if (group_of[s] < 0) continue;
      if (const Point* p = cur[s].At(in.series[s].points, ts))
        buckets[group_of[s]].push_back({le_of[s], p->v});
    }
    for (size_t g = 0; g < buckets.size(); ++g) {
      if (buckets[g].empty()) continue;
      for (size_t k = 0; k < nq; ++k) {
        double qv = ScalarAt(qs[k], i);
        double v;
        if (fraction) {
          v = fn::BucketFraction(qv, ScalarAt(*upper, i), buckets[g]);
        } else {
          bool forced = false;
          v = fn::BucketQuantile(qv, buckets[g], &forced);
          if (forced) {
            st_->infos.insert(
                "PromQL info: input to histogram_quantile needed to be fixed for monotonicity");
          }
        }
        auto& r = res[g * nq + k];
        if (r.points.empty() && !q_label.empty()) {
          std::string qs_label = fn::FormatFloatShortest(qv);
          if (std::isfinite(qv) && qs_label.find('.') == std::string::npos) qs_label += ".0";
          r.labels = LabelsBuilder(group_labels[g]).Set(q_label, qs_label).Build();
        } else if (r.points.empty()) {
          r.labels = group_labels[g];
        }
        r.drop_name = true;
        r.points.push_back({ts, v});
      }
    }
  }
  Val out;
  out.type = ValueType::kVector;
  for (auto& r : res) {
    if (!r.points.empty()) out.series.push_back(std::move(r));
  }
  if (!q_label.empty()) KANSOKU_RETURN_IF_ERROR(CheckNoDuplicates(out.series));
  return out;
}

}  // namespace kansoku::query::internal
