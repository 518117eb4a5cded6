#include "api/alert_api.h"

#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "alert/dispatcher.h"
#include "alert/manager.h"
#include "alert/rule_file.h"
#include "alert/silences.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/http.h"
#include "net/http_server.h"

namespace kansoku::api {

std::string FormatFloatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  // C++ prints e+06 / e-05 already with two digits; e+100 keeps three, as Go does.
  return s;
}

namespace {

using alert::AlertState;

void Labels(std::string& j, const tsdb::Labels& ls) {
  j += '{';
  bool first = true;
  for (const auto& l : ls) {
    if (!first) j += ',';
    first = false;
    j += net::JsonString(l.name) + ":" + net::JsonString(l.value);
  }
  j += '}';
}

void KV(std::string& j, const std::vector<std::pair<std::string, std::string>>& kv) {
  j += '{';
  bool first = true;
  for (const auto& [k, v] : kv) {
    if (!first) j += ',';
    first = false;
    j += net::JsonString(k) + ":" + net::JsonString(v);
  }
  j += '}';
}

void Map(std::string& j, const alert::Annotations& m) { KV(j, {m.begin(), m.end()}); }

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void AlertJson(std::string& j, const alert::ActiveAlert& a) {
  j += "{\"labels\":";
  Labels(j, a.labels);
  j += ",\"annotations\":";
  Map(j, a.annotations);
  j += ",\"state\":\"" + std::string(alert::AlertStateName(a.state)) + "\"";
  j += ",\"activeAt\":\"" + alert::FormatRfc3339(a.active_at_ms) + "\"";
  if (a.keep_firing_since_ms) {
    j += ",\"keepFiringSince\":\"" + alert::FormatRfc3339(a.keep_firing_since_ms) + "\"";
  }
  if (a.flapping) j += ",\"flapping\":true";
  j += ",\"value\":\"" + FormatFloatE(a.value) + "\"}";
}

void Success(net::Response& resp, const std::string& data, int code = 200) {
  resp.Json(code, "{\"status\":\"success\",\"data\":" + data + "}");
}

void ApiErr(net::Response& resp, int code, std::string_view type, std::string_view msg) {
  resp.Json(code, "{\"status\":\"error\",\"errorType\":\"" + std::string(type) +
                      "\",\"error\":" + net::JsonString(msg) + "}");
}

std::string SilenceJson(const alert::Silence& s, int64_t now) {
  std::string j = "{\"id\":" + net::JsonString(s.id) + ",\"matchers\":[";
  for (size_t i = 0; i < s.matchers.size(); ++i) {
    if (i) j += ',';
    j += net::JsonString(s.matchers[i]);
  }
  j += "],\"startsAt\":\"" + alert::FormatRfc3339(s.starts_at_ms) + "\",\"endsAt\":\"" +
       alert::FormatRfc3339(s.ends_at_ms) + "\",\"updatedAt\":\"" +
       alert::FormatRfc3339(s.updated_at_ms) + "\",\"createdBy\":" + net::JsonString(s.created_by) +
       ",\"comment\":" + net::JsonString(s.comment) + ",\"status\":{\"state\":\"" + s.StateAt(now) +
       "\"}}";
  return j;
}

bool ValidFileName(const std::string& n) {
  if (n.empty() || n.size() > 100 || n[0] == '.') return false;
  if (n.size() < 5 || n.substr(n.size() - 4) != ".yml") return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

}  // namespace

void RegisterAlertApi(net::HttpServer& http, const AlertApiOptions& o) {
  auto add = [&](std::string method, std::string path, net::Scope scope, bool prefix,
                 net::Handler h) {
    net::Route r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.scope = scope;
    r.prefix = prefix;
    r.offload = true;
    r.max_body_bytes = 4 << 20;
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  alert::RuleManager* rules = o.rules;
  alert::Dispatcher* disp = o.dispatcher;
  alert::Silences* sil = o.silences;
  auto reload = o.reload;
  std::string dir = o.rules_dir;

  auto rules_handler = [rules](net::Request& req, net::Response& resp) {
    std::string type;
    req.FormParam("type", &type);
    if (!type.empty() && type != "alert" && type != "record") {
      return ApiErr(resp, 400, "bad_data", "type must be alert or record, got \"" + type + "\"");
    }
    auto names = req.FormParams("rule_name[]");
    auto gnames = req.FormParams("rule_group[]");
    auto files = req.FormParams("file[]");
    std::set<std::string> ns(names.begin(), names.end()), gs(gnames.begin(), gnames.end()),
        fs(files.begin(), files.end());
    std::string j = "{\"groups\":[";
    bool first_g = true;
    for (const auto& g : rules->Groups()) {
      if (!gs.empty() && !gs.count(g.name)) continue;
      if (!fs.empty() && !fs.count(g.file)) continue;
      std::string rj;
      bool first_r = true;
      for (const auto& r : g.rules) {
        if ((type == "alert" && !r.alerting) || (type == "record" && r.alerting)) continue;
        if (!ns.empty() && !ns.count(r.name)) continue;
        if (!first_r) rj += ',';
        first_r = false;
        rj += "{";
        if (r.alerting) {
          AlertState st = AlertState::kInactive;
          for (const auto& a : r.alerts) {
            if (a.state == AlertState::kFiring ||
                (a.state == AlertState::kPending && st == AlertState::kInactive)) {
              st = a.state;
            }
          }
          rj += "\"state\":\"" + std::string(alert::AlertStateName(st)) + "\",";
        }
        rj += "\"name\":" + net::JsonString(r.name) + ",\"query\":" + net::JsonString(r.query);
        if (r.alerting) {
          rj += ",\"duration\":" + Num(r.for_ms / 1000.0) +
                ",\"keepFiringFor\":" + Num(r.keep_firing_for_ms / 1000.0);
        }
        rj += ",\"labels\":";
        KV(rj, r.labels);
        if (r.alerting) {
          rj += ",\"annotations\":";
          Map(rj, r.annotations);
          rj += ",\"alerts\":[";
          for (size_t i = 0; i < r.alerts.size(); ++i) {
            if (i) rj += ',';
            AlertJson(rj, r.alerts[i]);
          }
          rj += "]";
        }
        rj += ",\"health\":\"" + r.health + "\"";
        if (!r.last_error.empty()) rj += ",\"lastError\":" + net::JsonString(r.last_error);
        rj += ",\"evaluationTime\":" + Num(r.eval_seconds) + ",\"lastEvaluation\":\"" +
              alert::FormatRfc3339(r.last_eval_ms) + "\",\"type\":\"" +
              (r.alerting ? "alerting" : "recording") + "\"}";
      }
      if (first_r && (!type.empty() || !ns.empty())) continue;  // Prometheus drops empty groups
      if (!first_g) j += ',';
      first_g = false;
      j += "{\"name\":" + net::JsonString(g.name) + ",\"file\":" + net::JsonString(g.file) +
           ",\"rules\":[" + rj + "],\"interval\":" + Num(g.interval_ms / 1000.0) +
           ",\"limit\":" + std::to_string(g.limit) + ",\"evaluationTime\":" + Num(g.eval_seconds) +
           ",\"lastEvaluation\":\"" + alert::FormatRfc3339(g.last_eval_ms) + "\"}";
    }
    j += "]}";
    Success(resp, j);
  };
  add("GET", "/api/v1/rules", net::kScopeRead, false, rules_handler);
  add("POST", "/api/v1/rules", net::kScopeRead, false, rules_handler);

  add("GET", "/api/v1/alerts", net::kScopeRead, false, [rules](net::Request&, net::Response& resp) {
    std::string j = "{\"alerts\":[";
    bool first = true;
    for (const auto& a : rules->Alerts()) {
      if (!first) j += ',';
      first = false;
      AlertJson(j, a.alert);
    }
    j += "]}";
    Success(resp, j);
  });

  auto reload_handler = [reload](net::Request& req, net::Response& resp) {
    Status st = reload();
    if (!st.ok()) return ApiErr(resp, 400, "bad_data", st.message());
    log::Info("rules reloaded over the API", {{"by", req.principal.token_name}});
    Success(resp, "{\"reloaded\":true}");
  };
  add("POST", "/-/reload", net::kScopeAdmin, false, reload_handler);
  add("POST", "/api/v1/rules/reload", net::kScopeAdmin, false, reload_handler);

  // API-managed rule files.
  const std::string files_prefix = "/api/v1/rules/files/";
  add("GET", "/api/v1/rules/files", net::kScopeRead, false,
      [dir](net::Request&, net::Response& resp) {
        auto paths = alert::ExpandRuleGlobs({dir + "/*.yml"});
        std::string j = "[";
        if (paths.ok()) {
          for (size_t i = 0; i < paths->size(); ++i) {
            if (i) j += ',';
            j += net::JsonString((*paths)[i].substr(dir.size() + 1));
          }
        }
        Success(resp, j + "]");
      });
  add("GET", files_prefix, net::kScopeRead, true,
      [dir, files_prefix](net::Request& req, net::Response& resp) {
        std::string name = req.path.substr(files_prefix.size());
        if (!ValidFileName(name))
          return ApiErr(resp, 400, "bad_data", "file name must look like name.yml");
        std::ifstream f(dir + "/" + name, std::ios::binary);
        if (!f) return ApiErr(resp, 404, "not_found", "rule file " + name + " not found");
        std::string body((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        resp.status = 200;
        resp.content_type = "application/yaml";
        resp.body = std::move(body);
      });
  add("PUT", files_prefix, net::kScopeAdmin, true,
      [dir, files_prefix, reload](net::Request& req, net::Response& resp) {
        std::string name = req.path.substr(files_prefix.size());
        if (!ValidFileName(name)) {
          return ApiErr(resp, 400, "bad_data",
                        "file name must be letters, digits, - _ . and end in .yml");
        }
        std::string path = dir + "/" + name;
        auto parsed = alert::ParseRuleFile(req.body, path);
        if (!parsed.ok()) return ApiErr(resp, 400, "bad_data", parsed.status().message());
        std::string old;
        bool had_old = false;
        {
          std::ifstream f(path, std::ios::binary);
          if (f) {
            had_old = true;
            old.assign((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
          }
        }
        std::string tmp = path + ".tmp";
        {
          std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
          f << req.body;
          f.close();
          if (!f || ::rename(tmp.c_str(), path.c_str()) != 0) {
            return ApiErr(resp, 500, "internal", "cannot write " + path);
          }
        }
        Status st = reload();
        if (!st.ok()) {
          // Another file broke the reload (or a name clash): put the old content back.
          if (had_old) {
            std::ofstream(path, std::ios::binary | std::ios::trunc) << old;
          } else {
            ::unlink(path.c_str());
          }
          return ApiErr(resp, 400, "bad_data", st.message());
        }
        log::Info("rule file written over the API",
                  {{"file", name}, {"by", req.principal.token_name}});
        Success(resp, "{\"file\":" + net::JsonString(name) +
                          ",\"groups\":" + std::to_string(parsed->groups.size()) + "}");
      });
  add("DELETE", files_prefix, net::kScopeAdmin, true,
      [dir, files_prefix, reload](net::Request& req, net::Response& resp) {
        std::string name = req.path.substr(files_prefix.size());
        if (!ValidFileName(name))
          return ApiErr(resp, 400, "bad_data", "file name must look like name.yml");
        if (::unlink((dir + "/" + name).c_str()) != 0) {
          return ApiErr(resp, 404, "not_found", "rule file " + name + " not found");
        }
        Status st = reload();
        if (!st.ok()) return ApiErr(resp, 400, "bad_data", st.message());
        Success(resp, "{\"deleted\":" + net::JsonString(name) + "}");
      });

  // Silences.
  add("GET", "/api/v1/silences", net::kScopeRead, false, [sil](net::Request&, net::Response& resp) {
    int64_t now = Clock::Real().NowMs();
    std::string j = "[";
    bool first = true;
    for (const auto& s : sil->List()) {
      if (!first) j += ',';
      first = false;
      j += SilenceJson(s, now);
    }
    Success(resp, j + "]");
  });
  add("POST", "/api/v1/silences", net::kScopeAdmin, false,
      [sil](net::Request& req, net::Response& resp) {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        if (parser.parse(req.body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
          return ApiErr(
              resp, 400, "bad_data",
              "cannot parse body: expected JSON like {\"matchers\":[\"instance=\\\"a\\\"\"],"
              "\"endsAt\":\"2026-11-26T10:00:00Z\",\"createdBy\":\"me\",\"comment\":\"why\"}");
        }
        alert::Silence s;
        std::string_view sv;
        if (doc["id"].get_string().get(sv) == simdjson::SUCCESS) s.id = std::string(sv);
        simdjson::dom::array ms;
        if (doc["matchers"].get_array().get(ms) != simdjson::SUCCESS) {
          return ApiErr(resp, 400, "bad_data", "field \"matchers\": a list is required");
        }
        for (auto m : ms) {
          if (m.get_string().get(sv) == simdjson::SUCCESS) {
            s.matchers.emplace_back(sv);
            continue;
          }
          // Alertmanager's form: {"name","value","isRegex","isEqual"}.
          std::string_view name, value;
          bool is_regex = false, is_equal = true;
          if (m["name"].get_string().get(name) != simdjson::SUCCESS ||
              m["value"].get_string().get(value) != simdjson::SUCCESS) {
            return ApiErr(resp, 400, "bad_data",
                          "field \"matchers\": each entry is a string like name=\"v\" or "
                          "{\"name\":..,\"value\":..,\"isRegex\":false}");
          }
          if (m["isRegex"].get_bool().get(is_regex) != simdjson::SUCCESS) is_regex = false;
          if (m["isEqual"].get_bool().get(is_equal) != simdjson::SUCCESS) is_equal = true;
          std::string op = is_regex ? (is_equal ? "=~" : "!~") : (is_equal ? "=" : "!=");
          s.matchers.push_back(std::string(name) + op + net::JsonString(value));
        }
        auto time_field = [&](const char* k, int64_t* out) -> Status {
          if (doc[k].get_string().get(sv) != simdjson::SUCCESS) return Status::Ok();
          auto t = alert::ParseRfc3339(sv);
          if (!t.ok())
            return Status::InvalidArgument(std::string("field \"") + k +
                                           "\": " + t.status().message());
          *out = *t;
          return Status::Ok();
        };
        Status st = time_field("startsAt", &s.starts_at_ms);
        if (st.ok()) st = time_field("endsAt", &s.ends_at_ms);
        if (!st.ok()) return ApiErr(resp, 400, "bad_data", st.message());
        if (s.ends_at_ms == 0) {
          std::string_view dur;
          if (doc["duration"].get_string().get(dur) == simdjson::SUCCESS) {
            auto d = ParseDurationMs(dur);
            if (!d.ok())
              return ApiErr(resp, 400, "bad_data", "field \"duration\": " + d.status().message());
            int64_t start = s.starts_at_ms ? s.starts_at_ms : Clock::Real().NowMs();
            s.ends_at_ms = start + *d;
          } else {
            return ApiErr(resp, 400, "bad_data",
                          "field \"endsAt\" (RFC 3339) or \"duration\" is required");
          }
        }
        if (doc["createdBy"].get_string().get(sv) == simdjson::SUCCESS)
          s.created_by = std::string(sv);
        if (s.created_by.empty()) s.created_by = req.principal.token_name;
        if (doc["comment"].get_string().get(sv) == simdjson::SUCCESS) s.comment = std::string(sv);
        auto id = sil->Put(std::move(s));
        if (!id.ok()) {
          int code = id.status().code() == Status::Code::kNotFound          ? 404
                     : id.status().code() == Status::Code::kInvalidArgument ? 400
                                                                            : 500;
          return ApiErr(resp, code, code == 500 ? "internal" : "bad_data", id.status().message());
        }
        log::Info("silence created", {{"id", *id}, {"by", req.principal.token_name}});
        Success(resp, "{\"silenceID\":" + net::JsonString(*id) + "}");
      });
  add("DELETE", "/api/v1/silences/", net::kScopeAdmin, true,
      [sil](net::Request& req, net::Response& resp) {
        std::string id = req.path.substr(std::string("/api/v1/silences/").size());
        Status st = sil->Expire(id);
        if (st.code() == Status::Code::kNotFound)
          return ApiErr(resp, 404, "not_found", st.message());
        if (!st.ok()) return ApiErr(resp, 500, "internal", st.message());
        Success(resp, "{\"expired\":" + net::JsonString(id) + "}");
      });

  // Notification history and receiver health.
  add("GET", "/api/v1/notifications", net::kScopeRead, false,
      [disp](net::Request& req, net::Response& resp) {
        std::string j = "[";
        if (disp) {
          std::string limit_s;
          size_t limit = 100;
          if (req.FormParam("limit", &limit_s)) limit = std::strtoull(limit_s.c_str(), nullptr, 10);
          size_t n = 0;
          for (const auto& h : disp->History()) {
            if (n >= limit) break;
            if (n++) j += ',';
            j += alert::HistoryEntryJson(h);
          }
        }
        Success(resp, j + "]");
      });
  add("GET", "/api/v1/notifications/receivers", net::kScopeRead, false,
      [disp](net::Request&, net::Response& resp) {
        std::string j = "[";
        if (disp) {
          bool first = true;
          for (const auto& h : disp->Health()) {
            if (!first) j += ',';
            first = false;
            j += "{\"receiver\":" + net::JsonString(h.receiver) + ",\"integration\":\"" +
                 h.integration + "\",\"target\":" + net::JsonString(h.target) +
                 ",\"sent\":" + std::to_string(h.sent) + ",\"failed\":" + std::to_string(h.failed) +
                 ",\"dropped\":" + std::to_string(h.dropped) +
                 ",\"queued\":" + std::to_string(h.queued) +
                 ",\"consecutiveFailures\":" + std::to_string(h.consecutive_failures) +
                 ",\"lastSuccess\":\"" + alert::FormatRfc3339(h.last_success_ms) +
                 "\",\"lastFailure\":\"" + alert::FormatRfc3339(h.last_failure_ms) + "\"";
            if (!h.last_error.empty()) j += ",\"lastError\":" + net::JsonString(h.last_error);
            j += "}";
          }
        }
        Success(resp, j + "]");
      });
}

}  // namespace kansoku::api
