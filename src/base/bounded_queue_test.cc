#include "base/bounded_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace kansoku {
namespace {

TEST(BoundedQueueTest, RefusesWhenFullAndDrainsAfterClose) {
  BoundedQueue<int> q(2);
  EXPECT_TRUE(q.TryPush(1));
  EXPECT_TRUE(q.TryPush(2));
  EXPECT_FALSE(q.TryPush(3));
  q.Close();
  EXPECT_FALSE(q.TryPush(4));
  std::deque<int> out;
  EXPECT_TRUE(q.PopBatch(&out, 10));
  EXPECT_EQ(out, (std::deque<int>{1, 2}));
  out.clear();
  EXPECT_FALSE(q.PopBatch(&out, 10));
}

TEST(BoundedQueueTest, ProducerWaitsForSpace) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.TryPush(1));
  std::thread consumer([&] {
    std::deque<int> out;
    q.PopBatch(&out, 1);
  });
  EXPECT_TRUE(q.WaitForSpace());
  EXPECT_TRUE(q.TryPush(2));
  consumer.join();
  EXPECT_EQ(q.Size(), 1u);
}

}  // namespace
}  // namespace kansoku
