#include "base/durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace kansoku {

void FsyncDirBestEffort(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

int SyncSegmentsInOrder(const std::vector<int>& retired, const std::string& dir, bool dir_dirty,
                        int live) {
  int err = 0;
  for (int r : retired) {
    if (::fdatasync(r) != 0 && err == 0) err = errno;
    ::close(r);
  }
  if (dir_dirty) FsyncDirBestEffort(dir);
  if (live >= 0) {
    if (::fdatasync(live) != 0 && err == 0) err = errno;
    ::close(live);
  }
  return err;
}

}  // namespace kansoku
