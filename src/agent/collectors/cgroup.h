#pragma once
// CgroupCollector: per-container / per-unit metrics from the cgroup v2 unified hierarchy
// (docs/design/agent.md §2): CPU, memory (with OOM kills), I/O and PIDs, with Docker,
// containerd/Kubernetes (kubepods) and systemd units recognised from the cgroup path and
// labelled (runtime, container_id, pod_uid, qos, unit, slice, cgroup). What the path does not
// tell is looked up cheaply in local files, once per cycle: Kubernetes pods get `namespace` and
// `pod` from /var/log/pods/<namespace>_<pod>_<uid>, their containers `container` from the
// kubelet's /var/log/containers/<pod>_<namespace>_<container>-<id>.log links; Docker containers
// get `container` from /var/lib/docker/containers/<id>/config.v2.json ("Name", read once per
// id). Unreadable files just mean no such label.
//
// The root is `cgroup_root` when set, else the first cgroup2 mount in <root>/proc/self/mounts
// (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones). Missing files (a
// controller not enabled) skip their metrics. The walk is bounded (max_depth, max_cgroups).
//
// Thread safety: Collect() from one thread at a time.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/sample.h"

namespace kansoku::agent {

struct CgroupCollectorOptions {
  std::string root = "/";    // prefix for /proc/self/mounts (tests)
  std::string cgroup_root;   // explicit cgroup2 mount point; "" = discover
  bool all_cgroups = false;  // also report leaf cgroups no rule recognises
  int max_depth = 12;
  int max_cgroups = 5000;
};

// What the path of a cgroup says about it. kind is "" when unrecognised.
struct CgroupIdentity {
  std::string kind;  // "container", "pod", "unit"
  LabelSet labels;   // runtime, container_id, pod_uid, qos, unit, slice
};
// `rel` is the path relative to the cgroup root, without leading '/'.
CgroupIdentity ClassifyCgroup(const std::string& rel);

class CgroupCollector {
 public:
  explicit CgroupCollector(CgroupCollectorOptions options);
  void Collect(SampleBatch* batch);
  // The cgroup2 root in use ("" when none was found).
  const std::string& cgroup_root() const { return root_; }
  size_t last_cgroups() const { return last_cgroups_; }

 private:
  void Walk(const std::string& dir, const std::string& rel, int depth, SampleBatch* b);
  void CollectOne(const std::string& dir, const std::string& rel, LabelSet labels, SampleBatch* b);
  void RefreshNames();              // pod and container names from local files
  void AddNames(LabelSet* labels);  // namespace, pod, container when known

  CgroupCollectorOptions opts_;
  std::string root_;
  int visited_ = 0;
  size_t last_cgroups_ = 0;
  std::string buf_;
  std::map<std::string, std::pair<std::string, std::string>> pods_;  // uid -> namespace, pod
  std::map<std::string, std::string> k8s_containers_;                // container id -> name
  std::map<std::string, std::string> docker_names_;  // id -> name ("" = unknown), cached
};

}  // namespace kansoku::agent
