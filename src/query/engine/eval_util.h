#pragma once
// Internal helpers shared by the evaluator's translation units (evaluator.cc, binary.cc,
// aggregate.cc, calls.cc). Not part of the public API. Pure functions; no shared state.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/engine/evaluator.h"
#include "tsdb/labels.h"

namespace kansoku::query::internal {

// Runtime errors caused by the query or the data (the engine reports them as "execution").
inline Status ExecError(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A key identifying a label subset, exact (no hash collisions): on=true keeps only `names`,
// on=false drops `names` and __name__ (Prometheus' vector-matching signature).
std::string KeyOf(const tsdb::Labels& ls, const std::vector<std::string>& names, bool on);
// An exact key for a whole label set.
std::string LabelsKey(const tsdb::Labels& ls);
bool ValidUtf8(std::string_view s);
// Go's %q for label names in error messages (invalid bytes as \xNN).
std::string GoQuote(std::string_view s);
// Prometheus 3 label names: any non-empty valid UTF-8.
inline bool ValidLabelName(std::string_view s) { return !s.empty() && ValidUtf8(s); }

// Per-series cursor over step-aligned points.
struct Cursor {
  size_t pos = 0;
  // The point at exactly ts, if any. ts must be non-decreasing across calls.
  const Point* At(const std::vector<Point>& pts, int64_t ts) {
    while (pos < pts.size() && pts[pos].t < ts) ++pos;
    if (pos < pts.size() && pts[pos].t == ts) return &pts[pos];
    return nullptr;
  }
};

// The value of a scalar Val at step i.
inline double ScalarAt(const Val& v, size_t i) { return v.series[0].points[i].v; }

// Rejects two series with equal labels that have a point at the same timestamp.
Status CheckNoDuplicates(const std::vector<EvalSeries>& series);

}  // namespace kansoku::query::internal
