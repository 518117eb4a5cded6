#pragma once
// HTTP handlers of error tracking (docs/design/errors.md sections 2, 6, 7):
//   POST/OPTIONS /api/<project>/envelope/, /api/<project>/store/   Sentry ingest (DSN key auth)
//   /api/v1/projects...                                              projects and keys
//   /api/v1/issues...                                                issues, events, triage
// The Sentry routes are kScopeNone at the HTTP layer: SDKs authenticate with the DSN's public
// key, which the handler checks against the ProjectStore (header, query string or envelope dsn).
//
// Thread safety: handlers run concurrently; all state is in the thread-safe stores and the
// RateLimiter. Ownership: borrows everything in ErrorsApiOptions; it must outlive the server.
#include <cstdint>
#include <memory>

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::meta {
class ProjectStore;
}
namespace kansoku::errors {
class ErrorStore;
class RateLimiter;
}  // namespace kansoku::errors
namespace kansoku::usage {
class Guard;
}
namespace kansoku::metrics {
class Registry;
}

namespace kansoku::api {

struct ErrorsApiOptions {
  meta::ProjectStore* projects = nullptr;
  errors::ErrorStore* store = nullptr;
  errors::RateLimiter* limiter = nullptr;
  // Optional: accounts error events per project (tenant "sentry:<project name>") and applies the
  // tenant's max_events_per_minute (docs/design/usage.md).
  usage::Guard* guard = nullptr;
  metrics::Registry* metrics = nullptr;
  int64_t max_body_bytes = 20 << 20;           // Sentry ingest, on the wire
  int64_t max_decoded_body_bytes = 100 << 20;  // after Content-Encoding decoding
  bool tls = false;                            // DSNs shown as https://
};

class ErrorsApi;

// Registers every route above; the returned object must outlive the server.
std::shared_ptr<ErrorsApi> RegisterErrorsApi(net::HttpServer& http, const ErrorsApiOptions& opts);

}  // namespace kansoku::api
