#pragma once
// PromQL function kernels on plain numbers: range-vector functions over one series' window,
// element-wise math, date functions, quantiles and classic-histogram bucket interpolation.
// The engine (engine/evaluator.cc) does label handling and step iteration and calls these.
//
// Thread safety: pure functions. Errors: kernels that can fail return Result or a bool.
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/engine/value.h"

namespace kansoku::query::functions {

// Neumaier-compensated summation step: returns the new sum, updates *c. Inline: aggregations
// call it once per input point.
inline double KahanSumInc(double inc, double sum, double* c) {
  const double t = sum + inc;
  if (std::isinf(t)) {
    *c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    *c += (sum - t) + inc;
  } else {
    *c += (inc - t) + sum;
  }
  return t;
}

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

// The part of ExtrapolatedRate that depends only on where a window's samples lie: the first
// sample's distance from the window's start, the last one's from its end, and the count (n >= 2).
// Every window of a regular series has the same, so range kernels compute it once per distinct
// shape (RateShape::Of) and finish each window with RateFromShape: the same operations on the
// same operands as ExtrapolatedRate, so the same bits.
struct RateShape {
  double sampled_ms = 0;      // last sample's time - first's
  double to_start = 0;        // extrapolation towards the window's start (before the zero clamp)
  double to_end = 0;          // extrapolation towards its end
  double extrapolated = 0;    // sampled_ms + to_start + to_end
  double rate_divisor = 0;    // sampled_ms * range_seconds
  double increase_ratio = 0;  // extrapolated / sampled_ms

  // Prometheus' extrapolation, computed in milliseconds (integer differences, exact as doubles):
  // the ratios are the same, and two divisions per window remain instead of seven (divsd
  // latency was a fifth of a 24 h rate() query). Results may differ from the seconds-based
  // formula in the last bit.
  [[gnu::always_inline]] static RateShape Of(int64_t first_from_start_ms, int64_t last_to_end_ms,
                                             int64_t sampled_ms, size_t n, double range_seconds) {
    RateShape r;
    const double to_start_ms = static_cast<double>(first_from_start_ms);
    const double to_end_ms = static_cast<double>(last_to_end_ms);
    r.sampled_ms = static_cast<double>(sampled_ms);
    const double avg_between = r.sampled_ms / static_cast<double>(n - 1);
    const double threshold = avg_between * 1.1;
    r.to_start = to_start_ms >= threshold ? avg_between / 2 : to_start_ms;
    r.to_end = to_end_ms >= threshold ? avg_between / 2 : to_end_ms;
    r.extrapolated = r.sampled_ms + r.to_start + r.to_end;
    r.rate_divisor = r.sampled_ms * range_seconds;
    r.increase_ratio = r.extrapolated / r.sampled_ms;
    return r;
  }
};

// rate (is_counter, is_rate), increase (is_counter) and delta of a window of the given shape,
// whose first value is `first` and whose (reset-corrected) difference is `result`.
[[gnu::always_inline]] inline double RateFromShape(const RateShape& sh, double first, double result,
                                                   bool is_counter, bool is_rate) {
  // A counter is not extrapolated below zero: to_zero = sampled * first / result when that is
  // shorter (compared by multiplying; divided only then, which is rare).
  if (is_counter && result > 0 && first >= 0 && sh.sampled_ms * first < sh.to_start * result) {
    const double to_zero = sh.sampled_ms * (first / result);
    if (to_zero < sh.to_start) {
      const double extrapolated = sh.sampled_ms + to_zero + sh.to_end;
      if (is_rate) return result * extrapolated / sh.rate_divisor;
      return result * (extrapolated / sh.sampled_ms);
    }
  }
  if (is_rate) return result * sh.extrapolated / sh.rate_divisor;
  return result * sh.increase_ratio;
}

// The difference of a window's last and first values, plus the value before each decrease
// when is_counter and the window may have one (Prometheus' counter-reset correction).
[[gnu::always_inline]] inline double RateResult(std::span<const Point> s, bool is_counter,
                                                bool no_counter_resets) {
  double result = s.back().v - s.front().v;
  if (is_counter && !no_counter_resets) {
    double prev = s.front().v;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i].v < prev) result += prev;
      prev = s[i].v;
    }
  }
  return result;
}

// rate (is_counter, is_rate), increase (is_counter) and delta over one window's samples, with
// Prometheus' extrapolation; nullopt for fewer than 2 samples. Inline: range-query kernels call
// it once per step and series.
[[gnu::always_inline]] inline std::optional<double> ExtrapolatedRate(std::span<const Point> s,
                                                                     const RangeWindow& w,
                                                                     bool is_counter,
                                                                     bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  const double result = RateResult(s, is_counter, w.no_counter_resets);
  const RateShape sh = RateShape::Of(s.front().t - w.range_start, w.range_end - s.back().t,
                                     s.back().t - s.front().t, s.size(), w.range_seconds);
  return RateFromShape(sh, s.front().v, result, is_counter, is_rate);
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
