#pragma once
// Prometheus rule files: parsing and validation (docs/design/alerting.md §1).
//
// ParseRuleFile accepts exactly what Prometheus' rule-file format accepts (groups with name,
// interval, limit, query_offset, labels, rules; rules with record|alert, expr, for,
// keep_firing_for, labels, annotations) and rejects anything else, so a file kansoku accepts is
// also accepted by `promtool check rules` (bar the newer group keys). Every error names the
// file, line, column and rule: "rules/node.yml:12:11: group \"node\", rule 2 (\"Down\"): ...".
// kansoku-only rule options ride in `kansoku_*` annotations (RuleSpec::no_data, flapping).
//
// Thread safety: the results are plain values; an ExprPtr is shared read-only (the engine
// evaluates it concurrently from several threads, which it allows).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alert/alert.h"
#include "base/status.h"
#include "query/parser/ast.h"
#include "tsdb/labels.h"

namespace kansoku::alert {

enum class NoDataPolicy : unsigned char { kOk, kKeep, kAlert };
std::string_view NoDataPolicyName(NoDataPolicy p);

struct RuleSpec {
  bool alerting = false;  // alert: (true) or record: (false)
  std::string name;       // alertname or recorded metric name
  std::string expr;       // as written
  std::shared_ptr<const query::Expr> parsed;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  std::vector<std::pair<std::string, std::string>> labels;  // values may be templates
  Annotations annotations;  // without the kansoku_* control annotations
  NoDataPolicy no_data = NoDataPolicy::kOk;
  bool flapping = true;  // kansoku_flapping: off disables flap damping
  int line = 0;          // 1-based line of the rule in its file
};

struct RuleGroupSpec {
  std::string file;  // path as loaded (used in /api/v1/rules "file")
  std::string name;
  int64_t interval_ms = 0;  // 0 = the manager's default
  int64_t query_offset_ms = 0;
  int64_t limit = 0;
  std::vector<std::pair<std::string, std::string>> labels;  // group labels (added to each rule)
  std::vector<RuleSpec> rules;
  int line = 0;
};

struct RuleFile {
  std::string path;
  std::vector<RuleGroupSpec> groups;
};

// Parses YAML text; path is the name used in errors and in RuleGroupSpec::file.
Result<RuleFile> ParseRuleFile(std::string_view yaml_text, const std::string& path);
// Reads and parses a file (IOError names the path).
Result<RuleFile> LoadRuleFile(const std::string& path);
// Expands globs (sorted, de-duplicated). A pattern without wildcards must exist; one with
// wildcards may match nothing.
Result<std::vector<std::string>> ExpandRuleGlobs(const std::vector<std::string>& patterns);

}  // namespace kansoku::alert
