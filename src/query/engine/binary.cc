// Binary operators: scalar/scalar, vector/scalar and vector/vector with on/ignoring and
// group_left/group_right matching, set operators.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "query/engine/eval_util.h"
#include "query/functions/functions.h"

namespace kansoku::query::internal {

namespace fn = functions;
using tsdb::Label;
using tsdb::Labels;
using tsdb::LabelsBuilder;

namespace {

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

}  // namespace kansoku::query::internal
