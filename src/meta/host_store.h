#pragma once
// HostStore: the hosts registry (Mackerel-style inventory) in the SQLite meta.db, table `hosts`
// (docs/design/agent.md §4). Agents register their host, heartbeat every interval, set a status
// (working, standby, maintenance, poweroff) and may retire it. A host is *unreachable* when no
// heartbeat arrived for N times its interval, N = the host's own `unreachable_after` (sent by
// its agent at registration) or else the server's `unreachable_after_intervals` (config
// hosts.unreachable_after, default 3); this is computed at read time from the clock.
//
// For alerting (connectivity alerts): Unreachable() lists the hosts that deserve one (status
// working or standby, not retired, heartbeats missing); maintenance, poweroff and retired hosts
// are never in it. Poll it at any rate: it reads memory only.
//
// Reads are served from memory. Register, SetStatus and Retire write through to SQLite;
// heartbeats update memory and are persisted at most every `heartbeat_persist_ms` per host
// (and on Close), so after a restart a host's last heartbeat may look up to that much older.
//
// Thread safety: every method is thread-safe. Errors: IOError for SQLite failures, NotFound for
// an unknown id, PermissionDenied ("host ... is retired") for calls on a
// retired host, InvalidArgument for an unknown status.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

struct sqlite3;

namespace kansoku::meta {

// The statuses a host can be set to.
bool IsValidHostStatus(const std::string& s);  // working standby maintenance poweroff

// The last result of one check plugin on a host.
struct HostCheck {
  std::string name;
  std::string status;  // OK, WARNING, CRITICAL, UNKNOWN
  std::string message;
  int64_t occurred_at_ms = 0;
};

struct HostInfo {
  std::string id;  // 16 hex characters, issued at registration
  std::string name;
  std::string service;
  std::vector<std::string> roles;
  std::string status = "working";
  int64_t registered_at_ms = 0;
  int64_t last_heartbeat_ms = 0;    // registration counts as the first heartbeat
  int64_t interval_ms = 15000;      // the agent's heartbeat interval
  int64_t retired_at_ms = 0;        // 0 = not retired
  std::string meta_json = "{}";     // facts sent by the agent (a JSON object, validated by caller)
  std::string metrics_json = "{}";  // key metrics of the last heartbeat (a JSON object)
  int unreachable_after = 0;        // missed intervals before unreachable; 0 = server default
  bool unreachable = false;         // computed at read time
  int unreachable_after_effective = 0;  // computed at read time: the threshold that applies
  std::vector<HostCheck> checks;        // last result per check, by name
  bool retired() const { return retired_at_ms != 0; }
};

struct HostRegistration {
  std::string id;  // "" = new host
  std::string name, service;
  std::vector<std::string> roles;
  std::string status;  // "" = keep (new hosts: working)
  int64_t interval_ms = 15000;
  int unreachable_after = 0;  // 0 = the server's unreachable_after_intervals
  std::string meta_json = "{}";
};

struct HostFilter {
  std::string service, role, status;  // "" = any; status may be "unreachable" or "retired"
  bool include_retired = false;
};

struct HostStoreOptions {
  int unreachable_after_intervals = 3;
  int64_t heartbeat_persist_ms = 60000;
};

class HostStore {
 public:
  // Opens (creating the table if needed) <data_dir>/meta.db and loads every host.
  static Result<std::unique_ptr<HostStore>> Open(const std::string& data_dir,
                                                 HostStoreOptions options = {},
                                                 Clock& clock = Clock::Real());
  ~HostStore();

  // Registers a new host or updates a known one (name, service, roles, interval, meta; status
  // when given). NotFound for an unknown id; PermissionDenied for a retired one.
  Result<HostInfo> Register(const HostRegistration& r);
  Status Heartbeat(const std::string& id, const std::string& metrics_json);
  Status SetStatus(const std::string& id, const std::string& status);
  Status Retire(const std::string& id);
  // Stores check results (last one per check name). InvalidArgument for an unknown status.
  Status ReportChecks(const std::string& id, const std::vector<HostCheck>& checks);

  Result<HostInfo> Get(const std::string& id) const;
  std::vector<HostInfo> List(const HostFilter& filter = {}) const;
  // Hosts that deserve a connectivity alert (see the header comment).
  std::vector<HostInfo> Unreachable() const;
  // Counts by status ("working", ..., plus "unreachable" and "retired"), for self-metrics.
  std::map<std::string, int> CountByStatus() const;

  // Persists pending heartbeat times.
  Status Flush();

 private:
  HostStore(sqlite3* db, HostStoreOptions o, Clock& clock) : db_(db), opts_(o), clock_(clock) {}
  Status Load();
  Status Save(const HostInfo& h);
  void Annotate(HostInfo* h, int64_t now) const;

  sqlite3* db_;
  HostStoreOptions opts_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, HostInfo> hosts_;        // GUARDED_BY(mu_)
  std::map<std::string, int64_t> persisted_hb_;  // GUARDED_BY(mu_): heartbeat time in SQLite
};

}  // namespace kansoku::meta
