#include "tsdb/head.h"

#include <algorithm>
#include <cstring>

namespace kansoku::tsdb {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The bytes of a full open chunk as a closed one: packed when that is smaller (*encoding).
// Valid until the next call on this thread or a change of `open`.
std::string_view CloseChunk(const XorChunk& open, ChunkEncoding* encoding) {
  thread_local std::vector<Sample> samples;
  thread_local std::string packed;
  samples.clear();
  if (DecodeXorChunk(open.Bytes(), &samples).ok() && !samples.empty() &&
      EncodePackedChunk(samples.data(), samples.size(), &packed) &&
      packed.size() < open.SizeBytes()) {
    *encoding = ChunkEncoding::kPacked;
    return packed;
  }
  *encoding = ChunkEncoding::kXor;
  return open.Bytes();
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::shared_ptr<const ClosedChunks> ClosedChunks::With(const ClosedChunks* prev, const Meta& m,
                                                       std::string_view bytes) {
  auto out = std::make_shared<ClosedChunks>();
  // Exact sizes: the list is immutable from here on.
  out->meta_.reserve((prev != nullptr ? prev->meta_.size() : 0) + 1);
  out->bytes_.reserve((prev != nullptr ? prev->bytes_.size() : 0) + bytes.size());
  if (prev != nullptr) {
    out->meta_.insert(out->meta_.end(), prev->meta_.begin(), prev->meta_.end());
    out->bytes_.append(prev->bytes_);
  }
  KANSOKU_CHECK(bytes.size() <= UINT32_MAX, "BUG: closed chunk larger than 4 GiB");
  out->meta_.push_back(m);
  out->meta_.back().size = static_cast<uint32_t>(bytes.size());
  out->bytes_.append(bytes);
  return out;
}

Head::Head(HeadOptions options) : options_(options) {
  KANSOKU_CHECK(options_.chunk_range_ms > 0, "BUG: HeadOptions::chunk_range_ms must be > 0");
  KANSOKU_CHECK(
      options_.samples_per_chunk > 0 && options_.samples_per_chunk <= XorChunk::kMaxSamples,
      "BUG: HeadOptions::samples_per_chunk out of range");
}

int64_t Head::RangeEnd(int64_t t) const {
  return (FloorDiv(t, options_.chunk_range_ms) + 1) * options_.chunk_range_ms;
}

void Head::NoteTime(int64_t t) {
  int64_t cur = min_appended_.load(std::memory_order_relaxed);
  while (t < cur && !min_appended_.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
  }
  cur = min_time_.load();
  while (t < cur && !min_time_.compare_exchange_weak(cur, t)) {
  }
  cur = max_time_.load();
  while (t > cur && !max_time_.compare_exchange_weak(cur, t)) {
  }
}

std::shared_ptr<MemSeries> Head::Insert(uint64_t hash, SeriesRef ref, const Labels& labels) {
  // Caller holds shards_[hash % kShards].mu.
  auto s = std::make_shared<MemSeries>(ref, labels, hash);
  shards_[hash % kShards].by_hash[hash].push_back(s);
  {
    std::lock_guard<std::mutex> l(ref_shards_[ref % kShards].mu);
    ref_shards_[ref % kShards].by_ref[ref] = s;
  }
  num_series_.fetch_add(1);
  series_created_.fetch_add(1);
  return s;
}

Result<std::shared_ptr<MemSeries>> Head::GetOrCreatePinned(const Labels& labels) {
  const uint64_t hash = HashOf(labels);
  Shard& shard = shards_[hash % kShards];
  std::lock_guard<std::mutex> l(shard.mu);
  auto it = shard.by_hash.find(hash);
  if (it != shard.by_hash.end()) {
    for (const auto& s : it->second) {
      if (s->labels() == labels) {
        ++s->pins_;
        return s;
      }
    }
  }
  KANSOKU_RETURN_IF_ERROR(ValidateLabels(labels));
  if (options_.max_series > 0 && num_series_.load() >= options_.max_series) {
    return Status::ResourceExhausted("series limit " + std::to_string(options_.max_series) +
                                     " reached: refusing new series " + labels.ToString());
  }
  SeriesRef ref;
  {
    std::unique_lock<std::shared_mutex> il(index_mu_);
    ref = next_ref_++;
    postings_.Add(ref, labels);
  }
  auto s = Insert(hash, ref, labels);
  s->pins_ = 1;
  return s;
}

std::shared_ptr<MemSeries> Head::PinByRef(SeriesRef ref) {
  std::shared_ptr<MemSeries> s = GetByRef(ref);         // ref shard lock, released before the next
  if (s == nullptr || s->ref() != ref) return nullptr;  // none, or a WAL-replay alias
  std::lock_guard<std::mutex> l(shards_[s->hash_ % kShards].mu);
  if (s->deleted_) return nullptr;  // collected after GetByRef
  ++s->pins_;
  return s;
}

void Head::Unpin(MemSeries* series) {
  const uint64_t hash = series->hash_;
  std::lock_guard<std::mutex> l(shards_[hash % kShards].mu);
  KANSOKU_CHECK(series->pins_ > 0, "BUG: Head::Unpin without a pin");
  --series->pins_;
}

Result<std::shared_ptr<MemSeries>> Head::CreateWithRef(SeriesRef ref, const Labels& labels) {
  const uint64_t hash = HashOf(labels);
  Shard& shard = shards_[hash % kShards];
  std::lock_guard<std::mutex> l(shard.mu);
  if (auto existing = GetByRef(ref)) {
    if (existing->labels() == labels) return existing;
    return Status::Corruption("series ref " + std::to_string(ref) + " is both " +
                              existing->labels().ToString() + " and " + labels.ToString());
  }
  auto it = shard.by_hash.find(hash);
  if (it != shard.by_hash.end()) {
    for (const auto& s : it->second) {
      if (s->labels() == labels) {
        // The same series logged again under a new ref (it was collected and re-created):
        // alias the ref so both refs' samples land in one series.
        {
          std::lock_guard<std::mutex> rl(ref_shards_[ref % kShards].mu);
          ref_shards_[ref % kShards].by_ref[ref] = s;
        }
        std::unique_lock<std::shared_mutex> il(index_mu_);
        next_ref_ = std::max(next_ref_, ref + 1);
        return s;
      }
    }
  }
  {
    std::unique_lock<std::shared_mutex> il(index_mu_);
    next_ref_ = std::max(next_ref_, ref + 1);
    postings_.Add(ref, labels);
  }
  return Insert(hash, ref, labels);
}

std::shared_ptr<MemSeries> Head::GetByRef(SeriesRef ref) const {
  const RefShard& rs = ref_shards_[ref % kShards];
  std::lock_guard<std::mutex> l(rs.mu);
  auto it = rs.by_ref.find(ref);
  return it == rs.by_ref.end() ? nullptr : it->second;
}

bool Head::FindLocked(MemSeries& s, int64_t t, double* v) {
  auto it = std::lower_bound(s.ooo_.begin(), s.ooo_.end(), t,
                             [](const Sample& a, int64_t b) { return a.t < b; });
  if (it != s.ooo_.end() && it->t == t) {
    *v = it->v;
    return true;
  }
  auto search = [&](std::string_view bytes, ChunkEncoding e = ChunkEncoding::kXor) {
    ChunkIterator ci(bytes, e);
    if (ci.Seek(t) && ci.At().t == t) {
      *v = ci.At().v;
      return true;
    }
    return false;
  };
  if (s.chunks_ != nullptr &&
      s.chunks_->AnyOf([&](const ClosedChunks::Meta& m, std::string_view bytes) {
        return m.mint <= t && t <= m.maxt && search(bytes, m.encoding);
      })) {
    return true;
  }
  return !s.open_.empty() && s.open_.MinTime() <= t && t <= s.open_.MaxTime() &&
         search(s.open_.Bytes());
}

Status Head::CheckLocked(MemSeries& s, int64_t t, double v, bool* noop, bool* in_order) {
  *noop = false;
  *in_order = false;
  if (t > s.max_t_) {
    *in_order = true;
    return Status::Ok();
  }
  double existing;
  const bool found = t == s.max_t_ ? (existing = s.last_v_, true) : FindLocked(s, t, &existing);
  if (found) {
    if (Bits(existing) == Bits(v)) {
      *noop = true;
      return Status::Ok();
    }
    return Status::InvalidArgument("duplicate sample for timestamp: series " +
                                   s.labels().ToString() + " at timestamp " + std::to_string(t) +
                                   " already has a different value");
  }
  if (options_.ooo_window_ms <= 0 || t < s.max_t_ - options_.ooo_window_ms) {
    return Status::InvalidArgument(
        "out of order sample: series " + s.labels().ToString() + " at timestamp " +
        std::to_string(t) + " is older than its newest sample at " + std::to_string(s.max_t_) +
        " (out-of-order window " + std::to_string(options_.ooo_window_ms) + " ms)");
  }
  return Status::Ok();
}

Status Head::Appendable(MemSeries& s, int64_t t, double v) {
  std::lock_guard<std::mutex> l(s.mu_);
  bool noop, in_order;
  return CheckLocked(s, t, v, &noop, &in_order);
}

void Head::WriteLocked(MemSeries& s, int64_t t, double v, bool in_order) {
  if (in_order) {
    if (!s.open_.empty() &&
        (s.open_.NumSamples() >= options_.samples_per_chunk || t >= RangeEnd(s.open_.MinTime()))) {
      ClosedChunks::Meta m{s.open_.MinTime(), s.open_.MaxTime(), 0, ChunkEncoding::kXor};
      const std::string_view bytes = CloseChunk(s.open_, &m.encoding);
      s.chunks_ = ClosedChunks::With(s.chunks_.get(), m, bytes);
      s.open_ = XorChunk();
    }
    if (s.open_.empty()) chunks_.fetch_add(1);
    s.open_.Append(t, v);
    s.max_t_ = t;
    s.last_v_ = v;
  } else {
    auto it = std::lower_bound(s.ooo_.begin(), s.ooo_.end(), t,
                               [](const Sample& a, int64_t b) { return a.t < b; });
    s.ooo_.insert(it, Sample{t, v});
    ooo_appended_.fetch_add(1);
  }
}

void Head::LockForAppend(MemSeries& s, int64_t t, std::shared_lock<std::shared_mutex>* bl,
                         std::unique_lock<std::mutex>* l) {
  // Backfill below the persisted bound holds backfill_mu_ (shared) so that it cannot land in a
  // range between its snapshot and its truncation. The bound is re-read under the series lock:
  // a persist raises it before snapshotting, so an append that missed the snapshot sees it.
  const bool backfill = t < min_valid_.load();
  if (backfill) bl->lock();
  *l = std::unique_lock<std::mutex>(s.mu_);
  if (!backfill && t < min_valid_.load()) {
    l->unlock();
    bl->lock();
    l->lock();
  }
}

Status Head::Append(MemSeries& s, int64_t t, double v, bool* noop_out) {
  std::shared_lock<std::shared_mutex> bl(backfill_mu_, std::defer_lock);
  std::unique_lock<std::mutex> l;
  LockForAppend(s, t, &bl, &l);
  bool noop, in_order;
  KANSOKU_RETURN_IF_ERROR(CheckLocked(s, t, v, &noop, &in_order));
  if (noop_out != nullptr) *noop_out = noop;
  if (noop) return Status::Ok();
  WriteLocked(s, t, v, in_order);
  samples_appended_.fetch_add(1);
  NoteTime(t);
  return Status::Ok();
}

size_t Head::AppendRun(MemSeries& s, const Sample* samples, size_t n, Status* first_error) {
  if (n == 0) return 0;
  int64_t lo = samples[0].t;
  for (size_t i = 1; i < n; ++i) lo = std::min(lo, samples[i].t);
  // As in Append, for the run's oldest sample (a run below the bound holds the shared lock).
  std::shared_lock<std::shared_mutex> bl(backfill_mu_, std::defer_lock);
  std::unique_lock<std::mutex> l;
  LockForAppend(s, lo, &bl, &l);
  size_t rejected = 0;
  uint64_t appended = 0;
  int64_t min_t = INT64_MAX;
  int64_t max_t = INT64_MIN;
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = samples[i].t;
    const double v = samples[i].v;
    bool noop, in_order;
    Status st = CheckLocked(s, t, v, &noop, &in_order);
    if (!st.ok()) {
      ++rejected;
      if (first_error != nullptr && first_error->ok()) *first_error = std::move(st);
      continue;
    }
    if (noop) continue;
    WriteLocked(s, t, v, in_order);
    ++appended;
    min_t = std::min(min_t, t);
    max_t = std::max(max_t, t);
  }
  if (appended > 0) {
    samples_appended_.fetch_add(appended);
    NoteTime(min_t);
    if (max_t != min_t) NoteTime(max_t);
  }
  return rejected;
}

void Head::SnapshotLocked(MemSeries& s, int64_t mint, int64_t maxt, std::vector<ChunkRef>* out) {
  if (s.chunks_ != nullptr) {
    s.chunks_->AnyOf([&](const ClosedChunks::Meta& m, std::string_view bytes) {
      if (m.maxt < mint || m.mint > maxt) return false;
      ChunkRef r;
      r.owner = s.chunks_;  // the list: immutable, so readable without the series lock
      r.data = bytes;
      r.encoding = m.encoding;
      r.mint = m.mint;
      r.maxt = m.maxt;
      out->push_back(std::move(r));
      return false;
    });
  }
  if (!s.open_.empty() && s.open_.MaxTime() >= mint && s.open_.MinTime() <= maxt) {
    out->push_back(
        MakeOwnedChunk(std::string(s.open_.Bytes()), s.open_.MinTime(), s.open_.MaxTime()));
  }
  if (!s.ooo_.empty()) {
    XorChunk c;
    for (const auto& smp : s.ooo_) {
      if (smp.t < mint || smp.t > maxt) continue;
      if (c.NumSamples() == XorChunk::kMaxSamples) {
        out->push_back(MakeOwnedChunk(std::string(c.Bytes()), c.MinTime(), c.MaxTime()));
        c = XorChunk();
      }
      c.Append(smp.t, smp.v);
    }
    if (!c.empty()) {
      out->push_back(MakeOwnedChunk(std::string(c.Bytes()), c.MinTime(), c.MaxTime()));
    }
  }
}

namespace {

constexpr uint32_t kNoRank = UINT32_MAX;

// The permutation that puts n items in label order: the ranked ones (rank[i] != kNoRank) by
// rank, the others by labels, the two runs merged by labels. The ranks come from one ranking
// (Head::RefreshLabelOrder), so among ranked items rank order is label order.
template <class LabelsAt>
std::vector<uint32_t> LabelOrder(const std::vector<uint32_t>& rank, LabelsAt labels_at) {
  std::vector<uint32_t> order(rank.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto by_labels = [&](uint32_t a, uint32_t b) { return labels_at(a) < labels_at(b); };
  const auto mid =
      std::partition(order.begin(), order.end(), [&](uint32_t i) { return rank[i] != kNoRank; });
  std::sort(order.begin(), mid, [&](uint32_t a, uint32_t b) { return rank[a] < rank[b]; });
  if (mid != order.end()) {
    std::sort(mid, order.end(), by_labels);
    std::inplace_merge(order.begin(), mid, order.end(), by_labels);
  }
  return order;
}

// items permuted by order (each moved once).
template <class T>
std::vector<T> Permuted(std::vector<T> items, const std::vector<uint32_t>& order) {
  std::vector<T> out;
  out.reserve(items.size());
  for (uint32_t i : order) out.push_back(std::move(items[i]));
  return out;
}

}  // namespace

Result<Postings> Head::Matching(const std::vector<Matcher>& matchers) const {
  std::shared_lock<std::shared_mutex> il(index_mu_);
  return SelectPostings(postings_, matchers);
}

Result<std::vector<SeriesData>> Head::Select(const std::vector<Matcher>& matchers, int64_t mint,
                                             int64_t maxt) {
  KANSOKU_ASSIGN_OR_RETURN(Postings refs, Matching(matchers));
  return Select(refs, mint, maxt);
}

std::vector<SeriesData> Head::Select(const Postings& refs, int64_t mint, int64_t maxt) {
  std::vector<SeriesData> out;
  std::vector<std::shared_ptr<MemSeries>> found;  // for their ranks
  for (SeriesRef ref : refs) {
    auto s = GetByRef(ref);
    if (s == nullptr) continue;
    SeriesData d;
    {
      std::lock_guard<std::mutex> l(s->mu_);
      SnapshotLocked(*s, mint, maxt, &d.chunks);
    }
    if (d.chunks.empty()) continue;
    d.labels = s->labels();
    out.push_back(std::move(d));
    found.push_back(std::move(s));
  }
  const auto order =
      LabelOrder(RanksOf(found), [&](uint32_t i) -> const Labels& { return out[i].labels; });
  return Permuted(std::move(out), order);
}

Result<std::vector<std::shared_ptr<MemSeries>>> Head::SelectLabels(
    const std::vector<Matcher>& matchers, int64_t mint, int64_t maxt) {
  Postings refs;
  {
    std::shared_lock<std::shared_mutex> il(index_mu_);
    KANSOKU_ASSIGN_OR_RETURN(refs, SelectPostings(postings_, matchers));
  }
  std::vector<std::shared_ptr<MemSeries>> out;
  for (SeriesRef ref : refs) {
    auto s = GetByRef(ref);
    if (s == nullptr) continue;
    bool any = false;
    {
      std::lock_guard<std::mutex> l(s->mu_);
      if (s->chunks_ != nullptr) {
        for (const ClosedChunks::Meta& m : s->chunks_->meta()) {
          if (m.maxt >= mint && m.mint <= maxt) {
            any = true;
            break;
          }
        }
      }
      any = any || (!s->open_.empty() && s->open_.MaxTime() >= mint && s->open_.MinTime() <= maxt);
      if (!any && !s->ooo_.empty()) {
        auto it = std::lower_bound(s->ooo_.begin(), s->ooo_.end(), mint,
                                   [](const Sample& x, int64_t t) { return x.t < t; });
        any = it != s->ooo_.end() && it->t <= maxt;
      }
    }
    if (!any) continue;
    out.push_back(std::move(s));
  }
  const auto order =
      LabelOrder(RanksOf(out), [&](uint32_t i) -> const Labels& { return out[i]->labels(); });
  return Permuted(std::move(out), order);
}

std::vector<uint32_t> Head::RanksOf(const std::vector<std::shared_ptr<MemSeries>>& series) const {
  std::vector<uint32_t> rank(series.size());
  std::shared_lock<std::shared_mutex> ol(order_mu_);
  for (size_t i = 0; i < series.size(); ++i) rank[i] = series[i]->order_rank_;
  return rank;
}

bool Head::RefreshLabelOrder(int64_t min_interval_ms) {
  std::lock_guard<std::mutex> rl(refresh_mu_);
  const uint64_t created = series_created_.load();
  if (created == ranked_created_) return false;
  const auto start = std::chrono::steady_clock::now();
  if (start < next_refresh_) return false;
  std::vector<std::shared_ptr<MemSeries>> all = AllSeries();
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->labels() < b->labels(); });
  {
    std::unique_lock<std::shared_mutex> ol(order_mu_);
    for (size_t i = 0; i < all.size(); ++i) all[i]->order_rank_ = static_cast<uint32_t>(i);
  }
  ranked_created_ = created;
  const auto took = std::chrono::steady_clock::now() - start;
  next_refresh_ = start + std::max<std::chrono::steady_clock::duration>(
                              std::chrono::milliseconds(min_interval_ms), took * 100);
  return true;
}

std::vector<SeriesData> Head::SnapshotAll(int64_t mint, int64_t maxt) {
  std::vector<std::shared_ptr<MemSeries>> all = AllSeries();
  const std::vector<uint32_t> all_rank = RanksOf(all);
  std::vector<SeriesData> out;
  std::vector<uint32_t> rank;
  for (size_t i = 0; i < all.size(); ++i) {
    MemSeries& s = *all[i];
    SeriesData d;
    {
      std::lock_guard<std::mutex> l(s.mu_);
      SnapshotLocked(s, mint, maxt, &d.chunks);
    }
    if (d.chunks.empty()) continue;
    d.labels = s.labels();
    rank.push_back(all_rank[i]);
    out.push_back(std::move(d));
  }
  const auto order = LabelOrder(rank, [&](uint32_t i) -> const Labels& { return out[i].labels; });
  return Permuted(std::move(out), order);
}

Status Head::ForEachSnapshot(
    int64_t mint, int64_t maxt,
    const std::function<Status(const Labels&, std::vector<ChunkRef>)>& fn) {
  std::vector<std::shared_ptr<MemSeries>> all = AllSeries();
  {
    const auto order =
        LabelOrder(RanksOf(all), [&](uint32_t i) -> const Labels& { return all[i]->labels(); });
    all = Permuted(std::move(all), order);
  }
  std::vector<ChunkRef> chunks;
  for (const auto& s : all) {
    chunks.clear();
    {
      std::lock_guard<std::mutex> l(s->mu_);
      SnapshotLocked(*s, mint, maxt, &chunks);
    }
    if (chunks.empty()) continue;
    KANSOKU_RETURN_IF_ERROR(fn(s->labels(), std::move(chunks)));
  }
  return Status::Ok();
}

std::vector<std::string> Head::LabelNames() const {
  std::shared_lock<std::shared_mutex> il(index_mu_);
  return postings_.LabelNames();
}

std::vector<std::string> Head::LabelValues(std::string_view name) const {
  std::shared_lock<std::shared_mutex> il(index_mu_);
  return postings_.LabelValues(name);
}

std::vector<std::shared_ptr<MemSeries>> Head::AllSeries() const {
  std::vector<std::shared_ptr<MemSeries>> out;
  for (const auto& rs : ref_shards_) {
    std::lock_guard<std::mutex> l(rs.mu);
    for (const auto& [ref, s] : rs.by_ref) {
      if (s->ref() == ref) out.push_back(s);  // skip replay aliases
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->ref() < b->ref(); });
  return out;
}

std::vector<Sample> Head::SamplesOf(MemSeries& s) {
  std::vector<ChunkRef> chunks;
  {
    std::lock_guard<std::mutex> l(s.mu_);
    SnapshotLocked(s, INT64_MIN, INT64_MAX, &chunks);
  }
  std::vector<Sample> out;
  // Without out-of-order samples the chunks follow each other in time (closed chunks, then the
  // open one): decoded one after the other, without the merging iterator (whose heap was ~20%
  // of a checkpoint's CPU).
  bool in_order = true;
  for (size_t i = 1; i < chunks.size() && in_order; ++i) {
    in_order = chunks[i].mint > chunks[i - 1].maxt;
  }
  if (in_order) {
    Status st;
    for (const ChunkRef& c : chunks) {
      if (c.encoding == ChunkEncoding::kPacked) {
        st = DecodePackedChunk(c.data, &out);
      } else if (c.encoding == ChunkEncoding::kXor) {
        st = DecodeXorChunk(c.data, &out);
      } else {
        st = Status::Corruption("unexpected chunk encoding in the head");
      }
      if (!st.ok()) break;
    }
    if (st.ok()) return out;
    out.clear();  // the iterator below stops at the bad chunk, as before
  }
  MergedSeriesIterator it(std::move(chunks), INT64_MIN, INT64_MAX);
  while (it.Next()) out.push_back(it.At());
  return out;
}

bool Head::AllSeriesPast(int64_t t) const {
  for (const auto& s : AllSeries()) {
    std::lock_guard<std::mutex> l(s->mu_);
    if (s->max_t_ >= t) continue;
    const bool below = (s->chunks_ != nullptr && s->chunks_->meta().front().mint < t) ||
                       (!s->open_.empty() && s->open_.MinTime() < t) ||
                       (!s->ooo_.empty() && s->ooo_.front().t < t);
    if (below) return false;
  }
  return true;
}

void Head::SetMinValidTime(int64_t t) {
  int64_t cur = min_valid_.load();
  while (t > cur && !min_valid_.compare_exchange_weak(cur, t)) {
  }
}

size_t Head::Truncate(int64_t lo, int64_t hi) {
  SetMinValidTime(hi);
  std::vector<std::shared_ptr<MemSeries>> empty;
  int64_t new_min = INT64_MAX;
  // Chunks never straddle a multiple of chunk_range_ms, and callers pass aligned ranges, so a
  // chunk is either inside [lo, hi) or outside it.
  auto inside = [&](int64_t mint, int64_t maxt) { return mint >= lo && maxt < hi; };
  for (const auto& s : AllSeries()) {
    std::lock_guard<std::mutex> l(s->mu_);
    int64_t removed = 0;
    if (s->chunks_ != nullptr) {
      auto drop = [&](const ClosedChunks::Meta& m) { return inside(m.mint, m.maxt); };
      for (const ClosedChunks::Meta& m : s->chunks_->meta()) removed += drop(m) ? 1 : 0;
      if (removed > 0) s->chunks_ = ClosedChunks::Without(*s->chunks_, drop);
    }
    if (!s->open_.empty() && inside(s->open_.MinTime(), s->open_.MaxTime())) {
      s->open_ = XorChunk();
      ++removed;
    }
    chunks_.fetch_sub(removed);
    std::erase_if(s->ooo_, [&](const Sample& x) { return x.t >= lo && x.t < hi; });
    int64_t first = INT64_MAX;
    if (s->chunks_ != nullptr) first = s->chunks_->meta().front().mint;
    if (!s->open_.empty()) first = std::min(first, s->open_.MinTime());
    if (!s->ooo_.empty()) first = std::min(first, s->ooo_.front().t);
    if (first == INT64_MAX) {
      empty.push_back(s);
    } else {
      new_min = std::min(new_min, first);
    }
  }
  min_time_.store(new_min);
  if (new_min == INT64_MAX) max_time_.store(INT64_MIN);
  size_t removed = 0;
  for (const auto& s : empty) {
    const uint64_t hash = s->hash_;
    Shard& shard = shards_[hash % kShards];
    {
      std::lock_guard<std::mutex> l(shard.mu);
      if (s->pins_ > 0) continue;
      {
        std::lock_guard<std::mutex> sl(s->mu_);
        if (s->chunks_ != nullptr || !s->open_.empty() || !s->ooo_.empty()) continue;
      }
      s->deleted_ = true;
      auto it = shard.by_hash.find(hash);
      if (it != shard.by_hash.end()) {
        std::erase(it->second, s);
        if (it->second.empty()) shard.by_hash.erase(it);
      }
      std::unique_lock<std::shared_mutex> il(index_mu_);
      postings_.Delete(s->ref(), s->labels());
    }
    {
      std::lock_guard<std::mutex> l(ref_shards_[s->ref() % kShards].mu);
      ref_shards_[s->ref() % kShards].by_ref.erase(s->ref());
    }
    num_series_.fetch_sub(1);
    series_removed_.fetch_add(1);
    ++removed;
  }
  return removed;
}

HeadStats Head::Stats() const {
  HeadStats st;
  st.series = num_series_.load();
  st.samples_appended = samples_appended_.load();
  st.ooo_samples_appended = ooo_appended_.load();
  st.chunks = static_cast<uint64_t>(std::max<int64_t>(0, chunks_.load()));
  st.series_created = series_created_.load();
  st.series_removed = series_removed_.load();
  st.min_time = min_time_.load();
  st.max_time = max_time_.load();
  return st;
}

SeriesRef Head::LastRef() const {
  std::shared_lock<std::shared_mutex> il(index_mu_);
  return next_ref_ - 1;
}

}  // namespace kansoku::tsdb
