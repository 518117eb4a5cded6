#include "meta/host_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace kansoku::meta {
namespace {

struct TempDir {
  TempDir() {
    char t[] = "/tmp/kansoku-hosts-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

HostRegistration Reg(const std::string& name) {
  HostRegistration r;
  r.name = name;
  r.service = "shop";
  r.roles = {"web", "api"};
  r.interval_ms = 10000;
  r.meta_json = R"({"os":"Debian"})";
  return r;
}

TEST(HostStore, RegisterHeartbeatUnreachable) {
  TempDir d;
  FakeClock clock(1000000);
  auto s = HostStore::Open(d.path, {}, clock);
  ASSERT_TRUE(s.ok());
  auto h = (*s)->Register(Reg("web-1"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id.size(), 16u);
  EXPECT_EQ(h->status, "working");
  EXPECT_FALSE(h->unreachable);
  clock.AdvanceMs(25000);
  ASSERT_TRUE((*s)->Heartbeat(h->id, R"({"load1":0.5})").ok());
  clock.AdvanceMs(30000);  // exactly 3 intervals: still reachable
  EXPECT_FALSE((*s)->Get(h->id)->unreachable);
  EXPECT_TRUE((*s)->Unreachable().empty());
  clock.AdvanceMs(1);
  EXPECT_TRUE((*s)->Get(h->id)->unreachable);
  ASSERT_EQ((*s)->Unreachable().size(), 1u);
  EXPECT_EQ((*s)->Get(h->id)->metrics_json, R"({"load1":0.5})");
  // Maintenance and poweroff hosts are never alert-worthy.
  ASSERT_TRUE((*s)->SetStatus(h->id, "maintenance").ok());
  EXPECT_TRUE((*s)->Get(h->id)->unreachable);
  EXPECT_TRUE((*s)->Unreachable().empty());
  ASSERT_TRUE((*s)->SetStatus(h->id, "standby").ok());
  EXPECT_EQ((*s)->Unreachable().size(), 1u);
  EXPECT_FALSE((*s)->SetStatus(h->id, "sleeping").ok());
  ASSERT_TRUE((*s)->Heartbeat(h->id, "").ok());
  EXPECT_TRUE((*s)->Unreachable().empty());
}

TEST(HostStore, UnreachableThresholdServerDefaultAndPerHost) {
  TempDir d;
  FakeClock clock(1000000);
  HostStoreOptions o;
  o.unreachable_after_intervals = 5;  // server config hosts.unreachable_after
  std::string strict_id;
  {
    auto s = HostStore::Open(d.path, o, clock);
    ASSERT_TRUE(s.ok());
    auto lax = (*s)->Register(Reg("lax"));
    HostRegistration r = Reg("strict");
    r.unreachable_after = 1;  // sent by its agent
    auto strict = (*s)->Register(r);
    ASSERT_TRUE(lax.ok() && strict.ok());
    strict_id = strict->id;
    EXPECT_EQ(lax->unreachable_after_effective, 5);
    EXPECT_EQ(strict->unreachable_after_effective, 1);
    clock.AdvanceMs(10001);  // one interval missed
    EXPECT_FALSE((*s)->Get(lax->id)->unreachable);
    EXPECT_TRUE((*s)->Get(strict->id)->unreachable);
    clock.AdvanceMs(40000);  // five missed
    EXPECT_TRUE((*s)->Get(lax->id)->unreachable);
  }
  // The per-host threshold is persisted.
  auto s = HostStore::Open(d.path, o, clock);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->Get(strict_id)->unreachable_after, 1);
}

TEST(HostStore, RetireIsFinal) {
  TempDir d;
  FakeClock clock;
  auto s = HostStore::Open(d.path, {}, clock);
  ASSERT_TRUE(s.ok());
  auto h = (*s)->Register(Reg("web-1"));
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE((*s)->Retire(h->id).ok());
  EXPECT_EQ((*s)->Heartbeat(h->id, "").code(), Status::Code::kPermissionDenied);
  EXPECT_EQ((*s)->SetStatus(h->id, "working").code(), Status::Code::kPermissionDenied);
  HostRegistration again = Reg("web-1");
  again.id = h->id;
  EXPECT_EQ((*s)->Register(again).status().code(), Status::Code::kPermissionDenied);
  EXPECT_TRUE((*s)->List().empty());
  HostFilter all;
  all.include_retired = true;
  ASSERT_EQ((*s)->List(all).size(), 1u);
  EXPECT_TRUE((*s)->List(all)[0].retired());
  clock.AdvanceMs(10000000);
  EXPECT_TRUE((*s)->Unreachable().empty());
}

TEST(HostStore, FiltersAndPersistence) {
  TempDir d;
  FakeClock clock;
  std::string id;
  {
    auto s = HostStore::Open(d.path, {}, clock);
    ASSERT_TRUE(s.ok());
    id = (*s)->Register(Reg("web-1"))->id;
    auto db = Reg("db-1");
    db.roles = {"db"};
    db.status = "standby";
    ASSERT_TRUE((*s)->Register(db).ok());
    HostRegistration unknown = Reg("x");
    unknown.id = "0000000000000000";
    EXPECT_EQ((*s)->Register(unknown).status().code(), Status::Code::kNotFound);
    HostFilter f;
    f.role = "db";
    ASSERT_EQ((*s)->List(f).size(), 1u);
    EXPECT_EQ((*s)->List(f)[0].name, "db-1");
    f = {};
    f.status = "standby";
    EXPECT_EQ((*s)->List(f).size(), 1u);
    f = {};
    f.service = "other";
    EXPECT_TRUE((*s)->List(f).empty());
    clock.AdvanceMs(5000);
    ASSERT_TRUE((*s)->Heartbeat(id, R"({"load1":2})").ok());  // not yet persisted (< 60 s)
  }
  // Reopen: everything is there; the pending heartbeat was flushed on close.
  auto s = HostStore::Open(d.path, {}, clock);
  ASSERT_TRUE(s.ok());
  auto h = (*s)->Get(id);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->name, "web-1");
  EXPECT_EQ(h->roles, (std::vector<std::string>{"web", "api"}));
  EXPECT_EQ(h->meta_json, R"({"os":"Debian"})");
  EXPECT_EQ(h->last_heartbeat_ms, clock.NowMs());
  EXPECT_EQ(h->metrics_json, R"({"load1":2})");
  EXPECT_EQ((*s)->List().size(), 2u);
  auto counts = (*s)->CountByStatus();
  EXPECT_EQ(counts["working"], 1);
  EXPECT_EQ(counts["standby"], 1);
}

}  // namespace
}  // namespace kansoku::meta
