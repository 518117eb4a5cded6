#pragma once
// The agent's in-memory sample model: what collectors produce and the shipper encodes.
//
// A Sample is one (labels, timestamp, value); labels include __name__. Collectors append to a
// SampleBatch with Add(), passing the metric name and its own labels; the batch adds the
// agent's common labels (host, service, role) when it is finalized by the caller
// (AddCommonLabels) and sorts every label set by name, as remote_write requires.
//
// Thread safety: a SampleBatch is a plain value owned by one thread at a time.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kansoku::agent {

using Label = std::pair<std::string, std::string>;
using LabelSet = std::vector<Label>;

struct Sample {
  LabelSet labels;  // includes {"__name__", name}
  int64_t timestamp_ms = 0;
  double value = 0;
};

class SampleBatch {
 public:
  explicit SampleBatch(int64_t timestamp_ms = 0) : timestamp_ms_(timestamp_ms) {}

  // Adds name{labels} = value at the batch's timestamp.
  void Add(std::string name, double value, LabelSet labels = {});
  // Adds with an explicit timestamp (plugins, StatsD flushes, scrapes with timestamps).
  void AddAt(std::string name, int64_t timestamp_ms, double value, LabelSet labels = {});
  void Append(Sample s) { samples_.push_back(std::move(s)); }

  // Adds each common label to every sample that does not already carry it (a collector's own
  // label wins, like Prometheus' honor_labels), drops empty-valued labels, sorts by name.
  void Finalize(const LabelSet& common);

  const std::vector<Sample>& samples() const { return samples_; }
  std::vector<Sample>& mutable_samples() { return samples_; }
  size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  int64_t timestamp_ms() const { return timestamp_ms_; }

  // Value of the first sample named `name` whose labels include all of `match`; false if none.
  // For tests and the heartbeat's key metrics.
  bool Find(const std::string& name, const LabelSet& match, double* value) const;

 private:
  int64_t timestamp_ms_;
  std::vector<Sample> samples_;
};

}  // namespace kansoku::agent
