#include "ingest/prom_remote_write/parser.h"

#include <snappy.h>

#include <cmath>

#include <gtest/gtest.h>

#include "ingest/common/appender_sink.h"
#include "ingest/common/test_util.h"

namespace kansoku::ingest::prom_remote_write {
namespace {

using testing::ProtoWriter;

constexpr int64_t kNow = 1795671866473;  // the captured Prometheus sample's timestamp

ProtoWriter Label(std::string_view n, std::string_view v) {
  ProtoWriter w;
  w.Str(1, n).Str(2, v);
  return w;
}
ProtoWriter Sample(double v, int64_t t) {
  ProtoWriter w;
  if (v != 0 || std::signbit(v)) w.Double(1, v);  // proto3: zero omitted
  if (t != 0) w.Varint(2, static_cast<uint64_t>(t));
  return w;
}

// The captured request from shared/clients/README.md §1: value 0 is omitted on the wire.
std::string CapturedRequest() {
  ProtoWriter ts;
  ts.Msg(1, Label("__name__", "go_gc_duration_seconds"))
      .Msg(1, Label("env", "kansoku-acceptance"))
      .Msg(1, Label("instance", "127.0.0.1:19100"))
      .Msg(1, Label("job", "node"))
      .Msg(1, Label("quantile", "0"))
      .Msg(2, Sample(0, kNow));
  ProtoWriter ts2;
  ts2.Msg(1, Label("__name__", "up")).Msg(1, Label("job", "node"));
  ts2.Msg(2, Sample(1, kNow)).Msg(2, Sample(1, kNow + 2000));
  ProtoWriter req;
  req.Msg(1, ts).Msg(1, ts2);
  return req.data();
}

DecodeOptions Opts() {
  DecodeOptions o;
  o.now_ms = kNow;
  return o;
}

TEST(RemoteWriteTest, CapturedPayload) {
  CollectingSink sink;
  DecodeReport report;
  std::string body = CapturedRequest();
  ASSERT_TRUE(DecodeWriteRequest(body, Opts(), sink, report).ok());
  ASSERT_EQ(sink.rows.size(), 3u);
  EXPECT_EQ(sink.rows[0].labels, (tsdb::Labels{{"__name__", "go_gc_duration_seconds"},
                                               {"env", "kansoku-acceptance"},
                                               {"instance", "127.0.0.1:19100"},
                                               {"job", "node"},
                                               {"quantile", "0"}}));
  EXPECT_EQ(sink.rows[0].timestamp_ms, kNow);
  EXPECT_EQ(sink.rows[0].value, 0);
  EXPECT_EQ(sink.rows[2].timestamp_ms, kNow + 2000);
  EXPECT_EQ(sink.rows[2].value, 1);
  EXPECT_EQ(report.rows_rejected(), 0u);
}

TEST(RemoteWriteTest, SnappyRoundTripAndCorruption) {
  std::string body = CapturedRequest();
  std::string compressed;
  snappy::Compress(body.data(), body.size(), &compressed);
  std::string out;
  ASSERT_TRUE(DecodeSnappyBlock(compressed, &out).ok());
  EXPECT_EQ(out, body);

  Status st = DecodeSnappyBlock("\xff\xff\xff\xff\xff\xff", &out);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "cannot decode snappy block: corrupt length header (is the body snappy block "
            "format?)");
  std::string bad = compressed;
  bad.resize(bad.size() / 2);
  st = DecodeSnappyBlock(bad, &out);
  EXPECT_EQ(st.message(), "cannot decode snappy block: corrupt input");
  st = DecodeSnappyBlock(compressed, &out, 10);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
}

TEST(RemoteWriteTest, MetadataOnlyRequest) {
  ProtoWriter md;
  md.Varint(1, 1).Str(2, "http_requests_total").Str(4, "Total requests.").Str(5, "");
  ProtoWriter req;
  req.Msg(3, md);
  CollectingSink sink;
  DecodeReport report;
  ASSERT_TRUE(DecodeWriteRequest(req.data(), Opts(), sink, report).ok());
  ASSERT_EQ(sink.metadata.size(), 1u);
  EXPECT_EQ(sink.metadata[0].metric_family, "http_requests_total");
  EXPECT_EQ(sink.metadata[0].md.type, tsdb::MetricType::kCounter);
  EXPECT_EQ(sink.metadata[0].md.help, "Total requests.");
  EXPECT_TRUE(sink.rows.empty());
}

TEST(RemoteWriteTest, StaleNaNPassesThrough) {
  ProtoWriter ts;
  ts.Msg(1, Label("__name__", "up")).Msg(2, Sample(tsdb::StaleNaN(), kNow));
  ProtoWriter req;
  req.Msg(1, ts);
  CollectingSink sink;
  DecodeReport report;
  ASSERT_TRUE(DecodeWriteRequest(req.data(), Opts(), sink, report).ok());
  ASSERT_EQ(sink.rows.size(), 1u);
  EXPECT_TRUE(tsdb::IsStaleNaN(sink.rows[0].value));
}

// Bad requests: the whole request is refused with one message, nothing is stored.
TEST(RemoteWriteTest, MalformedRequestsAreAllOrNothing) {
  std::string good = CapturedRequest();
  struct Case {
    std::string name;
    std::string body;
    std::string want;
  };
  std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() - 3),
       "cannot parse remote write request: truncated length-delimited field at offset"},
      {"bad varint", std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
       "cannot parse remote write request: varint longer than 10 bytes at offset 11"},
      {"group wire type", std::string("\x0b", 1),
       "cannot parse remote write request: unsupported wire type 3 at offset 1"},
      {"timeseries is varint", std::string("\x08\x01", 2),
       "cannot parse remote write request: field 1 has wire type 0, want 2 at offset 1"},
  };
  for (const Case& c : cases) {
    CollectingSink sink;
    DecodeReport report;
    Status st = DecodeWriteRequest(c.body, Opts(), sink, report);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << c.name;
    EXPECT_EQ(st.message().rfind(c.want, 0), 0u) << c.name << ": " << st.message();
    EXPECT_TRUE(sink.rows.empty()) << c.name;
    EXPECT_EQ(report.HttpStatus(), 400) << c.name;
  }
}

TEST(RemoteWriteTest, RowErrorsKeepGoodRows) {
  ProtoWriter noname;
  noname.Msg(1, Label("job", "x")).Msg(2, Sample(1, kNow));
  ProtoWriter future;
  future.Msg(1, Label("__name__", "f"))
      .Msg(2, Sample(1, kNow + 3LL * 86400 * 1000))
      .Msg(2, Sample(2, kNow));
  ProtoWriter many;
  many.Msg(1, Label("__name__", "many"));
  for (int i = 0; i < 70; ++i) many.Msg(1, Label("l" + std::to_string(i), "v"));
  many.Msg(2, Sample(1, kNow));
  ProtoWriter hist;
  hist.Msg(1, Label("__name__", "h")).Msg(4, ProtoWriter().Varint(1, 5));
  ProtoWriter req;
  req.Msg(1, noname).Msg(1, future).Msg(1, many).Msg(1, hist);

  testing::FakeAppender app;
  DecodeReport report;
  AppenderSink sink(app, report);
  ASSERT_TRUE(DecodeWriteRequest(req.data(), Opts(), sink, report).ok());
  ASSERT_TRUE(sink.Commit().ok());
  ASSERT_EQ(app.rows.size(), 1u);
  EXPECT_EQ(app.rows[0].v, 2);
  EXPECT_EQ(report.rows_accepted(), 1u);
  EXPECT_EQ(report.rows_rejected(), 4u);
  ASSERT_EQ(report.errors().size(), 4u);
  EXPECT_EQ(report.errors()[0], "timeseries 1: series has no metric name (__name__ label)");
  EXPECT_EQ(report.errors()[1],
            "timeseries 2 (f): timestamp 1795931066473 ms is more than 172800s in the future");
  EXPECT_EQ(report.errors()[2],
            "timeseries 3 (many): series has 71 labels, more than the limit of 64");
  EXPECT_EQ(report.errors()[3],
            "timeseries 4 (h): native histograms are not supported (remote write 1.0 only)");
  EXPECT_EQ(report.HttpStatus(), 400);
}

TEST(RemoteWriteTest, Exemplars) {
  // As Prometheus sends them: in series entries of their own, without samples.
  ProtoWriter ex;
  ex.Msg(1, Label("trace_id", "abc")).Msg(1, Label("span_id", "s")).Double(2, 1.5).Varint(3, kNow);
  ProtoWriter ts;
  ts.Msg(1, Label("__name__", "req_total")).Msg(1, Label("job", "a")).Msg(3, ex);
  ProtoWriter ts2;
  ts2.Msg(1, Label("__name__", "req_total")).Msg(2, Sample(3, kNow)).Msg(3, ProtoWriter());
  ProtoWriter req;
  req.Msg(1, ts).Msg(1, ts2);
  CollectingSink sink;
  DecodeReport report;
  ASSERT_TRUE(DecodeWriteRequest(req.data(), Opts(), sink, report).ok()) << report.Summary();
  EXPECT_EQ(sink.rows.size(), 1u);
  ASSERT_EQ(sink.exemplars.size(), 2u);
  EXPECT_EQ(sink.exemplars[0].series, (tsdb::Labels{{"__name__", "req_total"}, {"job", "a"}}));
  EXPECT_EQ(sink.exemplars[0].exemplar,
            (tsdb::Exemplar{tsdb::Labels{{"span_id", "s"}, {"trace_id", "abc"}}, 1.5, kNow}));
  EXPECT_EQ(sink.exemplars[1].exemplar, (tsdb::Exemplar{tsdb::Labels{}, 0, 0}));
  // A malformed exemplar fails the request (all or nothing), naming it.
  ProtoWriter bad;
  bad.Msg(1, Label("__name__", "x"))
      .Str(3, std::string("\x0a\x05"
                          "ab",
                          4));
  ProtoWriter req2;
  req2.Msg(1, bad);
  CollectingSink sink2;
  DecodeReport report2;
  Status st = DecodeWriteRequest(req2.data(), Opts(), sink2, report2);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("exemplar"), std::string::npos) << st.message();
  EXPECT_TRUE(sink2.exemplars.empty());
}

TEST(RemoteWriteTest, EmptyBodyIsOk) {
  CollectingSink sink;
  DecodeReport report;
  EXPECT_TRUE(DecodeWriteRequest("", Opts(), sink, report).ok());
  EXPECT_EQ(report.HttpStatus(), 204);
}

}  // namespace
}  // namespace kansoku::ingest::prom_remote_write
