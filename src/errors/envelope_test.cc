#include "errors/envelope.h"

#include <gtest/gtest.h>

namespace kansoku::errors {
namespace {

TEST(Envelope, ItemsWithAndWithoutLength) {
  std::string body =
      "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"http://k@h/1\"}\n"
      "{\"type\":\"attachment\",\"length\":10,\"filename\":\"a.txt\"}\n"
      "\xef\xbb\xbfHello\r\n\n"
      "{\"type\":\"event\"}\n"
      "{\"message\":\"hi\"}\n"
      "{\"type\":\"attachment\",\"length\":0}\n"
      "\n";
  Envelope env;
  ASSERT_TRUE(ParseEnvelope(body, &env).ok());
  EXPECT_EQ(env.event_id, "9ec79c33ec9942ab8353589fcb2e04dc");
  EXPECT_EQ(env.dsn, "http://k@h/1");
  ASSERT_EQ(env.items.size(), 3u);
  EXPECT_EQ(env.items[0].type, "attachment");
  EXPECT_EQ(env.items[0].filename, "a.txt");
  EXPECT_EQ(env.items[0].payload, "\xef\xbb\xbfHello\r\n");
  EXPECT_EQ(env.items[1].type, "event");
  EXPECT_EQ(env.items[1].payload, "{\"message\":\"hi\"}");
  EXPECT_EQ(env.items[2].payload, "");
}

TEST(Envelope, NoTrailingNewlineAndEmptyHeader) {
  Envelope env;
  ASSERT_TRUE(ParseEnvelope("{}\n{\"type\":\"session\"}\n{\"sid\":\"x\"}", &env).ok());
  ASSERT_EQ(env.items.size(), 1u);
  EXPECT_EQ(env.items[0].payload, "{\"sid\":\"x\"}");
  ASSERT_TRUE(ParseEnvelope("{}", &env).ok());
  EXPECT_TRUE(env.items.empty());
}

TEST(Envelope, Errors) {
  struct Case {
    std::string body, want;
  } cases[] = {
      {"not json\n", "envelope header"},
      {"{\"sent_at\":\"a\",\"sent_at\":\"b\"}\n", "sent_at twice"},
      {"{}\n{\"type\":\"event\",\"length\":100}\n{}\n", "item 0 at byte 3: length 100 runs past"},
      {"{}\n{\"type\":\"event\",\"length\":1}\n{}\n", "not followed by a newline"},
      {"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n", "non-negative integer"},
      {"{}\n{\"type\":\"event\"}\n{}\n[oops\n", "item 1 at byte 23: item header"},
  };
  for (const auto& c : cases) {
    Envelope env;
    Status st = ParseEnvelope(c.body, &env);
    EXPECT_FALSE(st.ok()) << c.body;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << st.message();
  }
  // Items before the bad one are kept.
  Envelope env;
  EXPECT_FALSE(ParseEnvelope("{}\n{\"type\":\"event\"}\n{}\n[oops\n", &env).ok());
  EXPECT_EQ(env.items.size(), 1u);
}

TEST(Envelope, Categories) {
  EXPECT_EQ(CategoryName(ItemCategory("event")), "error");
  EXPECT_EQ(CategoryName(ItemCategory("client_report")), "internal");
  EXPECT_EQ(CategoryName(ItemCategory("check_in")), "monitor");
  EXPECT_EQ(CategoryName(ItemCategory("profile_chunk")), "other");
  EXPECT_EQ(MaxItemBytes("client_report"), 4096u);
}

}  // namespace
}  // namespace kansoku::errors
