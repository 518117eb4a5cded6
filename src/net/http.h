#pragma once
// Request/Response types every HTTP handler sees. Deliberately free of Boost headers so the many
// handler files compile fast; only net/http_server.cc includes Beast.
//
// A Request arrives with its body already de-chunked and decoded (Content-Encoding gzip, deflate,
// zstd, snappy, br are undone by the server, within the route's limits). Handlers fill a Response.
// Thread safety: a Request/Response pair belongs to one handler invocation.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"

namespace kansoku::net {

// What a token may do. admin implies read and ingest.
enum Scope : uint32_t {
  kScopeNone = 0,    // health checks and static UI files: no token needed
  kScopeIngest = 1,  // write data
  kScopeRead = 2,    // query data
  kScopeAdmin = 4,   // manage tokens, projects, settings
  kScopeEdit = 8,    // change shared configuration objects (dashboards) without being admin
};
std::string_view ScopeName(Scope s);
// "ingest", "read", "admin" -> Scope; kScopeNone if unknown.
Scope ParseScope(std::string_view s);

struct Principal {
  int64_t token_id = 0;
  std::string token_name;
  uint32_t scopes = 0;  // bitmask of Scope
  bool Has(Scope s) const { return (scopes & s) != 0 || (scopes & kScopeAdmin) != 0; }
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: /api/v1/query?query=up
  std::string path;    // percent-decoded? no: raw path part of target
  std::string query;   // raw query string after '?', without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;                                          // decoded body
  size_t wire_body_bytes = 0;  // body size as received (before Content-Encoding decoding)
  // The body as received when it was Content-Encoded and the route sets keep_wire_body (so a
  // handler can store the client's gzip as is); empty otherwise.
  std::string wire_body;
  std::string remote_addr;  // "127.0.0.1:53412" or "[::1]:53412"
  Principal principal;      // filled by the auth middleware

  // First header with this (lower-case) name, or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
  // Query-string parameter (percent-decoded); false when absent. For form-encoded POST bodies
  // use FormParam, which looks at the query string and the body.
  bool QueryParam(std::string_view key, std::string* value) const;
  bool FormParam(std::string_view key, std::string* value) const;
  // All values of a repeated parameter (match[]=a&match[]=b), query string then form body.
  std::vector<std::string> FormParams(std::string_view key) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void SetHeader(std::string name, std::string value);
  // text/plain body with a trailing newline.
  void Text(int code, std::string_view text);
  // application/json body.
  void Json(int code, std::string json);
  // {"status":"error","error":"<message>"}: the one error shape kansoku's own APIs use.
  void Error(int code, std::string_view message);
};

// JSON string escaping lives in base/json.h; handlers reach it as net::JsonString too.
using kansoku::AppendJsonEscaped;
using kansoku::JsonString;

using Handler = std::function<void(Request&, Response&)>;

// Route: how one path is served. One immutable Route per registration, shared by all requests.
struct Route {
  std::string method;  // "GET", "POST", ... or "" for any method
  std::string path;    // exact path, or a prefix when prefix is true
  bool prefix = false;
  Scope scope = kScopeRead;  // what the caller's token needs
  bool allow_query_token =
      false;  // accept ?token= / ?api_key= (only for clients that can't send headers)
  int64_t max_body_bytes = 1 << 20;           // on the wire, before decoding; 413 beyond
  int64_t max_decoded_body_bytes = 16 << 20;  // after Content-Encoding decoding; 413 beyond
  bool offload = false;         // run on the worker pool (queries, heavy writes), not the io thread
  bool keep_wire_body = false;  // keep an encoded body in Request::wire_body after decoding
  std::string metric_name;      // route label in self-metrics; defaults to path
  Handler handler;
};

}  // namespace kansoku::net
