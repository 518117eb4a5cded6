#include "api/usage_api.h"

#include <cstdlib>
#include <map>
#include <string>

#include "base/metrics.h"
#include "net/http.h"
#include "net/http_server.h"
#include "usage/guard.h"

namespace kansoku::api {
namespace {

std::string Num(double v) { return metrics::FormatValue(v); }

std::string LimitsJson(const usage::TenantLimits& l) {
  return "{\"max_active_series\":" + std::to_string(l.max_active_series) +
         ",\"max_new_series_per_hour\":" + std::to_string(l.max_new_series_per_hour) +
         ",\"max_series_per_metric\":" + std::to_string(l.max_series_per_metric) +
         ",\"max_label_values_per_name\":" + std::to_string(l.max_label_values_per_name) +
         ",\"max_samples_per_second\":" + Num(l.max_samples_per_second) +
         ",\"max_events_per_minute\":" + Num(l.max_events_per_minute) +
         ",\"max_log_bytes_per_second\":" + Num(l.max_log_bytes_per_second) + "}";
}

std::string CountsJson(const std::vector<usage::NamedCount>& v) {
  std::string j = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    j += (i ? ",{\"name\":" : "{\"name\":") + net::JsonString(v[i].name) +
         ",\"count\":" + std::to_string(v[i].count) + "}";
  }
  return j + "]";
}

std::string SourceJson(const usage::SourceInfo& s) {
  std::string j = "{\"kind\":" + net::JsonString(s.kind) + ",\"name\":" + net::JsonString(s.name);
  if (!s.detail.empty()) j += ",\"detail\":" + net::JsonString(s.detail);
  if (!s.status.empty()) j += ",\"status\":" + net::JsonString(s.status);
  if (s.events_total != 0) {
    j += ",\"events_total\":" + std::to_string(s.events_total) +
         ",\"events_per_minute\":" + Num(s.events_per_minute);
  }
  if (s.log_bytes_total != 0) {
    j += ",\"log_bytes_total\":" + std::to_string(s.log_bytes_total) +
         ",\"log_bytes_per_second\":" + Num(s.log_bytes_per_second);
  }
  j += ",\"first_seen_ms\":" + std::to_string(s.first_seen_ms) +
       ",\"last_seen_ms\":" + std::to_string(s.last_seen_ms) +
       ",\"active_series\":" + std::to_string(s.active_series) +
       ",\"samples_per_second\":" + Num(s.samples_per_second) + "}";
  return j;
}

size_t SizeParam(const net::Request& req, const char* key, size_t def) {
  std::string v;
  if (!req.QueryParam(key, &v) || v.empty()) return def;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  return *end == '\0' ? static_cast<size_t>(n) : def;
}

}  // namespace

void RegisterUsageApi(net::HttpServer& http, usage::Guard* guard) {
  auto add = [&](std::string path, net::Handler h) {
    net::Route r;
    r.method = "GET";
    r.path = std::move(path);
    r.scope = net::kScopeRead;
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  add("/api/v1/usage", [guard](net::Request&, net::Response& resp) {
    std::string j = "{\"status\":\"success\",\"data\":{\"tenants\":[";
    uint64_t total = 0;
    bool first = true;
    for (const auto& t : guard->Tenants()) {
      total += t.active_series;
      j += first ? "" : ",";
      first = false;
      j += "{\"name\":" + net::JsonString(t.name) +
           ",\"active_series\":" + std::to_string(t.active_series) +
           ",\"new_series_last_hour\":" + std::to_string(t.new_series_last_hour) +
           ",\"samples_per_second\":" + Num(t.samples_per_second) +
           ",\"samples_total\":" + std::to_string(t.samples_total) +
           ",\"events_total\":" + std::to_string(t.events_total) +
           ",\"events_per_minute\":" + Num(t.events_per_minute) +
           ",\"log_bytes_total\":" + std::to_string(t.log_bytes_total) +
           ",\"log_bytes_per_second\":" + Num(t.log_bytes_per_second) +
           ",\"limits\":" + LimitsJson(t.limits) + ",\"refusals\":{";
      bool rf = true;
      for (const auto& [limit, n] : t.refusals) {
        j += (rf ? "" : ",") + net::JsonString(limit) + ":" + std::to_string(n);
        rf = false;
      }
      j += "}}";
    }
    std::map<std::string, uint64_t> kinds;
    for (const auto& s : guard->Sources()) ++kinds[s.kind];
    j += "],\"active_series\":" + std::to_string(total) + ",\"sources\":{";
    first = true;
    for (const auto& [k, n] : kinds) {
      j += (first ? "" : ",") + net::JsonString(k) + ":" + std::to_string(n);
      first = false;
    }
    j += "}}}";
    resp.Json(200, std::move(j));
  });
  add("/api/v1/usage/cardinality", [guard](net::Request& req, net::Response& resp) {
    std::string tenant;
    req.QueryParam("tenant", &tenant);
    size_t top = SizeParam(req, "top", 10);
    auto c = guard->Cardinality(tenant, top);
    std::string j = "{\"status\":\"success\",\"data\":{\"tenant\":" + net::JsonString(c.tenant) +
                    ",\"active_series\":" + std::to_string(c.active_series) +
                    ",\"top_metrics\":" + CountsJson(c.top_metrics) +
                    ",\"top_labels\":" + CountsJson(c.top_labels) +
                    ",\"biggest_label\":" + net::JsonString(c.biggest_label) +
                    ",\"biggest_label_recent_values\":[";
    for (size_t i = 0; i < c.biggest_label_values.size(); ++i) {
      j += (i ? "," : "") + net::JsonString(c.biggest_label_values[i].name);
    }
    j += "],\"top_sources\":[";
    auto sources = guard->Sources({}, top);
    for (size_t i = 0; i < sources.size(); ++i) j += (i ? "," : "") + SourceJson(sources[i]);
    j += "]}}";
    resp.Json(200, std::move(j));
  });
  add("/api/v1/usage/sources", [guard](net::Request& req, net::Response& resp) {
    std::string kind;
    req.QueryParam("kind", &kind);
    auto sources = guard->Sources(kind, SizeParam(req, "limit", 1000));
    std::string j = "{\"status\":\"success\",\"data\":[";
    for (size_t i = 0; i < sources.size(); ++i) j += (i ? "," : "") + SourceJson(sources[i]);
    j += "]}";
    resp.Json(200, std::move(j));
  });
}

}  // namespace kansoku::api
