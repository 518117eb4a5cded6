#include "tsdb/block.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tsdb/test_util.h"

namespace kansoku::tsdb {
namespace {

using testing::TempDir;

class VecIterator : public SeriesIterator {
 public:
  explicit VecIterator(std::vector<Sample> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < s_.size(); }
  bool Seek(int64_t t) override {
    if (i_ == static_cast<size_t>(-1)) i_ = 0;
    while (i_ < s_.size() && s_[i_].t < t) ++i_;
    return i_ < s_.size();
  }
  Sample At() const override { return s_[i_]; }

 private:
  std::vector<Sample> s_;
  size_t i_ = static_cast<size_t>(-1);
};

Matcher Re(std::string n, std::string v) {
  return Matcher::Create(MatchType::kRegexMatch, std::move(n), std::move(v)).value();
}

std::vector<Sample> Read(const SeriesData& d, int64_t mint, int64_t maxt, Status* st = nullptr) {
  MergedSeriesIterator it(d.chunks, mint, maxt);
  std::vector<Sample> out;
  while (it.Next()) out.push_back(it.At());
  if (st != nullptr) *st = it.status();
  return out;
}

void WriteTestBlock(const std::string& dir, const std::string& name) {
  auto w = BlockWriter::Create(dir, name);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int s = 0; s < 10; ++s) {
    std::vector<Sample> samples;
    samples.reserve(300);
    for (int i = 0; i < 300; ++i) samples.push_back({i * 1000, s * 1000.0 + i});
    VecIterator it(samples);
    char inst[8];
    std::snprintf(inst, sizeof inst, "i%02d", s);
    ASSERT_TRUE((*w)->AddSeries(Labels{{"__name__", "m"}, {"instance", inst}}, it).ok());
  }
  VecIterator empty({});
  ASSERT_TRUE((*w)->AddSeries(Labels{{"__name__", "z"}}, empty).ok());  // skipped
  auto meta = (*w)->Finish(0, 300000, 1);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->num_series, 10u);
  EXPECT_EQ(meta->num_samples, 3000u);
  // 300 samples per series fit one chunk of BlockWriter::kSamplesPerChunk (480).
  EXPECT_EQ(meta->num_chunks, 10u);
}

// A damaged chunk fails its CRC on every read (only chunks that matched are remembered as
// verified); the other chunks read fine, also the second time (verified once, then skipped).
TEST(BlockTest, ChunkCrcCheckedOnEveryReadUntilItMatches) {
  TempDir dir;
  WriteTestBlock(dir.path(), "b-1");
  const std::string cpath = dir.path() + "/b-1/chunks";
  {
    std::fstream f(cpath, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(f.tellg());
    f.seekg(size / 2);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(size / 2);
    f.write(&c, 1);
  }
  auto b = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto got = (*b)->Select({Re("instance", ".+")}, 0, 300000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 10u);
  for (int round = 0; round < 2; ++round) {
    int bad = 0;
    for (const auto& d : *got) {
      Status st;
      const auto samples = Read(d, 0, 300000, &st);
      std::vector<Sample> bulk;
      MergedSeriesIterator it(d.chunks, 0, 300000);
      const Status bst = it.ReadRange(0, 300000, &bulk);
      EXPECT_EQ(st.ok(), bst.ok());
      if (!st.ok()) {
        ++bad;
        EXPECT_EQ(st.code(), Status::Code::kCorruption);
        EXPECT_EQ(bst.code(), Status::Code::kCorruption);
      } else {
        EXPECT_EQ(samples.size(), 300u);
        EXPECT_EQ(bulk.size(), 300u);
      }
    }
    EXPECT_EQ(bad, 1) << "round " << round;
  }
}

TEST(BlockTest, WriteOpenSelect) {
  TempDir dir;
  WriteTestBlock(dir.path(), "b-1");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/b-1.tmp"));
  auto b = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->meta().maxt, 300000);
  auto got = (*b)->Select({Re("instance", "i0[3-5]")}, 100000, 150000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].labels.Get("instance"), "i03");
  auto samples = Read((*got)[1], 100000, 150000);
  ASSERT_EQ(samples.size(), 51u);
  EXPECT_EQ(samples.front().v, 4100.0);
  EXPECT_EQ((*b)->LabelValues("instance").size(), 10u);
  EXPECT_EQ((*b)->LabelNames(), (std::vector<std::string>{"__name__", "instance"}));
}

TEST(BlockTest, CorruptionIsDetected) {
  struct Case {
    const char* name;
    const char* file;
    long offset;  // from the start; negative: from the end
  };
  const std::vector<Case> cases = {
      {"index_body", "index", 10}, {"index_footer", "index", -6}, {"chunk_data", "chunks", 40}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    WriteTestBlock(dir.path(), "b-1");
    const std::string path = dir.path() + "/b-1/" + c.file;
    const auto size = static_cast<long>(std::filesystem::file_size(path));
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const long off = c.offset >= 0 ? c.offset : size + c.offset;
    f.seekg(off);
    char ch;
    f.get(ch);
    f.seekp(off);
    f.put(static_cast<char>(ch ^ 0x5a));
    f.close();
    auto b = Block::Open(dir.path() + "/b-1");
    if (std::string(c.file) == "index") {
      EXPECT_FALSE(b.ok());
      EXPECT_EQ(b.status().code(), Status::Code::kCorruption);
      continue;
    }
    ASSERT_TRUE(b.ok());
    auto got = (*b)->Select({Re("instance", ".+")}, 0, 300000);
    ASSERT_TRUE(got.ok());
    Status st;
    Read((*got)[0], 0, 300000, &st);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  }
}

}  // namespace
}  // namespace kansoku::tsdb
