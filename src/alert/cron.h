#pragma once
// Schedules of cron monitors (alerting.md §3.6): when is the next check-in of a job due?
//
//   CronSchedule  a 5-field crontab ("minute hour day-of-month month day-of-week": `*`, lists,
//                 ranges, `/step`, month and weekday names, 7 = Sunday, the macros @yearly
//                 @annually @monthly @weekly @daily @midnight @hourly) or a fixed interval
//                 (Sentry's {"type":"interval","value":N,"unit":"minute"}, or "@every 10s").
//                 When both day fields are restricted, a day matches if either does (as cron).
//   TimeZone      UTC, a fixed offset ("+09:00", "-0530") or a tz database name read from
//                 /usr/share/zoneinfo (TZif; times after the file's last transition keep its
//                 last offset — Debian ships transitions through 2037).
//
// The text comes from SDK payloads (untrusted): every parse error is a Status naming the field
// and the reason; nothing here throws or aborts. Thread safety: both classes are immutable
// values after parsing, safe to share.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kansoku::alert {

class TimeZone {
 public:
  TimeZone() = default;  // UTC
  // "", "UTC", "Etc/UTC", "Z" -> UTC; "+09:00" / "-05" / "+0530"; else a zoneinfo name.
  static Result<TimeZone> Load(std::string_view name);
  // Offset from UTC (seconds east) in effect at unix time t_s.
  int64_t OffsetAt(int64_t t_s) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_ = "UTC";
  int64_t fixed_ = 0;
  std::vector<int64_t> transitions_;  // unix seconds, ascending
  std::vector<int32_t> offsets_;      // offset after transitions_[i]
  int32_t initial_ = 0;               // before the first transition
};

class CronSchedule {
 public:
  // A crontab expression (5 fields or a macro).
  static Result<CronSchedule> ParseCrontab(std::string_view expr);
  // Every interval_ms (> 0).
  static Result<CronSchedule> Every(int64_t interval_ms);
  // Sentry's interval units: minute, hour, day, week, month (30 d), year (365 d).
  static Result<CronSchedule> SentryInterval(int64_t value, std::string_view unit);
  // "@every 10s" or a crontab.
  static Result<CronSchedule> Parse(std::string_view text);

  bool is_interval() const { return interval_ms_ > 0; }
  // The first due time strictly after t_ms: interval schedules give t_ms + interval; crontabs
  // the next matching minute in tz (searched up to 5 years ahead; -1 if none, e.g. "0 0 30 2 *").
  int64_t NextAfter(int64_t t_ms, const TimeZone& tz) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  int64_t interval_ms_ = 0;
  uint64_t minutes_ = 0;                        // bit i = minute i
  uint32_t hours_ = 0, days_ = 0, months_ = 0;  // days: bit 1..31; months: bit 1..12
  uint8_t weekdays_ = 0;                        // bit 0 = Sunday
  bool dom_star_ = true, dow_star_ = true;
};

}  // namespace kansoku::alert
