#include "alert/dispatcher.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace kansoku::alert {
namespace {

struct Sent {
  std::mutex mu;
  std::vector<Notification> got;
  std::atomic<int> fail_next{0};
  std::atomic<bool> hang{false};
};

class FakeIntegration : public Integration {
 public:
  FakeIntegration(Sent* s, std::string name) : s_(s), name_(std::move(name)) {}
  std::string kind() const override { return "webhook"; }
  std::string target() const override { return name_; }
  bool send_resolved() const override { return true; }
  Status Notify(const Notification& n, int64_t) override {
    while (s_->hang) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (s_->fail_next > 0) {
      --s_->fail_next;
      return Status::Unavailable("receiver answered HTTP 500");
    }
    std::lock_guard<std::mutex> l(s_->mu);
    s_->got.push_back(n);
    return Status::Ok();
  }

 private:
  Sent* s_;
  std::string name_;
};

const char* kConfig = R"(route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="page"']
      receiver: pager
receivers:
  - name: ops
    webhook_configs: [{url: "http://127.0.0.1:1/ops"}]
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:1/pager"}]
maintenance_windows:
  - name: weekend-db
    matchers: ['service="db"']
    weekdays: [saturday, sunday]
    times: [{start_time: "02:00", end_time: "04:00"}]
)";

struct Fixture {
  FakeClock clock{1700000000000};  // 2023-11-14 22:13:20 UTC, a Tuesday
  Sent ops, pager;
  std::unique_ptr<Silences> silences;
  std::unique_ptr<Dispatcher> d;
  explicit Fixture(const char* yaml = kConfig, const std::string& state_dir = "") {
    auto cfg = ParseNotifyConfig(yaml, "n.yml");
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    silences = std::make_unique<Silences>("", &clock);
    DispatcherOptions o;
    o.config = std::move(cfg).value();
    o.clock = &clock;
    o.silences = silences.get();
    o.tick_ms = 1000000;  // ticks by hand
    o.state_dir = state_dir;
    o.min_backoff_ms = 1;
    o.make_integrations = [this](const ReceiverConfig& r) {
      std::vector<std::unique_ptr<Integration>> v;
      v.push_back(std::make_unique<FakeIntegration>(r.name == "ops" ? &ops : &pager, r.name));
      return v;
    };
    d = std::make_unique<Dispatcher>(std::move(o));
    EXPECT_TRUE(d->Start().ok());
  }
  Alert A(const std::string& name, const std::string& inst, bool resolved = false,
          const std::string& sev = "warn") {
    Alert a;
    a.labels = tsdb::Labels{{"alertname", name}, {"instance", inst}, {"severity", sev}};
    a.starts_at_ms = clock.NowMs() - 1000;
    a.ends_at_ms = resolved ? clock.NowMs() : clock.NowMs() + 240000;
    return a;
  }
  void Advance(int64_t ms) {
    clock.AdvanceMs(ms);
    d->Tick(clock.NowMs());
  }
  // Waits until s got n notifications (up to 10 s), or, when asking for more than what is
  // expected to come, gives the delivery threads 300 ms.
  size_t Wait(Sent& s, size_t n, int polls = 2000) {
    for (int i = 0; i < polls; ++i) {
      {
        std::lock_guard<std::mutex> l(s.mu);
        if (s.got.size() >= n) return s.got.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> l(s.mu);
    return s.got.size();
  }
};

TEST(DispatcherTest, GroupsWaitsDedupsAndResolves) {
  Fixture f;
  f.d->Send({f.A("Down", "a"), f.A("Down", "b")});
  f.Advance(10000);
  EXPECT_EQ(f.Wait(f.ops, 1, 60), 0u);  // group_wait not over
  f.Advance(20000);
  ASSERT_EQ(f.Wait(f.ops, 1), 1u);
  {
    std::lock_guard<std::mutex> l(f.ops.mu);
    EXPECT_EQ(f.ops.got[0].alerts.size(), 2u);  // one grouped notification
    EXPECT_EQ(f.ops.got[0].group_labels.Get("alertname"), "Down");
  }
  // Same alerts again (rule manager resends every minute): no new notification.
  for (int i = 0; i < 5; ++i) {
    f.d->Send({f.A("Down", "a"), f.A("Down", "b")});
    f.Advance(60000);
  }
  EXPECT_EQ(f.Wait(f.ops, 2, 60), 1u);
  // Both resolve: one resolved notification.
  f.d->Send({f.A("Down", "a", true), f.A("Down", "b", true)});
  f.Advance(300000);
  ASSERT_EQ(f.Wait(f.ops, 2), 2u);
  {
    std::lock_guard<std::mutex> l(f.ops.mu);
    EXPECT_EQ(f.ops.got[1].StatusText(), "resolved");
    EXPECT_EQ(f.ops.got[1].alerts.size(), 2u);
  }
  f.Advance(300000);
  EXPECT_TRUE(f.d->Groups().empty());
  EXPECT_EQ(f.Wait(f.ops, 3, 60), 2u);
  auto h = f.d->History();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].status, "resolved");
  EXPECT_EQ(h[0].result, "ok");
}

TEST(DispatcherTest, RoutesByMatchersAndRepeats) {
  Fixture f;
  f.d->Send({f.A("Disk", "a", false, "page")});
  f.Advance(30000);
  ASSERT_EQ(f.Wait(f.pager, 1), 1u);
  EXPECT_EQ(f.Wait(f.ops, 1, 60), 0u);
  // repeat_interval 1h: re-notified once after an hour while still firing.
  for (int i = 0; i < 65; ++i) {  // the rule manager re-sends every minute
    f.d->Send({f.A("Disk", "a", false, "page")});
    f.Advance(60000);
  }
  EXPECT_EQ(f.Wait(f.pager, 3, 60), 2u);
}

TEST(DispatcherTest, SilenceMutesThenNotifiesWhenItEnds) {
  Fixture f;
  Silence s;
  s.matchers = {"instance=\"a\""};
  s.ends_at_ms = f.clock.NowMs() + 10 * 60000;
  s.created_by = "me";
  s.comment = "deploy";
  ASSERT_TRUE(f.silences->Put(s).ok());
  f.d->Send({f.A("Down", "a")});
  f.Advance(30000);
  EXPECT_EQ(f.Wait(f.ops, 1, 60), 0u);
  for (int i = 0; i < 8; ++i) {
    f.d->Send({f.A("Down", "a")});
    f.Advance(60000);
  }
  EXPECT_EQ(f.Wait(f.ops, 1, 60), 0u);  // 8m30s: still silenced
  for (int i = 0; i < 7; ++i) {
    f.d->Send({f.A("Down", "a")});
    f.Advance(60000);
  }
  ASSERT_EQ(f.Wait(f.ops, 1), 1u);  // silence over, still firing: notified
}

TEST(DispatcherTest, MaintenanceWindow) {
  Fixture f;
  // Saturday 2023-11-18 02:30 UTC.
  f.clock.SetMs(1700274600000);
  Alert db = f.A("Down", "db1");
  db.labels = tsdb::Labels{{"alertname", "Down"}, {"instance", "db1"}, {"service", "db"}};
  f.d->Send({db, f.A("Down", "web1")});
  f.Advance(30000);
  ASSERT_EQ(f.Wait(f.ops, 1), 1u);
  {
    std::lock_guard<std::mutex> l(f.ops.mu);
    ASSERT_EQ(f.ops.got[0].alerts.size(), 1u);
    EXPECT_EQ(f.ops.got[0].alerts[0].labels.Get("instance"), "web1");
  }
}

TEST(DispatcherTest, RetriesThenCountsFailure) {
  Fixture f;
  f.ops.fail_next = 2;
  f.d->Send({f.A("Down", "a")});
  f.Advance(30000);
  ASSERT_EQ(f.Wait(f.ops, 1), 1u);
  auto h = f.d->History();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].attempts, 3);
  EXPECT_EQ(h[0].result, "ok");
}

TEST(DispatcherTest, HungReceiverDoesNotBlockOthers) {
  Fixture f;
  f.ops.hang = true;
  f.d->Send({f.A("Down", "a"), f.A("Disk", "b", false, "page")});
  f.Advance(30000);
  EXPECT_EQ(f.Wait(f.pager, 1), 1u);
  f.ops.hang = false;
  EXPECT_EQ(f.Wait(f.ops, 1), 1u);
}

TEST(DispatcherTest, ReconfigureAppliesNewRoutesWithoutRenotifying) {
  Fixture f;
  f.d->Send({f.A("Down", "a"), f.A("Disk", "x", false, "page")});
  f.Advance(30000);
  ASSERT_EQ(f.Wait(f.ops, 1), 1u);
  ASSERT_EQ(f.Wait(f.pager, 1), 1u);
  // New file: pages go to ops as well (no child route any more).
  auto cfg = ParseNotifyConfig(R"(route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: ops
    webhook_configs: [{url: "http://127.0.0.1:1/ops"}]
)",
                               "n.yml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  f.d->Reconfigure(std::move(cfg).value());
  f.Advance(30000);  // the re-routed groups wait group_wait again
  // "Down" keeps its group key: not notified again. "Disk" moved to a new group: notified once.
  ASSERT_EQ(f.Wait(f.ops, 2), 2u);
  EXPECT_EQ(f.Wait(f.ops, 3, 60), 2u);
  {
    std::lock_guard<std::mutex> l(f.ops.mu);
    EXPECT_EQ(f.ops.got[1].alerts[0].labels.Get("alertname"), "Disk");
  }
  ASSERT_EQ(f.d->Health().size(), 1u);
  EXPECT_EQ(f.d->Health()[0].receiver, "ops");
}

TEST(DispatcherTest, ReconfigureStillDeliversWhatWasQueued) {
  Fixture f;
  f.ops.hang = true;  // the first notification is stuck in the receiver, the second queued
  f.d->Send({f.A("Down", "a")});
  f.Advance(30000);
  f.d->Send({f.A("Disk", "b")});
  f.Advance(30000);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    f.ops.hang = false;
  });
  auto cfg = ParseNotifyConfig(kConfig, "n.yml");  // same routes: a plain reload
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  f.d->Reconfigure(std::move(cfg).value());
  release.join();
  // Both reach the receiver: the one in flight and the one that waited in the old queue; the
  // reload itself notifies nothing again.
  ASSERT_EQ(f.Wait(f.ops, 2), 2u);
  EXPECT_EQ(f.Wait(f.ops, 3, 60), 2u);
  {
    std::lock_guard<std::mutex> l(f.ops.mu);
    EXPECT_EQ(f.ops.got[0].alerts[0].labels.Get("alertname"), "Down");
    EXPECT_EQ(f.ops.got[1].alerts[0].labels.Get("alertname"), "Disk");
  }
  auto cfg2 = ParseNotifyConfig(kConfig, "n.yml");  // reaps the drained integrations
  ASSERT_TRUE(cfg2.ok());
  f.d->Reconfigure(std::move(cfg2).value());
  EXPECT_EQ(f.d->Health().size(), 2u);
}

TEST(DispatcherTest, HistoryIsPersistedAndBounded) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("kansoku-disp-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    Fixture f(kConfig, dir);
    f.d->Send({f.A("Down", "a")});
    f.Advance(30000);
    ASSERT_EQ(f.Wait(f.ops, 1), 1u);
    for (int i = 0; i < 200 && f.d->History().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(f.d->History().size(), 1u);
    f.d->Stop();
  }
  // A torn line (crash mid-append) is skipped.
  {
    FILE* fp = std::fopen((dir + "/history.jsonl").c_str(), "a");
    std::fputs("{\"time\":\"2026-", fp);
    std::fclose(fp);
  }
  Fixture g(kConfig, dir);
  auto h = g.d->History();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].receiver, "ops");
  EXPECT_EQ(h[0].result, "ok");
  EXPECT_EQ(h[0].status, "firing");
  EXPECT_EQ(h[0].group_labels.Get("alertname"), "Down");
  ASSERT_EQ(h[0].alerts.size(), 1u);
  EXPECT_EQ(h[0].alerts[0].labels.Get("instance"), "a");
  HistoryEntry back;
  ASSERT_TRUE(ParseHistoryEntryJson(HistoryEntryJson(h[0]), &back));
  EXPECT_EQ(HistoryEntryJson(back), HistoryEntryJson(h[0]));
  g.d->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku::alert
