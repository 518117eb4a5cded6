#include "meta/dashboard_store.h"

#include "meta/sqlite_db.h"

namespace kansoku::meta {
namespace {

constexpr const char* kColumns =
    "id, title, tags, panels, version, created_at_ms, updated_at_ms, updated_by";

DashboardRecord ReadRow(Stmt& st) {
  DashboardRecord r;
  r.id = st.Text(0);
  r.title = st.Text(1);
  r.tags_json = st.Text(2);
  r.panels = st.Int(3);
  r.version = st.Int(4);
  r.created_at_ms = st.Int(5);
  r.updated_at_ms = st.Int(6);
  r.updated_by = st.Text(7);
  return r;
}

}  // namespace

Result<std::unique_ptr<DashboardStore>> DashboardStore::Open(const std::string& data_dir,
                                                             Clock& clock, size_t max_dashboards) {
  const char* schema =
      "CREATE TABLE IF NOT EXISTS dashboards ("
      "  id TEXT PRIMARY KEY,"
      "  title TEXT NOT NULL,"
      "  tags TEXT NOT NULL,"
      "  panels INTEGER NOT NULL,"
      "  version INTEGER NOT NULL,"
      "  body TEXT NOT NULL,"
      "  created_at_ms INTEGER NOT NULL,"
      "  updated_at_ms INTEGER NOT NULL,"
      "  updated_by TEXT NOT NULL);";
  auto opened = OpenMetaDb(data_dir, schema, "the dashboards table");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  return std::unique_ptr<DashboardStore>(new DashboardStore(db, clock, max_dashboards));
}

DashboardStore::~DashboardStore() { sqlite3_close(db_); }

Result<std::vector<DashboardRecord>> DashboardStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM dashboards ORDER BY title COLLATE NOCASE, id";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return SqlError(db_, "list dashboards");
  std::vector<DashboardRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadRow(st));
  if (rc != SQLITE_DONE) return SqlError(db_, "list dashboards");
  return out;
}

Result<DashboardRecord> DashboardStore::Get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + ", body FROM dashboards WHERE id = ?";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return SqlError(db_, "get dashboard");
  st.Bind(1, id);
  int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return Status::NotFound("no dashboard with id \"" + id + "\"");
  if (rc != SQLITE_ROW) return SqlError(db_, "get dashboard");
  DashboardRecord r = ReadRow(st);
  r.body = st.Text(8);
  return r;
}

Result<bool> DashboardStore::Exists(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "SELECT 1 FROM dashboards WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "look up dashboard");
  st.Bind(1, id);
  int rc = sqlite3_step(st.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "look up dashboard");
  return rc == SQLITE_ROW;
}

Result<DashboardRecord> DashboardStore::Put(const DashboardRecord& rec, int64_t expected_version) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  if (!txn.ok()) return SqlError(db_, "begin");
  int64_t stored_version = 0;
  int64_t created_at = 0;
  {
    Stmt st(db_, "SELECT version, created_at_ms FROM dashboards WHERE id = ?");
    if (!st.ok()) return SqlError(db_, "look up dashboard");
    st.Bind(1, rec.id);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) {
      stored_version = st.Int(0);
      created_at = st.Int(1);
    } else if (rc != SQLITE_DONE) {
      return SqlError(db_, "look up dashboard");
    }
  }
  if (expected_version == kMustNotExist && stored_version != 0) {
    return Status::AlreadyExists("a dashboard with id \"" + rec.id + "\" exists (version " +
                                 std::to_string(stored_version) + ")");
  }
  if (expected_version > 0 && stored_version != expected_version) {
    return Status::AlreadyExists(
        stored_version == 0
            ? "dashboard \"" + rec.id + "\" was deleted since version " +
                  std::to_string(expected_version) + " was loaded"
            : "dashboard \"" + rec.id + "\" was saved by someone else: stored version is " +
                  std::to_string(stored_version) + ", the edit started from version " +
                  std::to_string(expected_version));
  }
  if (stored_version == 0) {
    Stmt st(db_, "SELECT COUNT(*) FROM dashboards");
    if (!st.ok() || sqlite3_step(st.get()) != SQLITE_ROW) return SqlError(db_, "count dashboards");
    if (static_cast<size_t>(st.Int(0)) >= max_) {
      return Status::ResourceExhausted("the server keeps at most " + std::to_string(max_) +
                                       " dashboards; delete some first");
    }
  }
  DashboardRecord out = rec;
  out.version = stored_version + 1;
  out.updated_at_ms = clock_.NowMs();
  out.created_at_ms = stored_version == 0 ? out.updated_at_ms : created_at;
  Stmt st(db_,
          "INSERT OR REPLACE INTO dashboards(id, title, tags, panels, version, body, "
          "created_at_ms, updated_at_ms, updated_by) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return SqlError(db_, "store dashboard");
  st.Bind(1, out.id);
  st.Bind(2, out.title);
  st.Bind(3, out.tags_json);
  st.Bind(4, out.panels);
  st.Bind(5, out.version);
  st.Bind(6, out.body);
  st.Bind(7, out.created_at_ms);
  st.Bind(8, out.updated_at_ms);
  st.Bind(9, out.updated_by);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "store dashboard");
  if (!txn.Commit()) return SqlError(db_, "commit dashboard");
  return out;
}

Status DashboardStore::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt st(db_, "DELETE FROM dashboards WHERE id = ?");
  if (!st.ok()) return SqlError(db_, "delete dashboard");
  st.Bind(1, id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "delete dashboard");
  if (sqlite3_changes(db_) == 0) return Status::NotFound("no dashboard with id \"" + id + "\"");
  return Status::Ok();
}

}  // namespace kansoku::meta
