#include "tsdb/labels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

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

// Compare orders label sets as their vectors of labels do (name, then value, then count), for
// sets that share prefixes, differ in one byte at any position of a short or long string, or in
// their number of labels.
TEST(LabelsTest, CompareIsTheLabelVectorsOrder) {
  std::mt19937 rng(11);
  const auto str = [&] {
    // Short (inline comparison) and long (memcmp) strings from a small alphabet, so that equal
    // strings and shared prefixes are common.
    std::string s(rng() % 3 == 0 ? 17 + rng() % 20 : rng() % 12, 'a');
    for (char& c : s) c = "ab\xe9"[rng() % 3];
    return s;
  };
  std::vector<Labels> sets;
  for (int i = 0; i < 300; ++i) {
    std::vector<Label> ls;
    const int n = static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) ls.push_back({"n" + std::to_string(k) + str(), str()});
    sets.push_back(Labels::FromSortedUnchecked(std::move(ls)));
    if (i % 3 == 0) {
      // A near copy: one byte of one name or value changed.
      std::vector<Label> copy = sets.back().items();
      if (!copy.empty()) {
        Label& l = copy[rng() % copy.size()];
        std::string& t = rng() % 2 ? l.value : l.name;
        if (!t.empty()) t[rng() % t.size()] ^= 1;
      }
      sets.push_back(Labels::FromSortedUnchecked(std::move(copy)));
    }
  }
  for (const Labels& a : sets) {
    for (const Labels& b : sets) {
      const int want = a.items() < b.items() ? -1 : (b.items() < a.items() ? 1 : 0);
      ASSERT_EQ(a.Compare(b), want) << a.ToString() << " " << b.ToString();
      ASSERT_EQ(a < b, want < 0);
    }
  }
}

TEST(LabelsTest, Validation) {
  EXPECT_TRUE(ValidateLabels(Labels{{"__name__", "node_load1"}, {"host", "a"}}).ok());
  // Prometheus 3: UTF-8 metric and label names are stored.
  EXPECT_TRUE(ValidateLabels(Labels{{"__name__", "1bad"}}).ok());
  EXPECT_TRUE(ValidateLabels(Labels{{"__name__", "service.up"}, {"host.name", "v"}}).ok());
  auto st = ValidateLabels(Labels{{"__name__", std::string("x\xff")}});
  EXPECT_NE(st.message().find("metric name of"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("not valid UTF-8"), std::string::npos);
  st = ValidateLabels(Labels{{"__name__", "x"}, {std::string("b\xc3"), "v"}});
  EXPECT_NE(st.message().find("a label name of metric \"x\" is not valid UTF-8"), std::string::npos)
      << st.ToString();
  st = ValidateLabels(Labels{{"__name__", "x"}, {"l", std::string("\xff\xfe")}});
  EXPECT_NE(st.message().find("not valid UTF-8"), std::string::npos);
  EXPECT_FALSE(ValidateLabels(Labels{{"job", "x"}}).ok());
}

TEST(LabelsTest, ToStringQuotesUtf8Names) {
  EXPECT_EQ((Labels{{"__name__", "service.up"}, {"host.name", "a"}, {"job", "j"}}).ToString(),
            "{\"service.up\", \"host.name\"=\"a\", job=\"j\"}");
  EXPECT_EQ((Labels{{"__name__", "up"}, {"a-b", "x\"y"}}).ToString(), "up{\"a-b\"=\"x\\\"y\"}");
  EXPECT_EQ((Labels{{"job", "j"}}).ToString(), "{job=\"j\"}");
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
