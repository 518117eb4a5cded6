#include "agent/collectors/host.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <unordered_map>

#include "agent/collectors/text.h"

namespace kansoku::agent {

std::vector<std::string> DefaultIgnoredFsTypes() {
  return {"proc",      "sysfs",       "devtmpfs", "devpts",     "tmpfs",    "cgroup",
          "cgroup2",   "overlay",     "squashfs", "nsfs",       "mqueue",   "debugfs",
          "tracefs",   "securityfs",  "pstore",   "bpf",        "configfs", "fusectl",
          "hugetlbfs", "binfmt_misc", "autofs",   "rpc_pipefs", "ramfs",    "efivarfs",
          "selinuxfs", "fuse.lxcfs",  "shm",      "aufs",       "nfsd",     "fuse.gvfsd-fuse"};
}

std::vector<std::string> DefaultIgnoredMountPoints() {
  return {"/proc",
          "/proc/*",
          "/sys",
          "/sys/*",
          "/dev",
          "/dev/*",
          "/run",
          "/run/*",
          "/var/lib/docker/*",
          "/var/lib/containerd/*",
          "/var/lib/kubelet/*",
          "/var/lib/containers/*",
          "/snap/*"};
}

bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns) {
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

HostCollector::HostCollector(HostCollectorOptions options) : opts_(std::move(options)) {
  while (opts_.root.size() > 1 && opts_.root.back() == '/') opts_.root.pop_back();
  if (opts_.root.empty()) opts_.root.push_back('/');
  if (opts_.ignore_fs_types.empty()) opts_.ignore_fs_types = DefaultIgnoredFsTypes();
  if (opts_.ignore_mount_points.empty()) opts_.ignore_mount_points = DefaultIgnoredMountPoints();
  if (!opts_.statfs) {
    std::string root = opts_.root == "/" ? "" : opts_.root;
    opts_.statfs = [root](const std::string& path, FsStats* out) {
      struct statvfs st;
      if (::statvfs((root + path).c_str(), &st) != 0) return false;
      double frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
      out->size_bytes = static_cast<double>(st.f_blocks) * frsize;
      out->free_bytes = static_cast<double>(st.f_bfree) * frsize;
      out->avail_bytes = static_cast<double>(st.f_bavail) * frsize;
      out->files = static_cast<double>(st.f_files);
      out->files_free = static_cast<double>(st.f_ffree);
      return true;
    };
  }
}

std::string HostCollector::Path(const std::string& p) const {
  return opts_.root == "/" ? p : opts_.root + p;
}

bool HostCollector::ReadFile(const std::string& p, std::string* out) {
  Status st = ReadSmallFile(Path(p), out);
  if (!st.ok()) {
    errors_.push_back(p + ": " + st.message());
    return false;
  }
  return true;
}

void HostCollector::Collect(SampleBatch* batch) {
  errors_.clear();
  CollectStat(batch);
  CollectLoad(batch);
  CollectMemory(batch);
  CollectDisks(batch);
  CollectFilesystems(batch);
  CollectNetwork(batch);
  CollectProcesses(batch);
  CollectMisc(batch);
  CollectPressure(batch);
}

void HostCollector::CollectStat(SampleBatch* b) {
  if (!ReadFile("/proc/stat", &buf_)) return;
  static const long kHz = [] {
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? hz : 100;
  }();
  static const char* kModes[] = {"user",   "nice", "system",  "idle",
                                 "iowait", "irq",  "softirq", "steal"};
  int cpus = 0;
  ForEachLine(buf_, [&](std::string_view line) {
    Fields f(line);
    std::string_view key = f.Next();
    if (key == "cpu") {
      double v[10] = {0};
      int n = 0;
      for (; n < 10; ++n) {
        std::string_view t = f.Next();
        if (t.empty()) break;
        v[n] = ParseDouble(t);
      }
      // guest and guest_nice are already part of user and nice.
      for (int i = 0; i < 8 && i < n; ++i) {
        b->Add("host_cpu_seconds_total", v[i] / static_cast<double>(kHz), {{"mode", kModes[i]}});
      }
    } else if (key.size() > 3 && key.substr(0, 3) == "cpu") {
      ++cpus;
    } else if (key == "ctxt") {
      b->Add("host_context_switches_total", ParseDouble(f.Next()));
    } else if (key == "intr") {
      b->Add("host_interrupts_total", ParseDouble(f.Next()));
    } else if (key == "processes") {
      b->Add("host_forks_total", ParseDouble(f.Next()));
    } else if (key == "procs_running") {
      b->Add("host_procs_running", ParseDouble(f.Next()));
    } else if (key == "procs_blocked") {
      b->Add("host_procs_blocked", ParseDouble(f.Next()));
    } else if (key == "btime") {
      b->Add("host_boot_time_seconds", ParseDouble(f.Next()));
    }
  });
  if (cpus > 0) b->Add("host_cpu_count", cpus);
}

void HostCollector::CollectLoad(SampleBatch* b) {
  if (!ReadFile("/proc/loadavg", &buf_)) return;
  Fields f(buf_);
  b->Add("host_load1", ParseDouble(f.Next()));
  b->Add("host_load5", ParseDouble(f.Next()));
  b->Add("host_load15", ParseDouble(f.Next()));
  std::string_view rt = f.Next();  // running/total scheduling entities
  size_t slash = rt.find('/');
  if (slash != std::string_view::npos) b->Add("host_threads", ParseDouble(rt.substr(slash + 1)));
}

void HostCollector::CollectMemory(SampleBatch* b) {
  if (!ReadFile("/proc/meminfo", &buf_)) return;
  std::unordered_map<std::string_view, double> kb;
  ForEachLine(buf_, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    Fields f(line.substr(colon + 1));
    kb[line.substr(0, colon)] = ParseDouble(f.Next()) * 1024.0;
  });
  auto get = [&](std::string_view k, double* v) {
    auto it = kb.find(k);
    if (it == kb.end()) return false;
    *v = it->second;
    return true;
  };
  double total = 0, free = 0, avail = 0, buffers = 0, cached = 0, sreclaim = 0;
  if (!get("MemTotal", &total)) {
    errors_.push_back("/proc/meminfo: no MemTotal");
    return;
  }
  get("MemFree", &free);
  get("Buffers", &buffers);
  get("Cached", &cached);
  get("SReclaimable", &sreclaim);
  if (!get("MemAvailable", &avail)) avail = free + buffers + cached;  // kernels < 3.14
  b->Add("host_memory_total_bytes", total);
  b->Add("host_memory_free_bytes", free);
  b->Add("host_memory_available_bytes", avail);
  b->Add("host_memory_buffers_bytes", buffers);
  b->Add("host_memory_cached_bytes", cached + sreclaim);
  b->Add("host_memory_used_bytes", total > avail ? total - avail : 0);
  double swap_total = 0, swap_free = 0, swap_cached = 0;
  if (get("SwapTotal", &swap_total)) {
    get("SwapFree", &swap_free);
    get("SwapCached", &swap_cached);
    b->Add("host_swap_total_bytes", swap_total);
    b->Add("host_swap_free_bytes", swap_free);
    b->Add("host_swap_used_bytes", swap_total > swap_free ? swap_total - swap_free : 0);
    b->Add("host_swap_cached_bytes", swap_cached);
  }
}

void HostCollector::CollectDisks(SampleBatch* b) {
  if (!ReadFile("/proc/diskstats", &buf_)) return;
  // Whole disks are the entries of /sys/block; partitions are not. Without /sys/block (some
  // containers) every non-ignored device is reported.
  std::set<std::string> whole;
  bool have_sys_block =
      ListDir(Path("/sys/block"), [&](const char* name, bool) { whole.insert(name); });
  ForEachLine(buf_, [&](std::string_view line) {
    Fields f(line);
    f.Next();  // major
    f.Next();  // minor
    std::string dev(f.Next());
    if (dev.empty()) return;
    std::string sys_name = dev;
    for (char& c : sys_name) {
      if (c == '/') c = '!';
    }
    if (have_sys_block && !whole.count(sys_name)) return;
    if (MatchesAny(opts_.ignore_disks, dev)) return;
    double v[11] = {0};
    int n = 0;
    for (; n < 11; ++n) {
      std::string_view t = f.Next();
      if (t.empty()) break;
      v[n] = ParseDouble(t);
    }
    if (n < 11) return;
    LabelSet l = {{"device", dev}};
    b->Add("host_disk_reads_completed_total", v[0], l);
    b->Add("host_disk_read_bytes_total", v[2] * 512.0, l);
    b->Add("host_disk_read_time_seconds_total", v[3] / 1000.0, l);
    b->Add("host_disk_writes_completed_total", v[4], l);
    b->Add("host_disk_written_bytes_total", v[6] * 512.0, l);
    b->Add("host_disk_write_time_seconds_total", v[7] / 1000.0, l);
    b->Add("host_disk_io_now", v[8], l);
    b->Add("host_disk_io_time_seconds_total", v[9] / 1000.0, std::move(l));
  });
}

void HostCollector::CollectFilesystems(SampleBatch* b) {
  if (!ReadFile("/proc/self/mounts", &buf_)) return;
  std::set<std::string> seen_devices;
  ForEachLine(buf_, [&](std::string_view line) {
    Fields f(line);
    std::string dev = UnescapeMount(f.Next());
    std::string mp = UnescapeMount(f.Next());
    std::string type(f.Next());
    if (mp.empty() || type.empty()) return;
    if (MatchesAny(opts_.ignore_fs_types, type)) return;
    if (MatchesAny(opts_.ignore_mount_points, mp)) return;
    if (!seen_devices.insert(dev).second) return;  // bind mount of a reported device
    FsStats st;
    if (!opts_.statfs(mp, &st)) {
      errors_.push_back("statvfs " + mp + ": " + std::strerror(errno));
      return;
    }
    LabelSet l = {{"device", dev}, {"mountpoint", mp}, {"fstype", type}};
    b->Add("host_filesystem_size_bytes", st.size_bytes, l);
    b->Add("host_filesystem_free_bytes", st.free_bytes, l);
    b->Add("host_filesystem_avail_bytes", st.avail_bytes, l);
    b->Add("host_filesystem_used_bytes", st.size_bytes - st.free_bytes, l);
    b->Add("host_filesystem_files", st.files, l);
    b->Add("host_filesystem_files_free", st.files_free, std::move(l));
  });
}

void HostCollector::CollectNetwork(SampleBatch* b) {
  if (!ReadFile("/proc/net/dev", &buf_)) return;
  ForEachLine(buf_, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // the two header lines
    std::string dev(TrimSpaces(line.substr(0, colon)));
    if (dev.empty() || MatchesAny(opts_.ignore_interfaces, dev)) return;
    Fields f(line.substr(colon + 1));
    double v[16] = {0};
    int n = 0;
    for (; n < 16; ++n) {
      std::string_view t = f.Next();
      if (t.empty()) break;
      v[n] = ParseDouble(t);
    }
    if (n < 12) return;
    LabelSet l = {{"device", dev}};
    b->Add("host_network_receive_bytes_total", v[0], l);
    b->Add("host_network_receive_packets_total", v[1], l);
    b->Add("host_network_receive_errors_total", v[2], l);
    b->Add("host_network_receive_drop_total", v[3], l);
    b->Add("host_network_transmit_bytes_total", v[8], l);
    b->Add("host_network_transmit_packets_total", v[9], l);
    b->Add("host_network_transmit_errors_total", v[10], l);
    b->Add("host_network_transmit_drop_total", v[11], std::move(l));
  });
}

void HostCollector::CollectProcesses(SampleBatch* b) {
  int procs = 0;
  bool ok = ListDir(Path("/proc"), [&](const char* name, bool) {
    if (name[0] >= '1' && name[0] <= '9') {
      const char* p = name;
      while (*p >= '0' && *p <= '9') ++p;
      if (*p == '\0') ++procs;
    }
  });
  if (ok) b->Add("host_processes", procs);
}

void HostCollector::CollectMisc(SampleBatch* b) {
  if (ReadFile("/proc/sys/fs/file-nr", &buf_)) {
    Fields f(buf_);
    double allocated = ParseDouble(f.Next());
    f.Next();
    double max = ParseDouble(f.Next());
    b->Add("host_fds_allocated", allocated);
    b->Add("host_fds_max", max);
  }
  if (ReadFile("/proc/uptime", &buf_)) {
    Fields f(buf_);
    b->Add("host_uptime_seconds", ParseDouble(f.Next()));
  }
}

void HostCollector::CollectPressure(SampleBatch* b) {
  struct Resource {
    const char* file;
    const char* some;  // "some" line: time some tasks waited
    const char* full;  // "full" line: time all non-idle tasks stalled (not for cpu)
  };
  static const Resource kResources[] = {
      {"/proc/pressure/cpu", "host_pressure_cpu_waiting_seconds_total", nullptr},
      {"/proc/pressure/memory", "host_pressure_memory_waiting_seconds_total",
       "host_pressure_memory_stalled_seconds_total"},
      {"/proc/pressure/io", "host_pressure_io_waiting_seconds_total",
       "host_pressure_io_stalled_seconds_total"}};
  for (const auto& res : kResources) {
    if (::access(Path(res.file).c_str(), R_OK) != 0) continue;  // no PSI: not an error
    if (!ReadFile(res.file, &buf_)) continue;
    ForEachLine(buf_, [&](std::string_view line) {
      Fields f(line);
      std::string_view kind = f.Next();
      for (std::string_view t = f.Next(); !t.empty(); t = f.Next()) {
        if (t.substr(0, 6) != "total=") continue;
        double sec = ParseDouble(t.substr(6)) / 1e6;
        if (kind == "some") b->Add(res.some, sec);
        if (kind == "full" && res.full) b->Add(res.full, sec);
      }
    });
  }
}

}  // namespace kansoku::agent
