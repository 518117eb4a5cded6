#include "base/strings.h"

#include <gtest/gtest.h>

namespace kansoku {
namespace {

TEST(StringsTest, Durations) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"15s", 15000},  {"1m30s", 90000}, {"250ms", 250},
               {"2h", 7200000}, {"30", 30000},    {"1d", 86400000}};
  for (const auto& c : cases) {
    auto r = ParseDurationMs(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.ms) << c.in;
  }
  auto bad = ParseDurationMs("10 parsecs");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown unit"), std::string::npos);
  EXPECT_FALSE(ParseDurationMs("").ok());
}

TEST(StringsTest, Sizes) {
  EXPECT_EQ(*ParseByteSize("512"), 512);
  EXPECT_EQ(*ParseByteSize("64KiB"), 65536);
  EXPECT_EQ(*ParseByteSize("10MB"), 10000000);
  EXPECT_EQ(*ParseByteSize("1GiB"), 1073741824);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_EQ(FormatByteSize(65536), "64 KiB");
  EXPECT_EQ(FormatByteSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatByteSize(100), "100 B");
}

TEST(StringsTest, Query) {
  std::string v;
  EXPECT_TRUE(QueryParam("a=1&token=ab%2Bc&x", "token", &v));
  EXPECT_EQ(v, "ab+c");
  EXPECT_TRUE(QueryParam("a=1&x", "x", &v));
  EXPECT_EQ(v, "");
  EXPECT_FALSE(QueryParam("a=1", "b", &v));
  EXPECT_EQ(UrlDecode("a+b%20c%zz%4"), "a b c%zz%4");
}

TEST(StringsTest, UrlEncodeRoundTrips) {
  EXPECT_EQ(UrlEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UrlEncode("rate(x{a=\"b c\"}[5m])+1&"),
            "rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%2B1%26");
  EXPECT_EQ(UrlEncode(std::string_view("\0\xff/", 3)), "%00%FF%2F");
  const std::string all = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s += static_cast<char>(c);
    return s;
  }();
  EXPECT_EQ(UrlDecode(UrlEncode(all)), all);
}

TEST(StringsTest, SplitTrim) {
  auto parts = Split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(TrimSpace("  x \t"), "x");
  EXPECT_TRUE(EqualsIgnoreCase("GZip", "gzip"));
}

}  // namespace
}  // namespace kansoku
