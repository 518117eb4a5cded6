#include "usage/guard.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/metrics.h"

namespace kansoku::usage {
namespace {

// Records what reaches storage.
class RecordingAppender : public tsdb::Appender {
 public:
  explicit RecordingAppender(std::vector<std::string>* committed) : committed_(committed) {}
  Status Append(const tsdb::Labels& labels, int64_t, double) override {
    staged_.push_back(labels.ToString());
    return Status::Ok();
  }
  Status UpdateMetadata(std::string_view, const tsdb::MetricMetadata&) override {
    return Status::Ok();
  }
  Status Commit() override {
    if (fail_commit) return Status::Unavailable("disk full");
    committed_->insert(committed_->end(), staged_.begin(), staged_.end());
    return Status::Ok();
  }
  void Rollback() override { staged_.clear(); }
  bool fail_commit = false;

 private:
  std::vector<std::string>* committed_;
  std::vector<std::string> staged_;
};

// Hands out a handle per distinct series, as the TSDB does.
class HandleAppender : public RecordingAppender {
 public:
  using RecordingAppender::RecordingAppender;
  Status AppendWithHandle(uint64_t* handle, const tsdb::Labels& labels, int64_t t,
                          double v) override {
    if (*handle == 0) {
      auto [it, inserted] = ids_.try_emplace(labels.ToString(), ids_.size() + 1);
      *handle = it->second;
    }
    return Append(labels, t, v);
  }

 private:
  std::map<std::string, uint64_t> ids_;
};

tsdb::Labels L(const std::vector<std::pair<std::string, std::string>>& kv) {
  tsdb::LabelsBuilder b;
  for (const auto& [k, v] : kv) b.Set(k, v);
  return b.Build();
}

class GuardTest : public ::testing::Test {
 protected:
  std::unique_ptr<Guard> Make(TenantLimits def,
                              std::map<std::string, TenantLimits, std::less<>> per = {}) {
    GuardOptions o;
    o.default_limits = def;
    o.tenant_limits = std::move(per);
    o.clock = &clock_;
    o.active_window_ms = 3600 * 1000;
    return std::make_unique<Guard>(o);
  }
  // Appends one sample per series in one request; returns the per-series statuses.
  std::vector<Status> Write(Guard& g, const std::string& tenant,
                            const std::vector<tsdb::Labels>& series) {
    auto app = g.Wrap(std::make_unique<RecordingAppender>(&stored_), tenant, "test");
    std::vector<Status> out;
    out.reserve(series.size());
    for (const auto& l : series) out.push_back(app->Append(l, clock_.NowMs(), 1));
    EXPECT_TRUE(app->Commit().ok());
    return out;
  }
  FakeClock clock_{1700000000000};
  std::vector<std::string> stored_;
};

TEST_F(GuardTest, CountsActiveSeriesPerTenantMetricLabelAndSource) {
  auto g = Make({});
  Write(*g, "ci",
        {L({{"__name__", "up"}, {"host", "a"}, {"job", "node"}}),
         L({{"__name__", "up"}, {"host", "b"}, {"job", "node"}}),
         L({{"__name__", "cpu"}, {"host", "a"}, {"mode", "idle"}})});
  Write(*g, "ci", {L({{"__name__", "up"}, {"host", "a"}, {"job", "node"}})});  // existing
  Write(*g, "other", {L({{"__name__", "up"}, {"host", "a"}, {"job", "node"}})});
  auto tenants = g->Tenants();
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].name, "ci");
  EXPECT_EQ(tenants[0].active_series, 3u);
  EXPECT_EQ(tenants[0].new_series_last_hour, 3u);
  EXPECT_EQ(tenants[0].samples_total, 4u);
  EXPECT_EQ(tenants[1].active_series, 1u);

  auto c = g->Cardinality("ci", 10);
  ASSERT_EQ(c.top_metrics.size(), 2u);
  EXPECT_EQ(c.top_metrics[0].name, "up");
  EXPECT_EQ(c.top_metrics[0].count, 2u);
  EXPECT_EQ(c.top_labels[0].name, "host");
  EXPECT_EQ(c.top_labels[0].count, 2u);

  auto hosts = g->Sources("host");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "a");
  EXPECT_EQ(hosts[0].active_series, 3u);  // two of ci, one of other
  auto tokens = g->Sources("token");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].detail, "test");
}

TEST_F(GuardTest, ActiveSeriesLimitRefusesOnlyNewSeriesAndNamesTheLimit) {
  auto g = Make({}, {{"ci", TenantLimits{.max_active_series = 2}}});
  auto st = Write(*g, "ci",
                  {L({{"__name__", "req"}, {"user", "1"}}), L({{"__name__", "req"}, {"user", "2"}}),
                   L({{"__name__", "req"}, {"user", "3"}})});
  EXPECT_TRUE(st[0].ok());
  EXPECT_TRUE(st[1].ok());
  ASSERT_EQ(st[2].code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st[2].message().find("limit max_active_series=2 reached for token \"ci\" (2 active "
                                 "series): new series req{user=\"3\"} refused"),
            std::string::npos)
      << st[2].message();
  // Existing series keep flowing; other tenants are not limited.
  st = Write(*g, "ci", {L({{"__name__", "req"}, {"user", "1"}})});
  EXPECT_TRUE(st[0].ok());
  st = Write(*g, "other", {L({{"__name__", "req"}, {"user", "3"}})});
  EXPECT_TRUE(st[0].ok());
  EXPECT_EQ(stored_.size(), 4u);
  EXPECT_EQ(g->Tenants()[0].refusals.at("max_active_series"), 1u);
}

TEST_F(GuardTest, LabelValuesLimitNamesTheLabelAndValue) {
  auto g = Make(TenantLimits{.max_label_values_per_name = 3});
  std::vector<tsdb::Labels> series;
  series.reserve(5);
  for (int i = 0; i < 5; ++i)
    series.push_back(L({{"__name__", "req"}, {"path", "/u/" + std::to_string(i)}}));
  auto st = Write(*g, "ci", series);
  EXPECT_TRUE(st[2].ok());
  ASSERT_FALSE(st[3].ok());
  EXPECT_NE(st[3].message().find("limit max_label_values_per_name=3 reached for label \"path\" of "
                                 "token \"ci\" (3 values): new value \"/u/3\""),
            std::string::npos)
      << st[3].message();
  EXPECT_EQ(g->Cardinality("ci", 5).top_labels[0].count, 3u);
}

TEST_F(GuardTest, SeriesPerMetricAndNewSeriesPerHourLimits) {
  auto g = Make(TenantLimits{.max_new_series_per_hour = 4, .max_series_per_metric = 2});
  auto st = Write(*g, "ci",
                  {L({{"__name__", "a"}, {"i", "1"}}), L({{"__name__", "a"}, {"i", "2"}}),
                   L({{"__name__", "a"}, {"i", "3"}}), L({{"__name__", "b"}, {"i", "1"}}),
                   L({{"__name__", "b"}, {"i", "2"}}), L({{"__name__", "c"}, {"i", "1"}})});
  EXPECT_TRUE(st[1].ok());
  EXPECT_NE(st[2].message().find("limit max_series_per_metric=2 reached for metric \"a\""),
            std::string::npos);
  EXPECT_TRUE(st[4].ok());
  EXPECT_NE(st[5].message().find("limit max_new_series_per_hour=4"), std::string::npos)
      << st[5].message();
  // An hour later the window has moved on.
  clock_.AdvanceMs(3601 * 1000);
  g->Sweep();
  st = Write(*g, "ci", {L({{"__name__", "c"}, {"i", "1"}})});
  EXPECT_TRUE(st[0].ok());
}

TEST_F(GuardTest, InactiveSeriesExpireAndFreeTheirPlace) {
  auto g = Make(TenantLimits{.max_active_series = 1});
  EXPECT_TRUE(Write(*g, "ci", {L({{"__name__", "a"}})})[0].ok());
  EXPECT_FALSE(Write(*g, "ci", {L({{"__name__", "b"}})})[0].ok());
  clock_.AdvanceMs(30 * 60 * 1000);
  g->Sweep();
  EXPECT_EQ(g->Tenants()[0].active_series, 1u);  // 30 min: still active
  clock_.AdvanceMs(31 * 60 * 1000);
  g->Sweep();
  EXPECT_EQ(g->Tenants()[0].active_series, 0u);
  EXPECT_TRUE(g->Cardinality("ci", 5).top_labels.empty());
  EXPECT_TRUE(Write(*g, "ci", {L({{"__name__", "b"}})})[0].ok());
}

TEST_F(GuardTest, RollbackAndFailedCommitGiveReservationsBack) {
  auto g = Make(TenantLimits{.max_active_series = 1});
  {
    auto app = g->Wrap(std::make_unique<RecordingAppender>(&stored_), "ci", "test");
    EXPECT_TRUE(app->Append(L({{"__name__", "a"}}), 1, 1).ok());
    app->Rollback();
  }
  EXPECT_EQ(g->Tenants()[0].active_series, 0u);
  {
    auto inner = std::make_unique<RecordingAppender>(&stored_);
    inner->fail_commit = true;
    auto app = g->Wrap(std::move(inner), "ci", "test");
    EXPECT_TRUE(app->Append(L({{"__name__", "a"}}), 1, 1).ok());
    EXPECT_FALSE(app->Commit().ok());
  }
  EXPECT_EQ(g->Tenants()[0].active_series, 0u);
  {
    auto app = g->Wrap(std::make_unique<RecordingAppender>(&stored_), "ci", "test");
    EXPECT_TRUE(app->Append(L({{"__name__", "a"}}), 1, 1).ok());
  }  // destroyed without commit
  EXPECT_EQ(g->Tenants()[0].active_series, 0u);
  EXPECT_TRUE(Write(*g, "ci", {L({{"__name__", "b"}})})[0].ok());
}

TEST_F(GuardTest, ConcurrentWritersCannotOvershootTheLimit) {
  auto g = Make(TenantLimits{.max_active_series = 1000});
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> sink;
      auto app = g->Wrap(std::make_unique<RecordingAppender>(&sink), "ci", "test");
      for (int i = 0; i < 500; ++i) {
        if (app->Append(L({{"__name__", "m"}, {"t", std::to_string(t)}, {"i", std::to_string(i)}}),
                        1, 1)
                .ok())
          ++ok;
      }
      EXPECT_TRUE(app->Commit().ok());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 1000);
  EXPECT_EQ(g->Tenants()[0].active_series, 1000u);
}

TEST_F(GuardTest, SamplesPerSecondIsATokenBucketWithRetryAfter) {
  auto g = Make({}, {{"ci", TenantLimits{.max_samples_per_second = 100}}});
  int retry = -1;
  EXPECT_TRUE(g->AdmitSamples("ci", 600, &retry).ok());  // burst 1000
  EXPECT_TRUE(g->AdmitSamples("ci", 400, &retry).ok());
  Status st = g->AdmitSamples("ci", 300, &retry);
  ASSERT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(retry, 3);
  EXPECT_NE(st.message().find("limit max_samples_per_second=100 reached for token \"ci\""),
            std::string::npos);
  clock_.AdvanceMs(3000);
  EXPECT_TRUE(g->AdmitSamples("ci", 300, &retry).ok());
  EXPECT_TRUE(g->AdmitSamples("other", 1000000, &retry).ok());  // no limit
  EXPECT_FALSE(g->AdmitSamples("ci", 5000, &retry).ok());       // larger than the burst
  EXPECT_EQ(g->Tenants()[0].refusals.at("max_samples_per_second"), 2u);
}

TEST_F(GuardTest, SamplesOfSeriesSeenEarlierInTheBatchAreCountedThroughTheHandle) {
  auto g = Make({});
  std::vector<tsdb::Labels> series = {L({{"__name__", "up"}, {"host", "a"}}),
                                      L({{"__name__", "up"}, {"host", "b"}})};
  for (int round = 0; round < 2; ++round) {
    auto app = g->Wrap(std::make_unique<HandleAppender>(&stored_), "ci", "test");
    uint64_t handles[2] = {0, 0};
    // Interleaved, as a text body with many scrapes sends them: a, b, a, b, a, b.
    for (int i = 0; i < 3; ++i) {
      for (int s = 0; s < 2; ++s) {
        ASSERT_TRUE(app->AppendWithHandle(&handles[s], series[s], i, 1).ok());
      }
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  EXPECT_EQ(stored_.size(), 12u);
  auto tenants = g->Tenants();
  ASSERT_EQ(tenants.size(), 1u);
  EXPECT_EQ(tenants[0].active_series, 2u);
  EXPECT_EQ(tenants[0].samples_total, 12u);
  clock_.AdvanceMs(60000);
  g->Sweep();
  auto hosts = g->Sources("host");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_DOUBLE_EQ(hosts[0].samples_per_second, 6.0 / 60);  // every sample counted, not 2
  EXPECT_DOUBLE_EQ(hosts[1].samples_per_second, 6.0 / 60);
}

TEST_F(GuardTest, MetricsExposeTopOffendersOnly) {
  GuardOptions o;
  o.clock = &clock_;
  o.top_n = 2;
  Guard g(o);
  std::vector<tsdb::Labels> series;
  for (int m = 0; m < 4; ++m)
    for (int i = 0; i <= m; ++i)
      series.push_back(L({{"__name__", "m" + std::to_string(m)}, {"i", std::to_string(i)}}));
  Write(g, "ci", series);
  clock_.AdvanceMs(60000);
  g.Sweep();
  metrics::Registry r;
  g.RegisterMetrics(r);
  std::string out = r.Render();
  EXPECT_NE(out.find("kansoku_usage_active_series{tenant=\"ci\"} 10\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kansoku_usage_metric_series{tenant=\"ci\",metric=\"m3\"} 4\n"),
            std::string::npos);
  EXPECT_NE(out.find("kansoku_usage_metric_series{tenant=\"ci\",metric=\"m2\"} 3\n"),
            std::string::npos);
  EXPECT_EQ(out.find("metric=\"m1\""), std::string::npos);
  EXPECT_NE(out.find("kansoku_usage_label_values{tenant=\"ci\",label=\"i\"} 4\n"),
            std::string::npos);
  EXPECT_NE(out.find("# TYPE kansoku_usage_refusals_total counter"), std::string::npos);
  EXPECT_NE(out.find("kansoku_usage_samples_per_second{tenant=\"ci\"} 0.166"), std::string::npos)
      << out;  // 10 samples over the 60 s since the guard started
}

TEST_F(GuardTest, EventsPerMinuteRefusesWholeRequestsAndNamesTheBiggestSource) {
  auto g = Make({}, {{"sentry:shop", TenantLimits{.max_events_per_minute = 10}}});
  int retry = -1;
  std::vector<VolumeItem> six{{"sentry_project", "shop", 6, 6000}};
  std::vector<VolumeItem> five{{"sentry_project", "shop", 5, 5000}};
  EXPECT_TRUE(g->AdmitVolume(Signal::kErrorEvents, "sentry:shop", "sentry", six, &retry).ok());
  Status st = g->AdmitVolume(Signal::kErrorEvents, "sentry:shop", "sentry", five, &retry);
  ASSERT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("limit max_events_per_minute=10 reached for token \"sentry:shop\""),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("most from sentry_project shop"), std::string::npos);
  EXPECT_EQ(retry, 6);  // one event per 6 s; 4 left, 1 more needed
  clock_.AdvanceMs(6000);
  EXPECT_TRUE(g->AdmitVolume(Signal::kErrorEvents, "sentry:shop", "sentry", five, &retry).ok());
  // Only admitted events count.
  clock_.AdvanceMs(54000);
  g->Sweep();
  auto sources = g->Sources("sentry_project");
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].events_total, 11u);
  EXPECT_DOUBLE_EQ(sources[0].events_per_minute, 11.0);
  auto tenants = g->Tenants();
  ASSERT_EQ(tenants.size(), 1u);
  EXPECT_EQ(tenants[0].events_total, 11u);
  EXPECT_EQ(tenants[0].refusals.at("max_events_per_minute"), 1u);
}

TEST_F(GuardTest, LogBytesPerSecondAccountsPerStream) {
  auto g = Make(TenantLimits{.max_log_bytes_per_second = 1000});  // burst 10,000 bytes
  int retry = -1;
  std::vector<VolumeItem> batch{{"log_stream", "{service=\"api\"}", 10, 6000},
                                {"log_stream", "{service=\"db\"}", 2, 1000}};
  EXPECT_TRUE(g->AdmitVolume(Signal::kLogBytes, "shipper", "loki", batch, &retry).ok());
  Status st = g->AdmitVolume(Signal::kLogBytes, "shipper", "loki", batch, &retry);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("limit max_log_bytes_per_second=1000"), std::string::npos);
  EXPECT_NE(st.message().find("7000 bytes in 12 records"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("most from log_stream {service=\"api\"}"), std::string::npos);
  EXPECT_EQ(retry, 4);  // 3000 left, 4000 more needed at 1000/s
  clock_.AdvanceMs(10000);
  g->Sweep();
  auto sources = g->Sources("log_stream");
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0].name, "{service=\"api\"}");  // the biggest first
  EXPECT_EQ(sources[0].log_bytes_total, 6000u);
  EXPECT_DOUBLE_EQ(sources[0].log_bytes_per_second, 600.0);
  EXPECT_EQ(sources[0].events_total, 0u);
  metrics::Registry r;
  g->RegisterMetrics(r);
  std::string out = r.Render();
  EXPECT_NE(out.find("kansoku_usage_log_bytes_total{tenant=\"shipper\"} 7000\n"), std::string::npos)
      << out;
  EXPECT_NE(
      out.find("kansoku_usage_source_volume{kind=\"log_stream\",source=\"{service=\\\"db\\\"}\","
               "unit=\"bytes_per_second\"} 100\n"),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          "kansoku_usage_refusals_total{tenant=\"shipper\",limit=\"max_log_bytes_per_second\"} 1"),
      std::string::npos);
}

TEST_F(GuardTest, InventoryProvidersMergeWithAccountedSources) {
  auto g = Make({});
  Write(*g, "ci", {L({{"__name__", "up"}, {"host", "web-1"}})});
  g->AddInventory("host", [] {
    std::vector<SourceInfo> v(2);
    v[0].name = "web-1";
    v[0].status = "working";
    v[0].first_seen_ms = 5;
    v[0].detail = "agent 1";
    v[1].name = "db-1";  // registered, sends no series yet
    v[1].status = "unreachable";
    return v;
  });
  auto hosts = g->Sources("host");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "web-1");
  EXPECT_EQ(hosts[0].active_series, 1u);  // the guard's count is kept
  EXPECT_EQ(hosts[0].status, "working");
  EXPECT_EQ(hosts[0].first_seen_ms, 5);
  EXPECT_EQ(hosts[0].detail, "agent 1");
  EXPECT_EQ(hosts[1].name, "db-1");
  EXPECT_EQ(hosts[1].kind, "host");
  EXPECT_EQ(hosts[1].status, "unreachable");
  EXPECT_TRUE(g->Sources("job").empty());  // providers of other kinds are not asked
}

}  // namespace
}  // namespace kansoku::usage
