#pragma once
// Sentry `log` envelope items (@sentry/node `Sentry.logger.*` with enableLogs) as log records for
// the log store (docs/design/errors.md section 3).
//
// Payload: {"version":2,"items":[{"timestamp":<s>,"level":"error","body":"...",
//   "trace_id":"<32 hex>","severity_number":17,"attributes":{"k":{"value":..,"type":..}}}]}
// (a bare log object without "items" is read as one item).
// Mapping: _time <- timestamp (ns); _msg <- body; labels source="sentry", level (normalised),
// service <- attribute service.name, else the project's name; host <- attribute
// server.address when present. Fields: trace_id, span_id (<- sentry.trace.parent_span_id),
// severity_number, sentry_project (id), and every attribute by its name (numbers and booleans
// as text).
//
// Errors: InvalidArgument naming the item ("log item 3: ...") when the payload is not JSON or an
// item has no body; items before it are kept in *out.
// Thread safety: pure function (thread_local parser).
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "logs/record.h"

namespace kansoku::api {

struct SentryLogContext {
  int64_t project = 0;
  std::string project_name;
  int64_t now_ns = 0;  // for items without a timestamp
};

Status SentryLogItemToRecords(std::string_view payload, const SentryLogContext& ctx,
                              logs::LogBatch* out);

}  // namespace kansoku::api
