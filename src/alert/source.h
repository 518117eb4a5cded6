#pragma once
// alert::Source: how built-in monitors plug into alerting (alerting.md §3.5).
//
// A Source is polled by the RuleManager every interval_ms() on its evaluation pool, like a rule
// group. Collect returns the alert instances whose condition holds *now*; the manager feeds them
// through the same AlertTracker as PromQL alerting rules (for / keep_firing_for / flapping),
// writes ALERTS / ALERTS_FOR_STATE, persists the state and sends the alerts to the sinks, so
// routing, grouping, silences and maintenance windows apply unchanged.
//
// Implementations (registered by server/alert_wiring.cc): server/alert_sources.h (HostDown,
// CheckFailed over the hosts registry) and server/monitor_sources.h (error issues, cron
// check-ins, log query matches, usage budgets).
//
// Thread safety: Collect is called from one evaluation thread at a time (never concurrently
// with itself) but on different threads over time. Ownership: the RuleManager owns its sources.
#include <cstdint>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "base/status.h"
#include "tsdb/labels.h"

namespace kansoku::alert {

struct SourceInstance {
  // Must include "alertname"; the source's labels() are added when absent.
  tsdb::Labels labels;
  Annotations annotations;  // final text (no templating)
  double value = 0;
};

class Source {
 public:
  virtual ~Source() = default;
  // Stable name: the pseudo-group "source:<name>" in /api/v1/rules and in state.json.
  virtual std::string name() const = 0;
  virtual int64_t interval_ms() const { return 60000; }
  virtual int64_t for_ms() const { return 0; }
  virtual int64_t keep_firing_for_ms() const { return 0; }
  // Instances whose condition holds at now_ms. An error marks the source unhealthy and leaves
  // its alerts as they were (no false resolve).
  virtual Result<std::vector<SourceInstance>> Collect(int64_t now_ms) = 0;
};

}  // namespace kansoku::alert
