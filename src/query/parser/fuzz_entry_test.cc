#include "query/parser/fuzz_entry.h"

#include <gtest/gtest.h>

#include <string>

namespace kansoku::query {
namespace {

TEST(FuzzEntryTest, SurvivesSeedsAndGarbage) {
  const std::string inputs[] = {
      "",
      "(((",
      "foo[",
      "\"\\x",
      "sum by (",
      "@",
      "1e",
      "0x",
      "{a=~\"\\\\\"}",
      "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m] offset -1m @ end()))",
      "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))[1h:1m]",
      "a / on(b) group_left(c) -d ^ 2 ^ -1",
      "{\"a.b\", \"c d\"=~\"x|y\"}",
      std::string("\0\xff\x80", 3),
  };
  for (const auto& in : inputs) {
    EXPECT_EQ(FuzzPromQLParser(reinterpret_cast<const uint8_t*>(in.data()), in.size()), 0) << in;
  }
}

}  // namespace
}  // namespace kansoku::query
