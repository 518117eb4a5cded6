#include "net/stream_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace kansoku::net {
namespace {

std::vector<std::string> Cut(Framing f, const std::vector<std::string>& pieces, size_t max = 100,
                             std::vector<std::string>* drops = nullptr) {
  Framer fr(f, max);
  std::vector<std::string> out;
  for (const auto& p : pieces) {
    fr.Feed(
        p, [&](std::string&& s) { out.push_back(std::move(s)); },
        [&](const char* r) {
          if (drops) drops->push_back(r);
        });
  }
  fr.Finish([&](std::string&& s) { out.push_back(std::move(s)); });
  return out;
}

TEST(FramerTest, LineFramingStripsCrAndHandlesSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Cut(Framing::kLine, {"a 1 2\r\nb 3", " 4\r\n\nc 5"}), (V{"a 1 2", "b 3 4", "c 5"}));
}

TEST(FramerTest, OctetCountedWithAndWithoutTrailingLf) {
  using V = std::vector<std::string>;
  // rsyslog counts its trailing LF; logger --octet-count sends none.
  EXPECT_EQ(Cut(Framing::kOctetCounted, {"6 <13>a\n5 <13>b", "3 <1>"}),
            (V{"<13>a", "<13>b", "<1>"}));
  EXPECT_EQ(Cut(Framing::kOctetCounted, {"1", "0 0123456789"}), (V{"0123456789"}));
}

TEST(FramerTest, AutoDetectsPerFrame) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Cut(Framing::kAuto, {"5 <1>ab<2>traditional line\n4 <3>c"}),
            (V{"<1>ab", "<2>traditional line", "<3>c"}));
}

TEST(FramerTest, OversizedAndMalformedFramesAreDroppedThenResync) {
  using V = std::vector<std::string>;
  std::vector<std::string> drops;
  EXPECT_EQ(Cut(Framing::kLine, {std::string(150, 'x'), "yyy\nok\n"}, 100, &drops), (V{"ok"}));
  EXPECT_EQ(drops, (V{"too_large"}));
  drops.clear();
  EXPECT_EQ(Cut(Framing::kOctetCounted, {"200 " + std::string(200, 'x') + "2 ok"}, 100, &drops),
            (V{"ok"}));
  EXPECT_EQ(drops, (V{"too_large"}));
  drops.clear();
  EXPECT_EQ(Cut(Framing::kOctetCounted, {"12x garbage\n2 ok"}, 100, &drops), (V{"ok"}));
  EXPECT_EQ(drops, (V{"bad_frame"}));
}

class Collector {
 public:
  FrameSink Sink(int delay_ms = 0) {
    return [this, delay_ms](std::vector<Frame>& b) {
      if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      std::lock_guard<std::mutex> l(mu_);
      for (auto& f : b) frames_.push_back(f.data);
    };
  }
  std::vector<std::string> Wait(size_t n, int ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (frames_.size() >= n) return frames_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> l(mu_);
    return frames_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> frames_;
};

int Connect(const std::string& addr, int type) {
  size_t colon = addr.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int fd = socket(AF_INET, type, 0);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

TEST(ListenerTest, UdpDatagrams) {
  metrics::Registry reg;
  Collector col;
  ListenerOptions o;
  o.name = "statsd";
  o.address = "127.0.0.1:0";
  o.sink = col.Sink();
  o.metrics = &reg;
  UdpListener l(o);
  ASSERT_TRUE(l.Start().ok());
  int fd = Connect(l.BoundAddress(), SOCK_DGRAM);
  for (int i = 0; i < 10; ++i) {
    std::string m = "m" + std::to_string(i) + ":1|c";
    ASSERT_EQ(send(fd, m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  }
  close(fd);
  auto got = col.Wait(10);
  EXPECT_EQ(got.size(), 10u);
  l.Stop();
  EXPECT_NE(
      reg.Render().find("kansoku_listener_frames_total{listener=\"statsd\",transport=\"udp\"} 10"),
      std::string::npos);
}

TEST(ListenerTest, TcpBackpressureLosesNothing) {
  metrics::Registry reg;
  Collector col;
  ListenerOptions o;
  o.name = "graphite";
  o.address = "127.0.0.1:0";
  o.queue_capacity = 8;  // tiny queue, slow sink: reading must pause, not drop
  o.max_batch = 4;
  o.sink = col.Sink(2);
  o.metrics = &reg;
  TcpStreamListener l(o);
  ASSERT_TRUE(l.Start().ok());
  int fd = Connect(l.BoundAddress(), SOCK_STREAM);
  std::string all;
  const int n = 2000;
  for (int i = 0; i < n; ++i) all += "a.b.c " + std::to_string(i) + " 1700000000\r\n";
  ASSERT_EQ(write(fd, all.data(), all.size()), static_cast<ssize_t>(all.size()));
  close(fd);
  auto got = col.Wait(n, 30000);
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], "a.b.c " + std::to_string(i) + " 1700000000");
  l.Stop();
  EXPECT_NE(reg.Render().find("kansoku_listener_dropped_total{listener=\"graphite\",transport="
                              "\"tcp\",reason=\"queue_full\"} 0"),
            std::string::npos);
}

TEST(ListenerTest, DeniedPeersAreCounted) {
  metrics::Registry reg;
  Collector col;
  ListenerOptions o;
  o.name = "syslog";
  o.address = "127.0.0.1:0";
  o.allow_cidrs = {"10.0.0.0/8"};
  o.sink = col.Sink();
  o.metrics = &reg;
  UdpListener l(o);
  ASSERT_TRUE(l.Start().ok());
  int fd = Connect(l.BoundAddress(), SOCK_DGRAM);
  ASSERT_EQ(send(fd, "x", 1, 0), 1);
  close(fd);
  for (int i = 0; i < 200 && reg.Render().find("reason=\"denied\"} 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  l.Stop();
  EXPECT_NE(reg.Render().find("kansoku_listener_dropped_total{listener=\"syslog\",transport="
                              "\"udp\",reason=\"denied\"} 1"),
            std::string::npos);
  EXPECT_TRUE(col.Wait(0, 0).empty());
}

TEST(ListenerTest, BadCidrIsAStartError) {
  metrics::Registry reg;
  ListenerOptions o;
  o.name = "x";
  o.address = "127.0.0.1:0";
  o.allow_cidrs = {"banana"};
  o.sink = [](std::vector<Frame>&) {};
  o.metrics = &reg;
  TcpStreamListener l(o);
  auto st = l.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot parse CIDR \"banana\""), std::string::npos);
}

}  // namespace
}  // namespace kansoku::net
