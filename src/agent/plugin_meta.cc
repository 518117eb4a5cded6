#include "agent/plugin_meta.h"

#include <yaml-cpp/yaml.h>

#include "base/json.h"

namespace kansoku::agent {
namespace {

std::vector<std::string_view> Segments(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    out.push_back(
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool Wild(std::string_view s) { return s == "#" || s == "*"; }

void AppendSanitized(std::string* out, std::string_view s) {
  for (char c : s) out->push_back(c == '.' || c == '-' ? '_' : c);
}

const char* UnitSuffix(const std::string& unit, double* scale) {
  *scale = 1;
  if (unit == "seconds") return "_seconds";
  if (unit == "milliseconds") {
    *scale = 0.001;
    return "_seconds";
  }
  if (unit == "bytes") return "_bytes";
  if (unit == "bytes/sec") return "_bytes_per_second";
  if (unit == "bits/sec") return "_bits_per_second";
  if (unit == "percentage") return "_percent";
  if (unit == "iops") return "_iops";
  return "";
}

// The series name of one metric of a definition (wildcards dropped), for the meta.
std::string SeriesName(const GraphDef& g, const GraphMetricDef& m) {
  std::string prom = "custom";
  for (auto seg : Segments(g.key)) {
    if (Wild(seg)) continue;
    prom += '_';
    AppendSanitized(&prom, seg);
  }
  if (!Wild(m.name)) {
    prom += '_';
    AppendSanitized(&prom, m.name);
  }
  double scale;
  std::string suffix = UnitSuffix(g.unit, &scale);
  if (!suffix.empty() && (prom.size() < suffix.size() ||
                          prom.compare(prom.size() - suffix.size(), suffix.size(), suffix) != 0)) {
    prom += suffix;
  }
  return prom;
}

}  // namespace

Result<std::vector<GraphDef>> ParsePluginMeta(std::string_view output) {
  size_t nl = output.find('\n');
  std::string_view first = output.substr(0, nl);
  while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.remove_suffix(1);
  if (first.rfind("# mackerel-agent-plugin", 0) != 0) {
    return Status::InvalidArgument("first line is not \"# mackerel-agent-plugin\"");
  }
  if (nl == std::string_view::npos) return Status::InvalidArgument("no JSON after the header");
  std::vector<GraphDef> out;
  try {
    YAML::Node root = YAML::Load(std::string(output.substr(nl + 1)));
    if (!root.IsMap() || !root["graphs"] || !root["graphs"].IsMap()) {
      return Status::InvalidArgument("expected a JSON object with a \"graphs\" object");
    }
    for (auto it = root["graphs"].begin(); it != root["graphs"].end(); ++it) {
      GraphDef g;
      g.key = it->first.as<std::string>();
      const YAML::Node d = it->second;
      if (!d.IsMap()) return Status::InvalidArgument("graph \"" + g.key + "\": expected an object");
      if (d["label"]) g.label = d["label"].as<std::string>();
      if (d["unit"]) g.unit = d["unit"].as<std::string>();
      if (d["metrics"]) {
        if (!d["metrics"].IsSequence()) {
          return Status::InvalidArgument("graph \"" + g.key + "\": metrics must be a list");
        }
        for (const auto& m : d["metrics"]) {
          if (!m.IsMap() || !m["name"]) {
            return Status::InvalidArgument("graph \"" + g.key + "\": every metric needs a name");
          }
          GraphMetricDef md;
          md.name = m["name"].as<std::string>();
          if (m["label"]) md.label = m["label"].as<std::string>();
          if (m["stacked"]) md.stacked = m["stacked"].as<bool>(false);
          g.metrics.push_back(std::move(md));
        }
      }
      out.push_back(std::move(g));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
  return out;
}

bool ApplyGraphDefs(const std::vector<GraphDef>& defs, std::string_view name, std::string* prom,
                    LabelSet* labels, double* scale) {
  auto segs = Segments(name);
  for (const auto& g : defs) {
    auto key = Segments(g.key);
    if (key.size() + 1 != segs.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < key.size() && ok; ++i) ok = Wild(key[i]) || key[i] == segs[i];
    if (!ok) continue;
    const GraphMetricDef* metric = nullptr;
    for (const auto& m : g.metrics) {
      if (m.name == segs.back()) {
        metric = &m;
        break;
      }
    }
    if (metric == nullptr) {
      for (const auto& m : g.metrics) {
        if (Wild(m.name)) {
          metric = &m;
          break;
        }
      }
    }
    if (metric == nullptr) continue;
    *prom = SeriesName(g, *metric);
    UnitSuffix(g.unit, scale);
    labels->emplace_back("graph", g.key);
    size_t n_wild = 0;
    for (auto seg : key) n_wild += Wild(seg);
    size_t w = 0;
    for (size_t i = 0; i < key.size(); ++i) {
      if (!Wild(key[i])) continue;
      labels->emplace_back(
          n_wild == 1 ? std::string("wildcard") : "wildcard_" + std::to_string(++w),
          std::string(segs[i]));
    }
    if (Wild(metric->name)) labels->emplace_back("metric", std::string(segs.back()));
    return true;
  }
  return false;
}

std::string GraphDefsJson(const std::vector<GraphDef>& defs) {
  std::string j = "{";
  for (size_t i = 0; i < defs.size(); ++i) {
    const auto& g = defs[i];
    j += (i ? "," : "") + JsonString(g.key) + ":{\"label\":" + JsonString(g.label) +
         ",\"unit\":" + JsonString(g.unit) + ",\"metrics\":[";
    for (size_t k = 0; k < g.metrics.size(); ++k) {
      const auto& m = g.metrics[k];
      j += (k ? "," : "") + std::string("{\"name\":") + JsonString(m.name) +
           ",\"label\":" + JsonString(m.label) + ",\"stacked\":" + (m.stacked ? "true" : "false") +
           ",\"series\":" + JsonString(SeriesName(g, m)) + "}";
    }
    j += "]}";
  }
  return j + "}";
}

}  // namespace kansoku::agent
