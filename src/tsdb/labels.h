#pragma once
// Labels: a series' identity, a label set sorted by name with unique names (Prometheus model).
// __name__ holds the metric name. Values are immutable once built; copying copies the strings.
// Thread safety: immutable values, safe to share for reading.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kansoku::tsdb {

inline constexpr std::string_view kMetricName = "__name__";

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const = default;
};

class Labels {
 public:
  Labels() = default;
  // Sorts by name; a later duplicate name replaces an earlier one. Empty values are dropped
  // (in Prometheus an empty label value means "label absent").
  Labels(std::initializer_list<Label> labels);
  static Labels FromVector(std::vector<Label> labels);
  // Trusted: already sorted, unique, no empty values (e.g. decoded from our own WAL).
  static Labels FromSortedUnchecked(std::vector<Label> labels);

  // Empty string_view when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricName); }
  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  const std::vector<Label>& items() const { return labels_; }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }

  // 64-bit hash (xxh3) over names and values; equal labels give equal hashes. Collisions are
  // possible: callers that map hash -> series must compare the labels too.
  uint64_t Hash() const;
  // {__name__="up", job="node"} in Prometheus' display form: up{job="node"}.
  std::string ToString() const;

  bool operator==(const Labels& o) const { return labels_ == o.labels_; }
  // Label by label, name then value (as std::vector<Label>'s order); equal labels, the common
  // case when sorting or merging the same series from several sources, are passed over with an
  // inline comparison of short strings.
  bool operator<(const Labels& o) const { return Compare(o) < 0; }
  int Compare(const Labels& o) const;

 private:
  std::vector<Label> labels_;
};

// Builds a Labels value by setting and deleting names; Build() sorts and drops empty values.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base);
  LabelsBuilder& Set(std::string_view name, std::string_view value);
  LabelsBuilder& Del(std::string_view name);
  Labels Build() const;

 private:
  std::vector<Label> labels_;
};

// Prometheus naming rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*; names starting with "__" are reserved (except __name__).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// True if s is well-formed UTF-8 (lead bytes and continuation bytes).
bool ValidUtf8(std::string_view s);
// Checks every name and that label values are valid UTF-8; error names the offending label.
Status ValidateLabels(const Labels& labels);

}  // namespace kansoku::tsdb
