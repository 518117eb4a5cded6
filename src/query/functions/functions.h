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
