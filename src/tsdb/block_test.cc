#include "tsdb/block.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tsdb/encoding.h"
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
// Rewrites a KSI2 index in the previous format (KSI1: inline label strings, absolute chunk
// references), as older versions wrote it.
std::string IndexToKsi1(const std::string& v2) {
  const size_t footer = v2.size() - 32;
  const uint64_t symbols_off = enc::GetU64(v2.data() + footer);
  const uint64_t series_off = enc::GetU64(v2.data() + footer + 8);
  const uint64_t postings_off = enc::GetU64(v2.data() + footer + 16);
  enc::Decoder sd(std::string_view(v2).substr(symbols_off, series_off - symbols_off));
  std::vector<std::string_view> sym(sd.Uvarint());
  for (auto& x : sym) x = sd.String();
  std::string out = "KSI1";
  const uint64_t new_series_off = out.size();
  enc::Decoder d(std::string_view(v2).substr(series_off, postings_off - series_off));
  const uint64_t n = d.Uvarint();
  enc::PutUvarint(&out, n);
  int64_t mint = 0;
  uint64_t off = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t nl = d.Uvarint();
    enc::PutUvarint(&out, nl);
    for (uint64_t j = 0; j < 2 * nl; ++j) enc::PutString(&out, sym[d.Uvarint()]);
    const uint64_t nc = d.Uvarint();
    enc::PutUvarint(&out, nc);
    for (uint64_t j = 0; j < nc; ++j) {
      mint += d.Varint();
      const uint64_t span = d.Uvarint();
      off += d.Uvarint();
      enc::PutVarint(&out, mint);
      enc::PutUvarint(&out, span);
      enc::PutUvarint(&out, off);
    }
  }
  const uint64_t new_postings_off = out.size();
  enc::Decoder pd(std::string_view(v2).substr(postings_off, footer - postings_off));
  const uint64_t np = pd.Uvarint();
  enc::PutUvarint(&out, np);
  for (uint64_t i = 0; i < np; ++i) {
    enc::PutString(&out, sym[pd.Uvarint()]);
    enc::PutString(&out, sym[pd.Uvarint()]);
    const uint64_t cnt = pd.Uvarint();
    enc::PutUvarint(&out, cnt);
    for (uint64_t j = 0; j < cnt; ++j) enc::PutUvarint(&out, pd.Uvarint());
  }
  EXPECT_TRUE(d.ok() && d.done() && pd.ok() && pd.done());
  enc::PutU64(&out, new_series_off);
  enc::PutU64(&out, new_postings_off);
  enc::PutU32(&out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(out.data()),
                                                static_cast<uInt>(out.size()))));
  out.append("KSI1");
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BlockTest, ReadsKsi1IndexLikeKsi2) {
  TempDir dir;
  WriteTestBlock(dir.path(), "b-1");
  auto b2 = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  const std::string v2 = ReadFile(dir.path() + "/b-1/index");
  ASSERT_EQ(v2.substr(0, 4), "KSI2");
  const std::string v1 = IndexToKsi1(v2);
  EXPECT_GT(v1.size(), v2.size());
  std::ofstream(dir.path() + "/b-1/index", std::ios::binary | std::ios::trunc) << v1;
  auto b1 = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  EXPECT_EQ((*b1)->LabelNames(), (*b2)->LabelNames());
  EXPECT_EQ((*b1)->LabelValues("instance"), (*b2)->LabelValues("instance"));
  auto got1 = (*b1)->Select({Re("instance", "i0[2-7]")}, 0, 300000);
  auto got2 = (*b2)->Select({Re("instance", "i0[2-7]")}, 0, 300000);
  ASSERT_TRUE(got1.ok() && got2.ok());
  ASSERT_EQ(got1->size(), 6u);
  ASSERT_EQ(got1->size(), got2->size());
  for (size_t i = 0; i < got1->size(); ++i) {
    EXPECT_EQ((*got1)[i].labels, (*got2)[i].labels);
    Status st1, st2;
    const auto s1 = Read((*got1)[i], 0, 300000, &st1);
    const auto s2 = Read((*got2)[i], 0, 300000, &st2);
    EXPECT_TRUE(st1.ok() && st2.ok());
    ASSERT_EQ(s1.size(), 300u);
    ASSERT_EQ(s1.size(), s2.size());
    for (size_t j = 0; j < s1.size(); ++j) {
      EXPECT_EQ(s1[j].t, s2[j].t);
      EXPECT_EQ(s1[j].v, s2[j].v);
    }
  }
  // A symbol reference out of range is Corruption, not a crash.
  std::string bad = v2;
  const size_t series_off = enc::GetU64(bad.data() + bad.size() - 24);
  bad[series_off + 2] = static_cast<char>(0x7f);  // series 0, label 0 name -> symbol 127
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bad.data()), static_cast<uInt>(bad.size() - 8)));
  for (int i = 0; i < 4; ++i) bad[bad.size() - 8 + i] = static_cast<char>(crc >> (8 * i));
  EXPECT_EQ(Block::CheckIndexBytes(bad).code(), Status::Code::kCorruption);
}

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
  for (int round = 0; round < 2; ++round) {
    // Selected again: the second round's chunks were verified once (their CRC is not read
    // again), except the damaged one, which must fail again.
    auto got = (*b)->Select({Re("instance", ".+")}, 0, 300000);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 10u);
    int bad = 0;
    for (const auto& d : *got) {
      Status st;
      const auto samples = Read(d, 0, 300000, &st);
      std::vector<Sample> bulk;
      MergedSeriesIterator it(d.chunks, 0, 300000);
      const Status bst = it.ReadRange(0, 300000, &bulk, nullptr);
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

TEST(BlockTest, SequentialReadAndReleasedPagesReadBackTheSame) {
  TempDir dir;
  WriteTestBlock(dir.path(), "b-1");
  auto b = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ((*b)->NumSeries(), 10u);  // the empty series was skipped
  for (size_t id = 0; id < (*b)->NumSeries(); ++id) {
    const std::string inst = "i0" + std::to_string(id);
    EXPECT_EQ((*b)->LabelsOf(id), (Labels{{"__name__", "m"}, {"instance", inst}}));
    for (int pass = 0; pass < 2; ++pass) {
      SeriesData d;
      ASSERT_TRUE((*b)->AppendChunks(id, 100000, 150000, &d.chunks).ok());
      Status st;
      auto samples = Read(d, 100000, 150000, &st);
      ASSERT_TRUE(st.ok()) << st.ToString();
      ASSERT_EQ(samples.size(), 51u);
      EXPECT_EQ(samples.front().v, id * 1000.0 + 100);
      (*b)->ReleaseMappedPages();  // the next pass faults the pages in again
    }
  }
}

// A chunk of n samples of a 15 s counter from t0 (encoded the smaller way, as blocks do).
ChunkRef CounterChunk(int64_t t0, int n) {
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) s.push_back({t0 + i * 15000, (t0 + i * 15000) / 1000.0});
  std::string bytes;
  const ChunkEncoding e = EncodeChunk(s.data(), s.size(), &bytes);
  ChunkRef c = MakeOwnedChunk(std::move(bytes), s.front().t, s.back().t);
  c.encoding = e;
  return c;
}

TEST(BlockTest, CanCopyChunksOnlyWhenCopyingCutsNoMoreChunksThanReencoding) {
  constexpr int64_t kH = 2 * 3600000;  // 480 samples of 15 s
  struct Case {
    const char* name;
    std::vector<ChunkRef> chunks;  // sorted by mint
    int64_t mint, maxt;
    bool copy;
  };
  ChunkRef bad_encoding = CounterChunk(0, 480);
  bad_encoding.encoding = ChunkEncoding::kRollupMax;
  ChunkRef empty = CounterChunk(0, 1);
  empty.data = empty.data.substr(0, 1);  // no full sample count
  const std::vector<Case> cases = {
      {"adjacent_full",
       {CounterChunk(0, 480), CounterChunk(kH, 480), CounterChunk(2 * kH, 480)},
       0,
       3 * kH - 1,
       true},
      {"partial_first", {CounterChunk(kH / 2, 240), CounterChunk(kH, 480)}, 0, 2 * kH - 1, true},
      {"partial_last", {CounterChunk(0, 480), CounterChunk(kH, 100)}, 0, 2 * kH - 1, true},
      // 3 x 100 samples are one chunk when re-encoded.
      {"short_chunks",
       {CounterChunk(0, 100), CounterChunk(kH, 100), CounterChunk(2 * kH, 100)},
       0,
       3 * kH - 1,
       false},
      {"overlapping", {CounterChunk(0, 480), CounterChunk(kH - 15000, 480)}, 0, 3 * kH - 1, false},
      {"same_timestamp",
       {CounterChunk(0, 480), CounterChunk(480 * 15000 - 15000, 2)},
       0,
       3 * kH - 1,
       false},
      {"before_range", {CounterChunk(0, 480)}, 15000, kH, false},
      {"after_range", {CounterChunk(0, 480)}, 0, kH - 30000, false},
      {"rollup_encoding", {bad_encoding}, 0, kH, false},
      {"no_count", {empty}, 0, kH, false},
      {"none", {}, 0, kH, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(BlockWriter::CanCopyChunks(c.chunks, c.mint, c.maxt), c.copy) << c.name;
  }
}

// Three adjacent source blocks (the first partial, one series short of samples in each): a
// compaction-style rewrite copies the chunks that may be copied, re-encodes the short series,
// and the result (rollups included) reads back exactly as the re-encoded block, about as large.
TEST(BlockTest, AddSeriesChunksCopiesAdjacentChunksAsTheyAre) {
  constexpr int64_t kH = 2 * 3600000;
  TempDir dir;
  std::vector<std::shared_ptr<Block>> sources;
  for (int b = 0; b < 3; ++b) {
    const std::string name = "src-" + std::to_string(b);
    auto w = BlockWriter::Create(dir.path(), name, /*rollups=*/false);
    ASSERT_TRUE(w.ok());
    for (int s = 0; s < 4; ++s) {
      std::vector<Sample> samples;
      const int64_t from = b == 0 ? kH / 2 : b * kH;  // the first block is half full
      const int64_t step = s == 3 ? 60000 : 15000;    // series 3: 120 samples per 2 h
      for (int64_t t = from; t < (b + 1) * kH; t += step) {
        samples.push_back({t, s == 1 ? 0.5 * static_cast<double>(t % 7) : t / 1000.0 + s});
      }
      VecIterator it(samples);
      ASSERT_TRUE((*w)->AddSeries(Labels{{"__name__", "m"}, {"i", std::to_string(s)}}, it).ok());
    }
    ASSERT_TRUE((*w)->Finish(b * kH, (b + 1) * kH, 1).ok());
    auto opened = Block::Open(dir.path() + "/" + name);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    sources.push_back(*opened);
  }
  auto rewrite = [&](const std::string& name, bool copy, uint64_t* copied) {
    auto w = BlockWriter::Create(dir.path(), name, /*rollups=*/true);
    ASSERT_TRUE(w.ok());
    for (size_t id = 0; id < 4; ++id) {
      std::vector<ChunkRef> chunks;
      for (const auto& b : sources) ASSERT_TRUE(b->AppendChunks(id, 0, 3 * kH, &chunks).ok());
      const Labels labels = sources[0]->LabelsOf(id);
      if (copy) {
        ASSERT_TRUE((*w)->AddSeriesChunks(labels, std::move(chunks), 0, 3 * kH - 1).ok());
      } else {
        MergedSeriesIterator it(std::move(chunks), 0, 3 * kH - 1);
        ASSERT_TRUE((*w)->AddSeries(labels, it).ok());
      }
    }
    *copied = (*w)->copied_chunks();
    ASSERT_TRUE((*w)->Finish(0, 3 * kH, 2).ok());
  };
  uint64_t copied = 0, reencoded_copied = 0;
  rewrite("copied", true, &copied);
  rewrite("reencoded", false, &reencoded_copied);
  EXPECT_EQ(copied, 9u);  // series 0-2: 240 + 480 + 480 samples, three chunks each
  EXPECT_EQ(reencoded_copied, 0u);
  auto a = Block::Open(dir.path() + "/copied");
  auto b = Block::Open(dir.path() + "/reencoded");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->meta().num_samples, (*b)->meta().num_samples);
  EXPECT_EQ((*a)->meta().num_samples, 3u * 1200 + 300);
  EXPECT_EQ((*a)->meta().num_chunks, (*b)->meta().num_chunks);
  // Not byte-equal: series 0-2 keep their chunks as 240 + 480 + 480 samples where re-encoding
  // cuts 480 + 480 + 240.
  EXPECT_LE((*a)->SizeBytes(), (*b)->SizeBytes() * 101 / 100);
  for (const auto& rollup :
       {std::optional<RollupChoice>{}, std::optional<RollupChoice>{RollupChoice{300000, {}}}}) {
    auto ga = (*a)->Select({Re("i", ".+")}, 0, 3 * kH, rollup);
    auto gb = (*b)->Select({Re("i", ".+")}, 0, 3 * kH, rollup);
    ASSERT_TRUE(ga.ok() && gb.ok());
    ASSERT_EQ(ga->size(), 4u);
    ASSERT_EQ(gb->size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      Status sa, sb;
      const auto ra = Read((*ga)[i], 0, 3 * kH, &sa);
      const auto rb = Read((*gb)[i], 0, 3 * kH, &sb);
      ASSERT_TRUE(sa.ok() && sb.ok()) << sa.ToString() << sb.ToString();
      ASSERT_EQ(ra.size(), rb.size());
      ASSERT_FALSE(ra.empty());
      for (size_t k = 0; k < ra.size(); ++k) {
        ASSERT_EQ(ra[k].t, rb[k].t);
        ASSERT_EQ(ra[k].v, rb[k].v);
      }
    }
  }
}

// A copied chunk whose bytes no longer match their CRC is Corruption, not written on under a
// fresh CRC.
TEST(BlockTest, AddSeriesChunksRefusesADamagedChunk) {
  TempDir dir;
  WriteTestBlock(dir.path(), "b-1");
  const std::string cpath = dir.path() + "/b-1/chunks";
  {
    std::fstream f(cpath, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    char c = 0;
    f.get(c);
    f.seekp(40);
    f.put(static_cast<char>(c ^ 0x5a));  // inside the first series' chunk
  }
  auto b = Block::Open(dir.path() + "/b-1");
  ASSERT_TRUE(b.ok());
  auto w = BlockWriter::Create(dir.path(), "out", false);
  ASSERT_TRUE(w.ok());
  std::vector<ChunkRef> chunks;
  ASSERT_TRUE((*b)->AppendChunks(0, 0, 300000, &chunks).ok());
  ASSERT_TRUE(BlockWriter::CanCopyChunks(chunks, 0, 299999));
  const Status st = (*w)->AddSeriesChunks((*b)->LabelsOf(0), std::move(chunks), 0, 299999);
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
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
