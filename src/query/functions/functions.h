#pragma once
// PromQL function kernels on plain numbers: range-vector functions over one series' window,
// element-wise math, date functions, quantiles and classic-histogram bucket interpolation.
// The engine (engine/evaluator.cc) does label handling and step iteration and calls these.
//
// Thread safety: pure functions. Errors: kernels that can fail return Result or a bool.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/engine/value.h"

namespace kansoku::query::functions {

// Neumaier-compensated summation step: returns the new sum, updates *c.
double KahanSumInc(double inc, double sum, double* c);

// Context of one range-function evaluation: the window is (range_start, range_end] in ms and
// eval_ts is the evaluation time (the step, or the @ time) used by predict_linear.
struct RangeWindow {
  int64_t range_start = 0;
  int64_t range_end = 0;
  int64_t eval_ts = 0;
  double range_seconds = 0;
  // Set by a caller that knows the window's values never decrease (no counter reset): rate,
  // increase skip their reset scan. Only a shortcut; the result is the same.
  bool no_counter_resets = false;
};

enum class RangeFn : unsigned char {
  kRate,
  kIncrease,
  kDelta,
  kIrate,
  kIdelta,
  kDeriv,
  kPredictLinear,
  kChanges,
  kResets,
  kAvgOverTime,
  kSumOverTime,
  kCountOverTime,
  kMinOverTime,
  kMaxOverTime,
  kLastOverTime,
  kFirstOverTime,
  kPresentOverTime,
  kQuantileOverTime,
  kStddevOverTime,
  kStdvarOverTime,
  kMadOverTime,
  kDoubleExponentialSmoothing,
  kTsOfMaxOverTime,
  kTsOfMinOverTime,
  kTsOfLastOverTime,
  kTsOfFirstOverTime,
  kAbsentOverTime,
};
std::optional<RangeFn> LookupRangeFn(std::string_view name);
// True for functions whose output keeps the input's __name__ (last/first_over_time).
bool RangeFnKeepsName(RangeFn fn);

// rate (is_counter, is_rate), increase (is_counter) and delta over one window's samples, with
// Prometheus' extrapolation; nullopt for fewer than 2 samples. Inline: range-query kernels call
// it once per step and series.
[[gnu::always_inline]] inline std::optional<double> ExtrapolatedRate(std::span<const Point> s,
                                                                     const RangeWindow& w,
                                                                     bool is_counter,
                                                                     bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  double result = s.back().v - s.front().v;
  if (is_counter && !w.no_counter_resets) {
    double prev = s.front().v;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i].v < prev) result += prev;
      prev = s[i].v;
    }
  }
  double to_start = static_cast<double>(s.front().t - w.range_start) / 1000;
  double to_end = static_cast<double>(w.range_end - s.back().t) / 1000;
  double sampled = static_cast<double>(s.back().t - s.front().t) / 1000;
  double avg_between = sampled / static_cast<double>(s.size() - 1);
  double threshold = avg_between * 1.1;
  if (to_start >= threshold) to_start = avg_between / 2;
  if (is_counter) {
    double to_zero = to_start;
    if (result > 0 && s.front().v >= 0) to_zero = sampled * (s.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = avg_between / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= w.range_seconds;
  return result * factor;
}

// Evaluates fn over pts (the samples in the window, time-ordered, no stale markers).
// params: scalar arguments (quantile, predict_linear duration, smoothing factors).
// nullopt: no output sample for this step.
std::optional<double> EvalRange(RangeFn fn, std::span<const Point> pts, const RangeWindow& w,
                                std::span<const double> params);

// Element-wise math functions (abs, ceil, exp, sin, ...). nullopt for unknown names.
std::optional<double> ApplyMath(std::string_view name, double v);
bool IsMathFunction(std::string_view name);

// Date functions on a Unix timestamp in seconds (UTC). nullopt for unknown names.
bool IsDateFunction(std::string_view name);
double ApplyDate(std::string_view name, double unix_seconds);

// Prometheus' quantile over values (sorts values). NaN for empty input or NaN q.
double Quantile(double q, std::vector<double> values);

struct Bucket {
  double upper_bound;
  double count;
};
// Classic-histogram quantile. *forced_monotonic is set when counts had to be fixed.
double BucketQuantile(double q, std::vector<Bucket> buckets, bool* forced_monotonic);
double BucketFraction(double lower, double upper, std::vector<Bucket> buckets);

// Natural ordering ("a2" < "a10"), used by sort_by_label.
bool NaturalLess(std::string_view a, std::string_view b);

// Go's strconv.FormatFloat(v, 'f', -1, 64) (NaN, +Inf, -Inf as Prometheus prints them), used for
// sample values in JSON, count_values and histogram labels. AppendFloatShortest appends the same
// text to *out without a temporary string (the API's hot path).
std::string FormatFloatShortest(double v);
void AppendFloatShortest(std::string* out, double v);

}  // namespace kansoku::query::functions
