// Test helpers for code that preallocates files (the tsdb and logs WALs): whether this
// filesystem supports fallocate(FALLOC_FL_KEEP_SIZE), probed on a scratch file independently of
// the code under test, and how many bytes a file has allocated on disk. Header-only, tests only.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace kansoku::testing {

// True when dir's filesystem allocates 1 MiB beyond EOF on request. A preallocation test skips
// only when this is false: where it is true, a WAL that did not preallocate fails the test.
inline bool KeepSizeFallocateWorks(const std::string& dir) {
  const std::string probe = dir + "/.fallocate-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) == 0;
  ::close(fd);
  std::filesystem::remove(probe);
  return ok;
}

// Bytes allocated on disk for path (st_blocks); a path that cannot be stat'ed fails the test.
inline uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace kansoku::testing
