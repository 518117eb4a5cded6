// PromQL conformance runner: runs every eval of Prometheus' test scripts
// (../shared/conformance/promql/*.test) and our own (tests/query/testdata/*.test) through the
// engine over the in-memory test storage, prints pass/fail/skip per file and fails on any
// regression: an eval that fails and is not listed in the known-failures baseline.
//
// Usage: promql_conformance [--dir D]... [--known-failures F] [--write-baseline]
//                           [--storage mem|tsdb] [-v]
// --storage tsdb runs the scripts against the embedded TSDB (a temporary directory per script
// and per `clear`) instead of the in-memory test storage; the baseline applies to mem.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "query/engine/engine.h"
#include "query/testing/mem_storage.h"
#include "tests/query/promql_script.h"
#include "tsdb/db.h"

namespace {

namespace fs = std::filesystem;
using kansoku::query::conformance::Outcome;

// Files of features Prometheus keeps behind feature flags, and native histograms: skipped.
const std::set<std::string> kSkippedFiles = {
    "duration_expression.test",
    "extended_vectors.test",
    "fill-modifier.test",
    "info.test",
    "limit.test",
    "start_timestamps.test",
    "type_and_unit.test",
    "native_histograms.test",
};

class MemTestStorage : public kansoku::query::conformance::TestStorage {
 public:
  kansoku::tsdb::Queryable& queryable() override { return db_; }
  kansoku::tsdb::Appendable& appendable() override { return db_; }

 private:
  kansoku::query::testing::MemStorage db_;
};

// The embedded TSDB in a fresh temporary directory (removed on destruction).
class TsdbTestStorage : public kansoku::query::conformance::TestStorage {
 public:
  static std::unique_ptr<TsdbTestStorage> Create() {
    static int counter = 0;
    fs::path dir = fs::temp_directory_path() / ("kansoku-promql-" + std::to_string(::getpid()) +
                                                "-" + std::to_string(counter++));
    fs::remove_all(dir);
    kansoku::tsdb::DBOptions o;
    o.background = false;
    o.retention_ms = 0;
    o.out_of_order_window_ms = INT64_MAX / 4;  // loads may add older samples to a series
    o.wal_fsync_interval_ms = 1'000'000;
    auto db = kansoku::tsdb::DB::Open(o, dir.string());
    if (!db.ok()) {
      std::cerr << "cannot open tsdb in " << dir << ": " << db.status().ToString() << "\n";
      std::exit(2);
    }
    auto s = std::unique_ptr<TsdbTestStorage>(new TsdbTestStorage());
    s->dir_ = dir;
    s->db_ = std::move(db).value();
    return s;
  }
  ~TsdbTestStorage() override {
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  kansoku::tsdb::Queryable& queryable() override { return *db_; }
  kansoku::tsdb::Appendable& appendable() override { return *db_; }

 private:
  TsdbTestStorage() = default;
  fs::path dir_;
  std::unique_ptr<kansoku::tsdb::DB> db_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> dirs;
  std::string known_path;
  bool write_baseline = false, verbose = false, use_tsdb = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dirs.push_back(argv[++i]);
    } else if (a == "--known-failures" && i + 1 < argc) {
      known_path = argv[++i];
    } else if (a == "--write-baseline") {
      write_baseline = true;
    } else if (a == "--storage" && i + 1 < argc) {
      std::string st = argv[++i];
      if (st != "mem" && st != "tsdb") {
        std::cerr << "--storage must be mem or tsdb\n";
        return 2;
      }
      use_tsdb = st == "tsdb";
    } else if (a == "-v") {
      verbose = true;
    } else {
      std::cerr << "unknown argument: " << a << "\n";
      return 2;
    }
  }
#ifdef KANSOKU_CONFORMANCE_DIR
  if (dirs.empty()) {
    dirs.push_back(KANSOKU_CONFORMANCE_DIR);
    dirs.push_back(KANSOKU_TESTDATA_DIR);
  }
#endif
#ifdef KANSOKU_KNOWN_FAILURES
  if (known_path.empty()) known_path = KANSOKU_KNOWN_FAILURES;
#endif
  std::set<std::string> known;
  if (!known_path.empty()) {
    std::ifstream in(known_path);
    std::string line;
    while (std::getline(in, line)) {
      auto hash = line.find('#');
      if (hash != std::string::npos) line = line.substr(0, hash);
      line.erase(std::remove_if(line.begin(), line.end(), ::isspace), line.end());
      if (!line.empty()) known.insert(line);
    }
  }
  kansoku::query::Engine engine;
  kansoku::query::conformance::StorageFactory factory =
      [use_tsdb]() -> std::unique_ptr<kansoku::query::conformance::TestStorage> {
    if (use_tsdb) return TsdbTestStorage::Create();
    return std::make_unique<MemTestStorage>();
  };
  int total_pass = 0, total_fail = 0, total_skip = 0;
  std::vector<std::string> regressions, fixed, failing;
  std::map<std::string, std::string> failing_msgs;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) {
      std::cerr << "conformance directory not found: " << dir << "\n";
      return 2;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".test") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      std::string name = path.filename().string();
      if (kSkippedFiles.count(name)) {
        std::printf("%-28s skipped (feature flag or native histograms)\n", name.c_str());
        continue;
      }
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      auto res = kansoku::query::conformance::RunScript(ss.str(), factory, engine);
      if (!res.error.empty()) {
        std::string id = name + ":0";
        failing.push_back(id);
        if (!known.count(id)) regressions.push_back(id + " script error: " + res.error);
        std::printf("%-28s SCRIPT ERROR: %s\n", name.c_str(), res.error.c_str());
      }
      int p = res.Count(Outcome::kPass), f = res.Count(Outcome::kFail),
          s = res.Count(Outcome::kSkip);
      total_pass += p;
      total_fail += f;
      total_skip += s;
      std::printf("%-28s pass=%-4d fail=%-4d skip=%-4d\n", name.c_str(), p, f, s);
      for (const auto& e : res.evals) {
        std::string id = name + ":" + std::to_string(e.line);
        if (e.outcome == Outcome::kFail) {
          failing.push_back(id);
          failing_msgs[id] = e.query + " -> " + e.message;
          if (!known.count(id)) regressions.push_back(id + ": " + e.query + " -> " + e.message);
          if (verbose)
            std::printf("  FAIL %s: %s -> %s\n", id.c_str(), e.query.c_str(), e.message.c_str());
        } else if (known.count(id)) {
          fixed.push_back(id);
        }
        if (e.outcome == Outcome::kSkip && verbose) {
          std::printf("  SKIP %s: %s (%s)\n", id.c_str(), e.query.c_str(), e.message.c_str());
        }
      }
    }
  }
  std::printf("TOTAL pass=%d fail=%d skip=%d (known failures listed: %zu)\n", total_pass,
              total_fail, total_skip, known.size());
  if (!fixed.empty()) {
    std::printf("\n%zu listed known failures now pass; remove them from %s:\n", fixed.size(),
                known_path.c_str());
    for (const auto& f : fixed) std::printf("  %s\n", f.c_str());
  }
  if (write_baseline && !known_path.empty()) {
    std::ofstream out(known_path);
    out << "# PromQL conformance evals that still fail (file:line). The runner fails on any "
           "failing\n"
           "# eval not listed here; fix evals and delete their lines (the list only shrinks).\n"
           "# Regenerate: promql_conformance --write-baseline\n";
    for (const auto& f : failing) out << f << "  # " << failing_msgs[f].substr(0, 150) << "\n";
    std::printf("wrote %zu entries to %s\n", failing.size(), known_path.c_str());
    return 0;
  }
  if (!regressions.empty()) {
    std::printf("\nREGRESSIONS (%zu failing evals not in the known-failures list):\n",
                regressions.size());
    for (const auto& r : regressions) std::printf("  %s\n", r.c_str());
    return 1;
  }
  return 0;
}
