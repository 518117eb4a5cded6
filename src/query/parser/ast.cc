#include "query/parser/ast.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace kansoku::query {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

std::string_view ValueTypeApiName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

std::string_view BinOpName(BinOp op) {
  static constexpr std::string_view kNames[] = {"+",     "-",   "*",  "/",     "%", "^",
                                                "atan2", "==",  "!=", ">",     "<", ">=",
                                                "<=",    "and", "or", "unless"};
  return kNames[static_cast<int>(op)];
}

bool IsComparison(BinOp op) { return op >= BinOp::kEql && op <= BinOp::kLte; }
bool IsSetOp(BinOp op) { return op >= BinOp::kAnd; }

namespace {
constexpr std::string_view kAggNames[] = {
    "sum",    "avg",  "min",     "max",      "count",        "group",  "stddev",
    "stdvar", "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"};

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}
}  // namespace

std::string_view AggOpName(AggOp op) { return kAggNames[static_cast<int>(op)]; }

std::optional<AggOp> LookupAggOp(std::string_view name) {
  for (size_t i = 0; i < std::size(kAggNames); ++i) {
    if (EqualFold(name, kAggNames[i])) return static_cast<AggOp>(i);
  }
  return std::nullopt;
}

bool AggOpHasParam(AggOp op) {
  return op == AggOp::kTopk || op == AggOp::kBottomk || op == AggOp::kQuantile ||
         op == AggOp::kCountValues || op == AggOp::kLimitk || op == AggOp::kLimitRatio;
}

const FunctionInfo* LookupFunction(std::string_view name) {
  using VT = ValueType;
  // One-letter aliases keep the signature table below one line per function.
  // NOLINTNEXTLINE(readability-identifier-naming)
  constexpr VT S = VT::kScalar, V = VT::kVector, M = VT::kMatrix, Str = VT::kString;
  static const auto* kFuncs = new std::unordered_map<std::string_view, FunctionInfo>([&] {
    std::vector<FunctionInfo> list = {
        {"abs", {V}},
        {"absent", {V}},
        {"absent_over_time", {M}},
        {"acos", {V}},
        {"acosh", {V}},
        {"asin", {V}},
        {"asinh", {V}},
        {"atan", {V}},
        {"atanh", {V}},
        {"avg_over_time", {M}},
        {"ceil", {V}},
        {"changes", {M}},
        {"clamp", {V, S, S}},
        {"clamp_max", {V, S}},
        {"clamp_min", {V, S}},
        {"cos", {V}},
        {"cosh", {V}},
        {"count_over_time", {M}},
        {"days_in_month", {V}, 1},
        {"day_of_month", {V}, 1},
        {"day_of_week", {V}, 1},
        {"day_of_year", {V}, 1},
        {"deg", {V}},
        {"delta", {M}},
        {"deriv", {M}},
        {"exp", {V}},
        {"floor", {V}},
        {"histogram_avg", {V}},
        {"histogram_count", {V}},
        {"histogram_fraction", {S, S, V}},
        {"histogram_quantile", {S, V}},
        {"histogram_quantiles", {V, Str, S}, -1},
        {"histogram_sum", {V}},
        {"histogram_stddev", {V}},
        {"histogram_stdvar", {V}},
        {"double_exponential_smoothing", {M, S, S}},
        {"hour", {V}, 1},
        {"idelta", {M}},
        {"increase", {M}},
        {"irate", {M}},
        {"label_replace", {V, Str, Str, Str, Str}},
        {"label_join", {V, Str, Str, Str}, -1},
        {"last_over_time", {M}},
        {"first_over_time", {M}},
        {"ln", {V}},
        {"log10", {V}},
        {"log2", {V}},
        {"mad_over_time", {M}},
        {"max_over_time", {M}},
        {"min_over_time", {M}},
        {"minute", {V}, 1},
        {"month", {V}, 1},
        {"pi", {}, 0, S},
        {"predict_linear", {M, S}},
        {"present_over_time", {M}},
        {"quantile_over_time", {S, M}},
        {"rad", {V}},
        {"rate", {M}},
        {"resets", {M}},
        {"round", {V, S}, 1},
        {"scalar", {V}, 0, S},
        {"sgn", {V}},
        {"sin", {V}},
        {"sinh", {V}},
        {"sort", {V}},
        {"sort_desc", {V}},
        {"sort_by_label", {V, Str}, -1},
        {"sort_by_label_desc", {V, Str}, -1},
        {"sqrt", {V}},
        {"stddev_over_time", {M}},
        {"stdvar_over_time", {M}},
        {"sum_over_time", {M}},
        {"tan", {V}},
        {"tanh", {V}},
        {"time", {}, 0, S},
        {"timestamp", {V}},
        {"vector", {S}},
        {"year", {V}, 1},
        {"step", {}, 0, S},
        {"range", {}, 0, S},
        {"start", {}, 0, S},
        {"end", {}, 0, S},
        {"min_of", {S, S}, 0, S},
        {"max_of", {S, S}, 0, S},
        {"ts_of_max_over_time", {M}},
        {"ts_of_min_over_time", {M}},
        {"ts_of_last_over_time", {M}},
        {"ts_of_first_over_time", {M}},
    };
    std::unordered_map<std::string_view, FunctionInfo> m;
    for (auto& f : list) m.emplace(f.name, f);
    return m;
  }());
  auto it = kFuncs->find(name);
  return it == kFuncs->end() ? nullptr : &it->second;
}

const Expr* UnwrapParens(const Expr* e) {
  while (e != nullptr && e->kind == ExprKind::kParen)
    e = static_cast<const ParenExpr*>(e)->expr.get();
  return e;
}

ValueType Expr::Type() const {
  switch (kind) {
    case ExprKind::kNumber:
      return ValueType::kScalar;
    case ExprKind::kString:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kParen:
      return static_cast<const ParenExpr*>(this)->expr->Type();
    case ExprKind::kUnary:
      return static_cast<const UnaryExpr*>(this)->expr->Type();
    case ExprKind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      if (b->lhs->Type() == ValueType::kScalar && b->rhs->Type() == ValueType::kScalar)
        return ValueType::kScalar;
      return ValueType::kVector;
    }
    case ExprKind::kAggregate:
      return ValueType::kVector;
    case ExprKind::kCall:
      return static_cast<const Call*>(this)->func->return_type;
  }
  return ValueType::kNone;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{365LL * 24 * 3600 * 1000, "y"},
                                    {7LL * 24 * 3600 * 1000, "w"},
                                    {24LL * 3600 * 1000, "d"},
                                    {3600LL * 1000, "h"},
                                    {60LL * 1000, "m"},
                                    {1000, "s"},
                                    {1, "ms"}};
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

namespace {

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  int exp10 = v == 0 ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(v))));
  if (std::strchr(buf, 'e') != nullptr && exp10 >= -4 && exp10 < 21) {
    std::snprintf(buf, sizeof buf, "%.*f", std::max(0, prec - 1 - exp10), v);
  }
  return buf;
}

std::string FormatMods(const TimeModifiers& m) {
  std::string out;
  switch (m.at) {
    case AtKind::kNone:
      break;
    case AtKind::kTimestamp: {
      char buf[64];
      std::snprintf(buf, sizeof buf, " @ %.3f", static_cast<double>(m.at_ms) / 1000.0);
      out += buf;
      break;
    }
    case AtKind::kStart:
      out += " @ start()";
      break;
    case AtKind::kEnd:
      out += " @ end()";
      break;
  }
  if (m.offset_ms != 0) out += " offset " + FormatDuration(m.offset_ms);
  return out;
}

std::string JoinLabels(const std::vector<std::string>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i) out += ", ";
    out += ls[i];
  }
  return out;
}

bool IsLegacyName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Names that cannot be a bare metric name (aggregators and keywords, any case).
bool IsKeyword(std::string_view name) {
  if (LookupAggOp(name)) return true;
  for (std::string_view kw : {"by", "without", "on", "ignoring", "group_left", "group_right",
                              "bool", "offset", "and", "or", "unless", "atan2", "inf", "nan"}) {
    if (EqualFold(name, kw)) return true;
  }
  return false;
}

// A label name as PromQL accepts it: bare if it is a legacy name and no keyword, else quoted.
std::string LabelNameString(std::string_view name) {
  return IsLegacyName(name, false) ? std::string(name) : QuoteString(name);
}

std::string MatcherString(const tsdb::Matcher& m) {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  return LabelNameString(m.name()) + std::string(kOps[static_cast<int>(m.type())]) +
         QuoteString(m.value());
}

std::string SelectorString(const VectorSelector& vs) {
  bool bare_name = !vs.name.empty() && IsLegacyName(vs.name, true) && !IsKeyword(vs.name);
  std::string out = bare_name ? vs.name : "";
  std::vector<std::string> ms;
  bool name_done = false;
  for (const auto& m : vs.matchers) {
    if (!name_done && m.name() == tsdb::kMetricName && m.type() == tsdb::MatchType::kEqual &&
        m.value() == vs.name && !vs.name.empty()) {
      name_done = true;
      if (!bare_name) ms.insert(ms.begin(), QuoteString(vs.name));
      continue;
    }
    ms.push_back(MatcherString(m));
  }
  if (!ms.empty() || out.empty()) out += "{" + JoinLabels(ms) + "}";
  return out;
}

std::string JoinLabelNames(const std::vector<std::string>& ls) {
  std::vector<std::string> q;
  q.reserve(ls.size());
  for (const auto& l : ls) q.push_back(LabelNameString(l));
  return JoinLabels(q);
}

}  // namespace

std::string Expr::String() const {
  switch (kind) {
    case ExprKind::kNumber:
      return FormatNumber(static_cast<const NumberLiteral*>(this)->value);
    case ExprKind::kString:
      return QuoteString(static_cast<const StringLiteral*>(this)->value);
    case ExprKind::kVectorSelector: {
      auto* vs = static_cast<const VectorSelector*>(this);
      return SelectorString(*vs) + FormatMods(vs->mods);
    }
    case ExprKind::kMatrixSelector: {
      auto* ms = static_cast<const MatrixSelector*>(this);
      return SelectorString(*ms->vs) + "[" + FormatDuration(ms->range_ms) + "]" +
             FormatMods(ms->vs->mods);
    }
    case ExprKind::kSubquery: {
      auto* sq = static_cast<const SubqueryExpr*>(this);
      return sq->expr->String() + "[" + FormatDuration(sq->range_ms) + ":" +
             (sq->step_ms ? FormatDuration(sq->step_ms) : "") + "]" + FormatMods(sq->mods);
    }
    case ExprKind::kParen:
      return "(" + static_cast<const ParenExpr*>(this)->expr->String() + ")";
    case ExprKind::kUnary: {
      auto* u = static_cast<const UnaryExpr*>(this);
      std::string inner = u->expr->String();
      // Unary plus changes nothing; over an operand printed with a leading '+' (a +Inf literal
      // heading a '^' chain: "+Inf ^ 2" parses as +(Inf ^ 2)) it is not printed again, or every
      // print and parse would add one more '+'.
      if (!u->negate && !inner.empty() && inner[0] == '+') return inner;
      return (u->negate ? "-" : "+") + inner;
    }
    case ExprKind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      std::string op(BinOpName(b->op));
      if (b->return_bool) op += " bool";
      if (b->has_matching) {
        const auto& m = b->matching;
        if (m.on || !m.matching_labels.empty()) {
          op += std::string(m.on ? " on" : " ignoring") + "(" + JoinLabelNames(m.matching_labels) +
                ")";
        }
        if (m.card == Cardinality::kManyToOne || m.card == Cardinality::kOneToMany) {
          op += m.card == Cardinality::kManyToOne ? " group_left" : " group_right";
          op += "(" + JoinLabelNames(m.include) + ")";
        }
      }
      return b->lhs->String() + " " + op + " " + b->rhs->String();
    }
    case ExprKind::kAggregate: {
      auto* a = static_cast<const AggregateExpr*>(this);
      std::string out(AggOpName(a->op));
      if (a->without || !a->grouping.empty() || a->has_grouping_clause) {
        out += std::string(a->without ? " without" : " by") + " (" + JoinLabelNames(a->grouping) +
               ") ";
      }
      out += "(";
      if (a->param) out += a->param->String() + ", ";
      out += a->expr->String() + ")";
      return out;
    }
    case ExprKind::kCall: {
      auto* c = static_cast<const Call*>(this);
      std::string out(c->func->name);
      out += "(";
      for (size_t i = 0; i < c->args.size(); ++i) {
        if (i) out += ", ";
        out += c->args[i]->String();
      }
      return out + ")";
    }
  }
  return "";
}

}  // namespace kansoku::query
