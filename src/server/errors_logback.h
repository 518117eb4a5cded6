#pragma once
// The bridge from the log listeners to error tracking (docs/design/errors.md section 8): every
// batch the syslog and JSON-over-TCP listeners produce is looked at; ERROR (or worse) records
// that carry a Java stack trace — logstash-logback-encoder's `stack_trace` field, or logback
// SyslogAppender's lines joined into the message — become Sentry error events of one project,
// through the same parse / group / quota / store path as SDK events.
//
// Thread safety: the returned function may be called concurrently (listener threads).
// Ownership: keeps the ErrorsApi alive; the Registry must outlive it.
#include <cstdint>
#include <functional>
#include <memory>

#include "config/config.h"
#include "logs/record.h"

namespace kansoku::api {
class ErrorsApi;
}
namespace kansoku::metrics {
class Registry;
}

namespace kansoku::server {

std::function<void(const logs::LogBatch&)> MakeLogbackBridge(
    const std::shared_ptr<api::ErrorsApi>& api, const config::ErrorsConfig& cfg, int64_t project,
    metrics::Registry* registry);

}  // namespace kansoku::server
