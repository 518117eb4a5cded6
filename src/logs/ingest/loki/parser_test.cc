#include "logs/ingest/loki/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::ingest::loki {
namespace {

TEST(Loki, Json) {
  LogBatch out;
  Report rep;
  ASSERT_TRUE(ParseJson(R"({"streams":[{"stream":{"job":"app","level":"warn"},"values":[
      ["1795672203671000000","first"],["1795672203671000001","second",{"trace_id":"abc"}],
      ["soon","bad ts"]]}]})",
                        &out, &rep)
                  .ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].ts_ns, 1795672203671000000LL);
  EXPECT_EQ(StreamKey(out[0].labels), "{job=\"app\",level=\"warn\",source=\"loki\"}");
  EXPECT_EQ(out[1].Field("trace_id"), "abc");
  EXPECT_TRUE(out[2].flags & kFlagParseError);
  EXPECT_EQ(rep.flagged, 1u);
  EXPECT_FALSE(ParseJson("{\"streams\":[{\"values\":[[1]]}]}", &out, &rep).ok());
  EXPECT_FALSE(ParseJson("[]", &out, &rep).ok());
}

std::string Varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
  return s;
}
std::string Len(int field, const std::string& b) {
  return std::string(1, static_cast<char>(field << 3 | 2)) + Varint(b.size()) + b;
}

TEST(Loki, Proto) {
  std::string ts = std::string(1, 1 << 3) + Varint(1795672203) + std::string(1, 2 << 3) + Varint(5);
  std::string md = Len(1, "trace_id") + Len(2, "f00d");
  std::string entry = Len(1, ts) + Len(2, "hello loki") + Len(3, md);
  std::string stream = Len(1, "{job=\"app\", host=\"h1\"}") + Len(2, entry) + Len(2, entry);
  std::string req = Len(1, stream);
  LogBatch out;
  Report rep;
  ASSERT_TRUE(ParseProto(req, &out, &rep).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ts_ns, 1795672203000000005LL);
  EXPECT_EQ(out[0].msg, "hello loki");
  EXPECT_EQ(out[0].Field("trace_id"), "f00d");
  EXPECT_EQ(StreamKey(out[0].labels), "{job=\"app\",host=\"h1\",source=\"loki\"}");
  for (size_t cut = 1; cut < req.size(); ++cut) {
    LogBatch o2;
    Report r2;
    (void)ParseProto(req.substr(0, cut), &o2, &r2);  // never crashes
  }
  EXPECT_FALSE(ParseProto(req.substr(0, req.size() - 3), &out, &rep).ok());
}

}  // namespace
}  // namespace kansoku::logs::ingest::loki
