#include "query/engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "query/testing/mem_storage.h"

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
