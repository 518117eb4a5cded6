#include "meta/project_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace kansoku::meta {
namespace {

TEST(ProjectStore, FirstProjectKeysRotateAndReopen) {
  char tmpl[] = "/tmp/project_store_test.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string old_key;
  int64_t key2 = 0;
  {
    auto s = ProjectStore::Open(dir);
    ASSERT_TRUE(s.ok());
    bool created = false;
    auto p = (*s)->EnsureFirst(&created);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(created);
    EXPECT_EQ(p->id, 1);
    ASSERT_EQ(p->keys.size(), 1u);
    EXPECT_EQ(p->keys[0].public_key.size(), 32u);
    EXPECT_EQ(Dsn(p->keys[0], "127.0.0.1:9400"),
              "http://" + p->keys[0].public_key + "@127.0.0.1:9400/1");
    (void)(*s)->EnsureFirst(&created);
    EXPECT_FALSE(created);
    old_key = p->keys[0].public_key;
    auto look = (*s)->Lookup(old_key);
    ASSERT_TRUE(look.ok());
    EXPECT_EQ(look->key.project_id, 1);

    auto k2 = (*s)->AddKey(1, "browser");
    ASSERT_TRUE(k2.ok());
    key2 = k2->id;
    bool yes = true;
    int64_t five = 5;
    ASSERT_TRUE((*s)->UpdateKey(1, key2, &yes, &five, nullptr).ok());
    EXPECT_FALSE((*s)->Lookup(k2->public_key)->key.enabled());
    EXPECT_EQ((*s)->UpdateKey(2, key2, &yes, nullptr, nullptr).code(), Status::Code::kNotFound);

    auto rot = (*s)->RotateKey(1, p->keys[0].id);
    ASSERT_TRUE(rot.ok());
    EXPECT_NE(rot->public_key, old_key);
    EXPECT_FALSE((*s)->Lookup(old_key).ok());
    ASSERT_TRUE((*s)->SetLimits(1, 5, 100).ok());
    auto p2 = (*s)->Create("web");
    ASSERT_TRUE(p2.ok());
    EXPECT_EQ(p2->id, 2);
  }
  auto s = ProjectStore::Open(dir);
  ASSERT_TRUE(s.ok());
  auto list = (*s)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].events_per_minute, 5);
  ASSERT_EQ((*list)[0].keys.size(), 2u);
  EXPECT_FALSE((*list)[0].keys[1].enabled());
  EXPECT_EQ((*list)[0].keys[1].events_per_minute, 5);
  EXPECT_FALSE((*s)->Lookup(old_key).ok());
  auto look = (*s)->Lookup((*list)[0].keys[0].public_key);
  ASSERT_TRUE(look.ok());
  EXPECT_EQ(look->project_events_per_minute, 5);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku::meta
