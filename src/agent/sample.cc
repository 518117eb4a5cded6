#include "agent/sample.h"

#include <algorithm>

namespace kansoku::agent {

void SampleBatch::Add(std::string name, double value, LabelSet labels) {
  AddAt(std::move(name), timestamp_ms_, value, std::move(labels));
}

void SampleBatch::AddAt(std::string name, int64_t timestamp_ms, double value, LabelSet labels) {
  Sample s;
  s.labels.reserve(labels.size() + 4);
  s.labels.emplace_back("__name__", std::move(name));
  for (auto& l : labels) s.labels.push_back(std::move(l));
  s.timestamp_ms = timestamp_ms;
  s.value = value;
  samples_.push_back(std::move(s));
}

void SampleBatch::Finalize(const LabelSet& common) {
  for (auto& s : samples_) {
    for (const auto& c : common) {
      bool present = false;
      for (const auto& l : s.labels) {
        if (l.first == c.first) {
          present = true;
          break;
        }
      }
      if (!present) s.labels.push_back(c);
    }
    s.labels.erase(std::remove_if(s.labels.begin(), s.labels.end(),
                                  [](const Label& l) { return l.second.empty(); }),
                   s.labels.end());
    std::sort(s.labels.begin(), s.labels.end(),
              [](const Label& a, const Label& b) { return a.first < b.first; });
  }
}

bool SampleBatch::Find(const std::string& name, const LabelSet& match, double* value) const {
  for (const auto& s : samples_) {
    bool name_ok = false;
    size_t matched = 0;
    for (const auto& l : s.labels) {
      if (l.first == "__name__") {
        name_ok = l.second == name;
        if (!name_ok) break;
      }
      for (const auto& m : match) {
        if (l == m) ++matched;
      }
    }
    if (name_ok && matched == match.size()) {
      *value = s.value;
      return true;
    }
  }
  return false;
}

}  // namespace kansoku::agent
