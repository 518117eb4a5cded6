#include "alert/tracker.h"

#include <set>

namespace kansoku::alert {

void AlertTracker::NoteTransition(ActiveAlert& a, int64_t t_ms) {
  a.transitions_ms.push_back(t_ms);
  int64_t min_t = t_ms - opts_.flapping.window_ms;
  size_t drop = 0;
  while (drop < a.transitions_ms.size() && a.transitions_ms[drop] < min_t) ++drop;
  a.transitions_ms.erase(a.transitions_ms.begin(), a.transitions_ms.begin() + drop);
  if (a.transitions_ms.size() > 64) {
    a.transitions_ms.erase(a.transitions_ms.begin(), a.transitions_ms.end() - 64);
  }
}

bool AlertTracker::Apply(std::vector<Instance> current, int64_t t_ms) {
  bool changed = false;
  std::set<tsdb::Labels> seen;
  for (auto& inst : current) {
    if (!seen.insert(inst.labels).second) continue;  // duplicate label sets: first wins
    auto it = alerts_.find(inst.labels);
    if (it == alerts_.end()) {
      ActiveAlert a;
      a.labels = inst.labels;
      a.annotations = std::move(inst.annotations);
      a.value = inst.value;
      a.state = AlertState::kPending;
      a.active_at_ms = t_ms;
      alerts_.emplace(inst.labels, std::move(a));
      changed = true;
      it = alerts_.find(inst.labels);
    } else {
      ActiveAlert& a = it->second;
      a.value = inst.value;
      a.annotations = std::move(inst.annotations);
      a.keep_firing_since_ms = 0;
      a.flap_hold_since_ms = 0;
      if (a.state == AlertState::kInactive) {
        // Resolved earlier and back again: a new activation, keeping the transition history.
        a.state = AlertState::kPending;
        a.active_at_ms = t_ms;
        a.fired_at_ms = 0;
        a.resolved_at_ms = 0;
        a.last_sent_ms = 0;
        changed = true;
      }
    }
    ActiveAlert& a = it->second;
    if (a.state == AlertState::kPending && t_ms - a.active_at_ms >= opts_.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = t_ms;
      NoteTransition(a, t_ms);
      changed = true;
    }
  }
  // Instances whose condition no longer holds.
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    ActiveAlert& a = it->second;
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending) {
      it = alerts_.erase(it);
      changed = true;
      continue;
    }
    if (a.state == AlertState::kInactive) {
      if (t_ms - a.resolved_at_ms >= opts_.resolved_retention_ms) {
        it = alerts_.erase(it);
        changed = true;
      } else {
        ++it;
      }
      continue;
    }
    // Firing, condition false.
    if (opts_.keep_firing_for_ms > 0) {
      if (a.keep_firing_since_ms == 0) {
        a.keep_firing_since_ms = t_ms;
        changed = true;
      }
      if (t_ms - a.keep_firing_since_ms < opts_.keep_firing_for_ms) {
        ++it;
        continue;
      }
    }
    if (opts_.flap_damping && opts_.flapping.threshold > 0) {
      int64_t min_t = t_ms - opts_.flapping.window_ms;
      int n = 0;
      for (int64_t x : a.transitions_ms)
        if (x >= min_t) ++n;
      // The resolution would be one more transition.
      if (n + 1 >= opts_.flapping.threshold || a.flap_hold_since_ms != 0) {
        if (!a.flapping) changed = true;
        a.flapping = true;
        if (a.flap_hold_since_ms == 0) a.flap_hold_since_ms = t_ms;
        if (t_ms - a.flap_hold_since_ms < opts_.flapping.hold_ms) {
          ++it;
          continue;
        }
      }
    }
    a.state = AlertState::kInactive;
    a.resolved_at_ms = t_ms;
    a.keep_firing_since_ms = 0;
    a.flap_hold_since_ms = 0;
    a.flapping = false;
    NoteTransition(a, t_ms);
    changed = true;
    ++it;
  }
  // Flapping flag for firing alerts that keep toggling (shown in the API).
  if (opts_.flap_damping && opts_.flapping.threshold > 0) {
    for (auto& [ls, a] : alerts_) {
      if (a.state != AlertState::kFiring || a.flap_hold_since_ms) continue;
      int64_t min_t = t_ms - opts_.flapping.window_ms;
      int n = 0;
      for (int64_t x : a.transitions_ms)
        if (x >= min_t) ++n;
      a.flapping = n >= opts_.flapping.threshold;
    }
  }
  return changed;
}

void AlertTracker::SeriesToWrite(std::vector<std::pair<tsdb::Labels, double>>* out) const {
  for (const auto& [ls, a] : alerts_) {
    if (a.state == AlertState::kInactive) continue;
    tsdb::LabelsBuilder b(ls);
    b.Set(tsdb::kMetricName, "ALERTS");
    b.Set("alertstate", AlertStateName(a.state));
    out->emplace_back(b.Build(), 1.0);
    tsdb::LabelsBuilder f(ls);
    f.Set(tsdb::kMetricName, "ALERTS_FOR_STATE");
    out->emplace_back(f.Build(), static_cast<double>(a.active_at_ms) / 1000.0);
  }
}

std::vector<Alert> AlertTracker::TakeAlertsToSend(int64_t t_ms, int64_t resend_delay_ms,
                                                  int64_t valid_for_ms,
                                                  const std::string& generator_url) {
  std::vector<Alert> out;
  for (auto& [ls, a] : alerts_) {
    bool send = false;
    if (a.state == AlertState::kPending) continue;
    if (a.state == AlertState::kInactive) {
      send = a.last_sent_ms < a.resolved_at_ms;
    } else {
      send = a.last_sent_ms == 0 || a.last_sent_ms + resend_delay_ms <= t_ms;
    }
    if (!send) continue;
    Alert x;
    x.labels = a.labels;
    x.annotations = a.annotations;
    x.starts_at_ms = a.active_at_ms;
    x.ends_at_ms = a.state == AlertState::kInactive ? a.resolved_at_ms : t_ms + valid_for_ms;
    x.generator_url = generator_url;
    a.last_sent_ms = t_ms;
    out.push_back(std::move(x));
  }
  return out;
}

void AlertTracker::Restore(std::vector<ActiveAlert> alerts) {
  alerts_.clear();
  for (auto& a : alerts) {
    tsdb::Labels k = a.labels;
    alerts_.emplace(std::move(k), std::move(a));
  }
}

}  // namespace kansoku::alert
