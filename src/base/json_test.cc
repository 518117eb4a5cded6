#include "base/json.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

namespace kansoku {
namespace {

std::string Esc(std::string_view s) {
  std::string out;
  AppendJsonEscaped(out, s);
  return out;
}

TEST(JsonTest, PlainAsciiUnchanged) {
  EXPECT_EQ(Esc(""), "");
  EXPECT_EQ(Esc("hello world {}[]:,/"), "hello world {}[]:,/");
}

TEST(JsonTest, QuotesAndBackslashes) {
  EXPECT_EQ(Esc("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(JsonString("say \"hi\""), "\"say \\\"hi\\\"\"");
}

TEST(JsonTest, ControlCharacters) {
  EXPECT_EQ(Esc("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
  EXPECT_EQ(Esc(std::string_view("\x00", 1)), "\\u0000");
  EXPECT_EQ(Esc("\x01\x1f"), "\\u0001\\u001f");
  EXPECT_EQ(Esc("\x7f"), "\\u007f");
  EXPECT_EQ(Esc("a\x1b[0mb"), "a\\u001b[0mb");
}

TEST(JsonTest, ValidUtf8CopiedUnchanged) {
  for (std::string_view s : {"\xC3\xA9", "\xE8\xA6\xB3\xE6\xB8\xAC", "\xF0\x9F\x98\x80",
                             "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF"}) {
    EXPECT_EQ(Esc(s), s);
  }
}

TEST(JsonTest, InvalidUtf8BecomesReplacementCharacterPerByte) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(Esc("\x80"), r);  // stray continuation byte
  EXPECT_EQ(Esc("a\xFF"
                "b"),
            "a" + r + "b");                           // never valid
  EXPECT_EQ(Esc("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(Esc("\xE0\x80\xAF"), r + r + r);          // overlong 3-byte
  EXPECT_EQ(Esc("\xED\xA0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(Esc("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(Esc("\xE6\xB8"), r + r);                  // truncated at the end
  EXPECT_EQ(Esc("\xE6\xB8\"x"), r + r + "\\\"x");     // truncated before an escape
  EXPECT_EQ(Esc("\xC3\xA9\xC3"), "\xC3\xA9" + r);
}

// Strings of random pieces, each with its known escaped form, at every length and offset around
// the 16-byte blocks the escaper skips at once: a special byte anywhere in a block (or in a
// shorter rest) is escaped, and the bytes around it are copied once.
TEST(JsonTest, RandomPiecesEscapeAsEachPieceDoes) {
  const std::string r = "\xEF\xBF\xBD";
  const std::vector<std::pair<std::string, std::string>> pieces = {
      {"a", "a"},
      {"xyz0123", "xyz0123"},
      {"\"", "\\\""},
      {"\\", "\\\\"},
      {"\n", "\\n"},
      {"\x01", "\\u0001"},
      {"\x7f", "\\u007f"},
      {"\x1f", "\\u001f"},
      {"\xC3\xA9", "\xC3\xA9"},
      {"\xE2\x82\xAC", "\xE2\x82\xAC"},
      {"\xFF", r},
      {"\xC3", r},  // truncated: no piece starts with a continuation byte
      {std::string(1, '\0'), "\\u0000"},
      {"~", "~"}};
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string in, want;
    const int n = static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) {
      // Mostly plain bytes, so that runs of 16 and more without a special byte occur.
      const auto& p = pieces[rng() % 4 == 0 ? rng() % pieces.size() : (rng() % 2 ? 0 : 1)];
      in += p.first;
      want += p.second;
    }
    ASSERT_EQ(Esc(in), want) << "round " << round;
  }
}

TEST(JsonTest, AppendsToExistingOutput) {
  std::string out = "{\"k\":";
  AppendJsonString(out, "v\n");
  EXPECT_EQ(out, "{\"k\":\"v\\n\"");
}

}  // namespace
}  // namespace kansoku

namespace kansoku {
namespace {

// JsonPlain is true exactly for printable ASCII without '"' and '\\' (whatever the length, so
// every SSE2 block and tail split is covered), and such a string is escaped to itself.
TEST(JsonTest, JsonPlainOnlyForBytesCopiedAsThey) {
  std::mt19937 rng(3);
  for (size_t n = 0; n <= 40; ++n) {
    for (int round = 0; round < 50; ++round) {
      std::string s(n, 'a');
      for (char& c : s) c = static_cast<char>(0x20 + rng() % 95);
      for (char& c : s) {
        if (c == '"' || c == '\\') c = 'x';
      }
      if (n > 0 && round % 2 == 1) {
        const unsigned char odd[] = {'"', '\\', 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
        s[rng() % n] = static_cast<char>(odd[rng() % sizeof odd]);
      }
      bool want = true;
      for (unsigned char c : s) want = want && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
      ASSERT_EQ(JsonPlain(s), want) << n << " " << s;
      if (want) {
        std::string out;
        AppendJsonEscaped(out, s);
        ASSERT_EQ(out, s);
      }
    }
  }
}

}  // namespace
}  // namespace kansoku
