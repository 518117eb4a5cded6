#include "query/functions/functions.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace kansoku::query::functions {

std::optional<RangeFn> LookupRangeFn(std::string_view name) {
  static const std::unordered_map<std::string_view, RangeFn> kFns = {
      {"rate", RangeFn::kRate},
      {"increase", RangeFn::kIncrease},
      {"delta", RangeFn::kDelta},
      {"irate", RangeFn::kIrate},
      {"idelta", RangeFn::kIdelta},
      {"deriv", RangeFn::kDeriv},
      {"predict_linear", RangeFn::kPredictLinear},
      {"changes", RangeFn::kChanges},
      {"resets", RangeFn::kResets},
      {"avg_over_time", RangeFn::kAvgOverTime},
      {"sum_over_time", RangeFn::kSumOverTime},
      {"count_over_time", RangeFn::kCountOverTime},
      {"min_over_time", RangeFn::kMinOverTime},
      {"max_over_time", RangeFn::kMaxOverTime},
      {"last_over_time", RangeFn::kLastOverTime},
      {"first_over_time", RangeFn::kFirstOverTime},
      {"present_over_time", RangeFn::kPresentOverTime},
      {"quantile_over_time", RangeFn::kQuantileOverTime},
      {"stddev_over_time", RangeFn::kStddevOverTime},
      {"stdvar_over_time", RangeFn::kStdvarOverTime},
      {"mad_over_time", RangeFn::kMadOverTime},
      {"double_exponential_smoothing", RangeFn::kDoubleExponentialSmoothing},
      {"ts_of_max_over_time", RangeFn::kTsOfMaxOverTime},
      {"ts_of_min_over_time", RangeFn::kTsOfMinOverTime},
      {"ts_of_last_over_time", RangeFn::kTsOfLastOverTime},
      {"ts_of_first_over_time", RangeFn::kTsOfFirstOverTime},
      {"absent_over_time", RangeFn::kAbsentOverTime},
  };
  auto it = kFns.find(name);
  if (it == kFns.end()) return std::nullopt;
  return it->second;
}

bool RangeFnKeepsName(RangeFn fn) {
  return fn == RangeFn::kLastOverTime || fn == RangeFn::kFirstOverTime;
}

namespace {

// Least squares fit; x is (t - intercept_time) in seconds.
void LinearRegression(std::span<const Point> s, int64_t intercept_time, double* slope,
                      double* intercept) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  double init_y = s.front().v;
  bool const_y = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (const_y && i > 0 && s[i].v != init_y) const_y = false;
    n += 1;
    double x = static_cast<double>(s[i].t - intercept_time) / 1e3;
    sum_x = KahanSumInc(x, sum_x, &c_x);
    sum_y = KahanSumInc(s[i].v, sum_y, &c_y);
    sum_xy = KahanSumInc(x * s[i].v, sum_xy, &c_xy);
    sum_x2 = KahanSumInc(x * x, sum_x2, &c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = *intercept = std::nan("");
    } else {
      *slope = 0;
      *intercept = init_y;
    }
    return;
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  *slope = cov_xy / var_x;
  *intercept = sum_y / n - *slope * sum_x / n;
}

double Variance(std::span<const Point> s) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const auto& p : s) {
    count++;
    double delta = p.v - (mean + c_mean);
    mean = KahanSumInc(delta / count, mean, &c_mean);
    aux = KahanSumInc(delta * (p.v - (mean + c_mean)), aux, &c_aux);
  }
  return (aux + c_aux) / count;
}

}  // namespace

std::optional<double> EvalRange(RangeFn fn, std::span<const Point> s, const RangeWindow& w,
                                std::span<const double> params) {
  if (s.empty()) return std::nullopt;
  switch (fn) {
    case RangeFn::kRate:
      return ExtrapolatedRate(s, w, true, true);
    case RangeFn::kIncrease:
      return ExtrapolatedRate(s, w, true, false);
    case RangeFn::kDelta:
      return ExtrapolatedRate(s, w, false, false);
    case RangeFn::kIrate:
    case RangeFn::kIdelta: {
      if (s.size() < 2) return std::nullopt;
      const Point& last = s[s.size() - 1];
      const Point& prev = s[s.size() - 2];
      bool is_rate = fn == RangeFn::kIrate;
      double r = (is_rate && last.v < prev.v) ? last.v : last.v - prev.v;
      int64_t dt = last.t - prev.t;
      if (dt == 0) return std::nullopt;
      if (is_rate) r /= static_cast<double>(dt) / 1000;
      return r;
    }
    case RangeFn::kDeriv: {
      if (s.size() < 2) return std::nullopt;
      double slope, icpt;
      LinearRegression(s, s.front().t, &slope, &icpt);
      return slope;
    }
    case RangeFn::kPredictLinear: {
      if (s.size() < 2) return std::nullopt;
      double slope, icpt;
      LinearRegression(s, w.eval_ts, &slope, &icpt);
      return slope * params[0] + icpt;
    }
    case RangeFn::kChanges: {
      double n = 0, prev = s.front().v;
      for (size_t i = 1; i < s.size(); ++i) {
        double cur = s[i].v;
        if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) n++;
        prev = cur;
      }
      return n;
    }
    case RangeFn::kResets: {
      double n = 0, prev = s.front().v;
      for (size_t i = 1; i < s.size(); ++i) {
        if (s[i].v < prev) n++;
        prev = s[i].v;
      }
      return n;
    }
    case RangeFn::kAvgOverTime: {
      double sum = s.front().v, count = 1, mean = 0, c = 0;
      bool incremental = false;
      for (size_t i = 1; i < s.size(); ++i) {
        count = static_cast<double>(i + 1);
        if (!incremental) {
          double nc = c;
          double ns = KahanSumInc(s[i].v, sum, &nc);
          if (!std::isinf(ns)) {
            sum = ns;
            c = nc;
            continue;
          }
          incremental = true;
          mean = sum / (count - 1);
          c /= (count - 1);
        }
        double q = (count - 1) / count;
        double qc = q * c;
        mean = KahanSumInc(s[i].v / count, q * mean, &qc);
        c = qc;
      }
      if (incremental) return mean + c;
      return (sum + c) / count;
    }
    case RangeFn::kSumOverTime: {
      double sum = 0, c = 0;
      for (const auto& p : s) sum = KahanSumInc(p.v, sum, &c);
      if (std::isinf(sum)) return sum;
      return sum + c;
    }
    case RangeFn::kCountOverTime:
      return static_cast<double>(s.size());
    case RangeFn::kMinOverTime:
    case RangeFn::kMaxOverTime: {
      double m = s.front().v;
      for (const auto& p : s) {
        bool better = fn == RangeFn::kMinOverTime ? p.v < m : p.v > m;
        if (better || std::isnan(m)) m = p.v;
      }
      return m;
    }
    case RangeFn::kLastOverTime:
      return s.back().v;
    case RangeFn::kFirstOverTime:
      return s.front().v;
    case RangeFn::kPresentOverTime:
    case RangeFn::kAbsentOverTime:
      return 1.0;
    case RangeFn::kQuantileOverTime: {
      std::vector<double> vals;
      vals.reserve(s.size());
      for (const auto& p : s) vals.push_back(p.v);
      return Quantile(params[0], std::move(vals));
    }
    case RangeFn::kStddevOverTime:
      return std::sqrt(Variance(s));
    case RangeFn::kStdvarOverTime:
      return Variance(s);
    case RangeFn::kMadOverTime: {
      std::vector<double> vals;
      for (const auto& p : s) {
        if (std::isnan(p.v)) return std::nan("");
        vals.push_back(p.v);
      }
      double median = Quantile(0.5, vals);
      for (auto& v : vals) v = std::fabs(v - median);
      return Quantile(0.5, std::move(vals));
    }
    case RangeFn::kDoubleExponentialSmoothing: {
      if (s.size() < 2) return std::nullopt;
      double sf = params[0], tf = params[1];
      double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
      for (size_t i = 1; i < s.size(); ++i) {
        double x = sf * s[i].v;
        if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
      }
      return s1;
    }
    case RangeFn::kTsOfMaxOverTime:
    case RangeFn::kTsOfMinOverTime: {
      double m = s.front().v;
      int64_t t = s.front().t;
      for (const auto& p : s) {
        bool better = fn == RangeFn::kTsOfMinOverTime ? p.v <= m : p.v >= m;
        if (better || std::isnan(m)) {
          m = p.v;
          t = p.t;
        }
      }
      return static_cast<double>(t) / 1000;
    }
    case RangeFn::kTsOfLastOverTime:
      return static_cast<double>(s.back().t) / 1000;
    case RangeFn::kTsOfFirstOverTime:
      return static_cast<double>(s.front().t) / 1000;
  }
  return std::nullopt;
}

namespace {
double Sgn(double v) {
  if (v > 0) return 1;
  if (v < 0) return -1;
  return v;  // 0, -0 or NaN
}
using MathFn = double (*)(double);
const std::unordered_map<std::string_view, MathFn>& MathFns() {
  static const auto* kFns = new std::unordered_map<std::string_view, MathFn>{
      {"abs", [](double v) { return std::fabs(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
      {"floor", [](double v) { return std::floor(v); }},
      {"exp", [](double v) { return std::exp(v); }},
      {"sqrt", [](double v) { return std::sqrt(v); }},
      {"ln", [](double v) { return std::log(v); }},
      {"log2", [](double v) { return std::log2(v); }},
      {"log10", [](double v) { return std::log10(v); }},
      {"sgn", Sgn},
      {"sin", [](double v) { return std::sin(v); }},
      {"cos", [](double v) { return std::cos(v); }},
      {"tan", [](double v) { return std::tan(v); }},
      {"asin", [](double v) { return std::asin(v); }},
      {"acos", [](double v) { return std::acos(v); }},
      {"atan", [](double v) { return std::atan(v); }},
      {"sinh", [](double v) { return std::sinh(v); }},
      {"cosh", [](double v) { return std::cosh(v); }},
      {"tanh", [](double v) { return std::tanh(v); }},
      {"asinh", [](double v) { return std::asinh(v); }},
      {"acosh", [](double v) { return std::acosh(v); }},
      {"atanh", [](double v) { return std::atanh(v); }},
      {"deg", [](double v) { return v * 180 / M_PI; }},
      {"rad", [](double v) { return v * M_PI / 180; }},
  };
  return *kFns;
}
}  // namespace

bool IsMathFunction(std::string_view name) { return MathFns().count(name) > 0; }

std::optional<double> ApplyMath(std::string_view name, double v) {
  auto it = MathFns().find(name);
  if (it == MathFns().end()) return std::nullopt;
  return it->second(v);
}

bool IsDateFunction(std::string_view name) {
  return name == "minute" || name == "hour" || name == "month" || name == "year" ||
         name == "day_of_month" || name == "day_of_week" || name == "day_of_year" ||
         name == "days_in_month";
}

namespace {
// Howard Hinnant's civil_from_days.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}
bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
}  // namespace

double ApplyDate(std::string_view name, double unix_seconds) {
  if (std::isnan(unix_seconds) || std::isinf(unix_seconds)) return unix_seconds;
  if (std::fabs(unix_seconds) > 1e17) return std::nan("");  // beyond any calendar we model
  int64_t secs = static_cast<int64_t>(unix_seconds);
  int64_t days = secs / 86400;
  if (secs % 86400 < 0) --days;
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (name == "minute") return static_cast<double>((sod / 60) % 60);
  if (name == "hour") {
    const int64_t hour = sod / 3600;
    return static_cast<double>(hour);
  }
  if (name == "month") return m;
  if (name == "year") return static_cast<double>(y);
  if (name == "day_of_month") return d;
  if (name == "day_of_week")
    return static_cast<double>(((days % 7) + 11) % 7);  // 1970-01-01 was Thursday
  if (name == "days_in_month") return (m == 2 && IsLeap(y)) ? 29 : kDays[m - 1];
  if (name == "day_of_year") {
    int doy = static_cast<int>(d);
    for (unsigned i = 1; i < m; ++i) doy += kDays[i - 1];
    if (m > 2 && IsLeap(y)) ++doy;
    return doy;
  }
  return std::nan("");
}

double Quantile(double q, std::vector<double> values) {
  if (values.empty() || std::isnan(q)) return std::nan("");
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

namespace {
void SortAndCoalesce(std::vector<Bucket>* b) {
  std::sort(b->begin(), b->end(),
            [](const Bucket& x, const Bucket& y) { return x.upper_bound < y.upper_bound; });
  std::vector<Bucket> out;
  for (const auto& x : *b) {
    if (!out.empty() && out.back().upper_bound == x.upper_bound) {
      out.back().count += x.count;
    } else {
      out.push_back(x);
    }
  }
  *b = std::move(out);
}
bool AlmostEqual(double a, double b, double eps) {
  if (a == b) return true;
  double diff = std::fabs(a - b);
  double norm = std::min(std::fabs(a) + std::fabs(b), std::numeric_limits<double>::max());
  if (a == 0 || b == 0 || norm < std::numeric_limits<double>::min()) {
    return diff < eps * std::numeric_limits<double>::min();
  }
  return diff / norm < eps;
}
}  // namespace

double BucketQuantile(double q, std::vector<Bucket> buckets, bool* forced_monotonic) {
  *forced_monotonic = false;
  if (std::isnan(q)) return std::nan("");
  if (q < 0) return -HUGE_VAL;
  if (q > 1) return HUGE_VAL;
  if (buckets.empty()) return std::nan("");
  SortAndCoalesce(&buckets);
  if (!std::isinf(buckets.back().upper_bound) || buckets.back().upper_bound < 0)
    return std::nan("");
  double prev = buckets[0].count;
  for (size_t i = 1; i < buckets.size(); ++i) {
    double cur = buckets[i].count;
    if (cur == prev) continue;
    if (AlmostEqual(prev, cur, 1e-12)) {
      buckets[i].count = prev;
      continue;
    }
    if (cur < prev) {
      buckets[i].count = prev;
      *forced_monotonic = true;
      continue;
    }
    prev = cur;
  }
  if (buckets.size() < 2) return std::nan("");
  double observations = buckets.back().count;
  if (observations == 0) return std::nan("");
  double rank = q * observations;
  size_t b = 0;
  while (b < buckets.size() - 1 && !(buckets[b].count >= rank)) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double start = 0, end = buckets[b].upper_bound, count = buckets[b].count;
  if (b > 0) {
    start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return start + (end - start) * (rank / count);
}

double BucketFraction(double lower, double upper, std::vector<Bucket> buckets) {
  if (buckets.empty()) return std::nan("");
  SortAndCoalesce(&buckets);
  if (!std::isinf(buckets.back().upper_bound) || buckets.back().upper_bound < 0)
    return std::nan("");
  double count = buckets.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return std::nan("");
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < buckets.size(); ++i) {
    double lb = i > 0 ? buckets[i - 1].upper_bound : -HUGE_VAL;
    double ub = buckets[i].upper_bound;
    if (i == 0 && ub > 0) lb = 0;
    auto interp = [&](double v) {
      // No interpolation in infinite buckets: (x, +Inf] lies above v, (-Inf, x] below it.
      if (std::isinf(ub)) return rank;
      if (std::isinf(lb)) return buckets[i].count;
      return rank + (buckets[i].count - rank) * (v - lb) / (ub - lb);
    };
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = interp(lower);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = interp(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = buckets[i].count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      size_t si = i, sj = j;
      while (i < a.size() && is_digit(a[i])) ++i;
      while (j < b.size() && is_digit(b[j])) ++j;
      std::string_view na = a.substr(si, i - si), nb = b.substr(sj, j - sj);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

void AppendFloatShortest(std::string* out, double v) {
  if (std::isnan(v)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == 0) {
    *out += std::signbit(v) ? "-0" : "0";
    return;
  }
  char buf[32];
  // Below 2^53 in magnitude, to_chars' shortest form, when it comes out positional, has exactly
  // the shortest round-tripping digits that Go's 'f' format prints (above, an integer's exact
  // digits tie with its shortest digits padded with zeros, and to_chars picks the exact ones).
  // Most sample values take this path (formatting was 840 instructions per value).
  if (std::fabs(v) < 0x1p53) {
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    if (std::find(buf, r.ptr, 'e') == r.ptr) {
      out->append(buf, r.ptr);
      return;
    }
  }
  // The shortest round-tripping digits in scientific form ([-]d[.ddd]e[+-]XX), then rebuilt in
  // positional notation as Go's 'f' format does (1e23 prints as 1 followed by 23 zeros, not as
  // the exact binary value that chars_format::fixed would give).
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const char* p = buf;
  if (*p == '-') {
    out->push_back('-');
    ++p;
  }
  const char* end = r.ptr;
  const char* e = std::find(p, end, 'e');
  char digits[20];
  int nd = 0;
  for (const char* k = p; k < e; ++k) {
    if (*k != '.') digits[nd++] = *k;
  }
  int exp10 = 0;
  std::from_chars(e + 1 + (e[1] == '+' ? 1 : 0), end, exp10);
  if (exp10 >= nd - 1) {
    out->append(digits, static_cast<size_t>(nd));
    out->append(static_cast<size_t>(exp10 - (nd - 1)), '0');
  } else if (exp10 >= 0) {
    out->append(digits, static_cast<size_t>(exp10) + 1);
    out->push_back('.');
    out->append(digits + exp10 + 1, static_cast<size_t>(nd - exp10 - 1));
  } else {
    out->append("0.");
    out->append(static_cast<size_t>(-exp10 - 1), '0');
    out->append(digits, static_cast<size_t>(nd));
  }
}

std::string FormatFloatShortest(double v) {
  std::string out;
  AppendFloatShortest(&out, v);
  return out;
}

}  // namespace kansoku::query::functions
