#pragma once
// Dispatcher: kansoku's in-process Alertmanager (alerting.md §5): routes alerts by label
// matchers, groups them (group_by / group_wait / group_interval / repeat_interval), mutes them
// (silences, maintenance windows), de-duplicates against what each group last notified, and
// delivers through per-integration queues with retries, keeping a history.
//
// Thread safety: all public methods are thread-safe. Threads: one flush thread plus one delivery
// thread per integration (a hung receiver only blocks its own queue). Ownership: borrows the
// Clock, metrics Registry and Silences (they must outlive it); owns the integrations.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "alert/integrations.h"
#include "alert/notify_config.h"
#include "alert/silences.h"
#include "base/clock.h"
#include "base/metrics.h"

namespace kansoku::alert {

struct DispatcherOptions {
  NotifyConfig config;
  Clock* clock = &Clock::Real();
  metrics::Registry* metrics = nullptr;
  Silences* silences = nullptr;  // optional
  std::string state_dir;         // notify_state.json, history.jsonl; "" = memory only
  std::string external_url;
  size_t history_size = 1000;
  size_t queue_size = 64;         // per integration; beyond: dropped + counted
  int64_t tick_ms = 250;          // flush thread resolution
  int64_t min_backoff_ms = 1000;  // retry backoff doubles from here
  int64_t max_backoff_ms = 60000;
  int min_attempts = 3;  // at least this many attempts before giving up
  // Test seam: builds a receiver's integrations (default MakeIntegrations).
  std::function<std::vector<std::unique_ptr<Integration>>(const ReceiverConfig&)> make_integrations;
};

// One notification attempt as the history keeps it (in memory and in
// data/alerts/history.jsonl, one HistoryEntryJson per line; alerting.md §5.5).
struct HistoryAlert {
  tsdb::Labels labels;
  std::string status;   // firing | resolved
  std::string summary;  // the summary annotation, if any
  int64_t starts_at_ms = 0;
};
struct HistoryEntry {
  int64_t time_ms = 0;
  std::string group_key, receiver, integration, target;
  std::string status;  // firing | resolved
  size_t firing = 0, resolved = 0;
  std::vector<std::string> alertnames;
  std::string result;  // ok | failed | dropped
  std::string error;
  int attempts = 0;
  tsdb::Labels group_labels;
  std::vector<HistoryAlert> alerts;  // at most kHistoryAlerts, firing first
  size_t truncated_alerts = 0;       // alerts beyond them
};
constexpr size_t kHistoryAlerts = 20;
// The JSON object of an entry, as GET /api/v1/notifications and history.jsonl carry it.
std::string HistoryEntryJson(const HistoryEntry& e);
// Parses what HistoryEntryJson wrote; false for anything else.
bool ParseHistoryEntryJson(std::string_view json, HistoryEntry* out);

struct IntegrationHealth {
  std::string receiver, integration, target;
  int64_t last_success_ms = 0, last_failure_ms = 0;
  std::string last_error;
  int consecutive_failures = 0;
  uint64_t sent = 0, failed = 0, dropped = 0;
  size_t queued = 0;
};

struct GroupInfo {
  std::string key, receiver;
  tsdb::Labels group_labels;
  size_t alerts = 0;
  int64_t next_flush_ms = 0, last_sent_ms = 0;
};

class Dispatcher : public AlertSink {
 public:
  explicit Dispatcher(DispatcherOptions opts);
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Loads notify_state.json and history.jsonl and starts the threads.
  Status Start();
  void Stop();  // idempotent; pending deliveries are abandoned

  // Applies a new routes/receivers/maintenance config without a restart: new integrations
  // start; the old ones take no new work but still deliver what was queued for them (each
  // notification within its deadline and retry budget) and then end, alerts held in groups
  // are routed again; a group whose key stays the same keeps what it last notified, so nothing
  // is sent twice. The config must be valid (ParseNotifyConfig checked it).
  void Reconfigure(NotifyConfig config);

  // AlertSink: routes alerts into groups (never blocks on the network).
  void Send(const std::vector<Alert>& alerts) override;
  // Flushes the groups due at now_ms (the flush thread calls this every tick_ms).
  void Tick(int64_t now_ms);

  std::vector<HistoryEntry> History() const;  // newest first
  std::vector<IntegrationHealth> Health() const;
  std::vector<GroupInfo> Groups() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kansoku::alert
