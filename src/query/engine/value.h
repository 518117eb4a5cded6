#pragma once
// Query result values: what Engine::Query/QueryRange return (see engine.h).
//
// Scalar, string, vector (one sample per series at the evaluation time) and matrix (a list of
// points per series: range queries, or range-vector instant queries). Plain values, no sharing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/parser/ast.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::query {

// One point: t in ms, v. The storage's sample type, so series are read without conversion.
using Point = tsdb::Sample;

struct Sample {
  tsdb::Labels labels;
  int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

struct Series {
  tsdb::Labels labels;
  std::vector<Point> points;
};
using Matrix = std::vector<Series>;

// Error kinds mapped by the HTTP layer onto Prometheus' errorType.
enum class QueryErrorKind : unsigned char {
  kNone,
  kBadData,      // parse or type error, bad parameters (HTTP 400)
  kExecution,    // runtime error, e.g. duplicate label sets, limits (HTTP 422)
  kTimeout,      // EngineOptions::timeout exceeded (HTTP 503)
  kCanceled,     // the caller canceled (HTTP 503)
  kUnavailable,  // refused: too many queries running and queued (HTTP 503)
};
// "bad_data", "execution", "timeout", "canceled", "unavailable" ("" for kNone).
std::string_view QueryErrorKindName(QueryErrorKind k);

struct QueryResult {
  ValueType type = ValueType::kNone;  // kScalar, kString, kVector or kMatrix when ok()
  double scalar = 0;
  int64_t scalar_t = 0;
  std::string str;
  Vector vector;
  Matrix matrix;
  // True when the series order is meaningful (sort(), sort_desc(), topk/bottomk at top level).
  bool ordered = false;
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  // Samples loaded from storage plus points produced by range functions/selectors
  // (what EngineOptions::max_samples limits); for the API's stats.
  int64_t total_samples = 0;

  QueryErrorKind error_kind = QueryErrorKind::kNone;
  std::string error;  // message when error_kind != kNone
  bool ok() const { return error_kind == QueryErrorKind::kNone; }
};

}  // namespace kansoku::query
