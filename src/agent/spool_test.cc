#include "agent/spool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace kansoku::agent {
namespace {

struct TempDir {
  TempDir() {
    char t[] = "/tmp/kansoku-spool-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(Spool, FifoAndSurvivesReopen) {
  TempDir d;
  {
    auto s = Spool::Open(d.path + "/spool", 1 << 20);
    ASSERT_TRUE(s.ok());
    uint64_t dropped = 0;
    ASSERT_TRUE((*s)->PushBack("first", 10, &dropped).ok());
    ASSERT_TRUE((*s)->PushBack("second", 20, &dropped).ok());
    ASSERT_TRUE((*s)->PushFront("zeroth", 5, &dropped).ok());
    EXPECT_EQ(dropped, 0u);
    EXPECT_EQ((*s)->files(), 3u);
    EXPECT_EQ((*s)->samples(), 35u);
  }
  // A crash in the middle of a write leaves a .tmp: it is removed, never read.
  std::ofstream(d.path + "/spool/00000000000000000001-3.rw.tmp") << "half";
  auto s = Spool::Open(d.path + "/spool", 1 << 20);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->files(), 3u);
  std::string body;
  uint32_t samples = 0;
  uint64_t seq = 0;
  for (const char* want : {"zeroth", "first", "second"}) {
    auto r = (*s)->Front(&body, &samples, &seq);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(*r);
    EXPECT_EQ(body, want);
    (*s)->Remove(seq);
  }
  auto r = (*s)->Front(&body, &samples, &seq);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_FALSE(std::filesystem::exists(d.path + "/spool/00000000000000000001-3.rw.tmp"));
}

TEST(Spool, BoundEvictsOldestAndCountsSamples) {
  TempDir d;
  auto s = Spool::Open(d.path, 25);
  ASSERT_TRUE(s.ok());
  uint64_t dropped = 0;
  ASSERT_TRUE((*s)->PushBack("0123456789", 7, &dropped).ok());
  ASSERT_TRUE((*s)->PushBack("abcdefghij", 8, &dropped).ok());
  EXPECT_EQ(dropped, 0u);
  ASSERT_TRUE((*s)->PushBack("ABCDEFGHIJ", 9, &dropped).ok());
  EXPECT_EQ(dropped, 7u);  // the oldest went
  EXPECT_EQ((*s)->bytes(), 20);
  std::string body;
  uint32_t samples;
  uint64_t seq;
  ASSERT_TRUE(*(*s)->Front(&body, &samples, &seq));
  EXPECT_EQ(body, "abcdefghij");
  // Larger than the whole bound: refused and counted.
  EXPECT_FALSE((*s)->PushBack(std::string(26, 'x'), 4, &dropped).ok());
  EXPECT_EQ(dropped, 4u);
}

TEST(Spool, RemoveOfAnEvictedBatchIsHarmless) {
  TempDir d;
  auto s = Spool::Open(d.path, 15);
  ASSERT_TRUE(s.ok());
  uint64_t dropped;
  ASSERT_TRUE((*s)->PushBack("0123456789", 1, &dropped).ok());
  std::string body;
  uint32_t samples;
  uint64_t seq;
  ASSERT_TRUE(*(*s)->Front(&body, &samples, &seq));
  ASSERT_TRUE((*s)->PushBack("abcdefghij", 1, &dropped).ok());  // evicts the one in flight
  EXPECT_EQ(dropped, 1u);
  (*s)->Remove(seq);
  EXPECT_EQ((*s)->files(), 1u);
}

}  // namespace
}  // namespace kansoku::agent
