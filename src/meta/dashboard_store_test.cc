#include "meta/dashboard_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace kansoku::meta {
namespace {

class DashboardStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kansoku-dash-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  DashboardRecord Rec(const std::string& id, const std::string& title) {
    DashboardRecord r;
    r.id = id;
    r.title = title;
    r.tags_json = "[\"web\"]";
    r.panels = 2;
    r.body = "{\"title\":\"" + title + "\",\"panels\":[]}";
    r.updated_by = "admin";
    return r;
  }
  std::string dir_;
  FakeClock clock_;
};

TEST_F(DashboardStoreTest, PutGetListDeleteSurviveReopen) {
  {
    auto s = DashboardStore::Open(dir_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto a = (*s)->Put(Rec("web", "Web tier"), DashboardStore::kMustNotExist);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->version, 1);
    EXPECT_EQ(a->created_at_ms, clock_.NowMs());
    clock_.AdvanceMs(1000);
    auto b = (*s)->Put(Rec("db", "databases"), DashboardStore::kAnyVersion);
    ASSERT_TRUE(b.ok());
    auto a2 = (*s)->Put(Rec("web", "Web tier v2"), 1);
    ASSERT_TRUE(a2.ok()) << a2.status().ToString();
    EXPECT_EQ(a2->version, 2);
    EXPECT_EQ(a2->created_at_ms, a->created_at_ms);
    EXPECT_EQ(a2->updated_at_ms, a->created_at_ms + 1000);
  }
  auto s = DashboardStore::Open(dir_, clock_);
  ASSERT_TRUE(s.ok());
  auto list = (*s)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "db");  // by title, case-insensitive
  EXPECT_EQ((*list)[1].id, "web");
  EXPECT_TRUE((*list)[1].body.empty());
  EXPECT_EQ((*list)[1].panels, 2);
  auto g = (*s)->Get("web");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->title, "Web tier v2");
  EXPECT_EQ(g->body, "{\"title\":\"Web tier v2\",\"panels\":[]}");
  EXPECT_EQ(g->tags_json, "[\"web\"]");
  EXPECT_EQ(g->updated_by, "admin");
  ASSERT_TRUE((*s)->Delete("web").ok());
  EXPECT_EQ((*s)->Delete("web").code(), Status::Code::kNotFound);
  EXPECT_EQ((*s)->Get("web").status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(*(*s)->Exists("web"));
  EXPECT_TRUE(*(*s)->Exists("db"));
}

TEST_F(DashboardStoreTest, VersionConflicts) {
  auto s = DashboardStore::Open(dir_, clock_);
  ASSERT_TRUE((*s)->Put(Rec("x", "X"), DashboardStore::kMustNotExist).ok());
  // Create-only on an existing id.
  auto dup = (*s)->Put(Rec("x", "X"), DashboardStore::kMustNotExist);
  EXPECT_EQ(dup.status().code(), Status::Code::kAlreadyExists);
  // Two editors start from version 1; the second save is refused and names the stored version.
  ASSERT_TRUE((*s)->Put(Rec("x", "first"), 1).ok());
  auto second = (*s)->Put(Rec("x", "second"), 1);
  ASSERT_EQ(second.status().code(), Status::Code::kAlreadyExists);
  EXPECT_NE(second.status().message().find("stored version is 2"), std::string::npos)
      << second.status().message();
  EXPECT_EQ((*s)->Get("x")->title, "first");
  // Saving an edit of a deleted dashboard is refused too.
  ASSERT_TRUE((*s)->Delete("x").ok());
  EXPECT_EQ((*s)->Put(Rec("x", "late"), 2).status().code(), Status::Code::kAlreadyExists);
  // Overwrite without a version creates.
  auto any = (*s)->Put(Rec("x", "again"), DashboardStore::kAnyVersion);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->version, 1);
}

TEST_F(DashboardStoreTest, LimitOnCount) {
  auto s = DashboardStore::Open(dir_, clock_, /*max_dashboards=*/2);
  ASSERT_TRUE((*s)->Put(Rec("a", "A"), DashboardStore::kAnyVersion).ok());
  ASSERT_TRUE((*s)->Put(Rec("b", "B"), DashboardStore::kAnyVersion).ok());
  EXPECT_EQ((*s)->Put(Rec("c", "C"), DashboardStore::kAnyVersion).status().code(),
            Status::Code::kResourceExhausted);
  // Replacing an existing one is still fine at the limit.
  EXPECT_TRUE((*s)->Put(Rec("a", "A2"), 1).ok());
}

}  // namespace
}  // namespace kansoku::meta
