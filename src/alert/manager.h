#pragma once
// RuleManager: loads Prometheus rule files, evaluates groups on a schedule, keeps alert state
// (persisted in data/alerts/state.json) and hands alerts to the sinks (alerting.md §1-3).
//
// Collaborators are seams: the query engine reads through tsdb::Queryable, recording rules and
// ALERTS series are written through tsdb::Appendable, alerts leave through AlertSink (the
// dispatcher and the Alertmanager forwarder), time comes from Clock.
//
// Thread safety: every public method is thread-safe. One scheduler thread plus eval_threads
// workers; a group is evaluated by one worker at a time. Reload swaps the group set atomically
// (a failed reload changes nothing). Ownership: borrows everything in ManagerOptions; they must
// outlive the manager (Stop before destroying them). Owns its sources.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "alert/rule_file.h"
#include "alert/source.h"
#include "alert/tracker.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "tsdb/storage.h"

namespace kansoku::query {
class Engine;
}

namespace kansoku::alert {

struct ManagerOptions {
  tsdb::Queryable* queryable = nullptr;    // required
  tsdb::Appendable* appendable = nullptr;  // required (recording rules, ALERTS)
  const query::Engine* engine = nullptr;   // required
  Clock* clock = &Clock::Real();
  metrics::Registry* metrics = nullptr;    // optional
  std::vector<AlertSink*> sinks;           // where alerts go
  std::string state_dir;                   // "" = no persistence (tests); else data/alerts
  std::vector<std::string> rule_patterns;  // globs (--rules, alerting.rule_files)
  std::string api_rules_dir;               // API-managed files (data/rules), "" = none
  int eval_threads = 2;  // 0 = no background evaluation (tests and bench drive EvalAllAt)
  int64_t default_interval_ms = 60000;  // evaluation_interval: 1m
  int64_t resend_delay_ms = 60000;      // resend_delay: 1m
  FlappingOptions flapping;
  tsdb::Labels external_labels;
  std::string external_url;  // for generatorURL and $externalURL
};

// Snapshots for the API (Prometheus' /api/v1/rules and /api/v1/alerts).
struct AlertSnapshot {
  ActiveAlert alert;
  std::string rule;
};
struct RuleSnapshot {
  bool alerting = false;
  std::string name, query;
  int64_t for_ms = 0, keep_firing_for_ms = 0;
  std::vector<std::pair<std::string, std::string>> labels;
  Annotations annotations;
  std::string health = "unknown";  // ok | err | unknown | nodata
  std::string last_error;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
  std::vector<ActiveAlert> alerts;
};
struct GroupSnapshot {
  std::string name, file;
  int64_t interval_ms = 0, limit = 0;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
  std::vector<RuleSnapshot> rules;
};

class RuleManager {
 public:
  explicit RuleManager(ManagerOptions opts);
  ~RuleManager();
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // Restores state.json, loads the rule files and starts the threads. A rule-file error at
  // start is returned (the server refuses to start with broken rules, like Prometheus).
  Status Start();
  // Saves state and stops the threads. Idempotent.
  void Stop();

  // Re-reads every rule file. On error nothing changes and the error (file:line: reason) is
  // returned; counted in kansoku_alert_rule_reloads_total{result}.
  Status Reload();
  // Adds a built-in monitor; before or after Start.
  void AddSource(std::unique_ptr<Source> source);

  // Evaluates every group (and source) once at t, synchronously (on `threads` threads, the
  // caller's included), and sends due alerts. For tests and bench/rules.
  void EvalAllAt(int64_t t_ms, int threads = 1);
  // Loads rules from already-parsed files (tests, bench), replacing the current set.
  void SetRuleFilesForTest(std::vector<RuleFile> files);

  std::vector<GroupSnapshot> Groups() const;
  std::vector<AlertSnapshot> Alerts() const;
  // Writes state.json now (also done after changes, ≤1/s, and at Stop).
  Status SaveState();
  size_t NumRules() const;

  const ManagerOptions& options() const { return opts_; }

  class Impl;

 private:
  ManagerOptions opts_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kansoku::alert
