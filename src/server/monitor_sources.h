#pragma once
// Built-in monitors over error tracking, cron check-ins, logs and usage, as alert::Sources
// (docs/design/alerting.md §3.5-3.8). Each returns the alert instances whose condition holds
// now; the RuleManager runs them on its scheduler and feeds the usual state machine, so ALERTS,
// persistence, routing, grouping, silences and maintenance windows apply unchanged.
//
//   error_issues  NewIssue          {project, issue, level}  a new issue, while unresolved and
//                                    younger than errors.new_issue_window
//                 IssueRegressed    {project, issue, level}  while the issue is regressed
//                 IssueEventsAboveThreshold {project, issue, level, window, threshold}
//                                    more than N events of one issue within the window
//   cron          CronMissed / CronTimeout / CronFailed {project, monitor}
//   log_query:<n> LogQueryMatches   {monitor, <group_by fields>}  matches > threshold in window
//   budgets       UsageBudget       {budget, kind, severity, <selector>}  usage >= warn_at·limit
//
// Counting "events within a window" keeps, per issue (and per project for budgets), the
// cumulative count sampled at each run: the window's count is now minus the sample at
// now-window; an issue first seen inside the window counts from 0. After a restart a window
// fills up again (it under-counts, never over-counts, for one window).
//
// Thread safety: a Source's Collect is never concurrent with itself (RuleManager contract); the
// stores it reads are thread-safe. Ownership: borrowed stores must outlive the RuleManager.
#include <memory>
#include <vector>

#include "alert/source.h"
#include "base/status.h"
#include "config/config.h"

namespace kansoku::errors {
class ErrorStore;
}
namespace kansoku::logs {
class Store;
}
namespace kansoku::usage {
class Guard;
}
namespace kansoku::meta {
class HostStore;
}

namespace kansoku::server {

std::unique_ptr<alert::Source> MakeIssueSource(errors::ErrorStore* store,
                                               const config::ErrorMonitorsConfig& cfg,
                                               int64_t interval_ms);

// InvalidArgument naming the monitor when a server-side definition has a bad schedule or zone.
Result<std::unique_ptr<alert::Source>> MakeCronSource(errors::ErrorStore* store,
                                                      const config::CronMonitorsConfig& cfg,
                                                      int64_t interval_ms, int64_t start_ms);

// InvalidArgument ("monitors.log_queries[i] (name): query: ...") when the query does not parse.
Result<std::unique_ptr<alert::Source>> MakeLogQuerySource(logs::Store* store,
                                                          const config::LogQueryMonitorConfig& cfg,
                                                          int64_t interval_ms);

struct BudgetDeps {
  meta::HostStore* hosts = nullptr;      // hosts budgets
  usage::Guard* guard = nullptr;         // active_series budgets and the implicit limit budgets
  errors::ErrorStore* errors = nullptr;  // error_events budgets
  logs::Store* logs = nullptr;           // log_lines budgets
};
// Configured budgets plus, when limit_warn_at > 0, one implicit budget per per-token hard
// limit (series, new series/h, samples/s, events/min, log bytes/s) that warns at
// limit_warn_at of it.
// InvalidArgument when a budget needs a store that is missing.
Result<std::unique_ptr<alert::Source>> MakeBudgetSource(const BudgetDeps& deps,
                                                        const std::vector<config::BudgetConfig>& b,
                                                        double limit_warn_at, int64_t interval_ms);

}  // namespace kansoku::server
