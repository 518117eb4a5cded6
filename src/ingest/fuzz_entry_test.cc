// Smoke test for the fuzz entry points: a few seeds and random inputs must not crash. The real
// fuzzing runs in the libFuzzer targets under fuzz/.
#include "ingest/fuzz_entry.h"

#include "ingest/common/test_util.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kansoku::ingest {
namespace {

using FuzzFn = int (*)(const uint8_t*, size_t);

void RunSeeds(FuzzFn fn, const std::vector<std::string>& seeds) {
  std::mt19937 rng(42);
  for (const std::string& seed : seeds) {
    EXPECT_EQ(fn(reinterpret_cast<const uint8_t*>(seed.data()), seed.size()), 0);
    // Mutations: truncations, byte flips, random bytes.
    for (int i = 0; i < 300; ++i) {
      std::string m = seed;
      if (!m.empty()) {
        switch (rng() % 3) {
          case 0:
            m.resize(rng() % m.size());
            break;
          case 1:
            m[rng() % m.size()] = static_cast<char>(rng());
            break;
          case 2:
            m.insert(rng() % m.size(), 1, static_cast<char>(rng()));
            break;
        }
      }
      fn(reinterpret_cast<const uint8_t*>(m.data()), m.size());
    }
  }
}

TEST(FuzzEntryTest, PromRemoteWrite) {
  RunSeeds(FuzzPromRemoteWrite,
           {"", std::string("\x0a\x0f\x0a\x0d\x0a\x08__name__\x12\x01x\x12\x00", 19),
            std::string("\x1a\x05\x08\x01\x12\x01m", 7)});
}

TEST(FuzzEntryTest, PromText) {
  RunSeeds(FuzzPromText, {"# HELP a b\n# TYPE a counter\na{b=\"c\\n\"} 1 2\n",
                          "x 1 # {a=\"b\"} 1 2\n", "{\"q\", \"r\"=\"s\"} NaN\n# EOF\n"});
}

TEST(FuzzEntryTest, InfluxLine) {
  RunSeeds(FuzzInfluxLine,
           {" cpu,host=web-1,region=eu usage_idle=91.5,cores=2i,healthy=true,label=\"a b\" "
            "1700000000000000000\n",
            "my\\ m\\,x,t\\ k=v\\,a f=1u,s=\"q\\\"\" -1\n"});
}

TEST(FuzzEntryTest, Graphite) {
  RunSeeds(FuzzGraphite, {"collectd.h.load.load.shortterm 0.3 1795671991\r\na;b=c nan -1\n"});
}

TEST(FuzzEntryTest, CollectdJson) {
  RunSeeds(
      FuzzCollectdJson,
      {R"([{"values":[0.3,null],"dstypes":["gauge","derive"],"dsnames":["a","value"],)"
       R"("time":1795671991.142,"host":"h","plugin":"load","plugin_instance":"","type":"load",)"
       R"("type_instance":""}])"});
}

TEST(FuzzEntryTest, OtlpJson) {
  RunSeeds(
      FuzzOtlpJson,
      {R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":)"
       R"({"stringValue":"s"}},{"key":"host.name","value":{"intValue":"3"}}]},"scopeMetrics":)"
       R"([{"metrics":[{"name":"a.b","unit":"ms","histogram":{"aggregationTemporality":1,)"
       R"("dataPoints":[{"timeUnixNano":"1795672203560000000","count":3,"sum":1,)"
       R"("bucketCounts":[1,2],"explicitBounds":[5]}]}},{"name":"c","sum":{)"
       R"("aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"5"}]}}]}]}]})"});
}

TEST(FuzzEntryTest, OtlpProto) {
  // resource_metrics { scope_metrics { metrics { name: "x" gauge { data_points {...} } } } }
  testing::ProtoWriter pt, gauge, metric, sm, rm, req;
  pt.Fixed64(3, 1795672203560000000ULL).Double(4, 1.0);
  gauge.Msg(1, pt);
  metric.Str(1, "x").Msg(5, gauge);
  sm.Msg(2, metric);
  rm.Msg(2, sm);
  req.Msg(1, rm);
  std::string seed = req.data();
  RunSeeds(FuzzOtlpProto, {seed});
}

}  // namespace
}  // namespace kansoku::ingest
