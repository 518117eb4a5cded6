#include "errors/store.h"

#include <gtest/gtest.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "errors/quota.h"
#include "tsdb/storage.h"

namespace kansoku::errors {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/errors_store_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects what the store appends to the TSDB.
class FakeAppendable : public tsdb::Appendable {
 public:
  struct App : tsdb::Appender {
    FakeAppendable* owner;
    std::vector<std::pair<std::string, double>> staged;
    Status Append(const tsdb::Labels& l, int64_t, double v) override {
      staged.emplace_back(std::string(l.Get("issue")), v);
      return Status::Ok();
    }
    Status UpdateMetadata(std::string_view, const tsdb::MetricMetadata&) override {
      return Status::Ok();
    }
    Status Commit() override {
      for (auto& s : staged) owner->samples.push_back(s);
      return Status::Ok();
    }
    void Rollback() override {}
  };
  std::unique_ptr<tsdb::Appender> NewAppender() override {
    auto a = std::make_unique<App>();
    a->owner = this;
    return a;
  }
  std::vector<std::pair<std::string, double>> samples;
};

struct Fixture {
  TempDir dir;
  FakeClock clock{1700000000000};
  FakeAppendable tsdb;
  std::vector<std::string> jsons;  // keep payloads alive

  std::unique_ptr<ErrorStore> Open() {
    StoreOptions o;
    o.dir = dir.path();
    o.clock = &clock;
    o.tsdb = &tsdb;
    o.tsdb_flush_interval_ms = 3600000;
    auto s = ErrorStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
  }

  IncomingEvent Ev(const std::string& json, int64_t project = 1) {
    jsons.push_back(json);
    IncomingEvent e;
    e.project = project;
    e.key_id = 1;
    e.json = jsons.back();
    EXPECT_TRUE(ParseEvent(e.json, &e.event).ok());
    e.event_id = e.event.event_id.empty() ? std::string(32, 'a') : e.event.event_id;
    e.grouping = GroupEvent(e.event);
    return e;
  }

  uint64_t Put(ErrorStore& s, const std::string& json, int64_t project = 1) {
    WriteBatch b;
    b.events.push_back(Ev(json, project));
    std::vector<uint64_t> ids;
    EXPECT_TRUE(s.Write(b, &ids).ok());
    return ids.at(0);
  }
};

const std::string kA = R"({"exception":[{"type":"KeyError","value":"id 1"}],"release":"r1",
  "environment":"prod","user":{"id":"u1"},"tags":{"component":"checkout"}})";
const std::string kA2 = R"({"exception":[{"type":"KeyError","value":"id 2"}],"release":"r1",
  "environment":"prod","user":{"id":"u2"},"tags":{"component":"billing"}})";
const std::string kB = R"({"message":"disk almost full","level":"warning","release":"r2"})";

TEST(ErrorStore, GroupsCountsAndSurvivesReopen) {
  Fixture f;
  uint64_t a1, a2, b;
  {
    auto s = f.Open();
    a1 = f.Put(*s, kA);
    f.clock.AdvanceMs(1000);
    a2 = f.Put(*s, kA2);
    b = f.Put(*s, kB);
    EXPECT_EQ(a1, a2);
    EXPECT_NE(a1, b);
    auto is = s->GetIssue(a1);
    ASSERT_TRUE(is.ok());
    EXPECT_EQ(is->count, 2u);
    EXPECT_EQ(is->users, 2u);
    EXPECT_EQ(is->tags["component"]["billing"], 1u);
    EXPECT_EQ(is->releases["r1"], 2u);
    EXPECT_EQ(is->last_seen_ms - is->first_seen_ms, 1000);
    ASSERT_TRUE(s->FlushToTsdb().ok());
    EXPECT_EQ(f.tsdb.samples.size(), 2u);
  }
  auto s = f.Open();  // replay
  auto is = s->GetIssue(a1);
  ASSERT_TRUE(is.ok());
  EXPECT_EQ(is->count, 2u);
  EXPECT_EQ(is->users, 2u);
  EXPECT_EQ(is->title, "KeyError: id 1");
  auto ev = s->IssueEvents(a1, 10);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].second, kA2);  // newest first, byte-exact
  // New events still join the replayed issue; new issue ids continue after the old ones.
  EXPECT_EQ(f.Put(*s, kA), a1);
  uint64_t c = f.Put(*s, R"({"message":"another"})");
  EXPECT_GT(c, b);
  size_t total = 0;
  auto list = s->ListIssues(IssueQuery{}, &total);
  EXPECT_EQ(total, 3u);
}

TEST(ErrorStore, LargeEventsAreStoredCompressedAndReadBackExactly) {
  Fixture f;
  std::string pad(20000, 'x');
  std::string big1 = R"({"message":"big one","extra":{"pad":")" + pad + R"("}})";
  std::string big2 = R"({"message":"big two","extra":{"pad":")" + pad + R"("}})";
  // big2 arrives with its gzip form (an SDK's /store/ body): stored as handed over.
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string gz(libdeflate_gzip_compress_bound(c, big2.size()), '\0');
  gz.resize(libdeflate_gzip_compress(c, big2.data(), big2.size(), gz.data(), gz.size()));
  libdeflate_free_compressor(c);
  ASSERT_GT(gz.size(), 0u);
  uint64_t i1, i2;
  {
    auto s = f.Open();
    i1 = f.Put(*s, big1);
    WriteBatch b;
    b.events.push_back(f.Ev(big2));
    b.events.back().json_gzip = gz;
    std::vector<uint64_t> ids;
    ASSERT_TRUE(s->Write(b, &ids).ok());
    i2 = ids[0];
    EXPECT_LT(s->Stats().log_bytes, 4000u);  // 40 KB of JSON
    auto ev = s->IssueEvents(i1, 1);
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ((*ev)[0].second, big1);
  }
  auto s = f.Open();  // replay decompresses too
  auto is = s->GetIssue(i2);
  ASSERT_TRUE(is.ok());
  EXPECT_EQ(is->title, "big two");
  auto ev = s->IssueEvents(i2, 1);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ((*ev)[0].second, big2);
  ev = s->IssueEvents(i1, 1);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ((*ev)[0].second, big1);
}

TEST(ErrorStore, StatusRegressionAndArchive) {
  Fixture f;
  auto s = f.Open();
  uint64_t a = f.Put(*s, kA);
  ASSERT_TRUE(s->SetStatus(a, IssueStatus::kResolved).ok());
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kResolved);
  f.Put(*s, kA);
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kRegressed);

  ASSERT_TRUE(s->SetStatus(a, IssueStatus::kResolvedInNextRelease).ok());
  f.Put(*s, kA);  // same release r1: stays resolved
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kResolvedInNextRelease);
  std::string r3 = kA;
  r3.replace(r3.find("\"r1\""), 4, "\"r3\"");
  f.Put(*s, r3);
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kRegressed);

  ASSERT_TRUE(s->SetStatus(a, IssueStatus::kArchived, 0, 2).ok());
  f.Put(*s, kA);
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kArchived);
  f.Put(*s, kA);
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kUnresolved);
  ASSERT_TRUE(s->SetStatus(a, IssueStatus::kResolved).ok());
  s.reset();
  s = f.Open();
  EXPECT_EQ(s->GetIssue(a)->status, IssueStatus::kResolved);
  EXPECT_EQ(s->SetStatus(999, IssueStatus::kResolved).code(), Status::Code::kNotFound);

  IssueQuery q;
  q.status = "unresolved";
  EXPECT_TRUE(s->ListIssues(q).empty());
  q.status = "resolved";
  EXPECT_EQ(s->ListIssues(q).size(), 1u);

  ASSERT_TRUE(s->DeleteIssue(a).ok());
  EXPECT_FALSE(s->GetIssue(a).ok());
  uint64_t again = f.Put(*s, kA);
  EXPECT_NE(again, a);
  s.reset();
  s = f.Open();
  EXPECT_FALSE(s->GetIssue(a).ok());
  EXPECT_EQ(s->GetIssue(again)->count, 1u);
}

TEST(ErrorStore, SearchAndSort) {
  Fixture f;
  auto s = f.Open();
  uint64_t a = f.Put(*s, kA);
  f.Put(*s, kA);
  uint64_t b = f.Put(*s, kB);
  f.Put(*s, kB, 2);
  IssueQuery q;
  q.sort = "events";
  auto l = s->ListIssues(q);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].id, a);
  q.text = "level:warning";
  EXPECT_EQ(s->ListIssues(q).size(), 2u);
  q.project = 1;
  ASSERT_EQ(s->ListIssues(q).size(), 1u);
  EXPECT_EQ(s->ListIssues(q)[0].id, b);
  q.text = "DISK";
  EXPECT_EQ(s->ListIssues(q).size(), 1u);
  q.text = "component:checkout";
  q.project = 0;
  EXPECT_EQ(s->ListIssues(q).size(), 1u);
}

TEST(ErrorStore, ItemsAggregates) {
  Fixture f;
  std::string sess1 = R"({"sid":"s1","did":"u1","init":true,"status":"ok","errors":0,
     "attrs":{"release":"r1","environment":"prod"}})";
  std::string sess1b = R"({"sid":"s1","did":"u1","status":"crashed","errors":1,
     "attrs":{"release":"r1","environment":"prod"}})";
  std::string aggs = R"({"attrs":{"release":"r1","environment":"prod"},
     "aggregates":[{"started":"2026-11-26T05:00:00Z","exited":3,"errored":1}]})";
  std::string report = R"({"timestamp":1,"discarded_events":[
     {"reason":"ratelimit_backoff","category":"error","quantity":14}]})";
  std::string txn = R"({"type":"transaction","transaction":"GET /a","start_timestamp":10.0,
     "timestamp":10.25})";
  std::string checkin = R"({"check_in_id":"c1","monitor_slug":"nightly","status":"error"})";
  {
    auto s = f.Open();
    WriteBatch b;
    b.items.push_back({1, ItemKind::kSession, sess1});
    b.items.push_back({1, ItemKind::kSession, sess1b});
    b.items.push_back({1, ItemKind::kSessions, aggs});
    b.items.push_back({1, ItemKind::kClientReport, report});
    b.items.push_back({1, ItemKind::kTransaction, txn});
    b.items.push_back({1, ItemKind::kCheckIn, checkin});
    b.items.push_back({1, ItemKind::kLog, "{\"items\":[]}"});
    std::vector<uint64_t> ids;
    ASSERT_TRUE(s->Write(b, &ids).ok());
  }
  auto s = f.Open();
  auto h = s->ReleaseHealthOf(1);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].sessions, 5u);
  EXPECT_EQ(h[0].crashed, 1u);
  EXPECT_EQ(h[0].errored, 2u);
  EXPECT_DOUBLE_EQ(h[0].CrashFreeSessions(), 0.8);
  auto r = s->ClientReportsOf(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].quantity, 14u);
  EXPECT_EQ(r[0].reason, "ratelimit_backoff");
  auto t = s->TransactionsOf(1);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_DOUBLE_EQ(t[0].p50_ms, 250.0);
  auto m = s->MonitorsOf(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].last_status, "error");
  EXPECT_EQ(s->Stats().items_by_type["log"], 1u);
}

TEST(ErrorStore, LateInProgressDoesNotReopenAFinishedCheckIn) {
  // The SDK sends a run's in_progress and its closing check-in on separate requests, so the
  // server can see them in either order; a finished check-in is final.
  Fixture f;
  auto put = [](ErrorStore& s, const char* id, const char* status) {
    const std::string json = std::string(R"({"monitor_slug":"nightly","check_in_id":")") + id +
                             R"(","status":")" + status + "\"}";
    WriteBatch b;
    b.items.push_back({1, ItemKind::kCheckIn, json});  // a view: json outlives the Write
    std::vector<uint64_t> ids;
    ASSERT_TRUE(s.Write(b, &ids).ok());
  };
  {
    auto s = f.Open();
    put(*s, "c1", "error");
    put(*s, "c1", "in_progress");  // late
    auto m = s->MonitorsOf(1);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].last_status, "error");
    EXPECT_EQ(m[0].last_result, "error");
    EXPECT_TRUE(m[0].open_checkin_id.empty());
    EXPECT_EQ(m[0].by_status.at("in_progress"), 1u);
    put(*s, "c2", "in_progress");  // the next run opens as usual
    EXPECT_EQ(s->MonitorsOf(1)[0].last_status, "in_progress");
    EXPECT_EQ(s->MonitorsOf(1)[0].open_checkin_id, "c2");
  }
  auto s = f.Open();  // the same after replay of the log
  auto m = s->MonitorsOf(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].open_checkin_id, "c2");
  EXPECT_EQ(m[0].last_result, "error");
}

TEST(ErrorStore, TornTailIsTruncated) {
  Fixture f;
  uint64_t a;
  {
    auto s = f.Open();
    a = f.Put(*s, kA);
    f.Put(*s, kA);
  }
  std::string seg = f.dir.path() + "/log/00000001";
  auto size = std::filesystem::file_size(seg);
  std::filesystem::resize_file(seg, size - 5);  // cut into the last record
  auto s = f.Open();
  EXPECT_EQ(s->GetIssue(a)->count, 1u);
  f.Put(*s, kA);
  s.reset();
  s = f.Open();
  EXPECT_EQ(s->GetIssue(a)->count, 2u);
}

TEST(ErrorStore, AssigneeFilterAndReplay) {
  Fixture f;
  uint64_t a, b;
  {
    auto s = f.Open();
    a = f.Put(*s, kA);
    b = f.Put(*s, kB);
    EXPECT_TRUE(s->SetAssignee(a, "  alice@example.com ").ok());
    EXPECT_EQ(s->GetIssue(a)->assignee, "alice@example.com");
    EXPECT_EQ(s->GetIssue(b)->assignee, "");
    EXPECT_EQ(s->SetAssignee(999, "bob").code(), Status::Code::kNotFound);
    EXPECT_EQ(s->SetAssignee(a, std::string(201, 'x')).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(s->SetAssignee(a, "bad\nname").code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(s->GetIssue(a)->assignee, "alice@example.com");  // refusals change nothing
    IssueQuery q;
    q.assignee = "ALICE@example.com";
    auto l = s->ListIssues(q);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].id, a);
    EXPECT_EQ(l[0].assignee, "alice@example.com");
    q = IssueQuery{};
    q.assigned = 0;
    l = s->ListIssues(q);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].id, b);
    q = IssueQuery{};
    q.text = "is:assigned";
    l = s->ListIssues(q);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].id, a);
    q.text = "assigned:nobody";
    EXPECT_TRUE(s->ListIssues(q).empty());
    EXPECT_TRUE(s->SetAssignee(b, "team-storage").ok());
    EXPECT_TRUE(s->SetAssignee(b, "").ok());  // unassign
  }
  auto s = f.Open();  // replay keeps assignments
  EXPECT_EQ(s->GetIssue(a)->assignee, "alice@example.com");
  EXPECT_GT(s->GetIssue(a)->assigned_ms, 0);
  EXPECT_EQ(s->GetIssue(b)->assignee, "");
}

TEST(ErrorStore, AssigneeSurvivesRetention) {
  Fixture f;
  StoreOptions o;
  o.dir = f.dir.path();
  o.clock = &f.clock;
  o.segment_bytes = 200;  // one record per segment
  o.retention_ms = 0;
  o.retention_bytes = 1;
  o.retention_check_interval_ms = 3600000;
  uint64_t a;
  {
    auto s = ErrorStore::Open(o);
    ASSERT_TRUE(s.ok());
    a = f.Put(**s, kA);
    ASSERT_TRUE((*s)->SetAssignee(a, "carol").ok());
    f.Put(**s, kA2);  // the live segment
    ASSERT_TRUE((*s)->EnforceRetention().ok());
  }
  auto s = ErrorStore::Open(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->GetIssue(a)->assignee, "carol");
}

// Spike protection's counters are rebuilt from the log (StoreOptions::on_replayed_event): the
// limit after a restart equals the limit before it.
TEST(ErrorStore, SpikeBaselineRebuiltFromTheLog) {
  Fixture f;
  f.clock.SetMs(1700000000000 - 1700000000000 % 3600000);  // start of an hour
  SpikeOptions so;
  so.window_ms = 168LL * 3600000;  // 1 h buckets
  so.multiplier = 10;
  so.floor_per_minute = 100;
  auto open = [&](SpikeProtector* sp) {
    StoreOptions o;
    o.dir = f.dir.path();
    o.clock = &f.clock;
    o.on_replayed_event = [sp](int64_t project, int64_t at) { sp->Seed(project, at); };
    auto s = ErrorStore::Open(o);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  };
  int64_t limit_before;
  {
    SpikeProtector sp(f.clock, so);
    auto s = open(&sp);
    // Two hours at 30 events per minute: baseline 30/min, limit 300/min.
    for (int m = 0; m < 120; ++m) {
      WriteBatch b;
      for (int i = 0; i < 30; ++i) b.events.push_back(f.Ev(kA, 7));
      ASSERT_TRUE(sp.TryAcquire(7, 30).allowed);
      std::vector<uint64_t> ids;
      ASSERT_TRUE(s->Write(b, &ids).ok());
      f.clock.AdvanceMs(60000);
    }
    limit_before = sp.LimitPerMinute(7);
    EXPECT_EQ(limit_before, 300);
    // 250 events in the current minute.
    WriteBatch b;
    for (int i = 0; i < 250; ++i) b.events.push_back(f.Ev(kA, 7));
    ASSERT_TRUE(sp.TryAcquire(7, 250).allowed);
    std::vector<uint64_t> ids;
    ASSERT_TRUE(s->Write(b, &ids).ok());
  }
  SpikeProtector sp(f.clock, so);
  EXPECT_EQ(sp.LimitPerMinute(7), 100);  // nothing seeded yet: the floor
  auto s = open(&sp);
  EXPECT_EQ(s->Stats().events, 120u * 30 + 250);
  EXPECT_EQ(sp.LimitPerMinute(7), limit_before);
  // This minute's 250 count too: 50 more fit, the 51st does not.
  EXPECT_TRUE(sp.TryAcquire(7, 50).allowed);
  EXPECT_FALSE(sp.TryAcquire(7, 1).allowed);
  EXPECT_EQ(sp.LimitPerMinute(8), 100);  // other projects keep the floor
}

}  // namespace
}  // namespace kansoku::errors

namespace kansoku::errors {
namespace {

TEST(ErrorStore, RetentionBySizeKeepsStatusAndCounts) {
  Fixture f;
  StoreOptions o;
  o.dir = f.dir.path();
  o.clock = &f.clock;
  o.segment_bytes = 200;  // one record per segment
  o.retention_ms = 0;
  o.retention_bytes = 1;  // keep only the live segment
  o.retention_check_interval_ms = 3600000;
  auto open = [&] {
    auto s = ErrorStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
  };
  uint64_t a, b;
  {
    auto s = open();
    a = f.Put(*s, kA);
    f.Put(*s, kA);
    b = f.Put(*s, kB);
    ASSERT_TRUE(s->SetStatus(a, IssueStatus::kResolved).ok());
    ASSERT_TRUE(s->DeleteIssue(b).ok());
    uint64_t c = f.Put(*s, R"({"message":"older"})");
    f.Put(*s, kA2);  // regresses a; the only record of the live segment
    EXPECT_EQ(s->GetIssue(a)->count, 3u);
    auto n = s->EnforceRetention();
    ASSERT_TRUE(n.ok()) << n.status().message();
    EXPECT_EQ(*n, 5u);  // a, a, b, {resolve, delete}, c
    // Only the events of the live segment remain counted and served.
    auto ia = s->GetIssue(a);
    ASSERT_TRUE(ia.ok());
    EXPECT_EQ(ia->count, 1u);
    EXPECT_EQ(ia->status, IssueStatus::kRegressed);
    auto ev = s->IssueEvents(a, 10);
    ASSERT_TRUE(ev.ok());
    ASSERT_EQ(ev->size(), 1u);
    EXPECT_EQ((*ev)[0].second, kA2);
    EXPECT_FALSE(s->GetIssue(c).ok());  // all its events are gone
    EXPECT_EQ(s->Stats().segments_deleted, 5u);
  }
  auto s = open();
  auto ia = s->GetIssue(a);
  ASSERT_TRUE(ia.ok());
  EXPECT_EQ(ia->count, 1u);
  EXPECT_EQ(ia->status, IssueStatus::kRegressed);
  EXPECT_FALSE(s->GetIssue(b).ok());
  size_t total = 0;
  s->ListIssues(IssueQuery{}, &total);
  EXPECT_EQ(total, 1u);
  EXPECT_FALSE(std::filesystem::exists(f.dir.path() + "/log/00000001"));
}

}  // namespace
}  // namespace kansoku::errors

namespace kansoku::errors {
namespace {

// Rotation leaves the old segment to the next Sync (no fsync inside Append); the blocks
// preallocated ahead of the writes never show up as data, and are given back when a segment is
// left or the log is closed.
TEST(EventLog, RotationSyncAndPreallocation) {
  TempDir dir;
  const std::string logdir = dir.path() + "/log";
  std::vector<std::string> payloads;
  {
    auto log = EventLog::Open(logdir, 64 << 10);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(
        (*log)
            ->Replay([](RecordType, std::string_view, const RecordRef&) { return Status::Ok(); })
            .ok());
    for (int i = 0; i < 40; ++i) {
      payloads.push_back(std::string(5000 + i, static_cast<char>('a' + i % 26)));
      std::string framed;
      AppendRecord(&framed, RecordType::kItem, payloads.back());
      uint32_t seg;
      uint64_t off;
      ASSERT_TRUE((*log)->Append(framed, &seg, &off).ok());
      if (i == 20) {
        ASSERT_TRUE((*log)->Sync().ok());
      }
    }
    auto closed = (*log)->ClosedSegments();
    ASSERT_GE(closed.size(), 2u);  // 40 x ~5 KB over 64 KB segments
    for (const auto& c : closed) {
      struct stat st {};
      char name[16];
      std::snprintf(name, sizeof name, "%08u", c.number);
      ASSERT_EQ(::stat((logdir + "/" + name).c_str(), &st), 0);
      EXPECT_EQ(static_cast<uint64_t>(st.st_size), c.bytes);
      // Allocated blocks: the data rounded up to the filesystem block, not the preallocation.
      EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, c.bytes + 8192) << c.number;
    }
    ASSERT_TRUE((*log)->Sync().ok());
  }
  // Every record back, in order, after the close.
  auto log = EventLog::Open(logdir, 64 << 10);
  ASSERT_TRUE(log.ok());
  size_t n = 0;
  ASSERT_TRUE((*log)
                  ->Replay([&](RecordType t, std::string_view p, const RecordRef&) {
                    EXPECT_EQ(t, RecordType::kItem);
                    EXPECT_EQ(p, payloads[n]);
                    ++n;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(n, payloads.size());
  EXPECT_EQ((*log)->stats().torn_tails_truncated, 0u);
  for (const auto& entry : std::filesystem::directory_iterator(logdir)) {
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, static_cast<uint64_t>(st.st_size) + 8192)
        << entry.path();
  }
}

}  // namespace
}  // namespace kansoku::errors
