#pragma once
// The SQLite plumbing every meta.db store shares (internal to kansoku_meta; stores include it
// from their .cc files only, so <sqlite3.h> stays out of the public store headers).
//
// Errors: Status::IOError naming meta.db, what was being done and SQLite's message.
// Thread safety: a connection is opened with SQLITE_OPEN_FULLMUTEX; a Stmt or Txn belongs to the
// thread that made it.
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kansoku::meta {

// Opens (creating the directory and the file) <data_dir>/meta.db, mode 0600, with WAL,
// synchronous=FULL and a 5 s busy timeout, then runs `schema` (CREATE TABLE IF NOT EXISTS ...).
// `what` names the schema in the error ("the tokens table"). The caller owns the handle and
// closes it with sqlite3_close; on error nothing stays open.
Result<sqlite3*> OpenMetaDb(const std::string& data_dir, const char* schema, std::string_view what);

// IOError "meta.db: <what>: <sqlite3_errmsg>".
Status SqlError(sqlite3* db, const std::string& what);

// A prepared statement, finalized on destruction. ok() is false when preparing failed (then
// SqlError(db, ...) tells why).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  sqlite3_stmt* get() { return s_; }
  bool ok() const { return s_ != nullptr; }
  void Bind(int i, std::string_view s);  // copied (SQLITE_TRANSIENT)
  void Bind(int i, int64_t v);
  // Column i as text ("" for NULL) / as an integer.
  std::string Text(int i);
  int64_t Int(int i);

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Column i of the current row as text, "" for NULL.
std::string ColumnText(sqlite3_stmt* s, int i);

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
class Txn {
 public:
  explicit Txn(sqlite3* db);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  bool ok() const { return ok_; }
  bool Commit();

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool done_ = false;
};

}  // namespace kansoku::meta
