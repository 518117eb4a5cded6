#include "errors/quota.h"

#include <gtest/gtest.h>

namespace kansoku::errors {
namespace {

TEST(RateLimiter, PerMinuteThenNextMinute) {
  FakeClock clock(1700000000000);  // 20 s into a minute
  RateLimiter rl(clock);
  Limits project{5, 0}, key{};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.TryAcquire(1, project, 10, key).allowed);
  QuotaDecision d = rl.TryAcquire(1, project, 10, key);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.scope, "project");
  EXPECT_EQ(d.retry_after_s, 40);
  EXPECT_EQ(d.Header(), "40:error;default;security:project:project_quota_minute");
  EXPECT_TRUE(rl.TryAcquire(2, project, 11, key).allowed);  // other project
  clock.AdvanceMs(40000);
  EXPECT_TRUE(rl.TryAcquire(1, project, 10, key).allowed);
}

TEST(RateLimiter, KeyAndDayLimits) {
  FakeClock clock(1700000000000);
  RateLimiter rl(clock);
  Limits none{}, key_day{0, 2};
  EXPECT_TRUE(rl.TryAcquire(1, none, 7, key_day).allowed);
  EXPECT_TRUE(rl.TryAcquire(1, none, 7, key_day).allowed);
  QuotaDecision d = rl.TryAcquire(1, none, 7, key_day);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "key_quota_day");
  EXPECT_GT(d.retry_after_s, 3600);
  EXPECT_TRUE(rl.TryAcquire(1, none, 8, key_day).allowed);  // another key of the project
}

TEST(RateLimiter, RefusalTakesNothing) {
  FakeClock clock(1700000000000);
  RateLimiter rl(clock);
  Limits p{3, 0}, k{100, 0};
  EXPECT_FALSE(rl.TryAcquire(1, p, 1, k, 4).allowed);
  EXPECT_TRUE(rl.TryAcquire(1, p, 1, k, 3).allowed);
}

}  // namespace
}  // namespace kansoku::errors
