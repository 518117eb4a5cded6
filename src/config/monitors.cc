// YAML of `monitors:` and `budgets:` (config/monitors.h). Errors say "line L: key.path: why";
// config.cc prefixes the file name.
#include "config/monitors_yaml.h"

#include <functional>
#include <set>

#include "base/strings.h"

namespace kansoku::config {
namespace {

using Handler = std::function<Status(const YAML::Node&)>;
using Fields = std::vector<std::pair<std::string, Handler>>;

Status At(const YAML::Node& n, const std::string& path, const std::string& why) {
  if (why.rfind("line ", 0) == 0) return Status::InvalidArgument(why);  // already placed
  return Status::InvalidArgument("line " + std::to_string(n.Mark().line + 1) + ": " + path + ": " +
                                 why);
}

Status Walk(const YAML::Node& n, const std::string& path, const Fields& fields) {
  if (!n.IsMap()) return At(n, path, "expected a mapping of keys");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) return At(it->first, path, "keys must be plain names");
    std::string key = it->first.as<std::string>();
    const Handler* h = nullptr;
    for (const auto& [k, fn] : fields) {
      if (k == key) h = &fn;
    }
    std::string full = path + "." + key;
    if (!h) {
      std::string known;
      for (const auto& [k, fn] : fields) known += (known.empty() ? "" : ", ") + k;
      return At(it->first, full, "unknown key (known here: " + known + ")");
    }
    if (it->second.IsNull()) continue;
    Status st;
    try {
      st = (*h)(it->second);
    } catch (const YAML::Exception& e) {
      st = Status::InvalidArgument(e.msg);
    }
    if (!st.ok()) return At(it->second, full, st.message());
  }
  return Status::Ok();
}

Status List(const YAML::Node& n, const std::string& path,
            const std::function<Status(const YAML::Node&, const std::string&)>& item) {
  if (!n.IsSequence()) return Status::InvalidArgument("expected a list");
  for (size_t i = 0; i < n.size(); ++i) {
    KANSOKU_RETURN_IF_ERROR(item(n[i], path + "[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

Handler Str(std::string* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a string");
    *out = n.as<std::string>();
    return Status::Ok();
  };
}
Handler Bool(bool* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected true or false");
    bool v;
    if (!YAML::convert<bool>::decode(n, v)) {
      return Status::InvalidArgument("expected true or false, got \"" + n.as<std::string>() + "\"");
    }
    *out = v;
    return Status::Ok();
  };
}
Handler Dur(int64_t* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a duration such as 5m");
    auto r = ParseDurationMs(n.as<std::string>());
    if (!r.ok()) return r.status();
    *out = *r;
    return Status::Ok();
  };
}
template <typename T>
Handler Num(T* out, double min, double max) {
  return [=](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a number");
    double v;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("expected a number, got \"" + n.as<std::string>() + "\"");
    }
    if (!(v >= min && v <= max)) {
      return Status::InvalidArgument("must be between " + std::to_string(min) + " and " +
                                     std::to_string(max));
    }
    *out = static_cast<T>(v);
    return Status::Ok();
  };
}
Handler StrMap(std::map<std::string, std::string>* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsMap()) return Status::InvalidArgument("expected a mapping of name: value");
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        return Status::InvalidArgument("expected a mapping of name: value");
      }
      (*out)[it->first.as<std::string>()] = it->second.as<std::string>();
    }
    return Status::Ok();
  };
}
Handler StrList(std::vector<std::string>* out) {
  return [out](const YAML::Node& n) {
    out->clear();
    if (n.IsScalar()) {
      out->push_back(n.as<std::string>());
      return Status::Ok();
    }
    if (!n.IsSequence()) return Status::InvalidArgument("expected a list of strings");
    for (const auto& x : n) {
      if (!x.IsScalar()) return Status::InvalidArgument("expected a list of strings");
      out->push_back(x.as<std::string>());
    }
    return Status::Ok();
  };
}
Status Required(const YAML::Node& n, const std::string& path, bool present, const char* key) {
  if (present) return Status::Ok();
  return At(n, path, std::string("`") + key + "` is required");
}

}  // namespace

Status ParseMonitorsYaml(const YAML::Node& node, MonitorsConfig* m) {
  auto& e = m->errors;
  auto& c = m->cron;
  Fields errors_f = {
      {"new_issue", Bool(&e.new_issue)},
      {"new_issue_window", Dur(&e.new_issue_window_ms)},
      {"regression", Bool(&e.regression)},
      {"projects",
       [&](const YAML::Node& n) {
         e.projects.clear();
         return List(n, "projects", [&](const YAML::Node& x, const std::string&) {
           int64_t id = x.as<int64_t>();
           e.projects.push_back(id);
           return Status::Ok();
         });
       }},
      {"event_thresholds",
       [&](const YAML::Node& n) {
         e.event_thresholds.clear();
         return List(n, "monitors.errors.event_thresholds",
                     [&](const YAML::Node& x, const std::string& path) {
                       IssueEventThreshold t;
                       bool has_events = false;
                       Fields f = {{"project", Num(&t.project, 0, 9e15)},
                                   {"events",
                                    [&](const YAML::Node& v) {
                                      has_events = true;
                                      return Num(&t.events, 0, 1e15)(v);
                                    }},
                                   {"window", Dur(&t.window_ms)},
                                   {"level", Str(&t.level)},
                                   {"labels", StrMap(&t.labels)}};
                       KANSOKU_RETURN_IF_ERROR(Walk(x, path, f));
                       KANSOKU_RETURN_IF_ERROR(Required(x, path, has_events, "events"));
                       if (t.window_ms < 1000) return At(x, path + ".window", "at least 1s");
                       e.event_thresholds.push_back(std::move(t));
                       return Status::Ok();
                     });
       }},
  };
  Fields cron_f = {
      {"enabled", Bool(&c.enabled)},
      {"default_margin", Dur(&c.default_margin_ms)},
      {"default_max_runtime", Dur(&c.default_max_runtime_ms)},
      {"failed", Bool(&c.failed)},
      {"monitors",
       [&](const YAML::Node& n) {
         c.monitors.clear();
         return List(
             n, "monitors.cron.monitors", [&](const YAML::Node& x, const std::string& path) {
               CronMonitorConfig cm;
               Fields f = {
                   {"project", Num(&cm.project, 0, 9e15)}, {"slug", Str(&cm.slug)},
                   {"schedule", Str(&cm.schedule)},        {"timezone", Str(&cm.timezone)},
                   {"checkin_margin", Dur(&cm.margin_ms)}, {"max_runtime", Dur(&cm.max_runtime_ms)},
                   {"labels", StrMap(&cm.labels)}};
               KANSOKU_RETURN_IF_ERROR(Walk(x, path, f));
               KANSOKU_RETURN_IF_ERROR(Required(x, path, !cm.slug.empty(), "slug"));
               KANSOKU_RETURN_IF_ERROR(Required(x, path, !cm.schedule.empty(), "schedule"));
               c.monitors.push_back(std::move(cm));
               return Status::Ok();
             });
       }},
  };
  Fields top = {
      {"interval", Dur(&m->interval_ms)},
      {"limit_warn_at", Num(&m->limit_warn_at, 0, 1)},
      {"errors", [&](const YAML::Node& n) { return Walk(n, "monitors.errors", errors_f); }},
      {"cron", [&](const YAML::Node& n) { return Walk(n, "monitors.cron", cron_f); }},
      {"log_queries",
       [&](const YAML::Node& n) {
         m->log_queries.clear();
         std::set<std::string> names;
         return List(n, "monitors.log_queries", [&](const YAML::Node& x, const std::string& path) {
           LogQueryMonitorConfig q;
           Fields f = {{"name", Str(&q.name)},
                       {"query", Str(&q.query)},
                       {"window", Dur(&q.window_ms)},
                       {"threshold", Num(&q.threshold, 0, 1e15)},
                       {"group_by", StrList(&q.group_by)},
                       {"labels", StrMap(&q.labels)},
                       {"summary", Str(&q.summary)}};
           KANSOKU_RETURN_IF_ERROR(Walk(x, path, f));
           KANSOKU_RETURN_IF_ERROR(Required(x, path, !q.name.empty(), "name"));
           KANSOKU_RETURN_IF_ERROR(Required(x, path, !q.query.empty(), "query"));
           if (!names.insert(q.name).second) {
             return At(x, path + ".name", "\"" + q.name + "\" is used twice");
           }
           if (q.window_ms < 1000) return At(x, path + ".window", "at least 1s");
           m->log_queries.push_back(std::move(q));
           return Status::Ok();
         });
       }},
  };
  KANSOKU_RETURN_IF_ERROR(Walk(node, "monitors", top));
  if (m->interval_ms < 1000) return At(node, "monitors.interval", "must be at least 1s");
  return Status::Ok();
}

Status ParseBudgetsYaml(const YAML::Node& node, std::vector<BudgetConfig>* out) {
  out->clear();
  std::set<std::string> names;
  return List(node, "budgets", [&](const YAML::Node& x, const std::string& path) {
    BudgetConfig b;
    Fields f = {{"name", Str(&b.name)},
                {"kind", Str(&b.kind)},
                {"selector", StrMap(&b.selector)},
                {"limit", Num(&b.limit, 0, 1e18)},
                {"warn_at", Num(&b.warn_at, 0, 10)},
                {"critical_at", Num(&b.critical_at, 0, 10)},
                {"window", Dur(&b.window_ms)},
                {"labels", StrMap(&b.labels)}};
    KANSOKU_RETURN_IF_ERROR(Walk(x, path, f));
    KANSOKU_RETURN_IF_ERROR(Required(x, path, !b.name.empty(), "name"));
    if (!names.insert(b.name).second) {
      return At(x, path + ".name", "\"" + b.name + "\" is used twice");
    }
    static const std::set<std::string> kKinds = {"hosts", "active_series", "error_events",
                                                 "log_lines"};
    if (!kKinds.count(b.kind)) {
      return At(x, path + ".kind",
                "\"" + b.kind + "\": want hosts, active_series, error_events or log_lines");
    }
    if (!(b.limit > 0)) return At(x, path + ".limit", "a positive budget is required");
    if (!(b.warn_at > 0)) return At(x, path + ".warn_at", "must be positive");
    if (b.critical_at != 0 && b.critical_at < b.warn_at) {
      return At(x, path + ".critical_at", "must be at least warn_at (or 0 = off)");
    }
    std::set<std::string> allowed;
    if (b.kind == "hosts") allowed = {"service", "role", "status"};
    if (b.kind == "error_events") allowed = {"project"};
    if (b.kind == "active_series") {
      if (b.selector.size() > 1) {
        return At(x, path + ".selector",
                  "active_series takes one key: token, or one of usage.accounting_labels");
      }
    }
    for (const auto& [k, v] : b.selector) {
      if (!allowed.empty() && !allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return At(x, path + ".selector." + k,
                  "unknown for kind " + b.kind + " (want " + list + ")");
      }
    }
    if (b.window_ms < 1000) return At(x, path + ".window", "at least 1s");
    out->push_back(std::move(b));
    return Status::Ok();
  });
}

}  // namespace kansoku::config
