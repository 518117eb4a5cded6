#pragma once
// The parsed form of a log query (language: docs/logs-query.md). Built by ParseLogQuery,
// executed by logs::query::Execute. Immutable after parsing; safe to share between threads.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace kansoku::logs::query {

enum class FilterKind {
  kAll,      // *
  kAnd,      // a b, a and b
  kOr,       // a or b
  kNot,      // not a, -a, !a
  kPhrase,   // word, "a phrase", field:word: token-aligned substring match
  kPrefix,   // word*, field:word*
  kExact,    // field:="value" (whole value)
  kRegex,    // ~"re", field:~"re" (RE2, unanchored)
  kExists,   // field:* (present and non-empty)
  kEmpty,    // field:"" (absent or empty)
  kCompare,  // field:>N, >=, <, <= (numeric)
};

struct Filter {
  FilterKind kind = FilterKind::kAll;
  std::string field;  // "" or "_msg" = the message
  std::string value;
  std::shared_ptr<re2::RE2> re;
  std::string op;  // kCompare: ">", ">=", "<", "<="
  double number = 0;
  std::vector<std::shared_ptr<Filter>> kids;
};

struct StatFunc {
  std::string func;   // count, count_uniq, sum, min, max, avg
  std::string field;  // argument ("" for count())
  std::string name;   // result column: "as name" or e.g. "count()"
};

struct Pipe {
  enum Kind { kStats, kSort, kLimit, kFields, kOffset } kind;
  std::vector<std::string> by;                     // stats by (...)
  std::vector<StatFunc> funcs;                     // stats
  std::vector<std::pair<std::string, bool>> sort;  // (field, desc)
  int64_t n = 0;                                   // limit / offset
  std::vector<std::string> fields;                 // fields
};

struct Query {
  std::shared_ptr<Filter> filter;  // never null (kAll when empty)
  // _time filter in the query: relative (last `rel_ns`) or absolute [min_ts, max_ts].
  bool has_time = false;
  int64_t rel_ns = 0;
  int64_t min_ts = INT64_MIN;
  int64_t max_ts = INT64_MAX;
  std::vector<Pipe> pipes;
};

}  // namespace kansoku::logs::query
