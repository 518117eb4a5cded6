#pragma once
// Parser of the kansoku log query language (docs/logs-query.md):
//
//   error timeout service:checkout -level:debug "payment failed" trace_id:="f00d..."
//   {service="api",level=~"err|warn"} ~"5[0-9]{2}" _time:1h | stats count() by (service, level)
//
// Errors are InvalidArgument with the byte offset and what was expected:
//   "cannot parse log query at offset 14: expected ')' (got end of query)".
// Thread safety: a pure function.
#include <string_view>

#include "base/status.h"
#include "logs/query/ast.h"

namespace kansoku::logs::query {

Result<Query> ParseLogQuery(std::string_view text);

// Parses a duration "500ms", "5m", "1h30m", "2d", "1w" into ns. False on error.
bool ParseDurationNs(std::string_view s, int64_t* ns);

// libFuzzer entry point (fuzz/logs_query_fuzz.cc).
int FuzzLogQueryParser(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::query
