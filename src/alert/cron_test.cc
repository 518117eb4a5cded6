#include "alert/cron.h"

#include <gtest/gtest.h>

#include "alert/alert.h"

namespace kansoku::alert {
namespace {

int64_t T(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

TEST(CronTest, CrontabNextAfterUtc) {
  auto s = CronSchedule::ParseCrontab("*/15 3 * * mon-fri").value();
  TimeZone utc;
  // Wednesday 2026-11-25.
  EXPECT_EQ(s.NextAfter(T("2026-11-25T03:00:00Z"), utc), T("2026-11-25T03:15:00Z"));
  EXPECT_EQ(s.NextAfter(T("2026-11-25T03:59:30Z"), utc), T("2026-11-26T03:00:00Z"));
  // Friday after 03:45 -> Monday.
  EXPECT_EQ(s.NextAfter(T("2026-11-27T04:00:00Z"), utc), T("2026-11-30T03:00:00Z"));
  auto every_minute = CronSchedule::Parse("* * * * *").value();
  EXPECT_EQ(every_minute.NextAfter(T("2026-11-25T10:00:05Z"), utc), T("2026-11-25T10:01:00Z"));
  auto daily = CronSchedule::Parse("@daily").value();
  EXPECT_EQ(daily.NextAfter(T("2026-11-25T10:00:00Z"), utc), T("2026-11-26T00:00:00Z"));
  // Day of month OR day of week when both are restricted (cron semantics): 1st or Sundays.
  auto either = CronSchedule::Parse("0 0 1 * 0").value();
  EXPECT_EQ(either.NextAfter(T("2026-11-25T00:00:00Z"), utc), T("2026-11-29T00:00:00Z"));
  EXPECT_EQ(either.NextAfter(T("2026-11-29T00:00:00Z"), utc), T("2026-12-01T00:00:00Z"));
  // Impossible dates give -1 instead of looping.
  EXPECT_EQ(CronSchedule::Parse("0 0 30 2 *").value().NextAfter(T("2026-01-01T00:00:00Z"), utc),
            -1);
}

TEST(CronTest, TimeZones) {
  auto s = CronSchedule::ParseCrontab("0 9 * * *").value();
  auto tokyo = TimeZone::Load("+09:00").value();
  EXPECT_EQ(s.NextAfter(T("2026-11-25T01:00:00Z"), tokyo), T("2026-11-26T00:00:00Z"));
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().message();
  // Winter (UTC+1) and summer (UTC+2).
  EXPECT_EQ(s.NextAfter(T("2026-11-25T09:00:00Z"), *berlin), T("2026-11-26T08:00:00Z"));
  EXPECT_EQ(s.NextAfter(T("2026-07-01T09:00:00Z"), *berlin), T("2026-07-02T07:00:00Z"));
  EXPECT_FALSE(TimeZone::Load("Mars/Olympus").ok());
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
}

TEST(CronTest, IntervalsAndErrors) {
  TimeZone utc;
  auto i = CronSchedule::SentryInterval(5, "minute").value();
  EXPECT_EQ(i.NextAfter(1000, utc), 1000 + 300000);
  EXPECT_EQ(CronSchedule::Parse("@every 10s").value().NextAfter(0, utc), 10000);
  EXPECT_FALSE(CronSchedule::SentryInterval(1, "fortnight").ok());
  EXPECT_FALSE(CronSchedule::SentryInterval(0, "minute").ok());
  for (const char* bad : {"", "* * * *", "61 * * * *", "* 24 * * *", "*/0 * * * *", "a b c d e",
                          "5-1 * * * *", "* * * * 8", "1,,2 * * * *"}) {
    auto r = CronSchedule::ParseCrontab(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto r = CronSchedule::ParseCrontab("70 * * * *");
  EXPECT_NE(r.status().message().find("minute"), std::string::npos) << r.status().message();
  EXPECT_TRUE(CronSchedule::ParseCrontab("0 12 * jan,Jul SUN-sat").ok());
}

}  // namespace
}  // namespace kansoku::alert
