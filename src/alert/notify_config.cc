#include "alert/notify_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "alert/alert.h"
#include "base/strings.h"

namespace kansoku::alert {

bool MaintenanceWindow::ActiveAt(int64_t now_ms) const {
  time_t t = static_cast<time_t>(now_ms / 1000 + offset_minutes * 60);
  struct tm tm;
  gmtime_r(&t, &tm);
  if (!weekdays.empty()) {
    bool ok = false;
    for (int d : weekdays) ok |= d == tm.tm_wday;
    if (!ok) return false;
  }
  if (!days_of_month.empty()) {
    bool ok = false;
    for (int d : days_of_month) ok |= d == tm.tm_mday;
    if (!ok) return false;
  }
  if (times.empty()) return true;
  int minute = tm.tm_hour * 60 + tm.tm_min;
  for (const auto& [s, e] : times) {
    if (s <= e ? (minute >= s && minute < e) : (minute >= s || minute < e)) return true;
  }
  return false;
}

namespace {

class P {
 public:
  explicit P(std::string name) : name_(std::move(name)) {}
  Status Err(const YAML::Node& n, const std::string& key, const std::string& why) const {
    YAML::Mark m = n.Mark();
    return Status::InvalidArgument(name_ + ":" + std::to_string(m.line + 1) + ":" +
                                   std::to_string(m.column + 1) + ": " + key + ": " + why);
  }
  Status Str(const YAML::Node& n, const std::string& key, std::string* out) const {
    if (!n.IsScalar()) return Err(n, key, "must be a string");
    *out = n.Scalar();
    return Status::Ok();
  }
  Status Bool(const YAML::Node& n, const std::string& key, bool* out) const {
    std::string s;
    KANSOKU_RETURN_IF_ERROR(Str(n, key, &s));
    if (s == "true") {
      *out = true;
    } else if (s == "false") {
      *out = false;
    } else {
      return Err(n, key, "want true or false, got \"" + s + "\"");
    }
    return Status::Ok();
  }
  Status Dur(const YAML::Node& n, const std::string& key, int64_t* out) const {
    std::string s;
    KANSOKU_RETURN_IF_ERROR(Str(n, key, &s));
    auto d = ParseDurationMs(s);
    if (!d.ok()) return Err(n, key, d.status().message());
    *out = *d;
    return Status::Ok();
  }
  Status Matchers(const YAML::Node& n, const std::string& key, std::vector<tsdb::Matcher>* out,
                  std::vector<std::string>* text) const {
    if (!n.IsSequence()) return Err(n, key, "must be a list of matchers like 'severity=\"page\"'");
    for (const auto& m : n) {
      std::string s;
      KANSOKU_RETURN_IF_ERROR(Str(m, key, &s));
      auto pm = ParseMatcher(s);
      if (!pm.ok()) return Err(m, key, pm.status().message());
      out->push_back(std::move(pm).value());
      text->push_back(s);
    }
    return Status::Ok();
  }
  template <typename F>
  Status Map(const YAML::Node& n, const std::string& path, F&& f) const {
    if (!n.IsMap()) return Err(n, path, "must be a mapping");
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return Err(it->first, path, "keys must be strings");
      std::string k = it->first.Scalar();
      if (it->second.IsNull()) continue;
      bool known = true;
      KANSOKU_RETURN_IF_ERROR(f(k, it->second, path + "." + k, &known));
      if (!known) return Err(it->first, path + "." + k, "unknown key");
    }
    return Status::Ok();
  }

  Status Route(const YAML::Node& n, const std::string& path, RouteConfig* r) const {
    return Map(n, path,
               [&](const std::string& k, const YAML::Node& v, const std::string& p,
                   bool* known) -> Status {
                 if (k == "receiver") {
                   r->receiver_line = v.Mark().line + 1;
                   r->receiver_col = v.Mark().column + 1;
                   return Str(v, p, &r->receiver);
                 }
                 if (k == "group_by") {
                   if (!v.IsSequence()) return Err(v, p, "must be a list of label names");
                   r->group_by_set = true;
                   for (const auto& x : v) {
                     std::string s;
                     KANSOKU_RETURN_IF_ERROR(Str(x, p, &s));
                     if (s != "..." && !tsdb::IsValidLabelName(s))
                       return Err(x, p, "invalid label name \"" + s + "\"");
                     r->group_by.push_back(s);
                   }
                   return Status::Ok();
                 }
                 if (k == "group_wait") return Dur(v, p, &r->group_wait_ms);
                 if (k == "group_interval") return Dur(v, p, &r->group_interval_ms);
                 if (k == "repeat_interval") return Dur(v, p, &r->repeat_interval_ms);
                 if (k == "matchers") return Matchers(v, p, &r->matchers, &r->matcher_text);
                 if (k == "continue") return Bool(v, p, &r->continue_matching);
                 if (k == "routes") {
                   if (!v.IsSequence()) return Err(v, p, "must be a list of routes");
                   int i = 0;
                   for (const auto& x : v) {
                     RouteConfig child;
                     KANSOKU_RETURN_IF_ERROR(Route(x, p + "[" + std::to_string(i++) + "]", &child));
                     r->routes.push_back(std::move(child));
                   }
                   return Status::Ok();
                 }
                 *known = false;
                 return Status::Ok();
               });
  }

  template <typename T, typename F>
  Status List(const YAML::Node& n, const std::string& path, std::vector<T>* out, F&& each) const {
    if (!n.IsSequence()) return Err(n, path, "must be a list");
    int i = 0;
    for (const auto& x : n) {
      T item;
      std::string p = path + "[" + std::to_string(i++) + "]";
      KANSOKU_RETURN_IF_ERROR(Map(
          x, p, [&](const std::string& k, const YAML::Node& v, const std::string& kp, bool* known) {
            return each(item, k, v, kp, known);
          }));
      out->push_back(std::move(item));
    }
    return Status::Ok();
  }

  Status Receiver(const YAML::Node& n, const std::string& path, ReceiverConfig* r) const {
    KANSOKU_RETURN_IF_ERROR(
        Map(n, path,
            [&](const std::string& k, const YAML::Node& v, const std::string& p,
                bool* known) -> Status {
              if (k == "name") return Str(v, p, &r->name);
              if (k == "webhook_configs") {
                return List(v, p, &r->webhooks,
                            [&](WebhookConfig& w, const std::string& key, const YAML::Node& val,
                                const std::string& kp, bool* kn) -> Status {
                              if (key == "url") return Str(val, kp, &w.url);
                              if (key == "send_resolved") return Bool(val, kp, &w.send_resolved);
                              if (key == "max_alerts") {
                                std::string s;
                                KANSOKU_RETURN_IF_ERROR(Str(val, kp, &s));
                                w.max_alerts = std::strtoull(s.c_str(), nullptr, 10);
                                return Status::Ok();
                              }
                              *kn = false;
                              return Status::Ok();
                            });
              }
              if (k == "slack_configs") {
                return List(v, p, &r->slacks,
                            [&](SlackConfig& s, const std::string& key, const YAML::Node& val,
                                const std::string& kp, bool* kn) -> Status {
                              if (key == "api_url") return Str(val, kp, &s.api_url);
                              if (key == "channel") return Str(val, kp, &s.channel);
                              if (key == "username") return Str(val, kp, &s.username);
                              if (key == "send_resolved") return Bool(val, kp, &s.send_resolved);
                              *kn = false;
                              return Status::Ok();
                            });
              }
              if (k == "email_configs") {
                return List(v, p, &r->emails,
                            [&](EmailConfig& e, const std::string& key, const YAML::Node& val,
                                const std::string& kp, bool* kn) -> Status {
                              if (key == "to") return Str(val, kp, &e.to);
                              if (key == "from") return Str(val, kp, &e.from);
                              if (key == "smarthost") return Str(val, kp, &e.smarthost);
                              if (key == "hello") return Str(val, kp, &e.hello);
                              if (key == "auth_username") return Str(val, kp, &e.auth_username);
                              if (key == "auth_password") return Str(val, kp, &e.auth_password);
                              if (key == "require_tls") return Bool(val, kp, &e.require_tls);
                              if (key == "tls_insecure_skip_verify")
                                return Bool(val, kp, &e.tls_insecure_skip_verify);
                              if (key == "send_resolved") return Bool(val, kp, &e.send_resolved);
                              *kn = false;
                              return Status::Ok();
                            });
              }
              *known = false;
              return Status::Ok();
            }));
    if (r->name.empty()) return Err(n, path, "receiver name is required");
    for (const auto& w : r->webhooks)
      if (w.url.empty()) return Err(n, path, "webhook_configs: url is required");
    for (const auto& s : r->slacks)
      if (s.api_url.empty()) return Err(n, path, "slack_configs: api_url is required");
    for (const auto& e : r->emails) {
      if (e.to.empty() || e.from.empty() || e.smarthost.empty()) {
        return Err(n, path, "email_configs: to, from and smarthost are required");
      }
    }
    return Status::Ok();
  }

  static int Weekday(const std::string& s) {
    static const char* kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                  "thursday", "friday", "saturday"};
    std::string l = ToLower(s);
    for (int i = 0; i < 7; ++i) {
      if (l == kDays[i] || l == std::string(kDays[i]).substr(0, 3)) return i;
    }
    return -1;
  }
  static int Minutes(const std::string& s) {
    int h, m;
    char extra;
    if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2) return -1;
    if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
  }

  Status Window(const YAML::Node& n, const std::string& path, MaintenanceWindow* w) const {
    KANSOKU_RETURN_IF_ERROR(Map(
        n, path,
        [&](const std::string& k, const YAML::Node& v, const std::string& p,
            bool* known) -> Status {
          if (k == "name") return Str(v, p, &w->name);
          if (k == "matchers") return Matchers(v, p, &w->matchers, &w->matcher_text);
          if (k == "weekdays") {
            if (!v.IsSequence()) return Err(v, p, "must be a list like [saturday, sunday]");
            for (const auto& x : v) {
              std::string s;
              KANSOKU_RETURN_IF_ERROR(Str(x, p, &s));
              // "monday:friday" ranges as in Alertmanager's time_intervals.
              auto colon = s.find(':');
              int a = Weekday(s.substr(0, colon));
              int b = colon == std::string::npos ? a : Weekday(s.substr(colon + 1));
              if (a < 0 || b < 0) return Err(x, p, "unknown weekday \"" + s + "\"");
              for (int d = a;; d = (d + 1) % 7) {
                w->weekdays.push_back(d);
                if (d == b) break;
              }
            }
            return Status::Ok();
          }
          if (k == "days_of_month") {
            if (!v.IsSequence()) return Err(v, p, "must be a list of day numbers 1-31");
            for (const auto& x : v) {
              std::string s;
              KANSOKU_RETURN_IF_ERROR(Str(x, p, &s));
              int d = std::atoi(s.c_str());
              if (d < 1 || d > 31) return Err(x, p, "day of month must be 1-31, got \"" + s + "\"");
              w->days_of_month.push_back(d);
            }
            return Status::Ok();
          }
          if (k == "times") {
            if (!v.IsSequence()) return Err(v, p, "must be a list of {start_time, end_time}");
            for (const auto& x : v) {
              std::string s, e;
              if (!x.IsMap() || !x["start_time"] || !x["end_time"]) {
                return Err(x, p, "each entry needs start_time and end_time (\"HH:MM\")");
              }
              KANSOKU_RETURN_IF_ERROR(Str(x["start_time"], p + ".start_time", &s));
              KANSOKU_RETURN_IF_ERROR(Str(x["end_time"], p + ".end_time", &e));
              int a = Minutes(s), b = Minutes(e);
              if (a < 0 || b < 0)
                return Err(x, p, "times must be HH:MM, got \"" + s + "\"-\"" + e + "\"");
              w->times.emplace_back(a, b);
            }
            return Status::Ok();
          }
          if (k == "location") {
            std::string s;
            KANSOKU_RETURN_IF_ERROR(Str(v, p, &s));
            if (s == "UTC" || s == "Z") {
              w->offset_minutes = 0;
              return Status::Ok();
            }
            int h, m;
            if ((s[0] == '+' || s[0] == '-') && std::sscanf(s.c_str() + 1, "%d:%d", &h, &m) == 2) {
              w->offset_minutes = (h * 60 + m) * (s[0] == '-' ? -1 : 1);
              return Status::Ok();
            }
            if (s == "Asia/Tokyo") {  // the one named zone teams here use; fixed +09:00, no DST
              w->offset_minutes = 540;
              return Status::Ok();
            }
            return Err(v, p, "location must be UTC or a fixed offset like +09:00");
          }
          *known = false;
          return Status::Ok();
        }));
    if (w->name.empty()) return Err(n, path, "name is required");
    return Status::Ok();
  }

 private:
  std::string name_;
};

}  // namespace

Result<NotifyConfig> ParseNotifyConfig(const std::string& yaml_text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  NotifyConfig c;
  if (!root || root.IsNull()) return c;
  P p(name);
  try {
    KANSOKU_RETURN_IF_ERROR(p.Map(
        root, "(top)",
        [&](const std::string& k, const YAML::Node& v, const std::string& path,
            bool* known) -> Status {
          if (k == "route") return p.Route(v, "route", &c.route);
          if (k == "receivers") {
            if (!v.IsSequence()) return p.Err(v, "receivers", "must be a list");
            int i = 0;
            for (const auto& x : v) {
              ReceiverConfig r;
              KANSOKU_RETURN_IF_ERROR(p.Receiver(x, "receivers[" + std::to_string(i++) + "]", &r));
              c.receivers.push_back(std::move(r));
            }
            return Status::Ok();
          }
          if (k == "maintenance_windows") {
            if (!v.IsSequence()) return p.Err(v, "maintenance_windows", "must be a list");
            int i = 0;
            for (const auto& x : v) {
              MaintenanceWindow w;
              KANSOKU_RETURN_IF_ERROR(
                  p.Window(x, "maintenance_windows[" + std::to_string(i++) + "]", &w));
              c.maintenance_windows.push_back(std::move(w));
            }
            return Status::Ok();
          }
          if (k == "attempt_timeout") return p.Dur(v, path, &c.attempt_timeout_ms);
          *known = false;
          return Status::Ok();
        }));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  // Root defaults and receiver references.
  if (c.route.group_wait_ms < 0) c.route.group_wait_ms = 30000;
  if (c.route.group_interval_ms < 0) c.route.group_interval_ms = 300000;
  if (c.route.repeat_interval_ms < 0) c.route.repeat_interval_ms = 4 * 3600000;
  std::set<std::string> names;
  for (const auto& r : c.receivers) {
    if (!names.insert(r.name).second) {
      return Status::InvalidArgument(name + ": receivers: duplicate receiver name \"" + r.name +
                                     "\"");
    }
  }
  if (!c.receivers.empty() && c.route.receiver.empty()) {
    return Status::InvalidArgument(name + ": route.receiver: the root route needs a receiver");
  }
  std::function<Status(const RouteConfig&, const std::string&)> check =
      [&](const RouteConfig& r, const std::string& path) -> Status {
    if (!r.receiver.empty() && !names.count(r.receiver)) {
      std::string at = r.receiver_line ? ":" + std::to_string(r.receiver_line) + ":" +
                                             std::to_string(r.receiver_col)
                                       : "";
      return Status::InvalidArgument(name + at + ": " + path + ".receiver: undefined receiver \"" +
                                     r.receiver + "\"");
    }
    for (size_t i = 0; i < r.routes.size(); ++i) {
      KANSOKU_RETURN_IF_ERROR(check(r.routes[i], path + ".routes[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  };
  KANSOKU_RETURN_IF_ERROR(check(c.route, "route"));
  return c;
}

Result<NotifyConfig> LoadNotifyConfig(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::FromErrno("cannot read notifications file " + path, errno);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseNotifyConfig(ss.str(), path);
}

}  // namespace kansoku::alert
