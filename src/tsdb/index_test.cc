#include "tsdb/index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kansoku::tsdb {
namespace {

Matcher M(MatchType t, std::string n, std::string v) {
  auto m = Matcher::Create(t, std::move(n), std::move(v));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

std::vector<Labels> Corpus() {
  return {
      Labels{{"__name__", "up"}, {"job", "node"}, {"instance", "a:9100"}},
      Labels{{"__name__", "up"}, {"job", "node"}, {"instance", "b:9100"}},
      Labels{{"__name__", "up"}, {"job", "api"}, {"instance", "a:8080"}},
      Labels{{"__name__", "up"}, {"instance", "c:1"}},  // no job
      Labels{{"__name__", "node_load1"}, {"job", "node"}, {"instance", "a:9100"}},
      Labels{{"__name__", "node_load1"}, {"job", "node"}, {"instance", "b:9100"}, {"env", "prod"}},
      Labels{{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "200"}},
      Labels{{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "500"}},
  };
}

// Brute force: every matcher tested against every series' label value ("" when absent).
Postings Expected(const std::vector<Labels>& corpus, const std::vector<Matcher>& ms) {
  Postings out;
  for (size_t i = 0; i < corpus.size(); ++i) {
    bool ok = std::all_of(ms.begin(), ms.end(),
                          [&](const Matcher& m) { return m.Matches(corpus[i].Get(m.name())); });
    if (ok) out.push_back(i + 1);
  }
  return out;
}

TEST(IndexTest, SelectMatchesBruteForce) {
  const auto corpus = Corpus();
  MemPostings p;
  // Add in reverse order to exercise the sorted insert.
  for (size_t i = corpus.size(); i > 0; --i) p.Add(i, corpus[i - 1]);
  using MT = MatchType;
  const std::vector<std::vector<Matcher>> cases = {
      {M(MT::kEqual, "__name__", "up")},
      {M(MT::kEqual, "__name__", "up"), M(MT::kEqual, "job", "node")},
      {M(MT::kEqual, "__name__", "up"), M(MT::kNotEqual, "job", "node")},
      {M(MT::kEqual, "__name__", "up"), M(MT::kEqual, "job", "")},
      {M(MT::kEqual, "__name__", "up"), M(MT::kNotEqual, "job", "")},
      {M(MT::kRegexMatch, "__name__", "up|node_.*")},
      {M(MT::kRegexMatch, "__name__", ".+"), M(MT::kRegexNoMatch, "instance", "a:.*")},
      {M(MT::kRegexMatch, "job", ".*"), M(MT::kEqual, "__name__", "up")},
      {M(MT::kRegexMatch, "job", "node|"), M(MT::kEqual, "__name__", "up")},
      {M(MT::kEqual, "env", "prod")},
      {M(MT::kEqual, "env", "staging")},
      {M(MT::kEqual, "nolabel", "x")},
      {M(MT::kRegexMatch, "code", "5.."), M(MT::kEqual, "job", "api")},
      {M(MT::kNotEqual, "__name__", "up"), M(MT::kRegexMatch, "instance", "a.*")},
      // A regex narrowing an equality's set (IntersectUnion), two regexes in a row.
      {M(MT::kEqual, "__name__", "up"), M(MT::kRegexMatch, "instance", "(a|b):.*")},
      {M(MT::kEqual, "job", "node"), M(MT::kRegexMatch, "instance", ".*9100"),
       M(MT::kRegexMatch, "__name__", "node_.*")},
  };
  for (const auto& ms : cases) {
    std::string desc;
    for (const auto& m : ms) desc += m.ToString() + " ";
    SCOPED_TRACE(desc);
    auto got = SelectPostings(p, ms);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, Expected(corpus, ms));
  }
}

TEST(IndexTest, AllMatchersMatchingEmptyAreRejected) {
  MemPostings p;
  p.Add(1, Labels{{"__name__", "up"}});
  for (const auto& ms : std::vector<std::vector<Matcher>>{
           {M(MatchType::kRegexMatch, "job", ".*")},
           {M(MatchType::kEqual, "job", ""), M(MatchType::kNotEqual, "x", "y")},
           {}}) {
    auto got = SelectPostings(p, ms);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(IndexTest, DeleteAndLabelValues) {
  MemPostings p;
  p.Add(1, Labels{{"__name__", "a"}, {"x", "1"}});
  p.Add(2, Labels{{"__name__", "b"}, {"x", "2"}});
  EXPECT_EQ(p.LabelValues("x"), (std::vector<std::string>{"1", "2"}));
  p.Delete(1, Labels{{"__name__", "a"}, {"x", "1"}});
  EXPECT_EQ(p.LabelValues("x"), (std::vector<std::string>{"2"}));
  EXPECT_EQ(p.LabelNames(), (std::vector<std::string>{"__name__", "x"}));
  EXPECT_EQ(p.All(), (Postings{2}));
  EXPECT_EQ(p.Get("__name__", "a"), nullptr);
}

TEST(IndexTest, SetOperations) {
  const Postings a = {1, 3, 5, 7}, b = {3, 4, 5}, c = {9};
  EXPECT_EQ(IntersectPostings(a, b), (Postings{3, 5}));
  EXPECT_EQ(SubtractPostings(a, b), (Postings{1, 7}));
  EXPECT_EQ(UnionPostings({&a, &b, &c}), (Postings{1, 3, 4, 5, 7, 9}));
}

// The merge tree equals sorting the concatenation, for every number of lists (odd levels too).
TEST(IndexTest, UnionOfManyLists) {
  for (size_t k = 0; k <= 13; ++k) {
    std::vector<Postings> lists(k);
    Postings want;
    for (size_t i = 0; i < k; ++i) {
      for (SeriesRef r = i % 3; r < 400; r += 1 + (i * 7 + r) % 11) lists[i].push_back(r);
      want.insert(want.end(), lists[i].begin(), lists[i].end());
    }
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    std::vector<const Postings*> ptrs;
    for (const auto& l : lists) ptrs.push_back(&l);
    EXPECT_EQ(UnionPostings(ptrs), want) << k << " lists";
  }
}

// IntersectUnion equals the intersection with the union: sets whose refs span few words (the
// bitmap, with refs at word edges and lists reaching below and above the set) and sparse ones
// (the fallback), empty inputs included.
TEST(IndexTest, IntersectUnionSameAsIntersectOfUnion) {
  struct Case {
    std::string name;
    Postings a;
    std::vector<Postings> lists;
  };
  const std::vector<Case> cases = {
      {"empty set", {}, {{1, 2, 3}}},
      {"no lists", {1, 2, 3}, {}},
      {"word edges", {63, 64, 127, 128, 191}, {{0, 63, 65, 128}, {64, 126, 191, 192, 500}, {127}}},
      {"one ref", {1000}, {{999}, {1000, 1001}}},
      {"none hit", {10, 20, 30}, {{11, 21}, {0, 31, 40}}},
      {"offset start", {70, 71, 72, 200, 260}, {{1, 2, 3, 70, 199, 200}, {72, 201, 260, 261}}},
      {"sparse (fallback)",
       {1, uint64_t{1} << 40, (uint64_t{1} << 40) + 5},
       {{1, 2}, {uint64_t{1} << 40}}},
  };
  for (const auto& c : cases) {
    std::vector<const Postings*> ptrs;
    for (const auto& l : c.lists) ptrs.push_back(&l);
    EXPECT_EQ(IntersectUnion(c.a, ptrs), IntersectPostings(c.a, UnionPostings(ptrs))) << c.name;
  }
  // Generated: sets of every density against lists of every density.
  for (SeriesRef sa = 1; sa <= 40; sa += 13) {
    Postings a;
    for (SeriesRef r = 3; r < 3000; r += sa + r % 5) a.push_back(r);
    for (size_t k = 1; k <= 9; k += 4) {
      std::vector<Postings> lists(k);
      std::vector<const Postings*> ptrs;
      for (size_t i = 0; i < k; ++i) {
        for (SeriesRef r = i; r < 3200; r += 2 + (i * 5 + r) % 17) lists[i].push_back(r);
        ptrs.push_back(&lists[i]);
      }
      EXPECT_EQ(IntersectUnion(a, ptrs), IntersectPostings(a, UnionPostings(ptrs)))
          << "step " << sa << ", " << k << " lists";
    }
  }
}

}  // namespace
}  // namespace kansoku::tsdb
