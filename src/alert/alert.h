#pragma once
// Core alerting values shared by the rule evaluator, the sources, the sinks and the dispatcher.
//
// An Alert is one alert instance as it travels to notification sinks: labels (identity),
// annotations, when it started and when it ends (an alert whose ends_at_ms <= now is resolved),
// the Alertmanager postable-alert model. Plain values; thread safety as for any value.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::alert {

using Annotations = std::map<std::string, std::string>;

enum class AlertState : unsigned char { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState s);  // "inactive", "pending", "firing"

struct Alert {
  tsdb::Labels labels;  // includes alertname
  Annotations annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // <= now: resolved
  std::string generator_url;
  bool Resolved(int64_t now_ms) const { return ends_at_ms != 0 && ends_at_ms <= now_ms; }
};

// Receives alerts from the rule manager (and sources). Send must not block on the network: a
// sink queues and delivers on its own thread. Thread-safe.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Send(const std::vector<Alert>& alerts) = 0;
};

// Fingerprint of a label set, stable across restarts (xxh3 of names and values), printed as
// 16 hex digits in payloads.
uint64_t Fingerprint(const tsdb::Labels& labels);
std::string FingerprintHex(uint64_t fp);

// RFC 3339 UTC with milliseconds, "2026-11-26T07:00:00.123Z" (0 -> "0001-01-01T00:00:00Z",
// Alertmanager's zero time).
std::string FormatRfc3339(int64_t ms);
// Parses RFC 3339 (Z or +hh:mm offset, optional fraction) into ms. InvalidArgument on error.
Result<int64_t> ParseRfc3339(std::string_view s);

// Parses a matcher written as in Alertmanager / PromQL: name="v", name!="v", name=~"re",
// name!~"re" (the value may also be unquoted). InvalidArgument naming the input.
Result<tsdb::Matcher> ParseMatcher(std::string_view s);
bool MatchesAll(const std::vector<tsdb::Matcher>& matchers, const tsdb::Labels& labels);

}  // namespace kansoku::alert
