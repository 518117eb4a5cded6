#include "base/durable.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace kansoku {
namespace {

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(DurableTest, SyncsAndClosesEveryDescriptor) {
  char tmpl[] = "/tmp/durable_test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::vector<int> retired;
  for (int i = 0; i < 3; ++i) {
    int fd = ::open((dir + "/" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "x", 1), 1);
    retired.push_back(fd);
  }
  int live = ::open((dir + "/live").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(live, 0);
  EXPECT_EQ(SyncSegmentsInOrder(retired, dir, true, live), 0);
  for (int fd : retired) EXPECT_FALSE(IsOpen(fd));
  EXPECT_FALSE(IsOpen(live));
  std::filesystem::remove_all(dir);
}

// A descriptor that cannot be synced (a pipe) reports its errno; the rest are still synced and
// every descriptor is closed.
TEST(DurableTest, FirstErrorIsReportedAndAllAreClosed) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  char tmpl[] = "/tmp/durable_test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  int live = ::open((dir + "/live").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(live, 0);
  EXPECT_EQ(SyncSegmentsInOrder({p[0]}, dir, false, live), EINVAL);
  EXPECT_FALSE(IsOpen(p[0]));
  EXPECT_FALSE(IsOpen(live));
  ::close(p[1]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku
