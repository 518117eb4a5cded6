#include "api/prom_api.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/json.h"
#include "query/engine/value.h"
#include "query/functions/functions.h"

namespace kansoku::api {
namespace {

TEST(PromApiTest, ParseTime) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"1700000000", 1700000000000},
               {"1700000000.123", 1700000000123},
               {"2023-11-14T22:13:20Z", 1700000000000},
               {"2023-11-14T22:13:20.5Z", 1700000000500},
               {"2023-11-15T00:13:20+02:00", 1700000000000},
               {"-1.5", -1500}};
  for (const auto& c : cases) {
    auto r = ParsePromTime(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.ms) << c.in;
  }
  EXPECT_FALSE(ParsePromTime("yesterday").ok());
  EXPECT_FALSE(ParsePromTime("2023-11-14T22:13:20").ok());  // no zone
  EXPECT_FALSE(ParsePromTime("NaN").ok());
}

TEST(PromApiTest, ParseDuration) {
  EXPECT_EQ(*ParsePromDuration("15"), 15000);
  EXPECT_EQ(*ParsePromDuration("0.5"), 500);
  EXPECT_EQ(*ParsePromDuration("1m30s"), 90000);
  EXPECT_FALSE(ParsePromDuration("fast").ok());
}

TEST(PromApiTest, FormatTime) {
  EXPECT_EQ(FormatPromTime(1435781451781), "1435781451.781");
  EXPECT_EQ(FormatPromTime(1435781451000), "1435781451");
  EXPECT_EQ(FormatPromTime(1435781451500), "1435781451.5");
  EXPECT_EQ(FormatPromTime(-1500), "-1.5");
  EXPECT_EQ(FormatPromTime(0), "0");
  EXPECT_EQ(FormatPromTime(1050), "1.05");
  EXPECT_EQ(FormatPromTime(-1), "-0.001");
  EXPECT_EQ(FormatPromTime(INT64_MIN), "-9223372036854775.808");
}

// The matrix JSON is what formatting every point on its own gives, for small matrices (one
// thread) and large ones (two threads, the second half joined after the first), with points
// on the step grid (from the time table), off it, before and after it.
TEST(PromApiTest, MatrixJsonIsPointByPoint) {
  const int64_t start = 1700000000123, step = 15250, end = start + 1999 * step;
  auto reference = [](const query::Matrix& m) {
    std::string j;
    for (size_t k = 0; k < m.size(); ++k) {
      if (k > 0) j += ',';
      j += "{\"metric\":{";
      bool first = true;
      for (const auto& l : m[k].labels) {
        j += first ? "\"" : ",\"";
        first = false;
        AppendJsonEscaped(j, l.name);
        j += "\":\"";
        AppendJsonEscaped(j, l.value);
        j += "\"";
      }
      j += "},\"values\":[";
      for (size_t i = 0; i < m[k].points.size(); ++i) {
        if (i > 0) j += ',';
        j += "[" + FormatPromTime(m[k].points[i].t) + ",\"" +
             query::functions::FormatFloatShortest(m[k].points[i].v) + "\"]";
      }
      j += "]}";
    }
    return j;
  };
  for (int n_series : {1, 3, 60}) {  // 60: ~73,000 points, over the two-thread threshold
    query::Matrix m;
    for (int s = 0; s < n_series; ++s) {
      query::Series series;
      series.labels = tsdb::Labels{{"__name__", "x"}, {"i", std::to_string(s)}};
      // Labels that need escapes (not the fast path of plain labels), and one that is long.
      if (s == 1) series.labels = tsdb::Labels{{"__name__", "x"}, {"q", "a\"b\\c\n\xc3\xa9\x01"}};
      if (s == 2)
        series.labels = tsdb::Labels{{"__name__", "x"}, {"path", std::string(40, 'p')}, {"z", ""}};
      for (int64_t i = 0; i < 2000; i += 1 + s % 3) {
        const int64_t t = s % 7 == 5 ? start + i * step + 1 : start + i * step;  // off the grid
        series.points.emplace_back(t, s % 4 == 0 ? std::sin(i * 0.01) * 1e3 : i * 0.25 + s);
      }
      if (s == 2) {
        series.points.emplace(series.points.begin(), start - step, 1.0);  // before the grid
        series.points.emplace_back(end + step, NAN);                      // after it
      }
      m.push_back(std::move(series));
    }
    std::string j = "[";
    AppendMatrixJson(j, m, start, end, step);
    EXPECT_EQ(j, "[" + reference(m)) << n_series << " series";
  }
}

}  // namespace
}  // namespace kansoku::api
