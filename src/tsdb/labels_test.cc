#include "tsdb/labels.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tsdb/storage.h"

namespace kansoku::tsdb {
namespace {

TEST(LabelsTest, SortedUniqueAndEmptyDropped) {
  Labels l{{"job", "node"}, {"__name__", "up"}, {"empty", ""}, {"job", "api"}};
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l.items()[0].name, "__name__");
  EXPECT_EQ(l.Get("job"), "api");
  EXPECT_EQ(l.ToString(), "up{job=\"api\"}");
  EXPECT_EQ(l.Hash(), (Labels{{"__name__", "up"}, {"job", "api"}}).Hash());
  EXPECT_NE(l.Hash(), (Labels{{"__name__", "up"}, {"job", "apj"}}).Hash());
}

TEST(LabelsTest, Validation) {
  EXPECT_TRUE(ValidateLabels(Labels{{"__name__", "node_load1"}, {"host", "a"}}).ok());
  auto st = ValidateLabels(Labels{{"__name__", "1bad"}});
  EXPECT_NE(st.message().find("invalid metric name \"1bad\""), std::string::npos);
  st = ValidateLabels(Labels{{"__name__", "x"}, {"bad-name", "v"}});
  EXPECT_NE(st.message().find("invalid label name \"bad-name\""), std::string::npos);
  st = ValidateLabels(Labels{{"__name__", "x"}, {"l", std::string("\xff\xfe")}});
  EXPECT_NE(st.message().find("not valid UTF-8"), std::string::npos);
  EXPECT_FALSE(ValidateLabels(Labels{{"job", "x"}}).ok());
}

TEST(MatcherTest, AllFourTypesAnchored) {
  auto eq = Matcher::Create(MatchType::kEqual, "job", "node");
  ASSERT_TRUE(eq.ok());
  EXPECT_TRUE(eq->Matches("node"));
  EXPECT_FALSE(eq->Matches("nodes"));
  auto re = Matcher::Create(MatchType::kRegexMatch, "job", "no.e");
  EXPECT_TRUE(re->Matches("node"));
  EXPECT_FALSE(re->Matches("xnode"));  // fully anchored
  auto nre = Matcher::Create(MatchType::kRegexNoMatch, "job", "a|b");
  EXPECT_TRUE(nre->Matches("c"));
  EXPECT_FALSE(nre->Matches("a"));
  EXPECT_TRUE(nre->MatchesEmpty());
  auto bad = Matcher::Create(MatchType::kRegexMatch, "job", "(");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid regular expression"), std::string::npos);
  EXPECT_EQ(re->ToString(), "job=~\"no.e\"");
}

TEST(StorageTest, StaleNaN) {
  EXPECT_TRUE(IsStaleNaN(StaleNaN()));
  EXPECT_FALSE(IsStaleNaN(std::nan("")));
}

}  // namespace
}  // namespace kansoku::tsdb
