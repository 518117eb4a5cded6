// kansoku_block_rewrite: writes every block of a tsdb directory again with this build's
// BlockWriter (as compaction writes a block: same series, same samples, rollup files when the
// source block had them), and prints each new block's file sizes and the CPU time the writing
// took. Run the same source built at two commits on the same data for an A/B of the on-disk
// format and of the write time (bench/tsdb, issue 3).
//
// Usage: kansoku_block_rewrite SRC_TSDB_DIR OUT_DIR   (OUT_DIR is created; blocks keep names)
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tsdb/block.h"
#include "tsdb/series_iter.h"

namespace fs = std::filesystem;
using namespace kansoku::tsdb;  // NOLINT: a small tool

namespace {

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.file_size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SRC_TSDB_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string src = argv[1], out = argv[2];
  fs::create_directories(out);
  std::vector<std::string> blocks;
  for (const auto& e : fs::directory_iterator(src)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("b-", 0) == 0 && n.find(".tmp") == std::string::npos)
      blocks.push_back(n);
  }
  std::sort(blocks.begin(), blocks.end());
  double total_cpu = 0;
  uint64_t total_bytes = 0, total_samples = 0;
  for (const auto& name : blocks) {
    auto b = Block::Open(src + "/" + name);
    if (!b.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), b.status().ToString().c_str());
      return 1;
    }
    const BlockMeta m = (*b)->meta();
    const bool rollups = fs::exists(src + "/" + name + "/rollup-300000");
    auto series = (*b)->Select({}, m.mint, m.maxt);
    if (!series.ok()) return 1;
    const double t0 = CpuSeconds();
    auto w = BlockWriter::Create(out, name, rollups);
    if (!w.ok()) return 1;
    for (auto& s : *series) {
      MergedSeriesIterator it(s.chunks, m.mint, m.maxt);
      const auto st = (*w)->AddSeries(s.labels, it);
      if (!st.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), st.ToString().c_str());
        return 1;
      }
    }
    auto meta = (*w)->Finish(m.mint, m.maxt, m.level);
    if (!meta.ok()) return 1;
    const double cpu = CpuSeconds() - t0;
    const uint64_t bytes = DirBytes(out + "/" + name);
    std::printf("%s level %d samples %llu: %llu B (", name.c_str(), m.level,
                static_cast<unsigned long long>(meta->num_samples),
                static_cast<unsigned long long>(bytes));
    for (const auto& e : fs::directory_iterator(out + "/" + name)) {
      std::printf(" %s=%llu", e.path().filename().c_str(),
                  static_cast<unsigned long long>(e.file_size()));
    }
    std::printf(" ), %.2f cpu s (read + write)\n", cpu);
    total_cpu += cpu;
    total_bytes += bytes;
    total_samples += meta->num_samples;
  }
  std::printf("total: %llu B for %llu samples (%.3f B/sample), %.2f cpu s\n",
              static_cast<unsigned long long>(total_bytes),
              static_cast<unsigned long long>(total_samples),
              static_cast<double>(total_bytes) / static_cast<double>(total_samples), total_cpu);
  return 0;
}
