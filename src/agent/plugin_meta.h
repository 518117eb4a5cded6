#pragma once
// Mackerel plugin graph definitions (docs/design/agent.md §6). A metric plugin run with
// MACKEREL_AGENT_PLUGIN_META=1 prints `# mackerel-agent-plugin` and then JSON
// {"graphs": {"<key>": {"label", "unit", "metrics": [{"name", "label", "stacked"}]}}}; keys and
// metric names may use `#` or `*` for one dotted segment. The agent fetches it once per plugin
// and names the plugin's series from it:
//   output `<key segments>.<metric>` matching a graph becomes
//   custom_<key without wildcard segments>_<metric><unit suffix>{plugin, graph="<key>",
//   wildcard="<the wildcard segment>" (wildcard_N for several), metric="<m>" when the metric
//   name is a wildcard}; units: seconds/milliseconds -> _seconds (ms scaled by 0.001), bytes ->
//   _bytes, bytes/sec -> _bytes_per_second, bits/sec -> _bits_per_second, percentage ->
//   _percent, iops -> _iops, integer/float -> none. Unmatched names keep custom_<name>.
// The definitions (with the series name each metric became) go to the server in the host's
// meta (`plugin_graphs`), shown by the hosts API.
// Thread safety: plain functions and values.
#include <string>
#include <string_view>
#include <vector>

#include "agent/sample.h"
#include "base/status.h"

namespace kansoku::agent {

struct GraphMetricDef {
  std::string name, label;
  bool stacked = false;
};
struct GraphDef {
  std::string key, label, unit;
  std::vector<GraphMetricDef> metrics;
};

// InvalidArgument (why) when the header line or the JSON is missing or malformed.
Result<std::vector<GraphDef>> ParsePluginMeta(std::string_view output);

// The series name, labels and value scale for a Mackerel metric name; false when no
// definition matches.
bool ApplyGraphDefs(const std::vector<GraphDef>& defs, std::string_view name, std::string* prom,
                    LabelSet* labels, double* scale);

// {"<key>": {"label", "unit", "metrics": [{"name", "label", "stacked", "series"}]}} for the
// host's meta.
std::string GraphDefsJson(const std::vector<GraphDef>& defs);

}  // namespace kansoku::agent
