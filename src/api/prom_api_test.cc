#include "api/prom_api.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kansoku::api
