// libFuzzer: the agent's parsers of untrusted input never crash: StatsD datagrams (aggregated and
// flushed), Mackerel plugin output, the agent YAML config (KANSOKU_FUZZ_FN picks one).
#include <string>

#include "agent/config.h"
#include "agent/plugin.h"
#include "agent/statsd.h"

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  KANSOKU_FUZZ_FN(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
