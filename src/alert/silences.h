#pragma once
// Silences: mute alerts matching label matchers between starts_at and ends_at
// (alerting.md §4). Persisted in <state_dir>/silences.json, rewritten atomically on change.
//
// Thread safety: every method is thread-safe (one mutex). Errors: InvalidArgument for bad input
// (no matchers, a matcher that matches everything, end before start), NotFound for unknown ids,
// IOError when the file cannot be written (the change is then not applied).
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::alert {

struct Silence {
  std::string id;
  std::vector<std::string> matchers;  // as written: name="v", name=~"re", ...
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string created_by;
  std::string comment;
  int64_t updated_at_ms = 0;
  // "active", "pending" (starts later) or "expired".
  std::string StateAt(int64_t now_ms) const;
};

class Silences {
 public:
  // state_dir "" keeps silences in memory only (tests).
  Silences(std::string state_dir, Clock* clock);
  // Reads silences.json if present; Corruption when it does not parse.
  Status Load();
  // Validates and stores; assigns an id when s.id is empty (else replaces that silence).
  Result<std::string> Put(Silence s);
  // Ends a silence now.
  Status Expire(const std::string& id);
  std::vector<Silence> List() const;
  // The id of an active silence that mutes labels at now_ms, or "".
  std::string MutedBy(const tsdb::Labels& labels, int64_t now_ms) const;
  size_t ActiveCount(int64_t now_ms) const;

 private:
  struct Entry {
    Silence s;
    std::vector<tsdb::Matcher> compiled;
  };
  Status SaveLocked() const;
  std::string dir_;
  Clock* clock_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // GUARDED_BY(mu_)
  uint64_t seq_ = 0;            // GUARDED_BY(mu_)
};

}  // namespace kansoku::alert
