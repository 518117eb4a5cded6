#pragma once
// MemStorage: a simple in-memory tsdb::Queryable + tsdb::Appendable for tests, the conformance
// runner and benchmarks. Not for production: a linear scan over all series per Select.
//
// Thread safety: all methods lock an internal mutex; queriers copy what they return, so data
// appended after NewQuerier is not visible to it. Ownership: outlives its queriers/appenders.
// Errors: Append rejects invalid (empty) label sets; samples with a timestamp already present
// replace the old value (tests load data that way). Clear() drops everything.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tsdb/storage.h"

namespace kansoku::query::testing {

class MemStorage : public tsdb::Queryable, public tsdb::Appendable {
 public:
  MemStorage() = default;

  std::unique_ptr<tsdb::Appender> NewAppender() override;
  Result<std::unique_ptr<tsdb::Querier>> NewQuerier(int64_t mint, int64_t maxt) override;
  std::vector<std::pair<std::string, tsdb::MetricMetadata>> Metadata(std::string_view metric,
                                                                     size_t limit) override;

  void Clear();
  size_t NumSeries() const;

 private:
  friend class MemAppender;
  void Apply(const std::vector<std::pair<tsdb::Labels, tsdb::Sample>>& samples,
             const std::map<std::string, tsdb::MetricMetadata, std::less<>>& md);

  mutable std::mutex mu_;
  std::map<tsdb::Labels, std::vector<tsdb::Sample>> series_;  // guarded by mu_, time-sorted
  std::map<std::string, tsdb::MetricMetadata, std::less<>> metadata_;  // guarded by mu_
};

}  // namespace kansoku::query::testing
