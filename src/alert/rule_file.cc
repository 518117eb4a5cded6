#include "alert/rule_file.h"

#include <glob.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "alert/template.h"
#include "query/parser/parser.h"

namespace kansoku::alert {

std::string_view NoDataPolicyName(NoDataPolicy p) {
  switch (p) {
    case NoDataPolicy::kOk:
      return "ok";
    case NoDataPolicy::kKeep:
      return "keep";
    case NoDataPolicy::kAlert:
      return "alert";
  }
  return "ok";
}

namespace {

// Prometheus' model.ParseDuration: "0" or [0-9]+(y|w|d|h|m|s|ms) units in decreasing order.
bool ParsePromDuration(std::string_view s, int64_t* ms) {
  if (s == "0") {
    *ms = 0;
    return true;
  }
  static const std::pair<std::string_view, int64_t> kUnits[] = {{"y", 365LL * 86400000},
                                                                {"w", 7LL * 86400000},
                                                                {"d", 86400000},
                                                                {"h", 3600000},
                                                                {"m", 60000},
                                                                {"s", 1000},
                                                                {"ms", 1}};
  int64_t total = 0;
  int last = -1;
  size_t i = 0;
  if (s.empty()) return false;
  while (i < s.size()) {
    size_t j = i;
    int64_t n = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      if (n > (int64_t{1} << 50)) return false;
      n = n * 10 + (s[j] - '0');
      ++j;
    }
    if (j == i || j == s.size()) return false;
    int unit = -1;
    if (s.compare(j, 2, "ms") == 0) {
      unit = 6;
      j += 2;
    } else {
      for (int u = 0; u < 6; ++u) {
        if (s[j] == kUnits[u].first[0]) unit = u;
      }
      if (unit < 0) return false;
      ++j;
    }
    if (unit <= last) return false;
    last = unit;
    total += n * kUnits[unit].second;
    i = j;
  }
  *ms = total;
  return true;
}

class FileParser {
 public:
  explicit FileParser(const std::string& path) : path_(path) {}

  Status Err(const YAML::Node& n, const std::string& ctx, const std::string& why) const {
    YAML::Mark m = n.Mark();
    std::string where = path_;
    if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    return Status::InvalidArgument(where + ": " + (ctx.empty() ? "" : ctx + ": ") + why);
  }

  Status Scalar(const YAML::Node& n, const std::string& ctx, const std::string& key,
                std::string* out) const {
    if (!n.IsScalar()) return Err(n, ctx, "field \"" + key + "\" must be a string");
    *out = n.Scalar();
    return Status::Ok();
  }

  Status Duration(const YAML::Node& n, const std::string& ctx, const std::string& key,
                  int64_t* out) const {
    std::string s;
    KANSOKU_RETURN_IF_ERROR(Scalar(n, ctx, key, &s));
    if (!ParsePromDuration(s, out)) {
      return Err(n, ctx,
                 "field \"" + key + "\": not a valid duration string: \"" + s +
                     "\" (use e.g. 30s, 5m, 1h30m)");
    }
    return Status::Ok();
  }

  Status StringMap(const YAML::Node& n, const std::string& ctx, const std::string& key,
                   std::vector<std::pair<std::string, std::string>>* out) const {
    if (!n.IsMap()) return Err(n, ctx, "field \"" + key + "\" must be a mapping of strings");
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return Err(it->first, ctx, key + ": keys must be strings");
      if (!it->second.IsScalar() && !it->second.IsNull()) {
        return Err(it->second, ctx, key + "." + it->first.Scalar() + ": value must be a string");
      }
      std::string k = it->first.Scalar();
      if (!seen.insert(k).second) return Err(it->first, ctx, key + ": duplicate key \"" + k + "\"");
      out->emplace_back(k, it->second.IsNull() ? "" : it->second.Scalar());
    }
    return Status::Ok();
  }

  Status ParseRule(const YAML::Node& n, const std::string& group, int index, RuleSpec* r) const {
    std::string ctx = "group \"" + group + "\", rule " + std::to_string(index);
    if (!n.IsMap()) return Err(n, ctx, "a rule must be a mapping");
    r->line = n.Mark().line + 1;
    YAML::Node record_node, alert_node, expr_node, labels_node, ann_node;
    bool has_record = false, has_alert = false, has_expr = false, has_labels = false,
         has_ann = false;
    // The rule's name first, so every later message names the rule.
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return Err(it->first, ctx, "keys must be strings");
      std::string k = it->first.Scalar();
      if (k == "record") {
        record_node = it->second;
        has_record = true;
      } else if (k == "alert") {
        alert_node = it->second;
        has_alert = true;
      }
    }
    if (has_record && has_alert) {
      return Err(n, ctx, "only one of \"record\" and \"alert\" must be set");
    }
    if (!has_record && !has_alert) return Err(n, ctx, "one of \"record\" or \"alert\" must be set");
    r->alerting = has_alert;
    const YAML::Node& name_node = r->alerting ? alert_node : record_node;
    KANSOKU_RETURN_IF_ERROR(Scalar(name_node, ctx, r->alerting ? "alert" : "record", &r->name));
    ctx += " (\"" + r->name + "\")";
    if (r->name.empty()) return Err(name_node, ctx, "rule name must not be empty");
    if (!r->alerting && !tsdb::IsValidMetricName(r->name)) {
      return Err(name_node, ctx, "invalid recording rule name: \"" + r->name + "\"");
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      const YAML::Node v = it->second;  // a copy: it-> yields a temporary proxy
      if (k == "record" || k == "alert") {
        continue;
      } else if (k == "expr") {
        expr_node = v;
        has_expr = true;
      } else if (k == "for") {
        KANSOKU_RETURN_IF_ERROR(Duration(v, ctx, k, &r->for_ms));
      } else if (k == "keep_firing_for") {
        KANSOKU_RETURN_IF_ERROR(Duration(v, ctx, k, &r->keep_firing_for_ms));
      } else if (k == "labels") {
        labels_node = v;
        has_labels = !v.IsNull();
      } else if (k == "annotations") {
        ann_node = v;
        has_ann = !v.IsNull();
      } else {
        return Err(it->first, ctx,
                   "field \"" + k +
                       "\" not found (known: record, alert, expr, for, keep_firing_for, labels, "
                       "annotations)");
      }
    }
    if (!has_expr) return Err(n, ctx, "field \"expr\" must be set in rule");
    KANSOKU_RETURN_IF_ERROR(Scalar(expr_node, ctx, "expr", &r->expr));
    if (r->expr.empty()) return Err(expr_node, ctx, "field \"expr\" must be set in rule");
    auto parsed = query::ParseExpr(r->expr);
    if (!parsed.ok()) {
      return Err(expr_node, ctx, "could not parse expression: " + parsed.status().message());
    }
    auto type = (*parsed)->Type();
    if (type != query::ValueType::kVector && type != query::ValueType::kScalar) {
      return Err(expr_node, ctx, "expression must evaluate to an instant vector or a scalar");
    }
    r->parsed = std::shared_ptr<const query::Expr>(std::move(parsed).value());
    if (!r->alerting) {
      if (r->for_ms) return Err(n, ctx, "invalid field \"for\" in recording rule");
      if (r->keep_firing_for_ms)
        return Err(n, ctx, "invalid field \"keep_firing_for\" in recording rule");
      if (has_ann) return Err(ann_node, ctx, "invalid field \"annotations\" in recording rule");
    }
    if (has_labels) {
      KANSOKU_RETURN_IF_ERROR(StringMap(labels_node, ctx, "labels", &r->labels));
      for (const auto& [k, v] : r->labels) {
        if (!tsdb::IsValidLabelName(k) || k == "__name__") {
          return Err(labels_node, ctx, "invalid label name: \"" + k + "\"");
        }
        if (r->alerting) {
          auto t = Template::Parse(v, "__alert_" + r->name);
          if (!t.ok()) return Err(labels_node, ctx, "label " + k + ": " + t.status().message());
        }
      }
    }
    if (has_ann) {
      std::vector<std::pair<std::string, std::string>> anns;
      KANSOKU_RETURN_IF_ERROR(StringMap(ann_node, ctx, "annotations", &anns));
      for (const auto& [k, v] : anns) {
        if (!tsdb::IsValidLabelName(k)) {
          return Err(ann_node, ctx, "invalid annotation name: \"" + k + "\"");
        }
        if (k == "kansoku_no_data") {
          if (v == "ok") {
            r->no_data = NoDataPolicy::kOk;
          } else if (v == "keep") {
            r->no_data = NoDataPolicy::kKeep;
          } else if (v == "alert") {
            r->no_data = NoDataPolicy::kAlert;
          } else {
            return Err(ann_node, ctx, "kansoku_no_data: want ok, keep or alert, got \"" + v + "\"");
          }
          continue;
        }
        if (k == "kansoku_flapping") {
          if (v != "on" && v != "off") {
            return Err(ann_node, ctx, "kansoku_flapping: want on or off, got \"" + v + "\"");
          }
          r->flapping = v == "on";
          continue;
        }
        auto t = Template::Parse(v, "__alert_" + r->name);
        if (!t.ok()) return Err(ann_node, ctx, "annotation " + k + ": " + t.status().message());
        r->annotations[k] = v;
      }
    }
    return Status::Ok();
  }

  Result<RuleFile> Parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(e.mark.line + 1) + ":" +
                                     std::to_string(e.mark.column + 1) + ": " + e.msg);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(path_ + ": " + e.msg);
    }
    RuleFile file;
    file.path = path_;
    if (!root || root.IsNull()) return file;  // empty file: no groups (promtool agrees)
    if (!root.IsMap()) return Err(root, "", "expected a mapping with a \"groups\" key");
    YAML::Node groups;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != "groups") {
        return Err(it->first, "",
                   "field \"" + (it->first.IsScalar() ? it->first.Scalar() : std::string("?")) +
                       "\" not found (a rule file has only \"groups\")");
      }
      groups = it->second;
    }
    if (!groups || groups.IsNull()) return file;
    if (!groups.IsSequence()) return Err(groups, "", "\"groups\" must be a list");
    std::set<std::string> names;
    for (const auto& g : groups) {
      RuleGroupSpec spec;
      spec.file = path_;
      spec.line = g.Mark().line + 1;
      if (!g.IsMap()) return Err(g, "", "a group must be a mapping");
      YAML::Node rules;
      bool has_name = false;
      for (auto it = g.begin(); it != g.end(); ++it) {
        if (!it->first.IsScalar()) return Err(it->first, "group", "keys must be strings");
        std::string k = it->first.Scalar();
        const YAML::Node v = it->second;  // a copy: it-> yields a temporary proxy
        std::string ctx = "group \"" + spec.name + "\"";
        if (k == "name") {
          KANSOKU_RETURN_IF_ERROR(Scalar(v, "group", k, &spec.name));
          has_name = true;
        } else if (k == "interval") {
          KANSOKU_RETURN_IF_ERROR(Duration(v, ctx, k, &spec.interval_ms));
        } else if (k == "query_offset") {
          KANSOKU_RETURN_IF_ERROR(Duration(v, ctx, k, &spec.query_offset_ms));
        } else if (k == "limit") {
          std::string s;
          KANSOKU_RETURN_IF_ERROR(Scalar(v, ctx, k, &s));
          char* end = nullptr;
          long long n = std::strtoll(s.c_str(), &end, 10);
          if (s.empty() || *end != '\0' || n < 0) {
            return Err(v, ctx, "field \"limit\" must be a non-negative integer");
          }
          spec.limit = n;
        } else if (k == "labels") {
          KANSOKU_RETURN_IF_ERROR(StringMap(v, ctx, k, &spec.labels));
          for (const auto& [lk, lv] : spec.labels) {
            if (!tsdb::IsValidLabelName(lk))
              return Err(v, ctx, "invalid label name: \"" + lk + "\"");
          }
        } else if (k == "rules") {
          rules = v;
        } else {
          return Err(it->first, ctx,
                     "field \"" + k +
                         "\" not found (known: name, interval, limit, query_offset, labels, "
                         "rules)");
        }
      }
      if (!has_name || spec.name.empty()) return Err(g, "", "group name must not be empty");
      if (!names.insert(spec.name).second) {
        return Err(g, "", "group name \"" + spec.name + "\" is repeated in the same file");
      }
      if (rules && !rules.IsNull()) {
        if (!rules.IsSequence())
          return Err(rules, "group \"" + spec.name + "\"", "\"rules\" must be a list");
        int index = 0;
        for (const auto& rn : rules) {
          RuleSpec r;
          KANSOKU_RETURN_IF_ERROR(ParseRule(rn, spec.name, ++index, &r));
          spec.rules.push_back(std::move(r));
        }
      }
      file.groups.push_back(std::move(spec));
    }
    return file;
  }

 private:
  std::string path_;
};

}  // namespace

Result<RuleFile> ParseRuleFile(std::string_view yaml_text, const std::string& path) {
  FileParser p(path);
  try {
    return p.Parse(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<RuleFile> LoadRuleFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::FromErrno("cannot read rule file " + path, errno);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseRuleFile(ss.str(), path);
}

Result<std::vector<std::string>> ExpandRuleGlobs(const std::vector<std::string>& patterns) {
  std::set<std::string> out;
  for (const auto& p : patterns) {
    bool wild = p.find_first_of("*?[") != std::string::npos;
    if (!wild) {
      struct stat st;
      if (::stat(p.c_str(), &st) != 0) return Status::FromErrno("rule file " + p, errno);
      out.insert(p);
      continue;
    }
    glob_t g{};
    int rc = ::glob(p.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.insert(g.gl_pathv[i]);
    } else if (rc != GLOB_NOMATCH) {
      globfree(&g);
      return Status::InvalidArgument("cannot expand rule file pattern \"" + p + "\"");
    }
    globfree(&g);
  }
  return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace kansoku::alert
