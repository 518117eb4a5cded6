#include "tsdb/series_iter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace kansoku::tsdb {
namespace {

ChunkRef Chunk(int64_t from, int64_t to, int64_t step, double base) {
  XorChunk c;
  for (int64_t t = from; t <= to; t += step) c.Append(t, base + static_cast<double>(t));
  return MakeOwnedChunk(std::string(c.Bytes()), c.MinTime(), c.MaxTime());
}

std::vector<Sample> ByNext(const std::vector<ChunkRef>& chunks, int64_t it_mint, int64_t it_maxt,
                           int64_t mint, int64_t maxt) {
  MergedSeriesIterator it(chunks, it_mint, it_maxt);
  std::vector<Sample> out;
  if (it.Seek(mint)) {
    do {
      if (it.At().t > maxt) break;
      out.push_back(it.At());
    } while (it.Next());
  }
  EXPECT_TRUE(it.status().ok());
  return out;
}

// ReadRange (bulk decode) yields exactly what Seek + Next yield, for disjoint chunks (the fast
// path) and overlapping ones (the merge), with the iterator's and the call's bounds.
TEST(SeriesIterTest, ReadRangeEqualsSeekNext) {
  const std::vector<std::vector<ChunkRef>> layouts = {
      {},
      {Chunk(0, 1000, 10, 0)},
      {Chunk(0, 1000, 10, 0), Chunk(1010, 2000, 10, 0), Chunk(2010, 3000, 10, 0)},
      {Chunk(2010, 3000, 10, 0), Chunk(0, 1000, 10, 0)},  // unsorted list, disjoint
      {Chunk(0, 1000, 10, 0), Chunk(500, 1500, 5, 7)},    // overlap: first chunk wins ties
      {Chunk(0, 1000, 10, 1), Chunk(0, 1000, 10, 2)},     // duplicates
  };
  struct Bounds {
    int64_t it_mint, it_maxt, mint, maxt;
  };
  const Bounds bounds[] = {
      {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX},
      {0, 3000, 0, 3000},
      {100, 2500, 0, 3000},
      {0, 3000, 995, 1015},
      {0, 3000, 1001, 1009},  // between two chunks: nothing
      {0, 3000, 5000, 6000},
      {1500, 1600, 0, 3000},
  };
  for (size_t l = 0; l < layouts.size(); ++l) {
    for (const Bounds& b : bounds) {
      MergedSeriesIterator it(layouts[l], b.it_mint, b.it_maxt);
      std::vector<Sample> got = {{-1, -1}};  // appends after existing content
      ASSERT_TRUE(it.ReadRange(b.mint, b.maxt, &got, nullptr).ok());
      const std::vector<Sample> want = ByNext(layouts[l], b.it_mint, b.it_maxt, b.mint, b.maxt);
      ASSERT_EQ(got.size(), want.size() + 1) << "layout " << l << " mint " << b.mint;
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i + 1].t, want[i].t) << "layout " << l << " at " << i;
        EXPECT_EQ(got[i + 1].v, want[i].v) << "layout " << l << " at " << i;
      }
    }
  }
}

ChunkRef Packed(const std::vector<Sample>& s) {
  std::string bytes;
  EXPECT_TRUE(EncodePackedChunk(s.data(), s.size(), &bytes));
  ChunkRef c = MakeOwnedChunk(std::move(bytes), s.front().t, s.back().t);
  c.encoding = ChunkEncoding::kPacked;
  return c;
}

std::vector<Sample> Counter(int64_t from, int n, double v0, double step) {
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) s.push_back({from + i * 10, v0 + step * i});
  return s;
}

// ReadRange's facts describe what it returned: a decrease inside a chunk or between two
// chunks (packed or XOR), a NaN anywhere, and only the samples kept in the range count.
TEST(SeriesIterTest, ReadRangeReportsNaNsAndDecreases) {
  struct Case {
    const char* name;
    std::vector<ChunkRef> chunks;
    int64_t mint, maxt;
    bool no_nan, no_decrease;
  };
  std::vector<Sample> with_drop = Counter(1000, 100, 500, 1);
  with_drop[50].v = 1;
  std::vector<Sample> with_nan = Counter(1000, 100, 500, 1);
  with_nan[10].v = StaleNaN();
  XorChunk x;
  for (const Sample& s : with_nan) x.Append(s.t, s.v);
  const ChunkRef xor_nan = MakeOwnedChunk(std::string(x.Bytes()), 1000, 1990);
  const Case cases[] = {
      {"rising packed chunks",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1000, 100, 200, 2))},
       INT64_MIN,
       INT64_MAX,
       true,
       true},
      {"a drop between chunks",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1000, 100, 100, 2))},
       INT64_MIN,
       INT64_MAX,
       true,
       false},
      {"the drop between chunks outside the range",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1000, 100, 100, 2))},
       1000,
       INT64_MAX,
       true,
       true},
      {"a drop inside a packed chunk",
       {Packed(Counter(0, 100, 0, 2)), Packed(with_drop)},
       INT64_MIN,
       INT64_MAX,
       true,
       false},
      {"a drop between a packed and an XOR chunk",
       {Packed(Counter(0, 100, 0, 2)), Chunk(1000, 1990, 10, -5000)},
       INT64_MIN,
       INT64_MAX,
       true,
       false},
      {"rising XOR after packed",
       {Packed(Counter(0, 100, 0, 2)), Chunk(1000, 1990, 10, 0)},
       INT64_MIN,
       INT64_MAX,
       true,
       true},
      {"a NaN in an XOR chunk",
       {Packed(Counter(0, 100, 0, 2)), xor_nan},
       INT64_MIN,
       INT64_MAX,
       false,
       false},
  };
  for (const Case& c : cases) {
    MergedSeriesIterator it(c.chunks, INT64_MIN, INT64_MAX);
    std::vector<Sample> got;
    SampleFacts facts;
    ASSERT_TRUE(it.ReadRange(c.mint, c.maxt, &got, &facts).ok()) << c.name;
    ASSERT_FALSE(got.empty()) << c.name;
    EXPECT_EQ(facts.no_nan, c.no_nan) << c.name;
    if (c.no_nan) {
      EXPECT_EQ(facts.no_decrease, c.no_decrease) << c.name;
    }
  }
}

// ReadRange's interval: set when every returned sample is one step after the one before it,
// across chunks (packed or XOR) and after the range trims them; 0 on any gap or other step.
TEST(SeriesIterTest, ReadRangeReportsTheInterval) {
  std::vector<Sample> jitter = Counter(1000, 100, 500, 1);
  jitter[40].t += 3;
  std::vector<Sample> one = Counter(1000, 1, 500, 1);
  struct Case {
    const char* name;
    std::vector<ChunkRef> chunks;
    int64_t mint, maxt;
    int64_t interval;
  };
  const Case cases[] = {
      {"two packed chunks in a row",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1000, 100, 200, 2))},
       INT64_MIN,
       INT64_MAX,
       10},
      {"a gap between chunks",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1010, 100, 200, 2))},
       INT64_MIN,
       INT64_MAX,
       0},
      {"the gap outside the range",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1010, 100, 200, 2))},
       1010,
       INT64_MAX,
       10},
      {"another step in the second chunk",
       {Packed(Counter(0, 100, 0, 2)), Chunk(1000, 2980, 20, 0)},
       INT64_MIN,
       INT64_MAX,
       0},
      {"XOR after packed, trimmed at both ends",
       {Packed(Counter(0, 100, 0, 2)), Chunk(1000, 1990, 10, 0)},
       455,
       1502,
       10},
      {"one sample kept of the last chunk",
       {Packed(Counter(0, 100, 0, 2)), Packed(Counter(1000, 100, 200, 2))},
       500,
       1000,
       10},
      {"a chunk of one sample", {Packed(Counter(0, 100, 0, 2)), Packed(one)}, 500, INT64_MAX, 10},
      {"a late sample inside a chunk",
       {Packed(Counter(0, 100, 0, 2)), Packed(jitter)},
       INT64_MIN,
       INT64_MAX,
       0},
      {"a single sample", {Packed(Counter(0, 100, 0, 2))}, 500, 500, 0},
  };
  for (const Case& c : cases) {
    MergedSeriesIterator it(c.chunks, INT64_MIN, INT64_MAX);
    std::vector<Sample> got;
    SampleFacts facts;
    ASSERT_TRUE(it.ReadRange(c.mint, c.maxt, &got, &facts).ok()) << c.name;
    ASSERT_FALSE(got.empty()) << c.name;
    EXPECT_EQ(facts.interval, c.interval) << c.name;
    // Whatever it says is true of what it returned.
    for (size_t i = 1; i < got.size() && facts.interval > 0; ++i) {
      ASSERT_EQ(got[i].t - got[i - 1].t, facts.interval) << c.name << " at " << i;
    }
  }
}

TEST(SeriesIterTest, ReadRangeReportsCorruption) {
  ChunkRef good = Chunk(0, 1000, 10, 0);
  std::string truncated(good.data.substr(0, good.data.size() / 2));
  std::vector<ChunkRef> chunks = {MakeOwnedChunk(truncated, 0, 1000)};
  MergedSeriesIterator it(chunks, INT64_MIN, INT64_MAX);
  std::vector<Sample> out;
  EXPECT_EQ(it.ReadRange(INT64_MIN, INT64_MAX, &out, nullptr).code(), Status::Code::kCorruption);

  ChunkRef bad_crc = Chunk(0, 1000, 10, 0);
  bad_crc.check_crc = true;
  bad_crc.crc = 12345;
  MergedSeriesIterator it2({bad_crc}, INT64_MIN, INT64_MAX);
  out.clear();
  EXPECT_EQ(it2.ReadRange(INT64_MIN, INT64_MAX, &out, nullptr).code(), Status::Code::kCorruption);
}

// /api/v1/series' merge of the head's and the blocks' label sets: the sorted union, each set
// once, against std::set on random lists (sets shared between lists, lists empty or not).
TEST(MergeLabelListsTest, SortedUnionOfRandomLists) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<Labels> pool;
    for (int k = 0; k < 40; ++k) {
      std::vector<Label> ls = {{"__name__", "m" + std::to_string(rng() % 3)},
                               {"instance", "h" + std::to_string(rng() % 7)}};
      if (rng() % 2) ls.push_back({"z", std::to_string(rng() % 2)});
      pool.push_back(Labels::FromVector(ls));
    }
    // Separate copies per list, as each block has its own.
    std::vector<std::vector<Labels>> owned(rng() % 6);
    std::set<Labels> want;
    for (auto& l : owned) {
      std::set<Labels> picked;
      const size_t n = rng() % 30;
      for (size_t k = 0; k < n; ++k) picked.insert(pool[rng() % pool.size()]);
      l.assign(picked.begin(), picked.end());
      want.insert(picked.begin(), picked.end());
    }
    std::vector<LabelViewList> lists;
    for (const auto& l : owned) {
      lists.emplace_back();
      for (const auto& x : l) lists.back().Add(x);
    }
    const auto got = MergeLabelLists(lists);
    ASSERT_EQ(got.size(), want.size()) << "round " << round;
    size_t k = 0;
    for (const auto& w : want) {
      EXPECT_EQ(got[k].labels, w) << "round " << round << " entry " << k;
      EXPECT_TRUE(got[k].chunks.empty());
      ++k;
    }
  }
}

// One list of series as a source gives them: labels of their own (the head's) or by reference
// into the list's own symbol table (a block's). Series j's one chunk starts at mint0 + j.
struct TestList {
  TestList(std::vector<Labels> ls, bool by_ref) : labels(std::move(ls)), refs(by_ref) {
    for (const Labels& l : labels) {
      for (const Label& x : l.items()) {
        symbols.push_back(x.name);
        symbols.push_back(x.value);
      }
    }
    syms.resize(symbols.size());
    for (size_t k = 0; k < syms.size(); ++k) syms[k] = static_cast<uint32_t>(k);
  }
  std::vector<SeriesData> Series(int64_t mint0) const {
    std::vector<SeriesData> out;
    size_t at = 0;
    for (size_t j = 0; j < labels.size(); ++j) {
      SeriesData d;
      const int64_t mint = mint0 + static_cast<int64_t>(j);
      d.chunks.push_back(Chunk(mint, mint, 1, 0));
      const size_t n = 2 * labels[j].size();
      if (refs) {
        d.symbols = symbols.data();
        d.label_syms = std::span<const uint32_t>(syms.data() + at, n);
      } else {
        d.labels = labels[j];
      }
      at += n;
      out.push_back(std::move(d));
    }
    return out;
  }
  std::vector<Labels> labels;
  bool refs;
  std::vector<std::string> symbols;
  std::vector<uint32_t> syms;
};

// MergeSeriesLists over lists whose series have labels of their own (the head) or by reference
// into a symbol table (blocks): the sorted union, each series' chunks in list order, labels
// equal to the union's whichever kind the first list holding them had. Labels are chosen so
// that one is a prefix of another ("h1" / "h10", two labels / three).
TEST(MergeSeriesListsTest, OwnAndReferencedLabelsMergeInOrder) {
  std::mt19937 rng(12);
  for (int round = 0; round < 200; ++round) {
    std::vector<Labels> pool;
    for (int k = 0; k < 40; ++k) {
      std::vector<Label> ls = {{"__name__", "m" + std::to_string(rng() % 3)},
                               {"instance", "h1" + std::string(rng() % 2, '0')}};
      if (rng() % 2) ls.push_back({"z", std::to_string(rng() % 2)});
      pool.push_back(Labels::FromVector(ls));
    }
    const size_t n_lists = 1 + rng() % 5;
    std::map<Labels, std::vector<int64_t>> want;  // labels -> chunk mints, in list order
    std::vector<TestList> sources;
    std::vector<std::vector<SeriesData>> lists;
    for (size_t i = 0; i < n_lists; ++i) {
      std::set<Labels> set;
      for (size_t k = rng() % 30; k > 0; --k) set.insert(pool[rng() % pool.size()]);
      sources.emplace_back(std::vector<Labels>(set.begin(), set.end()), rng() % 2 == 0);
    }
    for (size_t i = 0; i < n_lists; ++i) {
      const auto mint0 = static_cast<int64_t>(i * 1000);
      lists.push_back(sources[i].Series(mint0));
      for (size_t j = 0; j < sources[i].labels.size(); ++j) {
        want[sources[i].labels[j]].push_back(mint0 + static_cast<int64_t>(j));
      }
    }
    const auto got = MergeSeriesLists(std::move(lists));
    ASSERT_EQ(got.size(), want.size()) << "round " << round;
    size_t k = 0;
    for (const auto& [labels, mints] : want) {
      EXPECT_EQ(got[k].labels, labels) << "round " << round << " entry " << k;
      EXPECT_EQ(got[k].symbols, nullptr);
      ASSERT_EQ(got[k].chunks.size(), mints.size()) << "round " << round << " entry " << k;
      for (size_t c = 0; c < mints.size(); ++c) EXPECT_EQ(got[k].chunks[c].mint, mints[c]);
      ++k;
    }
  }
}

// A large merge split over two threads gives what one thread gives: the same series in the same
// order with the same chunk lists, whichever list is longest and wherever equal series sit
// around the split (lists of both kinds, overlapping at random, 2,500-6,000 series each).
TEST(MergeSeriesListsTest, SplitMergeEqualsOneThread) {
  std::mt19937 rng(13);
  std::vector<Labels> pool;
  for (int k = 0; k < 8000; ++k) {
    pool.push_back(Labels{{"__name__", "m" + std::to_string(k % 7)},
                          {"instance", "h" + std::to_string(k / 7)},
                          {"z", std::to_string(k % 3)}});
  }
  std::sort(pool.begin(), pool.end());
  for (int round = 0; round < 4; ++round) {
    const size_t n_lists = 2 + rng() % 4;
    std::vector<TestList> sources;
    for (size_t i = 0; i < n_lists; ++i) {
      const size_t want = 2500 + rng() % 3500;
      std::vector<Labels> picked;
      for (size_t k = 0; k < pool.size(); ++k) {
        if (rng() % pool.size() < want) picked.push_back(pool[k]);
      }
      sources.emplace_back(std::move(picked), i % 2 == 1);
    }
    const auto build = [&] {
      std::vector<std::vector<SeriesData>> lists;
      for (size_t i = 0; i < n_lists; ++i) {
        lists.push_back(sources[i].Series(static_cast<int64_t>(i * 100000)));
      }
      return lists;
    };
    const auto one = MergeSeriesLists(build(), 1);
    const auto two = MergeSeriesLists(build(), 2);
    ASSERT_GT(one.size(), 2048U) << "round " << round;
    ASSERT_EQ(one.size(), two.size()) << "round " << round;
    for (size_t k = 0; k < one.size(); ++k) {
      ASSERT_EQ(one[k].labels, two[k].labels) << "round " << round << " entry " << k;
      ASSERT_EQ(one[k].chunks.size(), two[k].chunks.size()) << "round " << round << " entry " << k;
      for (size_t c = 0; c < one[k].chunks.size(); ++c) {
        EXPECT_EQ(one[k].chunks[c].mint, two[k].chunks[c].mint);
      }
      if (k > 0) {
        EXPECT_LT(one[k - 1].labels, one[k].labels) << "round " << round << " entry " << k;
      }
    }
  }
}

}  // namespace
}  // namespace kansoku::tsdb
