// The fuzz entries (fuzz_entry.h) on valid files and on every truncation / byte flip of them:
// ctest (and CI's ASan run) catches a decoder that crashes or reads out of bounds on damaged
// bytes even without a fuzzing run. With KANSOKU_TSDB_FUZZ_SEEDS=<dir> set, the valid inputs
// are also written there as seed files (fuzz/seeds/tsdb_*).
#include "tsdb/fuzz_entry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tsdb/block.h"
#include "tsdb/chunk.h"
#include "tsdb/test_util.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {
namespace {

using testing::TempDir;

void MaybeWriteSeed(const std::string& target, const std::string& name, const std::string& in) {
  const char* dir = std::getenv("KANSOKU_TSDB_FUZZ_SEEDS");
  if (dir == nullptr) return;
  const std::string d = std::string(dir) + "/" + target;
  std::filesystem::create_directories(d);
  std::ofstream(d + "/" + name, std::ios::binary) << in;
}

// Runs fn on the input, every prefix of it and every single-byte flip (bounded count).
void Torture(int (*fn)(const uint8_t*, size_t), const std::string& in) {
  auto run = [&](const std::string& s) {
    fn(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  run(in);
  for (size_t n = 0; n < in.size(); ++n) run(in.substr(0, n));
  const size_t step = in.size() > 2000 ? in.size() / 2000 : 1;
  for (size_t i = 1; i < in.size(); i += step) {
    std::string m = in;
    m[i] = static_cast<char>(m[i] ^ 0x5a);
    run(m);
    m[i] = static_cast<char>(0xff);
    run(m);
  }
}

std::vector<Sample> Samples(int n, bool decimal) {
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) {
    const double v = decimal ? 1234.5 + i * 0.25 + (i % 7) : std::sin(i * 0.1);
    s.push_back({1700000000000 + i * 15000 + (i % 3), v});
  }
  return s;
}

TEST(FuzzEntryTest, ChunksValidAndDamaged) {
  for (bool decimal : {true, false}) {
    const auto s = Samples(200, decimal);
    std::string bytes;
    const ChunkEncoding e = EncodeChunk(s.data(), s.size(), &bytes);
    EXPECT_EQ(e, decimal ? ChunkEncoding::kPacked : ChunkEncoding::kXor);
    const std::string in = std::string(1, e == ChunkEncoding::kPacked ? '\1' : '\0') + bytes;
    MaybeWriteSeed("tsdb_chunk", decimal ? "packed" : "xor", in);
    Torture(FuzzChunk, in);
  }
}

TEST(FuzzEntryTest, PackedDecodeReportsDamage) {
  const auto s = Samples(100, true);
  std::string bytes;
  ASSERT_TRUE(EncodePackedChunk(s.data(), s.size(), &bytes));
  std::vector<Sample> out;
  ASSERT_TRUE(DecodePackedChunk(bytes, &out).ok());
  ASSERT_EQ(out.size(), s.size());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<Sample> o;
    const Status st = DecodePackedChunk(bytes.substr(0, n), &o);
    // A prefix may end inside the zero padding of the bit stream; anything else is refused.
    if (!st.ok()) {
      EXPECT_EQ(st.code(), Status::Code::kCorruption) << n;
      EXPECT_TRUE(o.empty());
    }
  }
  EXPECT_FALSE(DecodePackedChunk(bytes.substr(0, 5), &out).ok());
}

TEST(FuzzEntryTest, WalRecordsValidAndDamaged) {
  std::string file;
  AppendWalRecord(&file, WalRecordType::kSeries,
                  EncodeWalSeries({{1, Labels{{"__name__", "up"}, {"job", "a"}}},
                                   {2, Labels{{"__name__", "up"}, {"job", "b"}}}}));
  AppendWalRecord(&file, WalRecordType::kSamples,
                  EncodeWalSamples({{1, 1000, 1.0}, {2, 1000, 0.5}, {1, 2000, NAN}}));
  const auto s = Samples(50, true);
  std::string bytes, payload;
  const ChunkEncoding e = EncodeChunk(s.data(), s.size(), &bytes);
  AppendWalChunk(&payload, WalChunk{2, e, bytes});
  AppendWalRecord(&file, WalRecordType::kChunks, payload);
  MetricMetadata md;
  md.help = "help";
  md.unit = "seconds";
  AppendWalRecord(&file, WalRecordType::kMetadata, EncodeWalMetadata({{"up", md}}));
  // Mode 0: framing as written (valid CRCs); damage breaks CRCs, mode 1 repairs them.
  for (char mode : {'\0', '\1'}) {
    const std::string in = std::string(1, mode) + file;
    MaybeWriteSeed("tsdb_wal", mode == 0 ? "records" : "records-crcfix", in);
    Torture(FuzzWalRecords, in);
  }
  // Mode 2: one bare chunks payload.
  const std::string bare = std::string("\2\3") + payload;
  MaybeWriteSeed("tsdb_wal", "chunks-payload", bare);
  Torture(FuzzWalRecords, bare);
  size_t end = 0;
  std::string problem;
  int records = 0;
  ASSERT_TRUE(ScanWalRecords(
                  file,
                  [&](WalRecordType, std::string_view) {
                    ++records;
                    return Status::Ok();
                  },
                  &end, &problem)
                  .ok());
  EXPECT_EQ(records, 4);
  EXPECT_EQ(end, file.size());
  EXPECT_EQ(problem, "");
  ASSERT_TRUE(ScanWalRecords(
                  file.substr(0, file.size() - 3),
                  [](WalRecordType, std::string_view) { return Status::Ok(); }, &end, &problem)
                  .ok());
  EXPECT_LT(end, file.size());
  EXPECT_NE(problem, "");
}

TEST(FuzzEntryTest, BlockFilesValidAndDamaged) {
  TempDir dir;
  // A decimal counter ending in a stale marker, a non-decimal gauge (the rollups' float mode),
  // and one with jittered times and a NaN.
  std::vector<std::vector<Sample>> series(3);
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 400; ++i) {
      const int64_t t = i * 15000 + (k == 2 ? (i * 7919) % 300 : 0);
      double v = k == 1 ? i / 3.0 : k * 10.0 + i;
      if (k == 0 && i == 399) v = StaleNaN();
      if (k == 2 && i == 100) v = std::numeric_limits<double>::quiet_NaN();
      series[k].push_back({t, v});
    }
  }
  {
    auto w = BlockWriter::Create(dir.path(), "b-1");
    ASSERT_TRUE(w.ok());
    for (int k = 0; k < 3; ++k) {
      const std::vector<Sample> smp = series[k];
      class Vec : public SeriesIterator {
       public:
        explicit Vec(std::vector<Sample> s) : s_(std::move(s)) {}
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
      } it(smp);
      ASSERT_TRUE((*w)->AddSeries(Labels{{"__name__", "m"}, {"i", std::to_string(k)}}, it).ok());
    }
    ASSERT_TRUE((*w)->Finish(0, 7200000, 1).ok());
  }
  auto read = [&](const std::string& f) {
    std::ifstream in(dir.path() + "/b-1/" + f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string index = read("index");
  ASSERT_TRUE(Block::CheckIndexBytes(index).ok());
  for (char mode : {'\0', '\1'}) {
    const std::string in = std::string(1, mode) + index;
    MaybeWriteSeed("tsdb_block", mode == 0 ? "index" : "index-crcfix", in);
    Torture(FuzzBlockFiles, in);
  }
  const std::string rollup = read("rollup-300000");
  ASSERT_FALSE(rollup.empty());
  // Mode: bit 1 = rollup, bits 2.. = the series count (3).
  const std::string rin = std::string(1, static_cast<char>(2 | 1 | (3 << 2))) + rollup;
  MaybeWriteSeed("tsdb_block", "rollup", rin);
  Torture(FuzzBlockFiles, rin);
  // The previous format (KSR2), as older versions wrote it.
  std::vector<std::vector<RollupWindow>> windows;
  for (const auto& smp : series) {
    RollupBuilder b(300000);
    for (const auto& x : smp) b.Add(x.t, x.v);
    windows.push_back(b.Finish());
  }
  const std::string rin2 =
      std::string(1, static_cast<char>(2 | 1 | (3 << 2))) + EncodeRollupFileV2(300000, windows);
  MaybeWriteSeed("tsdb_block", "rollup-v2", rin2);
  Torture(FuzzBlockFiles, rin2);
  // A series without windows (empty record) between two with windows (found by the fuzzer: the
  // round-trip check must skip it).
  const std::string rin3 = std::string(1, static_cast<char>(2 | 1 | (3 << 2))) +
                           EncodeRollupFile(300000, {EncodeRollupSeries(windows[0]), "",
                                                     EncodeRollupSeries(windows[2])});
  EXPECT_EQ(FuzzBlockFiles(reinterpret_cast<const uint8_t*>(rin3.data()), rin3.size()), 0);
  // A damaged span that would overflow int64 and unsorted labels are refused.
  EXPECT_FALSE(Block::CheckIndexBytes(index.substr(0, index.size() - 1)).ok());
}

}  // namespace
}  // namespace kansoku::tsdb
