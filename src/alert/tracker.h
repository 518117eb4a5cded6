#pragma once
// AlertTracker: the alert state machine of one alerting rule or source (alerting.md §3).
//
// Each evaluation hands it the instances whose condition holds now (labels already final:
// alertname + series labels + rule labels; annotations already expanded). It moves instances
// through inactive -> pending (for) -> firing -> resolved, honouring keep_firing_for and flap
// damping, and tells which ALERTS / ALERTS_FOR_STATE samples to write and which alerts to send.
//
// Thread safety: none; the owner (RuleManager) serialises access per rule. Plain values inside;
// copyable so the API can take snapshots.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "tsdb/labels.h"

namespace kansoku::alert {

struct FlappingOptions {
  int threshold = 4;                   // transitions within window that make an alert flapping
  int64_t window_ms = 30 * 60 * 1000;  // 30m
  int64_t hold_ms = 15 * 60 * 1000;    // condition must stay false this long before resolving
};

struct Instance {
  tsdb::Labels labels;
  Annotations annotations;
  double value = 0;
};

struct ActiveAlert {
  tsdb::Labels labels;
  Annotations annotations;
  AlertState state = AlertState::kPending;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;  // != 0: resolved (state kInactive), kept for resolved notices
  int64_t last_sent_ms = 0;
  int64_t keep_firing_since_ms = 0;
  int64_t flap_hold_since_ms = 0;
  std::vector<int64_t> transitions_ms;  // firing<->inactive changes, newest last, pruned by window
  bool flapping = false;
};

struct TrackerOptions {
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  bool flap_damping = true;
  FlappingOptions flapping;
  int64_t resolved_retention_ms = 15 * 60 * 1000;
};

class AlertTracker {
 public:
  explicit AlertTracker(TrackerOptions opts) : opts_(opts) {}

  // One evaluation at t_ms with the instances whose condition holds. Returns true if any
  // instance changed state (so persisted state is dirty).
  bool Apply(std::vector<Instance> current, int64_t t_ms);

  // ALERTS{alertstate=...} = 1 and ALERTS_FOR_STATE = active_at seconds for the active
  // (pending or firing) instances, as (labels, value).
  void SeriesToWrite(std::vector<std::pair<tsdb::Labels, double>>* out) const;

  // Alerts due for (re)sending at t (Prometheus' needsSending): firing every resend_delay,
  // resolved ones once more. Marks them sent. valid_for_ms sets endsAt of firing alerts.
  std::vector<Alert> TakeAlertsToSend(int64_t t_ms, int64_t resend_delay_ms, int64_t valid_for_ms,
                                      const std::string& generator_url);

  const std::map<tsdb::Labels, ActiveAlert>& alerts() const { return alerts_; }
  // Restores persisted instances (state.json); replaces what is there.
  void Restore(std::vector<ActiveAlert> alerts);
  const TrackerOptions& options() const { return opts_; }
  void set_options(const TrackerOptions& o) { opts_ = o; }

 private:
  void NoteTransition(ActiveAlert& a, int64_t t_ms);
  TrackerOptions opts_;
  std::map<tsdb::Labels, ActiveAlert> alerts_;
};

}  // namespace kansoku::alert
