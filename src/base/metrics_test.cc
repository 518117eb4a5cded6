#include "base/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace kansoku::metrics {
namespace {

TEST(MetricsTest, RendersCountersGaugesHistograms) {
  Registry r;
  auto& reqs = r.Counter("kansoku_http_requests_total", "HTTP requests.", {"route", "code"});
  reqs.With({"/a", "200"})->Inc();
  reqs.With({"/a", "200"})->Inc(2);
  reqs.With({"/b\"x", "500"})->Inc();
  r.Gauge("kansoku_up", "Up.").With({})->Set(1);
  auto* h = r.Histogram("lat_seconds", "Latency.", {"route"}, {0.1, 1}).With({"/a"});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  std::string out = r.Render();
  EXPECT_NE(out.find("# TYPE kansoku_http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("kansoku_http_requests_total{route=\"/a\",code=\"200\"} 3\n"),
            std::string::npos);
  EXPECT_NE(out.find("kansoku_http_requests_total{route=\"/b\\\"x\",code=\"500\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("kansoku_up 1\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_sum{route=\"/a\"} 5.55\n"), std::string::npos);
  EXPECT_NE(out.find("lat_seconds_count{route=\"/a\"} 3\n"), std::string::npos);
}

TEST(MetricsTest, GaugeCollectorRendersWhatItProducesAtEachScrape) {
  Registry r;
  int scrape = 0;  // collectors run at each Render
  r.Collector("kansoku_top", "Top offenders.", "gauge", {"metric"}, [&](auto* out) {
    ++scrape;
    out->push_back({{"a"}, 3});
    if (scrape == 1) out->push_back({{"b\"x"}, 2});
  });
  std::string first = r.Render();
  EXPECT_NE(first.find("# TYPE kansoku_top gauge\n"), std::string::npos);
  EXPECT_NE(first.find("kansoku_top{metric=\"a\"} 3\n"), std::string::npos);
  EXPECT_NE(first.find("kansoku_top{metric=\"b\\\"x\"} 2\n"), std::string::npos);
  std::string second = r.Render();
  EXPECT_NE(second.find("kansoku_top{metric=\"a\"} 3\n"), std::string::npos);
  EXPECT_EQ(second.find("metric=\"b"), std::string::npos);  // gone when not produced
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter* c = r.Counter("c_total", "c").With({});
  std::vector<std::thread> ts;
  ts.reserve(4);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Inc();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c->Value(), 40000);
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(FormatValue(1.5), "1.5");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ProcessMetricsArePlausible) {
  Registry r;
  RegisterProcessMetrics(r);
  std::string out = r.Render();
  auto pos = out.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(pos, std::string::npos);
  double rss = std::stod(out.substr(pos + 31));
  EXPECT_GT(rss, 100000);
}

}  // namespace
}  // namespace kansoku::metrics
