#pragma once
// The dashboards API (docs/design/dashboards.md):
//   GET    /api/v1/dashboards         list (read)
//   GET    /api/v1/dashboards/<id>    one document (read)
//   POST   /api/v1/dashboards         create (edit)
//   PUT    /api/v1/dashboards/<id>    create or replace, optimistic on "version" (edit)
//   DELETE /api/v1/dashboards/<id>    (edit)
// Bodies are validated by ValidateDashboard (shape, sizes, known panel types, grid bounds); a
// bad document is a 400 naming the field. Stored in meta::DashboardStore.
//
// Thread safety: handlers run on worker threads; the store is thread-safe.
// Ownership: the store must outlive the HTTP server.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::meta {
class DashboardStore;
}

namespace kansoku::api {

struct DashboardsApiOptions {
  meta::DashboardStore* store = nullptr;
  int64_t max_body_bytes = 1 << 20;
};

void RegisterDashboardsApi(net::HttpServer& http, const DashboardsApiOptions& opts);

// A dashboard document that passed validation.
struct ValidatedDashboard {
  std::string id;  // from the document; empty when absent
  std::string title;
  std::string tags_json;  // JSON array
  int64_t panels = 0;
  int64_t version = -1;  // the "version" the editor started from; -1 when absent
  // The document re-serialized (minified) without the server-owned fields id, version,
  // created_at_ms, updated_at_ms, updated_by; unknown fields are kept.
  std::string body;
};

// Validates a dashboard document. InvalidArgument names the field and why, e.g.
// "panels[3].grid.w: must be an integer 1..24, got 30".
Result<ValidatedDashboard> ValidateDashboard(std::string_view json);

// Whether s is a valid dashboard id: [a-z0-9][a-z0-9_-]{0,63}.
bool ValidDashboardId(std::string_view s);
// An id made from a title: lower-case letters and digits, other runs become '-' ("Web tier" ->
// "web-tier"); "dashboard" when nothing is left.
std::string DashboardIdFromTitle(std::string_view title);

// libFuzzer entry: validation of arbitrary bytes never crashes.
int FuzzDashboardJson(const uint8_t* data, size_t size);

}  // namespace kansoku::api
