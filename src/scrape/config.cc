#include "scrape/config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "base/strings.h"
#include "scrape/enrollment.h"

namespace kansoku::scrape {
namespace {

struct Ctx {
  const std::string& file;
  std::string path;
  Status Err(const YAML::Node& n, const std::string& key, const std::string& why) const {
    return Status::InvalidArgument(file + ":" + std::to_string(n.Mark().line + 1) + ": " + path +
                                   (key.empty() ? "" : "." + key) + ": " + why);
  }
};

Status Keys(const Ctx& c, const YAML::Node& n, const std::set<std::string>& known) {
  if (!n.IsMap()) return c.Err(n, "", "expected a mapping");
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k = it->first.Scalar();
    if (!known.count(k)) {
      std::string list;
      for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
      return c.Err(it->first, k, "unknown key (known here: " + list + ")");
    }
  }
  return Status::Ok();
}

const YAML::Node Either(const YAML::Node& n, const char* a, const char* b) {
  if (n[a]) return n[a];
  return n[b];
}

Status Str(const Ctx& c, const YAML::Node& n, const std::string& key, std::string* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsScalar()) return c.Err(n, key, "expected a string");
  *out = n.Scalar();
  return Status::Ok();
}

Status StrList(const Ctx& c, const YAML::Node& n, const std::string& key,
               std::vector<std::string>* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsSequence()) return c.Err(n, key, "expected a list of strings");
  for (const auto& e : n) {
    if (!e.IsScalar()) return c.Err(e, key, "expected a list of strings");
    out->push_back(e.Scalar());
  }
  return Status::Ok();
}

Status Labels(const Ctx& c, const YAML::Node& n, const std::string& key, LabelSet* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return c.Err(n, key, "expected a mapping of label names to values");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->second.IsScalar()) return c.Err(it->second, key, "label values must be strings");
    out->emplace_back(it->first.Scalar(), it->second.Scalar());
  }
  return Status::Ok();
}

Status Duration(const Ctx& c, const YAML::Node& n, const std::string& key, int64_t* ms) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsScalar()) return c.Err(n, key, "expected a duration such as 15s");
  auto r = ParseDurationMs(n.Scalar());
  if (!r.ok()) return c.Err(n, key, r.status().message());
  if (*r <= 0) return c.Err(n, key, "must be positive");
  *ms = *r;
  return Status::Ok();
}

Status Bool(const Ctx& c, const YAML::Node& n, const std::string& key, bool* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, *out)) {
    return c.Err(n, key, "expected true or false");
  }
  return Status::Ok();
}

Status Count(const Ctx& c, const YAML::Node& n, const std::string& key, size_t* out) {
  if (!n || n.IsNull()) return Status::Ok();
  long long v;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v) || v < 0) {
    return c.Err(n, key, "expected a non-negative integer");
  }
  *out = static_cast<size_t>(v);
  return Status::Ok();
}

Status Relabel(const Ctx& c, const YAML::Node& n, const std::string& key,
               std::vector<RelabelRule>* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsSequence()) return c.Err(n, key, "expected a list of rules");
  size_t i = 0;
  for (const auto& r : n) {
    Ctx rc{c.file, c.path + "." + key + "[" + std::to_string(i++) + "]"};
    KANSOKU_RETURN_IF_ERROR(Keys(rc, r,
                                 {"source_labels", "separator", "regex", "action", "target_label",
                                  "replacement", "modulus"}));
    RelabelRule rule;
    KANSOKU_RETURN_IF_ERROR(StrList(rc, r["source_labels"], "source_labels", &rule.source_labels));
    KANSOKU_RETURN_IF_ERROR(Str(rc, r["separator"], "separator", &rule.separator));
    KANSOKU_RETURN_IF_ERROR(Str(rc, r["regex"], "regex", &rule.regex));
    KANSOKU_RETURN_IF_ERROR(Str(rc, r["target_label"], "target_label", &rule.target_label));
    KANSOKU_RETURN_IF_ERROR(Str(rc, r["replacement"], "replacement", &rule.replacement));
    size_t modulus = 0;
    KANSOKU_RETURN_IF_ERROR(Count(rc, r["modulus"], "modulus", &modulus));
    rule.modulus = modulus;
    std::string action = "replace";
    KANSOKU_RETURN_IF_ERROR(Str(rc, r["action"], "action", &action));
    auto a = ParseRelabelAction(action);
    if (!a.ok()) return rc.Err(r["action"], "action", a.status().message());
    rule.action = *a;
    // The rule alone is checked here so the error carries the file and line.
    auto compiled = Relabeler::Compile({rule});
    if (!compiled.ok()) {
      std::string why = compiled.status().message();
      if (StartsWith(why, "rule 1 ")) why = why.substr(7);
      return rc.Err(r, "", why);
    }
    out->push_back(std::move(rule));
  }
  return Status::Ok();
}

Status ParseJob(const Ctx& c, const YAML::Node& j, ScrapeJobConfig* sc) {
  KANSOKU_RETURN_IF_ERROR(Keys(c, j, {"job_name",        "job",
                                      "scrape_interval", "interval",
                                      "scrape_timeout",  "timeout",
                                      "metrics_path",    "scheme",
                                      "honor_labels",    "static_configs",
                                      "targets",         "labels",
                                      "file_sd_configs", "file_sd",
                                      "relabel_configs", "metric_relabel_configs",
                                      "metric_keep",     "metric_drop",
                                      "selector",        "max_growth",
                                      "min_targets",     "growth_window",
                                      "max_samples"}));
  KANSOKU_RETURN_IF_ERROR(Str(c, Either(j, "job_name", "job"), "job_name", &sc->job));
  if (sc->job.empty()) return c.Err(j, "job_name", "a job name is required");
  KANSOKU_RETURN_IF_ERROR(
      Duration(c, Either(j, "scrape_interval", "interval"), "scrape_interval", &sc->interval_ms));
  KANSOKU_RETURN_IF_ERROR(
      Duration(c, Either(j, "scrape_timeout", "timeout"), "scrape_timeout", &sc->timeout_ms));
  KANSOKU_RETURN_IF_ERROR(Str(c, j["metrics_path"], "metrics_path", &sc->metrics_path));
  KANSOKU_RETURN_IF_ERROR(Str(c, j["scheme"], "scheme", &sc->scheme));
  if (sc->scheme != "http" && sc->scheme != "https") {
    return c.Err(j["scheme"], "scheme", "http or https");
  }
  KANSOKU_RETURN_IF_ERROR(Bool(c, j["honor_labels"], "honor_labels", &sc->honor_labels));
  KANSOKU_RETURN_IF_ERROR(StrList(c, j["targets"], "targets", &sc->static_targets));
  KANSOKU_RETURN_IF_ERROR(Labels(c, j["labels"], "labels", &sc->labels));
  KANSOKU_RETURN_IF_ERROR(StrList(c, j["file_sd"], "file_sd", &sc->file_sd));
  if (auto sc_list = j["static_configs"]) {
    if (!sc_list.IsSequence()) return c.Err(sc_list, "static_configs", "expected a list");
    size_t i = 0;
    for (const auto& g : sc_list) {
      Ctx gc{c.file, c.path + ".static_configs[" + std::to_string(i++) + "]"};
      KANSOKU_RETURN_IF_ERROR(Keys(gc, g, {"targets", "labels"}));
      TargetGroup tg;
      KANSOKU_RETURN_IF_ERROR(StrList(gc, g["targets"], "targets", &tg.targets));
      KANSOKU_RETURN_IF_ERROR(Labels(gc, g["labels"], "labels", &tg.labels));
      sc->static_groups.push_back(std::move(tg));
    }
  }
  if (auto fs = j["file_sd_configs"]) {
    if (!fs.IsSequence()) return c.Err(fs, "file_sd_configs", "expected a list");
    size_t i = 0;
    for (const auto& g : fs) {
      Ctx gc{c.file, c.path + ".file_sd_configs[" + std::to_string(i++) + "]"};
      KANSOKU_RETURN_IF_ERROR(Keys(gc, g, {"files", "refresh_interval"}));
      KANSOKU_RETURN_IF_ERROR(StrList(gc, g["files"], "files", &sc->file_sd));
    }
  }
  KANSOKU_RETURN_IF_ERROR(Relabel(c, j["relabel_configs"], "relabel_configs", &sc->target_relabel));
  KANSOKU_RETURN_IF_ERROR(
      Relabel(c, j["metric_relabel_configs"], "metric_relabel_configs", &sc->metric_relabel));
  KANSOKU_RETURN_IF_ERROR(Str(c, j["metric_keep"], "metric_keep", &sc->metric_keep));
  KANSOKU_RETURN_IF_ERROR(Str(c, j["metric_drop"], "metric_drop", &sc->metric_drop));
  KANSOKU_RETURN_IF_ERROR(Str(c, j["selector"], "selector", &sc->selector));
  if (auto g = j["max_growth"]) {
    double v;
    if (!g.IsScalar() || !YAML::convert<double>::decode(g, v) || !(v >= 0)) {
      return c.Err(g, "max_growth", "expected a fraction >= 0 such as 0.5 (0 = off)");
    }
    sc->max_growth = v;
  }
  KANSOKU_RETURN_IF_ERROR(Count(c, j["min_targets"], "min_targets", &sc->min_targets));
  KANSOKU_RETURN_IF_ERROR(Duration(c, j["growth_window"], "growth_window", &sc->growth_window_ms));
  KANSOKU_RETURN_IF_ERROR(Count(c, j["max_samples"], "max_samples", &sc->max_samples));
  // Compile regexes and the selector now, so the error names the line.
  auto compiled = ScrapeJob::Create(*sc);
  if (!compiled.ok()) return c.Err(j, "", compiled.status().message());
  auto sel = Selector::Parse(sc->selector);
  if (!sel.ok()) return c.Err(j["selector"], "selector", sel.status().message());
  return Status::Ok();
}

}  // namespace

Status ParseJobs(const YAML::Node& list, const std::string& file, const std::string& what,
                 std::vector<ScrapeJobConfig>* out) {
  try {
    if (!list || list.IsNull()) return Status::Ok();
    Ctx top{file, what};
    if (!list.IsSequence()) return top.Err(list, "", "expected a list of scrape jobs");
    std::set<std::string> names;
    size_t i = 0;
    for (const auto& j : list) {
      Ctx c{file, what + "[" + std::to_string(i++) + "]"};
      ScrapeJobConfig sc;
      KANSOKU_RETURN_IF_ERROR(ParseJob(c, j, &sc));
      if (!names.insert(sc.job).second) {
        return c.Err(j, "job_name", "job \"" + sc.job + "\" is defined twice");
      }
      out->push_back(std::move(sc));
    }
    return Status::Ok();
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + what +
                                   ": " + e.msg);
  }
}

Status ParseServerScrapeConfig(const std::string& yaml_text, const std::string& file,
                               ScrapeDefaults* d, std::vector<ScrapeJobConfig>* jobs) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root || !root.IsMap()) return Status::Ok();
    if (auto s = root["scrape"]) {
      Ctx c{file, "scrape"};
      KANSOKU_RETURN_IF_ERROR(Keys(c, s, {"interval", "timeout", "workers"}));
      KANSOKU_RETURN_IF_ERROR(Duration(c, s["interval"], "interval", &d->interval_ms));
      KANSOKU_RETURN_IF_ERROR(Duration(c, s["timeout"], "timeout", &d->timeout_ms));
      size_t w = static_cast<size_t>(d->workers);
      KANSOKU_RETURN_IF_ERROR(Count(c, s["workers"], "workers", &w));
      if (w < 1 || w > 64) return c.Err(s["workers"], "workers", "must be between 1 and 64");
      d->workers = static_cast<int>(w);
    }
    size_t first = jobs->size();
    KANSOKU_RETURN_IF_ERROR(ParseJobs(root["scrape_configs"], file, "scrape_configs", jobs));
    // Explicit timeouts are kept; the default timeout never exceeds the job's interval.
    YAML::Node list = root["scrape_configs"];
    for (size_t i = first; i < jobs->size(); ++i) {
      auto& j = (*jobs)[i];
      YAML::Node n = list[i - first];
      if (j.interval_ms == 0) j.interval_ms = d->interval_ms;
      if (!n["scrape_timeout"] && !n["timeout"]) {
        j.timeout_ms = std::min(d->timeout_ms, j.interval_ms);
      }
    }
    return Status::Ok();
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

}  // namespace kansoku::scrape
