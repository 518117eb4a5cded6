#include "api/errors_api.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <random>

#include "api/sentry_logs.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "errors/envelope.h"
#include "errors/event.h"
#include "errors/fingerprint_rules.h"
#include "errors/grouping.h"
#include "errors/quota.h"
#include "errors/store.h"
#include "logs/record.h"
#include "logs/store.h"
#include "meta/project_store.h"
#include "net/http.h"
#include "net/http_server.h"
#include "usage/guard.h"

namespace kansoku::api {

using net::JsonString;
using net::Request;
using net::Response;

namespace {

std::string IsoTime(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string RandomEventId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

// "Sentry sentry_key=abc, sentry_version=7" -> "abc".
std::string KeyFromAuthHeader(std::string_view h) {
  h = TrimSpace(h);
  if (h.size() >= 7 && EqualsIgnoreCase(h.substr(0, 7), "sentry ")) h.remove_prefix(7);
  for (auto part : Split(h, ',')) {
    part = TrimSpace(part);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimSpace(part.substr(0, eq)) == "sentry_key") {
      return std::string(TrimSpace(part.substr(eq + 1)));
    }
  }
  return "";
}

// "http://key[:secret]@host/1" -> "key".
std::string KeyFromDsn(std::string_view dsn) {
  size_t scheme = dsn.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = dsn.substr(scheme + 3);
  size_t at = rest.find('@');
  if (at == std::string_view::npos) return "";
  std::string_view user = rest.substr(0, at);
  size_t colon = user.find(':');
  return std::string(colon == std::string_view::npos ? user : user.substr(0, colon));
}

// /api/<id>/envelope/ or /api/<id>/store/ -> id and endpoint; false otherwise.
bool ParseSentryPath(std::string_view path, int64_t* project, std::string* endpoint) {
  if (!StartsWith(path, "/api/")) return false;
  path.remove_prefix(5);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view id = path.substr(0, slash);
  int64_t v = 0;
  for (char c : id) {
    if (c < '0' || c > '9' || v > (int64_t{1} << 50)) return false;
    v = v * 10 + (c - '0');
  }
  std::string_view ep = path.substr(slash + 1);
  if (!ep.empty() && ep.back() == '/') ep.remove_suffix(1);
  if (ep != "envelope" && ep != "store") return false;
  *project = v;
  *endpoint = std::string(ep);
  return true;
}

void Cors(Response& resp) {
  resp.SetHeader("Access-Control-Allow-Origin", "*");
  resp.SetHeader("Access-Control-Expose-Headers",
                 "x-sentry-error, x-sentry-rate-limits, retry-after");
}

void SentryError(Response& resp, int code, const std::string& detail) {
  resp.Json(code, "{\"detail\":" + JsonString(detail) + "}");
  resp.SetHeader("X-Sentry-Error", detail.substr(0, 512));
  Cors(resp);
}

// A query-language string literal: "..." with \ and " escaped.
std::string QueryString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool ParseId(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

class ErrorsApi {
 public:
  explicit ErrorsApi(const ErrorsApiOptions& o) : o_(o) {
    items_ = &o.metrics->Counter("kansoku_errors_items_total",
                                 "Sentry envelope items accepted, by item type.", {"type"});
    rejected_ = &o.metrics->Counter("kansoku_errors_rejected_total",
                                    "Sentry requests or items rejected, by reason.", {"reason"});
    log_records_ =
        o.metrics
            ->Counter("kansoku_rows_accepted_total",
                      "Rows (samples, events, log lines) accepted, by protocol.", {"protocol"})
            .With({"sentry_log"});
    accepted_ =
        o.metrics
            ->Counter("kansoku_rows_accepted_total",
                      "Rows (samples, events, log lines) accepted, by protocol.", {"protocol"})
            .With({"sentry"});
    items_event_ = items_->With({"event"});  // the per-request one: looked up once
  }

  // The project's compiled server-side fingerprint rules (null when it has none), cached.
  std::shared_ptr<const errors::FingerprintRules> RulesFor(int64_t project) {
    {
      std::lock_guard<std::mutex> lock(rules_mu_);
      auto it = rules_.find(project);
      if (it != rules_.end()) return it->second;
    }
    std::shared_ptr<const errors::FingerprintRules> compiled;
    auto p = o_.projects->Get(project);
    if (p.ok() && !p->fingerprint_rules.empty()) {
      auto r = errors::FingerprintRules::Parse(p->fingerprint_rules);
      if (r.ok() && !r->empty()) {
        compiled = std::make_shared<const errors::FingerprintRules>(std::move(r).value());
      }
    }
    std::lock_guard<std::mutex> lock(rules_mu_);
    rules_[project] = compiled;
    return compiled;
  }

  void Reject(const char* reason, uint64_t n = 1) {
    rejected_->With({reason})->Inc(static_cast<double>(n));
  }

  // Spike protection, then the fixed quotas of the project and the key (n event items).
  errors::QuotaDecision Admit(int64_t project, const errors::Limits& pl, int64_t key_id,
                              const errors::Limits& kl, int64_t n) {
    if (o_.spike) {
      auto d = o_.spike->TryAcquire(project, n);
      if (!d.allowed) return d;
    }
    return o_.limiter->TryAcquire(project, pl, key_id, kl, n);
  }
  static const char* RejectReason(const errors::QuotaDecision& d) {
    return d.reason == "spike_protection" ? "spike_protection" : "ratelimited";
  }

  // With a log store, takes the `log` items out of the batch and appends their records there
  // (a bad item or a failed append sets *problem: the answer is then 400 / the SDK may retry).
  void LogItemsToLogStore(int64_t project, errors::WriteBatch* batch, std::string* problem) {
    if (!o_.log_store) return;
    logs::LogBatch records;
    size_t n_items = 0;
    std::string name;
    auto p = o_.projects->Get(project);
    name = p.ok() ? p->name : std::to_string(project);
    api::SentryLogContext ctx;
    ctx.project = project;
    ctx.project_name = name;
    ctx.now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    std::erase_if(batch->items, [&](const errors::IncomingItem& it) {
      if (it.kind != errors::ItemKind::kLog) return false;
      ++n_items;
      Status st = api::SentryLogItemToRecords(it.payload, ctx, &records);
      if (!st.ok()) {
        Reject("invalid_log");
        if (problem->empty()) *problem = st.message();
      }
      return true;
    });
    if (n_items == 0 || records.empty()) return;
    size_t n = records.size();
    Status st = o_.log_store->Append(std::move(records));
    if (!st.ok()) {
      Reject("log_storage_error", n);
      if (problem->empty()) *problem = "cannot store log items: " + st.message();
      return;
    }
    items_->With({"log"})->Inc(static_cast<double>(n_items));
    log_records_->Inc(static_cast<double>(n));
  }

  // In-process ingest (IngestEventJson).
  Result<std::string> IngestJson(int64_t project, std::string_view json) {
    auto p = o_.projects->Get(project);
    if (!p.ok()) return p.status();
    errors::IncomingEvent e;
    KANSOKU_RETURN_IF_ERROR(errors::ParseEvent(json, &e.event));
    e.project = project;
    e.json = json;
    e.event_id = !e.event.event_id.empty() ? e.event.event_id : RandomEventId();
    auto rules = RulesFor(project);
    e.grouping = errors::GroupEvent(e.event, rules.get());
    errors::Limits pl{p->events_per_minute, p->events_per_day};
    auto d = Admit(project, pl, 0, errors::Limits{}, 1);
    if (!d.allowed) {
      Reject(RejectReason(d));
      return Status::ResourceExhausted("event refused: " + d.reason);
    }
    if (o_.guard != nullptr) {  // the usage guard, as for SDK events of the project
      std::vector<usage::VolumeItem> items{{"sentry_project", p->name, 1, json.size()}};
      int retry_after_s = 0;
      Status admit = o_.guard->AdmitVolume(usage::Signal::kErrorEvents, "sentry:" + p->name,
                                           "sentry", items, &retry_after_s);
      if (!admit.ok()) {
        Reject("usage_limit");
        return Status::ResourceExhausted(admit.message());
      }
    }
    errors::WriteBatch batch;
    std::string id = e.event_id;
    batch.events.push_back(std::move(e));
    std::vector<uint64_t> issue_ids;
    Status st = o_.store->Write(batch, &issue_ids);
    if (!st.ok()) {
      Reject("storage_error");
      return st;
    }
    items_->With({"event"})->Inc();
    return id;
  }

  // Whether the kJsonPadding bytes after `part` (a view into body) are still body's allocated
  // memory, so the event parser can read it in place. A decoded body usually has that spare
  // capacity (net::kDecodedPadding), and an envelope item has it unless it ends the body.
  static bool PaddedInBody(const std::string& body, std::string_view part) {
    const char* end = part.data() + part.size();
    return end >= body.data() && end <= body.data() + body.size() &&
           static_cast<size_t>(end - body.data()) + errors::kJsonPadding <= body.capacity();
  }

  // ---- Sentry ingest ----
  void Ingest(Request& req, Response& resp) {
    int64_t project = 0;
    std::string endpoint;
    if (!ParseSentryPath(req.path, &project, &endpoint)) {
      return resp.Error(404, "no route for " + req.path +
                                 " (Sentry ingest is /api/<project>/envelope/ or /store/)");
    }
    if (req.method == "OPTIONS") {
      resp.status = 200;
      resp.content_type.clear();
      Cors(resp);
      resp.SetHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      std::string_view want = req.Header("access-control-request-headers");
      resp.SetHeader("Access-Control-Allow-Headers",
                     want.empty() ? "x-sentry-auth, content-type, content-encoding, "
                                    "sentry-trace, baggage"
                                  : std::string(want));
      resp.SetHeader("Access-Control-Max-Age", "3600");
      return;
    }
    if (req.method != "POST") {
      SentryError(resp, 405, "method " + req.method + " not allowed; use POST");
      return;
    }

    // Envelope first: its dsn header may be the only credential.
    errors::Envelope env;
    Status parse_status;
    if (endpoint == "envelope") parse_status = errors::ParseEnvelope(req.body, &env);

    // Credentials: header, query string, envelope dsn; all given must agree.
    std::vector<std::string> keys;
    if (auto h = req.Header("x-sentry-auth"); !h.empty()) keys.push_back(KeyFromAuthHeader(h));
    if (auto h = req.Header("authorization");
        StartsWith(h, "Sentry ") || StartsWith(h, "sentry ")) {
      keys.push_back(KeyFromAuthHeader(h));
    }
    std::string q;
    if (req.QueryParam("sentry_key", &q)) keys.push_back(q);
    if (!env.dsn.empty()) keys.push_back(KeyFromDsn(env.dsn));
    std::erase_if(keys, [](const std::string& k) { return k.empty(); });
    if (keys.empty()) {
      Reject("missing_auth");
      return SentryError(resp, 403,
                         "missing authorization information: send X-Sentry-Auth, "
                         "?sentry_key= or an envelope dsn header");
    }
    for (const auto& k : keys) {
      if (k != keys[0]) {
        Reject("auth_mismatch");
        return SentryError(resp, 403, "the credentials given disagree on the public key");
      }
    }
    auto look = o_.projects->Lookup(keys[0]);
    if (!look.ok()) {
      Reject("unknown_key");
      return SentryError(resp, 401, "unknown public key");
    }
    if (!look->key.enabled()) {
      Reject("disabled_key");
      return SentryError(resp, 403, "the public key is disabled");
    }
    if (look->key.project_id != project) {
      Reject("project_mismatch");
      return SentryError(resp, 403,
                         "project id mismatch: the key belongs to project " +
                             std::to_string(look->key.project_id));
    }
    if (!parse_status.ok() && env.header.empty()) {
      Reject("invalid_envelope");
      return SentryError(resp, 400, "cannot parse envelope: " + parse_status.message());
    }

    // Build the batch.
    auto rules = RulesFor(project);
    errors::WriteBatch batch;
    std::string problem;  // first rejected item, for the answer
    std::string answer_id;
    auto bad = [&](const char* reason, const std::string& what) {
      Reject(reason);
      if (problem.empty()) problem = what;
    };
    auto add_event = [&](std::string_view json, const std::string& fallback_id, size_t index,
                         bool padded = false) {
      if (json.size() > errors::MaxItemBytes("event")) {
        return bad("too_large", "item " + std::to_string(index) + ": event of " +
                                    std::to_string(json.size()) + " bytes exceeds 1 MiB");
      }
      errors::IncomingEvent e;
      Status st = errors::ParseEvent(json, &e.event, padded);
      if (!st.ok()) {
        return bad(
            "invalid_event",
            (endpoint == "store" ? "" : "item " + std::to_string(index) + ": ") + st.message());
      }
      e.project = project;
      e.key_id = look->key.id;
      e.json = json;
      e.event_id = !e.event.event_id.empty() ? e.event.event_id : fallback_id;
      e.grouping = errors::GroupEvent(e.event, rules.get());
      if (answer_id.empty()) answer_id = e.event_id;
      batch.events.push_back(std::move(e));
    };
    if (endpoint == "store") {
      add_event(req.body, RandomEventId(), 0, PaddedInBody(req.body, req.body));
      // The body is the event: its gzip form as received (which decoded to exactly these bytes)
      // is what the log stores, instead of compressing the JSON again.
      if (!batch.events.empty() && !req.wire_body.empty()) {
        std::string_view enc = req.Header("content-encoding");
        if (enc == "gzip" || enc == "x-gzip") batch.events.back().json_gzip = req.wire_body;
      }
    } else {
      std::string env_id = errors::NormalizeEventId(env.event_id);
      if (env_id.empty()) env_id = RandomEventId();
      for (size_t i = 0; i < env.items.size(); ++i) {
        const auto& it = env.items[i];
        if (it.payload.size() > errors::MaxItemBytes(it.type)) {
          bad("too_large", "item " + std::to_string(i) + ": " + it.type + " of " +
                               std::to_string(it.payload.size()) + " bytes exceeds the limit of " +
                               std::to_string(errors::MaxItemBytes(it.type)));
          continue;
        }
        errors::ItemKind kind;
        if (it.type == "event") {
          add_event(it.payload, env_id, i, PaddedInBody(req.body, it.payload));
        } else if (it.type == "attachment") {
          batch.attachments.push_back({project, env_id, it.filename, it.content_type, it.payload});
        } else if (errors::ItemKindFromType(it.type, &kind)) {
          batch.items.push_back({project, kind, it.payload});
        } else {
          items_->With({"other"})->Inc();  // unknown types are skipped, never rejected
        }
      }
      if (answer_id.empty() && !env.event_id.empty()) answer_id = env_id;
      if (!parse_status.ok())
        bad("invalid_envelope", "cannot parse envelope: " + parse_status.message());
    }

    // Quotas: event items only (error;default;security).
    std::string limit_header;
    if (!batch.events.empty()) {
      errors::Limits pl{look->project_events_per_minute, look->project_events_per_day};
      errors::Limits kl{look->key.events_per_minute, look->key.events_per_day};
      auto d = Admit(project, pl, look->key.id, kl, static_cast<int64_t>(batch.events.size()));
      if (!d.allowed) {
        Reject(RejectReason(d), batch.events.size());
        limit_header = d.Header();
        batch.events.clear();
        batch.attachments.clear();  // they belong to the dropped event
        if (batch.empty()) {
          resp.Json(429, "{\"detail\":\"event quota exceeded (" + d.reason + ")\"}");
          resp.SetHeader("Retry-After", std::to_string(d.retry_after_s));
          resp.SetHeader("X-Sentry-Rate-Limits", limit_header);
          resp.SetHeader("X-Sentry-Error", "event quota exceeded");
          Cors(resp);
          return;
        }
      }
    }

    // Usage guard: events per project, against the tenant's max_events_per_minute.
    if (!batch.events.empty() && o_.guard != nullptr) {
      uint64_t bytes = 0;
      for (const auto& e : batch.events) bytes += e.json.size();
      std::vector<usage::VolumeItem> items{
          {"sentry_project", look->project_name, batch.events.size(), bytes}};
      int retry_after_s = 0;
      Status admit =
          o_.guard->AdmitVolume(usage::Signal::kErrorEvents, "sentry:" + look->project_name,
                                "sentry", items, &retry_after_s);
      if (!admit.ok()) {
        Reject("usage_limit", batch.events.size());
        batch.events.clear();
        batch.attachments.clear();
        std::string header =
            std::to_string(retry_after_s) + ":error;default;security:project:usage_limit";
        if (batch.empty()) {
          resp.Json(429, "{\"detail\":" + net::JsonString(admit.message()) + "}");
          resp.SetHeader("Retry-After", std::to_string(retry_after_s));
          resp.SetHeader("X-Sentry-Rate-Limits", header);
          resp.SetHeader("X-Sentry-Error", admit.message());
          Cors(resp);
          return;
        }
        limit_header = limit_header.empty() ? header : limit_header + "," + header;
      }
    }

    LogItemsToLogStore(project, &batch, &problem);
    std::vector<uint64_t> issue_ids;
    Status st = o_.store->Write(batch, &issue_ids);
    if (!st.ok()) {
      Reject("storage_error");
      if (log_.Allow()) log::Error("cannot store Sentry items", {{"err", st.message()}});
      SentryError(resp, 503, "cannot store the event, retry later: " + st.message());
      resp.SetHeader("Retry-After", "5");
      return;
    }
    if (!batch.events.empty()) {
      items_event_->Inc(static_cast<double>(batch.events.size()));
      accepted_->Inc(static_cast<double>(batch.events.size()));
    }
    if (!batch.attachments.empty()) {
      items_->With({"attachment"})->Inc(static_cast<double>(batch.attachments.size()));
    }
    for (const auto& it : batch.items) {
      static const char* names[] = {"",         "transaction", "span",          "session",
                                    "sessions", "check_in",    "client_report", "log"};
      items_->With({names[static_cast<int>(it.kind)]})->Inc();
    }
    if (!problem.empty()) {
      SentryError(resp, 400, problem);
      return;
    }
    resp.Json(200, answer_id.empty() ? "{}" : "{\"id\":\"" + answer_id + "\"}");
    if (!limit_header.empty()) resp.SetHeader("X-Sentry-Rate-Limits", limit_header);
    Cors(resp);
  }

  // ---- projects ----
  std::string ProjectJson(const meta::Project& p, const std::string& host) {
    std::string j = "{\"id\":" + std::to_string(p.id) + ",\"name\":" + JsonString(p.name) +
                    ",\"created_at\":" + JsonString(IsoTime(p.created_at_ms)) +
                    ",\"events_per_minute\":" + std::to_string(p.events_per_minute) +
                    ",\"events_per_day\":" + std::to_string(p.events_per_day) +
                    ",\"fingerprint_rules\":" + JsonString(p.fingerprint_rules) + ",\"keys\":[";
    for (size_t i = 0; i < p.keys.size(); ++i) {
      if (i) j += ",";
      j += KeyJson(p.keys[i], host);
    }
    j += "],\"client_reports\":[";
    auto reports = o_.store->ClientReportsOf(p.id);
    for (size_t i = 0; i < reports.size(); ++i) {
      if (i) j += ",";
      j += "{\"reason\":" + JsonString(reports[i].reason) +
           ",\"category\":" + JsonString(reports[i].category) +
           ",\"quantity\":" + std::to_string(reports[i].quantity) + "}";
    }
    return j + "]}";
  }

  std::string KeyJson(const meta::ProjectKey& k, const std::string& host) {
    return "{\"id\":" + std::to_string(k.id) + ",\"label\":" + JsonString(k.label) +
           ",\"public_key\":" + JsonString(k.public_key) +
           ",\"dsn\":" + JsonString(meta::Dsn(k, host, o_.tls)) +
           ",\"enabled\":" + (k.enabled() ? "true" : "false") +
           ",\"events_per_minute\":" + std::to_string(k.events_per_minute) +
           ",\"events_per_day\":" + std::to_string(k.events_per_day) +
           ",\"created_at\":" + JsonString(IsoTime(k.created_at_ms)) + "}";
  }

  static std::string Host(const Request& req) {
    std::string_view h = req.Header("host");
    return h.empty() ? "127.0.0.1:9400" : std::string(h);
  }

  void ListProjects(Request& req, Response& resp) {
    auto list = o_.projects->List();
    if (!list.ok()) return resp.Error(500, list.status().message());
    std::string j = "{\"status\":\"success\",\"data\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) j += ",";
      j += ProjectJson((*list)[i], Host(req));
    }
    resp.Json(200, j + "]}");
  }

  static bool ParseBody(const Request& req, simdjson::dom::parser& p, simdjson::dom::element* doc,
                        Response& resp, const char* example) {
    if (p.parse(req.body).get(*doc) != simdjson::SUCCESS || !doc->is_object()) {
      resp.Error(
          400, std::string("cannot parse request body: expected a JSON object such as ") + example);
      return false;
    }
    return true;
  }

  static bool OptInt(simdjson::dom::element doc, const char* key, int64_t* out, bool* present,
                     Response& resp) {
    simdjson::dom::element v;
    *present = false;
    if (doc[key].get(v) != simdjson::SUCCESS) return true;
    if (v.get_int64().get(*out) != simdjson::SUCCESS || *out < 0) {
      resp.Error(400, std::string("field \"") + key + "\": a non-negative integer is required");
      return false;
    }
    *present = true;
    return true;
  }

  void CreateProject(Request& req, Response& resp) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (!ParseBody(req, p, &doc, resp, "{\"name\":\"web\"}")) return;
    std::string_view name;
    if (doc["name"].get_string().get(name) != simdjson::SUCCESS || name.empty()) {
      return resp.Error(400, "field \"name\": a non-empty string is required");
    }
    auto pr = o_.projects->Create(std::string(name));
    if (!pr.ok())
      return resp.Error(pr.status().code() == Status::Code::kInvalidArgument ? 400 : 500,
                        pr.status().message());
    log::Info("project created", {{"id", static_cast<long long>(pr->id)}, {"name", pr->name}});
    resp.Json(201, "{\"status\":\"success\",\"data\":" + ProjectJson(*pr, Host(req)) + "}");
  }

  static int Code(const Status& st) {
    switch (st.code()) {
      case Status::Code::kNotFound:
        return 404;
      case Status::Code::kInvalidArgument:
        return 400;
      default:
        return 500;
    }
  }

  // /api/v1/projects/<id>[/keys[/<key>[/rotate]] | /client_reports | /sessions | ...]
  void ProjectSub(Request& req, Response& resp) {
    std::string_view rest =
        std::string_view(req.path).substr(std::string("/api/v1/projects/").size());
    auto parts = Split(rest, '/');
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    int64_t pid = 0;
    if (parts.empty() || !ParseId(parts[0], &pid)) {
      return resp.Error(400, "project id must be a number in " + req.path);
    }
    auto project = o_.projects->Get(pid);
    if (!project.ok()) return resp.Error(404, project.status().message());
    const std::string& m = req.method;
    if (parts.size() == 1) {
      if (m == "GET") {
        return resp.Json(
            200, "{\"status\":\"success\",\"data\":" + ProjectJson(*project, Host(req)) + "}");
      }
      if (m == "PUT") {
        simdjson::dom::parser p;
        simdjson::dom::element doc;
        if (!ParseBody(req, p, &doc, resp, "{\"events_per_minute\":5,\"events_per_day\":0}")) {
          return;
        }
        int64_t pm = project->events_per_minute, pd = project->events_per_day;
        bool has;
        if (!OptInt(doc, "events_per_minute", &pm, &has, resp)) return;
        if (!OptInt(doc, "events_per_day", &pd, &has, resp)) return;
        simdjson::dom::element rules_el;
        if (doc["fingerprint_rules"].get(rules_el) == simdjson::SUCCESS) {
          std::string_view text;
          if (rules_el.get_string().get(text) != simdjson::SUCCESS) {
            return resp.Error(400, "field \"fingerprint_rules\": a string of rules is required");
          }
          auto parsed = errors::FingerprintRules::Parse(text);
          if (!parsed.ok()) return resp.Error(400, parsed.status().message());
          Status st = o_.projects->SetFingerprintRules(pid, std::string(text));
          if (!st.ok()) return resp.Error(Code(st), st.message());
          std::lock_guard<std::mutex> lock(rules_mu_);
          rules_.erase(pid);
        }
        Status st = o_.projects->SetLimits(pid, pm, pd);
        if (!st.ok()) return resp.Error(Code(st), st.message());
        auto np = o_.projects->Get(pid);
        return resp.Json(200,
                         "{\"status\":\"success\",\"data\":" + ProjectJson(*np, Host(req)) + "}");
      }
      return resp.Error(405, "method " + m + " not allowed on " + req.path);
    }
    std::string_view what = parts[1];
    if (what == "keys") {
      if (parts.size() == 2) {
        if (m != "POST") return resp.Error(405, "use POST to add a key");
        std::string label = "key";
        simdjson::dom::parser p;
        simdjson::dom::element doc;
        std::string_view l;
        if (!req.body.empty()) {
          if (!ParseBody(req, p, &doc, resp, "{\"label\":\"browser\"}")) return;
          if (doc["label"].get_string().get(l) == simdjson::SUCCESS) label = std::string(l);
        }
        auto k = o_.projects->AddKey(pid, label);
        if (!k.ok()) return resp.Error(Code(k.status()), k.status().message());
        return resp.Json(201, "{\"status\":\"success\",\"data\":" + KeyJson(*k, Host(req)) + "}");
      }
      int64_t kid = 0;
      if (!ParseId(parts[2], &kid)) return resp.Error(400, "key id must be a number");
      if (parts.size() == 4 && parts[3] == "rotate" && m == "POST") {
        auto k = o_.projects->RotateKey(pid, kid);
        if (!k.ok()) return resp.Error(Code(k.status()), k.status().message());
        log::Info("project key rotated",
                  {{"project", static_cast<long long>(pid)}, {"key", static_cast<long long>(kid)}});
        return resp.Json(200, "{\"status\":\"success\",\"data\":" + KeyJson(*k, Host(req)) + "}");
      }
      if (parts.size() == 3 && m == "PUT") {
        simdjson::dom::parser p;
        simdjson::dom::element doc;
        if (!ParseBody(req, p, &doc, resp, "{\"disabled\":true,\"events_per_minute\":5}")) return;
        bool disabled = false, has_disabled = false;
        if (doc["disabled"].get_bool().get(disabled) == simdjson::SUCCESS) has_disabled = true;
        bool enabled = true;
        if (doc["enabled"].get_bool().get(enabled) == simdjson::SUCCESS) {
          has_disabled = true;
          disabled = !enabled;
        }
        int64_t pm = 0, pd = 0;
        bool has_pm, has_pd;
        if (!OptInt(doc, "events_per_minute", &pm, &has_pm, resp)) return;
        if (!OptInt(doc, "events_per_day", &pd, &has_pd, resp)) return;
        Status st = o_.projects->UpdateKey(pid, kid, has_disabled ? &disabled : nullptr,
                                           has_pm ? &pm : nullptr, has_pd ? &pd : nullptr);
        if (!st.ok()) return resp.Error(Code(st), st.message());
        auto np = o_.projects->Get(pid);
        for (const auto& k : np->keys) {
          if (k.id == kid) {
            return resp.Json(200,
                             "{\"status\":\"success\",\"data\":" + KeyJson(k, Host(req)) + "}");
          }
        }
        return resp.Error(404, "no key " + std::to_string(kid));
      }
      return resp.Error(405, "method " + m + " not allowed on " + req.path);
    }
    if (m != "GET" || parts.size() != 2) {
      return resp.Error(404, "no route for " + m + " " + req.path);
    }
    std::string j = "{\"status\":\"success\",\"data\":[";
    bool first = true;
    auto sep = [&] {
      if (!first) j += ",";
      first = false;
    };
    if (what == "client_reports") {
      for (const auto& r : o_.store->ClientReportsOf(pid)) {
        sep();
        j += "{\"reason\":" + JsonString(r.reason) + ",\"category\":" + JsonString(r.category) +
             ",\"quantity\":" + std::to_string(r.quantity) + "}";
      }
    } else if (what == "sessions") {
      for (const auto& h : o_.store->ReleaseHealthOf(pid)) {
        sep();
        j += "{\"release\":" + JsonString(h.release) +
             ",\"environment\":" + JsonString(h.environment) +
             ",\"sessions\":" + std::to_string(h.sessions) +
             ",\"errored\":" + std::to_string(h.errored) +
             ",\"crashed\":" + std::to_string(h.crashed) +
             ",\"abnormal\":" + std::to_string(h.abnormal) +
             ",\"users\":" + std::to_string(h.users) +
             ",\"crash_free_sessions\":" + metrics::FormatValue(h.CrashFreeSessions()) +
             ",\"crash_free_users\":" + metrics::FormatValue(h.CrashFreeUsers()) + "}";
      }
    } else if (what == "transactions") {
      for (const auto& t : o_.store->TransactionsOf(pid)) {
        sep();
        j += "{\"name\":" + JsonString(t.name) + ",\"count\":" + std::to_string(t.count) +
             ",\"p50_ms\":" + metrics::FormatValue(t.p50_ms) +
             ",\"p95_ms\":" + metrics::FormatValue(t.p95_ms) +
             ",\"p99_ms\":" + metrics::FormatValue(t.p99_ms) + "}";
      }
    } else if (what == "monitors") {
      for (const auto& mo : o_.store->MonitorsOf(pid)) {
        sep();
        j += "{\"slug\":" + JsonString(mo.slug) + ",\"last_status\":" + JsonString(mo.last_status) +
             ",\"last_checkin\":" + JsonString(IsoTime(mo.last_checkin_ms)) + ",\"by_status\":{";
        bool f2 = true;
        for (const auto& [s, n] : mo.by_status) {
          j += (f2 ? "" : ",") + JsonString(s) + ":" + std::to_string(n);
          f2 = false;
        }
        j += "}}";
      }
    } else {
      return resp.Error(404, "no route for " + req.path);
    }
    resp.Json(200, j + "]}");
  }

  // ---- issues ----
  static std::string IssueJson(const errors::IssueInfo& i, bool detail) {
    std::string j =
        "{\"id\":" + std::to_string(i.id) + ",\"project\":" + std::to_string(i.project) +
        ",\"title\":" + JsonString(i.title) + ",\"culprit\":" + JsonString(i.culprit) +
        ",\"level\":" + JsonString(i.level) + ",\"platform\":" + JsonString(i.platform) +
        ",\"status\":" + JsonString(errors::IssueStatusName(i.status)) +
        ",\"first_seen\":" + JsonString(IsoTime(i.first_seen_ms)) +
        ",\"last_seen\":" + JsonString(IsoTime(i.last_seen_ms)) +
        ",\"count\":" + std::to_string(i.count) + ",\"users\":" + std::to_string(i.users) +
        ",\"grouping\":{\"version\":" +
        JsonString(errors::GroupingVersionName(i.grouping_version)) +
        ",\"hash\":" + JsonString(i.hash) + ",\"basis\":" + JsonString(i.basis) + "}" +
        ",\"assignee\":" + (i.assignee.empty() ? "null" : JsonString(i.assignee));
    if (!i.assignee.empty()) j += ",\"assigned_at\":" + JsonString(IsoTime(i.assigned_ms));
    if (i.status == errors::IssueStatus::kArchived) {
      j += ",\"archived_until\":" +
           (i.archived_until_ms ? JsonString(IsoTime(i.archived_until_ms)) : "null") +
           ",\"archived_until_count\":" + std::to_string(i.archived_until_count);
    }
    if (i.status == errors::IssueStatus::kResolvedInNextRelease) {
      j += ",\"resolved_release\":" + JsonString(i.resolved_release);
    }
    if (detail) {
      auto map_json = [](const std::map<std::string, uint64_t>& m) {
        std::string s = "{";
        bool f = true;
        for (const auto& [k, v] : m) {
          s += (f ? "" : ",") + JsonString(k) + ":" + std::to_string(v);
          f = false;
        }
        return s + "}";
      };
      j += ",\"releases\":" + map_json(i.releases) +
           ",\"environments\":" + map_json(i.environments) + ",\"tags\":[";
      bool f = true;
      for (const auto& [k, vals] : i.tags) {
        std::vector<std::pair<uint64_t, std::string>> top;
        uint64_t total = 0;
        for (const auto& [v, n] : vals) {
          top.emplace_back(n, v);
          total += n;
        }
        std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
          return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        j += std::string(f ? "" : ",") + "{\"key\":" + JsonString(k) +
             ",\"total\":" + std::to_string(total) +
             ",\"distinct\":" + std::to_string(vals.size()) + ",\"top_values\":[";
        for (size_t n = 0; n < top.size() && n < 10; ++n) {
          j += std::string(n ? "," : "") + "{\"value\":" + JsonString(top[n].second) +
               ",\"count\":" + std::to_string(top[n].first) + "}";
        }
        j += "]}";
        f = false;
      }
      j += "]";
    }
    return j;  // caller closes
  }

  void ListIssues(Request& req, Response& resp) {
    errors::IssueQuery q;
    std::string v;
    if (req.QueryParam("project", &v) && !v.empty() && !ParseId(v, &q.project)) {
      return resp.Error(400, "parameter project: a project id is required, got \"" + v + "\"");
    }
    req.QueryParam("status", &q.status);
    req.QueryParam("query", &q.text);
    req.QueryParam("assignee", &q.assignee);
    if (req.QueryParam("assigned", &v) && !v.empty()) {
      if (v != "true" && v != "false") {
        return resp.Error(400, "parameter assigned: true or false, got \"" + v + "\"");
      }
      q.assigned = v == "true" ? 1 : 0;
    }
    for (const char* k : {"level", "release", "environment"}) {
      if (req.QueryParam(k, &v) && !v.empty()) q.text += std::string(" ") + k + ":" + v;
    }
    if (req.QueryParam("sort", &v) && !v.empty()) {
      if (v != "last_seen" && v != "first_seen" && v != "events" && v != "users") {
        return resp.Error(400, "parameter sort: one of last_seen, first_seen, events, users");
      }
      q.sort = v;
    }
    if (req.QueryParam("limit", &v) && !v.empty()) {
      int64_t l;
      if (!ParseId(v, &l) || l < 1 || l > 10000) {
        return resp.Error(400, "parameter limit: 1 to 10000");
      }
      q.limit = static_cast<size_t>(l);
    }
    size_t total = 0;
    auto list = o_.store->ListIssues(q, &total);
    std::string j = "{\"status\":\"success\",\"total\":" + std::to_string(total) + ",\"data\":[";
    for (size_t i = 0; i < list.size(); ++i) j += (i ? "," : "") + IssueJson(list[i], false) + "}";
    resp.Json(200, j + "]}");
  }

  std::string EventJson(const errors::EventRef& ref, const std::string& raw) {
    std::string j = "{\"event_id\":" + JsonString(ref.event_id) +
                    ",\"received\":" + JsonString(IsoTime(ref.received_ms)) + ",\"attachments\":[";
    auto atts = o_.store->Attachments(ref.event_id);
    for (size_t i = 0; i < atts.size(); ++i) {
      j += std::string(i ? "," : "") + "{\"filename\":" + JsonString(std::get<0>(atts[i])) +
           ",\"content_type\":" + JsonString(std::get<1>(atts[i])) +
           ",\"size\":" + std::to_string(std::get<2>(atts[i])) + "}";
    }
    j += "],\"logs_links\":" + LogsLinks(ref, raw);
    return j + ",\"event\":" + raw + "}";
  }

  // Where the logs around an event are (docs/design/errors.md section 7): the same trace id,
  // then the same host, within the event's time +- logs_link_window_ms. Best first.
  std::string LogsLinks(const errors::EventRef& ref, const std::string& raw) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view trace, host;
    double ts = 0;
    if (parser.parse(raw).get(doc) == simdjson::SUCCESS) {
      if (doc.at_pointer("/contexts/trace/trace_id").get_string().get(trace)) trace = {};
      if (doc["server_name"].get_string().get(host)) host = {};
      simdjson::dom::element t;
      if (doc["timestamp"].get(t) == simdjson::SUCCESS) {
        std::string_view ts_s;
        if (t.get_double().get(ts) != simdjson::SUCCESS &&
            t.get_string().get(ts_s) == simdjson::SUCCESS) {
          ts = errors::ParseSentryTimestamp(ts_s);
        }
      }
    }
    int64_t at_ns = ts > 0 ? static_cast<int64_t>(ts * 1e9) : ref.received_ms * 1000000;
    int64_t w = o_.logs_link_window_ms * 1000000;
    int64_t start = at_ns - w, end = at_ns + w;
    std::string range = ",\"start\":" + JsonString(logs::FormatRfc3339Nanos(start)) +
                        ",\"end\":" + JsonString(logs::FormatRfc3339Nanos(end)) +
                        ",\"start_ns\":\"" + std::to_string(start) + "\",\"end_ns\":\"" +
                        std::to_string(end) + "\"";
    auto link = [&](const char* basis, const char* key, std::string_view value,
                    const std::string& q) {
      std::string path = "/api/v1/logs/query?query=" + UrlEncode(q) +
                         "&start=" + std::to_string(start) + "&end=" + std::to_string(end);
      return "{\"basis\":\"" + std::string(basis) + "\",\"" + key + "\":" + JsonString(value) +
             ",\"query\":" + JsonString(q) + range + ",\"path\":" + JsonString(path) + "}";
    };
    std::string j = "[";
    bool hex = trace.size() >= 16 && trace.size() <= 64 &&
               std::all_of(trace.begin(), trace.end(), [](char c) { return std::isxdigit(c); });
    if (hex) {
      std::string q = "trace_id:=" + QueryString(trace) + " or traceId:=" + QueryString(trace) +
                      " or " + std::string(trace);
      j += link("trace_id", "trace_id", trace, q);
    }
    if (!host.empty() && host.size() < 256) {
      if (hex) j += ",";
      j += link("host", "host", host, "host:=" + QueryString(host));
    }
    return j + "]";
  }

  void IssueSub(Request& req, Response& resp) {
    std::string_view rest =
        std::string_view(req.path).substr(std::string("/api/v1/issues/").size());
    auto parts = Split(rest, '/');
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    int64_t id = 0;
    if (parts.empty() || !ParseId(parts[0], &id)) {
      return resp.Error(400, "issue id must be a number in " + req.path);
    }
    const std::string& m = req.method;
    if (parts.size() == 1 && m == "GET") {
      auto is = o_.store->GetIssue(static_cast<uint64_t>(id));
      if (!is.ok()) return resp.Error(404, is.status().message());
      std::string j = "{\"status\":\"success\",\"data\":" + IssueJson(*is, true);
      auto ev = o_.store->IssueEvents(static_cast<uint64_t>(id), 1);
      if (ev.ok() && !ev->empty()) {
        j += ",\"latest_event\":" + EventJson((*ev)[0].first, (*ev)[0].second);
      } else {
        j += ",\"latest_event\":null";
      }
      return resp.Json(200, j + "}}");
    }
    if (parts.size() >= 2 && parts[1] == "events" && m == "GET") {
      size_t limit = 20;
      std::string v;
      if (req.QueryParam("limit", &v) && !v.empty()) {
        int64_t l;
        if (!ParseId(v, &l) || l < 1 || l > 1000)
          return resp.Error(400, "parameter limit: 1 to 1000");
        limit = static_cast<size_t>(l);
      }
      if (parts.size() == 3 && parts[2] == "latest") limit = 1;
      auto ev = o_.store->IssueEvents(static_cast<uint64_t>(id), limit);
      if (!ev.ok()) return resp.Error(Code(ev.status()), ev.status().message());
      if (parts.size() == 3 && parts[2] == "latest") {
        if (ev->empty())
          return resp.Error(404, "issue " + std::to_string(id) + " has no stored events");
        return resp.Json(200, "{\"status\":\"success\",\"data\":" +
                                  EventJson((*ev)[0].first, (*ev)[0].second) + "}");
      }
      std::string j = "{\"status\":\"success\",\"data\":[";
      for (size_t i = 0; i < ev->size(); ++i) {
        j += (i ? "," : "") + EventJson((*ev)[i].first, (*ev)[i].second);
      }
      return resp.Json(200, j + "]}");
    }
    if (parts.size() == 1 && m == "PUT") {
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      if (!ParseBody(req, p, &doc, resp,
                     "{\"status\":\"resolved\"}, {\"status\":\"archived\",\"until_events\":100} "
                     "or {\"assignee\":\"alice@example.com\"}")) {
        return;
      }
      // assignee: a string assigns, null or "" unassigns; may come with or without a status.
      simdjson::dom::element who;
      bool has_assignee = doc["assignee"].get(who) == simdjson::SUCCESS;
      std::string_view assignee;
      if (has_assignee && !who.is_null() && who.get_string().get(assignee) != simdjson::SUCCESS) {
        return resp.Error(400,
                          "field \"assignee\": a user, e-mail or team name (string), or null to "
                          "unassign");
      }
      std::string_view s;
      errors::IssueStatus status = errors::IssueStatus::kUnresolved;
      simdjson::dom::element status_el;
      bool has_status = doc["status"].get(status_el) == simdjson::SUCCESS;
      if (has_status ? status_el.get_string().get(s) != simdjson::SUCCESS ||
                           !errors::ParseIssueStatus(s, &status)
                     : !has_assignee) {
        return resp.Error(400,
                          "field \"status\": one of unresolved, resolved, "
                          "resolved_in_next_release, archived (or give \"assignee\")");
      }
      if (has_assignee) {
        Status st = o_.store->SetAssignee(static_cast<uint64_t>(id), assignee);
        if (!st.ok()) return resp.Error(Code(st), "field \"assignee\": " + st.message());
      }
      if (!has_status) {
        auto is = o_.store->GetIssue(static_cast<uint64_t>(id));
        if (!is.ok()) return resp.Error(404, is.status().message());
        return resp.Json(200, "{\"status\":\"success\",\"data\":" + IssueJson(*is, false) + "}}");
      }
      int64_t until_events = 0, until_ms = 0, for_s = 0;
      bool has;
      if (!OptInt(doc, "until_events", &until_events, &has, resp)) return;
      if (!OptInt(doc, "until_ms", &until_ms, &has, resp)) return;
      if (!OptInt(doc, "for_seconds", &for_s, &has, resp)) return;
      if (has) until_ms = Clock::Real().NowMs() + for_s * 1000;
      Status st = o_.store->SetStatus(static_cast<uint64_t>(id), status, until_ms,
                                      static_cast<uint64_t>(until_events));
      if (!st.ok()) return resp.Error(Code(st), st.message());
      auto is = o_.store->GetIssue(static_cast<uint64_t>(id));
      if (!is.ok()) return resp.Error(404, is.status().message());
      return resp.Json(200, "{\"status\":\"success\",\"data\":" + IssueJson(*is, false) + "}}");
    }
    if (parts.size() == 1 && m == "DELETE") {
      Status st = o_.store->DeleteIssue(static_cast<uint64_t>(id));
      if (!st.ok()) return resp.Error(Code(st), st.message());
      return resp.Json(200, "{\"status\":\"success\",\"data\":{\"id\":" + std::to_string(id) +
                                ",\"deleted\":true}}");
    }
    resp.Error(404, "no route for " + m + " " + req.path);
  }

 private:
  ErrorsApiOptions o_;
  metrics::Family<metrics::Counter>* items_;
  metrics::Counter* items_event_;
  metrics::Family<metrics::Counter>* rejected_;
  metrics::Counter* accepted_;
  metrics::Counter* log_records_;
  log::RateLimited log_;
  std::mutex rules_mu_;
  std::map<int64_t, std::shared_ptr<const errors::FingerprintRules>> rules_;  // GUARDED_BY
};

Result<std::string> IngestEventJson(ErrorsApi& api, int64_t project, std::string_view json) {
  return api.IngestJson(project, json);
}

std::shared_ptr<ErrorsApi> RegisterErrorsApi(net::HttpServer& http, const ErrorsApiOptions& o) {
  auto api = std::make_shared<ErrorsApi>(o);
  ErrorsApi* a = api.get();
  auto add = [&](std::string method, std::string path, bool prefix, net::Scope scope,
                 net::Handler h) {
    net::Route r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.prefix = prefix;
    r.scope = scope;
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  // Sentry ingest: any method (POST, OPTIONS preflight); DSN key checked in the handler.
  {
    net::Route r;
    r.method = "";
    r.path = "/api/";
    r.prefix = true;
    r.scope = net::kScopeNone;
    r.max_body_bytes = o.max_body_bytes;
    r.max_decoded_body_bytes = o.max_decoded_body_bytes;
    r.metric_name = "/api/<project>/sentry";
    r.keep_wire_body = true;  // a gzip /store/ body is stored as the SDK sent it
    r.handler = [a](Request& req, Response& resp) { a->Ingest(req, resp); };
    http.AddRoute(std::move(r));
  }
  add("GET", "/api/v1/projects", false, net::kScopeRead,
      [a](Request& q, Response& r) { a->ListProjects(q, r); });
  add("POST", "/api/v1/projects", false, net::kScopeAdmin,
      [a](Request& q, Response& r) { a->CreateProject(q, r); });
  add("GET", "/api/v1/projects/", true, net::kScopeRead,
      [a](Request& q, Response& r) { a->ProjectSub(q, r); });
  for (const char* m : {"POST", "PUT", "DELETE"}) {
    add(m, "/api/v1/projects/", true, net::kScopeAdmin,
        [a](Request& q, Response& r) { a->ProjectSub(q, r); });
  }
  add("GET", "/api/v1/issues", false, net::kScopeRead,
      [a](Request& q, Response& r) { a->ListIssues(q, r); });
  add("GET", "/api/v1/issues/", true, net::kScopeRead,
      [a](Request& q, Response& r) { a->IssueSub(q, r); });
  for (const char* m : {"PUT", "DELETE"}) {
    add(m, "/api/v1/issues/", true, net::kScopeAdmin,
        [a](Request& q, Response& r) { a->IssueSub(q, r); });
  }
  return api;
}

}  // namespace kansoku::api
