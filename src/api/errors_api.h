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
#include <string>
#include <string_view>

#include "base/status.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::meta {
class ProjectStore;
}
namespace kansoku::errors {
class ErrorStore;
class RateLimiter;
class SpikeProtector;
}  // namespace kansoku::errors
namespace kansoku::usage {
class Guard;
}
namespace kansoku::logs {
class Store;
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
  errors::SpikeProtector* spike = nullptr;     // optional: spike protection of event items
  // Optional: `log` envelope items go to the log store (else they are kept in the event log).
  logs::Store* log_store = nullptr;
  // An event's logs_links cover its time +- this (docs/design/errors.md section 7).
  int64_t logs_link_window_ms = 5 * 60000;
};

class ErrorsApi;

// Registers every route above; the returned object must outlive the server.
std::shared_ptr<ErrorsApi> RegisterErrorsApi(net::HttpServer& http, const ErrorsApiOptions& opts);

// In-process ingest of one Sentry event JSON into a project (the logback bridge): parsed, grouped
// with the project's fingerprint rules, admitted by the project's quotas and spike protection,
// stored durably, counted like SDK events. Returns the event id. Errors: NotFound (no such
// project), InvalidArgument (not an event), ResourceExhausted (a limit refused it), IOError.
Result<std::string> IngestEventJson(ErrorsApi& api, int64_t project, std::string_view json);

}  // namespace kansoku::api
