#include "tsdb/exemplars.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tsdb/db.h"
#include "tsdb/test_util.h"

namespace kansoku::tsdb {
namespace {

using testing::TempDir;

Labels Series(const std::string& job) { return Labels{{"__name__", "req_total"}, {"job", job}}; }
Exemplar Ex(const std::string& trace, double v, int64_t t) {
  return Exemplar{Labels{{"trace_id", trace}}, v, t};
}
std::vector<Matcher> Eq(const std::string& name, const std::string& value) {
  return {Matcher::Create(MatchType::kEqual, name, value).value()};
}
// Timestamps of every exemplar of every series matching __name__="req_total", in answer order.
std::vector<int64_t> Times(const ExemplarStore& s, int64_t mint = INT64_MIN,
                           int64_t maxt = INT64_MAX) {
  std::vector<int64_t> ts;
  for (const auto& se : s.Select({Eq("__name__", "req_total")}, mint, maxt)) {
    for (const auto& e : se.exemplars) ts.push_back(e.t);
  }
  return ts;
}

TEST(ExemplarStoreTest, RingOverwritesOldestFirst) {
  TempDir dir;
  auto s = ExemplarStore::Open(dir.path(), 3).value();
  for (int i = 1; i <= 5; ++i) {
    const std::string job = i % 2 ? "a" : "b";
    ASSERT_TRUE(s->Add(Series(job), Ex("t" + std::to_string(i), i, i * 1000)).ok());
  }
  // Kept: 3 (a), 4 (b), 5 (a); series sorted by labels, each in time order.
  auto got = s->Select({Eq("__name__", "req_total")}, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].series, Series("a"));
  ASSERT_EQ(got[0].exemplars.size(), 2u);
  EXPECT_EQ(got[0].exemplars[0], Ex("t3", 3, 3000));
  EXPECT_EQ(got[0].exemplars[1], Ex("t5", 5, 5000));
  EXPECT_EQ(got[1].series, Series("b"));
  ASSERT_EQ(got[1].exemplars.size(), 1u);
  EXPECT_EQ(got[1].exemplars[0], Ex("t4", 4, 4000));
  EXPECT_EQ(s->Stats().stored, 3u);
  // A series whose exemplars were all overwritten disappears.
  ASSERT_TRUE(s->Add(Series("c"), Ex("x", 1, 6000)).ok());
  ASSERT_TRUE(s->Add(Series("c"), Ex("y", 1, 7000)).ok());
  ASSERT_TRUE(s->Add(Series("c"), Ex("z", 1, 8000)).ok());
  got = s->Select({Eq("__name__", "req_total")}, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].series, Series("c"));
  EXPECT_EQ(s->Stats().series, 1u);
  // Time range and matchers select.
  EXPECT_EQ(Times(*s, 6500, 7500), std::vector<int64_t>{7000});
  EXPECT_TRUE(s->Select({Eq("job", "a")}, INT64_MIN, INT64_MAX).empty());
  std::vector<Matcher> both = Eq("job", "a");
  both.push_back(Eq("job", "c")[0]);
  EXPECT_TRUE(s->Select({both}, INT64_MIN, INT64_MAX).empty());  // all of a set
  EXPECT_EQ(s->Select({Eq("job", "a"), Eq("job", "c")}, INT64_MIN, INT64_MAX).size(), 1u);  // any
}

TEST(ExemplarStoreTest, DuplicatesDroppedOutOfOrderRefused) {
  TempDir dir;
  auto s = ExemplarStore::Open(dir.path(), 10).value();
  ASSERT_TRUE(s->Add(Series("a"), Ex("t1", 1, 1000)).ok());
  EXPECT_TRUE(s->Add(Series("a"), Ex("t1", 1, 1000)).ok());  // duplicate: silently dropped
  Status st = s->Add(Series("a"), Ex("t0", 1, 500));
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("out of order exemplar"), std::string::npos) << st.message();
  // Same timestamp, other value: out of order, as Prometheus.
  EXPECT_FALSE(s->Add(Series("a"), Ex("t1", 2, 1000)).ok());
  EXPECT_FALSE(s->Check(Series("a"), Ex("t0", 1, 999)).ok());
  EXPECT_TRUE(s->Check(Series("a"), Ex("t1", 1, 1000)).ok());  // a duplicate is not an error
  // Other series are independent.
  EXPECT_TRUE(s->Add(Series("b"), Ex("t0", 1, 500)).ok());
  const ExemplarStats stats = s->Stats();
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_EQ(stats.out_of_order, 2u);
  EXPECT_EQ(stats.appended, 2u);
  EXPECT_EQ(Times(*s), (std::vector<int64_t>{1000, 500}));
}

TEST(ExemplarStoreTest, LabelRuneLimit) {
  TempDir dir;
  auto s = ExemplarStore::Open(dir.path(), 10).value();
  // "trace_id" is 8 runes; 120 more = 128: accepted. Runes, not bytes: "é" is 2 bytes.
  std::string v;
  for (int i = 0; i < 120; ++i) v += "\xc3\xa9";
  EXPECT_TRUE(s->Add(Series("a"), Ex(v, 1, 1000)).ok());
  Status st = s->Add(Series("a"), Ex(v + "x", 1, 2000));
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("129 runes, more than the limit of 128"), std::string::npos)
      << st.message();
  EXPECT_FALSE(s->Add(Series("a"), Ex("\xff", 1, 3000)).ok());  // not UTF-8
  EXPECT_EQ(s->Stats().invalid, 2u);
  EXPECT_EQ(Times(*s), std::vector<int64_t>{1000});
}

TEST(ExemplarStoreTest, ReplayAfterTornTail) {
  TempDir dir;
  {
    auto s = ExemplarStore::Open(dir.path(), 10).value();
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(s->Add(Series("a"), Ex("t", i, i * 1000)).ok());
  }
  const std::string log = dir.path() + "/log";
  const auto size = std::filesystem::file_size(log);
  std::filesystem::resize_file(log, size - 3);  // the last record is torn
  {
    auto s = ExemplarStore::Open(dir.path(), 10).value();
    EXPECT_EQ(Times(*s), (std::vector<int64_t>{1000, 2000, 3000}));
    EXPECT_EQ(s->Stats().torn_tails_truncated, 1u);
    EXPECT_EQ(s->Stats().replayed, 3u);
    // Appends after the truncated tail replay too.
    ASSERT_TRUE(s->Add(Series("a"), Ex("t", 9, 9000)).ok());
  }
  {
    // Garbage appended (a corrupt record) is dropped the same way.
    std::ofstream(log, std::ios::app) << "garbage that is not a record";
    auto s = ExemplarStore::Open(dir.path(), 10).value();
    EXPECT_EQ(Times(*s), (std::vector<int64_t>{1000, 2000, 3000, 9000}));
    EXPECT_EQ(s->Stats().torn_tails_truncated, 1u);
  }
  auto s = ExemplarStore::Open(dir.path(), 10).value();
  EXPECT_EQ(s->Stats().torn_tails_truncated, 0u);
  auto got = s->Select({Eq("job", "a")}, INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].exemplars.back(), Ex("t", 9, 9000));
}

TEST(ExemplarStoreTest, LogRewrittenBeyondTwiceCapacity) {
  TempDir dir;
  const std::string log = dir.path() + "/log";
  {
    auto s = ExemplarStore::Open(dir.path(), 4).value();
    for (int i = 1; i <= 8; ++i) ASSERT_TRUE(s->Add(Series("a"), Ex("t", i, i * 1000)).ok());
    EXPECT_EQ(s->Stats().log_rewrites, 0u);
    EXPECT_EQ(s->Stats().log_records, 8u);
    const auto before = std::filesystem::file_size(log);
    ASSERT_TRUE(s->Add(Series("a"), Ex("t", 9, 9000)).ok());  // 9 > 2 x 4: rewrite
    EXPECT_EQ(s->Stats().log_rewrites, 1u);
    EXPECT_EQ(s->Stats().log_records, 4u);
    EXPECT_LT(std::filesystem::file_size(log), before);
    ASSERT_TRUE(s->Add(Series("b"), Ex("t", 10, 10000)).ok());  // appends to the new file
  }
  auto s = ExemplarStore::Open(dir.path(), 4).value();
  EXPECT_EQ(s->Stats().replayed, 5u);
  EXPECT_EQ(Times(*s), (std::vector<int64_t>{7000, 8000, 9000, 10000}));
  EXPECT_FALSE(std::filesystem::exists(log + ".tmp"));
  // A smaller capacity on restart keeps the newest and rewrites at once.
  s.reset();
  s = ExemplarStore::Open(dir.path(), 2).value();
  EXPECT_EQ(Times(*s), (std::vector<int64_t>{9000, 10000}));
  EXPECT_EQ(s->Stats().log_rewrites, 1u);
}

TEST(ExemplarStoreTest, RecordDecoderRejectsTruncation) {
  const std::string rec = EncodeExemplarRecord(Series("a"), Ex("t", 1.5, -7));
  Labels series;
  Exemplar e;
  ASSERT_TRUE(DecodeExemplarRecord(rec, &series, &e).ok());
  EXPECT_EQ(series, Series("a"));
  EXPECT_EQ(e, Ex("t", 1.5, -7));
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(DecodeExemplarRecord(rec.substr(0, n), &series, &e).ok()) << n;
  }
}

TEST(DBExemplarTest, CommitMakesExemplarsDurable) {
  TempDir dir;
  DBOptions o;
  o.background = false;
  o.max_exemplars = 10;
  o.checkpoint_on_close = false;
  {
    auto db = DB::Open(o, dir.path()).value();
    auto app = db->NewAppender();
    ASSERT_TRUE(app->Append(Series("a"), 1000, 1).ok());
    ASSERT_TRUE(app->AppendExemplar(Series("a"), Ex("t1", 1, 1000)).ok());
    ASSERT_TRUE(app->AppendExemplar(Series("a"), Ex("t1", 1, 1000)).ok());  // duplicate
    EXPECT_FALSE(app->AppendExemplar(Series("a"), Ex("t0", 1, 900)).ok());  // in this batch
    EXPECT_TRUE(db->SelectExemplars({Eq("job", "a")}, 0, 5000).empty());    // not committed
    ASSERT_TRUE(app->Commit().ok());
    EXPECT_EQ(db->SelectExemplars({Eq("job", "a")}, 0, 5000).size(), 1u);
    auto app2 = db->NewAppender();
    EXPECT_FALSE(app2->AppendExemplar(Series("a"), Ex("t0", 1, 900)).ok());  // vs the store
    ASSERT_TRUE(app2->AppendExemplar(Series("b"), Ex("t2", 2, 2000)).ok());  // no sample needed
    app2->Rollback();
    auto app3 = db->NewAppender();
    ASSERT_TRUE(app3->AppendExemplar(Series("a"), Ex("t3", 3, 3000)).ok());
    ASSERT_TRUE(app3->Commit().ok());  // exemplars only
  }
  auto db = DB::Open(o, dir.path()).value();
  auto got = db->SelectExemplars({Eq("__name__", "req_total")}, 0, 5000);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].exemplars.size(), 2u);
  EXPECT_EQ(got[0].exemplars[0], Ex("t1", 1, 1000));
  EXPECT_EQ(got[0].exemplars[1], Ex("t3", 3, 3000));
  // Off: dropped without error.
  o.max_exemplars = 0;
  db.reset();
  db = DB::Open(o, dir.path()).value();
  auto app = db->NewAppender();
  EXPECT_TRUE(app->AppendExemplar(Series("a"), Ex("t4", 4, 4000)).ok());
  EXPECT_TRUE(app->Commit().ok());
  EXPECT_TRUE(db->SelectExemplars({Eq("job", "a")}, 0, 5000).empty());
}

}  // namespace
}  // namespace kansoku::tsdb
