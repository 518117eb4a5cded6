#pragma once
// Runner for Prometheus' PromQL test scripts (*.test, see
// ../shared/conformance/promql/FORMAT.md): load/clear/eval commands with expected results.
//
// Storage-agnostic: the runner writes through tsdb::Appendable and reads through the engine
// over tsdb::Queryable, both obtained from a StorageFactory (a fresh store per file and per
// `clear`). Thread safety: one runner per thread.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "query/engine/engine.h"
#include "tsdb/storage.h"

namespace kansoku::query::conformance {

// A store the script can write to and the engine can read from.
class TestStorage {
 public:
  virtual ~TestStorage() = default;
  virtual tsdb::Queryable& queryable() = 0;
  virtual tsdb::Appendable& appendable() = 0;
};
using StorageFactory = std::function<std::unique_ptr<TestStorage>()>;

enum class Outcome : unsigned char { kPass, kFail, kSkip };

struct EvalResult {
  int line = 0;  // 1-based line of the eval command
  std::string query;
  Outcome outcome = Outcome::kPass;
  std::string message;  // why it failed or was skipped
};

struct ScriptResult {
  std::string error;  // non-empty if the script itself could not be parsed
  std::vector<EvalResult> evals;
  int Count(Outcome o) const;
};

// Runs a script's text. Native histograms are out of scope (the engine is float-only): {{...}}
// series are not loaded, and evals with {{...}} expectations or whose selectors match series
// loaded as native histograms (including load_with_nhcb conversions) are skipped. Each instant
// eval is also run as a range query ending at the same time and must agree.
ScriptResult RunScript(const std::string& text, const StorageFactory& factory,
                       const Engine& engine);

}  // namespace kansoku::query::conformance
