#include "query/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "query/testing/mem_storage.h"
#include "tsdb/db.h"
#include "tsdb/test_util.h"

namespace kansoku::query {
namespace {

using tsdb::Labels;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto app = db_.NewAppender();
    // up{job="a"} = 1 every 15s for 10m; req_total{job=a|b} counts up by 10/min.
    for (int64_t t = 0; t <= 600'000; t += 15'000) {
      ASSERT_TRUE(app->Append(Labels{{"__name__", "up"}, {"job", "a"}}, t, 1).ok());
    }
    for (int64_t m = 0; m <= 10; ++m) {
      ASSERT_TRUE(
          app->Append(Labels{{"__name__", "req_total"}, {"job", "a"}}, m * 60'000, m * 10.0).ok());
      ASSERT_TRUE(
          app->Append(Labels{{"__name__", "req_total"}, {"job", "b"}}, m * 60'000, m * 20.0).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  testing::MemStorage db_;
};

struct InstantCase {
  std::string query;
  ValueType type;
  size_t n;      // vector length (for vectors)
  double value;  // scalar value, or the first sample's value
};

TEST_F(EngineTest, InstantQueries) {
  const InstantCase cases[] = {
      {"1 + 2", ValueType::kScalar, 0, 3},
      {"up", ValueType::kVector, 1, 1},
      {"sum(req_total)", ValueType::kVector, 1, 300},
      {"sum(rate(req_total[5m]))", ValueType::kVector, 1, 0.5},
      {"req_total{job=~\"a|b\"} > 50", ValueType::kVector, 2, 200},
      {"count(req_total offset 20m)", ValueType::kVector, 0, 0},  // before the data
      {"scalar(up)", ValueType::kScalar, 0, 1},
      {"absent(nope{job=\"x\"})", ValueType::kVector, 1, 1},
      {"max_over_time(up[1m:15s])", ValueType::kVector, 1, 1},
  };
  Engine engine;
  for (const auto& c : cases) {
    QueryResult r = engine.Query(db_, c.query, 600'000);
    ASSERT_TRUE(r.ok()) << c.query << ": " << r.error;
    EXPECT_EQ(r.type, c.type) << c.query;
    if (c.type == ValueType::kScalar) {
      EXPECT_DOUBLE_EQ(r.scalar, c.value) << c.query;
    } else {
      ASSERT_EQ(r.vector.size(), c.n) << c.query;
      if (c.n > 0) {
        double best = r.vector[0].v;
        for (const auto& s : r.vector) best = std::max(best, s.v);
        EXPECT_DOUBLE_EQ(best, c.value) << c.query;
      }
    }
  }
}

TEST_F(EngineTest, StringResult) {
  Engine engine;
  QueryResult r = engine.Query(db_, "\"hello\"", 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type, ValueType::kString);
  EXPECT_EQ(r.str, "hello");
}

TEST_F(EngineTest, RangeQueryReturnsMatrixSortedByLabels) {
  Engine engine;
  QueryResult r = engine.QueryRange(db_, "req_total * 2", 0, 120'000, 60'000);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.type, ValueType::kMatrix);
  ASSERT_EQ(r.matrix.size(), 2u);
  EXPECT_EQ(r.matrix[0].labels, (Labels{{"job", "a"}}));  // __name__ dropped by arithmetic
  ASSERT_EQ(r.matrix[0].points.size(), 3u);
  EXPECT_EQ(r.matrix[0].points[2].t, 120'000);
  EXPECT_DOUBLE_EQ(r.matrix[0].points[2].v, 40);
}

struct ErrorCase {
  std::string query;
  QueryErrorKind kind;
  std::string substring;
};

TEST_F(EngineTest, ErrorKinds) {
  const ErrorCase cases[] = {
      {"sum(", QueryErrorKind::kBadData, "1:5: parse error: unexpected end of input"},
      {"up{job=~\"(\"}", QueryErrorKind::kBadData, "invalid regular expression"},
      {"rate(up)", QueryErrorKind::kBadData, "expected type range vector"},
      {"label_replace(req_total, \"job\", \"x\", \"job\", \".*\")", QueryErrorKind::kExecution,
       "vector cannot contain metrics with the same labelset"},
      {"req_total + on() req_total", QueryErrorKind::kExecution,
       "many-to-many matching not allowed"},
  };
  Engine engine;
  for (const auto& c : cases) {
    QueryResult r = engine.Query(db_, c.query, 600'000);
    ASSERT_FALSE(r.ok()) << c.query;
    EXPECT_EQ(r.error_kind, c.kind) << c.query << ": " << r.error;
    EXPECT_NE(r.error.find(c.substring), std::string::npos) << c.query << ": " << r.error;
  }
}

TEST_F(EngineTest, RangeQueryRejectsRangeVectors) {
  Engine engine;
  QueryResult r = engine.QueryRange(db_, "up[5m]", 0, 60'000, 15'000);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kBadData);
  r = engine.QueryRange(db_, "up", 0, 60'000, 0);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kBadData);
}

TEST_F(EngineTest, ReportsSamplesLoaded) {
  QueryResult r = Engine().Query(db_, "count_over_time(up[10m])", 600'000);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(r.total_samples, 40);  // 40 raw samples in (0, 600s] plus the output point
}

TEST_F(EngineTest, MaxSamplesLimit) {
  EngineOptions o;
  o.max_samples = 10;
  Engine engine(o);
  QueryResult r = engine.Query(db_, "count_over_time(up[10m])", 600'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_kind, QueryErrorKind::kExecution);
  EXPECT_NE(r.error.find("too many samples"), std::string::npos) << r.error;
  // A huge subquery fails cleanly instead of allocating billions of steps.
  r = engine.Query(db_, "max_over_time(up[10y:1ms])", 600'000);
  EXPECT_FALSE(r.ok());
}

TEST_F(EngineTest, TimeoutAndCancel) {
  EngineOptions o;
  o.timeout = std::chrono::milliseconds(0);
  Engine slow(o);
  QueryResult r = slow.Query(db_, "up", 600'000);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kTimeout) << r.error;

  Engine engine;
  std::atomic<bool> cancel{true};
  QueryControl control;
  control.cancel = &cancel;
  r = engine.Query(db_, "up", 600'000, control);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kCanceled) << r.error;
}

// One series can be the whole query's work: max_over_time over a one-day window of a 1 s
// subquery reads 86,400 points a step, ~10^9 over these 11,000 steps (over a second here), and
// so does rate's reset correction over a counter that keeps resetting. Its deadline is looked at
// while the windows are read, not only between series: the query stops with a timeout instead
// of running to the end.
TEST_F(EngineTest, TimeoutWithinOneLongSeries) {
  EngineOptions o;
  o.timeout = std::chrono::milliseconds(300);
  Engine engine(o);
  QueryResult r = engine.QueryRange(db_, "max_over_time(vector(time())[1d:1s])", 1'000'000'000,
                                    1'000'000'000 + 10'999 * 10'000, 10'000);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kTimeout) << r.error;
  // rate's counter-reset correction reads every point of a window with a reset: a counter that
  // resets every other second (0, 1, 0, 1, ...) puts ~43,000 resets in each one-day window.
  r = engine.QueryRange(db_, "rate((vector(time()) % 2)[1d:1s])", 1'000'000'000,
                        1'000'000'000 + 10'999 * 10'000, 10'000);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kTimeout) << r.error;
}

TEST_F(EngineTest, LookbackDeltaOption) {
  EngineOptions o;
  o.lookback_delta_ms = 10'000;
  Engine engine(o);
  // The last up sample is at 600s; 620s is beyond a 10s lookback but within the default 5m.
  EXPECT_EQ(engine.Query(db_, "up", 620'000).vector.size(), 0u);
  EXPECT_EQ(Engine().Query(db_, "up", 620'000).vector.size(), 1u);
  QueryControl per_query;
  per_query.lookback_delta_ms = 10'000;
  EXPECT_EQ(Engine().Query(db_, "up", 620'000, per_query).vector.size(), 0u);
}

TEST_F(EngineTest, StalenessMarkerEndsSeries) {
  auto app = db_.NewAppender();
  ASSERT_TRUE(app->Append(Labels{{"__name__", "gone"}}, 0, 5).ok());
  ASSERT_TRUE(app->Append(Labels{{"__name__", "gone"}}, 30'000, tsdb::StaleNaN()).ok());
  ASSERT_TRUE(app->Commit().ok());
  Engine engine;
  EXPECT_EQ(engine.Query(db_, "gone", 15'000).vector.size(), 1u);
  EXPECT_EQ(engine.Query(db_, "gone", 45'000).vector.size(), 0u);
}

TEST_F(EngineTest, RateInfoAnnotation) {
  Engine engine;
  QueryResult r = engine.Query(db_, "rate(up[5m])", 600'000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.infos.size(), 1u);
  EXPECT_NE(r.infos[0].find("metric might not be a counter"), std::string::npos);
  EXPECT_TRUE(engine.Query(db_, "rate(req_total[5m])", 600'000).infos.empty());
}

TEST(QueryErrorKindTest, Names) {
  EXPECT_EQ(QueryErrorKindName(QueryErrorKind::kBadData), "bad_data");
  EXPECT_EQ(QueryErrorKindName(QueryErrorKind::kExecution), "execution");
  EXPECT_EQ(QueryErrorKindName(QueryErrorKind::kTimeout), "timeout");
  EXPECT_EQ(QueryErrorKindName(QueryErrorKind::kCanceled), "canceled");
}

// rate/increase/delta at a range step keep the window shape (RateShape) while windows repeat it;
// each point must equal the instant query at its step (where the shape is computed afresh) bit
// for bit: regular stretches, jittered ones, a gap, a change of interval, and counters near zero
// (the zero clamp) whose windows share a shape with unclamped ones.
TEST(EngineRangeKernelTest, RateAtEachStepSameAsInstant) {
  testing::MemStorage db;
  auto app = db.NewAppender();
  const int64_t jitter[] = {0, 0, 3'000, 0, 0, 5'000, 1'000};
  for (int s = 0; s < 4; ++s) {
    double v = s == 0 ? 0.5 : 1e6 * s;
    std::vector<int64_t> times;
    for (int64_t t = 0; t < 1'800'000; t += 15'000) times.push_back(t);  // regular
    for (int64_t k = 0; k < 80; ++k) times.push_back(1'800'000 + k * 15'000 + jitter[k % 7]);
    // A gap of 3 minutes, then a 10 s interval.
    for (int64_t t = 3'180'000; t <= 5'400'000; t += 10'000) times.push_back(t);
    for (size_t k = 0; k < times.size(); ++k) {
      v += s == 3 ? (k % 3 == 0 ? -2.5 : 4.0) : 10.0 + static_cast<double>(k % 4);
      // Series 1 resets to near zero twice: windows after it are clamped like series 0's first.
      if (s == 1 && (k == 150 || k == 300)) v = 0.25;
      ASSERT_TRUE(
          app->Append(tsdb::Labels{{"__name__", "c_total"}, {"s", std::to_string(s)}}, times[k], v)
              .ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  const Engine engine;
  size_t points = 0;
  for (const char* q : {"rate(c_total[5m])", "increase(c_total[1m])", "delta(c_total[2m])",
                        "rate(c_total[45s])", "increase(c_total[5m] offset 30s)"}) {
    for (int64_t step : {60'000, 15'000, 7'000}) {
      QueryResult r = engine.QueryRange(db, q, 0, 5'400'000, step);
      ASSERT_TRUE(r.ok()) << q << ": " << r.error;
      for (const auto& series : r.matrix) {
        size_t next = 0;  // the series' next point
        for (int64_t t = 0; t <= 5'400'000; t += step) {
          QueryResult at = engine.Query(db, q, t);
          ASSERT_TRUE(at.ok()) << q << ": " << at.error;
          const Sample* want = nullptr;
          for (const auto& e : at.vector) {
            if (e.labels == series.labels) want = &e;
          }
          const bool have = next < series.points.size() && series.points[next].t == t;
          ASSERT_EQ(have, want != nullptr) << q << " step " << step << " at " << t;
          if (!have) continue;
          ASSERT_EQ(std::bit_cast<uint64_t>(series.points[next].v),
                    std::bit_cast<uint64_t>(want->v))
              << q << " step " << step << " at " << t << ": " << series.points[next].v << " vs "
              << want->v;
          ++next;
          ++points;
        }
        EXPECT_EQ(next, series.points.size()) << q;
      }
    }
  }
  EXPECT_GT(points, 10'000U);
  // Two windows 4 minutes apart with the same edges (30 s after the start, 30 s before the end)
  // but 3 and 4 samples: the count alone changes the extrapolation (30 s is past 1.1 times the
  // 20 s average interval of the second window, not the 30 s of the first).
  auto wapp = db.NewAppender();
  for (int64_t t : {30'000, 60'000, 90'000, 270'000, 290'000, 310'000, 330'000}) {
    ASSERT_TRUE(
        wapp->Append(tsdb::Labels{{"__name__", "w_total"}}, t, static_cast<double>(t)).ok());
  }
  ASSERT_TRUE(wapp->Commit().ok());
  QueryResult r = engine.QueryRange(db, "rate(w_total[2m])", 120'000, 360'000, 240'000);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.matrix.size(), 1U);
  ASSERT_EQ(r.matrix[0].points.size(), 2U);
  for (const auto& p : r.matrix[0].points) {
    QueryResult at = engine.Query(db, "rate(w_total[2m])", p.t);
    ASSERT_TRUE(at.ok()) << at.error;
    ASSERT_EQ(at.vector.size(), 1U);
    EXPECT_EQ(std::bit_cast<uint64_t>(p.v), std::bit_cast<uint64_t>(at.vector[0].v)) << p.t;
  }
  EXPECT_NE(r.matrix[0].points[0].v, r.matrix[0].points[1].v);
}

// topk/bottomk with a small k keep each group's k first by insertion; the answer must be the k
// first of the stable order (value, NaN last, ties in series order) at every step, as a full
// sort gives: ties across series, NaNs, groups smaller than k, and k on both sides of the limit
// of the insertion path.
TEST(EngineAggregateTest, TopkBottomkSameAsFullSort) {
  testing::MemStorage db;
  auto app = db.NewAppender();
  for (int s = 0; s < 30; ++s) {
    for (int64_t t = 0; t <= 600'000; t += 15'000) {
      const int64_t k = t / 15'000;
      double v = static_cast<double>((s * 7 + k * 3) % 11);  // many ties
      if ((s + k) % 9 == 0) v = std::nan("");
      if (s % 10 == 9 && k % 4 == 1) continue;  // gaps
      ASSERT_TRUE(app->Append(tsdb::Labels{{"__name__", "x"},
                                           {"g", s < 2 ? "tiny" : std::to_string(s % 3)},
                                           {"s", std::to_string(100 + s)}},
                              t, v)
                      .ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  const Engine engine;
  QueryResult all = engine.QueryRange(db, "x", 0, 600'000, 15'000);
  ASSERT_TRUE(all.ok()) << all.error;
  ASSERT_EQ(all.matrix.size(), 30U);
  size_t checked = 0;
  for (bool top : {true, false}) {
    for (int k : {1, 2, 3, 7, 15, 16, 17, 40}) {
      for (bool grouped : {false, true}) {
        const std::string q = std::string(top ? "topk" : "bottomk") + (grouped ? " by (g)" : "") +
                              "(" + std::to_string(k) + ", x)";
        QueryResult r = engine.QueryRange(db, q, 0, 600'000, 15'000);
        ASSERT_TRUE(r.ok()) << q << ": " << r.error;
        // Expected: per step and group, the input series (label order) sorted stably.
        std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> want, got;
        for (int64_t t = 0; t <= 600'000; t += 15'000) {
          std::map<std::string, std::vector<std::pair<double, size_t>>> groups;
          for (size_t i = 0; i < all.matrix.size(); ++i) {
            for (const auto& p : all.matrix[i].points) {
              if (p.t == t) {
                groups[grouped ? std::string(all.matrix[i].labels.Get("g")) : ""].push_back(
                    {p.v, i});
              }
            }
          }
          for (auto& [g, m] : groups) {
            std::stable_sort(m.begin(), m.end(), [top](const auto& a, const auto& b) {
              if (std::isnan(a.first) || std::isnan(b.first)) {
                return !std::isnan(a.first) && std::isnan(b.first);
              }
              return top ? a.first > b.first : a.first < b.first;
            });
            for (size_t j = 0; j < m.size() && j < static_cast<size_t>(k); ++j) {
              want[all.matrix[m[j].second].labels.ToString()].push_back(
                  {t, std::bit_cast<uint64_t>(m[j].first)});
            }
          }
        }
        for (const auto& series : r.matrix) {
          auto& pts = got[series.labels.ToString()];
          for (const auto& p : series.points) pts.push_back({p.t, std::bit_cast<uint64_t>(p.v)});
        }
        EXPECT_EQ(got, want) << q;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 32U);
}

}  // namespace
}  // namespace kansoku::query

namespace kansoku::query {
namespace {
TEST(EngineLimitsTest, HugeSubqueryFailsCleanly) {
  testing::MemStorage db;
  Engine engine;  // default limits
  QueryResult r = engine.Query(db, "max_over_time(vector(1)[10y:1ms])", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("too many samples"), std::string::npos) << r.error;
  r = engine.QueryRange(db, "1", 0, 1'000'000'000'000, 1);
  EXPECT_FALSE(r.ok());
}
}  // namespace
}  // namespace kansoku::query

namespace kansoku::query {
namespace {
// One Engine serves concurrent queries (run under the tsan preset to check for races).
TEST(EngineConcurrencyTest, ParallelQueriesAgree) {
  testing::MemStorage db;
  auto app = db.NewAppender();
  for (int s = 0; s < 20; ++s) {
    for (int64_t t = 0; t <= 600'000; t += 15'000) {
      ASSERT_TRUE(app->Append(tsdb::Labels{{"__name__", "c_total"}, {"i", std::to_string(s)}}, t,
                              static_cast<double>(t) / 1000 * (s + 1))
                      .ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  const Engine engine;
  const double want = engine.Query(db, "sum(rate(c_total[5m]))", 600'000).vector.at(0).v;
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        QueryResult r = engine.Query(db, "sum(rate(c_total[5m]))", 600'000);
        if (!r.ok() || r.vector.size() != 1 || r.vector[0].v != want) ++mismatches;
        QueryResult rr = engine.QueryRange(db, "max by (i) (c_total)", 0, 600'000, 60'000);
        if (!rr.ok() || rr.matrix.size() != 20) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_NEAR(want, 210.0, 1e-9);  // sum over i of (i+1) per second
}
}  // namespace
}  // namespace kansoku::query

namespace kansoku::query {
namespace {
// Two answers' matrices are the same series with the same points, bit for bit.
void ExpectSameSeries(const QueryResult& a, const QueryResult& b, const std::string& q) {
  ASSERT_EQ(a.matrix.size(), b.matrix.size()) << q;
  for (size_t i = 0; i < a.matrix.size(); ++i) {
    ASSERT_EQ(a.matrix[i].labels, b.matrix[i].labels) << q;
    ASSERT_EQ(a.matrix[i].points.size(), b.matrix[i].points.size()) << q;
    for (size_t k = 0; k < a.matrix[i].points.size(); ++k) {
      ASSERT_EQ(a.matrix[i].points[k].t, b.matrix[i].points[k].t) << q;
      ASSERT_EQ(std::bit_cast<uint64_t>(a.matrix[i].points[k].v),
                std::bit_cast<uint64_t>(b.matrix[i].points[k].v))
          << q << " " << a.matrix[i].labels.ToString() << " @" << a.matrix[i].points[k].t;
    }
  }
}
// Both range queries succeeded with the same, non-empty series.
void ExpectSameMatrix(const QueryResult& a, const QueryResult& b, const std::string& q) {
  ASSERT_TRUE(a.ok()) << q << ": " << a.error;
  ASSERT_TRUE(b.ok()) << q << ": " << b.error;
  ASSERT_GT(a.matrix.size(), 0U) << q;
  ExpectSameSeries(a, b, q);
}

// A DB the test compacts itself (no background work, no fsync), with 2 h blocks.
tsdb::DBOptions BlocksTestOptions() {
  tsdb::DBOptions o;
  o.background = false;
  o.wal_fsync_interval_ms = 0;
  o.block_range_ms = 2 * 3600000;
  return o;
}

// A Queryable whose NewQuerier blocks until released: holds an admission slot for the tests.
class BlockingStorage : public tsdb::Queryable {
 public:
  Result<std::unique_ptr<tsdb::Querier>> NewQuerier(int64_t mint, int64_t maxt) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    }
    return db_.NewQuerier(mint, maxt);
  }
  std::vector<std::pair<std::string, tsdb::MetricMetadata>> Metadata(std::string_view m,
                                                                     size_t n) override {
    return db_.Metadata(m, n);
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return entered_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  testing::MemStorage db_;
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

void WaitQueued(const Engine& e, int64_t n) {
  for (int i = 0; i < 20000 && e.Stats().queued < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(EngineGateTest, QueuesThenRefusesBeyondTheQueue) {
  BlockingStorage db;
  EngineOptions o;
  o.max_concurrency = 1;
  o.max_queued = 1;
  const Engine engine(o);
  QueryResult first, queued;
  std::thread a([&] { first = engine.Query(db, "vector(1)", 0); });
  db.WaitEntered(1);  // a holds the only slot
  std::thread b([&] { queued = engine.Query(db, "vector(2)", 0); });
  WaitQueued(engine, 1);
  ASSERT_EQ(engine.Stats().running, 1);
  ASSERT_EQ(engine.Stats().queued, 1);
  QueryResult refused = engine.Query(db, "vector(3)", 0);
  EXPECT_EQ(refused.error_kind, QueryErrorKind::kUnavailable);
  EXPECT_NE(refused.error.find("query.max_concurrency"), std::string::npos) << refused.error;
  EXPECT_EQ(QueryErrorKindName(refused.error_kind), "unavailable");
  EXPECT_EQ(engine.Stats().rejected_total, 1);
  db.Release();
  a.join();
  b.join();
  ASSERT_TRUE(first.ok()) << first.error;
  ASSERT_TRUE(queued.ok()) << queued.error;
  EXPECT_EQ(queued.vector.at(0).v, 2);
  EXPECT_EQ(engine.Stats().running, 0);
  EXPECT_EQ(engine.Stats().queued, 0);
}

TEST(EngineGateTest, TimesOutInTheQueue) {
  BlockingStorage db;
  EngineOptions o;
  o.max_concurrency = 1;
  o.max_queued = 4;
  const Engine engine(o);
  QueryResult first;
  std::thread a([&] { first = engine.Query(db, "vector(1)", 0); });
  db.WaitEntered(1);
  QueryControl c;
  c.timeout = std::chrono::milliseconds(50);
  QueryResult r = engine.Query(db, "vector(2)", 0, c);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kTimeout);
  EXPECT_EQ(r.error, "query timed out in query queue");
  EXPECT_EQ(engine.Stats().queue_timeouts_total, 1);
  db.Release();
  a.join();
  EXPECT_TRUE(first.ok());
}

// Range functions over many series run on several threads; the answer is the single-threaded one
// bit for bit, series in label order.
TEST(EngineParallelTest, ManySeriesSameAsSingleThread) {
  testing::MemStorage db;
  auto app = db.NewAppender();
  for (int s = 0; s < 200; ++s) {
    double v = 0;
    for (int64_t t = 0; t <= 3'600'000; t += 15'000) {
      v += (s % 7) * 0.37 + (t % 45'000 == 0 ? 1.25 : 0.5);
      if (s % 11 == 0 && t == 1'800'000) v = 0;  // a counter reset
      ASSERT_TRUE(app->Append(tsdb::Labels{{"__name__", "c_total"},
                                           {"i", std::to_string(s)},
                                           {"g", std::to_string(s % 5)}},
                              t, v)
                      .ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  EngineOptions one;
  one.parallelism = 1;
  EngineOptions four;
  four.parallelism = 4;
  const Engine e1(one), e4(four);
  for (const char* q : {"rate(c_total[5m])", "sum by (g) (rate(c_total[5m]))",
                        "avg without (i) (increase(c_total[2m]))", "max_over_time(c_total[10m])",
                        "stddev by (g) (deriv(c_total[5m]))"}) {
    ExpectSameMatrix(e1.QueryRange(db, q, 0, 3'600'000, 60'000),
                     e4.QueryRange(db, q, 0, 3'600'000, 60'000), q);
  }
  // The samples limit holds on the parallel path too.
  EngineOptions small = four;
  small.max_samples = 1000;
  QueryResult r = Engine(small).QueryRange(db, "sum(rate(c_total[5m]))", 0, 3'600'000, 60'000);
  EXPECT_EQ(r.error_kind, QueryErrorKind::kExecution);
}

// An aggregation of a range function is fused into it when there are enough groups (each
// group's series on one thread, in order); the result must be bit-identical to aggregating the
// materialised output (forced here with `* 1`), group order included, at any parallelism.
TEST(EngineParallelTest, FusedAggregationSameAsMaterialised) {
  testing::MemStorage db;
  auto app = db.NewAppender();
  for (int s = 0; s < 240; ++s) {
    double v = 0;
    // Series 0..39 stop after 20 minutes, so late steps have groups whose first series has no
    // output; series 7 has no sample in the queried hour at all.
    const int64_t last = s < 40 ? 1'200'000 : 3'600'000;
    const int64_t first = s == 7 ? 4'000'000 : 0;
    for (int64_t t = first; t <= std::max(last, first); t += 15'000) {
      v += (s % 7) * 0.37 + (t % 45'000 == 0 ? 1.25 : 0.5) + (s % 3) * 1e-9;
      if (s % 11 == 0 && t == 1'800'000) v = 0;  // a counter reset
      ASSERT_TRUE(app->Append(tsdb::Labels{{"__name__", s % 13 == 0 ? "d_total" : "c_total"},
                                           {"g", std::to_string((s * 7) % 37)},
                                           {"i", std::to_string(s)}},
                              t, v)
                      .ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  auto same = [](const QueryResult& a, const QueryResult& b, const std::string& q) {
    ASSERT_EQ(a.ok(), b.ok()) << q << ": " << a.error << " / " << b.error;
    ASSERT_EQ(a.error, b.error) << q;  // e.g. by (__name__) of two names, both dropped
    ExpectSameSeries(a, b, q);
    ASSERT_EQ(a.vector.size(), b.vector.size()) << q;
    for (size_t i = 0; i < a.vector.size(); ++i) {
      ASSERT_EQ(a.vector[i].labels, b.vector[i].labels) << q << " at " << i;
      ASSERT_EQ(std::bit_cast<uint64_t>(a.vector[i].v), std::bit_cast<uint64_t>(b.vector[i].v))
          << q;
    }
  };
  size_t checked = 0;
  for (int par : {1, 2, 4}) {
    EngineOptions o;
    o.parallelism = par;
    const Engine e(o);
    for (const char* op : {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"}) {
      for (const char* grouping : {"by (g)", "without (i)", "by (g, __name__)", ""}) {
        for (const char* fn :
             {"rate(c_total[5m])", "increase({__name__=~\".+_total\"}[2m])",
              "max_over_time(c_total[10m] offset 1m)", "quantile_over_time(0.3, c_total[5m])"}) {
          const std::string inner = std::string(fn);
          const std::string q = std::string(op) + " " + grouping + " (" + inner + ")";
          const std::string m = std::string(op) + " " + grouping + " (" + inner + " * 1)";
          same(e.QueryRange(db, q, 0, 3'600'000, 60'000), e.QueryRange(db, m, 0, 3'600'000, 60'000),
               q);
          for (int64_t t : {600'000, 2'400'000}) same(e.Query(db, q, t), e.Query(db, m, t), q);
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3U * 8 * 4 * 4);
}

// The engine hands a range function's name, step and range to the storage, so a long-range
// rate() at a large step over compacted blocks reads their 5 m rollups; on steady counters the
// answer is the raw one. A 60 s step reads raw chunks.
TEST(EngineRollupTest, LongRangeRateReadsBlockRollups) {
  tsdb::testing::TempDir dir;
  tsdb::DBOptions o = BlocksTestOptions();
  o.rollup_min_age_ms = 0;  // rollups at every compaction
  auto db = tsdb::DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  for (int64_t t = 0; t < 9 * 3600000; t += 15000) {
    auto app = (*db)->NewAppender();
    for (int k = 1; k <= 2; ++k) {
      ASSERT_TRUE(app->Append(tsdb::Labels{{"__name__", "ctr_total"}, {"k", std::to_string(k)}}, t,
                              k * static_cast<double>(t) / 1000)
                      .ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_EQ(*(*db)->CompactHead(), 3);
  ASSERT_EQ(*(*db)->CompactBlocks(), 1);  // one 6 h block with rollups; 3 h stay in the head
  const Engine engine;
  const uint64_t before = (*db)->Stats().rollup_block_reads;
  QueryResult r = engine.QueryRange(**db, "rate(ctr_total[1h])", 2 * 3600000, 6 * 3600000, 3600000);
  ASSERT_TRUE(r.ok()) << r.error;
  const uint64_t after = (*db)->Stats().rollup_block_reads;
  EXPECT_GT(after, before);
  ASSERT_EQ(r.matrix.size(), 2U);
  for (size_t k = 0; k < 2; ++k) {
    ASSERT_EQ(r.matrix[k].points.size(), 5U);
    for (const auto& p : r.matrix[k].points) EXPECT_NEAR(p.v, k + 1.0, 1e-9) << p.t;
  }
  QueryResult fine =
      engine.QueryRange(**db, "rate(ctr_total[1h])", 2 * 3600000, 6 * 3600000, 60000);
  ASSERT_TRUE(fine.ok()) << fine.error;
  EXPECT_EQ((*db)->Stats().rollup_block_reads, after);  // raw chunks
  EXPECT_NEAR(fine.matrix[1].points.back().v, 2.0, 1e-9);
}

// Over compacted blocks (packed chunks, whose decoder reports series that never decrease so the
// engine skips its own reset scan) counters with resets inside chunks, at chunk edges and in the
// head answer bit for bit what the same samples answer from memory.
TEST(EngineBlocksTest, CountersWithResetsSameAsInMemory) {
  tsdb::testing::TempDir dir;
  const tsdb::DBOptions o = BlocksTestOptions();
  auto db = tsdb::DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok());
  testing::MemStorage mem;
  std::vector<double> v(40, 0);
  auto app = (*db)->NewAppender();
  auto mapp = mem.NewAppender();
  for (int64_t t = 0; t < 7 * 3600000; t += 15000) {
    for (size_t s = 0; s < v.size(); ++s) {
      v[s] += 0.25 * static_cast<double>(1 + (s + static_cast<size_t>(t / 15000)) % 5);
      // Series 0..29 reset once each, at a different sample (s * 61 spreads them over chunk
      // positions); the others never do.
      if (s < 30 && t == static_cast<int64_t>(s * 61 + 3) * 15000) v[s] = 0.5;
      const tsdb::Labels l{{"__name__", "c_total"}, {"s", std::to_string(s)}};
      ASSERT_TRUE(app->Append(l, t, v[s]).ok());
      ASSERT_TRUE(mapp->Append(l, t, v[s]).ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(mapp->Commit().ok());
  ASSERT_GE(*(*db)->CompactHead(), 2);
  for (int par : {1, 4}) {
    EngineOptions eo;
    eo.parallelism = par;
    const Engine e(eo);
    for (const char* q : {"rate(c_total[5m])", "increase(c_total[7m])", "sum(rate(c_total[5m]))",
                          "resets(c_total[30m])", "delta(c_total[5m])"}) {
      ExpectSameMatrix(e.QueryRange(**db, q, 0, 7 * 3600000, 60000),
                       e.QueryRange(mem, q, 0, 7 * 3600000, 60000), q);
    }
  }
}

// Regular series (the storage reports their interval, so the range kernel moves both window
// edges by arithmetic between the series' ends) answer bit for bit what the same samples answer
// from memory (edges searched per window): series that start and end inside the query, at
// times off the step's grid, with resets, near zero, at steps that are and are not multiples
// of the interval, with offsets, ranges shorter than the interval, in blocks and in the head.
TEST(EngineBlocksTest, RegularSeriesSameAsInMemory) {
  tsdb::testing::TempDir dir;
  auto db = tsdb::DB::Open(BlocksTestOptions(), dir.path());
  ASSERT_TRUE(db.ok());
  testing::MemStorage mem;
  auto app = (*db)->NewAppender();
  auto mapp = mem.NewAppender();
  struct Series {
    int64_t first, last, interval;
    double v0, inc;
    int64_t reset_every;  // samples; 0: never
  };
  const Series series[] = {
      {0, 5 * 3600000, 15000, 100, 2.5, 0},
      {1200000 + 7000, 4200000 + 7000, 15000, 1e6, 10, 37},
      {60000, 5 * 3600000, 10000, 0.25, 0.01, 0},
      {30000, 3 * 3600000 + 30000, 30000, 50, -0.5, 0},
      {4000, 5 * 3600000, 60000, 3, 7, 11},
      {0, 600000, 15000, 5, 1, 0},
  };
  for (size_t k = 0; k < std::size(series); ++k) {
    const Series& sr = series[k];
    const tsdb::Labels l{{"__name__", "c_total"}, {"s", std::to_string(k)}};
    double v = sr.v0;
    int64_t n = 0;
    for (int64_t t = sr.first; t <= sr.last; t += sr.interval, ++n) {
      v = sr.reset_every > 0 && n % sr.reset_every == sr.reset_every - 1 ? 0.5 : v + sr.inc;
      ASSERT_TRUE(app->Append(l, t, v).ok());
      ASSERT_TRUE(mapp->Append(l, t, v).ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(mapp->Commit().ok());
  ASSERT_GE(*(*db)->CompactHead(), 1);  // blocks and the head
  const Engine e;
  size_t points = 0;
  for (const char* q :
       {"rate(c_total[5m])", "increase(c_total[1m])", "delta(c_total[2m])", "rate(c_total[45s])",
        "increase(c_total[5m] offset 30s)", "rate(c_total[10s])", "rate(c_total[5m] offset 7s)",
        "sum(rate(c_total[3m]))"}) {
    for (const int64_t step : {60000, 15000, 30000, 120000, 7000}) {
      for (const int64_t start : {int64_t{0}, int64_t{4000}, int64_t{1234567}}) {
        const int64_t end = 5 * 3600000 + 600000;
        const QueryResult a = e.QueryRange(**db, q, start, end, step);
        const QueryResult b = e.QueryRange(mem, q, start, end, step);
        ASSERT_TRUE(a.ok()) << q << ": " << a.error;
        ASSERT_TRUE(b.ok()) << q << ": " << b.error;
        ExpectSameSeries(
            a, b,
            std::string(q) + " step " + std::to_string(step) + " start " + std::to_string(start));
        for (const auto& m : a.matrix) points += m.points.size();
      }
    }
  }
  EXPECT_GT(points, 100000U);
}

}  // namespace
}  // namespace kansoku::query
