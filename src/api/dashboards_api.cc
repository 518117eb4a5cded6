#include "api/dashboards_api.h"

#include <simdjson.h>

#include <memory>
#include <set>

#include "base/log.h"
#include "meta/dashboard_store.h"
#include "net/http.h"
#include "net/http_server.h"

namespace kansoku::api {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr const char* kPanelTypes[] = {"timeseries", "stat",   "table", "markdown",
                                       "alerts",     "issues", "logs"};
constexpr size_t kMaxPanels = 200;
constexpr size_t kMaxVariables = 20;
constexpr size_t kMaxQueries = 20;
constexpr size_t kMaxTags = 20;

Status Bad(const std::string& field, const std::string& why) {
  return Status::InvalidArgument(field + ": " + why);
}

std::string TypeName(element e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
      return "an integer";
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

// Optional string field: absent is fine; present must be a string of at most max bytes (and at
// least min). *out receives the value.
Status OptString(object o, const char* key, const std::string& path, size_t min, size_t max,
                 std::string_view* out) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) {
    if (min > 0) return Bad(path + key, "required (a string)");
    return Status::Ok();
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return Bad(path + key, "must be a string, got " + TypeName(e));
  }
  if (s.size() < min || s.size() > max) {
    return Bad(path + key, "must be " + std::to_string(min) + ".." + std::to_string(max) +
                               " bytes long, got " + std::to_string(s.size()));
  }
  if (out) *out = s;
  return Status::Ok();
}

Status OptBool(object o, const char* key, const std::string& path) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return Status::Ok();
  if (!e.is_bool()) return Bad(path + key, "must be true or false, got " + TypeName(e));
  return Status::Ok();
}

// Integer field in [lo, hi]; required unless `optional`.
Status IntField(object o, const char* key, const std::string& path, int64_t lo, int64_t hi,
                bool optional, int64_t* out) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) {
    if (optional) return Status::Ok();
    return Bad(path + key,
               "required (an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  int64_t v = 0;
  bool is_int = e.get_int64().get(v) == simdjson::SUCCESS;
  if (!is_int || v < lo || v > hi) {
    std::string got = is_int ? std::to_string(v) : TypeName(e);
    if (!is_int && e.is_number()) got = simdjson::minify(e);
    return Bad(path + key, "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
                               ", got " + got);
  }
  if (out) *out = v;
  return Status::Ok();
}

Status GetArray(object o, const char* key, const std::string& path, size_t max, array* out,
                bool* present) {
  element e;
  *present = o[key].get(e) == simdjson::SUCCESS;
  if (!*present) return Status::Ok();
  if (e.get_array().get(*out) != simdjson::SUCCESS) {
    return Bad(path + key, "must be an array, got " + TypeName(e));
  }
  if (out->size() > max) {
    return Bad(path + key,
               "at most " + std::to_string(max) + " entries, got " + std::to_string(out->size()));
  }
  return Status::Ok();
}

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Status ValidateQueries(object panel, const std::string& path) {
  array queries;
  bool present = false;
  KANSOKU_RETURN_IF_ERROR(GetArray(panel, "queries", path, kMaxQueries, &queries, &present));
  if (!present) return Status::Ok();  // a default-constructed array must not be iterated
  size_t i = 0;
  for (element q : queries) {
    std::string qp = path + "queries[" + std::to_string(i++) + "].";
    object qo;
    if (q.get_object().get(qo) != simdjson::SUCCESS) {
      return Bad(qp.substr(0, qp.size() - 1),
                 "must be an object {expr, legend}, got " + TypeName(q));
    }
    KANSOKU_RETURN_IF_ERROR(OptString(qo, "expr", qp, 0, 20000, nullptr));
    KANSOKU_RETURN_IF_ERROR(OptString(qo, "legend", qp, 0, 500, nullptr));
  }
  return Status::Ok();
}

Status ValidatePanel(element pe, size_t index, std::set<int64_t>* ids) {
  std::string path = "panels[" + std::to_string(index) + "]";
  object p;
  if (pe.get_object().get(p) != simdjson::SUCCESS) {
    return Bad(path, "must be an object, got " + TypeName(pe));
  }
  path += ".";
  int64_t id = 0;
  KANSOKU_RETURN_IF_ERROR(IntField(p, "id", path, 1, 1000000000, false, &id));
  if (!ids->insert(id).second) return Bad(path + "id", "duplicate panel id " + std::to_string(id));
  std::string_view type;
  KANSOKU_RETURN_IF_ERROR(OptString(p, "type", path, 1, 64, &type));
  bool known = false;
  for (const char* t : kPanelTypes) known = known || type == t;
  if (!known) {
    return Bad(path + "type", "unknown panel type \"" + std::string(type) +
                                  "\" (timeseries, stat, table, markdown, alerts, issues, logs)");
  }
  KANSOKU_RETURN_IF_ERROR(OptString(p, "title", path, 0, 200, nullptr));
  element ge;
  if (p["grid"].get(ge) != simdjson::SUCCESS) return Bad(path + "grid", "required {x, y, w, h}");
  object g;
  if (ge.get_object().get(g) != simdjson::SUCCESS) {
    return Bad(path + "grid", "must be an object {x, y, w, h}, got " + TypeName(ge));
  }
  std::string gp = path + "grid.";
  int64_t x = 0, w = 0;
  KANSOKU_RETURN_IF_ERROR(IntField(g, "x", gp, 0, 23, false, &x));
  KANSOKU_RETURN_IF_ERROR(IntField(g, "y", gp, 0, 1000, false, nullptr));
  KANSOKU_RETURN_IF_ERROR(IntField(g, "w", gp, 1, 24, false, &w));
  KANSOKU_RETURN_IF_ERROR(IntField(g, "h", gp, 1, 100, false, nullptr));
  if (x + w > 24) {
    return Bad(gp + "w", "x + w must be at most 24 columns, got " + std::to_string(x) + " + " +
                             std::to_string(w));
  }
  KANSOKU_RETURN_IF_ERROR(ValidateQueries(p, path));
  element oe;
  if (p["options"].get(oe) == simdjson::SUCCESS && !oe.is_object()) {
    return Bad(path + "options", "must be an object, got " + TypeName(oe));
  }
  return Status::Ok();
}

Status ValidateVariables(object doc) {
  array vars;
  bool present = false;
  KANSOKU_RETURN_IF_ERROR(GetArray(doc, "variables", "", kMaxVariables, &vars, &present));
  if (!present) return Status::Ok();
  std::set<std::string_view> names;
  size_t i = 0;
  for (element ve : vars) {
    std::string path = "variables[" + std::to_string(i++) + "]";
    object v;
    if (ve.get_object().get(v) != simdjson::SUCCESS) {
      return Bad(path, "must be an object {name, label, match, multi, all}, got " + TypeName(ve));
    }
    path += ".";
    std::string_view name, label;
    KANSOKU_RETURN_IF_ERROR(OptString(v, "name", path, 1, 64, &name));
    if (!IsLabelName(name)) {
      return Bad(path + "name",
                 "\"" + std::string(name) + "\" is not a variable name ([a-zA-Z_][a-zA-Z0-9_]*)");
    }
    if (!names.insert(name).second) {
      return Bad(path + "name", "duplicate variable \"" + std::string(name) + "\"");
    }
    KANSOKU_RETURN_IF_ERROR(OptString(v, "label", path, 1, 200, &label));
    if (!IsLabelName(label)) {
      return Bad(path + "label", "\"" + std::string(label) + "\" is not a label name");
    }
    KANSOKU_RETURN_IF_ERROR(OptString(v, "match", path, 0, 2000, nullptr));
    KANSOKU_RETURN_IF_ERROR(OptBool(v, "multi", path));
    KANSOKU_RETURN_IF_ERROR(OptBool(v, "all", path));
  }
  return Status::Ok();
}

bool ServerOwned(std::string_view key) {
  return key == "id" || key == "version" || key == "created_at_ms" || key == "updated_at_ms" ||
         key == "updated_by";
}

// The stored body plus the server-owned fields, as the API answers it.
std::string DocumentJson(const meta::DashboardRecord& r) {
  std::string j = "{\"id\":" + net::JsonString(r.id) + ",\"version\":" + std::to_string(r.version) +
                  ",\"created_at_ms\":" + std::to_string(r.created_at_ms) +
                  ",\"updated_at_ms\":" + std::to_string(r.updated_at_ms) +
                  ",\"updated_by\":" + net::JsonString(r.updated_by);
  // r.body is a minified object: "{}" or "{...}".
  if (r.body.size() > 2)
    j += "," + r.body.substr(1);
  else
    j += "}";
  return j;
}

std::string SummaryJson(const meta::DashboardRecord& r) {
  return "{\"id\":" + net::JsonString(r.id) + ",\"title\":" + net::JsonString(r.title) +
         ",\"tags\":" + r.tags_json + ",\"panels\":" + std::to_string(r.panels) +
         ",\"version\":" + std::to_string(r.version) +
         ",\"updated_at_ms\":" + std::to_string(r.updated_at_ms) +
         ",\"updated_by\":" + net::JsonString(r.updated_by) + "}";
}

void Success(net::Response& resp, int code, const std::string& data) {
  resp.Json(code, "{\"status\":\"success\",\"data\":" + data + "}");
}

void StoreError(net::Response& resp, const Status& st) {
  switch (st.code()) {
    case Status::Code::kNotFound:
      return resp.Error(404, st.message());
    case Status::Code::kAlreadyExists:
      return resp.Error(409, st.message());
    case Status::Code::kResourceExhausted:
      return resp.Error(422, st.message());
    case Status::Code::kInvalidArgument:
      return resp.Error(400, st.message());
    default:
      log::Warn("dashboard store error", {{"error", st.ToString()}});
      return resp.Error(500, st.message());
  }
}

class DashboardsApi {
 public:
  explicit DashboardsApi(meta::DashboardStore* store) : store_(store) {}

  void List(net::Request&, net::Response& resp) {
    auto list = store_->List();
    if (!list.ok()) return StoreError(resp, list.status());
    std::string j = "[";
    for (size_t i = 0; i < list->size(); ++i) j += (i ? "," : "") + SummaryJson((*list)[i]);
    j += "]";
    Success(resp, 200, j);
  }

  void Get(const std::string& id, net::Response& resp) {
    auto r = store_->Get(id);
    if (!r.ok()) return StoreError(resp, r.status());
    Success(resp, 200, DocumentJson(*r));
  }

  // POST: create; PUT: create or replace at `url_id`.
  void Save(net::Request& req, net::Response& resp, const std::string& url_id) {
    auto v = ValidateDashboard(req.body);
    if (!v.ok()) return resp.Error(400, "invalid dashboard: " + v.status().message());
    meta::DashboardRecord rec;
    int64_t expected = meta::DashboardStore::kMustNotExist;
    if (!url_id.empty()) {
      if (!v->id.empty() && v->id != url_id) {
        return resp.Error(400, "invalid dashboard: id: \"" + v->id +
                                   "\" in the body differs from \"" + url_id + "\" in the URL");
      }
      rec.id = url_id;
      expected = v->version > 0 ? v->version : meta::DashboardStore::kAnyVersion;
    } else if (!v->id.empty()) {
      rec.id = v->id;
    } else {
      // A fresh id from the title, with a suffix while it is taken.
      std::string base = DashboardIdFromTitle(v->title);
      rec.id = base;
      for (int n = 2;; ++n) {
        auto e = store_->Exists(rec.id);
        if (!e.ok()) return StoreError(resp, e.status());
        if (!*e) break;
        if (n > 1000) return resp.Error(409, "no free id for \"" + base + "\"");
        rec.id = base.substr(0, 58) + "-" + std::to_string(n);
      }
    }
    rec.title = v->title;
    rec.tags_json = v->tags_json;
    rec.panels = v->panels;
    rec.body = std::move(v->body);
    rec.updated_by = req.principal.token_name;
    auto stored = store_->Put(rec, expected);
    if (!stored.ok()) return StoreError(resp, stored.status());
    log::Info("dashboard saved", {{"id", stored->id},
                                  {"version", static_cast<long long>(stored->version)},
                                  {"by", stored->updated_by}});
    Success(resp, url_id.empty() || stored->version == 1 ? 201 : 200, DocumentJson(*stored));
  }

  void Delete(net::Request& req, const std::string& id, net::Response& resp) {
    Status st = store_->Delete(id);
    if (!st.ok()) return StoreError(resp, st);
    log::Info("dashboard deleted", {{"id", id}, {"by", req.principal.token_name}});
    Success(resp, 200, "{\"id\":" + net::JsonString(id) + ",\"deleted\":true}");
  }

 private:
  meta::DashboardStore* store_;
};

}  // namespace

bool ValidDashboardId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
    if (!ok) return false;
  }
  return true;
}

std::string DashboardIdFromTitle(std::string_view title) {
  std::string id;
  bool dash = false;
  for (char c : title) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && !id.empty()) id += '-';
      dash = false;
      id += c;
      if (id.size() >= 48) break;
    } else {
      dash = true;
    }
  }
  return id.empty() ? "dashboard" : id;
}

Result<ValidatedDashboard> ValidateDashboard(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  auto err = parser.parse(json.data(), json.size()).get(doc);
  if (err != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("cannot parse JSON: ") +
                                   simdjson::error_message(err));
  }
  object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) {
    return Status::InvalidArgument("the document must be a JSON object, got " + TypeName(doc));
  }
  ValidatedDashboard out;
  std::string_view s;
  KANSOKU_RETURN_IF_ERROR(OptString(o, "title", "", 1, 200, &s));
  out.title = std::string(s);
  element ide;
  if (o["id"].get(ide) == simdjson::SUCCESS && !ide.is_null()) {
    std::string_view id;
    if (ide.get_string().get(id) != simdjson::SUCCESS || !ValidDashboardId(id)) {
      return Bad("id", "must match [a-z0-9][a-z0-9_-]{0,63}, got " + simdjson::minify(ide));
    }
    out.id = std::string(id);
  }
  element ve;
  if (o["version"].get(ve) == simdjson::SUCCESS && !ve.is_null()) {
    KANSOKU_RETURN_IF_ERROR(IntField(o, "version", "", 0, INT64_MAX, false, &out.version));
  }
  KANSOKU_RETURN_IF_ERROR(OptString(o, "description", "", 0, 20000, nullptr));
  KANSOKU_RETURN_IF_ERROR(OptString(o, "refresh", "", 0, 16, nullptr));
  array tags;
  bool present = false;
  KANSOKU_RETURN_IF_ERROR(GetArray(o, "tags", "", kMaxTags, &tags, &present));
  out.tags_json = "[";
  size_t i = 0;
  if (present) {
    for (element t : tags) {
      std::string_view tag;
      if (t.get_string().get(tag) != simdjson::SUCCESS || tag.empty() || tag.size() > 50) {
        return Bad("tags[" + std::to_string(i) + "]",
                   "must be a string of 1..50 bytes, got " + simdjson::minify(t).substr(0, 80));
      }
      out.tags_json += (i++ ? "," : "") + net::JsonString(tag);
    }
  }
  out.tags_json += "]";
  element te;
  if (o["time"].get(te) == simdjson::SUCCESS) {
    object to;
    if (te.get_object().get(to) != simdjson::SUCCESS) {
      return Bad("time", "must be an object {from, to}, got " + TypeName(te));
    }
    KANSOKU_RETURN_IF_ERROR(OptString(to, "from", "time.", 0, 64, nullptr));
    KANSOKU_RETURN_IF_ERROR(OptString(to, "to", "time.", 0, 64, nullptr));
  }
  KANSOKU_RETURN_IF_ERROR(ValidateVariables(o));
  array panels;
  KANSOKU_RETURN_IF_ERROR(GetArray(o, "panels", "", kMaxPanels, &panels, &present));
  std::set<int64_t> ids;
  i = 0;
  if (present) {
    for (element p : panels) KANSOKU_RETURN_IF_ERROR(ValidatePanel(p, i++, &ids));
  }
  out.panels = static_cast<int64_t>(i);

  // Re-serialize without the server-owned fields.
  out.body = "{";
  bool first = true;
  for (auto field : o) {
    if (ServerOwned(field.key)) continue;
    if (!first) out.body += ',';
    first = false;
    out.body += net::JsonString(field.key);
    out.body += ':';
    out.body += simdjson::minify(field.value);
  }
  out.body += '}';
  return out;
}

int FuzzDashboardJson(const uint8_t* data, size_t size) {
  auto v = ValidateDashboard(std::string_view(reinterpret_cast<const char*>(data), size));
  if (v.ok()) {
    // What validation accepted re-validates to the same body (idempotent normalization).
    auto again = ValidateDashboard(v->body);
    KANSOKU_CHECK(again.ok(), "BUG: a normalized dashboard no longer validates");
    KANSOKU_CHECK(again->body == v->body, "BUG: dashboard normalization is not idempotent");
  }
  return 0;
}

void RegisterDashboardsApi(net::HttpServer& http, const DashboardsApiOptions& opts) {
  auto api = std::make_shared<DashboardsApi>(opts.store);
  const std::string prefix = "/api/v1/dashboards/";
  auto id_of = [prefix](net::Request& req, net::Response& resp, std::string* id) {
    *id = req.path.substr(prefix.size());
    if (!ValidDashboardId(*id)) {
      resp.Error(404, "no dashboard with id \"" + id->substr(0, 80) +
                          "\" (ids match [a-z0-9][a-z0-9_-]{0,63})");
      return false;
    }
    return true;
  };
  auto add = [&](const char* method, const std::string& path, bool prefix_match, net::Scope scope,
                 net::Handler h) {
    net::Route r;
    r.method = method;
    r.path = path;
    r.prefix = prefix_match;
    r.scope = scope;
    r.offload = true;  // SQLite with synchronous=FULL fsyncs: not on an io thread
    r.max_body_bytes = opts.max_body_bytes;
    r.max_decoded_body_bytes = opts.max_body_bytes;
    r.metric_name = prefix_match ? "/api/v1/dashboards/*" : "/api/v1/dashboards";
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  add("GET", "/api/v1/dashboards", false, net::kScopeRead,
      [api](net::Request& q, net::Response& r) { api->List(q, r); });
  add("POST", "/api/v1/dashboards", false, net::kScopeEdit,
      [api](net::Request& q, net::Response& r) { api->Save(q, r, ""); });
  add("GET", prefix, true, net::kScopeRead, [api, id_of](net::Request& q, net::Response& r) {
    std::string id;
    if (id_of(q, r, &id)) api->Get(id, r);
  });
  add("PUT", prefix, true, net::kScopeEdit, [api, id_of](net::Request& q, net::Response& r) {
    std::string id;
    if (id_of(q, r, &id)) api->Save(q, r, id);
  });
  add("DELETE", prefix, true, net::kScopeEdit, [api, id_of](net::Request& q, net::Response& r) {
    std::string id;
    if (id_of(q, r, &id)) api->Delete(q, id, r);
  });
}

}  // namespace kansoku::api
