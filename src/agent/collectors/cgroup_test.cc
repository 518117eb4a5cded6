#include "agent/collectors/cgroup.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kansoku::agent {
namespace {

namespace fs = std::filesystem;

std::string Label(const CgroupIdentity& id, const std::string& name) {
  for (const auto& l : id.labels) {
    if (l.first == name) return l.second;
  }
  return "<none>";
}

const std::string kDockerId = "3f4e8c1b2a9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

TEST(ClassifyCgroup, DockerSystemdAndCgroupfsDrivers) {
  auto a = ClassifyCgroup("system.slice/docker-" + kDockerId + ".scope");
  EXPECT_EQ(a.kind, "container");
  EXPECT_EQ(Label(a, "runtime"), "docker");
  EXPECT_EQ(Label(a, "container_id"), kDockerId);
  auto b = ClassifyCgroup("docker/" + kDockerId);
  EXPECT_EQ(b.kind, "container");
  EXPECT_EQ(Label(b, "runtime"), "docker");
  EXPECT_EQ(Label(b, "container_id"), kDockerId);
}

TEST(ClassifyCgroup, KubepodsSystemdDriver) {
  std::string pod =
      "kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice";
  auto p = ClassifyCgroup(pod);
  EXPECT_EQ(p.kind, "pod");
  EXPECT_EQ(Label(p, "pod_uid"), "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d");
  EXPECT_EQ(Label(p, "qos"), "burstable");
  auto c = ClassifyCgroup(pod + "/cri-containerd-" + kDockerId + ".scope");
  EXPECT_EQ(c.kind, "container");
  EXPECT_EQ(Label(c, "runtime"), "containerd");
  EXPECT_EQ(Label(c, "container_id"), kDockerId);
  EXPECT_EQ(Label(c, "pod_uid"), "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d");
  EXPECT_EQ(Label(c, "qos"), "burstable");
}

TEST(ClassifyCgroup, KubepodsCgroupfsDriverGuaranteed) {
  auto c = ClassifyCgroup("kubepods/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" + kDockerId);
  EXPECT_EQ(c.kind, "container");
  EXPECT_EQ(Label(c, "qos"), "guaranteed");
  EXPECT_EQ(Label(c, "runtime"), "<none>");
  EXPECT_EQ(Label(c, "container_id"), kDockerId);
  auto be = ClassifyCgroup("kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d");
  EXPECT_EQ(be.kind, "pod");
  EXPECT_EQ(Label(be, "qos"), "besteffort");
}

TEST(ClassifyCgroup, SystemdUnitsAndUnknown) {
  auto u = ClassifyCgroup("system.slice/nginx.service");
  EXPECT_EQ(u.kind, "unit");
  EXPECT_EQ(Label(u, "unit"), "nginx.service");
  EXPECT_EQ(Label(u, "slice"), "system.slice");
  auto s = ClassifyCgroup("user.slice/user-1000.slice/session-3.scope");
  EXPECT_EQ(s.kind, "unit");
  EXPECT_EQ(Label(s, "slice"), "user-1000.slice");
  EXPECT_EQ(ClassifyCgroup("system.slice").kind, "");
  EXPECT_EQ(ClassifyCgroup("kubepods.slice/kubepods-burstable.slice").kind, "");
  EXPECT_EQ(ClassifyCgroup("mygroup/child").kind, "");
}

class CgroupTree {
 public:
  CgroupTree() {
    char t[] = "/tmp/kansoku-cgroup-test-XXXXXX";
    dir_ = ::mkdtemp(t);
  }
  ~CgroupTree() { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

double Get(const SampleBatch& b, const std::string& name, const LabelSet& match) {
  double v = -1;
  EXPECT_TRUE(b.Find(name, match, &v)) << name;
  return v;
}

TEST(CgroupCollector, ReadsCpuMemoryIoPidsOfRecognisedCgroups) {
  CgroupTree t;
  std::string c = "sys/fs/cgroup/system.slice/docker-" + kDockerId + ".scope/";
  t.Write(c + "cpu.stat",
          "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\n"
          "nr_throttled 3\nthrottled_usec 120000\n");
  t.Write(c + "memory.current", "104857600\n");
  t.Write(c + "memory.max", "268435456\n");
  t.Write(c + "memory.stat", "anon 50000000\nfile 40000000\nkernel 100\n");
  t.Write(c + "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n");
  t.Write(c + "io.stat",
          "8:0 rbytes=1000 wbytes=2000 rios=10 wios=20 dbytes=0 dios=0\n"
          "8:16 rbytes=500 wbytes=0 rios=5 wios=0 dbytes=0 dios=0\n");
  t.Write(c + "pids.current", "12\n");
  t.Write(c + "pids.max", "max\n");
  t.Write("sys/fs/cgroup/system.slice/ssh.service/cpu.stat", "usage_usec 1000000\n");
  t.Write("sys/fs/cgroup/system.slice/ssh.service/memory.max", "max\n");
  t.Write("sys/fs/cgroup/unknown/cpu.stat", "usage_usec 1\n");
  t.Write("proc/self/mounts",
          "sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n");
  CgroupCollectorOptions o;
  o.root = t.dir();
  CgroupCollector col(o);
  EXPECT_EQ(col.cgroup_root(), t.dir() + "/sys/fs/cgroup");
  SampleBatch b;
  col.Collect(&b);
  LabelSet docker = {{"container_id", kDockerId}, {"runtime", "docker"}};
  EXPECT_EQ(Get(b, "container_cpu_usage_seconds_total", docker), 2.5);
  EXPECT_EQ(Get(b, "container_cpu_user_seconds_total", docker), 2.0);
  EXPECT_EQ(Get(b, "container_cpu_throttled_periods_total", docker), 3);
  EXPECT_DOUBLE_EQ(Get(b, "container_cpu_throttled_seconds_total", docker), 0.12);
  EXPECT_EQ(Get(b, "container_memory_usage_bytes", docker), 104857600);
  EXPECT_EQ(Get(b, "container_memory_limit_bytes", docker), 268435456);
  EXPECT_EQ(Get(b, "container_memory_anon_bytes", docker), 50000000);
  EXPECT_EQ(Get(b, "container_memory_oom_kills_total", docker), 1);
  EXPECT_EQ(Get(b, "container_memory_oom_events_total", docker), 2);
  EXPECT_EQ(Get(b, "container_io_read_bytes_total", docker), 1500);
  EXPECT_EQ(Get(b, "container_io_written_bytes_total", docker), 2000);
  EXPECT_EQ(Get(b, "container_io_reads_total", docker), 15);
  EXPECT_EQ(Get(b, "container_pids", docker), 12);
  double v;
  EXPECT_FALSE(b.Find("container_pids_limit", docker, &v));  // "max": no limit series
  EXPECT_EQ(Get(b, "container_cpu_usage_seconds_total",
                {{"unit", "ssh.service"},
                 {"slice", "system.slice"},
                 {"cgroup", "system.slice/ssh.service"}}),
            1.0);
  EXPECT_FALSE(b.Find("container_memory_limit_bytes", {{"unit", "ssh.service"}}, &v));
  EXPECT_FALSE(b.Find("container_cpu_usage_seconds_total", {{"cgroup", "unknown"}}, &v));
  EXPECT_EQ(col.last_cgroups(), 2u);

  o.all_cgroups = true;
  CgroupCollector all(o);
  SampleBatch b2;
  all.Collect(&b2);
  EXPECT_TRUE(b2.Find("container_cpu_usage_seconds_total", {{"cgroup", "unknown"}}, &v));
}

TEST(CgroupCollector, PodNamespaceAndContainerNamesFromLocalFiles) {
  CgroupTree t;
  const std::string uid = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
  std::string pod =
      "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/";
  t.Write(pod + "cpu.stat", "usage_usec 1000000\n");
  t.Write(pod + "cri-containerd-" + kDockerId + ".scope/cpu.stat", "usage_usec 2000000\n");
  std::string other = std::string(64, 'a');
  t.Write("sys/fs/cgroup/system.slice/docker-" + other + ".scope/cpu.stat", "usage_usec 3000000\n");
  t.Write("proc/self/mounts", "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n");
  // What the kubelet and Docker leave on the node.
  t.Write("var/log/pods/shop_web-7d9f_" + uid + "/nginx/0.log", "");
  t.Write("var/log/containers/web-7d9f_shop_nginx-" + kDockerId + ".log", "");
  t.Write("var/lib/docker/containers/" + other + "/config.v2.json",
          R"({"ID":"x","Name":"/redis-cache","State":{}})");
  CgroupCollectorOptions o;
  o.root = t.dir();
  CgroupCollector col(o);
  SampleBatch b;
  col.Collect(&b);
  EXPECT_EQ(Get(b, "container_cpu_usage_seconds_total",
                {{"pod_uid", uid},
                 {"namespace", "shop"},
                 {"pod", "web-7d9f"},
                 {"cgroup", pod.substr(14, pod.size() - 15)}}),
            1.0);
  EXPECT_EQ(Get(b, "container_cpu_usage_seconds_total",
                {{"container_id", kDockerId},
                 {"namespace", "shop"},
                 {"pod", "web-7d9f"},
                 {"container", "nginx"}}),
            2.0);
  EXPECT_EQ(Get(b, "container_cpu_usage_seconds_total",
                {{"container_id", other}, {"runtime", "docker"}, {"container", "redis-cache"}}),
            3.0);
}

TEST(CgroupCollector, NoCgroup2MountMeansNoSamples) {
  CgroupTree t;
  t.Write("proc/self/mounts", "sysfs /sys sysfs rw 0 0\n");
  CgroupCollectorOptions o;
  o.root = t.dir();
  CgroupCollector col(o);
  EXPECT_EQ(col.cgroup_root(), "");
  SampleBatch b;
  col.Collect(&b);
  EXPECT_TRUE(b.empty());
}

// The real cgroup2 hierarchy of this machine: a unit-like child cgroup created for the test
// (when we may) must be found and read; otherwise the walk must at least not fail.
TEST(CgroupCollector, RealHierarchyOfThisMachine) {
  CgroupCollector probe(CgroupCollectorOptions{});
  if (probe.cgroup_root().empty()) GTEST_SKIP() << "no cgroup2 mount on this machine";
  std::string child =
      probe.cgroup_root() + "/kansoku-agent-test-" + std::to_string(getpid()) + ".scope";
  bool made = ::mkdir(child.c_str(), 0755) == 0;
  SampleBatch b;
  probe.Collect(&b);
  if (made) {
    double v = -1;
    EXPECT_TRUE(b.Find("container_cpu_usage_seconds_total",
                       {{"unit", "kansoku-agent-test-" + std::to_string(getpid()) + ".scope"}},
                       &v));
    EXPECT_GE(v, 0);
    ::rmdir(child.c_str());
  }
  for (const auto& s : b.samples()) {
    EXPECT_EQ(s.labels[0].second.rfind("container_", 0), 0u);
  }
}

}  // namespace
}  // namespace kansoku::agent
