#pragma once
// Server config of the built-in alert monitors (`monitors:`) and usage budgets (`budgets:`);
// docs/design/alerting.md §3.5-3.8 and docs/design/usage.md. Included by config/config.h; the
// YAML parsing is in monitors.cc (every error names file:line: key: why). Defaults are written
// at each field; an absent section keeps them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kansoku::config {

// monitors.errors.event_thresholds[]: "more than N events of one issue within a window".
struct IssueEventThreshold {
  int64_t project = 0;         // project: Sentry project id; 0 / absent = every project
  uint64_t events = 0;         // events: alert when an issue got MORE than this many (required)
  int64_t window_ms = 300000;  // window: 5m
  std::string level;           // level: only issues of this level (error, fatal...); "" = any
  std::map<std::string, std::string> labels;  // labels: added to the alert (severity, team)
};

// monitors.errors: alerts over the error-tracking issues (src/errors).
struct ErrorMonitorsConfig {
  bool new_issue = true;  // new_issue: "NewIssue" while a new issue is unresolved and young
  int64_t new_issue_window_ms = 3600000;  // new_issue_window: 1h; a new-issue alert lasts this long
  bool regression = true;         // regression: "IssueRegressed" while an issue is regressed
  std::vector<int64_t> projects;  // projects: only these project ids; empty = every project
  std::vector<IssueEventThreshold> event_thresholds;  // event_thresholds: none by default
};

// monitors.cron.monitors[]: a monitor defined on the server. It wins over the monitor_config
// the SDK sends (and lets SDKs that send none, or plain heartbeats, be monitored).
struct CronMonitorConfig {
  int64_t project = 0;     // project: Sentry project id; 0 = any project with this slug
  std::string slug;        // slug: the monitor_slug of the check-ins (required)
  std::string schedule;    // schedule: crontab ("0 3 * * *", "@daily") or "@every 10m" (required)
  std::string timezone;    // timezone: tz name or offset for crontabs; "" = UTC
  int64_t margin_ms = -1;  // checkin_margin: grace after the due time; -1 = cron.default_margin
  int64_t max_runtime_ms = -1;  // max_runtime: in_progress longer = timeout; -1 = default
  std::map<std::string, std::string> labels;  // labels: added to the monitor's alerts
};

// monitors.cron: missed / timed out / failed check-ins of Sentry cron monitors.
struct CronMonitorsConfig {
  bool enabled = true;                       // enabled: on by default (only monitors that
                                             // check in with a schedule are watched)
  int64_t default_margin_ms = 60000;         // default_margin: 1m (Sentry's default)
  int64_t default_max_runtime_ms = 1800000;  // default_max_runtime: 30m (Sentry's default)
  bool failed = true;                        // failed: alert while the newest run ended in error
  std::vector<CronMonitorConfig> monitors;   // monitors: server-side definitions
};

// monitors.log_queries[]: "more than N matching log lines in a window".
struct LogQueryMonitorConfig {
  std::string name;            // name: the alert's `monitor` label (required, unique)
  std::string query;           // query: log query language (docs/logs-query.md), parsed at load
  int64_t window_ms = 300000;  // window: 5m
  uint64_t threshold = 0;      // threshold: alert when matches > threshold (default 0: any match)
  std::vector<std::string> group_by;          // group_by: one alert per value of these fields
  std::map<std::string, std::string> labels;  // labels: added (severity, team)
  std::string summary;                        // summary: annotation text; "" = generated
};

struct MonitorsConfig {
  int64_t interval_ms = 15000;  // interval: how often the monitors below run (>= 1s)
  ErrorMonitorsConfig errors;
  CronMonitorsConfig cron;
  std::vector<LogQueryMonitorConfig> log_queries;
  // limit_warn_at: for every per-token hard limit (limits.*.max_active_series,
  // max_new_series_per_hour, max_samples_per_second, max_events_per_minute,
  // max_log_bytes_per_second) a budget alert fires at this fraction of it; 0 = off.
  double limit_warn_at = 0.8;
};

// budgets[]: usage budgets that warn before a hard limit is reached (usage.md §budgets).
struct BudgetConfig {
  std::string name;  // name: the alert's `budget` label (required, unique)
  // kind: what is counted —
  //   hosts          registered, not retired hosts (selector: service, role, status)
  //   active_series  active series (selector: token, or ONE of usage.accounting_labels)
  //   error_events   error events stored within `window` (selector: project)
  //   log_lines      log lines stored within `window` (selector: stream labels)
  std::string kind;
  std::map<std::string, std::string> selector;  // selector: label -> value (exact match)
  double limit = 0;                             // limit: the budget (100%); > 0 required
  double warn_at = 0.8;    // warn_at: fraction of limit that fires "UsageBudget" severity warning
  double critical_at = 1;  // critical_at: fraction that fires with severity critical; 0 = off
  int64_t window_ms = 3600000;                // window: 1h (error_events, log_lines)
  std::map<std::string, std::string> labels;  // labels: added (team, ...)
};

}  // namespace kansoku::config
