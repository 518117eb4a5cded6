#include "tsdb/head.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace kansoku::tsdb {
namespace {

Matcher Eq(std::string n, std::string v) {
  return Matcher::Create(MatchType::kEqual, std::move(n), std::move(v)).value();
}

std::vector<Sample> ReadAll(const SeriesData& d, int64_t mint = INT64_MIN,
                            int64_t maxt = INT64_MAX) {
  MergedSeriesIterator it(d.chunks, mint, maxt);
  std::vector<Sample> out;
  while (it.Next()) out.push_back(it.At());
  EXPECT_TRUE(it.status().ok());
  return out;
}

std::shared_ptr<MemSeries> Get(Head& h, const Labels& l) {
  auto r = h.GetOrCreatePinned(l);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  h.Unpin(r->get());
  return *r;
}

uint64_t ConstantHash(const Labels&) { return 42; }

// Samples as (t, value bits) pairs, for exact comparisons.
std::vector<std::pair<int64_t, uint64_t>> Exact(const std::vector<Sample>& in) {
  std::vector<std::pair<int64_t, uint64_t>> out;
  for (const Sample& s : in) {
    uint64_t b;
    std::memcpy(&b, &s.v, sizeof b);
    out.emplace_back(s.t, b);
  }
  return out;
}

TEST(HeadTest, HashCollisionsKeepSeriesApart) {
  HeadOptions o;
  o.hash_fn = ConstantHash;
  Head h(o);
  Labels a{{"__name__", "m"}, {"i", "a"}}, b{{"__name__", "m"}, {"i", "b"}};
  auto sa = Get(h, a), sb = Get(h, b);
  EXPECT_NE(sa->ref(), sb->ref());
  EXPECT_EQ(Get(h, a).get(), sa.get());
  ASSERT_TRUE(h.Append(*sa, 1000, 1).ok());
  ASSERT_TRUE(h.Append(*sb, 1000, 2).ok());
  auto got = h.Select({Eq("i", "b")}, 0, 10000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].labels, b);
  EXPECT_EQ(ReadAll((*got)[0])[0].v, 2);
}

// Series created in random order come back from Select in label order, each with its own
// samples (a value that names the series), and series without samples in range left out.
TEST(HeadTest, SelectReturnsSeriesInLabelOrderWithTheirOwnSamples) {
  Head h(HeadOptions{});
  std::mt19937 rng(5);
  std::map<Labels, double> want;  // std::map: ordered by Labels' operator<
  std::set<Labels> seen;
  for (int i = 0; i < 300; ++i) {
    Labels l{{"__name__", "m"},
             {"host", "h" + std::to_string(rng() % 40)},
             {"dev", std::string(rng() % 20, 'd') + std::to_string(rng() % 7)}};
    if (!seen.insert(l).second) continue;
    const bool in_range = rng() % 5 != 0;
    auto s = Get(h, l);
    ASSERT_TRUE(h.Append(*s, in_range ? 5000 : 50, static_cast<double>(i)).ok());
    if (in_range) want[l] = i;
  }
  auto got = h.Select({Eq("__name__", "m")}, 1000, 10000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), want.size());
  size_t k = 0;
  for (const auto& [labels, v] : want) {
    const SeriesData& d = (*got)[k++];
    ASSERT_EQ(d.labels, labels) << k;
    const auto samples = ReadAll(d);
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(samples[0].v, v) << labels.ToString();
  }
}

// Ranked series (RefreshLabelOrder) sort by rank, newer ones by labels, merged: every way the
// head hands out series in label order gives exactly the order std::map gives, before the first
// ranking, with new series between ranked ones, and after ranking again.
TEST(HeadTest, LabelOrderRanksGiveTheSameOrderAsComparingLabels) {
  Head h(HeadOptions{});
  std::mt19937 rng(11);
  std::map<Labels, double> want;
  auto add = [&](int n) {
    for (int i = 0; i < n; ++i) {
      Labels l{{"__name__", "m"},
               {"host", "h" + std::to_string(rng() % 50)},
               {"dev", std::string(rng() % 9, 'd') + std::to_string(rng() % 11)}};
      if (want.count(l)) continue;
      auto s = Get(h, l);
      const double v = static_cast<double>(want.size());
      ASSERT_TRUE(h.Append(*s, 5000, v).ok());
      want[l] = v;
    }
  };
  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    auto sel = h.Select({Eq("__name__", "m")}, 0, 10000);
    ASSERT_TRUE(sel.ok());
    auto lab = h.SelectLabels({Eq("__name__", "m")}, 0, 10000);
    ASSERT_TRUE(lab.ok());
    const auto all = h.SnapshotAll(0, 10000);
    std::vector<Labels> each;
    ASSERT_TRUE(h.ForEachSnapshot(0, 10000, [&](const Labels& l, std::vector<ChunkRef>) {
                   each.push_back(l);
                   return Status::Ok();
                 }).ok());
    ASSERT_EQ(sel->size(), want.size());
    ASSERT_EQ(h.Matching({Eq("__name__", "m")})->size(), want.size());
    ASSERT_EQ(lab->size(), want.size());
    ASSERT_EQ(all.size(), want.size());
    ASSERT_EQ(each.size(), want.size());
    size_t k = 0;
    for (const auto& [labels, v] : want) {
      ASSERT_EQ((*sel)[k].labels, labels) << k;
      EXPECT_EQ(ReadAll((*sel)[k])[0].v, v) << k;
      ASSERT_EQ((*lab)[k]->labels(), labels) << k;
      ASSERT_EQ(all[k].labels, labels) << k;
      ASSERT_EQ(each[k], labels) << k;
      ++k;
    }
  };
  add(200);
  check("nothing ranked");
  EXPECT_TRUE(h.RefreshLabelOrder(0));
  EXPECT_FALSE(h.RefreshLabelOrder(0));  // no series created since
  check("all ranked");
  add(150);  // between the ranked ones
  check("ranked and new");
  // The next ranking waits 100x the last one's duration.
  bool ranked = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(ranked = h.RefreshLabelOrder(0)) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(ranked);
  check("ranked again");
  add(40);
  check("ranked again, then more new");
}

TEST(HeadTest, ClosedChunksKeepTheSmallerEncodingAndReadBack) {
  HeadOptions o;
  o.samples_per_chunk = 120;
  o.ooo_window_ms = 3600 * 1000;
  Head h(o);
  // A gauge with two decimals (packed is smaller) and one of computed floats (XOR stays).
  Labels a{{"__name__", "decimal"}}, b{{"__name__", "computed"}};
  auto sa = Get(h, a), sb = Get(h, b);
  std::vector<Sample> want_a, want_b;
  for (int i = 0; i < 300; ++i) {
    const int64_t t = 1000 + i * 15000;
    want_a.push_back({t, (i % 17) * 0.25 + 3.5});
    want_b.push_back({t, std::sin(i * 0.1) / 3});
    ASSERT_TRUE(h.Append(*sa, t, want_a.back().v).ok());
    ASSERT_TRUE(h.Append(*sb, t, want_b.back().v).ok());
  }
  auto got = h.Select({Eq("__name__", "decimal")}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  ASSERT_EQ((*got)[0].chunks.size(), 3u);  // two closed (120 samples each) + the open one
  EXPECT_EQ((*got)[0].chunks[0].encoding, ChunkEncoding::kPacked);
  EXPECT_EQ((*got)[0].chunks[2].encoding, ChunkEncoding::kXor);
  EXPECT_EQ(Exact(ReadAll((*got)[0])), Exact(want_a));
  got = h.Select({Eq("__name__", "computed")}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].chunks[0].encoding, ChunkEncoding::kXor);
  EXPECT_EQ(Exact(ReadAll((*got)[0])), Exact(want_b));
  // Re-appending a sample of a packed closed chunk (within the out-of-order window) is a no-op;
  // another value at its timestamp is refused.
  bool noop = false;
  EXPECT_TRUE(h.Append(*sa, want_a[200].t, want_a[200].v, &noop).ok());
  EXPECT_TRUE(noop);
  EXPECT_FALSE(h.Append(*sa, want_a[200].t, want_a[200].v + 1).ok());
  got = h.Select({Eq("__name__", "decimal")}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Exact(ReadAll((*got)[0])), Exact(want_a));
}

TEST(HeadTest, AppendRules) {
  struct Step {
    int64_t t;
    double v;
    bool ok;
    const char* error_part;
  };
  struct Case {
    const char* name;
    int64_t window;
    std::vector<Step> steps;
    std::vector<int64_t> want_times;
  };
  const std::vector<Case> cases = {
      {"in_order", 0, {{1000, 1, true, ""}, {2000, 2, true, ""}}, {1000, 2000}},
      {"ooo_rejected",
       0,
       {{2000, 1, true, ""},
        {1000, 2, false, "out of order sample: series m{i=\"x\"} at timestamp 1000"}},
       {2000}},
      {"dup_same_value_noop", 0, {{1000, 1, true, ""}, {1000, 1, true, ""}}, {1000}},
      {"dup_other_value", 0, {{1000, 1, true, ""}, {1000, 2, false, "duplicate sample"}}, {1000}},
      {"ooo_in_window",
       5000,
       {{10000, 1, true, ""},
        {7000, 2, true, ""},
        {4000, 3, false, "window 5000 ms"},
        {8000, 4, true, ""},
        {7000, 2, true, ""},
        {7000, 9, false, "duplicate"}},
       {7000, 8000, 10000}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    HeadOptions o;
    o.ooo_window_ms = c.window;
    Head h(o);
    Labels l{{"__name__", "m"}, {"i", "x"}};
    auto s = Get(h, l);
    for (const auto& st : c.steps) {
      Status got = h.Append(*s, st.t, st.v);
      EXPECT_EQ(got.ok(), st.ok) << st.t << " " << got.ToString();
      if (!st.ok) {
        EXPECT_NE(got.message().find(st.error_part), std::string::npos) << got.message();
      }
    }
    std::vector<int64_t> times;
    for (const auto& smp : h.SamplesOf(*s)) times.push_back(smp.t);
    EXPECT_EQ(times, c.want_times);
  }
}

// AppendRun (a commit's samples of one series under one lock) gives what Append one sample at a
// time gives: the same stored samples, chunks, counters, time bounds, refusals and first error.
TEST(HeadTest, AppendRunEqualsAppendOneByOne) {
  std::vector<Sample> in;
  for (int i = 0; i < 300; ++i) in.push_back({1000 + i * 500, i * 0.25});  // cuts chunks
  in.push_back({1000 + 299 * 500, 299 * 0.25});                            // exact duplicate
  in.push_back({1000 + 299 * 500, 1.0});           // duplicate timestamp, other value
  in.push_back({1000 + 299 * 500 - 250, 7.0});     // out of order, inside the window
  in.push_back({1000, 5.0});                       // out of order, outside the window
  in.push_back({1000 + 299 * 500 - 250, 7.0});     // the out-of-order one again: no-op
  in.push_back({1000 + 400 * 500, std::nan("")});  // in order again
  HeadOptions o;
  o.ooo_window_ms = 10000;
  o.chunk_range_ms = 60000;
  Labels l{{"__name__", "m"}, {"i", "x"}};
  Head one(o);
  auto s1 = Get(one, l);
  size_t refused = 0;
  Status first;
  for (const Sample& smp : in) {
    Status st = one.Append(*s1, smp.t, smp.v);
    if (!st.ok()) {
      ++refused;
      if (first.ok()) first = st;
    }
  }
  ASSERT_EQ(refused, 2u);
  Head run(o);
  auto s2 = Get(run, l);
  Status run_first;
  EXPECT_EQ(run.AppendRun(*s2, in.data(), 100, &run_first), 0u);  // in two runs
  EXPECT_EQ(run.AppendRun(*s2, in.data() + 100, in.size() - 100, &run_first), refused);
  EXPECT_EQ(run_first.message(), first.message());
  EXPECT_EQ(Exact(run.SamplesOf(*s2)), Exact(one.SamplesOf(*s1)));
  EXPECT_EQ(run.Stats().samples_appended, one.Stats().samples_appended);
  EXPECT_EQ(run.Stats().ooo_samples_appended, one.Stats().ooo_samples_appended);
  EXPECT_EQ(run.Stats().chunks, one.Stats().chunks);
  EXPECT_GT(one.Stats().chunks, 2u);
  EXPECT_EQ(run.MinTime(), one.MinTime());
  EXPECT_EQ(run.MaxTime(), one.MaxTime());
  EXPECT_EQ(run.TakeMinAppendedTime(), one.TakeMinAppendedTime());
  EXPECT_EQ(run.AppendRun(*s2, in.data(), 0, nullptr), 0u);  // empty run: nothing
}

TEST(HeadTest, ChunksCutAtSampleCountAndRangeBoundary) {
  HeadOptions o;
  o.chunk_range_ms = 100000;
  Head h(o);
  auto s = Get(h, Labels{{"__name__", "m"}});
  for (int i = 0; i < 250; ++i) ASSERT_TRUE(h.Append(*s, i * 10, i).ok());  // t < 2500
  EXPECT_EQ(h.Stats().chunks, 3u);                                          // 120 + 120 + 10
  ASSERT_TRUE(h.Append(*s, 100000, 1).ok());  // crosses the boundary: new chunk
  EXPECT_EQ(h.Stats().chunks, 4u);
  auto got = h.Select({Eq("__name__", "m")}, 0, 200000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].chunks.size(), 4u);
  EXPECT_EQ(ReadAll((*got)[0]).size(), 251u);
  EXPECT_EQ(ReadAll((*got)[0], 995, 1005).size(), 1u);
}

// A series' closed chunks are one list rebuilt on each cut and truncation: snapshots taken
// before keep reading what they saw, and a truncation keeps exactly the chunks outside the range.
TEST(HeadTest, SnapshotsSurviveCutsAndPartialTruncation) {
  HeadOptions o;
  o.chunk_range_ms = 1000;
  o.samples_per_chunk = 4;
  o.ooo_window_ms = 10000;
  Head h(o);
  auto s = Get(h, Labels{{"__name__", "m"}});
  std::vector<Sample> want;
  for (int i = 0; i < 30; ++i) {  // t 0..2900: ranges [0,1000) [1000,2000) [2000,3000)
    want.push_back({i * 100, i * 0.5});
    ASSERT_TRUE(h.Append(*s, want.back().t, want.back().v).ok());
  }
  auto before = h.Select({Eq("__name__", "m")}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ((*before)[0].chunks.size(), 9u);  // 3 ranges x (4 + 4 + 2): 8 closed + the open
  for (int i = 30; i < 40; ++i) ASSERT_TRUE(h.Append(*s, i * 100, i * 0.5).ok());  // more cuts
  EXPECT_EQ(h.Truncate(1000, 2000), 0u);
  EXPECT_EQ(Exact(ReadAll((*before)[0])), Exact(want));  // the old snapshot, unchanged
  auto after = h.Select({Eq("__name__", "m")}, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(after.ok());
  std::vector<Sample> kept;
  for (int i = 0; i < 40; ++i) {
    if (i < 10 || i >= 20) kept.push_back({i * 100, i * 0.5});
  }
  EXPECT_EQ(Exact(ReadAll((*after)[0])), Exact(kept));
  EXPECT_EQ(h.Stats().chunks, 9u);  // [0,1000): 3, [2000,3000): 3, [3000,4000): 3 (open last)
  // Samples of kept closed chunks are still found: a re-append is a no-op, another value refused.
  for (int i : {0, 5, 21, 26}) {
    bool noop = false;
    EXPECT_TRUE(h.Append(*s, i * 100, i * 0.5, &noop).ok()) << i;
    EXPECT_TRUE(noop) << i;
    EXPECT_FALSE(h.Append(*s, i * 100, i * 0.5 + 1).ok()) << i;
  }
}

TEST(HeadTest, TruncateDropsOldDataAndEmptySeries) {
  HeadOptions o;
  o.chunk_range_ms = 1000;
  Head h(o);
  auto old_s = Get(h, Labels{{"__name__", "old"}});
  auto new_s = Get(h, Labels{{"__name__", "new"}});
  ASSERT_TRUE(h.Append(*old_s, 100, 1).ok());
  ASSERT_TRUE(h.Append(*new_s, 500, 1).ok());
  ASSERT_TRUE(h.Append(*new_s, 1500, 2).ok());
  EXPECT_EQ(h.Truncate(0, 1000), 1u);
  EXPECT_EQ(h.MinValidTime(), 1000);
  EXPECT_EQ(h.Stats().series, 1u);
  EXPECT_EQ(h.MinTime(), 1500);
  EXPECT_FALSE(h.Select({Eq("__name__", "old")}, 0, 5000)->size());
  EXPECT_EQ(h.LabelValues("__name__"), std::vector<std::string>{"new"});
  // Below the persisted bound, the series' own newest sample decides: "new" has 1500.
  Status st = h.Append(*new_s, 900, 3);
  EXPECT_NE(st.message().find("out of order"), std::string::npos) << st.ToString();
  // A series with nothing newer takes backfill below the bound (and "old" comes back).
  auto bf = Get(h, Labels{{"__name__", "bf"}});
  ASSERT_TRUE(h.Append(*bf, 200, 1).ok());
  ASSERT_TRUE(h.Append(*bf, 300, 2).ok());
  ASSERT_TRUE(h.Append(*Get(h, Labels{{"__name__", "old"}}), 100, 1).ok());
  EXPECT_EQ(h.MinTime(), 100);
  // Pinned series survive truncation; only [lo, hi) is dropped.
  auto pinned = h.GetOrCreatePinned(Labels{{"__name__", "pinned"}});
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(h.Truncate(1000, 2000), 1u);  // "new" goes; "pinned", "bf" and "old" stay
  EXPECT_EQ(h.Stats().series, 3u);
  EXPECT_EQ(h.MinTime(), 100);
  EXPECT_EQ(h.Select({Eq("__name__", "bf")}, 0, 5000)->size(), 1u);
  EXPECT_EQ(h.Truncate(0, 1000), 2u);  // the backfill range, persisted later
  EXPECT_EQ(h.MinValidTime(), 2000);   // never lowered
  EXPECT_EQ(h.Stats().series, 1u);
  h.Unpin(pinned->get());
}

TEST(HeadTest, ConcurrentAppendersAndReaders) {
  Head h(HeadOptions{});
  constexpr int kThreads = 4, kSeries = 50, kSamples = 200;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto r = h.Select({Eq("__name__", "c")}, 0, INT64_MAX);
      ASSERT_TRUE(r.ok());
      for (const auto& d : *r) {
        auto samples = ReadAll(d);
        for (size_t i = 1; i < samples.size(); ++i) ASSERT_LT(samples[i - 1].t, samples[i].t);
      }
    }
  });
  std::vector<std::thread> writers;
  writers.reserve(kThreads);
  for (int w = 0; w < kThreads; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kSeries; ++i) {
        auto s = h.GetOrCreatePinned(
            Labels{{"__name__", "c"}, {"w", std::to_string(w)}, {"i", std::to_string(i)}});
        ASSERT_TRUE(s.ok());
        for (int t = 1; t <= kSamples; ++t) ASSERT_TRUE(h.Append(**s, t, t).ok());
        h.Unpin(s->get());
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(h.Stats().series, static_cast<uint64_t>(kThreads * kSeries));
  EXPECT_EQ(h.Stats().samples_appended, static_cast<uint64_t>(kThreads * kSeries * kSamples));
}

}  // namespace
}  // namespace kansoku::tsdb
