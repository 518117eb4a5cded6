#pragma once
// ErrorStore: durable storage of Sentry items and the issue index derived from them
// (docs/design/errors.md section 5).
//
// Every accepted item becomes a record in the EventLog (one write(2) per Write call, before the
// caller answers). Issues, release health, transactions, monitors and client reports are
// in-memory state rebuilt by replaying the log at Open, in log order, so state after a crash
// equals state before it for every acknowledged write.
//
// The store also appends kansoku_issue_events_total{project,issue} (cumulative events per
// issue) to the metrics TSDB every tsdb_flush_interval_ms, through tsdb::Appendable.
//
// Thread safety: every public method is thread-safe (one mutex over the index; log writes are
// made under it so log order equals index order). Background threads: fsync and TSDB flush,
// stopped by the destructor.
// Ownership: borrows Clock and the tsdb::Appendable (both must outlive the store).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "errors/event.h"
#include "errors/event_log.h"
#include "errors/grouping.h"

namespace kansoku::tsdb {
class Appendable;
}

namespace kansoku::errors {

enum class IssueStatus : uint8_t {
  kUnresolved = 0,
  kResolved = 1,
  kResolvedInNextRelease = 2,
  kArchived = 3,
  kRegressed = 4,
};
std::string_view IssueStatusName(IssueStatus s);
// "resolved", "resolved_in_next_release", "archived", "unresolved"; false if unknown.
bool ParseIssueStatus(std::string_view s, IssueStatus* out);

struct StoreOptions {
  std::string dir;  // data_dir/errors
  Clock* clock = &Clock::Real();
  tsdb::Appendable* tsdb = nullptr;  // optional: the per-issue event-count series
  int64_t fsync_interval_ms = 1000;  // 0 = fsync in every Write before returning
  int64_t tsdb_flush_interval_ms = 10000;
  size_t events_kept_per_issue = 50;  // newest event locations kept in memory per issue
  size_t max_tag_values = 1000;       // distinct values counted per tag key per issue
  uint64_t segment_bytes = EventLog::kDefaultSegmentBytes;
  // Retention: whole log segments are deleted once their newest record is older than
  // retention_ms, or (oldest first) while the log is larger than retention_bytes. 0 = no bound.
  int64_t retention_ms = 90LL * 24 * 3600 * 1000;
  int64_t retention_bytes = 0;
  int64_t retention_check_interval_ms = 60000;
  // Event JSON of at least this many bytes is stored gzip-compressed (libdeflate level 1) unless
  // the caller hands over its gzip form; 0 = never compress.
  size_t compress_min_bytes = 1024;
  // Optional: called at Open for every event record replayed from the log (project, arrival
  // time), in log order, before Open returns; e.g. to rebuild spike protection's baseline.
  std::function<void(int64_t project, int64_t received_ms)> on_replayed_event;
};

// One accepted event, parsed and grouped by the caller (outside the store's lock).
struct IncomingEvent {
  int64_t project = 0;
  int64_t key_id = 0;
  std::string event_id;   // 32 hex
  std::string_view json;  // raw event JSON, as received
  // Optional: the same JSON as gzip (the SDK's /store/ body as it came over the wire); stored
  // instead of compressing json again.
  std::string_view json_gzip;
  Event event;
  Grouping grouping;
};

struct IncomingAttachment {
  int64_t project = 0;
  std::string event_id;
  std::string filename, content_type;
  std::string_view data;
};

// transaction, span, session, sessions, check_in, client_report, log.
enum class ItemKind : uint8_t {
  kTransaction = 1,
  kSpan = 2,
  kSession = 3,
  kSessions = 4,
  kCheckIn = 5,
  kClientReport = 6,
  kLog = 7,
};
bool ItemKindFromType(std::string_view type, ItemKind* out);

struct IncomingItem {
  int64_t project = 0;
  ItemKind kind = ItemKind::kTransaction;
  std::string_view payload;
};

struct WriteBatch {
  std::vector<IncomingEvent> events;
  std::vector<IncomingAttachment> attachments;
  std::vector<IncomingItem> items;
  bool empty() const { return events.empty() && attachments.empty() && items.empty(); }
};

struct EventRef {
  std::string event_id;
  int64_t received_ms = 0;
  RecordRef record;
};

struct IssueInfo {
  uint64_t id = 0;
  int64_t project = 0;
  std::string hash;
  uint8_t grouping_version = kGroupingVersion;
  std::string basis;  // what grouped it (fingerprint, stacktrace, ...); from the first event
  std::string title, culprit, level, platform;
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  uint64_t count = 0;
  uint64_t users = 0;
  IssueStatus status = IssueStatus::kUnresolved;
  int64_t status_changed_ms = 0;
  int64_t archived_until_ms = 0;      // archived until this time (0 = no time bound)
  uint64_t archived_until_count = 0;  // archived until count reaches this (0 = no bound)
  std::string resolved_release;       // resolved_in_next_release: newest release when resolved
  std::string last_release;           // release of the newest event
  std::string assignee;               // who works on it: a user, e-mail or team ("" = nobody)
  int64_t assigned_ms = 0;            // when assignee last changed
  std::map<std::string, uint64_t> releases, environments;
  std::map<std::string, std::map<std::string, uint64_t>> tags;  // key -> value -> count
  std::vector<EventRef> recent;                                 // newest last
};

struct IssueQuery {
  int64_t project = 0;   // 0 = all
  std::string status;    // "" = any; "unresolved" includes regressed
  std::string text;      // search title/culprit; "key:value" terms for tags, level, release;
                         // "assigned:<who>", "is:assigned", "is:unassigned"
  std::string assignee;  // "" = any; else exactly this assignee (case-insensitive)
  int assigned = -1;     // -1 any, 0 only unassigned, 1 only assigned
  std::string sort = "last_seen";  // last_seen | first_seen | events | users
  size_t limit = 100;
};

struct ReleaseHealth {
  int64_t project = 0;
  std::string release, environment;
  uint64_t sessions = 0, errored = 0, crashed = 0, abnormal = 0;
  uint64_t users = 0, crashed_users = 0;
  double CrashFreeSessions() const { return sessions ? 1.0 - double(crashed) / sessions : 1.0; }
  double CrashFreeUsers() const { return users ? 1.0 - double(crashed_users) / users : 1.0; }
};

struct TransactionStats {
  int64_t project = 0;
  std::string name;
  uint64_t count = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

struct MonitorState {
  int64_t project = 0;
  std::string slug;
  std::string last_status;
  int64_t last_checkin_ms = 0;
  std::map<std::string, uint64_t> by_status;
  // Crons (alerting.md §3.6). A run starts with an in_progress check-in, or is a single ok/error
  // check-in (heartbeat) whose check_in_id matches no open run.
  int64_t last_start_ms = 0;    // start of the newest run
  std::string open_checkin_id;  // in_progress without its closing check-in ("" = none)
  // check_in_ids of the newest finished runs (at most kClosedIds): a finished check-in is final
  // (as in Sentry), so an in_progress for one of them that arrives late (SDKs send the two
  // check-ins on separate requests) is counted but changes no state.
  static constexpr size_t kClosedIds = 16;
  std::deque<std::string> closed_ids;
  int64_t open_since_ms = 0;
  std::string last_result;  // ok | error of the newest finished run ("" = none yet)
  int64_t last_result_ms = 0;
  std::string environment;
  // monitor_config of the newest check-in that carried one (Sentry: upsert on check-in).
  std::string schedule_type;       // "crontab" | "interval" | "" (never sent)
  std::string schedule;            // crontab text, or the interval's value
  std::string schedule_unit;       // interval unit (minute, hour, ...)
  double checkin_margin_min = -1;  // minutes; -1 = not sent
  double max_runtime_min = -1;     // minutes; -1 = not sent
  std::string timezone;
};

struct ClientReportCount {
  int64_t project = 0;
  std::string reason, category;
  uint64_t quantity = 0;
};

struct StoreStats {
  uint64_t events = 0, issues = 0, attachments = 0, items = 0;
  uint64_t log_bytes = 0;
  uint64_t replayed_records = 0;
  uint64_t segments_deleted = 0;
  std::map<std::string, uint64_t> items_by_type;
};

class ErrorStore {
 public:
  static Result<std::unique_ptr<ErrorStore>> Open(const StoreOptions& options);
  ~ErrorStore();

  // Durably stores the batch (one write(2)) and indexes it. issue_ids[i] receives the issue of
  // events[i]. IOError leaves the index unchanged (nothing was acknowledged).
  Status Write(const WriteBatch& batch, std::vector<uint64_t>* issue_ids);

  // NotFound for an unknown (or deleted) issue. InvalidArgument for a bad status.
  Status SetStatus(uint64_t issue_id, IssueStatus status, int64_t until_ms = 0,
                   uint64_t until_events = 0);
  Status DeleteIssue(uint64_t issue_id);
  // Assigns the issue to a user, e-mail or team name ("" unassigns); durable like SetStatus.
  // NotFound for an unknown issue; InvalidArgument for a name that is too long (> 200 bytes) or
  // holds control characters.
  Status SetAssignee(uint64_t issue_id, std::string_view assignee);

  std::vector<IssueInfo> ListIssues(const IssueQuery& q, size_t* total = nullptr) const;
  Result<IssueInfo> GetIssue(uint64_t issue_id) const;
  // Newest first, at most limit; each is the raw event JSON.
  Result<std::vector<std::pair<EventRef, std::string>>> IssueEvents(uint64_t issue_id,
                                                                    size_t limit) const;
  // Attachments stored for an event: (filename, content_type, size).
  std::vector<std::tuple<std::string, std::string, uint64_t>> Attachments(
      const std::string& event_id) const;

  std::vector<ReleaseHealth> ReleaseHealthOf(int64_t project) const;
  std::vector<TransactionStats> TransactionsOf(int64_t project) const;
  std::vector<MonitorState> MonitorsOf(int64_t project) const;  // 0 = every project
  std::vector<ClientReportCount> ClientReportsOf(int64_t project) const;
  StoreStats Stats() const;

  // Appends the changed issues' counters to the TSDB now (also done periodically).
  Status FlushToTsdb();
  // Deletes the log segments retention no longer keeps (also done periodically). Issue event
  // counts and the served events shrink at once; status and deletions are carried into the
  // live log first, so they survive the next start. Returns the number of segments deleted.
  Result<size_t> EnforceRetention();

 private:
  struct Issue;
  struct Health;
  struct Txn;
  explicit ErrorStore(const StoreOptions& o);
  Status Replay();
  Status ApplyRecord(RecordType type, std::string_view payload, const RecordRef& ref);
  // Index updates (mu_ held).
  Issue* IssueFor(int64_t project, const std::string& hash, uint64_t issue_id);
  void IndexEvent(Issue* issue, const Event& e, const Grouping* g, const std::string& event_id,
                  int64_t received_ms, const RecordRef& ref);
  void ApplyStatus(Issue* issue, IssueStatus s, int64_t at_ms, int64_t until_ms,
                   uint64_t until_events);
  void IndexItem(int64_t project, ItemKind kind, std::string_view payload, int64_t received_ms);
  IssueInfo Snapshot(const Issue& i, bool with_tags) const;
  // A triage action's record (status, assignee, deletion): appended and synced before the
  // caller changes the index (mu_ held). Triage actions are rare, so each is power-safe.
  Status AppendTriageRecord(RecordType type, std::string_view payload);
  void BackgroundLoop();

  const StoreOptions o_;
  std::unique_ptr<EventLog> log_;
  mutable std::mutex mu_;
  uint64_t next_issue_id_ = 1;                                   // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, std::unique_ptr<Issue>> issues_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, uint64_t> by_hash_;  // GUARDED_BY(mu_) "project/hash" -> id
  std::map<std::tuple<int64_t, std::string, std::string>, std::unique_ptr<Health>>
      health_;                                                                 // GUARDED_BY(mu_)
  std::map<std::pair<int64_t, std::string>, std::unique_ptr<Txn>> txns_;       // GUARDED_BY(mu_)
  std::map<std::pair<int64_t, std::string>, MonitorState> monitors_;           // GUARDED_BY(mu_)
  std::map<std::tuple<int64_t, std::string, std::string>, uint64_t> reports_;  // GUARDED_BY
  std::unordered_map<std::string, std::vector<std::tuple<std::string, std::string, uint64_t>>>
      attachments_;   // GUARDED_BY(mu_) event_id -> attachments
  StoreStats stats_;  // GUARDED_BY(mu_)

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;  // GUARDED_BY(bg_mu_)
  std::thread bg_;
};

}  // namespace kansoku::errors
