#include "ingest/common/appender_sink.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <atomic>

namespace kansoku::ingest {

namespace {

// Hash of the non-empty labels in input order: one-shot XXH3 per string (fast for short
// strings, unlike the streaming API), combined with a multiply-rotate mix.
inline uint64_t Mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}
uint64_t HashInput(const LabelView* l, uint32_t n) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (uint32_t i = 0; i < n; ++i) {
    if (l[i].value.empty()) continue;
    h = Mix(h, XXH3_64bits(l[i].name.data(), l[i].name.size()));
    h = Mix(h, XXH3_64bits(l[i].value.data(), l[i].value.size()) * 0xff51afd7ed558ccdULL);
  }
  return h;
}

// True if the non-empty input labels are exactly `labels` (any order, no duplicates).
bool Matches(const LabelView* l, uint32_t n, const tsdb::Labels& labels) {
  // Fast path: the input is already in label order (remote_write sends sorted labels, and a
  // client's text lines repeat the same order), so compare position by position.
  const auto& items = labels.items();
  size_t j = 0;
  bool positional = true;
  for (uint32_t i = 0; i < n && positional; ++i) {
    if (l[i].value.empty()) continue;
    positional = j < items.size() && items[j].name == l[i].name && items[j].value == l[i].value;
    ++j;
  }
  if (positional) return j == items.size();
  size_t count = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (l[i].value.empty()) continue;
    ++count;
    if (count > labels.size()) return false;
    bool found = false;
    for (const tsdb::Label& x : labels) {
      if (x.name == l[i].name) {
        found = x.value == l[i].value;
        break;
      }
    }
    if (!found) return false;
  }
  return count == labels.size();
}

std::string Where(const RowBatch& batch, uint32_t line) {
  return std::string(batch.location_unit()) + " " + std::to_string(line) + ": ";
}
}  // namespace

SeriesCache::Entry* AppenderSink::LabelsFor(const RowBatch& batch, uint32_t idx,
                                            uint64_t n_samples) {
  if (series_bad_[idx]) return nullptr;
  if (series_labels_[idx] != nullptr) return series_labels_[idx];
  const SeriesRow& sr = batch.series()[idx];
  const bool use_raw = !sr.raw_key.empty() && batch.key_context() != 0;
  uint64_t raw_h = sr.raw_hash;  // set by a decoder that deferred the labels
  if (use_raw) {
    if (raw_h == 0) {
      raw_h = XXH3_64bits(sr.raw_key.data(), sr.raw_key.size()) ^ batch.key_context();
      raw_h |= static_cast<uint64_t>(raw_h == 0);  // FlatMap64 reserves key 0
    }
    if (const uint32_t* i = tables_->raw_index.Find(raw_h)) {
      SeriesCache::RawEntry& r = tables_->raw_entries[*i];
      if (r.context == batch.key_context() && r.key == sr.raw_key) {
        return series_labels_[idx] = r.entry;
      }
    }
  }
  SeriesCache::Entry* found;
  if (sr.deferred) {
    // Not in the cache (a new cache, or another thread's parser saw it first): the decoder
    // parses the labels now.
    deferred_.clear();
    RejectReason reason;
    std::string message;
    if (batch.resolver() == nullptr ||
        !batch.resolver()->Resolve(sr, &deferred_, &reason, &message)) {
      series_bad_[idx] = true;
      if (batch.resolver() == nullptr) {
        reason = RejectReason::kSyntax;
        message = Where(batch, sr.line) + "BUG: deferred labels without a resolver";
      }
      report_.RejectN(reason, n_samples, std::move(message));
      return nullptr;
    }
    found = LabelsFromViews(batch, idx, deferred_.data(), static_cast<uint32_t>(deferred_.size()),
                            n_samples);
  } else {
    found = LabelsFromViews(batch, idx, batch.labels_of(sr), sr.num_labels, n_samples);
  }
  if (found != nullptr && use_raw && tables_->raw_index.Find(raw_h) == nullptr) {
    // Point at the map_ entry (node-based, cleared together with raw_entries_); a collided
    // entry lives only for this batch, so the raw entry keeps its own copy.
    const bool collided = !collided_.empty() && found == &collided_.back();
    SeriesCache::RawEntry raw{batch.key_context(), std::string(sr.raw_key), found, nullptr};
    if (collided) {
      raw.owned = std::make_unique<SeriesCache::Entry>(*found);
      raw.entry = raw.owned.get();
    }
    tables_->raw_entries.push_back(std::move(raw));
    tables_->raw_index.Insert(raw_h, static_cast<uint32_t>(tables_->raw_entries.size() - 1));
    found = tables_->raw_entries.back().entry;
  }
  return series_labels_[idx] = found;
}

SeriesCache::Entry* AppenderSink::LabelsFromViews(const RowBatch& batch, uint32_t idx,
                                                  const LabelView* l, uint32_t num_labels,
                                                  uint64_t n_samples) {
  const SeriesRow& sr = batch.series()[idx];
  uint64_t h = HashInput(l, num_labels);
  auto it = tables_->map.find(h);
  if (it != tables_->map.end() && Matches(l, num_labels, it->second.labels)) {
    return series_labels_[idx] = &it->second;
  }
  sorted_.clear();
  for (uint32_t i = 0; i < num_labels; ++i) {
    if (!l[i].value.empty()) sorted_.push_back(l[i]);  // empty value = label absent
  }
  std::sort(sorted_.begin(), sorted_.end(),
            [](const LabelView& a, const LabelView& b) { return a.name < b.name; });
  for (size_t i = 1; i < sorted_.size(); ++i) {
    if (sorted_[i].name == sorted_[i - 1].name) {
      series_bad_[idx] = true;
      report_.RejectN(RejectReason::kInvalidLabel, n_samples,
                      Where(batch, sr.line) + "duplicate label name " + Quote(sorted_[i].name));
      return nullptr;
    }
  }
  std::vector<tsdb::Label> owned;
  owned.reserve(sorted_.size());
  for (const LabelView& v : sorted_) owned.push_back({std::string(v.name), std::string(v.value)});
  tsdb::Labels built = tsdb::Labels::FromSortedUnchecked(std::move(owned));
  if (it == tables_->map.end()) {
    auto ins = tables_->map.emplace(h, SeriesCache::Entry{std::move(built), 0}).first;
    return series_labels_[idx] = &ins->second;
  }
  // Hash collision with another series: keep the cached one, own this one for the batch.
  collided_.push_back(SeriesCache::Entry{std::move(built), 0});
  return series_labels_[idx] = &collided_.back();
}

void AppenderSink::Consume(const RowBatch& batch) {
  KANSOKU_CHECK(!committed_, "BUG: AppenderSink::Consume after Commit");
  tables_ = cache_->ForBatch();
  collided_.clear();
  series_labels_.assign(batch.series().size(), nullptr);
  series_bad_.assign(batch.series().size(), false);
  const auto& samples = batch.samples();
  {
    // Every series of the batch under one lock of the (shared) cache, in sample order (the
    // order of the report's rejections); the appends below run without it.
    std::lock_guard<std::mutex> l(cache_->mu_);
    for (size_t i = 0; i < samples.size();) {
      // Samples of one series are contiguous in every decoder; count the run for bulk rejects.
      const uint32_t series = samples[i].series;
      size_t j = i + 1;
      while (j < samples.size() && samples[j].series == series) ++j;
      LabelsFor(batch, series, j - i);
      i = j;
    }
  }
  for (size_t i = 0; i < samples.size();) {
    uint32_t series = samples[i].series;
    size_t j = i + 1;
    while (j < samples.size() && samples[j].series == series) ++j;
    SeriesCache::Entry* entry = series_labels_[series];
    if (entry != nullptr) {
      std::atomic_ref<uint64_t> shared_handle(entry->handle);
      uint64_t handle = shared_handle.load(std::memory_order_relaxed);
      const uint64_t handle_before = handle;
      for (size_t k = i; k < j; ++k) {
        Status st = appender_.AppendWithHandle(&handle, entry->labels, samples[k].timestamp_ms,
                                               samples[k].value);
        if (st.ok()) {
          ++accepted_here_;
          report_.Accept();
        } else {
          report_.Reject(st.code() == Status::Code::kResourceExhausted ? RejectReason::kLimit
                                                                       : RejectReason::kStorage,
                         Where(batch, batch.series()[series].line) + st.message());
          // Storage overloaded or shutting down: the whole request should be retried.
          if (st.code() == Status::Code::kUnavailable) report_.SetRequestError(st);
        }
      }
      if (handle != handle_before) shared_handle.store(handle, std::memory_order_relaxed);
    }
    i = j;
  }
  for (const ExemplarRow& e : batch.exemplars()) {
    // Remote-write senders put exemplars in series entries of their own, without samples.
    if (e.series >= series_labels_.size() || series_bad_[e.series]) continue;
    SeriesCache::Entry* entry;
    {
      std::lock_guard<std::mutex> l(cache_->mu_);
      entry = LabelsFor(batch, e.series, 0);
    }
    if (entry == nullptr) continue;
    const LabelView* lv = batch.labels_of(e);
    std::vector<tsdb::Label> v;
    v.reserve(e.num_labels);
    for (uint32_t i = 0; i < e.num_labels; ++i) {
      v.push_back({std::string(lv[i].name), std::string(lv[i].value)});
    }
    tsdb::Exemplar ex{tsdb::Labels::FromVector(std::move(v)), e.value, e.timestamp_ms};
    Status st = appender_.AppendExemplar(entry->labels, ex);
    if (st.ok()) {
      ++exemplars_here_;
    } else {
      report_.RejectExemplar(Where(batch, batch.series()[e.series].line) + st.message());
    }
  }
  for (const MetadataRow& m : batch.metadata()) {
    tsdb::MetricMetadata md{m.type, std::string(m.help), std::string(m.unit)};
    Status st = appender_.UpdateMetadata(m.metric_family, md);
    if (st.ok()) {
      report_.AcceptMetadata();
    } else {
      // Metadata is advisory: a refusal is counted as a skipped value, not a row error.
      report_.Skip();
    }
  }
}

Status AppenderSink::Commit() {
  KANSOKU_CHECK(!committed_, "BUG: AppenderSink::Commit called twice");
  committed_ = true;
  Status st = appender_.Commit();
  if (!st.ok()) {
    Status wrapped(st.code(), "cannot commit " + std::to_string(accepted_here_) +
                                  " rows to storage: " + st.message());
    // Nothing of this request is durable; a retry will resend it.
    report_.RevertAccepted(wrapped.message());
    exemplars_here_ = 0;
    report_.SetRequestError(wrapped.code() == Status::Code::kInvalidArgument
                                ? Status::Internal(wrapped.message())
                                : wrapped);
    return wrapped;
  }
  for (uint64_t i = 0; i < exemplars_here_; ++i) report_.AcceptExemplar();
  return Status::Ok();
}

}  // namespace kansoku::ingest
