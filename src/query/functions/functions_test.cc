#include "query/functions/functions.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace kansoku::query::functions {
namespace {

TEST(FunctionsTest, QuantileInterpolates) {
  struct Case {
    double q;
    std::vector<double> v;
    double want;
  };
  const Case cases[] = {
      {0.5, {1, 2, 3, 4}, 2.5}, {0, {3, 1, 2}, 1},    {1, {3, 1, 2}, 3},
      {0.9, {10}, 10},          {-1, {1}, -HUGE_VAL}, {2, {1}, HUGE_VAL},
  };
  for (const auto& c : cases) EXPECT_DOUBLE_EQ(Quantile(c.q, c.v), c.want) << c.q;
  EXPECT_TRUE(std::isnan(Quantile(0.5, {})));
  EXPECT_TRUE(std::isnan(Quantile(NAN, {1})));
}

TEST(FunctionsTest, BucketQuantile) {
  bool forced = false;
  std::vector<Bucket> b = {{1, 10}, {2, 20}, {HUGE_VAL, 20}};
  EXPECT_DOUBLE_EQ(BucketQuantile(0.5, b, &forced), 1);
  EXPECT_DOUBLE_EQ(BucketQuantile(0.75, b, &forced), 1.5);
  EXPECT_FALSE(forced);
  // Non-monotonic counts are fixed and reported.
  std::vector<Bucket> nm = {{1, 10}, {2, 5}, {HUGE_VAL, 20}};
  BucketQuantile(0.5, nm, &forced);
  EXPECT_TRUE(forced);
  // Without a +Inf bucket the result is NaN.
  EXPECT_TRUE(std::isnan(BucketQuantile(0.5, {{1, 1}, {2, 2}}, &forced)));
}

TEST(FunctionsTest, BucketFraction) {
  std::vector<Bucket> b = {{1, 1}, {2, 3}, {3, 6}, {HUGE_VAL, 100}};
  EXPECT_DOUBLE_EQ(BucketFraction(2, 5, b), 0.03);
  EXPECT_DOUBLE_EQ(BucketFraction(400, HUGE_VAL, b), 0.94);
  EXPECT_DOUBLE_EQ(BucketFraction(3, 2, b), 0);
}

TEST(FunctionsTest, RateExtrapolates) {
  // A counter rising 1/s sampled every 10s over a 60s window ending at 60s.
  std::vector<Point> pts;
  for (int64_t t = 10'000; t <= 60'000; t += 10'000)
    pts.push_back({t, static_cast<double>(t) / 1000});
  RangeWindow w{0, 60'000, 60'000, 60};
  auto r = EvalRange(RangeFn::kRate, pts, w, {});
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(*r, 1.0, 1e-9);
  // Counter resets are compensated.
  std::vector<Point> reset = {{0, 5}, {10'000, 10}, {20'000, 2}};
  auto inc = EvalRange(RangeFn::kIncrease, reset, RangeWindow{-1, 20'000, 20'000, 20}, {});
  ASSERT_TRUE(inc.has_value());
  EXPECT_GT(*inc, 6.9);
  EXPECT_FALSE(EvalRange(RangeFn::kRate, std::vector<Point>{{0, 1}}, w, {}).has_value());
}

TEST(FunctionsTest, Dates) {
  // 2024-02-29T13:45:00Z
  double t = 1709214300;
  EXPECT_EQ(ApplyDate("year", t), 2024);
  EXPECT_EQ(ApplyDate("month", t), 2);
  EXPECT_EQ(ApplyDate("day_of_month", t), 29);
  EXPECT_EQ(ApplyDate("days_in_month", t), 29);
  EXPECT_EQ(ApplyDate("day_of_week", t), 4);  // Thursday
  EXPECT_EQ(ApplyDate("day_of_year", t), 60);
  EXPECT_EQ(ApplyDate("hour", t), 13);
  EXPECT_EQ(ApplyDate("minute", t), 45);
}

// Go's strconv 'f' with precision -1, which Prometheus' JSON uses: positional notation of the
// shortest digits that round-trip. Checked against the parts of to_chars' scientific form.
TEST(FunctionsTest, FormatFloatShortestIsPositionalShortestDigits) {
  std::mt19937_64 rng(7);
  std::vector<double> values = {0x1p53,     0x1p53 - 1,           0x1p60, 1152921504606846976.0,
                                1e15 + 0.5, 123456789012345680.0, 0.1,    1e-5,
                                2.5e-300,   4503599627370495.5};
  for (int i = 0; i < 20000; ++i) {
    const int e10 = static_cast<int>(rng() % 50) - 25;
    const double m = static_cast<double>(rng() >> 11) / 0x1p53;  // [0, 1)
    values.push_back((rng() & 1 ? -m : m) * std::pow(10.0, e10));
    values.push_back(static_cast<double>(rng() >> (rng() % 64)));  // integers of every size
  }
  for (double v : values) {
    if (v == 0) continue;
    const std::string s = FormatFloatShortest(v);
    ASSERT_EQ(s.find('e'), std::string::npos) << s;
    ASSERT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
    // Significant digits: s without sign, point, leading and trailing zeros, against the
    // mantissa digits of the shortest scientific form.
    std::string got;
    for (char ch : s) {
      if (ch >= '0' && ch <= '9') got += ch;
    }
    got.erase(0, got.find_first_not_of('0'));
    got.erase(got.find_last_not_of('0') + 1);
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string want;
    for (const char* k = buf; k < r.ptr && *k != 'e'; ++k) {
      if (*k >= '0' && *k <= '9') want += *k;
    }
    want.erase(want.find_last_not_of('0') + 1);
    ASSERT_EQ(got, want) << "value " << s;
  }
}

TEST(FunctionsTest, FormattingAndOrdering) {
  EXPECT_EQ(FormatFloatShortest(1), "1");
  EXPECT_EQ(FormatFloatShortest(0.25), "0.25");
  EXPECT_EQ(FormatFloatShortest(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatFloatShortest(-HUGE_VAL), "-Inf");
  EXPECT_EQ(FormatFloatShortest(1e23), "100000000000000000000000");
  EXPECT_EQ(FormatFloatShortest(-0.000125), "-0.000125");
  EXPECT_EQ(FormatFloatShortest(123.456), "123.456");
  EXPECT_EQ(FormatFloatShortest(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatFloatShortest(5e-324), "0." + std::string(323, '0') + "5");
  EXPECT_EQ(FormatFloatShortest(-0.0), "-0");
  EXPECT_EQ(FormatFloatShortest(1.7976931348623157e308).size(), 309u);
  EXPECT_EQ(FormatFloatShortest(100), "100");
  EXPECT_EQ(FormatFloatShortest(1.5e-7), "0.00000015");
  std::string appended = "x";
  AppendFloatShortest(&appended, 2.5);
  EXPECT_EQ(appended, "x2.5");
  EXPECT_TRUE(NaturalLess("a2", "a10"));
  EXPECT_FALSE(NaturalLess("a10", "a2"));
  EXPECT_TRUE(NaturalLess("abc", "abd"));
}

// Random doubles (every exponent): the text parses back to the same value and has no more
// significant digits than the shortest "%.*e" that round-trips.
TEST(FunctionsTest, FormatFloatShortestRoundTripsRandomBits) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v) || v == 0) continue;
    if (i % 2 == 0) v = std::round(v * 1e3) / 1e3;  // also short decimals, as metrics are
    if (!std::isfinite(v) || v == 0) continue;
    const std::string s = FormatFloatShortest(v);
    ASSERT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
    int digits = 0;
    bool leading = true;
    for (char c : s) {
      if (c < '0' || c > '9') continue;
      if (leading && c == '0') continue;
      leading = false;
      ++digits;
    }
    int prec = 1;
    char buf[64];
    for (; prec <= 17; ++prec) {
      std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    if (s.find('.') != std::string::npos) {
      // Positional with a fraction: every digit after the leading zeros is significant.
      ASSERT_LE(digits, prec) << s;
    }
  }
}

}  // namespace
}  // namespace kansoku::query::functions
