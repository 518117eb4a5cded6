#pragma once
// HostCollector: host metrics read directly from /proc and /sys (no shelling out), named as in
// docs/design/agent.md §1 (host_cpu_seconds_total, host_memory_used_bytes, ...).
//
// Every read goes through `root` (default "/"), so unit tests point it at a fixture tree they
// generate; statvfs(2) goes through a replaceable function for the same reason. A missing or
// unreadable file skips its metrics (PSI on old kernels, /sys/block in containers) and never
// fails the cycle; what was skipped is listed by last_errors() for debugging.
//
// Thread safety: Collect() is called by one thread at a time (the agent's collection loop).
#include <functional>
#include <string>
#include <vector>

#include "agent/sample.h"

namespace kansoku::agent {

struct FsStats {
  double size_bytes = 0, free_bytes = 0, avail_bytes = 0, files = 0, files_free = 0;
};

struct HostCollectorOptions {
  std::string root = "/";  // prefix of /proc and /sys
  // Filesystems: skipped fstypes and mount point prefixes (fnmatch globs); defaults in
  // DefaultIgnoredFsTypes() / DefaultIgnoredMountPoints().
  std::vector<std::string> ignore_fs_types;
  std::vector<std::string> ignore_mount_points;
  // Network interfaces and disks skipped (fnmatch globs).
  std::vector<std::string> ignore_interfaces = {"lo"};
  std::vector<std::string> ignore_disks = {"loop*", "ram*", "zram*", "fd*", "sr*"};
  // statvfs of a mount point; default calls statvfs(2) on root + mount point.
  std::function<bool(const std::string& path, FsStats* out)> statfs;
};

std::vector<std::string> DefaultIgnoredFsTypes();
std::vector<std::string> DefaultIgnoredMountPoints();

class HostCollector {
 public:
  explicit HostCollector(HostCollectorOptions options);

  // Appends this cycle's samples to *batch (timestamps = the batch's).
  void Collect(SampleBatch* batch);

  // Files that could not be read or parsed in the last Collect ("/proc/pressure/io: ...").
  const std::vector<std::string>& last_errors() const { return errors_; }

 private:
  std::string Path(const std::string& p) const;
  bool ReadFile(const std::string& p, std::string* out);
  void CollectStat(SampleBatch* b);
  void CollectLoad(SampleBatch* b);
  void CollectMemory(SampleBatch* b);
  void CollectDisks(SampleBatch* b);
  void CollectFilesystems(SampleBatch* b);
  void CollectNetwork(SampleBatch* b);
  void CollectProcesses(SampleBatch* b);
  void CollectMisc(SampleBatch* b);
  void CollectPressure(SampleBatch* b);

  HostCollectorOptions opts_;
  std::vector<std::string> errors_;
  std::string buf_;
};

// True when name matches any fnmatch(3) glob in patterns.
bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name);

}  // namespace kansoku::agent
