#include "agent/statsd.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace kansoku::agent {
namespace {

double Get(const SampleBatch& b, const std::string& name, const LabelSet& match = {}) {
  double v = -12345;
  EXPECT_TRUE(b.Find(name, match, &v)) << name;
  return v;
}

TEST(StatsdParse, TypesRatesTags) {
  auto c = ParseStatsdLine("kansoku.orders.created:5|c|#env:test,service:checkout,region:eu");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "kansoku_orders_created");
  EXPECT_EQ(c->type, 'c');
  EXPECT_EQ(c->values, std::vector<double>{5});
  EXPECT_EQ(c->tags, (LabelSet{{"env", "test"}, {"region", "eu"}, {"service", "checkout"}}));
  auto r = ParseStatsdLine("kansoku.requests:1|c|@0.5|#env:test");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sample_rate, 0.5);
  auto ms = ParseStatsdLine("db.query:42|ms|#table:orders");
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(ms->type, 'm');
  auto packed = ParseStatsdLine("lat:1:2:3|h");
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(packed->values.size(), 3u);
  auto set = ParseStatsdLine("kansoku.users.unique:u-42|s");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->set_value, "u-42");
  auto g = ParseStatsdLine("temperature:-3.5|g");
  ASSERT_TRUE(g.ok());
  auto gd = ParseStatsdLine("depth:+2|g");
  ASSERT_TRUE(gd.ok());
  EXPECT_TRUE(gd->gauge_delta);
  auto bare = ParseStatsdLine("x:1|c|#flag");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->tags, (LabelSet{{"flag", "true"}}));
}

TEST(StatsdParse, EventsAndServiceChecks) {
  auto e = ParseStatsdLine(
      "_e{23,26}:kansoku.deploy finished|checkout v1.2.3 rolled "
      "out|t:info|#env:test,version:1.2.3");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->kind, StatsdLine::Kind::kEvent);
  EXPECT_EQ(e->name, "kansoku.deploy finished");
  EXPECT_EQ(e->text, "checkout v1.2.3 rolled out");
  auto sc = ParseStatsdLine("_sc|kansoku.checkout.health|0|#env:test,probe:http|m:ok");
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->kind, StatsdLine::Kind::kServiceCheck);
  EXPECT_EQ(sc->status, 0);
  EXPECT_EQ(sc->text, "ok");
}

TEST(StatsdParse, BadLinesSayWhy) {
  for (const char* bad : {"novalue", "x:abc|c", "x:1|zz", "x:1|c|@2", ":1|c", "_e{5,5}:ab|c",
                          "_sc|name|9", "x:nan|g"}) {
    auto r = ParseStatsdLine(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("cannot parse statsd line"), std::string::npos);
    }
  }
}

TEST(StatsdAggregator, FlushShapes) {
  StatsdAggregator agg({0.5, 0.99});
  agg.AddDatagram(
      "hits:1|c\nhits:2|c|@0.5\nbroken line\nq:10|g\nq:+5|g\n"
      "lat:10|ms\nlat:20|ms\nlat:30|ms\nlat:40|h\nu:a|s\nu:b|s\nu:a|s");
  SampleBatch b(1000);
  agg.Flush(&b);
  EXPECT_EQ(Get(b, "hits_total"), 5);  // 1 + 2/0.5
  EXPECT_EQ(Get(b, "q"), 15);
  EXPECT_EQ(Get(b, "lat", {{"quantile", "0.5"}}), 20);
  EXPECT_EQ(Get(b, "lat", {{"quantile", "0.99"}}), 40);
  EXPECT_EQ(Get(b, "lat_count"), 4);
  EXPECT_EQ(Get(b, "lat_sum"), 100);
  EXPECT_EQ(Get(b, "u"), 2);
  EXPECT_EQ(agg.stats().rejected, 1u);
  EXPECT_EQ(agg.stats().lines, 12u);
  EXPECT_NE(agg.TakeFirstError().find("broken line"), std::string::npos);
  // Next interval: counters stay cumulative, quantiles only when values arrived, sets reset.
  agg.AddDatagram("hits:1|c");
  SampleBatch b2(2000);
  agg.Flush(&b2);
  EXPECT_EQ(Get(b2, "hits_total"), 6);
  double v;
  EXPECT_FALSE(b2.Find("lat", {{"quantile", "0.5"}}, &v));
  EXPECT_EQ(Get(b2, "lat_count"), 4);
  EXPECT_EQ(Get(b2, "u"), 0);
  EXPECT_EQ(Get(b2, "q"), 15);
}

TEST(StatsdServer, ReceivesUdpDatagrams) {
  StatsdAggregator agg;
  StatsdServer srv("127.0.0.1:0", &agg);
  ASSERT_TRUE(srv.Start().ok());
  ASSERT_GT(srv.port(), 0);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(srv.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string msg = "udp.hits:3|c|#k:v";
  ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
  for (int i = 0; i < 500 && agg.stats().lines == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  SampleBatch b;
  agg.Flush(&b);
  EXPECT_EQ(Get(b, "udp_hits_total", {{"k", "v"}}), 3);
  srv.Stop();
}

}  // namespace
}  // namespace kansoku::agent
