#include "agent/shipper.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent/remote_write.h"
#include "ingest/prom_remote_write/parser.h"

namespace kansoku::agent {
namespace {

struct TempDir {
  TempDir() {
    char t[] = "/tmp/kansoku-shipper-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// A fake server: answers with `status` (or is down), records what it accepted.
struct FakeServer {
  std::mutex mu;
  bool up = true;
  int status = 204;
  std::vector<std::string> accepted;
  int attempts = 0;
  Result<int> Send(const std::string& body) {
    std::lock_guard<std::mutex> lk(mu);
    ++attempts;
    if (!up) return Status::Unavailable("connection refused");
    if (status >= 200 && status < 300) accepted.push_back(body);
    return status;
  }
  size_t Accepted() {
    std::lock_guard<std::mutex> lk(mu);
    return accepted.size();
  }
};

SampleBatch Batch(int64_t t, int n = 1) {
  SampleBatch b(t);
  for (int i = 0; i < n; ++i) b.Add("m", static_cast<double>(t), {{"i", std::to_string(i)}});
  b.Finalize({{"host", "h"}});
  return b;
}

bool WaitFor(const std::function<bool()>& fn, int ms = 20000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return fn();
}

ShipperOptions FastOptions(FakeServer* srv, const std::string& spool) {
  ShipperOptions o;
  o.spool_dir = spool;
  o.initial_backoff_ms = 5;
  o.max_backoff_ms = 20;
  o.send = [srv](const std::string& body) { return srv->Send(body); };
  return o;
}

// Timestamps of the accepted samples, in the order the server got them (decoded with the
// server's own remote_write decoder).
std::vector<int64_t> AcceptedTimes(FakeServer& srv) {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lk(srv.mu);
  for (const auto& body : srv.accepted) {
    auto raw = SnappyUncompress(body);
    EXPECT_TRUE(raw.ok());
    ingest::CollectingSink sink;
    ingest::DecodeReport report;
    ingest::DecodeOptions opts;
    opts.now_ms = 1000;
    EXPECT_TRUE(ingest::prom_remote_write::DecodeWriteRequest(*raw, opts, sink, report).ok());
    for (const auto& row : sink.rows) out.push_back(row.timestamp_ms);
  }
  return out;
}

TEST(Shipper, SendsInOrderAfterAnOutageWithoutLoss) {
  TempDir d;
  FakeServer srv;
  ShipperOptions o = FastOptions(&srv, d.path + "/spool");
  o.queue_max_batches = 3;  // most of the outage goes to disk
  Shipper s(o);
  ASSERT_TRUE(s.Start().ok());
  s.Enqueue(Batch(1000));
  ASSERT_TRUE(WaitFor([&] { return srv.Accepted() == 1; }));
  {
    std::lock_guard<std::mutex> lk(srv.mu);
    srv.up = false;
  }
  for (int64_t t = 2000; t <= 20000; t += 1000) s.Enqueue(Batch(t));
  ASSERT_TRUE(WaitFor([&] { return s.Stats().send_errors >= 3; }));
  EXPECT_GT(s.Stats().spool_files, 10u);
  {
    std::lock_guard<std::mutex> lk(srv.mu);
    srv.up = true;
  }
  ASSERT_TRUE(WaitFor([&] { return s.Idle(); }));
  auto times = AcceptedTimes(srv);
  ASSERT_EQ(times.size(), 20u);
  for (size_t i = 0; i < times.size(); ++i) EXPECT_EQ(times[i], 1000 + 1000 * int64_t(i));
  EXPECT_EQ(s.Stats().samples_sent, 20u);
  EXPECT_EQ(s.Stats().samples_dropped_spool_full, 0u);
  s.Stop();
}

TEST(Shipper, SpoolBoundDropsOldestAndCounts) {
  TempDir d;
  FakeServer srv;
  srv.up = false;
  ShipperOptions o = FastOptions(&srv, d.path + "/spool");
  o.queue_max_batches = 1;
  std::string one = SnappyCompress([] {
    std::string raw;
    auto b = Batch(1000);
    EncodeWriteRequest(b.samples().data(), b.samples().data() + 1, &raw);
    return raw;
  }());
  o.spool_max_bytes = static_cast<int64_t>(one.size()) * 5 + 2;  // five batches fit
  Shipper s(o);
  ASSERT_TRUE(s.Start().ok());
  for (int64_t t = 1000; t <= 12000; t += 1000) s.Enqueue(Batch(t));
  ShipperStats st = s.Stats();
  // 12 batches: <= 1 in memory, 1 possibly in flight, 5 on disk; the rest dropped and counted.
  EXPECT_EQ(st.spool_files, 5u);
  EXPECT_GE(st.samples_dropped_spool_full, 5u);
  EXPECT_EQ(st.samples_dropped_spool_full + st.spool_files + st.queue_batches, 12u);
  {
    std::lock_guard<std::mutex> lk(srv.mu);
    srv.up = true;
  }
  ASSERT_TRUE(WaitFor([&] { return s.Idle(); }));
  auto times = AcceptedTimes(srv);
  EXPECT_EQ(times.back(), 12000);  // the newest data survived
  for (size_t i = 1; i < times.size(); ++i) EXPECT_LT(times[i - 1], times[i]);
  s.Stop();
}

TEST(Shipper, RejectedBatchesAreDroppedAndCountedNotRetried) {
  TempDir d;
  FakeServer srv;
  srv.status = 400;
  Shipper s(FastOptions(&srv, d.path + "/spool"));
  ASSERT_TRUE(s.Start().ok());
  s.Enqueue(Batch(1000, 3));
  ASSERT_TRUE(WaitFor([&] { return s.Idle(); }));
  EXPECT_EQ(s.Stats().samples_dropped_rejected, 3u);
  EXPECT_EQ(srv.attempts, 1);
  s.Stop();
}

TEST(Shipper, StopWritesQueueToSpoolAndARestartSendsIt) {
  TempDir d;
  FakeServer srv;
  srv.up = false;
  {
    Shipper s(FastOptions(&srv, d.path + "/spool"));
    ASSERT_TRUE(s.Start().ok());
    for (int64_t t = 1000; t <= 5000; t += 1000) s.Enqueue(Batch(t));
    ASSERT_TRUE(WaitFor([&] { return s.Stats().send_errors >= 1; }));
    s.Stop(50);
    EXPECT_EQ(s.Stats().spool_files, 5u);
  }
  srv.up = true;
  Shipper s2(FastOptions(&srv, d.path + "/spool"));
  ASSERT_TRUE(s2.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return s2.Idle(); }));
  auto times = AcceptedTimes(srv);
  ASSERT_EQ(times.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(times[i], 1000 * int64_t(i + 1));
  s2.Stop();
}

TEST(Shipper, LargeBatchesAreSplit) {
  FakeServer srv;
  ShipperOptions o = FastOptions(&srv, "");
  o.max_samples_per_send = 100;
  Shipper s(o);
  ASSERT_TRUE(s.Start().ok());
  s.Enqueue(Batch(1000, 250));
  ASSERT_TRUE(WaitFor([&] { return s.Idle(); }));
  EXPECT_EQ(srv.Accepted(), 3u);
  EXPECT_EQ(s.Stats().samples_sent, 250u);
  s.Stop();
}

TEST(Shipper, BackoffGrowsWithJitterAndIsCapped) {
  EXPECT_EQ(BackoffMs(0, 500, 30000, 1.0), 500);
  EXPECT_EQ(BackoffMs(0, 500, 30000, 0.0), 250);
  EXPECT_EQ(BackoffMs(3, 500, 30000, 1.0), 4000);
  EXPECT_EQ(BackoffMs(20, 500, 30000, 1.0), 30000);
  EXPECT_EQ(BackoffMs(100, 500, 30000, 0.0), 15000);
}

}  // namespace
}  // namespace kansoku::agent
