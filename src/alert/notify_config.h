#pragma once
// Notification configuration (alerting.md §5): the route tree, receivers and recurring
// maintenance windows, in Alertmanager's YAML shape where the concepts match.
//
// Loaded from the file named by alerting.notifications_file. Errors name file, line and key.
// Thread safety: an immutable value after parsing, shared read-only.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::alert {

struct RouteConfig {
  std::string receiver;                     // inherited when empty
  int receiver_line = 0, receiver_col = 0;  // where `receiver:` is (1-based; 0 = unset)
  std::vector<std::string> group_by;        // labels; {"..."} = every label
  bool group_by_set = false;
  int64_t group_wait_ms = -1;       // -1 = inherit (root default 30s)
  int64_t group_interval_ms = -1;   // root default 5m
  int64_t repeat_interval_ms = -1;  // root default 4h
  std::vector<tsdb::Matcher> matchers;
  std::vector<std::string> matcher_text;
  bool continue_matching = false;
  std::vector<RouteConfig> routes;
};

struct WebhookConfig {
  std::string url;
  bool send_resolved = true;
  size_t max_alerts = 0;  // 0 = all; beyond: truncatedAlerts
};

struct SlackConfig {
  std::string api_url;
  std::string channel, username = "kansoku";
  bool send_resolved = true;
};

struct EmailConfig {
  std::string to, from;
  std::string smarthost;  // host:port
  std::string hello = "localhost";
  std::string auth_username, auth_password;
  bool require_tls = false;  // STARTTLS required (fail if the server does not offer it)
  bool tls_insecure_skip_verify = false;
  bool send_resolved = false;  // Alertmanager's default for email
};

struct ReceiverConfig {
  std::string name;
  std::vector<WebhookConfig> webhooks;
  std::vector<SlackConfig> slacks;
  std::vector<EmailConfig> emails;
};

// A recurring mute: every listed weekday (0 = Sunday) / day of month, within each time range,
// in a fixed UTC offset. Empty lists mean "any".
struct MaintenanceWindow {
  std::string name;
  std::vector<tsdb::Matcher> matchers;  // empty = every alert
  std::vector<std::string> matcher_text;
  std::vector<int> weekdays;
  std::vector<int> days_of_month;
  std::vector<std::pair<int, int>> times;  // [start, end) minutes of the day
  int offset_minutes = 0;                  // location: UTC or +hh:mm / -hh:mm
  bool ActiveAt(int64_t now_ms) const;
};

struct NotifyConfig {
  RouteConfig route;  // root: receiver required when receivers exist
  std::vector<ReceiverConfig> receivers;
  std::vector<MaintenanceWindow> maintenance_windows;
  int64_t attempt_timeout_ms = 10000;  // per delivery attempt
};

Result<NotifyConfig> ParseNotifyConfig(const std::string& yaml_text, const std::string& name);
Result<NotifyConfig> LoadNotifyConfig(const std::string& path);

}  // namespace kansoku::alert
