#include "query/engine/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <re2/re2.h>

#include "query/functions/functions.h"

namespace kansoku::query::internal {

namespace fn = functions;
using tsdb::Label;
using tsdb::Labels;
using tsdb::LabelsBuilder;

namespace {

// Runtime errors caused by the query or the data (the engine reports them as "execution").
Status ExecError(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A key identifying a label subset, exact (no hash collisions).
std::string KeyOf(const Labels& ls, const std::vector<std::string>& names, bool on) {
  std::string key;
  if (on) {
    for (const auto& n : names) {
      key += n;
      key += '\xff';
      key += ls.Get(n);
      key += '\xff';
    }
  } else {
    for (const auto& l : ls) {
      if (l.name == tsdb::kMetricName) continue;
      if (std::find(names.begin(), names.end(), l.name) != names.end()) continue;
      key += l.name;
      key += '\xff';
      key += l.value;
      key += '\xff';
    }
  }
  return key;
}

std::string LabelsKey(const Labels& ls) {
  std::string key;
  for (const auto& l : ls) {
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xff';
  }
  return key;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) return false;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

// Go's %q for label names in error messages (invalid bytes as \xNN).
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      int n = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
      bool ok = n > 0 && i + n < s.size() + 1;
      for (int k = 1; ok && k <= n; ++k) {
        if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) ok = false;
      }
      if (ok) {
        out.append(s.substr(i, n + 1));
        i += n + 1;
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

bool ValidLabelName(std::string_view s) { return !s.empty() && ValidUtf8(s); }

// Per-series cursor over step-aligned points.
struct Cursor {
  size_t pos = 0;
  // The value at exactly ts, if any. ts must be non-decreasing across calls.
  const Point* At(const std::vector<Point>& pts, int64_t ts) {
    while (pos < pts.size() && pts[pos].t < ts) ++pos;
    if (pos < pts.size() && pts[pos].t == ts) return &pts[pos];
    return nullptr;
  }
};

double ScalarAt(const Val& v, size_t i) { return v.series[0].points[i].v; }

double ElemBinop(BinOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinOp::kAdd:
      return l + r;
    case BinOp::kSub:
      return l - r;
    case BinOp::kMul:
      return l * r;
    case BinOp::kDiv:
      return l / r;
    case BinOp::kMod:
      return std::fmod(l, r);
    case BinOp::kPow:
      return std::pow(l, r);
    case BinOp::kAtan2:
      return std::atan2(l, r);
    case BinOp::kEql:
      *keep = l == r;
      return l;
    case BinOp::kNeq:
      *keep = l != r;
      return l;
    case BinOp::kGtr:
      *keep = l > r;
      return l;
    case BinOp::kLss:
      *keep = l < r;
      return l;
    case BinOp::kGte:
      *keep = l >= r;
      return l;
    case BinOp::kLte:
      *keep = l <= r;
      return l;
    default:
      return kNaN;
  }
}

}  // namespace

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

Status Evaluator::Check() {
  if (st_->cancel != nullptr && st_->cancel->load(std::memory_order_relaxed)) {
    return Status::Unavailable("query was canceled in query execution");
  }
  if (std::chrono::steady_clock::now() > st_->deadline) {
    return Status::DeadlineExceeded("query timed out in query execution");
  }
  return Status::Ok();
}

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
struct Loaded {
  Labels labels;
  std::vector<Point> points;
};
}  // namespace

// Loads all series matching vs with samples in [mint, maxt].
static Result<std::vector<Loaded>> SelectSeries(QueryState* st, const VectorSelector& vs,
                                                int64_t mint, int64_t maxt, int64_t range,
                                                std::string_view func, int64_t step,
                                                bool keep_stale) {
  tsdb::SelectHints hints;
  hints.start = mint;
  hints.end = maxt;
  hints.step = step;
  hints.func = std::string(func);
  hints.range = range;
  auto set_r = st->querier->Select(vs.matchers, hints);
  if (!set_r.ok()) return set_r.status();
  auto& set = *set_r;
  std::vector<Loaded> out;
  int64_t total = 0;
  while (set->Next()) {
    Loaded l;
    l.labels = set->labels();
    auto it = set->Iterator();
    if (it->Seek(mint)) {
      do {
        tsdb::Sample s = it->At();
        if (s.t > maxt) break;
        if (!keep_stale && tsdb::IsStaleNaN(s.v)) continue;
        l.points.push_back({s.t, s.v});
      } while (it->Next());
    }
    KANSOKU_RETURN_IF_ERROR(it->status());
    total += static_cast<int64_t>(l.points.size());
    if (st->samples + total > st->options->max_samples) {
      return Status::ResourceExhausted(
          "query processing would load too many samples into memory in query execution");
    }
    out.push_back(std::move(l));
  }
  KANSOKU_RETURN_IF_ERROR(set->status());
  st->samples += total;
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

// Raw samples of a matrix selector or subquery, windowed per step by the caller.
struct Evaluator::RangeSource {
  std::vector<EvalSeries> series;  // raw points, no stale markers
  int64_t range_ms = 0;
  int64_t offset_ms = 0;
  bool has_at = false;
  int64_t at = 0;
};

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

// ---------------------------------------------------------------------------------------------
// Binary operators

Result<Val> Evaluator::EvalBinary(const BinaryExpr& b) {
  KANSOKU_ASSIGN_OR_RETURN(Val lhs, Eval(*b.lhs));
  KANSOKU_ASSIGN_OR_RETURN(Val rhs, Eval(*b.rhs));
  size_t n = NumSteps();
  bool cmp = IsComparison(b.op);
  if (lhs.type == ValueType::kScalar && rhs.type == ValueType::kScalar) {
    Val out;
    out.type = ValueType::kScalar;
    out.series.resize(1);
    for (size_t i = 0; i < n; ++i) {
      bool keep;
      double v = ElemBinop(b.op, ScalarAt(lhs, i), ScalarAt(rhs, i), &keep);
      if (cmp) v = keep ? 1 : 0;
      out.series[0].points.push_back({Ts(i), v});
    }
    return out;
  }
  if (lhs.type == ValueType::kScalar || rhs.type == ValueType::kScalar) {
    bool scalar_left = lhs.type == ValueType::kScalar;
    Val& vec = scalar_left ? rhs : lhs;
    const Val& sc = scalar_left ? lhs : rhs;
    Val out;
    out.type = ValueType::kVector;
    for (auto& s : vec.series) {
      EvalSeries o;
      for (const auto& p : s.points) {
        size_t i = static_cast<size_t>((p.t - start_) / step_);
        double sv = ScalarAt(sc, i);
        double l = scalar_left ? sv : p.v, r = scalar_left ? p.v : sv;
        bool keep;
        double v = ElemBinop(b.op, l, r, &keep);
        if (cmp) {
          if (b.return_bool) {
            v = keep ? 1 : 0;
          } else if (!keep) {
            continue;
          } else {
            v = p.v;
          }
        }
        o.points.push_back({p.t, v});
      }
      if (o.points.empty()) continue;
      o.labels = std::move(s.labels);
      o.drop_name = s.drop_name || !cmp || b.return_bool;
      out.series.push_back(std::move(o));
    }
    return out;
  }
  return EvalVectorBinary(b, std::move(lhs), std::move(rhs));
}

Result<Val> Evaluator::EvalVectorBinary(const BinaryExpr& b, Val lhs, Val rhs) {
  const auto& m = b.matching;
  size_t n = NumSteps();
  Val out;
  out.type = ValueType::kVector;
  std::vector<std::string> lkeys, rkeys;
  for (const auto& s : lhs.series) lkeys.push_back(KeyOf(s.labels, m.matching_labels, m.on));
  for (const auto& s : rhs.series) rkeys.push_back(KeyOf(s.labels, m.matching_labels, m.on));

  if (IsSetOp(b.op)) {
    // Output series: lhs index i -> i, rhs index j -> lhs.size() + j.
    std::vector<EvalSeries> res(lhs.series.size() + rhs.series.size());
    std::vector<Cursor> lc(lhs.series.size()), rc(rhs.series.size());
    std::unordered_set<std::string> keys;
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = Ts(i);
      keys.clear();
      if (b.op == BinOp::kOr) {
        for (size_t k = 0; k < lhs.series.size(); ++k) {
          if (const Point* p = lc[k].At(lhs.series[k].points, ts)) {
            keys.insert(lkeys[k]);
            res[k].points.push_back(*p);
          }
        }
        for (size_t k = 0; k < rhs.series.size(); ++k) {
          if (const Point* p = rc[k].At(rhs.series[k].points, ts)) {
            if (!keys.count(rkeys[k])) res[lhs.series.size() + k].points.push_back(*p);
          }
        }
      } else {
        for (size_t k = 0; k < rhs.series.size(); ++k) {
          if (rc[k].At(rhs.series[k].points, ts)) keys.insert(rkeys[k]);
        }
        bool want = b.op == BinOp::kAnd;
        for (size_t k = 0; k < lhs.series.size(); ++k) {
          if (const Point* p = lc[k].At(lhs.series[k].points, ts)) {
            if ((keys.count(lkeys[k]) > 0) == want) res[k].points.push_back(*p);
          }
        }
      }
    }
    for (size_t k = 0; k < res.size(); ++k) {
      if (res[k].points.empty()) continue;
      auto& src = k < lhs.series.size() ? lhs.series[k] : rhs.series[k - lhs.series.size()];
      res[k].labels = std::move(src.labels);
      res[k].drop_name = src.drop_name;
      out.series.push_back(std::move(res[k]));
    }
    return out;
  }

  // Arithmetic/comparison with one-to-one, many-to-one or one-to-many matching.
  bool swap = m.card == Cardinality::kOneToMany;
  Val& many = swap ? rhs : lhs;  // the side whose labels the result keeps
  Val& one = swap ? lhs : rhs;
  auto& many_keys = swap ? rkeys : lkeys;
  auto& one_keys = swap ? lkeys : rkeys;
  bool cmp = IsComparison(b.op);
  bool arith_or_bool = !cmp || b.return_bool;
  std::vector<Cursor> mc(many.series.size()), oc(one.series.size());
  std::unordered_map<std::string, size_t> one_by_key;    // per step
  std::map<std::pair<size_t, size_t>, size_t> pair_out;  // (many, one) -> out index
  std::unordered_map<std::string, size_t> out_by_labels;
  std::vector<int64_t> last_written;                    // per out series: last step ts written
  std::unordered_map<std::string, size_t> matched_one;  // one-to-one: key -> many index at step
  for (size_t i = 0; i < n; ++i) {
    if ((i & 1023) == 0) KANSOKU_RETURN_IF_ERROR(Check());
    int64_t ts = Ts(i);
    one_by_key.clear();
    matched_one.clear();
    for (size_t k = 0; k < one.series.size(); ++k) {
      if (!oc[k].At(one.series[k].points, ts)) continue;
      auto [it, ins] = one_by_key.emplace(one_keys[k], k);
      if (!ins) {
        const auto& other = one.series[it->second].labels;
        return ExecError(
            "found duplicate series for the match group " +
            Labels::FromVector([&] {
              std::vector<Label> ls;
              for (const auto& l : one.series[k].labels) {
                bool in = m.on ? std::find(m.matching_labels.begin(), m.matching_labels.end(),
                                           l.name) != m.matching_labels.end()
                               : (l.name != tsdb::kMetricName &&
                                  std::find(m.matching_labels.begin(), m.matching_labels.end(),
                                            l.name) == m.matching_labels.end());
                if (in) ls.push_back(l);
              }
              return ls;
            }())
                .ToString() +
            " on the " + (swap ? "left" : "right") + " hand-side of the operation: [" +
            one.series[k].labels.ToString() + ", " + other.ToString() +
            "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
    }
    for (size_t k = 0; k < many.series.size(); ++k) {
      const Point* mp = mc[k].At(many.series[k].points, ts);
      if (mp == nullptr) continue;
      auto it = one_by_key.find(many_keys[k]);
      if (it == one_by_key.end()) continue;
      size_t ok = it->second;
      const Point* op = oc[ok].At(one.series[ok].points, ts);
      if (m.card == Cardinality::kOneToOne) {
        auto [mit, ins] = matched_one.emplace(many_keys[k], k);
        if (!ins) {
          return ExecError(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
      }
      double lv = swap ? op->v : mp->v, rv = swap ? mp->v : op->v;
      bool keep;
      double v = ElemBinop(b.op, lv, rv, &keep);
      if (cmp) {
        if (b.return_bool) {
          v = keep ? 1 : 0;
        } else if (!keep) {
          continue;
        }
      }
      auto key = std::make_pair(k, ok);
      auto pit = pair_out.find(key);
      size_t oi;
      if (pit == pair_out.end()) {
        // Result labels.
        const Labels& ml = many.series[k].labels;
        LabelsBuilder lb(ml);
        if (m.card == Cardinality::kOneToOne) {
          if (m.on) {
            std::vector<Label> keepl;
            for (const auto& l : ml) {
              if (std::find(m.matching_labels.begin(), m.matching_labels.end(), l.name) !=
                  m.matching_labels.end())
                keepl.push_back(l);
            }
            lb = LabelsBuilder(Labels::FromVector(keepl));
          } else {
            for (const auto& l : m.matching_labels) lb.Del(l);
          }
        }
        for (const auto& l : m.include) {
          std::string_view v2 = one.series[ok].labels.Get(l);
          if (!v2.empty()) {
            lb.Set(l, v2);
          } else {
            lb.Del(l);
          }
        }
        Labels result = lb.Build();
        bool drop = arith_or_bool || many.series[k].drop_name;
        if (m.card == Cardinality::kOneToOne && m.on && !arith_or_bool)
          drop = many.series[k].drop_name;
        std::string lk = LabelsKey(result) + (drop ? "\x01" : "\x00");
        auto [lit, lins] = out_by_labels.emplace(lk, out.series.size());
        if (lins) {
          EvalSeries s;
          s.labels = std::move(result);
          s.drop_name = drop;
          out.series.push_back(std::move(s));
          last_written.push_back(std::numeric_limits<int64_t>::min());
        }
        oi = lit->second;
        pair_out.emplace(key, oi);
      } else {
        oi = pit->second;
      }
      if (last_written[oi] == ts) {
        return ExecError("multiple matches for labels: grouping labels must ensure unique matches");
      }
      last_written[oi] = ts;
      out.series[oi].points.push_back({ts, v});
    }
  }
  std::vector<EvalSeries> kept;
  for (auto& s : out.series) {
    if (!s.points.empty()) kept.push_back(std::move(s));
  }
  out.series = std::move(kept);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Aggregations

Result<Val> Evaluator::EvalAggregate(const AggregateExpr& a) {
  size_t n = NumSteps();
  Val param;
  if (a.param) {
    KANSOKU_ASSIGN_OR_RETURN(param, Eval(*a.param));
  }
  KANSOKU_ASSIGN_OR_RETURN(Val in, Eval(*a.expr));
  // Group key per input series.
  std::vector<size_t> group_of(in.series.size());
  std::vector<Labels> group_labels;
  std::vector<bool> group_drop;
  std::unordered_map<std::string, size_t> groups;
  bool by_name = !a.without && std::find(a.grouping.begin(), a.grouping.end(),
                                         std::string(tsdb::kMetricName)) != a.grouping.end();
  for (size_t k = 0; k < in.series.size(); ++k) {
    const Labels& ls = in.series[k].labels;
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
    group_of[k] = it->second;
    if (by_name && in.series[k].drop_name) group_drop[it->second] = true;
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
        return ExecError("limit_ratio is not supported");
      }
      if (pv >= 9.223372036854775807e18 || pv <= -9.223372036854775807e18) {
        return ExecError("Scalar value " + std::to_string(pv) + " overflows int64");
      }
      int64_t k = static_cast<int64_t>(pv);
      if (k < 1) continue;
      for (auto& mbr : members) mbr.clear();
      for (size_t s = 0; s < in.series.size(); ++s) {
        if (const Point* p = cur[s].At(in.series[s].points, ts))
          members[group_of[s]].push_back({p->v, s});
      }
      for (auto& mbr : members) {
        if (a.op != AggOp::kLimitk) {
          bool top = a.op == AggOp::kTopk;
          std::stable_sort(mbr.begin(), mbr.end(), [top](const auto& x, const auto& y) {
            if (std::isnan(x.first)) return false;
            if (std::isnan(y.first)) return true;
            return top ? x.first > y.first : x.first < y.first;
          });
        }
        size_t take = std::min(mbr.size(), static_cast<size_t>(k));
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

  struct Acc {
    double value = 0, c = 0, mean = 0, cmean = 0, count = 0;
    bool seen = false, incremental = false;
  };
  std::vector<Acc> acc(ng);
  std::vector<EvalSeries> res(ng);
  for (size_t i = 0; i < n; ++i) {
    if ((i & 1023) == 0) KANSOKU_RETURN_IF_ERROR(Check());
    int64_t ts = Ts(i);
    std::fill(acc.begin(), acc.end(), Acc{});
    for (size_t s = 0; s < in.series.size(); ++s) {
      const Point* p = cur[s].At(in.series[s].points, ts);
      if (p == nullptr) continue;
      Acc& g = acc[group_of[s]];
      double v = p->v;
      bool first = !g.seen;
      g.seen = true;
      g.count += 1;
      switch (a.op) {
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
    for (size_t g = 0; g < ng; ++g) {
      const Acc& x = acc[g];
      if (!x.seen) continue;
      double v = 0;
      switch (a.op) {
        case AggOp::kSum:
          v = std::isinf(x.value) ? x.value : x.value + x.c;
          break;
        case AggOp::kAvg:
          v = x.incremental ? x.mean + x.cmean
                            : (x.count == 1 ? x.value : (x.value + x.c) / x.count);
          break;
        case AggOp::kMin:
        case AggOp::kMax:
          v = x.value;
          break;
        case AggOp::kCount:
          v = x.count;
          break;
        case AggOp::kGroup:
          v = 1;
          break;
        case AggOp::kStdvar:
          v = (x.value + x.c) / x.count;
          break;
        case AggOp::kStddev:
          v = std::sqrt((x.value + x.c) / x.count);
          break;
        default:
          break;
      }
      res[g].points.push_back({ts, v});
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

// ---------------------------------------------------------------------------------------------
// Functions

Result<Val> Evaluator::EvalRangeFunction(const Call& c, int fn_id, const Expr& range_arg,
                                         const std::vector<const Val*>& params) {
  auto rf = static_cast<fn::RangeFn>(fn_id);
  KANSOKU_ASSIGN_OR_RETURN(RangeSource src, LoadRange(range_arg));
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
  std::vector<double> pv(params.size());
  bool absent = rf == fn::RangeFn::kAbsentOverTime;
  std::vector<bool> any_at_step(absent ? n : 0, false);
  for (auto& s : src.series) {
    KANSOKU_RETURN_IF_ERROR(Check());
    if ((fname == "rate" || fname == "increase") && !s.points.empty()) {
      std::string_view name = s.labels.MetricName();
      auto ends = [&](std::string_view suf) {
        return name.size() >= suf.size() && name.substr(name.size() - suf.size()) == suf;
      };
      if (!name.empty() && !ends("_total") && !ends("_sum") && !ends("_count") &&
          !ends("_bucket")) {
        st_->infos.insert(
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: \"" +
            std::string(name) + "\"");
      }
    }
    EvalSeries o;
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t eval_ts = Ts(i);
      int64_t ref = (src.has_at ? src.at : Ts(i)) - src.offset_ms;
      int64_t rstart = ref - src.range_ms;
      while (hi < s.points.size() && s.points[hi].t <= ref) ++hi;
      while (lo < hi && s.points[lo].t <= rstart) ++lo;
      if (lo >= hi) continue;
      if (absent) {
        any_at_step[i] = true;
        continue;
      }
      for (size_t k = 0; k < params.size(); ++k) pv[k] = ScalarAt(*params[k], i);
      fn::RangeWindow w{rstart, ref, eval_ts, static_cast<double>(src.range_ms) / 1000};
      auto v = fn::EvalRange(rf, std::span<const Point>(s.points.data() + lo, hi - lo), w, pv);
      if (v) o.points.push_back({Ts(i), *v});
    }
    if (o.points.empty()) continue;
    KANSOKU_RETURN_IF_ERROR(Account(static_cast<int64_t>(o.points.size())));
    o.labels = std::move(s.labels);
    o.drop_name = s.drop_name || !keeps_name;
    out.series.push_back(std::move(o));
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

// Rejects two series with equal labels that have a point at the same timestamp.
Status CheckNoDuplicates(const std::vector<EvalSeries>& series) {
  std::unordered_map<std::string, std::vector<size_t>> by;
  for (size_t i = 0; i < series.size(); ++i) by[LabelsKey(series[i].labels)].push_back(i);
  for (const auto& [k, idx] : by) {
    if (idx.size() < 2) continue;
    std::vector<int64_t> ts;
    for (size_t i : idx) {
      for (const auto& p : series[i].points) ts.push_back(p.t);
    }
    std::sort(ts.begin(), ts.end());
    if (std::adjacent_find(ts.begin(), ts.end()) != ts.end()) {
      return ExecError("vector cannot contain metrics with the same labelset");
    }
  }
  return Status::Ok();
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
  if (auto rf = fn::LookupRangeFn(name)) {
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
    for (const auto& p : param_vals) params.push_back(&p);
    return EvalRangeFunction(c, static_cast<int>(*rf), *range_arg, params);
  }
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
