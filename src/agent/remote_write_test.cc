#include "agent/remote_write.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ingest/prom_remote_write/parser.h"

namespace kansoku::agent {
namespace {

// The agent's encoder must produce what the server's decoder (ingest/prom_remote_write) reads.
TEST(RemoteWrite, RoundTripsThroughTheServerDecoder) {
  SampleBatch b(1700000000123);
  b.Add("host_load1", 0.5);
  b.Add("host_cpu_seconds_total", 12.25, {{"mode", "idle"}});
  b.Add("zero_value", 0.0);  // proto3 omits the zero double
  b.Add("negative", -3.5, {{"device", "eth0"}, {"empty", ""}});
  b.AddAt("host_load1", 1700000015123, 0.75);
  b.Finalize({{"host", "web-1"}, {"service", "shop"}, {"role", ""}});

  std::string raw;
  EncodeWriteRequest(b.samples().data(), b.samples().data() + b.size(), &raw);
  std::string compressed = SnappyCompress(raw);
  std::string decoded;
  ASSERT_TRUE(ingest::prom_remote_write::DecodeSnappyBlock(compressed, &decoded).ok());
  ASSERT_EQ(decoded, raw);

  ingest::CollectingSink sink;
  ingest::DecodeReport report;
  ingest::DecodeOptions opts;
  opts.now_ms = 1700000000000;
  ASSERT_TRUE(ingest::prom_remote_write::DecodeWriteRequest(decoded, opts, sink, report).ok());
  ASSERT_EQ(sink.rows.size(), 5u);
  EXPECT_EQ(report.rows_rejected(), 0u);
  EXPECT_EQ(sink.rows[0].labels.ToString(), "host_load1{host=\"web-1\", service=\"shop\"}");
  EXPECT_EQ(sink.rows[0].timestamp_ms, 1700000000123);
  EXPECT_EQ(sink.rows[0].value, 0.5);
  EXPECT_EQ(sink.rows[1].labels.Get("mode"), "idle");
  EXPECT_EQ(sink.rows[1].value, 12.25);
  EXPECT_EQ(sink.rows[2].labels.MetricName(), "zero_value");
  EXPECT_EQ(sink.rows[2].value, 0.0);
  EXPECT_EQ(sink.rows[3].value, -3.5);
  EXPECT_EQ(sink.rows[3].labels.Get("empty"), "");
  EXPECT_EQ(sink.rows[4].timestamp_ms, 1700000015123);
}

TEST(RemoteWrite, AdjacentSamplesOfOneSeriesShareATimeSeries) {
  SampleBatch b(1000);
  b.Add("a", 1);
  b.AddAt("a", 2000, 2);
  b.Finalize({});
  std::string one, two;
  EncodeWriteRequest(b.samples().data(), b.samples().data() + 1, &one);
  EncodeWriteRequest(b.samples().data(), b.samples().data() + 2, &two);
  // The second sample adds only a Sample message (tag, len, double, timestamp), not labels.
  EXPECT_LT(two.size() - one.size(), 16u);
}

TEST(RemoteWrite, SnappyRejectsGarbage) {
  EXPECT_FALSE(SnappyUncompress("\xff\xff\xff\xff garbage").ok());
  auto r = SnappyUncompress(SnappyCompress("hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "hello");
}

}  // namespace
}  // namespace kansoku::agent
