#include "ingest/common/rows.h"

#include <algorithm>
#include <cstring>

namespace kansoku::ingest {

char* StringArena::Allocate(size_t n) {
  if (blocks_.empty() || pos_ + n > cap_) {
    size_t size = std::max(kBlockSize, n);
    blocks_.push_back(std::make_unique<char[]>(size));
    if (blocks_.size() == 1) first_cap_ = size;
    cap_ = size;
    pos_ = 0;
  }
  char* p = blocks_.back().get() + pos_;
  pos_ += n;
  used_total_ += n;
  return p;
}

std::string_view StringArena::Copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = Allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

std::string_view StringArena::Concat(std::string_view a, std::string_view sep, std::string_view b) {
  size_t n = a.size() + sep.size() + b.size();
  if (n == 0) return {};
  char* p = Allocate(n);
  // Empty views may have a null data(): memcpy must not see them.
  if (!a.empty()) std::memcpy(p, a.data(), a.size());
  if (!sep.empty()) std::memcpy(p + a.size(), sep.data(), sep.size());
  if (!b.empty()) std::memcpy(p + a.size() + sep.size(), b.data(), b.size());
  return {p, n};
}

void StringArena::Clear() {
  // Keep the first block when it is a standard one, so steady-state reuse does not allocate.
  if (!blocks_.empty() && first_cap_ == kBlockSize) {
    blocks_.resize(1);
    cap_ = kBlockSize;
  } else {
    blocks_.clear();
    cap_ = 0;
  }
  pos_ = 0;
  used_total_ = 0;
}

void RowBatch::Clear() {
  labels_.clear();
  series_.clear();
  samples_.clear();
  metadata_.clear();
  exemplars_.clear();
  exemplar_labels_.clear();
  arena_.Clear();  // key_context_ stays: a decoder sets it once per call
}

namespace {
tsdb::Labels ToLabels(const LabelView* l, uint32_t n) {
  std::vector<tsdb::Label> v;
  v.reserve(n);
  for (uint32_t i = 0; i < n; ++i) v.push_back({std::string(l[i].name), std::string(l[i].value)});
  return tsdb::Labels::FromVector(std::move(v));
}
}  // namespace

void CollectingSink::Consume(const RowBatch& batch) {
  for (const SampleRow& s : batch.samples()) {
    const SeriesRow& sr = batch.series()[s.series];
    rows.push_back(
        {ToLabels(batch.labels_of(sr), sr.num_labels), s.timestamp_ms, s.value, sr.line});
  }
  for (const ExemplarRow& e : batch.exemplars()) {
    const SeriesRow& sr = batch.series()[e.series];
    exemplars.push_back({ToLabels(batch.labels_of(sr), sr.num_labels),
                         {ToLabels(batch.labels_of(e), e.num_labels), e.value, e.timestamp_ms}});
  }
  for (const MetadataRow& m : batch.metadata()) {
    metadata.push_back(
        {std::string(m.metric_family), {m.type, std::string(m.help), std::string(m.unit)}});
  }
}

void DiscardSink::Consume(const RowBatch& batch) {
  auto touch = [this](std::string_view s) {
    if (!touch_all_bytes_) {
      checksum += s.size();
      return;
    }
    for (char c : s) checksum = checksum * 31 + static_cast<unsigned char>(c);
  };
  for (const SampleRow& s : batch.samples()) {
    const SeriesRow& sr = batch.series()[s.series];
    const LabelView* l = batch.labels_of(sr);
    for (uint32_t i = 0; i < sr.num_labels; ++i) {
      touch(l[i].name);
      touch(l[i].value);
    }
    checksum += static_cast<uint64_t>(s.timestamp_ms);
    ++samples;
  }
  for (const MetadataRow& m : batch.metadata()) {
    touch(m.metric_family);
    touch(m.help);
    touch(m.unit);
  }
  for (const ExemplarRow& e : batch.exemplars()) {
    const LabelView* l = batch.labels_of(e);
    for (uint32_t i = 0; i < e.num_labels; ++i) {
      touch(l[i].name);
      touch(l[i].value);
    }
    checksum += static_cast<uint64_t>(e.timestamp_ms);
  }
}

}  // namespace kansoku::ingest
