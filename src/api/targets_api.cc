#include "api/targets_api.h"

#include <simdjson.h>

#include <cstdio>
#include <ctime>

#include "base/clock.h"
#include "base/log.h"
#include "net/http.h"
#include "net/http_server.h"
#include "scrape/agent_targets.h"
#include "scrape/scraper.h"

namespace kansoku::api {
namespace {

using net::JsonString;
using net::Request;
using net::Response;

std::string Rfc3339(int64_t ms) {
  if (ms <= 0) return "\"0001-01-01T00:00:00Z\"";  // Prometheus' zero time: never scraped
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string("\"") + buf + "\"";
}

std::string Labels(const scrape::LabelSet& ls) {
  std::string j = "{";
  for (size_t i = 0; i < ls.size(); ++i) {
    j += (i ? "," : "") + JsonString(ls[i].first) + ":" + JsonString(ls[i].second);
  }
  return j + "}";
}

std::string Seconds(int64_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "\"%llds\"", static_cast<long long>(ms / 1000));
  return b;
}

std::string TargetJson(const scrape::TargetStatus& t, const std::string& extra) {
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.6f", t.last_duration_s);
  std::string j = "{\"discoveredLabels\":" + Labels(t.discovered_labels) +
                  ",\"labels\":" + Labels(t.labels) + ",\"scrapePool\":" + JsonString(t.job) +
                  ",\"scrapeUrl\":" + JsonString(t.url) + ",\"globalUrl\":" + JsonString(t.url) +
                  ",\"target\":" + JsonString(t.target) +
                  ",\"state\":" + JsonString(scrape::TargetStateName(t.state));
  if (t.state == scrape::TargetState::kActive) {
    j += ",\"health\":" + JsonString(t.health) + ",\"lastError\":" + JsonString(t.last_error) +
         ",\"lastScrape\":" + Rfc3339(t.last_scrape_ms) + ",\"lastScrapeDuration\":" + dur +
         ",\"samplesPerScrape\":" + std::to_string(t.samples_per_scrape);
  } else {
    j += ",\"reason\":" + JsonString(t.reason);
  }
  j += ",\"firstSeen\":" + Rfc3339(t.first_seen_ms) +
       ",\"scrapeInterval\":" + Seconds(t.interval_ms) +
       ",\"scrapeTimeout\":" + Seconds(t.timeout_ms) + extra + "}";
  return j;
}

std::string JobJson(const scrape::JobStatus& s, const std::string& extra) {
  char g[32];
  std::snprintf(g, sizeof g, "%g", s.max_growth);
  std::string j = "{\"job\":" + JsonString(s.job) + ",\"selector\":" + JsonString(s.selector) +
                  ",\"active\":" + std::to_string(s.active) +
                  ",\"held\":" + std::to_string(s.held) +
                  ",\"notSelected\":" + std::to_string(s.not_selected) +
                  ",\"dropped\":" + std::to_string(s.dropped) + ",\"maxGrowth\":" + g +
                  ",\"minTargets\":" + std::to_string(s.min_targets) +
                  ",\"growthWindow\":" + Seconds(s.growth_window_ms);
  if (s.held > 0) {
    j += ",\"heldSince\":" + Rfc3339(s.held_since_ms) +
         ",\"holdBase\":" + std::to_string(s.hold_base) +
         ",\"holdLimit\":" + std::to_string(s.hold_limit);
  }
  j += ",\"sdErrors\":[";
  for (size_t i = 0; i < s.sd_errors.size(); ++i) j += (i ? "," : "") + JsonString(s.sd_errors[i]);
  return j + "]" + extra + "}";
}

std::string AgentFields(const std::string& host_id, const std::string& host, int64_t reported_ms) {
  return ",\"scope\":\"agent\",\"agent\":{\"hostId\":" + JsonString(host_id) +
         ",\"host\":" + JsonString(host) + ",\"reportedAt\":" + Rfc3339(reported_ms) + "}";
}

void HandleList(const TargetsSources& src, Request& req, Response& resp) {
  std::string state = "any";
  req.QueryParam("state", &state);
  if (state != "any" && state != "active" && state != "held" && state != "dropped") {
    return resp.Error(400, "state must be active, held, dropped or any, got \"" + state + "\"");
  }
  std::string active, held, dropped, jobs;
  auto add = [&](const scrape::TargetStatus& t, const std::string& extra) {
    std::string* out = t.state == scrape::TargetState::kActive ? &active
                       : t.state == scrape::TargetState::kHeld ? &held
                                                               : &dropped;
    *out += (out->empty() ? "" : ",") + TargetJson(t, extra);
  };
  if (src.scraper != nullptr) {
    for (const auto& t : src.scraper->Targets()) add(t, ",\"scope\":\"server\"");
    for (const auto& j : src.scraper->Jobs()) {
      jobs += (jobs.empty() ? "" : ",") + JobJson(j, ",\"scope\":\"server\"");
    }
  }
  if (src.agents != nullptr) {
    const int64_t now = Clock::Real().NowMs();
    for (const auto& t : src.agents->Targets(now)) {
      add(t.status, AgentFields(t.host_id, t.host, t.reported_ms));
    }
    for (const auto& j : src.agents->Jobs(now)) {
      jobs += (jobs.empty() ? "" : ",") +
              JobJson(j.status, AgentFields(j.host_id, j.host, j.reported_ms));
    }
  }
  bool all = state == "any";
  std::string j = "{\"status\":\"success\",\"data\":{\"activeTargets\":[" +
                  (all || state == "active" ? active : "") + "],\"heldTargets\":[" +
                  (all || state == "held" ? held : "") + "],\"droppedTargets\":[" +
                  (all || state == "dropped" ? dropped : "") + "],\"jobs\":[" + jobs + "]}}";
  resp.Json(200, std::move(j));
}

void HandleReport(scrape::AgentTargetRegistry* agents, Request& req, Response& resp) {
  auto report = scrape::DecodeTargetReport(req.body);
  if (!report.ok()) return resp.Error(400, report.status().message());
  auto approvals = agents->Report(std::move(report).value(), Clock::Real().NowMs());
  resp.Json(200, scrape::EncodeApprovals(approvals));
}

void HandleApprove(const TargetsSources& src, Request& req, Response& resp) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string job, target;
  bool have_doc = false;
  if (!req.body.empty()) {
    if (parser.parse(req.body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      return resp.Error(400,
                        "cannot parse request body: expected {\"job\":\"J\"} or "
                        "{\"job\":\"J\",\"target\":\"host:port\"}");
    }
    have_doc = true;
    std::string_view s;
    if (doc["job"].get_string().get(s) == simdjson::SUCCESS) job = std::string(s);
    if (doc["target"].get_string().get(s) == simdjson::SUCCESS) target = std::string(s);
  } else {
    req.QueryParam("job", &job);
    req.QueryParam("target", &target);
  }
  if (job.empty()) return resp.Error(400, "field \"job\": the scrape job to approve is required");
  std::string host;
  if (have_doc) {
    std::string_view s;
    if (doc["host"].get_string().get(s) == simdjson::SUCCESS) host = std::string(s);
  } else {
    req.QueryParam("host", &host);
  }
  // The server's own job (unless a host is named), then every reporting agent's job of that name.
  size_t on_server = 0, on_agents = 0;
  std::string why;
  bool found = false;
  if (host.empty() && src.scraper != nullptr) {
    auto n = src.scraper->Approve(job, target);
    if (n.ok()) {
      on_server = *n;
      found = true;
    } else if (n.status().code() != Status::Code::kNotFound) {
      return resp.Error(500, n.status().message());
    } else {
      why = n.status().message();
    }
  }
  if (src.agents != nullptr) {
    auto n = src.agents->Approve(job, target, host, Clock::Real().NowMs());
    if (n.ok()) {
      on_agents = *n;
      found = true;
    } else {
      why += (why.empty() ? "" : "; ") + n.status().message();
    }
  }
  if (!found) return resp.Error(404, why.empty() ? "no scrape jobs are configured" : why);
  log::Info("scrape targets approved via API",
            {{"job", job},
             {"target", target},
             {"host", host},
             {"server", static_cast<unsigned long long>(on_server)},
             {"agents", static_cast<unsigned long long>(on_agents)},
             {"by", req.principal.token_name}});
  resp.Json(200, "{\"status\":\"success\",\"data\":{\"job\":" + JsonString(job) +
                     ",\"approved\":" + std::to_string(on_server + on_agents) + ",\"server\":" +
                     std::to_string(on_server) + ",\"agents\":" + std::to_string(on_agents) + "}}");
}

}  // namespace

void RegisterTargetsApi(net::HttpServer& http, TargetsSources src) {
  net::Route list;
  list.method = "GET";
  list.path = "/api/v1/targets";
  list.scope = net::kScopeRead;
  list.handler = [src](Request& req, Response& resp) { HandleList(src, req, resp); };
  http.AddRoute(std::move(list));
  net::Route approve;
  approve.method = "POST";
  approve.path = "/api/v1/targets/approve";
  approve.scope = net::kScopeAdmin;
  approve.handler = [src](Request& req, Response& resp) { HandleApprove(src, req, resp); };
  http.AddRoute(std::move(approve));
  if (src.agents != nullptr) {
    net::Route report;
    report.method = "POST";
    report.path = "/api/v1/targets/report";
    report.scope = net::kScopeIngest;
    scrape::AgentTargetRegistry* agents = src.agents;
    report.handler = [agents](Request& req, Response& resp) { HandleReport(agents, req, resp); };
    http.AddRoute(std::move(report));
  }
}

}  // namespace kansoku::api
