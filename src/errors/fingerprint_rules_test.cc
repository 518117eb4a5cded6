#include "errors/fingerprint_rules.h"

#include <gtest/gtest.h>

#include "errors/grouping.h"

namespace kansoku::errors {
namespace {

Event Ev(const std::string& json) {
  Event e;
  EXPECT_TRUE(ParseEvent(json, &e).ok());
  return e;
}

const char* kRules = R"(# comment line
error.type:DatabaseUnavailable -> system-down
stack.function:"*charge*" app:yes error.value:"*timeout*" -> checkout-timeout, {{ default }}
!tags.environment:prod message:"disk *" -> disk-not-prod title="Disk"
)";

TEST(FingerprintRules, MatchesFirstRule) {
  auto r = FingerprintRules::Parse(kRules);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 3u);
  Event db = Ev(R"({"exception":[{"type":"DatabaseUnavailable","value":"x"}]})");
  ASSERT_NE(r->Match(db), nullptr);
  EXPECT_EQ(*r->Match(db), std::vector<std::string>{"system-down"});

  Event co = Ev(R"({"exception":[{"type":"E","value":"gateway TIMEOUT","stacktrace":{"frames":[
      {"function":"charge_card","in_app":true}]}}]})");
  ASSERT_NE(r->Match(co), nullptr);
  EXPECT_EQ((*r->Match(co))[0], "checkout-timeout");
  // Frame matchers must hit the same frame: the in-app frame is not "charge".
  Event co2 = Ev(R"({"exception":[{"type":"E","value":"timeout","stacktrace":{"frames":[
      {"function":"charge_card","in_app":false},{"function":"x","in_app":true}]}}]})");
  EXPECT_EQ(r->Match(co2), nullptr);

  EXPECT_NE(r->Match(Ev(R"({"message":"disk full","environment":"dev"})")), nullptr);
  EXPECT_EQ(r->Match(Ev(R"({"message":"disk full","environment":"prod"})")), nullptr);
}

TEST(FingerprintRules, RuleWinsOverSdkFingerprintAndKeepsDefault) {
  auto r = FingerprintRules::Parse(kRules);
  ASSERT_TRUE(r.ok());
  Event a = Ev(R"({"exception":[{"type":"DatabaseUnavailable","value":"a"}],"fingerprint":["x"]})");
  Event b = Ev(R"({"exception":[{"type":"DatabaseUnavailable","value":"b"}]})");
  Grouping ga = GroupEvent(a, &*r), gb = GroupEvent(b, &*r);
  EXPECT_EQ(ga.basis, "fingerprint_rule");
  EXPECT_EQ(ga.hash, gb.hash);
  EXPECT_NE(ga.hash, GroupEvent(a).hash);
}

TEST(FingerprintRules, ParseErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"error.type:A", "line 1: expected"},
      {"\n\nstack.foo:x -> y", "line 3: unknown matcher \"stack.foo\""},
      {"error.type:A ->", "line 1: a rule needs a fingerprint"},
      {"-> y", "line 1: a rule needs at least one matcher"},
      {"message:\"abc -> y", "unterminated quote"},
      {"app:maybe -> y", "app: must be yes or no"},
  };
  for (const auto& c : cases) {
    auto r = FingerprintRules::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(FingerprintRules::Parse("  # only a comment\n\n").ok());
}

}  // namespace
}  // namespace kansoku::errors
