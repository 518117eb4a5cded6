#include "meta/project_store.h"

#include <openssl/rand.h>

#include <algorithm>

#include "base/strings.h"
#include "meta/sqlite_db.h"

namespace kansoku::meta {
namespace {

Result<std::string> NewPublicKey() {
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return Status::Internal("RAND_bytes failed");
  return HexEncode(std::string_view(reinterpret_cast<char*>(rnd), sizeof rnd));
}

}  // namespace

std::string Dsn(const ProjectKey& key, const std::string& host_port, bool tls) {
  return std::string(tls ? "https://" : "http://") + key.public_key + "@" + host_port + "/" +
         std::to_string(key.project_id);
}

Result<std::unique_ptr<ProjectStore>> ProjectStore::Open(const std::string& data_dir,
                                                         Clock& clock) {
  const char* schema =
      "CREATE TABLE IF NOT EXISTS projects ("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  name TEXT NOT NULL,"
      "  created_at_ms INTEGER NOT NULL,"
      "  events_per_minute INTEGER NOT NULL DEFAULT 0,"
      "  events_per_day INTEGER NOT NULL DEFAULT 0,"
      "  fingerprint_rules TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE IF NOT EXISTS project_keys ("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  project_id INTEGER NOT NULL REFERENCES projects(id),"
      "  public_key TEXT NOT NULL UNIQUE,"
      "  label TEXT NOT NULL,"
      "  created_at_ms INTEGER NOT NULL,"
      "  disabled_at_ms INTEGER NOT NULL DEFAULT 0,"
      "  events_per_minute INTEGER NOT NULL DEFAULT 0,"
      "  events_per_day INTEGER NOT NULL DEFAULT 0);";
  auto opened = OpenMetaDb(data_dir, schema, "the tokens table");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<ProjectStore> store(new ProjectStore(db, clock));
  KANSOKU_RETURN_IF_ERROR(store->Load());
  return store;
}

ProjectStore::~ProjectStore() { sqlite3_close(db_); }

Status ProjectStore::Load() {
  std::lock_guard<std::mutex> w(write_mu_);
  std::unique_lock<std::shared_mutex> lock(mu_);
  projects_.clear();
  by_key_.clear();
  {
    Stmt st(db_,
            "SELECT id, name, created_at_ms, events_per_minute, events_per_day, fingerprint_rules "
            "FROM projects");
    if (!st.ok()) return SqlError(db_, "load projects");
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      Project p;
      p.id = sqlite3_column_int64(st.get(), 0);
      p.name = ColumnText(st.get(), 1);
      p.created_at_ms = sqlite3_column_int64(st.get(), 2);
      p.events_per_minute = sqlite3_column_int64(st.get(), 3);
      p.events_per_day = sqlite3_column_int64(st.get(), 4);
      p.fingerprint_rules = ColumnText(st.get(), 5);
      projects_[p.id] = std::move(p);
    }
  }
  Stmt st(db_,
          "SELECT id, project_id, public_key, label, created_at_ms, disabled_at_ms, "
          "events_per_minute, events_per_day FROM project_keys");
  if (!st.ok()) return SqlError(db_, "load project keys");
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    ProjectKey k;
    k.id = sqlite3_column_int64(st.get(), 0);
    k.project_id = sqlite3_column_int64(st.get(), 1);
    k.public_key = ColumnText(st.get(), 2);
    k.label = ColumnText(st.get(), 3);
    k.created_at_ms = sqlite3_column_int64(st.get(), 4);
    k.disabled_at_ms = sqlite3_column_int64(st.get(), 5);
    k.events_per_minute = sqlite3_column_int64(st.get(), 6);
    k.events_per_day = sqlite3_column_int64(st.get(), 7);
    by_key_[k.public_key] = std::move(k);
  }
  return Status::Ok();
}

Result<ProjectKey> ProjectStore::InsertKey(int64_t project_id, const std::string& label) {
  // write_mu_ held by the caller.
  KANSOKU_ASSIGN_OR_RETURN(std::string pk, NewPublicKey());
  Stmt st(db_,
          "INSERT INTO project_keys(project_id, public_key, label, created_at_ms) "
          "VALUES(?, ?, ?, ?)");
  if (!st.ok()) return SqlError(db_, "insert key");
  ProjectKey k;
  k.project_id = project_id;
  k.public_key = pk;
  k.label = label;
  k.created_at_ms = clock_.NowMs();
  sqlite3_bind_int64(st.get(), 1, project_id);
  sqlite3_bind_text(st.get(), 2, pk.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 3, label.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 4, k.created_at_ms);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "insert key");
  k.id = sqlite3_last_insert_rowid(db_);
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_key_[pk] = k;
  return k;
}

Result<Project> ProjectStore::Create(const std::string& name) {
  if (name.empty() || name.size() > 200) {
    return Status::InvalidArgument("a project needs a name of 1 to 200 characters");
  }
  int64_t id;
  {
    std::lock_guard<std::mutex> w(write_mu_);
    Stmt st(db_, "INSERT INTO projects(name, created_at_ms) VALUES(?, ?)");
    if (!st.ok()) return SqlError(db_, "insert project");
    Project p;
    p.name = name;
    p.created_at_ms = clock_.NowMs();
    sqlite3_bind_text(st.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.get(), 2, p.created_at_ms);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "insert project");
    p.id = id = sqlite3_last_insert_rowid(db_);
    {
      std::unique_lock<std::shared_mutex> lock(mu_);
      projects_[p.id] = p;
    }
    auto k = InsertKey(p.id, "default");
    if (!k.ok()) return k.status();
  }
  return Get(id);
}

Result<Project> ProjectStore::EnsureFirst(bool* created) {
  *created = false;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (!projects_.empty()) {
      int64_t first = projects_.begin()->first;
      for (auto& [id, p] : projects_) first = std::min(first, id);
      lock.unlock();
      return Get(first);
    }
  }
  *created = true;
  return Create("default");
}

Result<Project> ProjectStore::Get(int64_t id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = projects_.find(id);
  if (it == projects_.end()) return Status::NotFound("no project " + std::to_string(id));
  Project p = it->second;
  for (const auto& [pk, k] : by_key_)
    if (k.project_id == id) p.keys.push_back(k);
  std::sort(p.keys.begin(), p.keys.end(),
            [](const ProjectKey& a, const ProjectKey& b) { return a.id < b.id; });
  return p;
}

Result<std::vector<Project>> ProjectStore::List() const {
  std::vector<int64_t> ids;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const auto& [id, p] : projects_) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<Project> out;
  for (int64_t id : ids) {
    auto p = Get(id);
    if (p.ok()) out.push_back(std::move(p).value());
  }
  return out;
}

Status ProjectStore::SetLimits(int64_t project_id, int64_t per_minute, int64_t per_day) {
  if (per_minute < 0 || per_day < 0) return Status::InvalidArgument("limits must be >= 0");
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, "UPDATE projects SET events_per_minute = ?, events_per_day = ? WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "update project");
  sqlite3_bind_int64(st.get(), 1, per_minute);
  sqlite3_bind_int64(st.get(), 2, per_day);
  sqlite3_bind_int64(st.get(), 3, project_id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "update project");
  if (sqlite3_changes(db_) == 0)
    return Status::NotFound("no project " + std::to_string(project_id));
  std::unique_lock<std::shared_mutex> lock(mu_);
  projects_[project_id].events_per_minute = per_minute;
  projects_[project_id].events_per_day = per_day;
  return Status::Ok();
}

Status ProjectStore::SetFingerprintRules(int64_t project_id, const std::string& rules) {
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, "UPDATE projects SET fingerprint_rules = ? WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "update project");
  sqlite3_bind_text(st.get(), 1, rules.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 2, project_id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "update project");
  if (sqlite3_changes(db_) == 0) {
    return Status::NotFound("no project " + std::to_string(project_id));
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  projects_[project_id].fingerprint_rules = rules;
  return Status::Ok();
}

Result<ProjectKey> ProjectStore::AddKey(int64_t project_id, const std::string& label) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (!projects_.count(project_id)) {
      return Status::NotFound("no project " + std::to_string(project_id));
    }
  }
  std::lock_guard<std::mutex> w(write_mu_);
  return InsertKey(project_id, label.empty() ? "key" : label);
}

Status ProjectStore::UpdateKey(int64_t project_id, int64_t key_id, const bool* disabled,
                               const int64_t* per_minute, const int64_t* per_day) {
  if ((per_minute && *per_minute < 0) || (per_day && *per_day < 0)) {
    return Status::InvalidArgument("limits must be >= 0");
  }
  std::lock_guard<std::mutex> w(write_mu_);
  ProjectKey k;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = std::find_if(by_key_.begin(), by_key_.end(), [&](const auto& kv) {
      return kv.second.id == key_id && kv.second.project_id == project_id;
    });
    if (it == by_key_.end()) {
      return Status::NotFound("no key " + std::to_string(key_id) + " in project " +
                              std::to_string(project_id));
    }
    k = it->second;
  }
  if (disabled)
    k.disabled_at_ms = *disabled ? (k.disabled_at_ms ? k.disabled_at_ms : clock_.NowMs()) : 0;
  if (per_minute) k.events_per_minute = *per_minute;
  if (per_day) k.events_per_day = *per_day;
  Stmt st(db_,
          "UPDATE project_keys SET disabled_at_ms = ?, events_per_minute = ?, events_per_day = ? "
          "WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "update key");
  sqlite3_bind_int64(st.get(), 1, k.disabled_at_ms);
  sqlite3_bind_int64(st.get(), 2, k.events_per_minute);
  sqlite3_bind_int64(st.get(), 3, k.events_per_day);
  sqlite3_bind_int64(st.get(), 4, key_id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "update key");
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_key_[k.public_key] = k;
  return Status::Ok();
}

Result<ProjectKey> ProjectStore::RotateKey(int64_t project_id, int64_t key_id) {
  std::lock_guard<std::mutex> w(write_mu_);
  ProjectKey k;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = std::find_if(by_key_.begin(), by_key_.end(), [&](const auto& kv) {
      return kv.second.id == key_id && kv.second.project_id == project_id;
    });
    if (it == by_key_.end()) {
      return Status::NotFound("no key " + std::to_string(key_id) + " in project " +
                              std::to_string(project_id));
    }
    k = it->second;
  }
  KANSOKU_ASSIGN_OR_RETURN(std::string pk, NewPublicKey());
  Stmt st(db_, "UPDATE project_keys SET public_key = ? WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "rotate key");
  sqlite3_bind_text(st.get(), 1, pk.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 2, key_id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "rotate key");
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_key_.erase(k.public_key);
  k.public_key = pk;
  by_key_[pk] = k;
  return k;
}

Result<ProjectStore::KeyLookup> ProjectStore::Lookup(std::string_view public_key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = by_key_.find(std::string(public_key));
  if (it == by_key_.end()) return Status::NotFound("unknown public key");
  KeyLookup out;
  out.key = it->second;
  auto p = projects_.find(it->second.project_id);
  if (p != projects_.end()) {
    out.project_name = p->second.name;
    out.project_events_per_minute = p->second.events_per_minute;
    out.project_events_per_day = p->second.events_per_day;
  }
  return out;
}

}  // namespace kansoku::meta
