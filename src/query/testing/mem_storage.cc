#include "query/testing/mem_storage.h"

#include <algorithm>
#include <set>

namespace kansoku::query::testing {

class MemAppender : public tsdb::Appender {
 public:
  explicit MemAppender(MemStorage* db) : db_(db) {}
  Status Append(const tsdb::Labels& labels, int64_t t, double v) override {
    if (labels.empty()) return Status::InvalidArgument("empty label set");
    staged_.push_back({labels, {t, v}});
    return Status::Ok();
  }
  Status UpdateMetadata(std::string_view metric_name, const tsdb::MetricMetadata& md) override {
    md_[std::string(metric_name)] = md;
    return Status::Ok();
  }
  Status Commit() override {
    db_->Apply(staged_, md_);
    staged_.clear();
    md_.clear();
    return Status::Ok();
  }
  void Rollback() override {
    staged_.clear();
    md_.clear();
  }

 private:
  MemStorage* db_;
  std::vector<std::pair<tsdb::Labels, tsdb::Sample>> staged_;
  std::map<std::string, tsdb::MetricMetadata, std::less<>> md_;
};

namespace {

class VecIterator : public tsdb::SeriesIterator {
 public:
  explicit VecIterator(const std::vector<tsdb::Sample>* s) : s_(s) {}
  bool Next() override {
    if (i_ < s_->size()) ++i_;
    return i_ < s_->size();
  }
  bool Seek(int64_t target) override {
    if (i_ == static_cast<size_t>(-1)) i_ = 0;
    while (i_ < s_->size() && (*s_)[i_].t < target) ++i_;
    return i_ < s_->size();
  }
  tsdb::Sample At() const override { return (*s_)[i_]; }

 private:
  const std::vector<tsdb::Sample>* s_;
  size_t i_ = static_cast<size_t>(-1);
};

struct SnapshotSeries {
  tsdb::Labels labels;
  std::vector<tsdb::Sample> samples;
};

class VecSeriesSet : public tsdb::SeriesSet {
 public:
  explicit VecSeriesSet(std::vector<SnapshotSeries> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < s_.size(); }
  const tsdb::Labels& labels() const override { return s_[i_].labels; }
  std::unique_ptr<tsdb::SeriesIterator> Iterator() const override {
    return std::make_unique<VecIterator>(&s_[i_].samples);
  }

 private:
  std::vector<SnapshotSeries> s_;
  size_t i_ = static_cast<size_t>(-1);
};

bool MatchesAll(const tsdb::Labels& ls, const std::vector<tsdb::Matcher>& ms) {
  for (const auto& m : ms) {
    if (!m.Matches(ls.Get(m.name()))) return false;
  }
  return true;
}

class MemQuerier : public tsdb::Querier {
 public:
  MemQuerier(const MemStorage* db, std::mutex* mu,
             const std::map<tsdb::Labels, std::vector<tsdb::Sample>>* series, int64_t mint,
             int64_t maxt)
      : mu_(mu), series_(series), mint_(mint), maxt_(maxt) {
    (void)db;
  }
  Result<std::unique_ptr<tsdb::SeriesSet>> Select(const std::vector<tsdb::Matcher>& matchers,
                                                  const tsdb::SelectHints& hints) override {
    (void)hints;
    bool non_empty = std::any_of(matchers.begin(), matchers.end(),
                                 [](const tsdb::Matcher& m) { return !m.MatchesEmpty(); });
    if (!non_empty)
      return Status::InvalidArgument("at least one matcher must not match the empty string");
    std::vector<SnapshotSeries> out;
    std::lock_guard<std::mutex> l(*mu_);
    for (const auto& [ls, samples] : *series_) {
      if (!MatchesAll(ls, matchers)) continue;
      SnapshotSeries s;
      s.labels = ls;
      auto lo = std::lower_bound(samples.begin(), samples.end(), mint_,
                                 [](const tsdb::Sample& a, int64_t t) { return a.t < t; });
      for (auto it = lo; it != samples.end() && it->t <= maxt_; ++it) s.samples.push_back(*it);
      if (!s.samples.empty()) out.push_back(std::move(s));
    }
    return std::unique_ptr<tsdb::SeriesSet>(new VecSeriesSet(std::move(out)));
  }
  Result<std::vector<std::string>> LabelNames(const std::vector<tsdb::Matcher>& matchers) override {
    std::set<std::string> names;
    std::lock_guard<std::mutex> l(*mu_);
    for (const auto& [ls, samples] : *series_) {
      if (!matchers.empty() && !MatchesAll(ls, matchers)) continue;
      for (const auto& lab : ls) names.insert(lab.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  }
  Result<std::vector<std::string>> LabelValues(
      std::string_view name, const std::vector<tsdb::Matcher>& matchers) override {
    std::set<std::string> values;
    std::lock_guard<std::mutex> l(*mu_);
    for (const auto& [ls, samples] : *series_) {
      if (!matchers.empty() && !MatchesAll(ls, matchers)) continue;
      std::string_view v = ls.Get(name);
      if (!v.empty()) values.insert(std::string(v));
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  std::mutex* mu_;
  const std::map<tsdb::Labels, std::vector<tsdb::Sample>>* series_;
  int64_t mint_, maxt_;
};

}  // namespace

std::unique_ptr<tsdb::Appender> MemStorage::NewAppender() {
  return std::make_unique<MemAppender>(this);
}

Result<std::unique_ptr<tsdb::Querier>> MemStorage::NewQuerier(int64_t mint, int64_t maxt) {
  return std::unique_ptr<tsdb::Querier>(new MemQuerier(this, &mu_, &series_, mint, maxt));
}

std::vector<std::pair<std::string, tsdb::MetricMetadata>> MemStorage::Metadata(
    std::string_view metric, size_t limit) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<std::string, tsdb::MetricMetadata>> out;
  for (const auto& [name, md] : metadata_) {
    if (!metric.empty() && name != metric) continue;
    if (limit != 0 && out.size() >= limit) break;
    out.emplace_back(name, md);
  }
  return out;
}

void MemStorage::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  series_.clear();
  metadata_.clear();
}

size_t MemStorage::NumSeries() const {
  std::lock_guard<std::mutex> l(mu_);
  return series_.size();
}

void MemStorage::Apply(const std::vector<std::pair<tsdb::Labels, tsdb::Sample>>& samples,
                       const std::map<std::string, tsdb::MetricMetadata, std::less<>>& md) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [ls, s] : samples) {
    auto& vec = series_[ls];
    auto it = std::lower_bound(vec.begin(), vec.end(), s.t,
                               [](const tsdb::Sample& a, int64_t t) { return a.t < t; });
    if (it != vec.end() && it->t == s.t) {
      *it = s;
    } else {
      vec.insert(it, s);
    }
  }
  for (auto& [k, v] : md) metadata_[k] = v;
}

}  // namespace kansoku::query::testing
