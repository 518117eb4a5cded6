#include "logs/ingest/es_bulk/parser.h"

#include <gtest/gtest.h>

namespace kansoku::logs::ingest::es_bulk {
namespace {

TEST(EsBulk, PairsAndItems) {
  Parser p;
  LogBatch out;
  std::vector<Item> items;
  Report rep;
  p.Parse(
      "{\"create\":{\"_index\":\"filebeat-1\"}}\n"
      "{\"@timestamp\":\"2026-11-26T05:47:34Z\",\"message\":\"GET / "
      "200\",\"host\":{\"name\":\"web-1\"}}\n"
      "{\"index\":{}}\n"
      "{\"message\":\"two\"}\n"
      "{\"delete\":{\"_id\":\"1\"}}\n"
      "{\"index\":{}}\n"
      "{broken\n",
      "logs", &out, &items, &rep);
  ASSERT_EQ(out.size(), 3u);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(out[0].msg, "GET / 200");
  EXPECT_EQ(out[0].Field("es_index"), "filebeat-1");
  EXPECT_EQ(out[0].Field("host.name"), "web-1");
  EXPECT_EQ(items[2].status, 400);
  EXPECT_TRUE(out[2].flags & kFlagParseError);
  EXPECT_EQ(out[2].msg, "{broken");
  std::string r = Parser::Response(items, 3);
  EXPECT_NE(r.find("\"errors\":true"), std::string::npos);
  EXPECT_NE(r.find("{\"create\":{\"_index\":\"filebeat-1\""), std::string::npos) << r;
}

}  // namespace
}  // namespace kansoku::logs::ingest::es_bulk
