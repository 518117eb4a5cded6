#include "api/hosts_api.h"

#include <simdjson.h>

#include <cmath>

#include "base/log.h"
#include "meta/host_store.h"
#include "net/http.h"
#include "net/http_server.h"

namespace kansoku::api {
namespace {

using net::Request;
using net::Response;

void StatusError(Response& resp, const Status& st) {
  switch (st.code()) {
    case Status::Code::kNotFound:
      return resp.Error(404, st.message());
    case Status::Code::kPermissionDenied:
      return resp.Error(410, st.message());
    case Status::Code::kInvalidArgument:
      return resp.Error(400, st.message());
    default:
      return resp.Error(500, st.message());
  }
}

// Re-serializes a JSON object (so what is stored is always valid, minified JSON).
bool MinifyObject(simdjson::dom::element e, std::string* out) {
  if (!e.is_object()) return false;
  *out = simdjson::minify(e);
  return true;
}

void HandleRegister(meta::HostStore* hosts, Request& req, Response& resp) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(req.body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return resp.Error(400,
                      "cannot parse request body: expected a JSON object such as "
                      "{\"name\":\"web-1\",\"service\":\"shop\",\"roles\":[\"web\"]}");
  }
  meta::HostRegistration r;
  std::string_view s;
  if (doc["name"].get_string().get(s) != simdjson::SUCCESS || s.empty()) {
    return resp.Error(400, "field \"name\": a non-empty string is required");
  }
  r.name = std::string(s);
  if (doc["id"].get_string().get(s) == simdjson::SUCCESS) r.id = std::string(s);
  if (doc["service"].get_string().get(s) == simdjson::SUCCESS) r.service = std::string(s);
  if (doc["status"].get_string().get(s) == simdjson::SUCCESS) r.status = std::string(s);
  simdjson::dom::array roles;
  if (doc["roles"].get_array().get(roles) == simdjson::SUCCESS) {
    for (auto v : roles) {
      if (v.get_string().get(s) != simdjson::SUCCESS) {
        return resp.Error(400, "field \"roles\": every entry must be a string");
      }
      r.roles.emplace_back(s);
    }
  }
  double interval = 0;
  if (doc["interval_seconds"].get_double().get(interval) == simdjson::SUCCESS) {
    if (!(interval >= 1 && interval <= 86400)) {
      return resp.Error(400, "field \"interval_seconds\": must be between 1 and 86400");
    }
    r.interval_ms = static_cast<int64_t>(std::llround(interval * 1000));
  }
  int64_t after = 0;
  if (doc["unreachable_after"].get_int64().get(after) == simdjson::SUCCESS) {
    if (after < 0 || after > 10000) {
      return resp.Error(
          400, "field \"unreachable_after\": missed intervals, 0 (server default) to 10000");
    }
    r.unreachable_after = static_cast<int>(after);
  }
  simdjson::dom::element meta;
  if (doc["meta"].get(meta) == simdjson::SUCCESS && !MinifyObject(meta, &r.meta_json)) {
    return resp.Error(400, "field \"meta\": must be a JSON object");
  }
  auto h = hosts->Register(r);
  if (!h.ok()) return StatusError(resp, h.status());
  if (r.id.empty()) {
    log::Info("host registered", {{"id", h->id}, {"name", h->name}, {"service", h->service}});
  }
  resp.Json(200, "{\"status\":\"success\",\"data\":" + HostJson(*h) + "}");
}

void HandleHostPost(meta::HostStore* hosts, Request& req, Response& resp) {
  // /api/v1/hosts/<id>/<action>
  std::string rest = req.path.substr(std::string("/api/v1/hosts/").size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) {
    return resp.Error(404, "expected /api/v1/hosts/<id>/heartbeat|status|retire");
  }
  std::string id = rest.substr(0, slash), action = rest.substr(slash + 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool have_doc =
      !req.body.empty() && parser.parse(req.body).get(doc) == simdjson::SUCCESS && doc.is_object();
  if (!req.body.empty() && !have_doc) {
    return resp.Error(400, "cannot parse request body: expected a JSON object");
  }
  Status st;
  if (action == "heartbeat") {
    std::string metrics;
    simdjson::dom::element m;
    if (have_doc && doc["metrics"].get(m) == simdjson::SUCCESS && !MinifyObject(m, &metrics)) {
      return resp.Error(400, "field \"metrics\": must be a JSON object");
    }
    st = hosts->Heartbeat(id, metrics);
  } else if (action == "status") {
    std::string_view s;
    if (!have_doc || doc["status"].get_string().get(s) != simdjson::SUCCESS) {
      return resp.Error(400, "field \"status\": one of working, standby, maintenance, poweroff");
    }
    st = hosts->SetStatus(id, std::string(s));
    if (st.ok()) log::Info("host status changed", {{"id", id}, {"status", s}});
  } else if (action == "checks") {
    simdjson::dom::array arr;
    if (!have_doc || doc["checks"].get_array().get(arr) != simdjson::SUCCESS) {
      return resp.Error(400, "field \"checks\": a list of {name, status, message} is required");
    }
    std::vector<meta::HostCheck> checks;
    for (auto e : arr) {
      meta::HostCheck c;
      std::string_view v;
      if (e["name"].get_string().get(v) != simdjson::SUCCESS) {
        return resp.Error(400, "field \"checks[].name\": a string is required");
      }
      c.name = std::string(v);
      if (e["status"].get_string().get(v) != simdjson::SUCCESS) {
        return resp.Error(400, "field \"checks[].status\": OK, WARNING, CRITICAL or UNKNOWN");
      }
      c.status = std::string(v);
      if (e["message"].get_string().get(v) == simdjson::SUCCESS) {
        c.message = std::string(v.substr(0, 1024));
      }
      int64_t at = 0;
      if (e["occurred_at_ms"].get_int64().get(at) == simdjson::SUCCESS) c.occurred_at_ms = at;
      checks.push_back(std::move(c));
    }
    st = hosts->ReportChecks(id, checks);
  } else if (action == "retire") {
    st = hosts->Retire(id);
    if (st.ok()) log::Info("host retired", {{"id", id}, {"by", req.principal.token_name}});
  } else {
    return resp.Error(404, "unknown action \"" + action + "\" (heartbeat, status, checks, retire)");
  }
  if (!st.ok()) return StatusError(resp, st);
  auto h = hosts->Get(id);
  if (!h.ok()) return StatusError(resp, h.status());
  resp.Json(200, "{\"status\":\"success\",\"data\":" + HostJson(*h) + "}");
}

}  // namespace

std::string HostJson(const meta::HostInfo& h) {
  using net::JsonString;
  std::string j = "{\"id\":" + JsonString(h.id) + ",\"name\":" + JsonString(h.name) +
                  ",\"service\":" + JsonString(h.service) + ",\"roles\":[";
  for (size_t i = 0; i < h.roles.size(); ++i) j += (i ? "," : "") + JsonString(h.roles[i]);
  j += "],\"status\":" + JsonString(h.status);
  j += ",\"unreachable\":" + std::string(h.unreachable ? "true" : "false");
  j += ",\"retired\":" + std::string(h.retired() ? "true" : "false");
  if (h.retired()) j += ",\"retired_at_ms\":" + std::to_string(h.retired_at_ms);
  j += ",\"registered_at_ms\":" + std::to_string(h.registered_at_ms);
  j += ",\"last_heartbeat_ms\":" + std::to_string(h.last_heartbeat_ms);
  j += ",\"interval_seconds\":" + std::to_string(h.interval_ms / 1000.0);
  j += ",\"unreachable_after\":" + std::to_string(h.unreachable_after_effective);
  j += ",\"meta\":" + (h.meta_json.empty() ? std::string("{}") : h.meta_json);
  j += ",\"metrics\":" + (h.metrics_json.empty() ? std::string("{}") : h.metrics_json);
  j += ",\"checks\":[";
  for (size_t i = 0; i < h.checks.size(); ++i) {
    const auto& c = h.checks[i];
    j += (i ? "," : "") + std::string("{\"name\":") + JsonString(c.name) +
         ",\"status\":" + JsonString(c.status) + ",\"message\":" + JsonString(c.message) +
         ",\"occurred_at_ms\":" + std::to_string(c.occurred_at_ms) + "}";
  }
  j += "]}";
  return j;
}

void RegisterHostsApi(net::HttpServer& http, meta::HostStore* hosts) {
  auto add = [&](std::string method, std::string path, bool prefix, net::Scope scope,
                 net::Handler h) {
    net::Route r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.prefix = prefix;
    r.scope = scope;
    r.max_body_bytes = 256 << 10;
    r.max_decoded_body_bytes = 1 << 20;
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  add("POST", "/api/v1/hosts", false, net::kScopeIngest,
      [hosts](Request& req, Response& resp) { HandleRegister(hosts, req, resp); });
  add("POST", "/api/v1/hosts/", true, net::kScopeIngest,
      [hosts](Request& req, Response& resp) { HandleHostPost(hosts, req, resp); });
  add("GET", "/api/v1/hosts", false, net::kScopeRead, [hosts](Request& req, Response& resp) {
    meta::HostFilter f;
    std::string v;
    if (req.QueryParam("service", &v)) f.service = v;
    if (req.QueryParam("role", &v)) f.role = v;
    if (req.QueryParam("status", &v)) f.status = v;
    if (req.QueryParam("all", &v)) f.include_retired = v.empty() || v == "1" || v == "true";
    if (!f.status.empty() && !meta::IsValidHostStatus(f.status) && f.status != "unreachable" &&
        f.status != "retired") {
      return resp.Error(400,
                        "parameter \"status\": one of working, standby, maintenance, "
                        "poweroff, unreachable, retired");
    }
    std::string j = "{\"status\":\"success\",\"data\":[";
    bool first = true;
    for (const auto& h : hosts->List(f)) {
      j += (first ? "" : ",") + HostJson(h);
      first = false;
    }
    j += "]}";
    resp.Json(200, std::move(j));
  });
  add("GET", "/api/v1/hosts/", true, net::kScopeRead, [hosts](Request& req, Response& resp) {
    std::string id = req.path.substr(std::string("/api/v1/hosts/").size());
    auto h = hosts->Get(id);
    if (!h.ok()) return StatusError(resp, h.status());
    resp.Json(200, "{\"status\":\"success\",\"data\":" + HostJson(*h) + "}");
  });
}

}  // namespace kansoku::api
