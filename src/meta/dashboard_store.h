#pragma once
// DashboardStore: dashboards in the SQLite meta.db (table `dashboards`, docs/design/dashboards.md).
//
// The store keeps each dashboard as an opaque JSON object (`body`, already validated by the
// caller, without the server-owned fields) plus the columns the list needs (title, tags, panel
// count) and the server-owned ones (version, timestamps, who saved it). It knows nothing of
// panels or HTTP.
//
// Versions: 1 on create, +1 on every Put. Put's `expected_version` gives optimistic
// concurrency: kAnyVersion overwrites or creates, kMustNotExist only creates, N > 0 replaces
// only if the stored version is N.
//
// Durability: its own SQLite connection to <data_dir>/meta.db in WAL mode with synchronous=FULL,
// so a Put that returned OK survives kill -9 and power loss.
// Thread safety: every method is thread-safe (writes are serialized by a mutex).
// Errors: NotFound for an unknown id; AlreadyExists when `expected_version` does not hold (the
// message names the stored version); ResourceExhausted beyond max_dashboards; IOError for SQLite.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

struct sqlite3;

namespace kansoku::meta {

struct DashboardRecord {
  std::string id;
  std::string title;
  std::string tags_json = "[]";  // JSON array of strings
  int64_t panels = 0;            // number of panels, for the list
  std::string body;              // JSON object without id/version/updated_*; empty in List()
  int64_t version = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string updated_by;
};

class DashboardStore {
 public:
  static constexpr int64_t kAnyVersion = -1;
  static constexpr int64_t kMustNotExist = 0;
  static constexpr size_t kDefaultMaxDashboards = 10000;

  // Opens (creating if needed) <data_dir>/meta.db and the dashboards table.
  static Result<std::unique_ptr<DashboardStore>> Open(
      const std::string& data_dir, Clock& clock = Clock::Real(),
      size_t max_dashboards = kDefaultMaxDashboards);
  ~DashboardStore();
  DashboardStore(const DashboardStore&) = delete;
  DashboardStore& operator=(const DashboardStore&) = delete;

  // All dashboards ordered by title (case-insensitive), without bodies.
  Result<std::vector<DashboardRecord>> List();
  Result<DashboardRecord> Get(const std::string& id);
  // Whether a dashboard with this id exists.
  Result<bool> Exists(const std::string& id);
  // Stores rec (id, title, tags_json, panels, body, updated_by are used); returns the stored
  // record with version and timestamps set.
  Result<DashboardRecord> Put(const DashboardRecord& rec, int64_t expected_version);
  Status Delete(const std::string& id);

 private:
  DashboardStore(sqlite3* db, Clock& clock, size_t max) : db_(db), clock_(clock), max_(max) {}

  sqlite3* db_;  // all use serialized by mu_
  Clock& clock_;
  size_t max_;
  std::mutex mu_;
};

}  // namespace kansoku::meta
