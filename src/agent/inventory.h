#pragma once
// Inventory, agent side: what the agent tells the server about its host (facts gathered from
// /proc, /sys, /etc and getifaddrs), and the register / heartbeat / status / retire calls of
// the hosts API (docs/design/agent.md §4). The host id issued by the server is kept in
// <state_dir>/host_id so a restarted agent keeps its identity.
//
// Thread safety: InventoryClient is used by one thread (the agent's inventory loop; the CLI's
// `agent retire`). Errors: Unavailable/DeadlineExceeded when the server cannot be reached (the
// caller retries next interval), NotFound for an id the server does not know, FailedPrecondition-
// like InvalidArgument with the server's message otherwise.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/plugin.h"
#include "base/status.h"

namespace kansoku::agent {

struct HostFacts {
  std::string name;  // hostname (or --hostname)
  std::string os;    // PRETTY_NAME of /etc/os-release
  std::string kernel, arch;
  int cpus = 0;
  int64_t memory_bytes = 0;
  std::vector<std::string> ips;   // non-loopback addresses
  std::string machine_id;         // /etc/machine-id
  std::string cloud_instance_id;  // cloud-init's instance-id, when the file exists
  std::string agent_version;
  std::string plugin_graphs_json;  // PluginRunner::GraphsJson, "" = none (sent in meta)
};

// Gathers facts; `root` prefixes /proc, /sys and /etc (tests), hostname_override wins over
// gethostname(2).
HostFacts GatherFacts(const std::string& root, const std::string& hostname_override);

struct InventoryOptions {
  std::string server;  // base URL, http://127.0.0.1:9400
  std::string token;
  bool insecure_tls = false;
  std::string state_dir;  // host_id lives here
  std::string service;
  std::vector<std::string> roles;
  int64_t interval_ms = 15000;
  int unreachable_after = 0;       // sent when > 0: this host's threshold in missed intervals
  std::string status = "working";  // status sent at registration
  int64_t timeout_ms = 10000;
};

class InventoryClient {
 public:
  explicit InventoryClient(InventoryOptions options);

  // Registers (or updates) the host; stores the id. A stored id the server no longer knows is
  // forgotten and the host registered afresh.
  // send_status false: only facts/meta are updated (the host keeps the status set on the server).
  Status Register(const HostFacts& facts, bool send_status = true);
  // Heartbeat with key metrics for the host list. NotFound: unknown id (call Register again);
  // a retired host answers 410 -> PermissionDenied "host is retired".
  Status Heartbeat(const std::map<std::string, double>& key_metrics);
  Status SetStatus(const std::string& status);
  // Reports check plugin results (POST /api/v1/hosts/<id>/checks).
  Status ReportChecks(const std::vector<CheckResult>& checks);
  // Reports the agent's scrape targets (POST /api/v1/targets/report, body from
  // scrape::EncodeTargetReport); returns the answer's body (approvals; scrape.md §6).
  Result<std::string> ReportTargets(const std::string& body);
  // Retires the host and deletes the host_id file.
  Status Retire();

  const std::string& host_id() const { return host_id_; }
  // Reads <state_dir>/host_id ("" when absent).
  static std::string LoadHostId(const std::string& state_dir);

 private:
  Result<std::string> Post(const std::string& path, const std::string& body, int* status);

  InventoryOptions opts_;
  std::string host_id_;
};

// The JSON body of POST /api/v1/hosts.
std::string RegisterBody(const HostFacts& f, const InventoryOptions& o, const std::string& id,
                         bool send_status = true);

}  // namespace kansoku::agent
