#include "logs/buf_cache.h"

#include <gtest/gtest.h>

#include <chrono>

namespace kansoku::logs {
namespace {

using std::chrono::seconds;

TEST(BufCache, TakesTheSmallestHeldBufferThatFits) {
  BufCache c(100, 1000);
  const auto t0 = BufCache::Clock::time_point{} + seconds(100);
  size_t cap = 0;
  char* a = c.Take(300, &cap, t0);
  EXPECT_EQ(cap, 300u);
  char* b = c.Take(200, &cap, t0);
  c.Give(a, 300);
  c.Give(b, 200);
  EXPECT_EQ(c.HeldBytes(), 500u);
  EXPECT_EQ(c.Take(150, &cap, t0), b);  // 200 fits better than 300
  EXPECT_EQ(cap, 200u);
  EXPECT_EQ(c.Take(250, &cap, t0), a);
  EXPECT_EQ(cap, 300u);
  EXPECT_EQ(c.HeldBytes(), 0u);
  char* d = c.Take(250, &cap, t0);  // none held: a new one, exactly as asked
  EXPECT_NE(d, a);
  EXPECT_EQ(cap, 250u);
  c.Give(a, 300);
  c.Give(b, 200);
  c.Give(d, 250);
}

TEST(BufCache, KeepsNeitherSmallBuffersNorMoreThanItsBound) {
  BufCache c(100, 1000);
  size_t cap = 0;
  char* small = c.Take(50, &cap);
  c.Give(small, 50);
  EXPECT_EQ(c.HeldBytes(), 0u);
  char* x = c.Take(600, &cap);
  char* y = c.Take(600, &cap);
  c.Give(x, 600);
  c.Give(y, 600);  // 1200 > 1000: freed
  EXPECT_EQ(c.HeldBytes(), 600u);
  c.Give(nullptr, 0);
  EXPECT_EQ(c.HeldBytes(), 600u);
}

TEST(BufCache, ReleasesEverythingOnlyAfterTakesStopped) {
  BufCache c(100, 1000);
  const auto t0 = BufCache::Clock::time_point{} + seconds(100);
  size_t cap = 0;
  char* a = c.Take(400, &cap, t0);
  char* b = c.Take(300, &cap, t0 + seconds(5));
  c.Give(a, 400);
  c.Give(b, 300);
  EXPECT_EQ(c.ReleaseIdle(t0 + seconds(14), seconds(10)), 0u);  // taken 9 s ago
  EXPECT_EQ(c.HeldBytes(), 700u);
  EXPECT_EQ(c.ReleaseIdle(t0 + seconds(15), seconds(10)), 700u);
  EXPECT_EQ(c.HeldBytes(), 0u);
  EXPECT_EQ(c.ReleaseIdle(t0 + seconds(60), seconds(10)), 0u);  // nothing left
}

}  // namespace
}  // namespace kansoku::logs
