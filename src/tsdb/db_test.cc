#include "tsdb/db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "tsdb/test_util.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {
namespace {

using testing::TempDir;

Matcher M(MatchType t, std::string n, std::string v) {
  return Matcher::Create(t, std::move(n), std::move(v)).value();
}
Matcher Eq(std::string n, std::string v) {
  return M(MatchType::kEqual, std::move(n), std::move(v));
}

DBOptions TestOptions() {
  DBOptions o;
  o.background = false;
  o.wal_fsync_interval_ms = 0;
  return o;
}

// labels.ToString() -> samples, for everything matching.
std::map<std::string, std::vector<Sample>> Query(DB& db, const std::vector<Matcher>& ms,
                                                 int64_t mint = INT64_MIN,
                                                 int64_t maxt = INT64_MAX) {
  std::map<std::string, std::vector<Sample>> out;
  auto q = db.NewQuerier(mint, maxt);
  EXPECT_TRUE(q.ok());
  auto set = (*q)->Select(ms, SelectHints{});
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  if (!set.ok()) return out;
  std::string prev;
  while ((*set)->Next()) {
    const std::string key = (*set)->labels().ToString();
    EXPECT_LT(prev, key);  // sorted by labels (these test label sets sort like their strings)
    prev = key;
    auto it = (*set)->Iterator();
    auto& v = out[key];
    while (it->Next()) v.push_back(it->At());
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
  return out;
}

Labels L(const std::string& name, const std::string& inst) {
  return Labels{{"__name__", name}, {"instance", inst}};
}

TEST(DBTest, AppendQueryAndErrors) {
  TempDir dir;
  auto db = DB::Open(TestOptions(), dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto app = (*db)->NewAppender();
  ASSERT_TRUE(app->Append(L("up", "a"), 1000, 1).ok());
  ASSERT_TRUE(app->Append(L("up", "b"), 1000, 0).ok());
  ASSERT_TRUE(app->Append(L("up", "a"), 2000, 1).ok());
  ASSERT_TRUE(app->Append(L("load", "a"), 1000, 0.5).ok());
  EXPECT_FALSE(app->Append(Labels{{"__name__", std::string("bad\xff")}}, 1000, 1).ok());
  Status ooo = app->Append(L("up", "a"), 1500, 1);
  EXPECT_NE(ooo.message().find("out of order sample: series up{instance=\"a\"} at timestamp 1500 "
                               "is older than its newest sample at 2000"),
            std::string::npos)
      << ooo.ToString();
  ASSERT_TRUE(app->UpdateMetadata("up", {MetricType::kGauge, "target is up", ""}).ok());
  ASSERT_TRUE(app->Commit().ok());

  // Invisible before commit, visible after; rollback discards.
  auto app2 = (*db)->NewAppender();
  ASSERT_TRUE(app2->Append(L("up", "c"), 1000, 1).ok());
  app2->Rollback();

  auto got = Query(**db, {Eq("__name__", "up")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got["up{instance=\"a\"}"].size(), 2u);
  EXPECT_EQ(got["up{instance=\"b\"}"][0].v, 0);
  EXPECT_EQ(Query(**db, {Eq("__name__", "up")}, 1500, 3000)["up{instance=\"a\"}"].size(), 1u);

  auto q = (*db)->NewQuerier(0, 10000);
  ASSERT_TRUE(q.ok());
  auto names = (*q)->LabelValues("__name__", {});
  ASSERT_TRUE(names.ok());
  // "up{c}" exists in the index (created, rolled back) but has no samples.
  EXPECT_EQ(*names, (std::vector<std::string>{"load", "up"}));
  auto inst = (*q)->LabelValues("instance", {Eq("__name__", "up")});
  EXPECT_EQ(*inst, (std::vector<std::string>{"a", "b"}));
  auto all_empty = (*q)->Select({M(MatchType::kRegexMatch, "job", ".*")}, SelectHints{});
  EXPECT_EQ(all_empty.status().code(), Status::Code::kInvalidArgument);

  auto md = (*db)->Metadata("up", 0);
  ASSERT_EQ(md.size(), 1u);
  EXPECT_EQ(md[0].second.type, MetricType::kGauge);
  const DBStats st = (*db)->Stats();
  EXPECT_EQ(st.samples_appended, 4u);
  EXPECT_EQ(st.samples_rejected, 2u);
}

TEST(DBTest, SecondOpenOfSameDirectoryIsRefused) {
  TempDir dir;
  auto db = DB::Open(TestOptions(), dir.path());
  ASSERT_TRUE(db.ok());
  auto second = DB::Open(TestOptions(), dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
  db = Result<std::unique_ptr<DB>>(Status::Internal("closed"));
  EXPECT_TRUE(DB::Open(TestOptions(), dir.path()).ok());
}

void ReopenReplaysWal(bool checkpoint_on_close) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.checkpoint_on_close = checkpoint_on_close;
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    for (int b = 0; b < 10; ++b) {
      auto app = (*db)->NewAppender();
      for (int s = 0; s < 20; ++s) {
        ASSERT_TRUE(app->Append(L("m", std::to_string(s)), b * 15000, b + s).ok());
      }
      ASSERT_TRUE(app->UpdateMetadata("m", {MetricType::kCounter, "h", "bytes"}).ok());
      ASSERT_TRUE(app->Commit().ok());
    }
    auto app = (*db)->NewAppender();
    ASSERT_TRUE(app->Append(L("m", "stale"), 1000, StaleNaN()).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  // Closed cleanly: with a checkpoint the WAL is the checkpoint (chunk records) and one empty
  // segment; without, the raw segments.
  size_t checkpoints = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/wal")) {
    checkpoints += e.path().filename().string().starts_with("checkpoint.");
  }
  EXPECT_EQ(checkpoints, checkpoint_on_close ? 1u : 0u);
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto got = Query(**db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), 21u);
  for (int s = 0; s < 20; ++s) {
    const auto& v = got["m{instance=\"" + std::to_string(s) + "\"}"];
    ASSERT_EQ(v.size(), 10u);
    EXPECT_EQ(v[9].t, 9 * 15000);
    EXPECT_EQ(v[9].v, 9 + s);
  }
  EXPECT_TRUE(IsStaleNaN(got["m{instance=\"stale\"}"][0].v));
  EXPECT_EQ((*db)->Metadata("m", 0)[0].second.unit, "bytes");
  // New series after reopen get fresh refs, old ones keep theirs: appends keep working.
  auto app = (*db)->NewAppender();
  ASSERT_TRUE(app->Append(L("m", "0"), 10 * 15000, 1).ok());
  ASSERT_TRUE(app->Append(L("m", "new"), 1, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(Query(**db, {Eq("__name__", "m")}).size(), 22u);
}

TEST(DBTest, ReopenReplaysWal) {
  for (bool checkpoint : {false, true}) {
    SCOPED_TRACE(checkpoint ? "checkpoint on close" : "raw segments");
    ReopenReplaysWal(checkpoint);
  }
}

// The close's checkpoint encodes groups of 512 series on two threads and writes them in order;
// the head's samples are decoded chunk by chunk, or merged when a series has out-of-order ones.
// Every sample of every series comes back: three groups (two in parallel, one alone), series
// with closed and open chunks, and out-of-order samples.
TEST(DBTest, CheckpointAtCloseKeepsEverySampleOfEveryGroup) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.out_of_order_window_ms = 3600 * 1000;
  constexpr int kSeries = 1300, kSamples = 250;
  auto value = [](int s, int i) { return s * 0.5 + (i % 7 == 0 ? 1e300 : i * 0.01); };
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    for (int i = 0; i < kSamples; ++i) {
      auto app = (*db)->NewAppender();
      for (int s = 0; s < kSeries; ++s) {
        // Every 100th series writes its odd samples late (after the next even one).
        int64_t step = i;
        if (s % 100 == 0 && i % 2 == 0 && i + 1 < kSamples) step = i + 1;
        if (s % 100 == 0 && i % 2 == 1) step = i - 1;
        ASSERT_TRUE(app->Append(L("m", std::to_string(s)), step * 15000, value(s, step)).ok());
      }
      ASSERT_TRUE(app->Commit().ok());
    }
  }
  size_t checkpoints = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/wal")) {
    checkpoints += e.path().filename().string().starts_with("checkpoint.");
  }
  EXPECT_EQ(checkpoints, 1u);
  // The checkpoint's series are symbol-table records (1300 series: one of 4096, then the rest),
  // its samples chunks records; nothing in the old forms.
  std::map<WalRecordType, int> types;
  size_t series_listed = 0;
  ASSERT_TRUE(ReplayWal(dir.path() + "/wal", [&](WalRecordType t, std::string_view payload) {
                ++types[t];
                if (t != WalRecordType::kSymbolSeries) return Status::Ok();
                std::vector<WalSeries> v;
                KANSOKU_RETURN_IF_ERROR(DecodeWalSymbolSeries(payload, &v));
                series_listed += v.size();
                return Status::Ok();
              }).ok());
  EXPECT_EQ(types[WalRecordType::kSymbolSeries], 1);
  EXPECT_EQ(series_listed, static_cast<size_t>(kSeries));
  EXPECT_GT(types[WalRecordType::kChunks], 0);
  EXPECT_EQ(types[WalRecordType::kSeries], 0);
  EXPECT_EQ(types[WalRecordType::kSamples], 0);
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto got = Query(**db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), static_cast<size_t>(kSeries));
  for (int s = 0; s < kSeries; ++s) {
    const auto& v = got["m{instance=\"" + std::to_string(s) + "\"}"];
    ASSERT_EQ(v.size(), static_cast<size_t>(kSamples)) << s;
    for (int i = 0; i < kSamples; ++i) {
      ASSERT_EQ(v[i].t, i * 15000) << s;
      ASSERT_EQ(v[i].v, value(s, i)) << s << " " << i;
    }
  }
}

// The child appends and commits batches, reporting each acknowledged batch number through a
// pipe; it is SIGKILLed mid-stream. Every acknowledged sample must be there after reopening.
TEST(DBTest, KillNineLosesNothingAcknowledged) {
  TempDir dir;
  constexpr int kSeries = 50;
  constexpr int64_t kStep = 1000;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    DBOptions o;
    o.background = false;
    o.wal_fsync_interval_ms = 1000;  // kill -9 needs no fsync: write(2) is enough
    o.block_range_ms = 20 * kStep;
    auto db = DB::Open(o, dir.path());
    if (!db.ok()) ::_exit(2);
    for (int32_t b = 1;; ++b) {
      auto app = (*db)->NewAppender();
      for (int s = 0; s < kSeries; ++s) {
        if (!app->Append(L("k", std::to_string(s)), b * kStep, b * 1000.0 + s).ok()) ::_exit(3);
      }
      if (!app->Commit().ok()) ::_exit(4);
      if (::write(fds[1], &b, sizeof b) != sizeof b) ::_exit(5);
      if (b % 25 == 0 && !(*db)->CompactHead().ok()) ::_exit(6);  // blocks + checkpoints too
    }
  }
  ::close(fds[1]);
  int32_t acked = 0, b;
  while (acked < 300 && ::read(fds[0], &b, sizeof b) == sizeof b) acked = b;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  while (::read(fds[0], &b, sizeof b) == sizeof b) acked = b;  // acks written before the kill
  ::close(fds[0]);
  ASSERT_GE(acked, 300);

  DBOptions o = TestOptions();
  o.block_range_ms = 20 * kStep;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_GT((*db)->Stats().blocks, 0u);
  auto got = Query(**db, {Eq("__name__", "k")});
  ASSERT_EQ(got.size(), static_cast<size_t>(kSeries));
  for (int s = 0; s < kSeries; ++s) {
    const auto& v = got["k{instance=\"" + std::to_string(s) + "\"}"];
    ASSERT_GE(v.size(), static_cast<size_t>(acked)) << s;
    for (int i = 0; i < acked; ++i) {
      ASSERT_EQ(v[i].t, (i + 1) * kStep) << s;
      ASSERT_EQ(v[i].v, (i + 1) * 1000.0 + s) << s;
    }
  }
  std::printf("kill -9 after %d acknowledged batches: all %d x %d samples present\n", acked, acked,
              kSeries);
}

// AppendWithHandle: the handle names the series after the first append; a handle of another
// DB, a garbage one, or one whose series was collected falls back to the labels.
// One appender's samples reach the head series by series, each series' in append order: 19
// series (more than the commit's 8 chain-walking lanes, the last group partial) with 1 to 19
// samples each, interleaved unevenly, some refused (a series left with none staged), exact
// duplicates dropped within the batch.
TEST(DBTest, CommitAppliesInterleavedSeriesInAppendOrder) {
  TempDir dir;
  auto db = DB::Open(TestOptions(), dir.path());
  ASSERT_TRUE(db.ok());
  constexpr int kSeries = 19;
  {
    auto app = (*db)->NewAppender();
    ASSERT_TRUE(app->Append(L("n", "old"), 100000, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  {
    auto app = (*db)->NewAppender();
    // Only a refused sample: the series is pinned by the batch, nothing of it staged.
    EXPECT_FALSE(app->Append(L("n", "old"), 500, 1).ok());
    for (int i = 0; i < kSeries; ++i) {
      for (int s = 0; s < kSeries; ++s) {
        if (i > s) continue;  // series s gets s + 1 samples
        ASSERT_TRUE(app->Append(L("m", std::to_string(s)), 1000 * (i + 1), s * 100 + i).ok());
        if (i == 2) {  // an exact duplicate: a no-op
          ASSERT_TRUE(app->Append(L("m", std::to_string(s)), 1000 * (i + 1), s * 100 + i).ok());
        }
      }
    }
    EXPECT_FALSE(app->Append(L("m", "0"), 500, 1).ok());  // older than its staged samples
    ASSERT_TRUE(app->Commit().ok());
  }
  auto got = Query(**db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), static_cast<size_t>(kSeries));
  for (int s = 0; s < kSeries; ++s) {
    const auto& v = got["m{instance=\"" + std::to_string(s) + "\"}"];
    ASSERT_EQ(v.size(), static_cast<size_t>(s + 1)) << s;
    for (int i = 0; i <= s; ++i) {
      EXPECT_EQ(v[i].t, 1000 * (i + 1)) << s;
      EXPECT_EQ(v[i].v, s * 100 + i) << s;
    }
  }
  EXPECT_EQ((*db)->Stats().samples_appended,
            static_cast<uint64_t>(1 + kSeries * (kSeries + 1) / 2));
  EXPECT_EQ(Query(**db, {Eq("__name__", "n")})["n{instance=\"old\"}"].size(), 1u);
}

TEST(DBTest, AppendWithHandleFallsBackToLabels) {
  TempDir dir1, dir2;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  auto db1 = DB::Open(o, dir1.path());
  auto db2 = DB::Open(o, dir2.path());
  ASSERT_TRUE(db1.ok() && db2.ok());
  uint64_t ha = 0, hb = 0;
  {
    auto app = (*db1)->NewAppender();
    ASSERT_TRUE(app->AppendWithHandle(&ha, L("up", "a"), 1000, 1).ok());
    ASSERT_TRUE(app->AppendWithHandle(&hb, L("up", "b"), 1000, 2).ok());
    EXPECT_NE(ha, 0u);
    EXPECT_NE(ha, hb);
    // Same batch, by handle: the batch's order checks still apply.
    EXPECT_FALSE(app->AppendWithHandle(&ha, L("up", "a"), 500, 1).ok());
    EXPECT_TRUE(app->AppendWithHandle(&ha, L("up", "a"), 1000, 1).ok());  // exact duplicate
    ASSERT_TRUE(app->AppendWithHandle(&ha, L("up", "a"), 2000, 3).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  const uint64_t ha1 = ha;
  {
    auto app = (*db1)->NewAppender();
    ASSERT_TRUE(app->AppendWithHandle(&ha, L("up", "a"), 3000, 4).ok());
    EXPECT_EQ(ha, ha1);              // still valid: not looked up again
    uint64_t garbage = ha ^ 0xffff;  // this DB's tag, a ref that does not exist
    ASSERT_TRUE(app->AppendWithHandle(&garbage, L("up", "b"), 3000, 5).ok());
    EXPECT_EQ(garbage, hb);
    ASSERT_TRUE(app->Commit().ok());
  }
  {
    // db1's handle on db2: db2 finds the series by its labels and hands out its own handle.
    auto app = (*db2)->NewAppender();
    uint64_t h = ha;
    ASSERT_TRUE(app->AppendWithHandle(&h, L("up", "z"), 1000, 9).ok());
    EXPECT_NE(h, ha);
    ASSERT_TRUE(app->Commit().ok());
  }
  auto got1 = Query(**db1, {Eq("__name__", "up")});
  ASSERT_EQ(got1.size(), 2u);
  ASSERT_EQ(got1["up{instance=\"a\"}"].size(), 3u);
  EXPECT_EQ(got1["up{instance=\"a\"}"][2].v, 4);
  ASSERT_EQ(got1["up{instance=\"b\"}"].size(), 2u);
  EXPECT_EQ(got1["up{instance=\"b\"}"][1].v, 5);
  auto got2 = Query(**db2, {Eq("__name__", "up")});
  ASSERT_EQ(got2.size(), 1u);
  EXPECT_EQ(got2.count("up{instance=\"z\"}"), 1u);

  // Series "b" goes idle and is collected with its head data; its handle must not resurrect a
  // dead series: the append falls back to the labels and creates a fresh one.
  {
    auto app = (*db1)->NewAppender();
    for (int64_t t = 4000; t <= 40000; t += 1000) {
      ASSERT_TRUE(app->AppendWithHandle(&ha, L("up", "a"), t, 5).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE((*db1)->CompactHead().ok());
  EXPECT_GE((*db1)->Stats().series_removed, 1u);
  {
    auto app = (*db1)->NewAppender();
    ASSERT_TRUE(app->AppendWithHandle(&hb, L("up", "b"), 41000, 6).ok());
    EXPECT_NE(hb, 0u);
    ASSERT_TRUE(app->Commit().ok());
  }
  auto got3 = Query(**db1, {Eq("__name__", "up"), Eq("instance", "b")}, 41000, INT64_MAX);
  ASSERT_EQ(got3["up{instance=\"b\"}"].size(), 1u);
  EXPECT_EQ(got3["up{instance=\"b\"}"][0].v, 6);
}

// Label values and /api/v1/series over the head and several blocks whose value sets differ
// (each block and the head has values the others lack, and values in common): the sorted union,
// each once, limited to the blocks overlapping the querier's range.
TEST(DBTest, LabelValuesAndSeriesUnionOverHeadAndBlocks) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  o.max_block_range_ms = 10000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  // Window w (10 s each) holds instances "c" (always), "w<w>" and, in even windows, "e".
  for (int w = 0; w < 5; ++w) {
    auto app = (*db)->NewAppender();
    for (int i = 0; i < 10; ++i) {
      const int64_t t = w * 10000 + i * 1000;
      ASSERT_TRUE(app->Append(L("m", "c"), t, i).ok());
      ASSERT_TRUE(app->Append(L("m", "w" + std::to_string(w)), t, i).ok());
      if (w % 2 == 0) {
        ASSERT_TRUE(app->Append(L("m", "e"), t, i).ok());
      }
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_GE((*db)->Blocks().size(), 3u);
  const std::vector<std::string> all = {"c", "e", "w0", "w1", "w2", "w3", "w4"};
  auto q = (*db)->NewQuerier(INT64_MIN, INT64_MAX);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->LabelValues("instance", {}).value(), all);
  EXPECT_EQ((*q)->LabelValues("__name__", {}).value(), std::vector<std::string>{"m"});
  EXPECT_TRUE((*q)->LabelValues("nope", {}).value().empty());
  SelectHints h;
  h.func = "series";
  auto set = (*q)->Select({Eq("__name__", "m")}, h);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  std::vector<std::string> got;
  while ((*set)->Next()) got.emplace_back((*set)->labels().Get("instance"));
  EXPECT_EQ(got, all);
  // Windows 1 and 2 only: the blocks outside are not read (the head is, as before).
  auto q12 = (*db)->NewQuerier(10000, 29999);
  ASSERT_TRUE(q12.ok());
  const auto v12 = (*q12)->LabelValues("instance", {}).value();
  EXPECT_TRUE(std::is_sorted(v12.begin(), v12.end()));
  EXPECT_EQ(std::adjacent_find(v12.begin(), v12.end()), v12.end());
  for (const char* want : {"c", "e", "w1", "w2"}) {
    EXPECT_NE(std::find(v12.begin(), v12.end(), want), v12.end()) << want;
  }
  EXPECT_EQ(std::find(v12.begin(), v12.end(), "w0"), v12.end());
}

// A writer at "now" moves the persisted bound; series without newer data still take old samples
// (per-series accept rule), survive a crash before any compaction (replay does not skip samples
// below the bound), are persisted as blocks overlapping the earlier ones, and compaction merges
// those without duplicates.
TEST(DBTest, BackfillBelowThePersistedBound) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  o.max_block_range_ms = 30000;
  o.checkpoint_on_close = false;  // reopen replays raw segments, as after kill -9
  auto write = [](DB& db, const std::string& name, int n, int from, int to) {
    auto app = db.NewAppender();
    for (int i = from; i < to; ++i) {
      for (int s = 0; s < n; ++s) {
        Status st = app->Append(L(name, std::to_string(s)), i * 1000, i);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    }
    return app->Commit();
  };
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(write(**db, "live", 3, 0, 60).ok());
    ASSERT_TRUE((*db)->CompactHead().ok());
    ASSERT_EQ((*db)->Blocks().size(), 5u);  // persisted up to 50 s
    // Day-old data in miniature: 5..25 s, far below the bound, for series with no newer data.
    ASSERT_TRUE(write(**db, "bf", 4, 5, 25).ok());
    // Older than "live"'s own newest sample: refused.
    auto app = (*db)->NewAppender();
    Status st = app->Append(L("live", "0"), 30500, 1);
    EXPECT_NE(st.message().find("out of order"), std::string::npos) << st.ToString();
  }
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto check = [&] {
    auto got = Query(**db, {Eq("__name__", "bf")});
    ASSERT_EQ(got.size(), 4u);
    for (const auto& [labels, v] : got) {
      ASSERT_EQ(v.size(), 20u) << labels;
      EXPECT_EQ(v.front().t, 5000);
      EXPECT_EQ(v.back().t, 24000);
    }
    auto live = Query(**db, {Eq("__name__", "live")});
    ASSERT_EQ(live.size(), 3u);
    for (const auto& [labels, v] : live) EXPECT_EQ(v.size(), 60u) << labels;
  };
  check();
  // The background loop's variant waits until writers have moved past a range: replay just
  // appended at 5 s, so nothing goes in this round nor the next (a two-round window).
  EXPECT_EQ((*db)->CompactHead(/*follow_writers=*/true).value(), 0);
  EXPECT_EQ((*db)->CompactHead(/*follow_writers=*/true).value(), 0);
  // Two quiet rounds: the head (5 s .. 59 s) persists the backfill ranges (overlapping blocks).
  auto n = (*db)->CompactHead(/*follow_writers=*/true);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3);  // [0,10s) [10s,20s) [20s,30s) again
  EXPECT_EQ((*db)->Blocks().size(), 8u);
  EXPECT_EQ((*db)->Stats().head_min_time, 50000);
  check();
  // Compaction merges each 30 s window's blocks, overlapping ones included.
  auto m = (*db)->CompactBlocks();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_LE((*db)->Blocks().size(), 4u);
  check();
  for (const auto& b : (*db)->Blocks()) {
    if (b.maxt <= 30000) {
      EXPECT_EQ(b.mint, 0);  // one merged block for [0, 30 s)
      EXPECT_EQ(b.num_samples, 3u * 30 + 4u * 20);
    }
  }
}

TEST(DBTest, BackfillIsPersistedRightBehindItsSlowestSeries) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  // An import walking through old data, one sample per second per series, in time order.
  auto write = [&](const std::string& name, int from_s, int to_s) {
    auto app = (*db)->NewAppender();
    for (int i = from_s; i < to_s; ++i) {
      Status st = app->Append(L("m", name), i * 1000, i);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
    ASSERT_TRUE(app->Commit().ok());
  };
  write("a", 0, 35);
  write("b", 0, 35);
  write("c", 0, 15);  // lags: its sender is behind the others
  // Samples at 0 s were appended since the previous check, and in the check before: wait.
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);
  // Two quiet checks: [0,10s) is behind every series; [10s,20s) is not behind "c".
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 1);
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);
  ASSERT_EQ((*db)->Blocks().size(), 1u);
  EXPECT_EQ((*db)->Blocks()[0].maxt, 10000);
  write("c", 15, 35);                                       // catches up
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);  // appended at 15 s just now
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);
  EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 1);  // [10s,20s); the head spans 20..34
  const auto blocks = (*db)->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[1].mint, 10000);
  EXPECT_EQ(blocks[1].num_samples, 30u);  // every series' whole range: no overlapping pieces
  auto got = Query(**db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), 3u);
  for (const auto& [labels, v] : got) EXPECT_EQ(v.size(), 35u) << labels;
  // A series that stopped inside a range holds it for the checks; the round (two quiet rounds)
  // persists it regardless.
  write("d", 20, 25);
  write("a", 35, 45);
  write("b", 35, 45);
  write("c", 35, 45);
  write("d", 25, 26);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*db)->CompactHeadBehindWriters().value(), 0);
  EXPECT_EQ((*db)->CompactHead(/*follow_writers=*/true).value(), 0);
  EXPECT_EQ((*db)->CompactHead(/*follow_writers=*/true).value(), 0);
  EXPECT_EQ((*db)->CompactHead(/*follow_writers=*/true).value(), 1);  // [20s,30s)
  EXPECT_EQ(Query(**db, {Eq("__name__", "m")}).size(), 4u);
}

// With the background threads on, a persisted head range wakes the blocks thread: a window
// that became complete is merged right away, not at the next round (an hour away here), so an
// import does not keep every small block open until then.
TEST(DBTest, PersistedRangeStartsACompactionRound) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.background = true;
  o.block_range_ms = 10000;
  o.max_block_range_ms = 30000;
  o.background_interval_ms = 3600 * 1000;
  o.persist_check_interval_ms = 5;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  auto app = (*db)->NewAppender();
  for (int i = 0; i < 70; ++i) ASSERT_TRUE(app->Append(L("m", "a"), i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  // The checks persist [0,10s) .. [50s,60s); both 30 s windows are then complete.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*db)->Stats().block_compactions < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*db)->Stats().block_compactions, 2u);
  const auto blocks = (*db)->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].level, 2);
  EXPECT_EQ(blocks[1].maxt, 60000);
  EXPECT_EQ(Query(**db, {Eq("__name__", "m")})["m{instance=\"a\"}"].size(), 70u);
}

TEST(DBTest, HeadCompactionWritesBlocksThatSurviveReopen) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  auto write = [&](DB& db, int from, int to) {
    for (int i = from; i < to; ++i) {
      auto app = db.NewAppender();
      for (int s = 0; s < 5; ++s)
        ASSERT_TRUE(app->Append(L("c", std::to_string(s)), i * 1000, i).ok());
      ASSERT_TRUE(app->Commit().ok());
    }
  };
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    write(**db, 0, 60);
    auto n = (*db)->CompactHead();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 5);  // [0,10s) .. [40s,50s); [50s,60s) stays in the head
    const DBStats st = (*db)->Stats();
    EXPECT_EQ(st.blocks, 5u);
    EXPECT_EQ(st.head_min_time, 50000);
    EXPECT_GT(st.block_bytes, 0u);
    auto got = Query(**db, {Eq("__name__", "c")});
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got["c{instance=\"3\"}"].size(), 60u);
    Status oob = [&] {
      auto app = (*db)->NewAppender();
      return app->Append(L("c", "0"), 49000, 1);
    }();
    // Below the persisted bound, but the series has newer samples: out of order for it.
    EXPECT_NE(oob.message().find("out of order"), std::string::npos) << oob.ToString();
    write(**db, 60, 70);
  }
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->Blocks().size(), 5u);
  auto got = Query(**db, {Eq("__name__", "c")});
  for (int s = 0; s < 5; ++s) {
    const auto& v = got["c{instance=\"" + std::to_string(s) + "\"}"];
    ASSERT_EQ(v.size(), 70u);
    for (int i = 0; i < 70; ++i) ASSERT_EQ(v[i].t, i * 1000);
  }
  // Seek across the block/head boundary.
  auto q = (*db)->NewQuerier(0, INT64_MAX);
  auto set = (*q)->Select({Eq("instance", "2")}, SelectHints{});
  ASSERT_TRUE(set.ok() && (*set)->Next());
  auto it = (*set)->Iterator();
  ASSERT_TRUE(it->Seek(48500));
  EXPECT_EQ(it->At().t, 49000);
  ASSERT_TRUE(it->Seek(50000));
  EXPECT_EQ(it->At().t, 50000);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 51000);

  // Compaction of level-1 blocks into 30 s windows, then retention.
  DBOptions o2 = o;
  o2.max_block_range_ms = 30000;
  o2.retention_ms = 25000;
  db = Result<std::unique_ptr<DB>>(Status::Internal("closed"));
  auto db2 = DB::Open(o2, dir.path());
  ASSERT_TRUE(db2.ok());
  auto merged = (*db2)->CompactBlocks();
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(*merged, 1);
  auto blocks = (*db2)->Blocks();
  ASSERT_EQ(blocks.size(), 3u);  // [0,30s) level 2, [30s,40s), [40s,50s)
  EXPECT_EQ(blocks[0].mint, 0);
  EXPECT_EQ(blocks[0].maxt, 30000);
  EXPECT_EQ(blocks[0].level, 2);
  EXPECT_EQ(Query(**db2, {Eq("instance", "4")})["c{instance=\"4\"}"].size(), 70u);
  auto deleted = (*db2)->ApplyRetention();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);  // newest data 69 s: blocks ending at or before 44 s go
  EXPECT_EQ((*db2)->Blocks().size(), 1u);
  EXPECT_EQ(Query(**db2, {Eq("instance", "4")})["c{instance=\"4\"}"].front().t, 40000);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/b-00000006"));
}

TEST(DBTest, LargeStepRangeFunctionsReadRollups) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 2 * 3600000;
  o.rollup_min_age_ms = 0;  // every compaction writes rollups
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  // 9 hours of a 15 s counter: blocks [0,2h), [2h,4h), [4h,6h) get written, the rest stays in
  // the head.
  for (int64_t t = 0; t < 9 * 3600000; t += 15000) {
    auto app = (*db)->NewAppender();
    ASSERT_TRUE(app->Append(L("ctr", "a"), t, static_cast<double>(t) / 1000).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_EQ(*(*db)->CompactHead(), 3);
  auto read = [&](const SelectHints& h) {
    auto q = (*db)->NewQuerier(0, 9 * 3600000);
    auto set = (*q)->Select({Eq("__name__", "ctr")}, h);
    EXPECT_TRUE(set.ok() && (*set)->Next());
    std::vector<Sample> out;
    auto it = (*set)->Iterator();
    while (it->Next()) out.push_back(it->At());
    return out;
  };
  const std::vector<Sample> raw = read(SelectHints{});
  ASSERT_EQ(raw.size(), 9u * 240);
  SelectHints h;
  h.func = "rate";
  h.step = 3600000;
  h.range = 3600000;
  // Blocks cut from the head carry no rollups (compaction writes them): raw samples.
  EXPECT_EQ(read(h).size(), raw.size());
  EXPECT_EQ((*db)->Stats().rollup_block_reads, 0u);
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(std::filesystem::exists(e.path() / "rollup-300000")) << e.path();
  }
  // Compaction merges them into one 6 h block with rollups.
  ASSERT_EQ(*(*db)->CompactBlocks(), 1);
  ASSERT_EQ((*db)->Blocks().size(), 1u);
  const std::vector<Sample> rolled = read(h);
  // Block: 6 h of 5 m "last" points (72); head: 3 h raw (720).
  ASSERT_EQ(rolled.size(), 72u + 720u);
  EXPECT_EQ(rolled[0].t, 285000);  // last raw sample of the first 5 m window
  EXPECT_EQ(rolled[0].v, 285.0);
  for (const auto& s : rolled) EXPECT_EQ(s.v, static_cast<double>(s.t) / 1000);  // subset of raw
  EXPECT_EQ((*db)->Stats().rollup_block_reads, 1u);
  h.func = "max_over_time";
  EXPECT_EQ(read(h)[1].v, 585.0);
  h.func = "avg_over_time";
  EXPECT_EQ(read(h).size(), raw.size());
}

// Appends ctr{instance="a"} = t/1000 every 15 s from *t up to end, one commit per sample.
void AppendCounterUntil(DB& db, int64_t* t, int64_t end) {
  for (; *t < end; *t += 15000) {
    auto app = db.NewAppender();
    ASSERT_TRUE(app->Append(L("ctr", "a"), *t, static_cast<double>(*t) / 1000).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
}

// The blocks in dir as Block::Open reads them: [mint h, maxt h) -> has rollups (checked
// against the rollup file on disk and against the DB's block count).
std::map<std::pair<int64_t, int64_t>, bool> BlockRollups(const std::string& dir, const DB& db) {
  std::map<std::pair<int64_t, int64_t>, bool> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("b-", 0) != 0) continue;
    auto b = Block::Open(e.path().string());
    EXPECT_TRUE(b.ok()) << e.path();
    if (!b.ok()) continue;
    EXPECT_EQ(std::filesystem::exists(e.path() / "rollup-300000"), (*b)->HasRollups());
    out[{(*b)->meta().mint / 3600000, (*b)->meta().maxt / 3600000}] = (*b)->HasRollups();
  }
  EXPECT_EQ(out.size(), db.Blocks().size());
  return out;
}
using BlockMap = std::map<std::pair<int64_t, int64_t>, bool>;

// Rollups only for blocks that ended rollup_min_age_ms before the newest persisted range:
// younger merges write none, and a block that ages past it is rewritten with them.
TEST(DBTest, RollupsOnlyForBlocksPastTheMinimumAge) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 2 * 3600000;
  o.max_block_range_ms = 6 * 3600000;
  o.rollup_min_age_ms = 10 * 3600000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  int64_t t = 0;
  AppendCounterUntil(**db, &t, 12 * 3600000);
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_TRUE((*db)->CompactBlocks().ok());
  // [0 h, 6 h) merged, 6 h younger than the 10 h age: no rollups anywhere yet.
  EXPECT_EQ(BlockRollups(dir.path(), **db),
            (BlockMap{{{0, 6}, false}, {{6, 8}, false}, {{8, 10}, false}}));
  AppendCounterUntil(**db, &t, 20 * 3600000);
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_TRUE((*db)->CompactBlocks().ok());
  // Persisted up to 18 h: [0 h, 6 h) is now old enough and was rewritten with rollups; the
  // newly merged [6 h, 12 h) and [12 h, 18 h) are not.
  EXPECT_EQ(BlockRollups(dir.path(), **db),
            (BlockMap{{{0, 6}, true}, {{6, 12}, false}, {{12, 18}, false}}));
  auto q = (*db)->NewQuerier(0, 20 * 3600000);
  SelectHints h;
  h.func = "rate";
  h.step = 3600000;
  h.range = 3600000;
  const uint64_t before = (*db)->Stats().rollup_block_reads;
  auto set = (*q)->Select({Eq("__name__", "ctr")}, h);
  ASSERT_TRUE(set.ok() && (*set)->Next());
  size_t n = 0;
  for (auto it = (*set)->Iterator(); it->Next();) ++n;
  EXPECT_EQ((*db)->Stats().rollup_block_reads, before + 1);
  EXPECT_EQ(n, 72U + 14U * 240U);  // 6 h of 5 m points, then 14 h raw (blocks and head)
  // Nothing is rolled up twice.
  EXPECT_EQ(*(*db)->CompactBlocks(), 0);
}

// A merge never drops rollups one of its sources had, even when the merged block is younger than
// rollup_min_age.
TEST(DBTest, MergeKeepsRollupsOfASource) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 2 * 3600000;
  o.max_block_range_ms = 18 * 3600000;
  o.rollup_min_age_ms = 8 * 3600000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  int64_t t = 0;
  AppendCounterUntil(**db, &t, 16 * 3600000);
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_TRUE((*db)->CompactBlocks().ok());
  EXPECT_EQ(BlockRollups(dir.path(), **db),
            (BlockMap{{{0, 6}, true}, {{6, 12}, false}, {{12, 14}, false}}));
  AppendCounterUntil(**db, &t, 20 * 3600000);
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_TRUE((*db)->CompactBlocks().ok());
  // 18 h is not 8 h old, but [0, 6) had rollups.
  EXPECT_EQ(BlockRollups(dir.path(), **db), (BlockMap{{{0, 18}, true}}));
}

TEST(DBTest, RetentionBySize) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  o.retention_ms = 0;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  for (int i = 0; i < 60; ++i) {
    auto app = (*db)->NewAppender();
    for (int s = 0; s < 50; ++s)
      ASSERT_TRUE(app->Append(L("r", std::to_string(s)), i * 1000, i).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_EQ(*(*db)->CompactHead(), 5);
  const DBStats before = (*db)->Stats();
  const uint64_t one_block = before.block_bytes / before.blocks;
  DBOptions o2 = o;
  o2.retention_bytes = before.wal_bytes + 2 * one_block + one_block / 2;
  db = Result<std::unique_ptr<DB>>(Status::Internal("closed"));
  auto db2 = DB::Open(o2, dir.path());
  ASSERT_TRUE(db2.ok());
  auto deleted = (*db2)->ApplyRetention();
  ASSERT_TRUE(deleted.ok());
  EXPECT_GE(*deleted, 3);
  EXPECT_LE((*db2)->Stats().bytes_on_disk, o2.retention_bytes);
  EXPECT_EQ((*db2)->Blocks().back().maxt, 50000);  // the newest blocks are kept
}

TEST(DBTest, OutOfOrderWindow) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.out_of_order_window_ms = 60000;
  o.checkpoint_on_close = false;  // replay the raw segments: the late samples come late again
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    auto app = (*db)->NewAppender();
    ASSERT_TRUE(app->Append(L("o", "x"), 100000, 1).ok());
    ASSERT_TRUE(app->Append(L("o", "x"), 70000, 2).ok());   // older, in the same batch
    EXPECT_FALSE(app->Append(L("o", "x"), 30000, 3).ok());  // beyond the window
    ASSERT_TRUE(app->Commit().ok());
    auto app2 = (*db)->NewAppender();
    ASSERT_TRUE(app2->Append(L("o", "x"), 90000, 4).ok());
    ASSERT_TRUE(app2->Commit().ok());
  }
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  auto got = Query(**db, {Eq("__name__", "o")})["o{instance=\"x\"}"];
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].t, 70000);
  EXPECT_EQ(got[1].t, 90000);
  EXPECT_EQ(got[2].v, 1);
  EXPECT_EQ((*db)->Stats().ooo_samples_appended, 2u);
}

TEST(DBTest, MergedIteratorDeduplicatesOverlaps) {
  auto chunk = [](std::vector<Sample> s) {
    XorChunk c;
    for (const auto& x : s) c.Append(x.t, x.v);
    return MakeOwnedChunk(std::string(c.Bytes()), s.front().t, s.back().t);
  };
  std::vector<ChunkRef> chunks = {chunk({{10, 1}, {20, 1}, {30, 1}}),
                                  chunk({{5, 2}, {20, 2}, {25, 2}}), chunk({{40, 3}}),
                                  chunk({{30, 4}, {50, 4}})};
  MergedSeriesIterator it(chunks, 0, 45);
  std::vector<Sample> got;
  while (it.Next()) got.push_back(it.At());
  const std::vector<std::pair<int64_t, double>> want = {{5, 2},  {10, 1}, {20, 1},
                                                        {25, 2}, {30, 1}, {40, 3}};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].t, want[i].first);
    EXPECT_EQ(got[i].v, want[i].second) << got[i].t;  // the first chunk in list order wins
  }
  MergedSeriesIterator it2(chunks, 0, 100);
  ASSERT_TRUE(it2.Seek(26));
  EXPECT_EQ(it2.At().t, 30);
  ASSERT_TRUE(it2.Seek(41));
  EXPECT_EQ(it2.At().t, 50);
  EXPECT_FALSE(it2.Next());
}

TEST(DBTest, ConcurrentAppendersQueriersAndCompaction) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 50000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  constexpr int kWriters = 3, kSeries = 30, kBatches = 200;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto got = Query(**db, {M(MatchType::kRegexMatch, "__name__", "w.*")});
      for (const auto& [k, v] : got) {
        for (size_t i = 1; i < v.size(); ++i) {
          if (v[i].t <= v[i - 1].t) failures.fetch_add(1);
        }
      }
    }
  });
  std::thread compactor([&] {
    while (!stop.load()) {
      if (!(*db)->CompactHead().ok()) failures.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // Writers stay within 10 s of each other, like scrapers sharing a clock: the head keeps
  // 1.5 block ranges (75 s), so no writer falls below the persisted range.
  std::barrier sync(kWriters);
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        if (b % 10 == 0) sync.arrive_and_wait();
        auto app = (*db)->NewAppender();
        for (int s = 0; s < kSeries; ++s) {
          if (!app->Append(L("w" + std::to_string(w), std::to_string(s)), b * 1000, b).ok()) {
            failures.fetch_add(1);
          }
        }
        if (!app->Commit().ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  compactor.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = Query(**db, {M(MatchType::kRegexMatch, "__name__", "w.*")});
  ASSERT_EQ(got.size(), static_cast<size_t>(kWriters * kSeries));
  for (const auto& [k, v] : got) EXPECT_EQ(v.size(), static_cast<size_t>(kBatches)) << k;
}

// Prints WAL replay speed; scale with KANSOKU_REPLAY_SERIES (default 50000).
// Sanitizer builds (CI runs the unit tests once under ASan) are 5-20x slower: the replay figure
// worth reading comes from the release build, the sanitizer run only checks correctness.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kReplaySeries = 5000;
#else
constexpr int kReplaySeries = 50000;
#endif

TEST(DBTest, ReplaySpeed) {
  TempDir dir;
  const char* env = std::getenv("KANSOKU_REPLAY_SERIES");
  const int n = env != nullptr ? std::atoi(env) : kReplaySeries;
  constexpr int kSamples = 10;
  DBOptions o = TestOptions();
  o.wal_fsync_interval_ms = 1000;
  o.checkpoint_on_close = false;  // the crash case: every raw segment is replayed
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok());
    for (int t = 0; t < kSamples; ++t) {
      auto app = (*db)->NewAppender();
      for (int s = 0; s < n; ++s) {
        ASSERT_TRUE(app->Append(Labels{{"__name__", "node_cpu_seconds_total"},
                                       {"instance", "host-" + std::to_string(s / 100) + ":9100"},
                                       {"job", "node"},
                                       {"cpu", std::to_string(s % 100)}},
                                t * 15000, t * 1.5 + s)
                        .ok());
      }
      ASSERT_TRUE(app->Commit().ok());
    }
  }
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  const DBStats st = (*db)->Stats();
  EXPECT_EQ(st.head_series, static_cast<uint64_t>(n));
  EXPECT_EQ(st.samples_appended, static_cast<uint64_t>(n) * kSamples);
  std::printf(
      "WAL replay: %d series x %d samples in %.3f s = %.2f s per million series "
      "(%.0f samples/s, WAL %.1f MB)\n",
      n, kSamples, st.wal_replay_seconds, st.wal_replay_seconds * 1e6 / n,
      n * kSamples / st.wal_replay_seconds, st.wal_bytes / 1e6);
}

// SelectHints{.func = "series"} (/api/v1/series) finds the same series as a full Select, over
// blocks and the head, with the same time filtering, without chunk references.
TEST(DBTest, LabelsOnlySelectMatchesFullSelect) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  for (int64_t t = 0; t <= 40000; t += 1000) {
    auto app = (*db)->NewAppender();
    ASSERT_TRUE(app->Append(L("a", "x"), t, 1).ok());
    if (t < 5000) {
      ASSERT_TRUE(app->Append(L("a", "early"), t, 1).ok());
    }
    if (t > 35000) {
      ASSERT_TRUE(app->Append(L("a", "late"), t, 1).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_GT((*db)->Blocks().size(), 0U);
  auto names = [&](int64_t mint, int64_t maxt, const std::string& func) {
    std::vector<std::string> out;
    auto q = (*db)->NewQuerier(mint, maxt);
    EXPECT_TRUE(q.ok());
    SelectHints h;
    h.func = func;
    auto set = (*q)->Select({Eq("__name__", "a")}, h);
    EXPECT_TRUE(set.ok());
    while ((*set)->Next()) out.push_back((*set)->labels().ToString());
    return out;
  };
  // ForEachSeriesLabels' views, at most `most` of them (fn stops the walk); `base`: the
  // Querier's own implementation (through Select) instead of the DB's.
  auto viewed = [&](int64_t mint, int64_t maxt, size_t most = SIZE_MAX, bool base = false) {
    std::vector<std::string> out;
    auto q = (*db)->NewQuerier(mint, maxt);
    EXPECT_TRUE(q.ok());
    SelectHints h;
    h.func = "series";
    const Querier::LabelPartsFn fn = [&](std::span<const std::string_view> parts) {
      EXPECT_LT(out.size(), most) << "called after it returned false";
      std::vector<Label> ls;
      for (size_t k = 0; k + 1 < parts.size(); k += 2) {
        ls.push_back({std::string(parts[k]), std::string(parts[k + 1])});
      }
      out.push_back(Labels::FromVector(ls).ToString());
      return out.size() < most;
    };
    const std::vector<Matcher> ms = {Eq("__name__", "a")};
    Status st =
        base ? (*q)->Querier::ForEachSeriesLabels(ms, h, fn) : (*q)->ForEachSeriesLabels(ms, h, fn);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  for (auto [mint, maxt] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 40000}, {0, 3000}, {10000, 20000}, {36000, 50000}, {50000, 60000}}) {
    EXPECT_EQ(names(mint, maxt, "series"), names(mint, maxt, "")) << mint << ".." << maxt;
    EXPECT_EQ(viewed(mint, maxt), names(mint, maxt, "")) << mint << ".." << maxt;
    EXPECT_EQ(viewed(mint, maxt, SIZE_MAX, true), names(mint, maxt, "")) << mint << ".." << maxt;
  }
  const auto all = names(0, 40000, "");
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(viewed(0, 40000, 2), std::vector<std::string>(all.begin(), all.begin() + 2));
  EXPECT_EQ(viewed(0, 40000, 1, true), std::vector<std::string>(all.begin(), all.begin() + 1));
  {
    // Matchers that all match "" are refused as Select refuses them.
    auto q = (*db)->NewQuerier(0, 40000);
    ASSERT_TRUE(q.ok());
    Status st = (*q)->ForEachSeriesLabels({Eq("job", "")}, SelectHints{},
                                          [](std::span<const std::string_view>) { return true; });
    EXPECT_FALSE(st.ok());
  }
  EXPECT_EQ(names(10000, 20000, "series"), std::vector<std::string>{"a{instance=\"x\"}"});
  EXPECT_EQ(names(0, 40000, "series").size(), 3U);
  // Label values with matchers take the same path.
  auto q = (*db)->NewQuerier(36000, 50000);
  ASSERT_TRUE(q.ok());
  auto vals = (*q)->LabelValues("instance", {Eq("__name__", "a")});
  ASSERT_TRUE(vals.ok());
  EXPECT_EQ(*vals, (std::vector<std::string>{"late", "x"}));
}

// A select over many series and several blocks reads its sources on several threads when
// allowed, and moves labels and chunks out with TakeLabels/TakeIterator: the same series and
// samples, in the same order, as one thread copying them.
TEST(DBTest, ParallelSelectMatchesSerial) {
  TempDir dir;
  DBOptions o = TestOptions();
  o.block_range_ms = 10000;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  constexpr int kSeries = 600;  // above the 256 at which sources are shared out
  for (int64_t t = 0; t <= 60000; t += 1000) {
    auto app = (*db)->NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      // Series come and go, so blocks hold different subsets; i % 7 == 0 starts late.
      if (i % 7 == 0 && t < 25000) continue;
      if (i % 5 == 0 && t > 45000) continue;
      ASSERT_TRUE(app->Append(L("m", "i" + std::to_string(1000 + i)), t, t / 1000.0 + i).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE((*db)->CompactHead().ok());
  ASSERT_GE((*db)->Blocks().size(), 3U);
  using Points = std::vector<std::pair<int64_t, double>>;
  using Result = std::vector<std::pair<std::string, Points>>;
  auto read = [&](int64_t mint, int64_t maxt, int parallelism, bool take) {
    Result out;
    auto q = (*db)->NewQuerier(mint, maxt);
    EXPECT_TRUE(q.ok());
    SelectHints h;
    h.parallelism = parallelism;
    auto set = (*q)->Select({Eq("__name__", "m")}, h);
    EXPECT_TRUE(set.ok());
    while ((*set)->Next()) {
      Labels ls = take ? (*set)->TakeLabels() : (*set)->labels();
      auto it = take ? (*set)->TakeIterator() : (*set)->Iterator();
      std::vector<Sample> v;
      EXPECT_TRUE(it->ReadRange(mint, maxt, &v, nullptr).ok());
      Points pts;
      for (const Sample& x : v) pts.emplace_back(x.t, x.v);
      out.emplace_back(ls.ToString(), std::move(pts));
    }
    return out;
  };
  for (auto [mint, maxt] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 60000}, {5000, 33000}, {24000, 26000}, {44000, 60000}}) {
    const Result serial = read(mint, maxt, 1, false);
    EXPECT_GT(serial.size(), 256U);
    size_t samples = 0;
    for (const auto& [name, v] : serial) samples += v.size();
    EXPECT_GT(samples, serial.size());
    for (int p : {2, 4}) {
      EXPECT_EQ(read(mint, maxt, p, true), serial) << mint << ".." << maxt << " p=" << p;
    }
  }
}

// Prometheus 3 UTF-8 names are stored and found again.
TEST(DBTest, Utf8NamesRoundTrip) {
  TempDir dir;
  auto db = DB::Open(TestOptions(), dir.path());
  ASSERT_TRUE(db.ok());
  auto app = (*db)->NewAppender();
  ASSERT_TRUE(app->Append(Labels{{"__name__", "service.up"}, {"host.name", "a"}}, 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto got = Query(**db, {Eq("__name__", "service.up"), Eq("host.name", "a")});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->first, "{\"service.up\", \"host.name\"=\"a\"}");
}

}  // namespace
}  // namespace kansoku::tsdb
