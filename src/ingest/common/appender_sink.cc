#include "ingest/common/appender_sink.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cstring>

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

RawKeyTable::Item* RawKeyTable::Insert(uint64_t hash, uint64_t context, std::string_view key,
                                       void* value) {
  KANSOKU_CHECK(hash != 0, "BUG: RawKeyTable hash 0 is reserved");
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
  auto* item = reinterpret_cast<Item*>(Allocate(sizeof(Item) + key.size()));
  item->context = context;
  item->value = value;
  item->handle = 0;
  item->key_size = static_cast<uint32_t>(key.size());
  if (!key.empty()) std::memcpy(item + 1, key.data(), key.size());
  for (size_t i = SlotOf(hash);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    KANSOKU_CHECK(s.hash != hash, "BUG: RawKeyTable::Insert of a hash it holds");
    if (s.hash == 0) {
      s = Slot{hash, item};
      ++size_;
      return item;
    }
  }
}

void RawKeyTable::Grow() {
  std::vector<Slot> old = std::move(slots_);
  const size_t cap = old.empty() ? 64 : old.size() * 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  shift_ = 64 - __builtin_ctzll(cap);
  for (const Slot& o : old) {
    if (o.hash == 0) continue;
    size_t i = SlotOf(o.hash);
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = o;
  }
}

char* RawKeyTable::Allocate(size_t bytes) {
  constexpr size_t kBlock = 64 << 10;
  bytes = (bytes + alignof(Item) - 1) & ~(alignof(Item) - 1);
  if (bytes > free_bytes_) {
    // A key longer than a block gets a block of its own (the rest of the current one stays).
    const size_t n = std::max(kBlock, bytes);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(n));
    arena_bytes_ += n;
    free_ = blocks_.back().get();
    free_bytes_ = n;
  }
  char* p = free_;
  free_ += bytes;
  free_bytes_ -= bytes;
  return p;
}

AppenderSink::Resolved AppenderSink::LabelsFor(const RowBatch& batch, uint32_t idx,
                                               uint64_t n_samples) {
  if (series_bad_[idx] || series_labels_[idx].entry != nullptr) return series_labels_[idx];
  const SeriesRow& sr = batch.series()[idx];
  const bool use_raw = !sr.raw_key.empty() && batch.key_context() != 0;
  uint64_t raw_h = sr.raw_hash;  // set by a decoder that deferred the labels
  if (use_raw) {
    if (raw_h == 0) {
      raw_h = XXH3_64bits(sr.raw_key.data(), sr.raw_key.size()) ^ batch.key_context();
      raw_h |= static_cast<uint64_t>(raw_h == 0);  // RawKeyTable reserves 0
    }
    if (RawKeyTable::Item* r = tables_->raw.Find(raw_h)) {
      if (r->context == batch.key_context() && r->key() == sr.raw_key) {
        return series_labels_[idx] = {static_cast<SeriesCache::Entry*>(r->value), &r->handle};
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
      return {};
    }
    found = LabelsFromViews(batch, idx, deferred_.data(), static_cast<uint32_t>(deferred_.size()),
                            n_samples);
  } else {
    found = LabelsFromViews(batch, idx, batch.labels_of(sr), sr.num_labels, n_samples);
  }
  if (found == nullptr) return {};
  if (use_raw && tables_->raw.Find(raw_h) == nullptr) {
    // Point at the map entry (node-based, dropped together with the raw table); a collided
    // entry lives only for this batch, so the table keeps its own copy.
    if (!collided_.empty() && found == &collided_.back()) {
      tables_->owned.push_back(*found);
      found = &tables_->owned.back();
    }
    RawKeyTable::Item* r = tables_->raw.Insert(raw_h, batch.key_context(), sr.raw_key, found);
    r->handle = std::atomic_ref<uint64_t>(found->handle).load(std::memory_order_relaxed);
    return series_labels_[idx] = {found, &r->handle};
  }
  return series_labels_[idx] = {found, &found->handle};
}

SeriesCache::Entry* AppenderSink::LabelsFromViews(const RowBatch& batch, uint32_t idx,
                                                  const LabelView* l, uint32_t num_labels,
                                                  uint64_t n_samples) {
  const SeriesRow& sr = batch.series()[idx];
  uint64_t h = HashInput(l, num_labels);
  auto it = tables_->map.find(h);
  if (it != tables_->map.end() && Matches(l, num_labels, it->second.labels)) {
    return &it->second;
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
    return &ins->second;
  }
  // Hash collision with another series: keep the cached one, own this one for the batch.
  collided_.push_back(SeriesCache::Entry{std::move(built), 0});
  return &collided_.back();
}

void AppenderSink::Consume(const RowBatch& batch) {
  KANSOKU_CHECK(!committed_, "BUG: AppenderSink::Consume after Commit");
  tables_ = cache_->ForBatch();
  collided_.clear();
  const auto& rows = batch.series();
  series_labels_.assign(rows.size(), Resolved{});
  series_bad_.assign(rows.size(), false);
  handles_.resize(rows.size());
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
      // Deferred series come with their raw key's hash: the lookups of the series a few rows
      // ahead are started now (their slot, then their item), so that their cache misses overlap
      // instead of each row waiting for its own.
      if (series + kPrefetchSlot < rows.size())
        tables_->raw.Prefetch(rows[series + kPrefetchSlot].raw_hash);
      if (series + kPrefetchItem < rows.size() && rows[series + kPrefetchItem].raw_hash != 0) {
        if (const RawKeyTable::Item* r = tables_->raw.Find(rows[series + kPrefetchItem].raw_hash)) {
          __builtin_prefetch(r);
          __builtin_prefetch(reinterpret_cast<const char*>(r) + 64);
        }
      }
      const Resolved res = LabelsFor(batch, series, j - i);
      // The handle while its item is in cache (the appends below store it back if it changes).
      if (res.entry != nullptr) {
        handles_[series] = std::atomic_ref<uint64_t>(*res.handle).load(std::memory_order_relaxed);
      }
      i = j;
    }
  }
  for (size_t i = 0; i < samples.size();) {
    uint32_t series = samples[i].series;
    size_t j = i + 1;
    while (j < samples.size() && samples[j].series == series) ++j;
    SeriesCache::Entry* entry = series_labels_[series].entry;
    if (entry != nullptr) {
      uint64_t handle = handles_[series];
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
      if (handle != handle_before) {
        std::atomic_ref<uint64_t>(*series_labels_[series].handle)
            .store(handle, std::memory_order_relaxed);
      }
    }
    i = j;
  }
  for (const ExemplarRow& e : batch.exemplars()) {
    // Remote-write senders put exemplars in series entries of their own, without samples.
    if (e.series >= series_labels_.size() || series_bad_[e.series]) continue;
    SeriesCache::Entry* entry;
    {
      std::lock_guard<std::mutex> l(cache_->mu_);
      entry = LabelsFor(batch, e.series, 0).entry;
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
