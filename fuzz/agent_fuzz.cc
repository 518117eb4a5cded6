// libFuzzer: the agent's parsers of untrusted input never crash: StatsD datagrams (aggregated and
// flushed), Mackerel plugin output and graph definitions, the agent YAML config, scrape label
// selectors, scraped expositions (KANSOKU_FUZZ_FN picks one).
#include <string>

#include "agent/config.h"
#include "agent/plugin.h"
#include "agent/plugin_meta.h"
#include "agent/statsd.h"
#include "scrape/enrollment.h"
#include "scrape/scrape.h"

namespace {

[[maybe_unused]] void FuzzStatsd(const std::string& s) {
  kansoku::agent::StatsdAggregator agg({0.5, 0.99}, 1000);
  agg.AddDatagram(s);
  kansoku::agent::SampleBatch b(1000);
  agg.Flush(&b);
  (void)agg.TakeFirstError();
}

[[maybe_unused]] void FuzzPluginOutput(const std::string& s) {
  kansoku::agent::SampleBatch b(1000);
  uint64_t rejected = 0;
  std::string err;
  kansoku::agent::ParseMetricPluginOutput("fuzz", s, &b, &rejected, &err);
}

[[maybe_unused]] void FuzzAgentConfig(const std::string& s) {
  kansoku::agent::AgentOptions o;
  (void)kansoku::agent::ParseAgentConfig(s, "fuzz.yml", &o);
}

[[maybe_unused]] void FuzzPluginMeta(const std::string& s) {
  auto defs = kansoku::agent::ParsePluginMeta(s);
  if (!defs.ok()) return;
  std::string prom;
  kansoku::agent::LabelSet labels;
  double scale;
  (void)kansoku::agent::ApplyGraphDefs(*defs, "a.b.c", &prom, &labels, &scale);
  (void)kansoku::agent::GraphDefsJson(*defs);
}

[[maybe_unused]] void FuzzScrapeSelector(const std::string& s) {
  auto sel = kansoku::scrape::Selector::Parse(s);
  if (sel.ok()) (void)sel->Matches({{"env", "prod"}, {"a", s}});
}

// A scraped body (what any exporter may answer) as Prometheus text and as OpenMetrics: no crash,
// and a successful parse respects the sample limit and names every sample.
[[maybe_unused]] void FuzzScrapeExposition(const std::string& s) {
  for (bool om : {false, true}) {
    auto r = kansoku::scrape::ParseExposition(s, om, 100);
    if (!r.ok()) continue;
    if (r->size() > 100) __builtin_trap();
    for (const auto& sample : *r) {
      bool named = false;
      for (const auto& l : sample.labels) named |= l.first == "__name__" && !l.second.empty();
      if (!named) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  KANSOKU_FUZZ_FN(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
