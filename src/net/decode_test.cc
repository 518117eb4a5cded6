#include "net/decode.h"

#include <gtest/gtest.h>

namespace kansoku::net {
namespace {

std::string Sample() {
  std::string s;
  for (int i = 0; i < 2000; ++i)
    s += "node_cpu_seconds_total{cpu=\"" + std::to_string(i % 8) + "\"} 1\n";
  return s;
}

class DecodeRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(DecodeRoundTrip, EncodesAndDecodes) {
  std::string body = Sample();
  auto enc = EncodeContent(GetParam(), body);
  ASSERT_TRUE(enc.ok());
  EXPECT_LT(enc->size(), body.size());
  auto dec = DecodeContent(GetParam(), *enc, 1 << 20);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, body);
}

TEST_P(DecodeRoundTrip, StopsAtTheLimit) {
  std::string body(1 << 20, 'a');  // compresses to almost nothing: a small bomb
  auto enc = EncodeContent(GetParam(), body);
  ASSERT_TRUE(enc.ok());
  auto dec = DecodeContent(GetParam(), *enc, 64 * 1024);
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(dec.status().message().find("64 KiB"), std::string::npos) << dec.status().message();
}

TEST_P(DecodeRoundTrip, RejectsGarbageAndTruncation) {
  auto dec = DecodeContent(GetParam(), "this is not compressed at all, not even a bit", 1 << 20);
  EXPECT_FALSE(dec.ok());
  std::string body = Sample();
  auto enc = EncodeContent(GetParam(), body);
  std::string cut = enc->substr(0, enc->size() / 2);
  auto dec2 = DecodeContent(GetParam(), cut, 1 << 20);
  EXPECT_FALSE(dec2.ok()) << GetParam();
  if (!dec2.ok()) {
    EXPECT_EQ(dec2.status().code(), Status::Code::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(All, DecodeRoundTrip,
                         ::testing::Values("gzip", "deflate", "zstd", "br", "snappy"));

TEST(DecodeTest, RawDeflateAndChains) {
  // A raw deflate stream (no zlib header), as some clients send for "deflate".
  std::string body = Sample();
  auto z = EncodeContent("deflate", body);
  std::string raw = z->substr(2, z->size() - 6);  // strip zlib header and adler32
  auto dec = DecodeContent("deflate", raw, 1 << 20);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, body);
  // "gzip, br": br applied last, undone first.
  auto g = EncodeContent("gzip", body);
  auto gb = EncodeContent("br", *g);
  auto dec2 = DecodeContent("gzip, br", *gb, 1 << 20);
  ASSERT_TRUE(dec2.ok());
  EXPECT_EQ(*dec2, body);
}

TEST(DecodeTest, UnknownEncoding) {
  auto dec = DecodeContent("lzma", "x", 10);
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.status().message().find("unsupported Content-Encoding \"lzma\""),
            std::string::npos);
}

TEST(DecodeTest, SnappyFramedFormat) {
  // Stream identifier + one uncompressed chunk (type 0x01) with a dummy CRC.
  std::string framed("\xff\x06\x00\x00sNaPpY", 10);
  std::string data = "hello";
  framed += '\x01';
  size_t len = 4 + data.size();
  framed += static_cast<char>(len & 0xff);
  framed += '\0';
  framed += '\0';
  framed += std::string(4, '\0');
  framed += data;
  auto dec = DecodeContent("snappy", framed, 100);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, "hello");
}

}  // namespace
}  // namespace kansoku::net
