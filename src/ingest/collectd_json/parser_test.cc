#include "ingest/collectd_json/parser.h"

#include <gtest/gtest.h>

namespace kansoku::ingest::collectd_json {
namespace {

constexpr int64_t kNow = 1795672000000;

struct Parsed {
  CollectingSink sink;
  DecodeReport report;
  Status status;
};

std::unique_ptr<Parsed> Parse(std::string_view body) {
  DecodeOptions opts;
  opts.now_ms = kNow;
  auto r = std::make_unique<Parsed>();
  r->status = ParseCollectdJson(body, opts, r->sink, r->report);
  return r;
}

// The write_http payload from shared/clients/README.md (load), plus cpu (derive) and memory.
TEST(CollectdJsonTest, CollectdPayload) {
  auto p = Parse(
      R"([{"values":[0.31494140625,0.439453125,0.21875],"dstypes":["gauge","gauge","gauge"],)"
      R"("dsnames":["shortterm","midterm","longterm"],"time":1795671991.142,"interval":2.000,)"
      R"("host":"kansoku-test","plugin":"load","plugin_instance":"","type":"load","type_instance":""},)"
      R"({"values":[32011],"dstypes":["derive"],"dsnames":["value"],"time":1795671991.142,)"
      R"("interval":2.000,"host":"kansoku-test","plugin":"cpu","plugin_instance":"0","type":"cpu",)"
      R"("type_instance":"idle"},)"
      R"({"values":[760487936],"dstypes":["gauge"],"dsnames":["value"],"time":1795671991.142,)"
      R"("interval":2.000,"host":"kansoku-test","plugin":"memory","plugin_instance":"","type":"memory",)"
      R"("type_instance":"used"},)"
      R"({"values":[null],"dstypes":["gauge"],"dsnames":["value"],"time":1795671991.142,)"
      R"("host":"kansoku-test","plugin":"interface","plugin_instance":"lo","type":"if_octets","type_instance":""}])");
  ASSERT_TRUE(p->status.ok()) << p->status.ToString();
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 5u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "collectd_load_load_shortterm"}, {"host", "kansoku-test"}}));
  EXPECT_EQ(p->sink.rows[0].value, 0.31494140625);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1795671991142);
  EXPECT_EQ(p->sink.rows[2].labels.MetricName(), "collectd_load_load_longterm");
  EXPECT_EQ(p->sink.rows[3].labels, (tsdb::Labels{{"__name__", "collectd_cpu_cpu_total"},
                                                  {"host", "kansoku-test"},
                                                  {"plugin_instance", "0"},
                                                  {"type_instance", "idle"}}));
  EXPECT_EQ(p->sink.rows[3].value, 32011);
  EXPECT_EQ(p->sink.rows[4].labels, (tsdb::Labels{{"__name__", "collectd_memory_memory"},
                                                  {"host", "kansoku-test"},
                                                  {"type_instance", "used"}}));
  EXPECT_EQ(p->report.values_skipped(), 1u);  // null
}

TEST(CollectdJsonTest, RequestErrors) {
  auto p = Parse("[{\"values\":[1]");
  EXPECT_EQ(p->status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(p->status.message().rfind("cannot parse collectd JSON: ", 0), 0u);
  EXPECT_EQ(p->report.HttpStatus(), 400);
  p = Parse("{\"values\":[1]}");
  EXPECT_EQ(p->status.message(),
            "cannot parse collectd JSON: want an array of value lists at the top level");
}

TEST(CollectdJsonTest, BadValueLists) {
  const std::string good =
      R"({"values":[1],"dstypes":["gauge"],"dsnames":["value"],"time":1795671991,"host":"h","plugin":"p","type":"t"})";
  struct Case {
    std::string list;
    RejectReason reason;
    std::string error;
  };
  const Case cases[] = {
      {R"({"values":[1],"dstypes":["gauge"],"dsnames":["value"],"type":"t"})",
       RejectReason::kSyntax,
       "value list 2: cannot parse value list: \"plugin\" and \"type\" must be non-empty strings"},
      {R"({"values":[1,2],"dstypes":["gauge"],"dsnames":["a","b"],"plugin":"p","type":"t"})",
       RejectReason::kSyntax,
       "value list 2: cannot parse value list \"p\"/\"t\": \"values\", \"dstypes\" and "
       "\"dsnames\" must be arrays of the same length"},
      {R"({"values":["x"],"dstypes":["gauge"],"dsnames":["value"],"plugin":"p","type":"t"})",
       RejectReason::kBadValue, "value list 2: cannot parse value 0 of \"p\"/\"t\": not a number"},
      {R"({"values":[1],"dstypes":["histogram"],"dsnames":["value"],"plugin":"p","type":"t"})",
       RejectReason::kSyntax,
       "value list 2: cannot parse dstype 0 of \"p\"/\"t\": want gauge, derive, counter or "
       "absolute"},
      {R"({"values":[1],"dstypes":["gauge"],"dsnames":["value"],"time":4102444800,"plugin":"p","type":"t"})",
       RejectReason::kTimestampOutOfRange,
       "value list 2: \"p\"/\"t\": timestamp 4102444800000 ms is more than 172800s in the future"},
      {R"(7)", RejectReason::kSyntax, "value list 2: cannot parse value list: not an object"},
  };
  for (const Case& c : cases) {
    auto p = Parse("[" + good + "," + c.list + "," + good + "]");
    ASSERT_TRUE(p->status.ok()) << c.list;
    EXPECT_EQ(p->sink.rows.size(), 2u) << c.list;
    EXPECT_EQ(p->report.rejected(c.reason), p->report.rows_rejected()) << c.list;
    ASSERT_EQ(p->report.errors().size(), 1u) << c.list;
    EXPECT_EQ(p->report.errors()[0], c.error) << c.list;
  }
}

}  // namespace
}  // namespace kansoku::ingest::collectd_json
