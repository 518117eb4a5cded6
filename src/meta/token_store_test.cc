#include "meta/token_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace kansoku::meta {
namespace {

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kansoku-meta-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  FakeClock clock_;
};

TEST_F(TokenStoreTest, CreateAuthenticateRevokeSurviveReopen) {
  std::string secret;
  int64_t id;
  {
    auto s = TokenStore::Open(dir_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto t = (*s)->Create("ci", kIngest | kRead, &secret);
    ASSERT_TRUE(t.ok());
    id = t->id;
    EXPECT_EQ(secret.substr(0, 4), "ksk_");
    EXPECT_EQ(secret.size(), 44u);
    auto a = (*s)->Authenticate(secret);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->name, "ci");
    EXPECT_FALSE((*s)->Authenticate("ksk_wrong").ok());
  }
  // The secret is not stored in plaintext.
  std::ifstream f(dir_ + "/meta.db", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(raw.find(secret), std::string::npos);
  {
    auto s = TokenStore::Open(dir_, clock_);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Authenticate(secret).ok());
    ASSERT_TRUE((*s)->Revoke(id).ok());
    EXPECT_EQ((*s)->Revoke(id).code(), Status::Code::kNotFound);
    EXPECT_EQ((*s)->Authenticate(secret).status().code(), Status::Code::kUnauthenticated);
  }
  auto s = TokenStore::Open(dir_, clock_);
  EXPECT_FALSE((*s)->Authenticate(secret).ok());
  auto all = (*s)->List(true);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_GT((*all)[0].revoked_at_ms, 0);
  EXPECT_TRUE((*s)->List(false)->empty());
}

TEST_F(TokenStoreTest, EnsureIsIdempotent) {
  auto s = TokenStore::Open(dir_, clock_);
  auto a = (*s)->Ensure("admin", kAdmin, "0123456789abcdef-secret");
  auto b = (*s)->Ensure("admin", kAdmin, "0123456789abcdef-secret");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ((*s)->Count(), 1u);
  EXPECT_FALSE((*s)->Ensure("admin", kAdmin, "short").ok());
}

TEST(ScopesTest, Parse) {
  EXPECT_EQ(*ParseScopes({"ingest,read"}), kIngest | kRead);
  EXPECT_EQ(*ParseScopes({"admin"}), kAdmin);
  auto bad = ParseScopes({"write"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown scope \"write\""), std::string::npos);
  EXPECT_FALSE(ParseScopes({}).ok());
  EXPECT_EQ(ScopeNames(kIngest | kAdmin), (std::vector<std::string>{"ingest", "admin"}));
}

}  // namespace
}  // namespace kansoku::meta
