// Built-in monitors against a real ErrorStore (temp dir) on a fake clock.
#include "server/monitor_sources.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "errors/event.h"
#include "errors/grouping.h"
#include "errors/store.h"

namespace kansoku::server {
namespace {

const int64_t kT0 = 1764150000000;  // 2026-11-26T09:40:00Z

struct Fixture {
  FakeClock clock{kT0};
  std::string dir;
  std::unique_ptr<errors::ErrorStore> store;
  unsigned events_ = 0;
  Fixture() {
    static int n = 0;
    dir = std::filesystem::temp_directory_path() /
          ("kansoku-mon-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir);
    errors::StoreOptions o;
    o.dir = dir;
    o.clock = &clock;
    o.fsync_interval_ms = 0;
    store = std::move(errors::ErrorStore::Open(o)).value();
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  void CheckIn(const std::string& json) {
    errors::WriteBatch b;
    b.items.push_back({1, errors::ItemKind::kCheckIn, json});
    std::vector<uint64_t> ids;
    ASSERT_TRUE(store->Write(b, &ids).ok());
  }
  uint64_t Event(const std::string& message) {
    std::string json = R"({"message":")" + message + R"(","level":"error"})";
    errors::WriteBatch b;
    errors::IncomingEvent e;
    e.project = 1;
    char id[33];
    std::snprintf(id, sizeof id, "%032x", ++events_);
    e.event_id = id;
    e.json = json;
    EXPECT_TRUE(errors::ParseEvent(json, &e.event).ok());
    e.grouping = errors::GroupEvent(e.event);
    b.events.push_back(std::move(e));
    std::vector<uint64_t> ids;
    EXPECT_TRUE(store->Write(b, &ids).ok());
    return ids.empty() ? 0 : ids[0];
  }
  std::vector<std::string> Names(alert::Source& s) {
    auto r = s.Collect(clock.NowMs());
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<std::string> out;
    for (const auto& i : *r) {
      out.push_back(std::string(i.labels.Get("alertname")) + ":" +
                    std::string(i.labels.Get("monitor")) + std::string(i.labels.Get("issue")));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

using V = std::vector<std::string>;

TEST(CronSourceTest, MissedTimeoutFailedFromSdkConfigAndServerDefinitions) {
  Fixture f;
  config::CronMonitorsConfig cfg;
  config::CronMonitorConfig def;
  def.slug = "server-def";
  def.schedule = "@every 10m";
  def.margin_ms = 60000;
  cfg.monitors.push_back(def);
  auto src = MakeCronSource(f.store.get(), cfg, 1000, kT0);
  ASSERT_TRUE(src.ok()) << src.status().message();
  alert::Source& s = **src;
  // Hourly at :00 in Tokyo with a 5 minute margin; a run starts at 09:40Z and ends ok.
  std::string mc = R"("monitor_config":{"schedule":{"type":"crontab","value":"0 * * * *"},
                       "checkin_margin":5,"max_runtime":20,"timezone":"Asia/Tokyo"})";
  f.CheckIn(R"({"check_in_id":"a1","monitor_slug":"hourly","status":"in_progress",)" + mc + "}");
  f.CheckIn(R"({"check_in_id":"b1","monitor_slug":"broken","status":"in_progress"})");
  f.CheckIn(R"({"check_in_id":"b1","monitor_slug":"broken","status":"error"})");
  EXPECT_EQ(f.Names(s), (V{"CronFailed:broken"}));
  // 21 minutes later the hourly run is still open: timed out (max_runtime 20m).
  f.clock.AdvanceMs(21 * 60000);  // 10:01Z
  EXPECT_EQ(f.Names(s), (V{"CronFailed:broken", "CronMissed:server-def", "CronTimeout:hourly"}));
  f.CheckIn(R"({"check_in_id":"a1","monitor_slug":"hourly","status":"ok",)" + mc + "}");
  f.CheckIn(R"({"check_in_id":"s1","monitor_slug":"server-def","status":"ok"})");
  f.CheckIn(R"({"check_in_id":"b2","monitor_slug":"broken","status":"ok"})");
  EXPECT_EQ(f.Names(s), V{});
  // Next hourly run due at 10:00Z after the 09:40Z start... that was before the close: the
  // 10:00Z slot + 5m margin passes at 10:05Z.
  f.clock.SetMs(kT0 + 25 * 60000 + 1000);  // 10:05:01Z
  EXPECT_EQ(f.Names(s), (V{"CronMissed:hourly"}));
  f.CheckIn(R"({"check_in_id":"a2","monitor_slug":"hourly","status":"ok",)" + mc + "}");
  EXPECT_EQ(f.Names(s), V{});
  // server-def checked in at 10:01Z: due 10:11Z, margin 1m.
  f.clock.SetMs(kT0 + 32 * 60000 + 1000);  // 10:12:01Z
  EXPECT_EQ(f.Names(s), (V{"CronMissed:server-def"}));
}

TEST(CronSourceTest, BadServerDefinitionIsAnError) {
  Fixture f;
  config::CronMonitorsConfig cfg;
  config::CronMonitorConfig def;
  def.slug = "x";
  def.schedule = "61 * * * *";
  cfg.monitors.push_back(def);
  auto src = MakeCronSource(f.store.get(), cfg, 1000, kT0);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("monitors.cron.monitors[0] (x): schedule"),
            std::string::npos)
      << src.status().message();
}

TEST(IssueSourceTest, NewRegressedAndThreshold) {
  Fixture f;
  config::ErrorMonitorsConfig cfg;
  cfg.new_issue_window_ms = 3600000;
  config::IssueEventThreshold t;
  t.events = 2;
  t.window_ms = 600000;
  cfg.event_thresholds.push_back(t);
  auto src = MakeIssueSource(f.store.get(), cfg, 1000);
  uint64_t id = f.Event("boom");
  ASSERT_NE(id, 0u);
  std::string sid = std::to_string(id);
  EXPECT_EQ(f.Names(*src), (V{"NewIssue:" + sid}));
  f.clock.AdvanceMs(60000);
  f.Event("boom");
  f.Event("boom");  // 3 events within 10 minutes of an issue born in the window
  EXPECT_EQ(f.Names(*src), (V{"IssueEventsAboveThreshold:" + sid, "NewIssue:" + sid}));
  // 11 minutes later the window holds no events; resolve, then an event regresses it.
  f.clock.AdvanceMs(11 * 60000);
  ASSERT_TRUE(f.store->SetStatus(id, errors::IssueStatus::kResolved).ok());
  EXPECT_EQ(f.Names(*src), V{});
  f.Event("boom");
  EXPECT_EQ(f.Names(*src), (V{"IssueRegressed:" + sid}));
  // Another 2 events: 3 in the window (counted from the sample 11 minutes ago).
  f.Event("boom");
  f.Event("boom");
  EXPECT_EQ(f.Names(*src), (V{"IssueEventsAboveThreshold:" + sid, "IssueRegressed:" + sid}));
}

}  // namespace
}  // namespace kansoku::server
