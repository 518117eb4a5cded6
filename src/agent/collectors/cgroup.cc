#include "agent/collectors/cgroup.h"

#include <cctype>

#include "agent/collectors/text.h"

namespace kansoku::agent {
namespace {

bool IsHexId(std::string_view s) {
  if (s.size() < 12) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

std::vector<std::string_view> SplitPath(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t p = s.find('/');
    if (p != 0) out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

// "<prefix>-<id>.scope" with a known runtime prefix -> runtime and id.
bool ScopeContainer(std::string_view c, std::string* runtime, std::string* id) {
  static const std::pair<const char*, const char*> kPrefixes[] = {{"docker-", "docker"},
                                                                  {"cri-containerd-", "containerd"},
                                                                  {"crio-", "cri-o"},
                                                                  {"containerd-", "containerd"},
                                                                  {"libpod-", "podman"}};
  if (!EndsWith(c, ".scope")) return false;
  std::string_view base = c.substr(0, c.size() - 6);
  for (const auto& [p, rt] : kPrefixes) {
    std::string_view pv(p);
    if (base.substr(0, pv.size()) == pv && IsHexId(base.substr(pv.size()))) {
      *runtime = rt;
      *id = std::string(base.substr(pv.size()));
      return true;
    }
  }
  return false;
}

}  // namespace

CgroupIdentity ClassifyCgroup(const std::string& rel) {
  CgroupIdentity id;
  auto parts = SplitPath(rel);
  if (parts.empty()) return id;
  std::string_view last = parts.back();
  std::string runtime, cid;

  // Kubernetes: kubepods[-<qos>].slice/kubepods-<qos>-pod<uid>.slice/<runtime>-<id>.scope
  // (systemd driver) or kubepods/<qos>/pod<uid>/<id> (cgroupfs driver).
  bool kube = false;
  std::string qos, pod;
  int pod_idx = -1;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view c = parts[i];
    if (!kube && c.substr(0, 8) == "kubepods") kube = true;
    if (!kube) continue;
    if (c.find("burstable") != std::string_view::npos) qos = "burstable";
    if (c.find("besteffort") != std::string_view::npos) qos = "besteffort";
    size_t p = c.rfind("pod");
    if (pod_idx < 0 && p != std::string_view::npos) {
      std::string_view u = c.substr(p + 3);
      if (EndsWith(u, ".slice")) u.remove_suffix(6);
      bool uid_like = u.size() >= 32;
      for (char ch : u) {
        if (!std::isxdigit(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_')
          uid_like = false;
      }
      if (uid_like) {
        pod.assign(u);
        for (char& ch : pod) {
          if (ch == '_') ch = '-';
        }
        pod_idx = static_cast<int>(i);
      }
    }
  }
  if (kube && pod_idx >= 0) {
    if (qos.empty()) qos = "guaranteed";
    int last_idx = static_cast<int>(parts.size()) - 1;
    if (pod_idx == last_idx) {
      id.kind = "pod";
      id.labels.emplace_back("pod_uid", pod);
      id.labels.emplace_back("qos", qos);
    } else if (pod_idx == last_idx - 1) {
      if (ScopeContainer(last, &runtime, &cid)) {
        id.labels.emplace_back("runtime", runtime);
      } else if (IsHexId(last)) {
        cid.assign(last);
      } else {
        return id;
      }
      id.kind = "container";
      id.labels.emplace_back("container_id", cid);
      id.labels.emplace_back("pod_uid", pod);
      id.labels.emplace_back("qos", qos);
    }
    return id;
  }

  // Docker / containerd / podman with the systemd driver: <runtime>-<id>.scope.
  if (ScopeContainer(last, &runtime, &cid)) {
    id.kind = "container";
    id.labels.emplace_back("runtime", runtime);
    id.labels.emplace_back("container_id", cid);
    return id;
  }
  // cgroupfs driver: /docker/<id>, /containerd/<id>? (namespaces), /lxc.payload.<name>.
  if (parts.size() >= 2 && IsHexId(last)) {
    std::string_view parent = parts[parts.size() - 2];
    if (parent == "docker" || parent == "containerd" || parent == "libpod_parent" ||
        parent == "podman") {
      id.kind = "container";
      id.labels.emplace_back("runtime", parent == "libpod_parent" ? "podman" : std::string(parent));
      id.labels.emplace_back("container_id", std::string(last));
      return id;
    }
  }
  // systemd units: <name>.service / <name>.scope (not a container), parent slice.
  if (EndsWith(last, ".service") || EndsWith(last, ".scope")) {
    id.kind = "unit";
    id.labels.emplace_back("unit", std::string(last));
    if (parts.size() >= 2 && EndsWith(parts[parts.size() - 2], ".slice")) {
      id.labels.emplace_back("slice", std::string(parts[parts.size() - 2]));
    }
    return id;
  }
  return id;
}

CgroupCollector::CgroupCollector(CgroupCollectorOptions options) : opts_(std::move(options)) {
  if (!opts_.cgroup_root.empty()) {
    root_ = opts_.cgroup_root;
    return;
  }
  std::string prefix = opts_.root == "/" || opts_.root.empty() ? "" : opts_.root;
  std::string mounts;
  if (!ReadSmallFile(prefix + "/proc/self/mounts", &mounts).ok()) return;
  ForEachLine(mounts, [&](std::string_view line) {
    if (!root_.empty()) return;
    Fields f(line);
    f.Next();
    std::string mp = UnescapeMount(f.Next());
    if (f.Next() == "cgroup2") root_ = prefix + mp;
  });
}

void CgroupCollector::Collect(SampleBatch* batch) {
  visited_ = 0;
  last_cgroups_ = 0;
  if (root_.empty()) return;
  RefreshNames();
  Walk(root_, "", 0, batch);
}

void CgroupCollector::RefreshNames() {
  std::string prefix = opts_.root == "/" || opts_.root.empty() ? "" : opts_.root;
  pods_.clear();
  k8s_containers_.clear();
  // /var/log/pods/<namespace>_<pod>_<uid> (names cannot contain '_'; the uid has none).
  ListDir(prefix + "/var/log/pods", [&](const char* name, bool) {
    std::string_view n(name);
    size_t a = n.find('_'), b = n.rfind('_');
    if (a == std::string_view::npos || b == a) return;
    pods_[std::string(n.substr(b + 1))] = {std::string(n.substr(0, a)),
                                           std::string(n.substr(a + 1, b - a - 1))};
  });
  // /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log
  ListDir(prefix + "/var/log/containers", [&](const char* name, bool) {
    std::string_view n(name);
    if (!EndsWith(n, ".log") || n.size() < 4 + 65) return;
    n.remove_suffix(4);
    std::string_view id = n.substr(n.size() - 64);
    if (!IsHexId(id) || n[n.size() - 65] != '-') return;
    std::string_view rest = n.substr(0, n.size() - 65);
    size_t b = rest.rfind('_');
    if (b == std::string_view::npos) return;
    k8s_containers_[std::string(id)] = std::string(rest.substr(b + 1));
  });
  if (docker_names_.size() > 10000) docker_names_.clear();  // bounded
}

void CgroupCollector::AddNames(LabelSet* labels) {
  std::string uid, cid, runtime;
  for (const auto& [k, v] : *labels) {
    if (k == "pod_uid") uid = v;
    if (k == "container_id") cid = v;
    if (k == "runtime") runtime = v;
  }
  if (!uid.empty()) {
    auto p = pods_.find(uid);
    if (p != pods_.end()) {
      labels->emplace_back("namespace", p->second.first);
      labels->emplace_back("pod", p->second.second);
    }
  }
  if (cid.empty()) return;
  auto k = k8s_containers_.find(cid);
  if (k != k8s_containers_.end()) {
    labels->emplace_back("container", k->second);
    return;
  }
  if (runtime != "docker") return;
  auto d = docker_names_.find(cid);
  if (d == docker_names_.end()) {
    std::string prefix = opts_.root == "/" || opts_.root.empty() ? "" : opts_.root;
    std::string name, cfg;
    if (ReadSmallFile(prefix + "/var/lib/docker/containers/" + cid + "/config.v2.json", &cfg)
            .ok()) {
      size_t at = cfg.find("\"Name\":\"");
      if (at != std::string::npos) {
        at += 8;
        if (at < cfg.size() && cfg[at] == '/') ++at;
        size_t end = cfg.find('"', at);
        if (end != std::string::npos && end - at < 256) name = cfg.substr(at, end - at);
      }
    }
    d = docker_names_.emplace(cid, name).first;
  }
  if (!d->second.empty()) labels->emplace_back("container", d->second);
}

void CgroupCollector::Walk(const std::string& dir, const std::string& rel, int depth,
                           SampleBatch* b) {
  if (depth > opts_.max_depth || visited_ >= opts_.max_cgroups) return;
  ++visited_;
  std::vector<std::string> children;
  ListDir(dir, [&](const char* name, bool is_dir) {
    if (is_dir) children.emplace_back(name);
  });
  if (!rel.empty()) {
    CgroupIdentity id = ClassifyCgroup(rel);
    if (!id.kind.empty() || (opts_.all_cgroups && children.empty())) {
      id.labels.emplace_back("cgroup", rel);
      AddNames(&id.labels);
      CollectOne(dir, rel, std::move(id.labels), b);
    }
    // A container's own sub-cgroups (e.g. init.scope inside a systemd container) are part of
    // it: do not descend below a container.
    if (id.kind == "container") return;
  }
  for (const auto& c : children) {
    Walk(dir + "/" + c, rel.empty() ? c : rel + "/" + c, depth + 1, b);
  }
}

void CgroupCollector::CollectOne(const std::string& dir, const std::string& rel, LabelSet l,
                                 SampleBatch* b) {
  (void)rel;
  ++last_cgroups_;
  auto read_kv = [&](const char* file, auto&& fn) {
    if (!ReadSmallFile(dir + "/" + file, &buf_).ok()) return false;
    ForEachLine(buf_, [&](std::string_view line) {
      Fields f(line);
      std::string_view k = f.Next();
      std::string_view v = f.Next();
      if (!k.empty() && !v.empty()) fn(k, ParseDouble(v));
    });
    return true;
  };
  read_kv("cpu.stat", [&](std::string_view k, double v) {
    if (k == "usage_usec")
      b->Add("container_cpu_usage_seconds_total", v / 1e6, l);
    else if (k == "user_usec")
      b->Add("container_cpu_user_seconds_total", v / 1e6, l);
    else if (k == "system_usec")
      b->Add("container_cpu_system_seconds_total", v / 1e6, l);
    else if (k == "nr_throttled")
      b->Add("container_cpu_throttled_periods_total", v, l);
    else if (k == "throttled_usec")
      b->Add("container_cpu_throttled_seconds_total", v / 1e6, l);
  });
  if (ReadSmallFile(dir + "/memory.current", &buf_).ok()) {
    b->Add("container_memory_usage_bytes", ParseDouble(TrimSpaces(buf_)), l);
  }
  if (ReadSmallFile(dir + "/memory.max", &buf_).ok()) {
    std::string_view v = TrimSpaces(buf_);
    if (v != "max" && !v.empty()) b->Add("container_memory_limit_bytes", ParseDouble(v), l);
  }
  read_kv("memory.stat", [&](std::string_view k, double v) {
    if (k == "anon")
      b->Add("container_memory_anon_bytes", v, l);
    else if (k == "file")
      b->Add("container_memory_file_bytes", v, l);
  });
  read_kv("memory.events", [&](std::string_view k, double v) {
    if (k == "oom_kill")
      b->Add("container_memory_oom_kills_total", v, l);
    else if (k == "oom")
      b->Add("container_memory_oom_events_total", v, l);
  });
  if (ReadSmallFile(dir + "/io.stat", &buf_).ok()) {
    double rbytes = 0, wbytes = 0, rios = 0, wios = 0;
    ForEachLine(buf_, [&](std::string_view line) {
      Fields f(line);
      f.Next();  // MAJ:MIN
      for (std::string_view t = f.Next(); !t.empty(); t = f.Next()) {
        size_t eq = t.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view k = t.substr(0, eq);
        double v = ParseDouble(t.substr(eq + 1));
        if (k == "rbytes")
          rbytes += v;
        else if (k == "wbytes")
          wbytes += v;
        else if (k == "rios")
          rios += v;
        else if (k == "wios")
          wios += v;
      }
    });
    b->Add("container_io_read_bytes_total", rbytes, l);
    b->Add("container_io_written_bytes_total", wbytes, l);
    b->Add("container_io_reads_total", rios, l);
    b->Add("container_io_writes_total", wios, l);
  }
  if (ReadSmallFile(dir + "/pids.current", &buf_).ok()) {
    b->Add("container_pids", ParseDouble(TrimSpaces(buf_)), l);
  }
  if (ReadSmallFile(dir + "/pids.max", &buf_).ok()) {
    std::string_view v = TrimSpaces(buf_);
    if (v != "max" && !v.empty()) b->Add("container_pids_limit", ParseDouble(v), std::move(l));
  }
}

}  // namespace kansoku::agent
