#pragma once
// PromQL parser: query text -> type-checked AST (see ast.h).
//
// What: ParseExpr accepts the Prometheus 3.x grammar (float samples): selectors with the four
// matchers, offset and @ (incl. start()/end()), range vectors, subqueries, all binary operators
// with Prometheus precedence (right-associative ^) and vector matching, aggregations with
// by/without, function calls; numbers (decimal, hex, Inf, NaN), durations, strings with Go escapes.
// Errors: an InvalidArgument Status whose message reads like Prometheus',
// "1:5: parse error: unexpected end of input" (line:column, 1-based), including type errors
// ("expected type range vector in call to function \"rate\", got instant vector") and
// regexes that do not compile. Never aborts on any input.
// Thread safety: stateless; call from any thread.
#include <string_view>

#include "base/status.h"
#include "query/parser/ast.h"
#include "query/parser/fuzz_entry.h"  // FuzzPromQLParser (fuzz/promql_fuzz.cc includes this header)

namespace kansoku::query {

Result<ExprPtr> ParseExpr(std::string_view input);

// Parses a label matcher set as used by the series/labels APIs ("up{job="x"}" or "{a=~"b"}").
Result<std::vector<tsdb::Matcher>> ParseMetricSelector(std::string_view input);

}  // namespace kansoku::query
