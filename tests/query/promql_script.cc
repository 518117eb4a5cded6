#include "tests/query/promql_script.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "query/functions/functions.h"
#include "query/parser/lexer.h"
#include "query/parser/parser.h"

namespace kansoku::query::conformance {

int ScriptResult::Count(Outcome o) const {
  return static_cast<int>(std::count_if(evals.begin(), evals.end(),
                                        [o](const EvalResult& e) { return e.outcome == o; }));
}

namespace {

std::string Trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "5m", "10s53ms", "0", "300" (seconds) -> ms.
bool ParseTime(std::string_view s, int64_t* ms) {
  if (ParseDurationMs(s, ms)) return true;
  char* end = nullptr;
  std::string str(s);
  double v = std::strtod(str.c_str(), &end);
  if (end == str.c_str() || *end != '\0') return false;
  *ms = static_cast<int64_t>(std::llround(v * 1000));
  return true;
}

bool ParseFloat(std::string_view s, double* v) {
  std::string str(s);
  if (str == "stale") {
    *v = tsdb::StaleNaN();
    return true;
  }
  char* end = nullptr;
  *v = std::strtod(str.c_str(), &end);
  return end != str.c_str() && *end == '\0';
}

// Splits on whitespace, keeping {{...}} (which may contain spaces) as one token.
std::vector<std::string> SplitValues(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    int depth = 0;
    while (i < s.size() && (depth > 0 || !std::isspace(static_cast<unsigned char>(s[i])))) {
      if (s.substr(i, 2) == "{{") {
        ++depth;
        i += 2;
      } else if (s.substr(i, 2) == "}}" && depth > 0) {
        --depth;
        i += 2;
      } else {
        ++i;
      }
    }
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// One expanded value: nullopt = missing point.
using Values = std::vector<std::optional<double>>;

bool ExpandValue(const std::string& tok, Values* out, bool* histogram) {
  if (tok.find("{{") != std::string::npos) {
    *histogram = true;
    return true;
  }
  if (tok == "_") {
    out->push_back(std::nullopt);
    return true;
  }
  size_t x = tok.rfind('x');
  if (x == std::string::npos || x + 1 >= tok.size() ||
      !std::all_of(tok.begin() + static_cast<long>(x) + 1, tok.end(), ::isdigit)) {
    double v;
    if (!ParseFloat(tok, &v)) return false;
    out->push_back(v);
    return true;
  }
  int64_t n = std::atoll(tok.c_str() + x + 1);
  std::string head = tok.substr(0, x);
  if (head == "_") {
    for (int64_t i = 0; i < n; ++i) out->push_back(std::nullopt);
    return true;
  }
  // head is "a", "a+b" or "a-b"; a sign at 0 or after an exponent belongs to a number.
  size_t op = std::string::npos;
  for (size_t i = 1; i < head.size(); ++i) {
    if ((head[i] == '+' || head[i] == '-') && head[i - 1] != 'e' && head[i - 1] != 'E') {
      op = i;
      break;
    }
  }
  double a, b = 0;
  if (op == std::string::npos) {
    if (!ParseFloat(head, &a)) return false;
  } else {
    if (!ParseFloat(head.substr(0, op), &a) || !ParseFloat(head.substr(op + 1), &b)) return false;
    if (head[op] == '-') b = -b;
  }
  if (tsdb::IsStaleNaN(a)) {
    for (int64_t i = 0; i <= n; ++i) out->push_back(a);
    return true;
  }
  double cur = a;
  for (int64_t i = 0; i <= n; ++i) {
    out->push_back(cur);
    cur += b;
  }
  return true;
}

// Splits "metric{a="b"} 1 2 3" into the selector and the rest.
bool SplitSeriesLine(std::string_view line, std::string* sel, std::string* rest) {
  size_t i = 0;
  bool in_quote = false;
  char q = 0;
  int depth = 0;
  for (; i < line.size(); ++i) {
    char c = line[i];
    if (in_quote) {
      if (c == '\\') {
        ++i;
      } else if (c == q) {
        in_quote = false;
      }
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      in_quote = true;
      q = c;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
      if (depth == 0) {
        ++i;
        break;
      }
    } else if (std::isspace(static_cast<unsigned char>(c)) && depth == 0) {
      break;
    }
  }
  *sel = std::string(line.substr(0, i));
  *rest = i < line.size() ? std::string(line.substr(i)) : "";
  return !sel->empty();
}

bool ParseLabels(const std::string& sel, tsdb::Labels* out, std::string* err) {
  if (sel == "{}") {
    *out = tsdb::Labels();
    return true;
  }
  auto ms = ParseMetricSelector(sel);
  if (!ms.ok()) {
    *err = ms.status().message();
    return false;
  }
  std::vector<tsdb::Label> ls;
  for (const auto& m : *ms) {
    if (m.type() != tsdb::MatchType::kEqual) {
      *err = "series description must use = matchers";
      return false;
    }
    ls.push_back({m.name(), m.value()});
  }
  *out = tsdb::Labels::FromVector(std::move(ls));
  return true;
}

bool AlmostEqual(double a, double b) {
  constexpr double kEps = 1e-6;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  constexpr double kMinNormal = std::numeric_limits<double>::min();
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < kEps * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < kEps;
}

std::string FormatV(double v) { return functions::FormatFloatShortest(v); }

struct ExpectedSeries {
  tsdb::Labels labels;
  Values values;
};

struct EvalCmd {
  int line = 0;
  bool range = false;
  int64_t start = 0, end = 0, step = 0;
  std::string query;
  bool expect_fail = false;
  std::string fail_msg;
  bool fail_is_regex = false;
  bool ordered = false;
  bool expect_warn = false, expect_no_warn = false, expect_info = false, expect_no_info = false;
  std::vector<std::string> warn_msgs, info_msgs;  // exact texts required by `expect warn msg:`
  std::optional<std::string> expect_string;
  bool expect_range_vector = false;
  int64_t rv_start = 0, rv_end = 0, rv_step = 0;
  std::optional<double> expect_scalar;
  std::vector<ExpectedSeries> series;
  bool has_histogram = false;
  std::string parse_error;
};

class Runner {
 public:
  Runner(const StorageFactory& f, const Engine& e) : factory_(f), engine_(e) {
    store_ = factory_();
  }

  ScriptResult Run(const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream ss(text);
    std::string l;
    while (std::getline(ss, l)) lines.push_back(l);
    ScriptResult res;
    size_t i = 0;
    while (i < lines.size()) {
      std::string t = Trim(lines[i]);
      if (t.empty() || t[0] == '#') {
        ++i;
        continue;
      }
      // Block: command line plus following indented lines.
      size_t j = i + 1;
      std::vector<std::pair<int, std::string>> body;
      while (j < lines.size()) {
        const std::string& bl = lines[j];
        std::string bt = Trim(bl);
        if (bt.empty()) break;
        if (!std::isspace(static_cast<unsigned char>(bl[0]))) break;
        if (bt[0] != '#') body.push_back({static_cast<int>(j + 1), bt});
        ++j;
      }
      int lineno = static_cast<int>(i + 1);
      if (t == "clear") {
        store_ = factory_();
        native_series_.clear();
      } else if (StartsWith(t, "load")) {
        std::string err = Load(t, body);
        if (!err.empty()) {
          res.error = "line " + std::to_string(lineno) + ": " + err;
          return res;
        }
      } else if (StartsWith(t, "eval")) {
        res.evals.push_back(Eval(lineno, t, body));
      } else if (StartsWith(t, "ignore") || StartsWith(t, "resume")) {
        // Prometheus' ignore/resume: not used by the conformance files we run.
      } else {
        res.error = "line " + std::to_string(lineno) + ": unknown command: " + t;
        return res;
      }
      i = j;
    }
    return res;
  }

 private:
  std::string Load(const std::string& cmd, const std::vector<std::pair<int, std::string>>& body) {
    std::istringstream cs(cmd);
    std::string word, interval_s;
    cs >> word >> interval_s;
    bool nhcb = word == "load_with_nhcb";
    int64_t interval;
    if (!ParseTime(interval_s, &interval)) return "bad load interval: " + interval_s;
    // A script may list a series twice; as in Prometheus the later value for a timestamp wins.
    std::map<tsdb::Labels, std::map<int64_t, double>> samples;
    for (const auto& [ln, line] : body) {
      std::string sel, rest;
      if (!SplitSeriesLine(line, &sel, &rest)) return "bad series line " + std::to_string(ln);
      tsdb::Labels labels;
      std::string err;
      if (!ParseLabels(sel, &labels, &err)) return "line " + std::to_string(ln) + ": " + err;
      Values vals;
      bool hist = false;
      for (const auto& tok : SplitValues(rest)) {
        if (!ExpandValue(tok, &vals, &hist))
          return "line " + std::to_string(ln) + ": bad value " + tok;
      }
      std::string name(labels.MetricName());
      if (hist) {
        native_series_.push_back(labels);
        continue;
      }
      if (nhcb) {
        for (std::string_view suf : {"_bucket", "_count", "_sum"}) {
          if (name.size() > suf.size() && name.substr(name.size() - suf.size()) == suf) {
            native_series_.push_back(
                tsdb::LabelsBuilder(labels)
                    .Set(tsdb::kMetricName, name.substr(0, name.size() - suf.size()))
                    .Del("le")
                    .Build());
          }
        }
      }
      for (size_t k = 0; k < vals.size(); ++k) {
        if (vals[k]) samples[labels][static_cast<int64_t>(k) * interval] = *vals[k];
      }
    }
    auto app = store_->appendable().NewAppender();
    for (const auto& [labels, points] : samples) {
      for (const auto& [t, v] : points) {
        Status s = app->Append(labels, t, v);
        if (!s.ok()) return s.message();
      }
    }
    Status s = app->Commit();
    return s.ok() ? "" : s.message();
  }

  bool ParseEvalCmd(int lineno, const std::string& t,
                    const std::vector<std::pair<int, std::string>>& body, EvalCmd* c) {
    c->line = lineno;
    std::string rest;
    std::string word = t.substr(0, t.find(' '));
    rest = Trim(t.substr(word.size()));
    if (word == "eval_fail") c->expect_fail = true;
    if (word == "eval_ordered") c->ordered = true;
    if (word == "eval_warn") c->expect_warn = true;
    if (word == "eval_info") c->expect_info = true;
    static const RE2 kInstant(R"(instant\s+at\s+(\S+)\s+(.+))");
    static const RE2 kRange(R"(range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+))");
    std::string a, b, s, q;
    if (RE2::FullMatch(rest, kInstant, &a, &q)) {
      if (!ParseTime(a, &c->start)) {
        c->parse_error = "bad time " + a;
        return false;
      }
      c->end = c->start;
    } else if (RE2::FullMatch(rest, kRange, &a, &b, &s, &q)) {
      c->range = true;
      if (!ParseTime(a, &c->start) || !ParseTime(b, &c->end) || !ParseTime(s, &c->step)) {
        c->parse_error = "bad range times";
        return false;
      }
    } else {
      c->parse_error = "cannot parse eval command";
      return false;
    }
    c->query = q;
    for (const auto& [ln, line] : body) {
      if (StartsWith(line, "expect ")) {
        std::string e = Trim(line.substr(7));
        if (StartsWith(e, "fail")) {
          c->expect_fail = true;
          std::string r = Trim(e.substr(4));
          if (StartsWith(r, "msg:")) {
            c->fail_msg = Trim(r.substr(4));
          } else if (StartsWith(r, "regex:")) {
            c->fail_msg = Trim(r.substr(6));
            c->fail_is_regex = true;
          }
        } else if (e == "ordered") {
          c->ordered = true;
        } else if (StartsWith(e, "no_warn")) {
          c->expect_no_warn = true;
        } else if (StartsWith(e, "no_info")) {
          c->expect_no_info = true;
        } else if (StartsWith(e, "warn")) {
          c->expect_warn = true;
          std::string r = Trim(e.substr(4));
          if (StartsWith(r, "msg:")) c->warn_msgs.push_back(Trim(r.substr(4)));
        } else if (StartsWith(e, "info")) {
          c->expect_info = true;
          std::string r = Trim(e.substr(4));
          if (StartsWith(r, "msg:")) c->info_msgs.push_back(Trim(r.substr(4)));
        } else if (StartsWith(e, "string")) {
          std::string lit = Trim(e.substr(6)), out, err;
          if (!UnquoteString(lit, &out, &err)) {
            c->parse_error = "bad expected string";
            return false;
          }
          c->expect_string = out;
        } else if (StartsWith(e, "range vector")) {
          static const RE2 kRv(R"(range vector from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+))");
          if (!RE2::FullMatch(e, kRv, &a, &b, &s) || !ParseTime(a, &c->rv_start) ||
              !ParseTime(b, &c->rv_end) || !ParseTime(s, &c->rv_step)) {
            c->parse_error = "bad range vector expectation";
            return false;
          }
          c->expect_range_vector = true;
        } else {
          c->parse_error = "unknown expectation: " + e;
          return false;
        }
        continue;
      }
      // A result line: a bare number (scalar) or series + values.
      double v;
      if (ParseFloat(line, &v) && line.find('{') == std::string::npos) {
        c->expect_scalar = v;
        continue;
      }
      std::string sel, vals;
      if (StartsWith(line, "{{")) {
        c->has_histogram = true;
        continue;
      }
      if (!SplitSeriesLine(line, &sel, &vals)) {
        c->parse_error = "bad result line " + std::to_string(ln);
        return false;
      }
      ExpectedSeries es;
      std::string err;
      if (!ParseLabels(sel, &es.labels, &err)) {
        c->parse_error = "line " + std::to_string(ln) + ": " + err;
        return false;
      }
      bool hist = false;
      for (const auto& tok : SplitValues(vals)) {
        if (!ExpandValue(tok, &es.values, &hist)) {
          c->parse_error = "line " + std::to_string(ln) + ": bad value " + tok;
          return false;
        }
      }
      if (hist) c->has_histogram = true;
      c->series.push_back(std::move(es));
    }
    return true;
  }

  // True if a selector in the query matches a series loaded as a native histogram.
  bool QueryReadsNative(const std::string& q) const {
    if (native_series_.empty()) return false;
    auto expr = ParseExpr(q);
    if (!expr.ok()) return false;
    return ReadsNative(**expr);
  }
  bool ReadsNative(const Expr& e) const {
    auto matches = [&](const VectorSelector& vs) {
      for (const auto& ls : native_series_) {
        bool all = true;
        for (const auto& m : vs.matchers) {
          if (!m.Matches(ls.Get(m.name()))) {
            all = false;
            break;
          }
        }
        if (all) return true;
      }
      return false;
    };
    switch (e.kind) {
      case ExprKind::kVectorSelector:
        return matches(static_cast<const VectorSelector&>(e));
      case ExprKind::kMatrixSelector:
        return matches(*static_cast<const MatrixSelector&>(e).vs);
      case ExprKind::kSubquery:
        return ReadsNative(*static_cast<const SubqueryExpr&>(e).expr);
      case ExprKind::kParen:
        return ReadsNative(*static_cast<const ParenExpr&>(e).expr);
      case ExprKind::kUnary:
        return ReadsNative(*static_cast<const UnaryExpr&>(e).expr);
      case ExprKind::kBinary:
        return ReadsNative(*static_cast<const BinaryExpr&>(e).lhs) ||
               ReadsNative(*static_cast<const BinaryExpr&>(e).rhs);
      case ExprKind::kAggregate:
        return ReadsNative(*static_cast<const AggregateExpr&>(e).expr);
      case ExprKind::kCall:
        for (const auto& a : static_cast<const Call&>(e).args) {
          if (ReadsNative(*a)) return true;
        }
        return false;
      default:
        return false;
    }
  }

  EvalResult Eval(int lineno, const std::string& t,
                  const std::vector<std::pair<int, std::string>>& body) {
    EvalResult r;
    r.line = lineno;
    EvalCmd c;
    if (!ParseEvalCmd(lineno, t, body, &c)) {
      r.outcome = Outcome::kFail;
      r.message = "cannot parse test: " + c.parse_error;
      return r;
    }
    r.query = c.query;
    if (c.has_histogram) {
      r.outcome = Outcome::kSkip;
      r.message = "native histogram expectation";
      return r;
    }
    if (QueryReadsNative(c.query)) {
      r.outcome = Outcome::kSkip;
      r.message = "query reads native histogram data";
      return r;
    }
    QueryResult qr = c.range
                         ? engine_.QueryRange(store_->queryable(), c.query, c.start, c.end, c.step)
                         : engine_.Query(store_->queryable(), c.query, c.start);
    r.outcome = Outcome::kFail;
    if (c.expect_fail) {
      if (qr.ok()) {
        r.message = "expected failure, got success";
        return r;
      }
      if (!c.fail_msg.empty()) {
        bool match =
            c.fail_is_regex ? RE2::PartialMatch(qr.error, RE2(c.fail_msg)) : qr.error == c.fail_msg;
        if (!match) {
          r.message = "expected error \"" + c.fail_msg + "\", got \"" + qr.error + "\"";
          return r;
        }
      }
      r.outcome = Outcome::kPass;
      return r;
    }
    if (!qr.ok()) {
      r.message = "unexpected error: " + qr.error;
      return r;
    }
    if (c.expect_warn && qr.warnings.empty()) {
      r.message = "expected a warning, got none";
      return r;
    }
    if (c.expect_no_warn && !qr.warnings.empty()) {
      r.message = "expected no warning, got: " + qr.warnings[0];
      return r;
    }
    for (const auto& m : c.warn_msgs) {
      if (std::find(qr.warnings.begin(), qr.warnings.end(), m) == qr.warnings.end()) {
        r.message = "expected warning \"" + m + "\"" +
                    (qr.warnings.empty() ? "" : ", got \"" + qr.warnings[0] + "\"");
        return r;
      }
    }
    for (const auto& m : c.info_msgs) {
      if (std::find(qr.infos.begin(), qr.infos.end(), m) == qr.infos.end()) {
        r.message = "expected info \"" + m + "\"" +
                    (qr.infos.empty() ? "" : ", got \"" + qr.infos[0] + "\"");
        return r;
      }
    }
    if (c.expect_info && qr.infos.empty()) {
      r.message = "expected an info annotation, got none";
      return r;
    }
    if (c.expect_no_info && !qr.infos.empty()) {
      r.message = "expected no info annotation, got: " + qr.infos[0];
      return r;
    }
    std::string err = Compare(c, qr);
    if (!err.empty()) {
      r.message = err;
      return r;
    }
    err = CheckRangeConsistency(c, qr);
    if (!err.empty()) {
      r.message = err;
      return r;
    }
    r.outcome = Outcome::kPass;
    return r;
  }

  // As Prometheus' test runner does: an instant query's result must equal the last step of the
  // same query run as a range query ending at the same time (exercises the range code path).
  std::string CheckRangeConsistency(const EvalCmd& c, const QueryResult& instant) const {
    if (c.range || (instant.type != ValueType::kVector && instant.type != ValueType::kScalar))
      return "";
    for (const char* kw : {"@", "start()", "end()", "range()", "step()"}) {
      if (c.query.find(kw) != std::string::npos) return "";
    }
    QueryResult rr =
        engine_.QueryRange(store_->queryable(), c.query, c.start - 60'000, c.start, 60'000);
    if (!rr.ok()) return "range-query form failed: " + rr.error;
    std::map<std::string, double> got;
    for (const auto& s : rr.matrix) {
      if (!s.points.empty() && s.points.back().t == c.start)
        got[s.labels.ToString()] = s.points.back().v;
    }
    std::map<std::string, double> want;
    if (instant.type == ValueType::kScalar) {
      want["{}"] = instant.scalar;
    } else {
      for (const auto& s : instant.vector) want[s.labels.ToString()] = s.v;
    }
    if (got.size() != want.size()) {
      return "range-query form returned " + std::to_string(got.size()) +
             " series at the end, instant " + std::to_string(want.size());
    }
    for (const auto& [k, v] : want) {
      auto it = got.find(k);
      if (it == got.end()) return "range-query form lacks " + k;
      if (!AlmostEqual(it->second, v)) return "range-query form differs for " + k;
    }
    return "";
  }

  static std::string Compare(const EvalCmd& c, const QueryResult& qr) {
    if (c.expect_string) {
      if (qr.type != ValueType::kString)
        return "expected string, got " + std::string(ValueTypeApiName(qr.type));
      if (qr.str != *c.expect_string)
        return "expected string \"" + *c.expect_string + "\", got \"" + qr.str + "\"";
      return "";
    }
    if (c.expect_scalar) {
      double got;
      if (qr.type == ValueType::kScalar) {
        got = qr.scalar;
      } else if (qr.type == ValueType::kMatrix && c.range && qr.matrix.size() == 1 &&
                 qr.matrix[0].labels.empty() && !qr.matrix[0].points.empty()) {
        got = qr.matrix[0].points[0].v;
      } else {
        return "expected scalar, got " + std::string(ValueTypeApiName(qr.type));
      }
      if (!AlmostEqual(got, *c.expect_scalar)) {
        return "expected scalar " + FormatV(*c.expect_scalar) + ", got " + FormatV(got);
      }
      return "";
    }
    if (!c.range && !c.expect_range_vector) {
      if (qr.type == ValueType::kScalar) {
        return "expected vector, got scalar " + FormatV(qr.scalar);
      }
      if (qr.type != ValueType::kVector)
        return "expected vector, got " + std::string(ValueTypeApiName(qr.type));
      if (qr.vector.size() != c.series.size()) {
        std::string got;
        for (const auto& s : qr.vector) got += " " + s.labels.ToString() + "=" + FormatV(s.v);
        return "expected " + std::to_string(c.series.size()) + " samples, got " +
               std::to_string(qr.vector.size()) + ":" + got;
      }
      for (size_t k = 0; k < c.series.size(); ++k) {
        const auto& es = c.series[k];
        auto it = std::find_if(qr.vector.begin(), qr.vector.end(),
                               [&](const Sample& s) { return s.labels == es.labels; });
        if (it == qr.vector.end()) return "missing series " + es.labels.ToString();
        if (c.ordered && static_cast<size_t>(it - qr.vector.begin()) != k) {
          return "series " + es.labels.ToString() + " at position " +
                 std::to_string(it - qr.vector.begin()) + ", expected " + std::to_string(k);
        }
        if (es.values.size() != 1 || !es.values[0])
          return "bad expected value for " + es.labels.ToString();
        if (!AlmostEqual(it->v, *es.values[0])) {
          return "series " + es.labels.ToString() + ": expected " + FormatV(*es.values[0]) +
                 ", got " + FormatV(it->v);
        }
      }
      return "";
    }
    // Matrix (range query or range-vector instant query).
    if (qr.type != ValueType::kMatrix)
      return "expected matrix, got " + std::string(ValueTypeApiName(qr.type));
    int64_t start = c.expect_range_vector ? c.rv_start : c.start;
    int64_t step = c.expect_range_vector ? c.rv_step : c.step;
    std::vector<const Series*> got;
    for (const auto& s : qr.matrix) {
      if (!s.points.empty()) got.push_back(&s);
    }
    if (got.size() != c.series.size()) {
      std::string g;
      for (const auto* s : got) g += " " + s->labels.ToString();
      return "expected " + std::to_string(c.series.size()) + " series, got " +
             std::to_string(got.size()) + ":" + g;
    }
    for (const auto& es : c.series) {
      auto it = std::find_if(got.begin(), got.end(),
                             [&](const Series* s) { return s->labels == es.labels; });
      if (it == got.end()) return "missing series " + es.labels.ToString();
      std::vector<Point> want;
      for (size_t k = 0; k < es.values.size(); ++k) {
        if (es.values[k]) want.push_back({start + static_cast<int64_t>(k) * step, *es.values[k]});
      }
      const auto& pts = (*it)->points;
      if (pts.size() != want.size()) {
        std::string g;
        for (const auto& p : pts) g += " " + FormatV(p.v) + "@" + std::to_string(p.t);
        return "series " + es.labels.ToString() + ": expected " + std::to_string(want.size()) +
               " points, got " + std::to_string(pts.size()) + ":" + g;
      }
      for (size_t k = 0; k < want.size(); ++k) {
        if (pts[k].t != want[k].t || !AlmostEqual(pts[k].v, want[k].v)) {
          return "series " + es.labels.ToString() + ": expected " + FormatV(want[k].v) + "@" +
                 std::to_string(want[k].t) + ", got " + FormatV(pts[k].v) + "@" +
                 std::to_string(pts[k].t);
        }
      }
    }
    return "";
  }

  const StorageFactory& factory_;
  const Engine& engine_;
  std::unique_ptr<TestStorage> store_;
  std::vector<tsdb::Labels> native_series_;  // loaded as native histograms (not stored)
};

}  // namespace

ScriptResult RunScript(const std::string& text, const StorageFactory& factory,
                       const Engine& engine) {
  Runner r(factory, engine);
  return r.Run(text);
}

}  // namespace kansoku::query::conformance
