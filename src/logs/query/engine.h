#pragma once
// Executes parsed log queries against a logs::Store (language: docs/logs-query.md).
//
//   Execute   rows newest first (or as `| sort` says), paged with an opaque cursor; or the table
//             of a `| stats` pipe
//   Hits      counts of matching rows per time bucket (the hits-over-time histogram)
//   Context   rows of one stream just before and after a time (context lines around a hit)
//   Tail      rows appended after a sequence number that match (live tail)
//
// The engine reads only through Store::Scan: it derives the scan's time range, stream filter
// (label conditions of the top-level conjunction) and bloom token clauses from the query, then
// evaluates the full filter on every row the scan yields.
// Errors: InvalidArgument for bad cursors or options; ResourceExhausted when a `| sort` or a
// `| stats` would hold more than max_rows rows / groups; errors of the store pass through.
// Thread safety: pure functions over a thread-safe Store.
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "logs/query/ast.h"
#include "logs/store.h"

namespace kansoku::logs::query {

struct ExecOptions {
  int64_t now_ns = 0;            // evaluates _time:5m; required
  int64_t start_ns = INT64_MIN;  // API time range, intersected with the query's _time
  int64_t end_ns = INT64_MAX;
  size_t limit = 100;         // rows per page (a `| limit` in the query lowers it)
  std::string cursor;         // from a previous page's next_cursor
  size_t max_rows = 1000000;  // rows held for `| sort`, groups for `| stats`
};

struct OutRow {
  int64_t ts_ns = 0;
  uint8_t flags = 0;
  std::vector<KV> labels;
  std::string msg;
  std::vector<KV> fields;
};

struct ExecResult {
  bool is_table = false;             // a `| stats` query: columns + table
  std::vector<std::string> columns;  // table columns
  std::vector<std::vector<std::string>> table;
  std::vector<OutRow> rows;            // row queries
  std::vector<std::string> projected;  // `| fields` list (empty = all)
  std::string next_cursor;             // "" when there is no further page
  uint64_t rows_examined = 0;
};

Result<ExecResult> Execute(const Store& store, const Query& q, const ExecOptions& o);

// Bytes every match of the RE2 pattern must contain (its longest certain literal run), or "".
// A regex filter of the top-level conjunction passes it to the store's memmem candidate search.
std::string RegexRequiredLiteral(std::string_view re);

struct HitsBucket {
  int64_t ts_ns;  // bucket start
  uint64_t count;
};
// Counts matching rows in [start, end) per step (pipes are ignored). At most 10,000 buckets.
Result<std::vector<HitsBucket>> Hits(const Store& store, const Query& q, int64_t now_ns,
                                     int64_t start_ns, int64_t end_ns, int64_t step_ns);

// Up to `before` rows of the stream with these labels at or before ts (excluding the hit
// itself when it is at ts with the same message), the hit, and `after` rows after it, oldest
// first.
Result<std::vector<OutRow>> Context(const Store& store, const std::vector<KV>& labels,
                                    int64_t ts_ns, size_t before, size_t after);

// Matching rows with seq > after_seq, oldest first, at most `limit`; *last_seq is the seq to
// pass next time.
Result<std::vector<OutRow>> Tail(const Store& store, const Query& q, int64_t now_ns,
                                 uint64_t after_seq, size_t limit, uint64_t* last_seq);

// True when the row matches the filter (exposed for tests).
bool Matches(const Filter& f, const RowView& row);

}  // namespace kansoku::logs::query
