#include "errors/store.h"

#include <libdeflate.h>
#include <simdjson.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "base/log.h"
#include "base/strings.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::errors {

struct ErrorStore::Issue {
  IssueInfo info;  // recent/tags etc. live here too
  std::unordered_set<uint64_t> user_hashes;
  uint64_t flushed_count = 0;
  bool deleted = false;
};

struct ErrorStore::Health {
  ReleaseHealth h;
  std::unordered_set<std::string> errored_sids, crashed_sids, abnormal_sids, users, crashed_users;
};

struct ErrorStore::Txn {
  TransactionStats s;
  std::vector<double> durations;  // ring of the newest kMaxDurations
  size_t next = 0;
  static constexpr size_t kMaxDurations = 10000;
  void Add(double ms) {
    ++s.count;
    if (durations.size() < kMaxDurations) {
      durations.push_back(ms);
    } else {
      durations[next] = ms;
      next = (next + 1) % kMaxDurations;
    }
  }
};

std::string_view IssueStatusName(IssueStatus s) {
  switch (s) {
    case IssueStatus::kUnresolved:
      return "unresolved";
    case IssueStatus::kResolved:
      return "resolved";
    case IssueStatus::kResolvedInNextRelease:
      return "resolved_in_next_release";
    case IssueStatus::kArchived:
      return "archived";
    case IssueStatus::kRegressed:
      return "regressed";
  }
  return "unresolved";
}

bool ParseIssueStatus(std::string_view s, IssueStatus* out) {
  if (s == "unresolved")
    *out = IssueStatus::kUnresolved;
  else if (s == "resolved")
    *out = IssueStatus::kResolved;
  else if (s == "resolved_in_next_release" || s == "resolvedInNextRelease")
    *out = IssueStatus::kResolvedInNextRelease;
  else if (s == "archived" || s == "ignored")
    *out = IssueStatus::kArchived;
  else
    return false;
  return true;
}

bool ItemKindFromType(std::string_view t, ItemKind* out) {
  if (t == "transaction")
    *out = ItemKind::kTransaction;
  else if (t == "span")
    *out = ItemKind::kSpan;
  else if (t == "session")
    *out = ItemKind::kSession;
  else if (t == "sessions")
    *out = ItemKind::kSessions;
  else if (t == "check_in")
    *out = ItemKind::kCheckIn;
  else if (t == "client_report")
    *out = ItemKind::kClientReport;
  else if (t == "log")
    *out = ItemKind::kLog;
  else
    return false;
  return true;
}

namespace {

// Stored event JSON is either the JSON itself or one or more gzip members (RFC 1952, first bytes
// 1f 8b): JSON never starts with those bytes.
bool IsGzip(std::string_view b) {
  return b.size() >= 18 && static_cast<uint8_t>(b[0]) == 0x1f && static_cast<uint8_t>(b[1]) == 0x8b;
}

struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct CompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

// The JSON of a stored event (decompressed when it is gzip). Corruption when it does not decode.
Status StoredJson(std::string_view stored, std::string* out) {
  if (!IsGzip(stored)) {
    out->assign(stored);
    return Status::Ok();
  }
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorFree> d(
      libdeflate_alloc_decompressor());
  out->clear();
  size_t pos = 0;
  while (pos < stored.size()) {
    std::string_view m = stored.substr(pos);
    const auto* t = reinterpret_cast<const uint8_t*>(stored.data() + stored.size() - 4);
    size_t cap = t[0] | (t[1] << 8) | (t[2] << 16) | (static_cast<size_t>(t[3]) << 24);
    cap = std::clamp<size_t>(cap, 64, std::min<size_t>(m.size() * 1032 + 64, 256u << 20));
    for (;;) {
      size_t base = out->size(), used = 0, got = 0;
      out->resize(base + cap);
      auto r = libdeflate_gzip_decompress_ex(d.get(), m.data(), m.size(), out->data() + base, cap,
                                             &used, &got);
      if (r == LIBDEFLATE_SUCCESS) {
        out->resize(base + got);
        pos += used;
        break;
      }
      out->resize(base);
      if (r != LIBDEFLATE_INSUFFICIENT_SPACE || cap >= (256u << 20)) {
        return Status::Corruption("stored event does not decompress");
      }
      cap *= 2;
    }
  }
  return Status::Ok();
}

// gzip (libdeflate level 1) of an event's JSON.
std::string GzipJson(std::string_view json) {
  thread_local std::unique_ptr<libdeflate_compressor, CompressorFree> c(
      libdeflate_alloc_compressor(1));
  std::string out(libdeflate_gzip_compress_bound(c.get(), json.size()), '\0');
  size_t n = libdeflate_gzip_compress(c.get(), json.data(), json.size(), out.data(), out.size());
  out.resize(n);  // 0 (cannot happen with the bound) leaves it empty: stored uncompressed
  return out;
}

std::string_view ItemKindName(ItemKind k) {
  switch (k) {
    case ItemKind::kTransaction:
      return "transaction";
    case ItemKind::kSpan:
      return "span";
    case ItemKind::kSession:
      return "session";
    case ItemKind::kSessions:
      return "sessions";
    case ItemKind::kCheckIn:
      return "check_in";
    case ItemKind::kClientReport:
      return "client_report";
    case ItemKind::kLog:
      return "log";
  }
  return "other";
}

std::string HashKey(int64_t project, const std::string& hash) {
  return std::to_string(project) + "/" + hash;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(std::llround(q * static_cast<double>(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

double Num(simdjson::dom::element e) {
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return ParseSentryTimestamp(s);
  return 0;
}

std::string Str(simdjson::dom::element e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return "";
}

bool Lower(const std::string& hay, const std::string& needle_lower) {
  return ToLower(hay).find(needle_lower) != std::string::npos;
}

}  // namespace

ErrorStore::ErrorStore(const StoreOptions& o) : o_(o) {}

Result<std::unique_ptr<ErrorStore>> ErrorStore::Open(const StoreOptions& options) {
  std::unique_ptr<ErrorStore> s(new ErrorStore(options));
  KANSOKU_ASSIGN_OR_RETURN(s->log_, EventLog::Open(options.dir + "/log", options.segment_bytes));
  KANSOKU_RETURN_IF_ERROR(s->Replay());
  // The replayed counts are already in the TSDB (or were lost with it): start from them.
  s->bg_ = std::thread([p = s.get()] { p->BackgroundLoop(); });
  return s;
}

ErrorStore::~ErrorStore() {
  {
    std::lock_guard<std::mutex> lock(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  (void)FlushToTsdb();
  if (log_) (void)log_->Sync();
}

Status ErrorStore::Replay() {
  std::lock_guard<std::mutex> lock(mu_);
  Status st = log_->Replay([this](RecordType t, std::string_view p, const RecordRef& ref) {
    return ApplyRecord(t, p, ref);
  });
  stats_.replayed_records = log_->stats().records_replayed;
  for (auto& [id, is] : issues_) is->flushed_count = is->info.count;
  return st;
}

void ErrorStore::BackgroundLoop() {
  auto last_sync = std::chrono::steady_clock::now();
  auto last_flush = last_sync;
  auto last_retention = last_sync;
  std::unique_lock<std::mutex> lock(bg_mu_);
  while (!stop_) {
    bg_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (stop_) break;
    auto now = std::chrono::steady_clock::now();
    lock.unlock();
    if (o_.fsync_interval_ms > 0 &&
        now - last_sync >= std::chrono::milliseconds(o_.fsync_interval_ms)) {
      Status s = log_->Sync();
      if (!s.ok()) log::Error("cannot fsync the error event log", {{"err", s.message()}});
      last_sync = now;
    }
    if ((o_.retention_ms > 0 || o_.retention_bytes > 0) &&
        now - last_retention >= std::chrono::milliseconds(o_.retention_check_interval_ms)) {
      auto r = EnforceRetention();
      if (!r.ok()) log::Error("error log retention failed", {{"err", r.status().message()}});
      last_retention = now;
    }
    if (o_.tsdb && now - last_flush >= std::chrono::milliseconds(o_.tsdb_flush_interval_ms)) {
      Status s = FlushToTsdb();
      if (!s.ok()) log::Warn("cannot append issue counters to the TSDB", {{"err", s.message()}});
      last_flush = now;
    }
    lock.lock();
  }
}

Result<size_t> ErrorStore::EnforceRetention() {
  int64_t now = o_.clock->NowMs();
  auto segs = log_->ClosedSegments();
  uint64_t total = log_->BytesOnDisk();
  std::vector<uint32_t> doomed;
  for (const auto& seg : segs) {
    bool old = o_.retention_ms > 0 && seg.mtime_ms < now - o_.retention_ms;
    bool big = o_.retention_bytes > 0 && total > static_cast<uint64_t>(o_.retention_bytes);
    if (!old && !big) break;
    doomed.push_back(seg.number);
    total -= std::min(total, seg.bytes);
  }
  if (doomed.empty()) return size_t{0};
  std::lock_guard<std::mutex> lock(mu_);
  // 1. Events of the doomed segments leave the counts and the served event lists.
  for (uint32_t n : doomed) {
    Status st = log_->ScanSegment(n, [&](RecordType t, std::string_view p, const RecordRef&) {
      if (t != RecordType::kEvent) return Status::Ok();
      Reader r(p);
      uint64_t project, key, received, issue_id;
      if (!r.U64(&project) || !r.U64(&key) || !r.U64(&received) || !r.U64(&issue_id)) {
        return Status::Ok();
      }
      auto it = issues_.find(issue_id);
      if (it == issues_.end()) return Status::Ok();
      IssueInfo& in = it->second->info;
      if (in.count > 0) {
        --in.count;
        if (stats_.events > 0) --stats_.events;
        if (in.archived_until_count > 0) --in.archived_until_count;
      }
      return Status::Ok();
    });
    KANSOKU_RETURN_IF_ERROR(st);
    for (auto& [id, is] : issues_) {
      auto& rec = is->info.recent;
      std::erase_if(rec, [n](const EventRef& r) { return r.record.segment == n; });
    }
  }
  // 2. Status and deletions are carried into the live log: replay without the doomed segments
  // must end in the same state.
  std::string buf, payload;
  for (const auto& [id, is] : issues_) {
    const IssueInfo& in = is->info;
    payload.clear();
    if (is->deleted) {
      PutU64(&payload, static_cast<uint64_t>(in.project));
      PutU64(&payload, id);
      PutU64(&payload, static_cast<uint64_t>(now));
      AppendRecord(&buf, RecordType::kIssueDeleted, payload);
    } else if (in.status != IssueStatus::kUnresolved) {
      PutU64(&payload, static_cast<uint64_t>(in.project));
      PutU64(&payload, id);
      PutU64(&payload, static_cast<uint64_t>(in.status_changed_ms));
      PutU8(&payload, static_cast<uint8_t>(in.status));
      PutU64(&payload, static_cast<uint64_t>(in.archived_until_ms));
      PutU64(&payload, in.archived_until_count > in.count ? in.archived_until_count - in.count : 0);
      PutBytes16(&payload, in.resolved_release);
      AppendRecord(&buf, RecordType::kIssueStatus, payload);
    }
    if (!is->deleted && !in.assignee.empty()) {
      payload.clear();
      PutU64(&payload, static_cast<uint64_t>(in.project));
      PutU64(&payload, id);
      PutU64(&payload, static_cast<uint64_t>(in.assigned_ms));
      PutBytes16(&payload, in.assignee);
      AppendRecord(&buf, RecordType::kIssueAssigned, payload);
    }
  }
  if (!buf.empty()) {
    uint32_t seg;
    uint64_t off;
    KANSOKU_RETURN_IF_ERROR(log_->Append(buf, &seg, &off));
    KANSOKU_RETURN_IF_ERROR(log_->Sync());
  }
  // 3. Only now the segments go.
  for (uint32_t n : doomed) {
    KANSOKU_RETURN_IF_ERROR(log_->DeleteSegment(n));
    ++stats_.segments_deleted;
  }
  log::Info("error log retention",
            {{"segments_deleted", static_cast<unsigned long long>(doomed.size())},
             {"log_bytes", static_cast<unsigned long long>(log_->BytesOnDisk())}});
  return doomed.size();
}

Status ErrorStore::FlushToTsdb() {
  if (!o_.tsdb) return Status::Ok();
  std::vector<std::tuple<int64_t, uint64_t, uint64_t>> changed;  // project, issue, count
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, is] : issues_) {
      if (is->info.count != is->flushed_count) {
        changed.emplace_back(is->info.project, id, is->info.count);
        is->flushed_count = is->info.count;
      }
    }
  }
  if (changed.empty()) return Status::Ok();
  auto app = o_.tsdb->NewAppender();
  int64_t now = o_.clock->NowMs();
  for (auto& [project, issue, count] : changed) {
    tsdb::Labels l{{std::string(tsdb::kMetricName), "kansoku_issue_events_total"},
                   {"issue", std::to_string(issue)},
                   {"project", std::to_string(project)}};
    (void)app->Append(l, now, static_cast<double>(count));
  }
  return app->Commit();
}

ErrorStore::Issue* ErrorStore::IssueFor(int64_t project, const std::string& hash,
                                        uint64_t issue_id) {
  auto it = issues_.find(issue_id);
  if (it != issues_.end()) return it->second.get();
  auto is = std::make_unique<Issue>();
  is->info.id = issue_id;
  is->info.project = project;
  is->info.hash = hash;
  Issue* p = is.get();
  issues_[issue_id] = std::move(is);
  by_hash_[HashKey(project, hash)] = issue_id;
  next_issue_id_ = std::max(next_issue_id_, issue_id + 1);
  ++stats_.issues;
  return p;
}

void ErrorStore::IndexEvent(Issue* issue, const Event& e, const Grouping* g,
                            const std::string& event_id, int64_t received_ms,
                            const RecordRef& ref) {
  IssueInfo& in = issue->info;
  if (in.count == 0 && g) {
    in.title = g->title;
    in.culprit = g->culprit;
    in.basis = g->basis;
    in.grouping_version = g->version;
    in.first_seen_ms = received_ms;
    in.platform = e.platform;
  }
  ++in.count;
  ++stats_.events;
  if (received_ms > in.last_seen_ms) in.last_seen_ms = received_ms;
  in.level = e.level;
  std::string uk = e.UserKey();
  if (!uk.empty()) {
    issue->user_hashes.insert(XXH3_64bits(uk.data(), uk.size()));
    in.users = issue->user_hashes.size();
  }
  if (!e.release.empty()) {
    ++in.releases[e.release];
    in.last_release = e.release;
  }
  if (!e.environment.empty()) ++in.environments[e.environment];
  auto tag = [&](const std::string& k, const std::string& v) {
    if (k.empty() || v.empty()) return;
    auto& vals = in.tags[k];
    auto it = vals.find(v);
    if (it != vals.end()) {
      ++it->second;
    } else if (vals.size() < o_.max_tag_values) {
      vals[v] = 1;
    }
  };
  tag("level", e.level);
  tag("release", e.release);
  tag("environment", e.environment);
  tag("server_name", e.server_name);
  if (!uk.empty()) tag("user", uk);
  for (const auto& [k, v] : e.tags) tag(k, v);
  in.recent.push_back(EventRef{event_id, received_ms, ref});
  if (in.recent.size() > o_.events_kept_per_issue) in.recent.erase(in.recent.begin());

  // Status transitions driven by events.
  switch (in.status) {
    case IssueStatus::kResolved:
      in.status = IssueStatus::kRegressed;
      in.status_changed_ms = received_ms;
      break;
    case IssueStatus::kResolvedInNextRelease:
      if (!e.release.empty() && e.release != in.resolved_release) {
        in.status = IssueStatus::kRegressed;
        in.status_changed_ms = received_ms;
      }
      break;
    case IssueStatus::kArchived:
      if ((in.archived_until_count && in.count >= in.archived_until_count) ||
          (in.archived_until_ms && received_ms >= in.archived_until_ms)) {
        in.status = IssueStatus::kUnresolved;
        in.status_changed_ms = received_ms;
        in.archived_until_count = 0;
        in.archived_until_ms = 0;
      }
      break;
    default:
      break;
  }
}

void ErrorStore::ApplyStatus(Issue* issue, IssueStatus s, int64_t at_ms, int64_t until_ms,
                             uint64_t until_events) {
  IssueInfo& in = issue->info;
  in.status = s;
  in.status_changed_ms = at_ms;
  in.archived_until_ms = s == IssueStatus::kArchived ? until_ms : 0;
  in.archived_until_count =
      s == IssueStatus::kArchived && until_events ? in.count + until_events : 0;
  in.resolved_release = s == IssueStatus::kResolvedInNextRelease ? in.last_release : "";
}

void ErrorStore::IndexItem(int64_t project, ItemKind kind, std::string_view payload,
                           int64_t received_ms) {
  ++stats_.items;
  ++stats_.items_by_type[std::string(ItemKindName(kind))];
  if (kind == ItemKind::kLog) return;  // counted; the log store (issue #7) takes them later
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(payload.data(), payload.size(), true).get(doc) != simdjson::SUCCESS ||
      !doc.is_object()) {
    return;
  }
  switch (kind) {
    case ItemKind::kClientReport: {
      simdjson::dom::array arr;
      if (doc["discarded_events"].get_array().get(arr) != simdjson::SUCCESS) return;
      for (auto d : arr) {
        if (!d.is_object()) continue;
        uint64_t q = 0;
        simdjson::dom::element qe;
        if (d["quantity"].get(qe) == simdjson::SUCCESS) q = static_cast<uint64_t>(Num(qe));
        reports_[{project, Str(d, "reason"), Str(d, "category")}] += q;
      }
      return;
    }
    case ItemKind::kSession: {
      simdjson::dom::element attrs;
      std::string release, env;
      if (doc["attrs"].get(attrs) == simdjson::SUCCESS && attrs.is_object()) {
        release = Str(attrs, "release");
        env = Str(attrs, "environment");
      }
      auto& hp = health_[{project, release, env}];
      if (!hp) {
        hp = std::make_unique<Health>();
        hp->h.project = project;
        hp->h.release = release;
        hp->h.environment = env;
      }
      std::string sid = Str(doc, "sid"), did = Str(doc, "did"), status = Str(doc, "status");
      bool init = false;
      if (doc["init"].get_bool().get(init) != simdjson::SUCCESS) {
      }
      if (init) ++hp->h.sessions;
      if (!did.empty()) {
        hp->users.insert(did);
        hp->h.users = hp->users.size();
      }
      double errors = 0;
      simdjson::dom::element ee;
      if (doc["errors"].get(ee) == simdjson::SUCCESS) errors = Num(ee);
      if ((errors > 0 || status == "errored" || status == "crashed" || status == "abnormal") &&
          hp->errored_sids.insert(sid).second) {
        ++hp->h.errored;
      }
      if (status == "crashed" && hp->crashed_sids.insert(sid).second) {
        ++hp->h.crashed;
        if (!did.empty()) {
          hp->crashed_users.insert(did);
          hp->h.crashed_users = hp->crashed_users.size();
        }
      }
      if (status == "abnormal" && hp->abnormal_sids.insert(sid).second) ++hp->h.abnormal;
      return;
    }
    case ItemKind::kSessions: {
      simdjson::dom::element attrs;
      std::string release, env;
      if (doc["attrs"].get(attrs) == simdjson::SUCCESS && attrs.is_object()) {
        release = Str(attrs, "release");
        env = Str(attrs, "environment");
      }
      auto& hp = health_[{project, release, env}];
      if (!hp) {
        hp = std::make_unique<Health>();
        hp->h.project = project;
        hp->h.release = release;
        hp->h.environment = env;
      }
      simdjson::dom::array aggs;
      if (doc["aggregates"].get_array().get(aggs) != simdjson::SUCCESS) return;
      for (auto a : aggs) {
        if (!a.is_object()) continue;
        auto n = [&](const char* k) {
          simdjson::dom::element v;
          return a[k].get(v) == simdjson::SUCCESS ? static_cast<uint64_t>(Num(v)) : 0;
        };
        uint64_t exited = n("exited"), errored = n("errored"), abnormal = n("abnormal"),
                 crashed = n("crashed");
        hp->h.sessions += exited + errored + abnormal + crashed;
        hp->h.errored += errored + abnormal + crashed;
        hp->h.crashed += crashed;
        hp->h.abnormal += abnormal;
        std::string did = Str(a, "did");
        if (!did.empty()) {
          hp->users.insert(did);
          hp->h.users = hp->users.size();
          if (crashed) {
            hp->crashed_users.insert(did);
            hp->h.crashed_users = hp->crashed_users.size();
          }
        }
      }
      return;
    }
    case ItemKind::kTransaction: {
      std::string name = Str(doc, "transaction");
      simdjson::dom::element s, e;
      double start = doc["start_timestamp"].get(s) == simdjson::SUCCESS ? Num(s) : 0;
      double end = doc["timestamp"].get(e) == simdjson::SUCCESS ? Num(e) : 0;
      auto& t = txns_[{project, name}];
      if (!t) {
        t = std::make_unique<Txn>();
        t->s.project = project;
        t->s.name = name;
      }
      t->Add(end > start ? (end - start) * 1000.0 : 0);
      return;
    }
    case ItemKind::kSpan: {
      // Span v2 items: {"items":[{name, start_timestamp, end_timestamp, is_segment, ...}]};
      // segment spans are the transactions.
      simdjson::dom::array spans;
      if (doc["items"].get_array().get(spans) != simdjson::SUCCESS) return;
      for (auto sp : spans) {
        if (!sp.is_object()) continue;
        bool seg = false;
        if (sp["is_segment"].get_bool().get(seg) != simdjson::SUCCESS) {
        }
        simdjson::dom::element parent;
        bool has_parent =
            sp["parent_span_id"].get(parent) == simdjson::SUCCESS && !parent.is_null();
        if (!seg && has_parent) continue;
        simdjson::dom::element s, e;
        double start = sp["start_timestamp"].get(s) == simdjson::SUCCESS ? Num(s) : 0;
        double end = sp["end_timestamp"].get(e) == simdjson::SUCCESS ? Num(e) : 0;
        auto& t = txns_[{project, Str(sp, "name")}];
        if (!t) {
          t = std::make_unique<Txn>();
          t->s.project = project;
          t->s.name = Str(sp, "name");
        }
        t->Add(end > start ? (end - start) * 1000.0 : 0);
      }
      return;
    }
    case ItemKind::kCheckIn: {
      std::string slug = Str(doc, "monitor_slug");
      auto& m = monitors_[{project, slug}];
      m.project = project;
      m.slug = slug;
      std::string status = Str(doc, "status");
      std::string id = Str(doc, "check_in_id");
      ++m.by_status[status];
      if (status == "in_progress" && !id.empty() &&
          std::find(m.closed_ids.begin(), m.closed_ids.end(), id) != m.closed_ids.end()) {
        return;  // late start of a run that already finished
      }
      m.last_status = std::move(status);
      m.last_checkin_ms = received_ms;
      if (std::string env = Str(doc, "environment"); !env.empty()) m.environment = env;
      if (m.last_status == "in_progress") {
        m.open_checkin_id = id;
        m.open_since_ms = m.last_start_ms = received_ms;
      } else {
        bool closes = !m.open_checkin_id.empty() && id == m.open_checkin_id;
        if (closes) {
          m.open_checkin_id.clear();
        } else {
          m.last_start_ms = received_ms;  // heartbeat: a run of its own
        }
        m.last_result = m.last_status;
        m.last_result_ms = received_ms;
        if (!id.empty()) {
          m.closed_ids.push_back(id);
          if (m.closed_ids.size() > MonitorState::kClosedIds) m.closed_ids.pop_front();
        }
      }
      simdjson::dom::element mc, sched, v;
      if (doc["monitor_config"].get(mc) == simdjson::SUCCESS && mc.is_object()) {
        if (mc["schedule"].get(sched) == simdjson::SUCCESS && sched.is_object()) {
          m.schedule_type = Str(sched, "type");
          m.schedule_unit = Str(sched, "unit");
          std::string_view sv;
          if (sched["value"].get(v) == simdjson::SUCCESS) {
            m.schedule = v.get_string().get(sv) == simdjson::SUCCESS
                             ? std::string(sv)
                             : std::to_string(static_cast<int64_t>(Num(v)));
          }
        }
        m.checkin_margin_min =
            mc["checkin_margin"].get(v) == simdjson::SUCCESS && !v.is_null() ? Num(v) : -1;
        m.max_runtime_min =
            mc["max_runtime"].get(v) == simdjson::SUCCESS && !v.is_null() ? Num(v) : -1;
        m.timezone = Str(mc, "timezone");
      }
      return;
    }
    case ItemKind::kLog:
      return;
  }
}

Status ErrorStore::ApplyRecord(RecordType type, std::string_view payload, const RecordRef& ref) {
  Reader r(payload);
  switch (type) {
    case RecordType::kEvent: {
      uint64_t project, key, received, issue_id;
      uint8_t version;
      std::string_view hash, event_id, json;
      if (!r.U64(&project) || !r.U64(&key) || !r.U64(&received) || !r.U64(&issue_id) ||
          !r.U8(&version) || !r.Bytes16(&hash) || !r.Bytes16(&event_id) || !r.Bytes32(&json)) {
        return Status::Ok();  // short record: skipped (CRC matched, so written by a newer build)
      }
      if (o_.on_replayed_event) {
        o_.on_replayed_event(static_cast<int64_t>(project), static_cast<int64_t>(received));
      }
      std::string plain;
      if (!StoredJson(json, &plain).ok()) return Status::Ok();
      Event e;
      if (!ParseEvent(plain, &e).ok()) return Status::Ok();
      Grouping g = GroupEvent(e);
      g.version = version;
      Issue* is = IssueFor(static_cast<int64_t>(project), std::string(hash), issue_id);
      if (is->deleted) return Status::Ok();
      IndexEvent(is, e, &g, std::string(event_id), static_cast<int64_t>(received), ref);
      return Status::Ok();
    }
    case RecordType::kIssueStatus: {
      uint64_t project, issue_id, at, until_ms, until_events;
      uint8_t status;
      std::string_view rel;
      if (!r.U64(&project) || !r.U64(&issue_id) || !r.U64(&at) || !r.U8(&status) ||
          !r.U64(&until_ms) || !r.U64(&until_events) || !r.Bytes16(&rel)) {
        return Status::Ok();
      }
      auto it = issues_.find(issue_id);
      if (it == issues_.end()) return Status::Ok();
      ApplyStatus(it->second.get(), static_cast<IssueStatus>(status), static_cast<int64_t>(at),
                  static_cast<int64_t>(until_ms), until_events);
      it->second->info.resolved_release = std::string(rel);
      return Status::Ok();
    }
    case RecordType::kIssueDeleted: {
      uint64_t project, issue_id;
      if (!r.U64(&project) || !r.U64(&issue_id)) return Status::Ok();
      auto it = issues_.find(issue_id);
      if (it != issues_.end()) {
        it->second->deleted = true;
        it->second->info.recent.clear();
        by_hash_.erase(HashKey(it->second->info.project, it->second->info.hash));
      }
      return Status::Ok();
    }
    case RecordType::kIssueAssigned: {
      uint64_t project, issue_id, at;
      std::string_view who;
      if (!r.U64(&project) || !r.U64(&issue_id) || !r.U64(&at) || !r.Bytes16(&who)) {
        return Status::Ok();
      }
      auto it = issues_.find(issue_id);
      if (it == issues_.end()) return Status::Ok();
      it->second->info.assignee = std::string(who);
      it->second->info.assigned_ms = static_cast<int64_t>(at);
      return Status::Ok();
    }
    case RecordType::kAttachment: {
      uint64_t project, received;
      std::string_view event_id, name, ct, data;
      if (!r.U64(&project) || !r.Bytes16(&event_id) || !r.U64(&received) || !r.Bytes16(&name) ||
          !r.Bytes16(&ct) || !r.Bytes32(&data)) {
        return Status::Ok();
      }
      attachments_[std::string(event_id)].emplace_back(std::string(name), std::string(ct),
                                                       data.size());
      ++stats_.attachments;
      return Status::Ok();
    }
    case RecordType::kItem: {
      uint64_t project, received;
      uint8_t kind;
      std::string_view data;
      if (!r.U64(&project) || !r.U64(&received) || !r.U8(&kind) || !r.Bytes32(&data)) {
        return Status::Ok();
      }
      IndexItem(static_cast<int64_t>(project), static_cast<ItemKind>(kind), data,
                static_cast<int64_t>(received));
      return Status::Ok();
    }
  }
  return Status::Ok();  // unknown record type from a newer build: skipped
}

Status ErrorStore::Write(const WriteBatch& batch, std::vector<uint64_t>* issue_ids) {
  issue_ids->clear();
  if (batch.empty()) return Status::Ok();
  int64_t now = o_.clock->NowMs();
  std::string buf;
  size_t reserve = 0;
  for (const auto& e : batch.events) reserve += e.json.size() + 128;
  for (const auto& a : batch.attachments) reserve += a.data.size() + 128;
  for (const auto& i : batch.items) reserve += i.payload.size() + 64;
  buf.reserve(reserve);
  std::string payload;
  std::vector<uint64_t> event_offsets;
  std::vector<uint32_t> event_lengths;
  // What is stored of each event's JSON: the caller's gzip form, our own, or the JSON (outside
  // the lock: compression is the costly part).
  std::vector<std::string> compressed(batch.events.size());
  std::vector<std::string_view> stored(batch.events.size());
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const auto& e = batch.events[i];
    stored[i] = e.json;
    if (IsGzip(e.json_gzip)) {
      stored[i] = e.json_gzip;
    } else if (o_.compress_min_bytes > 0 && e.json.size() >= o_.compress_min_bytes) {
      compressed[i] = GzipJson(e.json);
      if (!compressed[i].empty() && compressed[i].size() < e.json.size()) stored[i] = compressed[i];
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> fresh;
  uint64_t next = next_issue_id_;
  std::unordered_map<std::string, uint64_t> new_in_batch;
  for (size_t ei = 0; ei < batch.events.size(); ++ei) {
    const auto& e = batch.events[ei];
    std::string key = HashKey(e.project, e.grouping.hash);
    uint64_t id;
    auto it = by_hash_.find(key);
    if (it != by_hash_.end() && !issues_[it->second]->deleted) {
      id = it->second;
    } else if (auto nb = new_in_batch.find(key); nb != new_in_batch.end()) {
      id = nb->second;
    } else {
      id = next++;
      new_in_batch[key] = id;
    }
    issue_ids->push_back(id);
    payload.clear();
    PutU64(&payload, static_cast<uint64_t>(e.project));
    PutU64(&payload, static_cast<uint64_t>(e.key_id));
    PutU64(&payload, static_cast<uint64_t>(now));
    PutU64(&payload, id);
    PutU8(&payload, e.grouping.version);
    PutBytes16(&payload, e.grouping.hash);
    PutBytes16(&payload, e.event_id);
    PutBytes32(&payload, stored[ei]);
    event_offsets.push_back(buf.size());
    event_lengths.push_back(static_cast<uint32_t>(payload.size()));
    AppendRecord(&buf, RecordType::kEvent, payload);
  }
  for (const auto& a : batch.attachments) {
    payload.clear();
    PutU64(&payload, static_cast<uint64_t>(a.project));
    PutBytes16(&payload, a.event_id);
    PutU64(&payload, static_cast<uint64_t>(now));
    PutBytes16(&payload, a.filename);
    PutBytes16(&payload, a.content_type);
    PutBytes32(&payload, a.data);
    AppendRecord(&buf, RecordType::kAttachment, payload);
  }
  for (const auto& i : batch.items) {
    payload.clear();
    PutU64(&payload, static_cast<uint64_t>(i.project));
    PutU64(&payload, static_cast<uint64_t>(now));
    PutU8(&payload, static_cast<uint8_t>(i.kind));
    PutBytes32(&payload, i.payload);
    AppendRecord(&buf, RecordType::kItem, payload);
  }
  uint32_t seg;
  uint64_t off;
  KANSOKU_RETURN_IF_ERROR(log_->Append(buf, &seg, &off));
  if (o_.fsync_interval_ms == 0) KANSOKU_RETURN_IF_ERROR(log_->Sync());

  // Acknowledged: index it.
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const auto& e = batch.events[i];
    uint64_t id = (*issue_ids)[i];
    Issue* is = IssueFor(e.project, e.grouping.hash, id);
    RecordRef ref{seg, off + event_offsets[i], event_lengths[i]};
    IndexEvent(is, e.event, &e.grouping, e.event_id, now, ref);
  }
  for (const auto& a : batch.attachments) {
    attachments_[a.event_id].emplace_back(a.filename, a.content_type, a.data.size());
    ++stats_.attachments;
  }
  for (const auto& i : batch.items) IndexItem(i.project, i.kind, i.payload, now);
  return Status::Ok();
}

Status ErrorStore::SetStatus(uint64_t issue_id, IssueStatus status, int64_t until_ms,
                             uint64_t until_events) {
  if (static_cast<uint8_t>(status) > static_cast<uint8_t>(IssueStatus::kArchived)) {
    return Status::InvalidArgument(
        "status must be unresolved, resolved, "
        "resolved_in_next_release or archived");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = issues_.find(issue_id);
  if (it == issues_.end() || it->second->deleted) {
    return Status::NotFound("no issue " + std::to_string(issue_id));
  }
  Issue* is = it->second.get();
  int64_t now = o_.clock->NowMs();
  std::string rel = status == IssueStatus::kResolvedInNextRelease ? is->info.last_release : "";
  std::string payload;
  PutU64(&payload, static_cast<uint64_t>(is->info.project));
  PutU64(&payload, issue_id);
  PutU64(&payload, static_cast<uint64_t>(now));
  PutU8(&payload, static_cast<uint8_t>(status));
  PutU64(&payload, static_cast<uint64_t>(until_ms));
  PutU64(&payload, until_events);
  PutBytes16(&payload, rel);
  KANSOKU_RETURN_IF_ERROR(AppendTriageRecord(RecordType::kIssueStatus, payload));
  ApplyStatus(is, status, now, until_ms, until_events);
  is->info.resolved_release = rel;
  return Status::Ok();
}

Status ErrorStore::AppendTriageRecord(RecordType type, std::string_view payload) {
  std::string buf;
  AppendRecord(&buf, type, payload);
  uint32_t seg;
  uint64_t off;
  KANSOKU_RETURN_IF_ERROR(log_->Append(buf, &seg, &off));
  return log_->Sync();
}

Status ErrorStore::DeleteIssue(uint64_t issue_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = issues_.find(issue_id);
  if (it == issues_.end() || it->second->deleted) {
    return Status::NotFound("no issue " + std::to_string(issue_id));
  }
  std::string payload;
  PutU64(&payload, static_cast<uint64_t>(it->second->info.project));
  PutU64(&payload, issue_id);
  PutU64(&payload, static_cast<uint64_t>(o_.clock->NowMs()));
  KANSOKU_RETURN_IF_ERROR(AppendTriageRecord(RecordType::kIssueDeleted, payload));
  it->second->deleted = true;
  it->second->info.recent.clear();
  by_hash_.erase(HashKey(it->second->info.project, it->second->info.hash));
  return Status::Ok();
}

Status ErrorStore::SetAssignee(uint64_t issue_id, std::string_view assignee) {
  assignee = TrimSpace(assignee);
  if (assignee.size() > 200) {
    return Status::InvalidArgument("assignee is " + std::to_string(assignee.size()) +
                                   " bytes long; at most 200 are allowed");
  }
  for (char c : assignee) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("assignee must not contain control characters");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = issues_.find(issue_id);
  if (it == issues_.end() || it->second->deleted || it->second->info.count == 0) {
    return Status::NotFound("no issue " + std::to_string(issue_id));
  }
  int64_t now = o_.clock->NowMs();
  std::string payload;
  PutU64(&payload, static_cast<uint64_t>(it->second->info.project));
  PutU64(&payload, issue_id);
  PutU64(&payload, static_cast<uint64_t>(now));
  PutBytes16(&payload, assignee);
  KANSOKU_RETURN_IF_ERROR(AppendTriageRecord(RecordType::kIssueAssigned, payload));
  it->second->info.assignee = std::string(assignee);
  it->second->info.assigned_ms = now;
  return Status::Ok();
}

IssueInfo ErrorStore::Snapshot(const Issue& i, bool with_tags) const {
  if (with_tags) return i.info;
  IssueInfo out;
  const IssueInfo& s = i.info;
  out.id = s.id;
  out.project = s.project;
  out.hash = s.hash;
  out.grouping_version = s.grouping_version;
  out.basis = s.basis;
  out.title = s.title;
  out.culprit = s.culprit;
  out.level = s.level;
  out.platform = s.platform;
  out.first_seen_ms = s.first_seen_ms;
  out.last_seen_ms = s.last_seen_ms;
  out.count = s.count;
  out.users = s.users;
  out.status = s.status;
  out.status_changed_ms = s.status_changed_ms;
  out.archived_until_ms = s.archived_until_ms;
  out.archived_until_count = s.archived_until_count;
  out.resolved_release = s.resolved_release;
  out.last_release = s.last_release;
  out.assignee = s.assignee;
  out.assigned_ms = s.assigned_ms;
  return out;
}

std::vector<IssueInfo> ErrorStore::ListIssues(const IssueQuery& q, size_t* total) const {
  // Parse the query: key:value terms and free text.
  std::vector<std::pair<std::string, std::string>> terms;
  std::vector<std::string> words;
  for (auto w : Split(q.text, ' ')) {
    w = TrimSpace(w);
    if (w.empty()) continue;
    size_t c = w.find(':');
    if (c != std::string_view::npos && c > 0) {
      terms.emplace_back(std::string(w.substr(0, c)), std::string(w.substr(c + 1)));
    } else {
      words.push_back(ToLower(w));
    }
  }
  std::string status = q.status;
  std::string assignee = ToLower(TrimSpace(q.assignee));
  int assigned = q.assigned;
  for (auto& [k, v] : terms) {
    if (k == "is" && (v == "assigned" || v == "unassigned")) {
      assigned = v == "assigned" ? 1 : 0;
    } else if (k == "is") {
      status = v;
    } else if (k == "assigned" || k == "assignee") {
      assignee = ToLower(v);
    }
  }
  std::vector<const Issue*> hits;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, is] : issues_) {
    const IssueInfo& in = is->info;
    if (is->deleted || in.count == 0) continue;
    if (q.project && in.project != q.project) continue;
    if (!status.empty() && status != "all") {
      bool unresolved =
          in.status == IssueStatus::kUnresolved || in.status == IssueStatus::kRegressed;
      if (status == "unresolved" ? !unresolved : IssueStatusName(in.status) != status) continue;
    }
    if (assigned >= 0 && in.assignee.empty() == (assigned == 1)) continue;
    if (!assignee.empty() && ToLower(in.assignee) != assignee) continue;
    bool ok = true;
    for (const auto& w : words) {
      if (!Lower(in.title, w) && !Lower(in.culprit, w)) {
        ok = false;
        break;
      }
    }
    for (const auto& [k, v] : terms) {
      if (!ok) break;
      if (k == "is" || k == "assigned" || k == "assignee") continue;
      auto t = in.tags.find(k);
      ok = t != in.tags.end() && t->second.count(v) > 0;
    }
    if (ok) hits.push_back(is.get());
  }
  auto key = [&](const Issue* i) -> int64_t {
    if (q.sort == "first_seen") return i->info.first_seen_ms;
    if (q.sort == "events") return static_cast<int64_t>(i->info.count);
    if (q.sort == "users") return static_cast<int64_t>(i->info.users);
    return i->info.last_seen_ms;
  };
  std::sort(hits.begin(), hits.end(), [&](const Issue* a, const Issue* b) {
    int64_t ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a->info.id > b->info.id;
  });
  if (total) *total = hits.size();
  std::vector<IssueInfo> out;
  for (size_t i = 0; i < hits.size() && i < q.limit; ++i) out.push_back(Snapshot(*hits[i], false));
  return out;
}

Result<IssueInfo> ErrorStore::GetIssue(uint64_t issue_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = issues_.find(issue_id);
  if (it == issues_.end() || it->second->deleted || it->second->info.count == 0) {
    return Status::NotFound("no issue " + std::to_string(issue_id));
  }
  return Snapshot(*it->second, true);
}

Result<std::vector<std::pair<EventRef, std::string>>> ErrorStore::IssueEvents(uint64_t issue_id,
                                                                              size_t limit) const {
  std::vector<EventRef> refs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = issues_.find(issue_id);
    if (it == issues_.end() || it->second->deleted || it->second->info.count == 0) {
      return Status::NotFound("no issue " + std::to_string(issue_id));
    }
    const auto& r = it->second->info.recent;
    for (size_t i = r.size(); i > 0 && refs.size() < limit; --i) refs.push_back(r[i - 1]);
  }
  std::vector<std::pair<EventRef, std::string>> out;
  for (const auto& ref : refs) {
    auto rec = log_->Read(ref.record);
    if (!rec.ok()) {
      if (rec.status().code() == Status::Code::kNotFound) continue;  // dropped by retention
      return rec.status();
    }
    Reader r(*rec);
    uint64_t skip;
    uint8_t v;
    std::string_view hash, eid, json;
    if (!r.U64(&skip) || !r.U64(&skip) || !r.U64(&skip) || !r.U64(&skip) || !r.U8(&v) ||
        !r.Bytes16(&hash) || !r.Bytes16(&eid) || !r.Bytes32(&json)) {
      return Status::Corruption("event record of " + ref.event_id + " is truncated");
    }
    std::string plain;
    KANSOKU_RETURN_IF_ERROR(StoredJson(json, &plain).WithContext("event " + ref.event_id));
    out.emplace_back(ref, std::move(plain));
  }
  return out;
}

std::vector<std::tuple<std::string, std::string, uint64_t>> ErrorStore::Attachments(
    const std::string& event_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attachments_.find(event_id);
  if (it == attachments_.end()) return {};
  return it->second;
}

std::vector<ReleaseHealth> ErrorStore::ReleaseHealthOf(int64_t project) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ReleaseHealth> out;
  for (const auto& [k, h] : health_)
    if (std::get<0>(k) == project) out.push_back(h->h);
  return out;
}

std::vector<TransactionStats> ErrorStore::TransactionsOf(int64_t project) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TransactionStats> out;
  for (const auto& [k, t] : txns_) {
    if (k.first != project) continue;
    TransactionStats s = t->s;
    s.p50_ms = Percentile(t->durations, 0.50);
    s.p95_ms = Percentile(t->durations, 0.95);
    s.p99_ms = Percentile(t->durations, 0.99);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<MonitorState> ErrorStore::MonitorsOf(int64_t project) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MonitorState> out;
  for (const auto& [k, m] : monitors_)
    if (project == 0 || k.first == project) out.push_back(m);
  return out;
}

std::vector<ClientReportCount> ErrorStore::ClientReportsOf(int64_t project) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ClientReportCount> out;
  for (const auto& [k, q] : reports_) {
    if (std::get<0>(k) != project) continue;
    out.push_back({project, std::get<1>(k), std::get<2>(k), q});
  }
  return out;
}

StoreStats ErrorStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStats s = stats_;
  s.log_bytes = log_->BytesOnDisk();
  return s;
}

}  // namespace kansoku::errors
