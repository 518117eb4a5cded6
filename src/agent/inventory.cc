#include "agent/inventory.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "agent/collectors/text.h"
#include "net/http.h"
#include "net/http_client.h"

namespace kansoku::agent {
namespace {

std::string ReadTrimmed(const std::string& path) {
  std::string s;
  if (!ReadSmallFile(path, &s).ok()) return "";
  return std::string(TrimSpaces(s));
}

std::string Prefix(const std::string& root) { return root == "/" ? "" : root; }

// Value of "key" in a flat JSON object text, for the few fields the agent reads back.
std::string JsonField(const std::string& body, const std::string& key) {
  std::string pat = "\"" + key + "\":\"";
  size_t p = body.find(pat);
  if (p == std::string::npos) return "";
  p += pat.size();
  size_t e = body.find('"', p);
  return e == std::string::npos ? "" : body.substr(p, e - p);
}

}  // namespace

HostFacts GatherFacts(const std::string& root, const std::string& hostname_override) {
  HostFacts f;
  std::string r = Prefix(root);
  if (!hostname_override.empty()) {
    f.name = hostname_override;
  } else {
    char h[256] = {0};
    if (::gethostname(h, sizeof h - 1) == 0) f.name = h;
  }
  std::string osr;
  if (ReadSmallFile(r + "/etc/os-release", &osr).ok()) {
    ForEachLine(osr, [&](std::string_view line) {
      if (line.substr(0, 12) == "PRETTY_NAME=") {
        std::string_view v = line.substr(12);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        f.os = std::string(v);
      }
    });
  }
  struct utsname u;
  if (::uname(&u) == 0) {
    f.kernel = u.release;
    f.arch = u.machine;
  }
  std::string k = ReadTrimmed(r + "/proc/sys/kernel/osrelease");
  if (!k.empty()) f.kernel = k;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  f.cpus = n > 0 ? static_cast<int>(n) : 0;
  std::string mi;
  if (ReadSmallFile(r + "/proc/meminfo", &mi).ok()) {
    ForEachLine(mi, [&](std::string_view line) {
      if (line.substr(0, 9) == "MemTotal:") {
        Fields fl(line.substr(9));
        f.memory_bytes = static_cast<int64_t>(ParseDouble(fl.Next()) * 1024);
      }
    });
  }
  struct ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) == 0) {
    for (auto* p = ifa; p; p = p->ifa_next) {
      if (!p->ifa_addr || (p->ifa_flags & IFF_LOOPBACK)) continue;
      char buf[INET6_ADDRSTRLEN] = {0};
      if (p->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr, buf, sizeof buf);
      } else if (p->ifa_addr->sa_family == AF_INET6) {
        auto* a6 = reinterpret_cast<sockaddr_in6*>(p->ifa_addr);
        if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
        inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
      } else {
        continue;
      }
      f.ips.emplace_back(buf);
    }
    ::freeifaddrs(ifa);
  }
  f.machine_id = ReadTrimmed(r + "/etc/machine-id");
  f.cloud_instance_id = ReadTrimmed(r + "/var/lib/cloud/data/instance-id");
  if (f.cloud_instance_id.empty()) {
    // EC2 Nitro instances put the instance id in the DMI board asset tag.
    std::string tag = ReadTrimmed(r + "/sys/class/dmi/id/board_asset_tag");
    if (tag.size() > 2 && tag.compare(0, 2, "i-") == 0) f.cloud_instance_id = tag;
  }
  return f;
}

std::string RegisterBody(const HostFacts& f, const InventoryOptions& o, const std::string& id,
                         bool send_status) {
  using net::JsonString;
  std::string j = "{";
  if (!id.empty()) j += "\"id\":" + JsonString(id) + ",";
  j += "\"name\":" + JsonString(f.name) + ",\"service\":" + JsonString(o.service) + ",\"roles\":[";
  for (size_t i = 0; i < o.roles.size(); ++i) j += (i ? "," : "") + JsonString(o.roles[i]);
  j += "],\"interval_seconds\":" + std::to_string(o.interval_ms / 1000.0);
  if (send_status) j += ",\"status\":" + JsonString(o.status);
  if (o.unreachable_after > 0) j += ",\"unreachable_after\":" + std::to_string(o.unreachable_after);
  j += ",\"meta\":{\"os\":" + JsonString(f.os) + ",\"kernel\":" + JsonString(f.kernel) +
       ",\"arch\":" + JsonString(f.arch) + ",\"cpus\":" + std::to_string(f.cpus) +
       ",\"memory_bytes\":" + std::to_string(f.memory_bytes) + ",\"ips\":[";
  for (size_t i = 0; i < f.ips.size(); ++i) j += (i ? "," : "") + JsonString(f.ips[i]);
  j += "],\"machine_id\":" + JsonString(f.machine_id) +
       ",\"cloud_instance_id\":" + JsonString(f.cloud_instance_id) +
       ",\"agent_version\":" + JsonString(f.agent_version);
  if (!f.plugin_graphs_json.empty()) j += ",\"plugin_graphs\":" + f.plugin_graphs_json;
  j += "}}";
  return j;
}

InventoryClient::InventoryClient(InventoryOptions options) : opts_(std::move(options)) {
  while (!opts_.server.empty() && opts_.server.back() == '/') opts_.server.pop_back();
  host_id_ = LoadHostId(opts_.state_dir);
}

std::string InventoryClient::LoadHostId(const std::string& state_dir) {
  return ReadTrimmed(state_dir + "/host_id");
}

Result<std::string> InventoryClient::Post(const std::string& path, const std::string& body,
                                          int* status) {
  net::ClientOptions co;
  co.timeout_ms = opts_.timeout_ms;
  co.insecure_tls = opts_.insecure_tls;
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"},
                                                        {"User-Agent", "kansoku-agent"}};
  if (!opts_.token.empty()) h.emplace_back("Authorization", "Bearer " + opts_.token);
  auto r = net::HttpCall("POST", opts_.server + path, h, body, co);
  if (!r.ok()) return r.status();
  *status = r->status;
  return r->body;
}

Status InventoryClient::Register(const HostFacts& facts, bool send_status) {
  for (int round = 0; round < 2; ++round) {
    int code = 0;
    auto r = Post("/api/v1/hosts",
                  RegisterBody(facts, opts_, host_id_, send_status || host_id_.empty()), &code);
    if (!r.ok()) return r.status();
    if (code == 404 && !host_id_.empty()) {
      host_id_.clear();  // the server forgot us (new data dir): register afresh
      continue;
    }
    if (code == 410) return Status::PermissionDenied("host " + host_id_ + " is retired");
    if (code != 200 && code != 201) {
      return Status::InvalidArgument("register: HTTP " + std::to_string(code) + ": " + *r);
    }
    std::string id = JsonField(*r, "id");
    if (id.empty()) return Status::InvalidArgument("register: no id in answer: " + *r);
    if (id != host_id_) {
      ::mkdir(opts_.state_dir.c_str(), 0700);
      std::string tmp = opts_.state_dir + "/host_id.tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << id << "\n";
        if (!out) return Status::IOError("cannot write " + tmp);
      }
      if (::rename(tmp.c_str(), (opts_.state_dir + "/host_id").c_str()) != 0) {
        return Status::FromErrno("cannot write host id file", errno);
      }
      host_id_ = id;
    }
    return Status::Ok();
  }
  return Status::Internal("BUG: register loop");
}

Status InventoryClient::Heartbeat(const std::map<std::string, double>& key_metrics) {
  if (host_id_.empty()) return Status::NotFound("host is not registered");
  std::string j = "{\"metrics\":{";
  bool first = true;
  for (const auto& [k, v] : key_metrics) {
    if (v != v) continue;  // NaN
    char num[32];
    std::snprintf(num, sizeof num, "%.6g", v);
    j += (first ? "" : ",") + net::JsonString(k) + ":" + num;
    first = false;
  }
  j += "}}";
  int code = 0;
  auto r = Post("/api/v1/hosts/" + host_id_ + "/heartbeat", j, &code);
  if (!r.ok()) return r.status();
  if (code == 404) return Status::NotFound("server does not know host " + host_id_);
  if (code == 410) return Status::PermissionDenied("host " + host_id_ + " is retired");
  if (code != 200)
    return Status::Unavailable("heartbeat: HTTP " + std::to_string(code) + ": " + *r);
  return Status::Ok();
}

Status InventoryClient::SetStatus(const std::string& status) {
  if (host_id_.empty()) return Status::NotFound("host is not registered");
  int code = 0;
  auto r = Post("/api/v1/hosts/" + host_id_ + "/status",
                "{\"status\":" + net::JsonString(status) + "}", &code);
  if (!r.ok()) return r.status();
  if (code != 200)
    return Status::InvalidArgument("status: HTTP " + std::to_string(code) + ": " + *r);
  return Status::Ok();
}

Status InventoryClient::ReportChecks(const std::vector<CheckResult>& checks) {
  if (host_id_.empty()) return Status::NotFound("host is not registered");
  std::string j = "{\"checks\":[";
  for (size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    j += (i ? "," : "") + std::string("{\"name\":") + net::JsonString(c.name) +
         ",\"status\":" + net::JsonString(CheckStatusName(c.status)) +
         ",\"message\":" + net::JsonString(c.message) +
         ",\"occurred_at_ms\":" + std::to_string(c.at_ms) + "}";
  }
  j += "]}";
  int code = 0;
  auto r = Post("/api/v1/hosts/" + host_id_ + "/checks", j, &code);
  if (!r.ok()) return r.status();
  if (code != 200) return Status::Unavailable("checks: HTTP " + std::to_string(code) + ": " + *r);
  return Status::Ok();
}

Result<std::string> InventoryClient::ReportTargets(const std::string& body) {
  if (host_id_.empty()) return Status::NotFound("host is not registered");
  int code = 0;
  auto r = Post("/api/v1/targets/report", body, &code);
  if (!r.ok()) return r.status();
  if (code != 200) {
    return Status::Unavailable("targets report: HTTP " + std::to_string(code) + ": " + *r);
  }
  return r;
}

Status InventoryClient::Retire() {
  if (host_id_.empty()) {
    return Status::NotFound("no host id in " + opts_.state_dir + "/host_id: nothing to retire");
  }
  int code = 0;
  auto r = Post("/api/v1/hosts/" + host_id_ + "/retire", "{}", &code);
  if (!r.ok()) return r.status();
  if (code != 200 && code != 410) {
    return Status::InvalidArgument("retire: HTTP " + std::to_string(code) + ": " + *r);
  }
  ::unlink((opts_.state_dir + "/host_id").c_str());
  host_id_.clear();
  return Status::Ok();
}

}  // namespace kansoku::agent
