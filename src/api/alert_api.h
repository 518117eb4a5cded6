#pragma once
// HTTP API of alerting (docs/design/alerting.md §6): Prometheus' /api/v1/rules and
// /api/v1/alerts (same JSON shape), reload (/-/reload, /api/v1/rules/reload), API-managed rule
// files (/api/v1/rules/files/<name>.yml), silences (/api/v1/silences) and notification history
// (/api/v1/notifications, /api/v1/notifications/receivers).
//
// Thread safety: handlers only call the thread-safe RuleManager, Dispatcher and Silences.
// Ownership: everything in AlertApiOptions must outlive the HTTP server.
#include <functional>
#include <string>

#include "base/status.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::alert {
class RuleManager;
class Dispatcher;
class Silences;
}  // namespace kansoku::alert

namespace kansoku::api {

struct AlertApiOptions {
  alert::RuleManager* rules = nullptr;      // required
  alert::Dispatcher* dispatcher = nullptr;  // optional (no notifications configured)
  alert::Silences* silences = nullptr;      // required
  std::string rules_dir;                    // API-managed rule files (data/rules)
  std::function<Status()> reload;           // reloads rules (and what else the server reloads)
};

void RegisterAlertApi(net::HttpServer& http, const AlertApiOptions& opts);

// Go's strconv.FormatFloat(v, 'e', -1, 64): how Prometheus prints alert values ("1e+00").
std::string FormatFloatE(double v);

}  // namespace kansoku::api
