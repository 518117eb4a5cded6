#define XXH_INLINE_ALL
#include <xxhash.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ingest/common/appender_sink.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"
#include "ingest/common/test_util.h"

namespace kansoku::ingest {
namespace {

TEST(ParseFloatTest, Table) {
  struct Case {
    std::string_view in;
    bool ok;
    double want;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {"0", true, 0},
      {"1.5", true, 1.5},
      {"-2e3", true, -2000},
      {"+3", true, 3},
      {"8.359112704e+10", true, 8.359112704e10},
      {"+Inf", true, inf},
      {"-Inf", true, -inf},
      {"Inf", true, inf},
      {"inf", true, inf},
      {".5", true, 0.5},
      {"", false, 0},
      {"+", false, 0},
      {"1x", false, 0},
      {"--1", false, 0},
      {"+-1", false, 0},
      {"nan(1)", false, 0},
      {"1e400", false, 0},
      {"0x10", false, 0},
      {" 1", false, 0},
  };
  for (const Case& c : cases) {
    double v = -12345;
    EXPECT_EQ(ParseFloat(c.in, &v), c.ok) << c.in;
    if (c.ok) {
      EXPECT_EQ(v, c.want) << c.in;
    }
  }
  double v;
  ASSERT_TRUE(ParseFloat("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  ASSERT_TRUE(ParseFloat("nan", &v));
  EXPECT_TRUE(std::isnan(v));
}

TEST(ParseInt64Test, Table) {
  int64_t v;
  EXPECT_TRUE(ParseInt64("1795671866473", &v));
  EXPECT_EQ(v, 1795671866473);
  EXPECT_TRUE(ParseInt64("-5", &v));
  EXPECT_EQ(v, -5);
  EXPECT_FALSE(ParseInt64("99999999999999999999", &v));
  EXPECT_FALSE(ParseInt64("1.5", &v));
  EXPECT_FALSE(ParseInt64("+-1", &v));
  EXPECT_FALSE(ParseInt64("", &v));
}

// The fast path (1-18 plain digits, eight at a time) agrees with std::from_chars on every
// length and on strings with one byte that is not a digit at each position.
TEST(ParseInt64Test, SameAsFromChars) {
  std::mt19937_64 rng(3);
  // Neighbours of '0'..'9' and other bytes, NUL and 0xff included.
  const std::string odd = std::string("/:+- .e") + '\0' + '\xff';
  for (int i = 0; i < 200000; ++i) {
    const size_t len = 1 + rng() % 21;
    std::string s;
    for (size_t k = 0; k < len; ++k) s.push_back(static_cast<char>('0' + rng() % 10));
    if (i % 3 == 0) s[rng() % len] = odd[rng() % odd.size()];
    if (i % 7 == 0) s[0] = i % 14 == 0 ? '-' : '+';
    int64_t want = 0, got = 0;
    size_t from = s[0] == '+' ? 1 : 0;
    const auto r = std::from_chars(s.data() + from, s.data() + s.size(), want);
    const bool ok = from < s.size() && !(from == 1 && s[1] == '-') && r.ec == std::errc() &&
                    r.ptr == s.data() + s.size();
    ASSERT_EQ(ParseInt64(s, &got), ok) << s;
    if (ok) {
      ASSERT_EQ(got, want) << s;
    }
  }
  int64_t v;
  ASSERT_TRUE(ParseInt64("999999999999999999", &v));  // 18 digits, the fast path's longest
  EXPECT_EQ(v, 999999999999999999);
  ASSERT_TRUE(ParseInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_FALSE(ParseInt64("9223372036854775808", &v));
  ASSERT_TRUE(ParseInt64("00000000000000000000000042", &v));
  EXPECT_EQ(v, 42);
}

TEST(SanitizeTest, Names) {
  StringArena arena;
  EXPECT_EQ(SanitizeMetricName("collectd.kansoku-test.load", arena), "collectd_kansoku_test_load");
  EXPECT_EQ(SanitizeMetricName("ok:name_1", arena), "ok:name_1");
  EXPECT_EQ(SanitizeMetricName("1abc", arena), "_1abc");
  EXPECT_EQ(SanitizeLabelName("service.name", arena), "service_name");
  EXPECT_EQ(SanitizeLabelName("a:b", arena), "a_b");
  EXPECT_EQ(SanitizeLabelName("", arena), "");
}

TEST(FormatFloatLabelTest, GoStyle) {
  StringArena arena;
  EXPECT_EQ(FormatFloatLabel(0.005, arena), "0.005");
  EXPECT_EQ(FormatFloatLabel(10, arena), "10");
  EXPECT_EQ(FormatFloatLabel(1e6, arena), "1000000");
  EXPECT_EQ(FormatFloatLabel(std::numeric_limits<double>::infinity(), arena), "+Inf");
  EXPECT_EQ(FormatFloatLabel(0.99, arena), "0.99");
}

TEST(QuoteTest, EscapesAndCuts) {
  EXPECT_EQ(Quote("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(Quote("abcdef", 3), "\"abc\"...");
  EXPECT_EQ(Quote(std::string_view("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(Quote("\xE8\xA6\xB3\xE6\xB8\xAC", 4),
            "\"\xE8\xA6\xB3\"...");  // not cut inside a character
}

TEST(StringArenaTest, LargeAndReuse) {
  StringArena a;
  std::string big(200000, 'x');
  std::string_view v = a.Copy(big);
  EXPECT_EQ(v, big);
  std::string_view w = a.Concat("foo", "_", "bar");
  EXPECT_EQ(w, "foo_bar");
  EXPECT_EQ(a.Concat(std::string_view(), "_", std::string_view()), "_");
  EXPECT_EQ(a.Concat(std::string_view(), "", std::string_view()), "");
  a.Clear();
  EXPECT_EQ(a.Copy("abc"), "abc");
}

TEST(DecodeReportTest, OutcomeAndSummary) {
  DecodeReport r;
  EXPECT_EQ(r.HttpStatus(), 204);
  r.Accept(3);
  r.Reject(RejectReason::kSyntax, "line 2: cannot parse value \"x\": not a number");
  r.RejectN(RejectReason::kTimestampOutOfRange, 2, "line 5: too old");
  EXPECT_EQ(r.outcome(), Outcome::kBadData);
  EXPECT_EQ(r.HttpStatus(), 400);
  EXPECT_EQ(r.rows_rejected(), 3u);
  EXPECT_EQ(r.Summary(),
            "stored 3 rows, rejected 3 (syntax: 1, timestamp_out_of_range: 2); first errors: "
            "line 2: cannot parse value \"x\": not a number; line 5: too old");
  for (int i = 0; i < 10; ++i) r.Reject(RejectReason::kSyntax, "more");
  EXPECT_EQ(r.errors().size(), DecodeReport::kMaxErrors);

  DecodeReport r2;
  r2.SetRequestError(Status::IOError("disk full"));
  EXPECT_EQ(r2.HttpStatus(), 503);
  DecodeReport r3;
  r3.SetRequestError(Status::ResourceExhausted("too big"));
  EXPECT_EQ(r3.HttpStatus(), 413);
}

// Builds a batch by hand: two series, one repeated, one with a duplicate label name.
void FillBatch(RowBatch& b) {
  b.BeginSeries(1);
  b.AddLabel("__name__", "up");
  b.AddLabel("job", "node");
  b.AddSample(1000, 1);
  b.BeginSeries(2);
  b.AddLabel("job", "node");  // same set, other order
  b.AddLabel("__name__", "up");
  b.AddSample(2000, 0);
  b.BeginSeries(3);
  b.AddLabel("__name__", "x");
  b.AddLabel("a", "1");
  b.AddLabel("a", "2");
  b.AddSample(3000, 5);
  b.BeginSeries(4);
  b.AddLabel("__name__", "bad\xffname");  // not UTF-8
  b.AddSample(4000, 5);
  b.BeginSeries(5);
  b.AddLabel("__name__", "empty_value_dropped");
  b.AddLabel("instance", "");
  b.AddSample(5000, 7);
  b.AddMetadata({"up", tsdb::MetricType::kGauge, "is up", ""});
}

TEST(AppenderSinkTest, AppendsValidRowsAndReportsBadOnes) {
  testing::FakeAppender app;
  DecodeReport report;
  AppenderSink sink(app, report);
  RowBatch b;
  FillBatch(b);
  sink.Consume(b);
  ASSERT_TRUE(sink.Commit().ok());
  ASSERT_EQ(app.rows.size(), 3u);
  EXPECT_EQ(app.rows[0].labels, (tsdb::Labels{{"__name__", "up"}, {"job", "node"}}));
  EXPECT_EQ(app.rows[1].labels, app.rows[0].labels);
  EXPECT_EQ(app.rows[1].t, 2000);
  EXPECT_EQ(app.rows[2].labels, (tsdb::Labels{{"__name__", "empty_value_dropped"}}));
  EXPECT_EQ(report.rows_accepted(), 3u);
  EXPECT_EQ(report.rejected(RejectReason::kInvalidLabel), 1u);
  EXPECT_EQ(report.rejected(RejectReason::kStorage), 1u);
  ASSERT_EQ(report.errors().size(), 2u);
  EXPECT_EQ(report.errors()[0], "line 3: duplicate label name \"a\"");
  EXPECT_EQ(report.errors()[1].rfind("line 4: metric name of ", 0), 0u) << report.errors()[1];
  EXPECT_NE(report.errors()[1].find("is not valid UTF-8"), std::string::npos);
  EXPECT_EQ(app.metadata.size(), 1u);
  EXPECT_EQ(report.metadata_accepted(), 1u);
  EXPECT_EQ(app.commits, 1);
  EXPECT_EQ(report.HttpStatus(), 400);
}

// RawKeyTable keeps every item's key, context, value and handle through index growth, with
// hashes that share slots (linear probing), keys longer than an arena block, and an empty key.
TEST(RawKeyTableTest, FindsEveryItemThroughGrowth) {
  RawKeyTable t;
  EXPECT_EQ(t.Find(1), nullptr);
  std::vector<std::string> keys;
  std::vector<int> values(5000);
  for (size_t i = 0; i < values.size(); ++i) {
    keys.push_back("k{i=\"" + std::to_string(i) + "\"}");
  }
  keys[7] = std::string(100000, 'x');  // larger than a 64 KiB block
  keys[8] = "";
  // Hashes 1..n collide in their high bits (the slot), so they probe past each other.
  for (size_t i = 0; i < keys.size(); ++i) {
    RawKeyTable::Item* item = t.Insert(i + 1, 40 + i, keys[i], &values[i]);
    item->handle = 1000 + i;
  }
  EXPECT_EQ(t.size(), keys.size());
  EXPECT_GE(t.MemoryBytes(), 100000u);
  for (size_t i = 0; i < keys.size(); ++i) {
    const RawKeyTable::Item* item = t.Find(i + 1);
    ASSERT_NE(item, nullptr) << i;
    EXPECT_EQ(item->key(), keys[i]);
    EXPECT_EQ(item->context, 40 + i);
    EXPECT_EQ(item->value, &values[i]);
    EXPECT_EQ(item->handle, 1000 + i);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(item) % alignof(RawKeyTable::Item), 0u);
  }
  EXPECT_EQ(t.Find(keys.size() + 1), nullptr);
  EXPECT_EQ(t.Find(0xdeadbeef00000000ULL), nullptr);
}

// The storage handle is kept per raw key, next to its bytes: two raw keys of the same labels
// (here: another space) share one built Labels, and each passes back the handle the storage
// gave for it (a handle 0 only costs the storage's label lookup).
TEST(AppenderSinkTest, RawKeysKeepTheirHandles) {
  class HandleAppender : public testing::FakeAppender {
   public:
    Status AppendWithHandle(uint64_t* handle, const tsdb::Labels& labels, int64_t t,
                            double v) override {
      passed.push_back(*handle);
      if (*handle == 0) *handle = ++next;
      return Append(labels, t, v);
    }
    std::vector<uint64_t> passed;
    uint64_t next = 0;
  };
  SeriesCache cache;
  std::vector<std::vector<uint64_t>> passed;
  for (int round = 0; round < 2; ++round) {
    HandleAppender app;
    app.next = 10 * (round + 1);
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    RowBatch b;
    b.set_key_context(5);
    b.BeginSeries(1, "up{a=\"1\",b=\"2\"}");
    b.AddLabel("__name__", "up");
    b.AddLabel("a", "1");
    b.AddLabel("b", "2");
    b.AddSample(1 + round, 1);
    b.BeginSeries(2, "up{a=\"1\", b=\"2\"}");
    b.AddLabel("__name__", "up");
    b.AddLabel("a", "1");
    b.AddLabel("b", "2");
    b.AddSample(1 + round, 1);
    sink.Consume(b);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), 2u);
    EXPECT_EQ(app.rows[0].labels, app.rows[1].labels);
    passed.push_back(app.passed);
  }
  // Round 0: both keys are new; their handles are read before the batch's appends (0).
  EXPECT_EQ(passed[0], (std::vector<uint64_t>{0, 0}));
  // Round 1: each key passes back the handle given for it.
  EXPECT_EQ(passed[1], (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(cache.size(), 3u);  // one Labels, two raw keys
}

TEST(AppenderSinkTest, SeriesCacheAcrossRequests) {
  SeriesCache cache;
  for (int round = 0; round < 3; ++round) {
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    RowBatch b;
    FillBatch(b);
    sink.Consume(b);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), 3u) << round;
    EXPECT_EQ(app.rows[0].labels, (tsdb::Labels{{"__name__", "up"}, {"job", "node"}}));
    EXPECT_EQ(app.rows[1].labels, app.rows[0].labels);
    EXPECT_EQ(app.rows[2].labels, (tsdb::Labels{{"__name__", "empty_value_dropped"}}));
    EXPECT_EQ(report.rejected(RejectReason::kInvalidLabel), 1u) << round;
  }
  // {up,job} in two orders, bad\xffname and empty_value_dropped; the duplicate set is not cached.
  EXPECT_EQ(cache.size(), 4u);
  // A cached series does not match a superset or subset of its labels.
  testing::FakeAppender app;
  DecodeReport report;
  AppenderSink sink(app, report, &cache);
  RowBatch b;
  b.BeginSeries(1);
  b.AddLabel("__name__", "up");
  b.AddLabel("job", "node");
  b.AddLabel("job", "node");
  b.AddSample(1, 1);
  sink.Consume(b);
  EXPECT_EQ(report.rejected(RejectReason::kInvalidLabel), 1u);
}

// One cache shared by concurrent requests (the ingest API's worker threads): each series'
// labels are built once, every row gets its own series' labels, and a handle the storage handed
// out for a series is only ever passed back with that series.
TEST(AppenderSinkTest, SeriesCacheSharedByThreads) {
  class HandleAppender : public testing::FakeAppender {
   public:
    Status AppendWithHandle(uint64_t* handle, const tsdb::Labels& labels, int64_t t,
                            double v) override {
      const uint64_t want = labels.Hash() | 1;
      if (*handle != 0 && *handle != want) ++wrong_handles;
      *handle = want;
      return Append(labels, t, v);
    }
    int wrong_handles = 0;
  };
  constexpr int kSeries = 200, kRounds = 30;
  SeriesCache cache;
  auto worker = [&](int thread, std::vector<std::string>* failures) {
    for (int round = 0; round < kRounds; ++round) {
      HandleAppender app;
      DecodeReport report;
      AppenderSink sink(app, report, &cache);
      RowBatch b;
      b.set_key_context(7);
      std::vector<std::string> keys(kSeries), values(kSeries);  // the batch holds views
      for (int i = 0; i < kSeries; ++i) {
        // Both threads write every series, in opposite orders.
        const int s = thread == 0 ? i : kSeries - 1 - i;
        values[i] = std::to_string(s);
        keys[i] = "m{i=\"" + values[i] + "\"}";
        b.BeginSeries(static_cast<uint32_t>(i + 1), keys[i]);
        b.AddLabel("__name__", "m");
        b.AddLabel("i", values[i]);
        b.AddSample(round, s);
      }
      sink.Consume(b);
      if (!sink.Commit().ok()) failures->push_back("commit failed");
      if (app.rows.size() != kSeries) failures->push_back("rows lost");
      for (const auto& r : app.rows) {
        if (r.labels.Get("i") != std::to_string(static_cast<int>(r.v))) {
          failures->push_back("row has another series' labels: " + r.labels.ToString());
        }
      }
      if (app.wrong_handles != 0) failures->push_back("a handle crossed series");
    }
  };
  std::vector<std::string> f0, f1;
  std::thread t0(worker, 0, &f0), t1(worker, 1, &f1);
  t0.join();
  t1.join();
  EXPECT_TRUE(f0.empty()) << f0.front();
  EXPECT_TRUE(f1.empty()) << f1.front();
  // One built Labels and one raw key per series, whichever thread saw it first.
  EXPECT_EQ(cache.size(), 2u * kSeries);
}

TEST(AppenderSinkTest, SeriesCacheOverMaxEntriesStartsOver) {
  SeriesCache cache(/*max_entries=*/3);
  for (int round = 0; round < 4; ++round) {
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    RowBatch b;
    const std::string names[2] = {"m" + std::to_string(round * 2),
                                  "m" + std::to_string(round * 2 + 1)};
    for (const std::string& name : names) {
      b.BeginSeries(1);
      b.AddLabel("__name__", name);
      b.AddSample(1, 1);
    }
    sink.Consume(b);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), 2u);
    EXPECT_EQ(app.rows[1].labels.MetricName(), "m" + std::to_string(round * 2 + 1));
    // 2 after the first batch, 4 after the second (over 3: the next batch starts empty).
    EXPECT_EQ(cache.size(), round % 2 == 0 ? 2u : 4u) << round;
  }
}

TEST(AppenderSinkTest, RawKeysAreScopedByContext) {
  SeriesCache cache;
  auto run = [&](uint64_t context, std::string_view job) {
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    RowBatch b;
    b.set_key_context(context);
    b.BeginSeries(1, "up{}");
    b.AddLabel("__name__", "up");
    b.AddLabel("job", job);
    b.AddSample(1, 1);
    sink.Consume(b);
    EXPECT_TRUE(sink.Commit().ok());
    return app.rows.at(0).labels;
  };
  EXPECT_EQ(run(11, "a").Get("job"), "a");
  EXPECT_EQ(run(11, "a").Get("job"), "a");  // raw hit
  EXPECT_EQ(run(12, "b").Get("job"), "b");  // same raw key, other context: not shared
  DecodeOptions o1, o2;
  o2.extra_labels = {{"db", "x"}};
  EXPECT_NE(KeyContext("influx", o1), KeyContext("influx", o2));
  EXPECT_NE(KeyContext("influx", o1), KeyContext("prom_text", o1));
}

// A deferred series (SeriesRow::deferred) whose raw key the cache holds costs no resolve; one
// it does not hold is resolved through the batch's LabelResolver, and a refusal there rejects
// the series' rows with the resolver's reason and message.
TEST(AppenderSinkTest, DeferredSeriesFromCacheOrResolver) {
  struct CountingResolver : LabelResolver {
    bool Resolve(const SeriesRow& sr, std::vector<LabelView>* out, RejectReason* reason,
                 std::string* message) override {
      ++calls;
      if (sr.raw_key == "bad{}") {
        *reason = RejectReason::kInvalidLabel;
        *message = "line 1: bad";
        return false;
      }
      out->push_back({"__name__", "up"});
      out->push_back({"job", "r"});
      return true;
    }
    int calls = 0;
  } resolver;
  constexpr uint64_t kContext = 11;
  auto raw_hash = [](std::string_view k) {
    uint64_t h = XXH3_64bits(k.data(), k.size()) ^ kContext;
    return h | static_cast<uint64_t>(h == 0);
  };
  SeriesCache cache;
  auto run = [&](std::string_view key, bool deferred, DecodeReport* report) {
    testing::FakeAppender app;
    AppenderSink sink(app, *report, &cache);
    EXPECT_TRUE(sink.TakesDeferredLabels());
    RowBatch b;
    b.set_key_context(kContext);
    b.set_resolver(&resolver);
    b.BeginSeries(1, key);
    if (deferred) {
      b.SetDeferred(raw_hash(key));
    } else {
      b.AddLabel("__name__", "up");
      b.AddLabel("job", "a");
    }
    b.AddSample(1, 1);
    b.AddSample(2, 2);
    sink.Consume(b);
    EXPECT_TRUE(sink.Commit().ok());
    return app.rows;
  };
  DecodeReport r1, r2, r3;
  EXPECT_EQ(run("up{job=\"a\"}", false, &r1).at(0).labels.Get("job"), "a");
  EXPECT_EQ(run("up{job=\"a\"}", true, &r1).at(0).labels.Get("job"), "a");  // cache hit
  EXPECT_EQ(resolver.calls, 0);
  auto rows = run("up{job=\"r\"}", true, &r2);  // not cached: resolved
  EXPECT_EQ(resolver.calls, 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].labels, (tsdb::Labels{{"__name__", "up"}, {"job", "r"}}));
  EXPECT_TRUE(run("bad{}", true, &r3).empty());
  EXPECT_EQ(r3.rejected(RejectReason::kInvalidLabel), 2u);
  ASSERT_EQ(r3.errors().size(), 1u);
  EXPECT_EQ(r3.errors()[0], "line 1: bad");
}

TEST(AppenderSinkTest, CommitFailureIsRetryableAndRevertsAccepted) {
  testing::FakeAppender app;
  app.commit_error = Status::IOError("wal: disk full");
  DecodeReport report;
  AppenderSink sink(app, report);
  RowBatch b;
  b.BeginSeries(1);
  b.AddLabel("__name__", "up");
  b.AddSample(1, 1);
  sink.Consume(b);
  EXPECT_FALSE(sink.Commit().ok());
  EXPECT_EQ(report.rows_accepted(), 0u);
  EXPECT_EQ(report.rows_rejected(), 1u);
  EXPECT_EQ(report.HttpStatus(), 503);
  EXPECT_NE(report.Summary().find("cannot commit 1 rows to storage: wal: disk full"),
            std::string::npos)
      << report.Summary();
}

TEST(LimitsTest, SeriesAndTimestamp) {
  RowBatch b;
  DecodeReport report;
  Limits limits;
  limits.max_labels = 2;
  b.BeginSeries(7);
  b.AddLabel("__name__", "a");
  b.AddLabel("b", "c");
  b.AddLabel("d", "e");
  EXPECT_FALSE(CheckSeriesLimits(b, limits, report));
  EXPECT_TRUE(b.series().empty());
  EXPECT_EQ(report.errors().at(0), "line 7: series has 3 labels, more than the limit of 2");

  DecodeOptions opts;
  opts.now_ms = 1700000000000;
  std::string why;
  EXPECT_TRUE(CheckTimestamp(opts.now_ms, opts, &why));
  EXPECT_FALSE(CheckTimestamp(opts.now_ms + 3LL * 86400 * 1000, opts, &why));
  EXPECT_EQ(why, "timestamp 1700259200000 ms is more than 172800s in the future");
  EXPECT_FALSE(CheckTimestamp(0, opts, &why));
}

}  // namespace
}  // namespace kansoku::ingest
