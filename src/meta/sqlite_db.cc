#include "meta/sqlite_db.h"

#include <sys/stat.h>

namespace kansoku::meta {

Result<sqlite3*> OpenMetaDb(const std::string& data_dir, const char* schema,
                            std::string_view what) {
  ::mkdir(data_dir.c_str(), 0755);
  std::string path = data_dir + "/meta.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    Status st = Status::IOError("cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "?"));
    sqlite3_close(db);
    return st;
  }
  ::chmod(path.c_str(), 0600);  // token hashes and DSN keys live here
  sqlite3_busy_timeout(db, 5000);
  std::string sql = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
  sql += schema;
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::IOError("cannot create " + std::string(what) + " in " + path + ": " +
                                (err ? err : "?"));
    sqlite3_free(err);
    sqlite3_close(db);
    return st;
  }
  return db;
}

Status SqlError(sqlite3* db, const std::string& what) {
  return Status::IOError("meta.db: " + what + ": " + sqlite3_errmsg(db));
}

Stmt::Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
Stmt::~Stmt() { sqlite3_finalize(s_); }

void Stmt::Bind(int i, std::string_view s) {
  sqlite3_bind_text(s_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}
void Stmt::Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
std::string Stmt::Text(int i) { return ColumnText(s_, i); }
int64_t Stmt::Int(int i) { return sqlite3_column_int64(s_, i); }

std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

Txn::Txn(sqlite3* db) : db_(db) {
  ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
}
Txn::~Txn() {
  if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}
bool Txn::Commit() {
  done_ = true;
  return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace kansoku::meta
