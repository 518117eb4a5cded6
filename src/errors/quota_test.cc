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

TEST(SpikeProtector, FloorWithoutHistory) {
  FakeClock clock(1700000000000);  // 20 s into a minute
  SpikeOptions o;
  o.floor_per_minute = 5;
  SpikeProtector sp(clock, o);
  EXPECT_EQ(sp.LimitPerMinute(1), 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(sp.TryAcquire(1).allowed);
  QuotaDecision d = sp.TryAcquire(1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 40);
  EXPECT_EQ(d.Header(), "40:error;default;security:project:spike_protection");
  EXPECT_TRUE(sp.TryAcquire(2).allowed);  // per project
  clock.AdvanceMs(40000);                 // next minute
  EXPECT_TRUE(sp.TryAcquire(1).allowed);
}

TEST(SpikeProtector, LimitFollowsTheBaseline) {
  FakeClock clock(1700000000000 - 1700000000000 % 3600000);  // start of an hour
  SpikeOptions o;
  o.window_ms = 168LL * 3600000;  // 1 h buckets
  o.multiplier = 10;
  o.floor_per_minute = 100;
  SpikeProtector sp(clock, o);
  // Two hours at 60 events per minute: baseline 60/min, limit 600/min.
  for (int m = 0; m < 120; ++m) {
    ASSERT_TRUE(sp.TryAcquire(7, 60).allowed) << m;
    clock.AdvanceMs(60000);
  }
  EXPECT_EQ(sp.LimitPerMinute(7), 600);
  // A spike: 600 fit this minute, the next one is refused.
  EXPECT_TRUE(sp.TryAcquire(7, 600).allowed);
  QuotaDecision d = sp.TryAcquire(7, 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "spike_protection");
  // A quiet project keeps the floor.
  EXPECT_EQ(sp.LimitPerMinute(8), 100);
  // After the window the history is gone and the floor applies again.
  clock.AdvanceMs(169LL * 3600000);
  EXPECT_EQ(sp.LimitPerMinute(7), 100);
}

TEST(SpikeProtector, Disabled) {
  FakeClock clock;
  SpikeOptions o;
  o.enabled = false;
  o.floor_per_minute = 1;
  SpikeProtector sp(clock, o);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(sp.TryAcquire(1).allowed);
}

}  // namespace
}  // namespace kansoku::errors
