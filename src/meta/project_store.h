#pragma once
// ProjectStore: Sentry-style projects and their DSN keys in the SQLite meta.db
// (docs/design/errors.md section 1).
//
// A public key is 32 lowercase hex characters (128 random bits). It identifies, it does not
// protect (browser SDKs ship it), so it is kept in clear. Lookup() is served from an in-memory
// map (no SQLite on the ingest path); every change writes through to SQLite first.
//
// Thread safety: every method is thread-safe. Errors: IOError for SQLite failures, NotFound for
// unknown ids, InvalidArgument for bad names or limits.
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

struct sqlite3;

namespace kansoku::meta {

struct ProjectKey {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string public_key;
  std::string label;
  int64_t created_at_ms = 0;
  int64_t disabled_at_ms = 0;     // 0 while enabled
  int64_t events_per_minute = 0;  // 0 = unlimited
  int64_t events_per_day = 0;
  bool enabled() const { return disabled_at_ms == 0; }
};

struct Project {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
  int64_t events_per_minute = 0;  // 0 = unlimited
  int64_t events_per_day = 0;
  std::string fingerprint_rules;  // server-side fingerprint rules, one per line
  std::vector<ProjectKey> keys;
};

// "http://<key>@<host_port>/<project>"
std::string Dsn(const ProjectKey& key, const std::string& host_port, bool tls = false);

class ProjectStore {
 public:
  // Opens (creating the tables if needed) <data_dir>/meta.db.
  static Result<std::unique_ptr<ProjectStore>> Open(const std::string& data_dir,
                                                    Clock& clock = Clock::Real());
  ~ProjectStore();

  // Creates a project with one key named "default".
  Result<Project> Create(const std::string& name);
  // Creates project "default" with a key when there is no project yet; *created tells if it did.
  Result<Project> EnsureFirst(bool* created);
  Result<std::vector<Project>> List() const;
  Result<Project> Get(int64_t id) const;
  Status SetLimits(int64_t project_id, int64_t per_minute, int64_t per_day);
  // Stores the rules text as given (the caller validates it).
  Status SetFingerprintRules(int64_t project_id, const std::string& rules);

  Result<ProjectKey> AddKey(int64_t project_id, const std::string& label);
  // Any of the optional fields (nullptr = unchanged).
  Status UpdateKey(int64_t project_id, int64_t key_id, const bool* disabled,
                   const int64_t* per_minute, const int64_t* per_day);
  // Gives the key a new public key; the old one stops working at once.
  Result<ProjectKey> RotateKey(int64_t project_id, int64_t key_id);

  // The ingest path: key (enabled or not) and its project's limits. NotFound if unknown.
  struct KeyLookup {
    ProjectKey key;
    std::string project_name;
    int64_t project_events_per_minute = 0;
    int64_t project_events_per_day = 0;
  };
  Result<KeyLookup> Lookup(std::string_view public_key) const;

 private:
  ProjectStore(sqlite3* db, Clock& clock) : db_(db), clock_(clock) {}
  Status Load();
  Result<ProjectKey> InsertKey(int64_t project_id, const std::string& label);

  sqlite3* db_;  // serialized by write_mu_
  Clock& clock_;
  mutable std::mutex write_mu_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, ProjectKey> by_key_;  // GUARDED_BY(mu_)
  std::unordered_map<int64_t, Project> projects_;       // GUARDED_BY(mu_), keys not filled
};

}  // namespace kansoku::meta
