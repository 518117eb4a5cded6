#include "meta/host_store.h"

#include <openssl/rand.h>

#include <algorithm>

#include "base/strings.h"
#include "meta/sqlite_db.h"

namespace kansoku::meta {
namespace {

// Roles are stored as a newline-separated list (role names never contain newlines: the API
// rejects them).
std::string JoinRoles(const std::vector<std::string>& roles) {
  std::string out;
  for (const auto& r : roles) out += (out.empty() ? "" : "\n") + r;
  return out;
}

std::vector<std::string> SplitRoles(const std::string& s) {
  std::vector<std::string> out;
  for (auto r : Split(s, '\n')) {
    if (!r.empty()) out.emplace_back(r);
  }
  return out;
}

}  // namespace

bool IsValidHostStatus(const std::string& s) {
  return s == "working" || s == "standby" || s == "maintenance" || s == "poweroff";
}

Result<std::unique_ptr<HostStore>> HostStore::Open(const std::string& data_dir,
                                                   HostStoreOptions options, Clock& clock) {
  const char* schema =
      "CREATE TABLE IF NOT EXISTS hosts ("
      "  id TEXT PRIMARY KEY,"
      "  name TEXT NOT NULL,"
      "  service TEXT NOT NULL DEFAULT '',"
      "  roles TEXT NOT NULL DEFAULT '',"
      "  status TEXT NOT NULL,"
      "  registered_at_ms INTEGER NOT NULL,"
      "  last_heartbeat_ms INTEGER NOT NULL,"
      "  interval_ms INTEGER NOT NULL,"
      "  retired_at_ms INTEGER NOT NULL DEFAULT 0,"
      "  meta_json TEXT NOT NULL DEFAULT '{}',"
      "  metrics_json TEXT NOT NULL DEFAULT '{}');"
      "CREATE TABLE IF NOT EXISTS host_checks ("
      "  host_id TEXT NOT NULL,"
      "  name TEXT NOT NULL,"
      "  status TEXT NOT NULL,"
      "  message TEXT NOT NULL,"
      "  occurred_at_ms INTEGER NOT NULL,"
      "  PRIMARY KEY (host_id, name));";
  auto opened = OpenMetaDb(data_dir, schema, "the hosts tables");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  // Added after the first release: ignore "duplicate column" on databases that have it.
  sqlite3_exec(db, "ALTER TABLE hosts ADD COLUMN unreachable_after INTEGER NOT NULL DEFAULT 0",
               nullptr, nullptr, nullptr);
  if (options.unreachable_after_intervals < 1) options.unreachable_after_intervals = 1;
  std::unique_ptr<HostStore> store(new HostStore(db, options, clock));
  KANSOKU_RETURN_IF_ERROR(store->Load());
  return store;
}

HostStore::~HostStore() {
  (void)Flush();
  sqlite3_close(db_);
}

Status HostStore::Load() {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt st(db_,
          "SELECT id, name, service, roles, status, registered_at_ms, last_heartbeat_ms, "
          "interval_ms, retired_at_ms, meta_json, metrics_json, unreachable_after FROM hosts");
  if (!st.ok()) return SqlError(db_, "load hosts");
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    HostInfo h;
    h.id = ColumnText(st.get(), 0);
    h.name = ColumnText(st.get(), 1);
    h.service = ColumnText(st.get(), 2);
    h.roles = SplitRoles(ColumnText(st.get(), 3));
    h.status = ColumnText(st.get(), 4);
    h.registered_at_ms = sqlite3_column_int64(st.get(), 5);
    h.last_heartbeat_ms = sqlite3_column_int64(st.get(), 6);
    h.interval_ms = sqlite3_column_int64(st.get(), 7);
    h.retired_at_ms = sqlite3_column_int64(st.get(), 8);
    h.meta_json = ColumnText(st.get(), 9);
    h.metrics_json = ColumnText(st.get(), 10);
    h.unreachable_after = sqlite3_column_int(st.get(), 11);
    persisted_hb_[h.id] = h.last_heartbeat_ms;
    hosts_[h.id] = std::move(h);
  }
  Stmt cs(db_,
          "SELECT host_id, name, status, message, occurred_at_ms FROM host_checks "
          "ORDER BY host_id, name");
  if (!cs.ok()) return SqlError(db_, "load host checks");
  while (sqlite3_step(cs.get()) == SQLITE_ROW) {
    auto it = hosts_.find(ColumnText(cs.get(), 0));
    if (it == hosts_.end()) continue;
    it->second.checks.push_back({ColumnText(cs.get(), 1), ColumnText(cs.get(), 2),
                                 ColumnText(cs.get(), 3), sqlite3_column_int64(cs.get(), 4)});
  }
  return Status::Ok();
}

Status HostStore::Save(const HostInfo& h) {
  Stmt st(db_,
          "INSERT OR REPLACE INTO hosts(id, name, service, roles, status, registered_at_ms, "
          "last_heartbeat_ms, interval_ms, retired_at_ms, meta_json, metrics_json, "
          "unreachable_after) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return SqlError(db_, "save host");
  std::string roles = JoinRoles(h.roles);
  sqlite3_bind_text(st.get(), 1, h.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 2, h.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 3, h.service.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 4, roles.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 5, h.status.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 6, h.registered_at_ms);
  sqlite3_bind_int64(st.get(), 7, h.last_heartbeat_ms);
  sqlite3_bind_int64(st.get(), 8, h.interval_ms);
  sqlite3_bind_int64(st.get(), 9, h.retired_at_ms);
  sqlite3_bind_text(st.get(), 10, h.meta_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 11, h.metrics_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st.get(), 12, h.unreachable_after);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "save host");
  persisted_hb_[h.id] = h.last_heartbeat_ms;
  return Status::Ok();
}

void HostStore::Annotate(HostInfo* h, int64_t now) const {
  h->unreachable_after_effective =
      h->unreachable_after > 0 ? h->unreachable_after : opts_.unreachable_after_intervals;
  int64_t limit = h->interval_ms * h->unreachable_after_effective;
  h->unreachable = !h->retired() && now - h->last_heartbeat_ms > limit;
}

Result<HostInfo> HostStore::Register(const HostRegistration& r) {
  if (r.name.empty()) return Status::InvalidArgument("field \"name\": a host name is required");
  if (!r.status.empty() && !IsValidHostStatus(r.status)) {
    return Status::InvalidArgument("unknown status \"" + r.status +
                                   "\" (working, standby, maintenance, poweroff)");
  }
  for (const auto& role : r.roles) {
    if (role.empty() || role.find('\n') != std::string::npos) {
      return Status::InvalidArgument("role names must be non-empty single lines");
    }
  }
  int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lk(mu_);
  HostInfo h;
  if (!r.id.empty()) {
    auto it = hosts_.find(r.id);
    if (it == hosts_.end()) return Status::NotFound("unknown host id " + r.id);
    if (it->second.retired()) return Status::PermissionDenied("host " + r.id + " is retired");
    h = it->second;
  } else {
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) return Status::Internal("RAND_bytes failed");
    h.id = HexEncode(std::string_view(reinterpret_cast<char*>(rnd), sizeof rnd));
    h.registered_at_ms = now;
    h.status = "working";
  }
  h.name = r.name;
  h.service = r.service;
  h.roles = r.roles;
  if (!r.status.empty()) h.status = r.status;
  h.interval_ms = r.interval_ms > 0 ? r.interval_ms : 15000;
  h.unreachable_after = r.unreachable_after > 0 ? r.unreachable_after : 0;
  h.meta_json = r.meta_json.empty() ? "{}" : r.meta_json;
  h.last_heartbeat_ms = now;
  KANSOKU_RETURN_IF_ERROR(Save(h));
  hosts_[h.id] = h;
  Annotate(&h, now);
  return h;
}

Status HostStore::Heartbeat(const std::string& id, const std::string& metrics_json) {
  int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return Status::NotFound("unknown host id " + id);
  if (it->second.retired()) return Status::PermissionDenied("host " + id + " is retired");
  it->second.last_heartbeat_ms = now;
  if (!metrics_json.empty()) it->second.metrics_json = metrics_json;
  if (now - persisted_hb_[id] >= opts_.heartbeat_persist_ms) return Save(it->second);
  return Status::Ok();
}

Status HostStore::SetStatus(const std::string& id, const std::string& status) {
  if (!IsValidHostStatus(status)) {
    return Status::InvalidArgument("unknown status \"" + status +
                                   "\" (working, standby, maintenance, poweroff)");
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return Status::NotFound("unknown host id " + id);
  if (it->second.retired()) return Status::PermissionDenied("host " + id + " is retired");
  HostInfo h = it->second;
  h.status = status;
  KANSOKU_RETURN_IF_ERROR(Save(h));
  it->second = std::move(h);
  return Status::Ok();
}

Status HostStore::Retire(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return Status::NotFound("unknown host id " + id);
  if (it->second.retired()) return Status::Ok();
  HostInfo h = it->second;
  h.retired_at_ms = clock_.NowMs();
  KANSOKU_RETURN_IF_ERROR(Save(h));
  it->second = std::move(h);
  return Status::Ok();
}

Status HostStore::ReportChecks(const std::string& id, const std::vector<HostCheck>& checks) {
  for (const auto& c : checks) {
    if (c.name.empty()) return Status::InvalidArgument("a check needs a name");
    if (c.status != "OK" && c.status != "WARNING" && c.status != "CRITICAL" &&
        c.status != "UNKNOWN") {
      return Status::InvalidArgument("check \"" + c.name + "\": unknown status \"" + c.status +
                                     "\" (OK, WARNING, CRITICAL, UNKNOWN)");
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return Status::NotFound("unknown host id " + id);
  if (it->second.retired()) return Status::PermissionDenied("host " + id + " is retired");
  for (const auto& c : checks) {
    Stmt st(db_,
            "INSERT OR REPLACE INTO host_checks(host_id, name, status, message, occurred_at_ms) "
            "VALUES(?,?,?,?,?)");
    if (!st.ok()) return SqlError(db_, "save check");
    sqlite3_bind_text(st.get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.get(), 2, c.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.get(), 3, c.status.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.get(), 4, c.message.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.get(), 5, c.occurred_at_ms);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "save check");
    auto& list = it->second.checks;
    auto same = std::find_if(list.begin(), list.end(),
                             [&](const HostCheck& x) { return x.name == c.name; });
    if (same != list.end()) {
      *same = c;
    } else {
      list.push_back(c);
      std::sort(list.begin(), list.end(),
                [](const HostCheck& a, const HostCheck& b) { return a.name < b.name; });
    }
  }
  return Status::Ok();
}

Result<HostInfo> HostStore::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return Status::NotFound("unknown host id " + id);
  HostInfo h = it->second;
  Annotate(&h, clock_.NowMs());
  return h;
}

std::vector<HostInfo> HostStore::List(const HostFilter& f) const {
  int64_t now = clock_.NowMs();
  std::vector<HostInfo> out;
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& [id, stored] : hosts_) {
    HostInfo h = stored;
    Annotate(&h, now);
    if (h.retired() && !f.include_retired && f.status != "retired") continue;
    if (!f.service.empty() && h.service != f.service) continue;
    if (!f.role.empty() && std::find(h.roles.begin(), h.roles.end(), f.role) == h.roles.end()) {
      continue;
    }
    if (!f.status.empty()) {
      if (f.status == "unreachable") {
        if (!h.unreachable) continue;
      } else if (f.status == "retired") {
        if (!h.retired()) continue;
      } else if (h.status != f.status || h.retired()) {
        continue;
      }
    }
    out.push_back(std::move(h));
  }
  std::sort(out.begin(), out.end(), [](const HostInfo& a, const HostInfo& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  });
  return out;
}

std::vector<HostInfo> HostStore::Unreachable() const {
  std::vector<HostInfo> out;
  for (auto& h : List()) {
    if (h.unreachable && (h.status == "working" || h.status == "standby")) {
      out.push_back(std::move(h));
    }
  }
  return out;
}

std::map<std::string, int> HostStore::CountByStatus() const {
  std::map<std::string, int> out;
  HostFilter f;
  f.include_retired = true;
  for (const auto& h : List(f)) {
    if (h.retired()) {
      out["retired"]++;
      continue;
    }
    out[h.status]++;
    if (h.unreachable) out["unreachable"]++;
  }
  return out;
}

Status HostStore::Flush() {
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& [id, h] : hosts_) {
    if (persisted_hb_[id] != h.last_heartbeat_ms) KANSOKU_RETURN_IF_ERROR(Save(h));
  }
  return Status::Ok();
}

}  // namespace kansoku::meta
