#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "base/strings.h"
#include "scrape/config.h"

namespace kansoku::agent {
namespace {

struct Ctx {
  std::string file;
  Status Err(const YAML::Node& n, const std::string& key, const std::string& why) const {
    return Status::InvalidArgument(file + ":" + std::to_string(n.Mark().line + 1) + ": " + key +
                                   ": " + why);
  }
};

Status CheckKeys(const Ctx& c, const YAML::Node& n, const std::string& path,
                 const std::set<std::string>& known) {
  if (!n.IsMap()) return c.Err(n, path.empty() ? "(top level)" : path, "expected a mapping");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) return c.Err(it->first, path, "keys must be plain names");
    std::string k = it->first.as<std::string>();
    if (!known.count(k)) {
      std::string list;
      for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
      return c.Err(it->first, path.empty() ? k : path + "." + k,
                   "unknown key (known here: " + list + ")");
    }
  }
  return Status::Ok();
}

Status Str(const Ctx& c, const YAML::Node& n, const std::string& key, std::string* out) {
  if (!n[key]) return Status::Ok();
  if (!n[key].IsScalar()) return c.Err(n[key], key, "expected a string");
  *out = n[key].as<std::string>();
  return Status::Ok();
}

Status Bool(const Ctx& c, const YAML::Node& n, const std::string& key, bool* out) {
  if (!n[key]) return Status::Ok();
  bool v;
  if (!n[key].IsScalar() || !YAML::convert<bool>::decode(n[key], v)) {
    return c.Err(n[key], key, "expected true or false");
  }
  *out = v;
  return Status::Ok();
}

Status List(const Ctx& c, const YAML::Node& n, const std::string& key,
            std::vector<std::string>* out) {
  if (!n[key]) return Status::Ok();
  if (!n[key].IsSequence()) return c.Err(n[key], key, "expected a list of strings");
  out->clear();
  for (const auto& e : n[key]) {
    if (!e.IsScalar()) return c.Err(e, key, "expected a list of strings");
    out->push_back(e.as<std::string>());
  }
  return Status::Ok();
}

Status Duration(const Ctx& c, const YAML::Node& n, const std::string& key, int64_t* ms) {
  if (!n[key]) return Status::Ok();
  auto r = ParseDurationMs(n[key].as<std::string>());
  if (!r.ok()) return c.Err(n[key], key, r.status().message());
  *ms = *r;
  return Status::Ok();
}

Status Bytes(const Ctx& c, const YAML::Node& n, const std::string& key, int64_t* out) {
  if (!n[key]) return Status::Ok();
  auto r = ParseByteSize(n[key].as<std::string>());
  if (!r.ok()) return c.Err(n[key], key, r.status().message());
  *out = *r;
  return Status::Ok();
}

Status Int(const Ctx& c, const YAML::Node& n, const std::string& key, size_t* out) {
  if (!n[key]) return Status::Ok();
  long long v;
  if (!YAML::convert<long long>::decode(n[key], v) || v < 1) {
    return c.Err(n[key], key, "expected a positive integer");
  }
  *out = static_cast<size_t>(v);
  return Status::Ok();
}

Status Apply(const Ctx& c, const YAML::Node& root, AgentOptions* o) {
  if (!root || root.IsNull()) return Status::Ok();
  KANSOKU_RETURN_IF_ERROR(
      CheckKeys(c, root, "", {"server",           "token",          "insecure_tls",
                              "service",          "roles",          "hostname",
                              "interval",         "state_dir",      "start_status",
                              "stop_status",      "retire_on_stop", "root",
                              "filesystems",      "interfaces",     "disks",
                              "containers",       "shipping",       "inventory",
                              "statsd",           "plugins",        "scrape",
                              "unreachable_after"}));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "server", &o->server));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "token", &o->token));
  KANSOKU_RETURN_IF_ERROR(Bool(c, root, "insecure_tls", &o->insecure_tls));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "service", &o->service));
  KANSOKU_RETURN_IF_ERROR(List(c, root, "roles", &o->roles));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "hostname", &o->hostname));
  KANSOKU_RETURN_IF_ERROR(Duration(c, root, "interval", &o->interval_ms));
  if (root["unreachable_after"]) {
    size_t n = 0;
    KANSOKU_RETURN_IF_ERROR(Int(c, root, "unreachable_after", &n));
    o->unreachable_after = static_cast<int>(std::min<size_t>(n, 10000));
  }
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "state_dir", &o->state_dir));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "start_status", &o->start_status));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "stop_status", &o->stop_status));
  KANSOKU_RETURN_IF_ERROR(Bool(c, root, "retire_on_stop", &o->retire_on_stop));
  KANSOKU_RETURN_IF_ERROR(Bool(c, root, "inventory", &o->inventory));
  KANSOKU_RETURN_IF_ERROR(Str(c, root, "root", &o->host.root));
  if (auto fs = root["filesystems"]) {
    KANSOKU_RETURN_IF_ERROR(
        CheckKeys(c, fs, "filesystems", {"ignore_fs_types", "ignore_mount_points"}));
    KANSOKU_RETURN_IF_ERROR(List(c, fs, "ignore_fs_types", &o->host.ignore_fs_types));
    KANSOKU_RETURN_IF_ERROR(List(c, fs, "ignore_mount_points", &o->host.ignore_mount_points));
  }
  if (auto n = root["interfaces"]) {
    KANSOKU_RETURN_IF_ERROR(CheckKeys(c, n, "interfaces", {"ignore"}));
    KANSOKU_RETURN_IF_ERROR(List(c, n, "ignore", &o->host.ignore_interfaces));
  }
  if (auto n = root["disks"]) {
    KANSOKU_RETURN_IF_ERROR(CheckKeys(c, n, "disks", {"ignore"}));
    KANSOKU_RETURN_IF_ERROR(List(c, n, "ignore", &o->host.ignore_disks));
  }
  if (auto n = root["containers"]) {
    KANSOKU_RETURN_IF_ERROR(
        CheckKeys(c, n, "containers", {"enabled", "all_cgroups", "cgroup_root"}));
    KANSOKU_RETURN_IF_ERROR(Bool(c, n, "enabled", &o->containers));
    KANSOKU_RETURN_IF_ERROR(Bool(c, n, "all_cgroups", &o->cgroup.all_cgroups));
    KANSOKU_RETURN_IF_ERROR(Str(c, n, "cgroup_root", &o->cgroup.cgroup_root));
  }
  if (auto n = root["statsd"]) {
    KANSOKU_RETURN_IF_ERROR(CheckKeys(c, n, "statsd", {"listen", "quantiles"}));
    KANSOKU_RETURN_IF_ERROR(Str(c, n, "listen", &o->statsd_listen));
    if (auto q = n["quantiles"]) {
      if (!q.IsSequence()) return c.Err(q, "statsd.quantiles", "expected a list of numbers");
      o->statsd_quantiles.clear();
      for (const auto& e : q) {
        double v;
        if (!YAML::convert<double>::decode(e, v) || !(v > 0 && v <= 1)) {
          return c.Err(e, "statsd.quantiles", "each quantile must be in (0, 1]");
        }
        o->statsd_quantiles.push_back(v);
      }
    }
  }
  KANSOKU_RETURN_IF_ERROR(scrape::ParseJobs(root["scrape"], c.file, "scrape", &o->scrape));
  if (auto n = root["plugins"]) {
    KANSOKU_RETURN_IF_ERROR(CheckKeys(c, n, "plugins", {"metrics", "checks"}));
    for (const char* kind : {"metrics", "checks"}) {
      auto group = n[kind];
      if (!group) continue;
      std::string gpath = std::string("plugins.") + kind;
      if (!group.IsMap()) return c.Err(group, gpath, "expected a mapping of plugin names");
      for (auto it = group.begin(); it != group.end(); ++it) {
        std::string name = it->first.as<std::string>();
        std::string path = gpath + "." + name;
        KANSOKU_RETURN_IF_ERROR(CheckKeys(c, it->second, path, {"command", "interval", "timeout"}));
        PluginConfig p;
        p.name = name;
        p.check = std::string(kind) == "checks";
        KANSOKU_RETURN_IF_ERROR(Str(c, it->second, "command", &p.command));
        if (p.command.empty()) return c.Err(it->second, path, "command is required");
        KANSOKU_RETURN_IF_ERROR(Duration(c, it->second, "interval", &p.interval_ms));
        KANSOKU_RETURN_IF_ERROR(Duration(c, it->second, "timeout", &p.timeout_ms));
        if (p.interval_ms < 1000 || p.timeout_ms < 1) {
          return c.Err(it->second, path, "interval must be >= 1s and timeout > 0");
        }
        o->plugins.push_back(std::move(p));
      }
    }
  }
  if (auto n = root["shipping"]) {
    KANSOKU_RETURN_IF_ERROR(
        CheckKeys(c, n, "shipping",
                  {"spool_max_bytes", "queue_max_batches", "max_samples_per_send",
                   "initial_backoff", "max_backoff", "timeout"}));
    KANSOKU_RETURN_IF_ERROR(Bytes(c, n, "spool_max_bytes", &o->shipper.spool_max_bytes));
    KANSOKU_RETURN_IF_ERROR(Int(c, n, "queue_max_batches", &o->shipper.queue_max_batches));
    KANSOKU_RETURN_IF_ERROR(Int(c, n, "max_samples_per_send", &o->shipper.max_samples_per_send));
    KANSOKU_RETURN_IF_ERROR(Duration(c, n, "initial_backoff", &o->shipper.initial_backoff_ms));
    KANSOKU_RETURN_IF_ERROR(Duration(c, n, "max_backoff", &o->shipper.max_backoff_ms));
    KANSOKU_RETURN_IF_ERROR(Duration(c, n, "timeout", &o->shipper.request_timeout_ms));
  }
  return Status::Ok();
}

}  // namespace

Status ParseAgentConfig(const std::string& text, const std::string& name, AgentOptions* opts) {
  Ctx c{name};
  try {
    YAML::Node root = YAML::Load(text);
    return Apply(c, root, opts);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Status LoadAgentConfig(const std::string& path, AgentOptions* opts) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument("cannot read agent config " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseAgentConfig(ss.str(), path, opts);
}

}  // namespace kansoku::agent
