#include "net/http.h"

#include "base/strings.h"

namespace kansoku::net {

std::string_view ScopeName(Scope s) {
  switch (s) {
    case kScopeNone:
      return "none";
    case kScopeIngest:
      return "ingest";
    case kScopeRead:
      return "read";
    case kScopeAdmin:
      return "admin";
    case kScopeEdit:
      return "edit";
  }
  return "none";
}

Scope ParseScope(std::string_view s) {
  if (s == "ingest") return kScopeIngest;
  if (s == "read") return kScopeRead;
  if (s == "admin") return kScopeAdmin;
  if (s == "edit") return kScopeEdit;
  return kScopeNone;
}

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

bool Request::QueryParam(std::string_view key, std::string* value) const {
  return kansoku::QueryParam(query, key, value);
}

namespace {
bool IsForm(const Request& r) {
  return StartsWith(r.Header("content-type"), "application/x-www-form-urlencoded");
}
void CollectParams(std::string_view qs, std::string_view key, std::vector<std::string>* out) {
  if (qs.empty()) return;
  for (std::string_view part : Split(qs, '&')) {
    size_t eq = part.find('=');
    if (UrlDecode(part.substr(0, eq)) == key) {
      out->push_back(eq == std::string_view::npos ? std::string() : UrlDecode(part.substr(eq + 1)));
    }
  }
}
}  // namespace

bool Request::FormParam(std::string_view key, std::string* value) const {
  if (kansoku::QueryParam(query, key, value)) return true;
  return IsForm(*this) && kansoku::QueryParam(body, key, value);
}

std::vector<std::string> Request::FormParams(std::string_view key) const {
  std::vector<std::string> out;
  CollectParams(query, key, &out);
  if (IsForm(*this)) CollectParams(body, key, &out);
  return out;
}

void Response::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void Response::Text(int code, std::string_view text) {
  status = code;
  content_type = "text/plain; charset=utf-8";
  body.assign(text);
  if (body.empty() || body.back() != '\n') body += '\n';
}

void Response::Json(int code, std::string json) {
  status = code;
  content_type = "application/json";
  body = std::move(json);
}

void Response::Error(int code, std::string_view message) {
  std::string j = "{\"status\":\"error\",\"error\":";
  j += JsonString(message);
  j += "}";
  Json(code, std::move(j));
}

}  // namespace kansoku::net
