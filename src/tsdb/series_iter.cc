#include "tsdb/series_iter.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "base/same_bytes.h"

namespace kansoku::tsdb {
namespace {

struct OwnedBytes {
  std::string bytes;
};

bool HeapLess(int64_t at, size_t ao, int64_t bt, size_t bo) { return at != bt ? at < bt : ao < bo; }

}  // namespace

ChunkRef MakeOwnedChunk(std::string bytes, int64_t mint, int64_t maxt) {
  auto owned = std::make_shared<OwnedBytes>();
  owned->bytes = std::move(bytes);
  ChunkRef c;
  c.data = owned->bytes;
  c.owner = std::move(owned);
  c.mint = mint;
  c.maxt = maxt;
  return c;
}

MergedSeriesIterator::MergedSeriesIterator(std::vector<ChunkRef> chunks, int64_t mint, int64_t maxt)
    : chunks_(std::move(chunks)), mint_(mint), maxt_(maxt) {}

void MergedSeriesIterator::Prepare() {
  prepared_ = true;
  // Stable: equal mints keep list order, which is the duplicate-resolution order.
  std::vector<size_t> idx(chunks_.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return chunks_[a].mint < chunks_[b].mint; });
  std::vector<ChunkRef> sorted;
  sorted.reserve(chunks_.size());
  for (size_t i : idx) {
    if (chunks_[i].maxt < mint_ || chunks_[i].mint > maxt_) continue;
    sorted.push_back(std::move(chunks_[i]));
    order_.push_back(i);
  }
  chunks_ = std::move(sorted);
}

bool MergedSeriesIterator::CheckCrc(const ChunkRef& c) {
  if (!c.check_crc) return true;
  if (c.crc_ok != nullptr && c.crc_ok->load(std::memory_order_relaxed)) return true;
  const auto enc = static_cast<unsigned char>(c.encoding);
  uLong crc = crc32(0L, &enc, 1);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(c.data.data()), static_cast<uInt>(c.data.size()));
  if (static_cast<uint32_t>(crc) != c.crc) {
    status_ = Status::Corruption("chunk checksum mismatch");
    return false;
  }
  if (c.crc_ok != nullptr) c.crc_ok->store(true, std::memory_order_relaxed);
  return true;
}

bool MergedSeriesIterator::Open(size_t i, int64_t seek_to) {
  const ChunkRef& c = chunks_[i];
  if (!CheckCrc(c)) return false;
  Active a{ChunkIterator(c.data, c.encoding), order_[i]};
  if (!a.it.Seek(seek_to)) {
    if (!a.it.status().ok()) {
      status_ = a.it.status();
      return false;
    }
    return true;  // nothing at or after seek_to
  }
  heap_.push_back(std::move(a));
  std::push_heap(heap_.begin(), heap_.end(), [](const Active& x, const Active& y) {
    return HeapLess(y.it.At().t, y.order, x.it.At().t, x.order);
  });
  return true;
}

bool MergedSeriesIterator::AdmitUpTo(int64_t t) {
  // Open every chunk that could hold a sample <= the current heap minimum.
  while (next_ < chunks_.size()) {
    const int64_t bound = heap_.empty() ? INT64_MAX : heap_.front().it.At().t;
    if (!heap_.empty() && chunks_[next_].mint > bound) break;
    if (!Open(next_++, t)) return false;
  }
  return true;
}

bool MergedSeriesIterator::Advance(int64_t lower) {
  auto cmp = [](const Active& x, const Active& y) {
    return HeapLess(y.it.At().t, y.order, x.it.At().t, x.order);
  };
  for (;;) {
    if (!AdmitUpTo(lower)) return false;
    if (heap_.empty()) return false;
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    Active& top = heap_.back();
    const Sample s = top.it.At();
    const bool fresh = (!started_ || s.t > cur_.t) && s.t >= lower;
    if (top.it.Next()) {
      std::push_heap(heap_.begin(), heap_.end(), cmp);
    } else {
      if (!top.it.status().ok()) {
        status_ = top.it.status();
        return false;
      }
      heap_.pop_back();
    }
    if (fresh) {
      if (s.t > maxt_) return false;
      cur_ = s;
      started_ = true;
      return true;
    }
  }
}

bool MergedSeriesIterator::Next() {
  if (!prepared_) Prepare();
  if (done_) return false;
  if (!Advance(started_ ? cur_.t + 1 : mint_)) {
    done_ = true;
    return false;
  }
  return true;
}

bool MergedSeriesIterator::Seek(int64_t target) {
  if (!prepared_) Prepare();
  if (done_) return false;
  if (started_ && cur_.t >= target) return true;
  if (target < mint_) target = mint_;
  // Re-seek every open iterator; chunks ending before target are skipped as they open.
  std::vector<Active> old;
  old.swap(heap_);
  for (auto& a : old) {
    if (a.it.Seek(target)) {
      heap_.push_back(std::move(a));
    } else if (!a.it.status().ok()) {
      status_ = a.it.status();
      done_ = true;
      return false;
    }
  }
  std::make_heap(heap_.begin(), heap_.end(), [](const Active& x, const Active& y) {
    return HeapLess(y.it.At().t, y.order, x.it.At().t, x.order);
  });
  while (next_ < chunks_.size() && chunks_[next_].maxt < target) ++next_;
  if (!Advance(target)) {
    done_ = true;
    return false;
  }
  return true;
}

namespace {

// SampleFacts::interval of n samples: their one step when there is one (> 0), else 0.
int64_t ScanInterval(const Sample* s, size_t n) {
  if (n < 2) return 0;
  const int64_t d = s[1].t - s[0].t;
  bool same = d > 0;
  for (size_t i = 2; i < n; ++i) same &= s[i].t - s[i - 1].t == d;
  return same ? d : 0;
}

// SampleFacts of samples by looking at each (chunks whose decoder does not report them).
SampleFacts ScanFacts(const Sample* s, size_t n) {
  bool nan = false, decrease = false;
  for (size_t i = 0; i < n; ++i) nan |= std::isnan(s[i].v);
  for (size_t i = 1; i < n; ++i) decrease |= s[i].v < s[i - 1].v;
  return SampleFacts{.no_nan = !nan, .no_decrease = !decrease, .interval = ScanInterval(s, n)};
}

}  // namespace

Status MergedSeriesIterator::ReadRange(int64_t mint, int64_t maxt, std::vector<Sample>* out,
                                       SampleFacts* facts) {
  if (!prepared_) Prepare();
  KANSOKU_CHECK(!started_ && !done_ && heap_.empty(), "BUG: ReadRange on a used iterator");
  bool disjoint = true;
  for (size_t i = 1; i < chunks_.size() && disjoint; ++i) {
    disjoint = chunks_[i - 1].maxt < chunks_[i].mint;
  }
  if (!disjoint) return SeriesIterator::ReadRange(mint, maxt, out, facts);
  done_ = true;
  // The facts of what is kept: each chunk's (a subsequence of samples without NaN that never
  // decrease never decreases either), and the first kept value of a chunk against the last
  // kept one before it.
  // The interval likewise: each kept piece's (a contiguous run of a chunk with one step keeps
  // it) and the gaps between pieces must all be the same step. -1: none seen yet (a piece of one
  // sample has no step of its own).
  SampleFacts all{.no_nan = true, .no_decrease = true};
  bool have_prev = false;
  double prev_v = 0;
  int64_t prev_t = 0, step = -1;
  const auto same_step = [&step](int64_t d) {
    if (step < 0) {
      step = d;
    } else if (step != d) {
      step = 0;
    }
  };
  const auto note = [&](size_t from, size_t to, const SampleFacts& cf) {
    if (facts == nullptr || from == to) return;
    const Sample* d = out->data();
    all.no_nan = all.no_nan && cf.no_nan;
    all.no_decrease = all.no_decrease && cf.no_decrease && !(have_prev && d[from].v < prev_v);
    if (have_prev) same_step(d[from].t - prev_t);
    if (to - from >= 2) same_step(cf.interval);
    have_prev = true;
    prev_v = d[to - 1].v;
    prev_t = d[to - 1].t;
  };
  const auto done = [&] {
    if (facts != nullptr) {
      all.interval = step > 0 ? step : 0;
      *facts = all;
    }
    return Status::Ok();
  };
  const int64_t lo = std::max(mint, mint_);
  const int64_t hi = std::min(maxt, maxt_);
  // The chunks' first bytes are usually not in the cache any more (the select touched them
  // long before): prefetched together, the misses overlap instead of one after the other.
  for (const ChunkRef& c : chunks_) __builtin_prefetch(c.data.data());
  size_t expect = 0;
  for (const ChunkRef& c : chunks_) {
    if (c.maxt >= lo && c.mint <= hi && c.data.size() >= 2 && !IsRollupEncoding(c.encoding)) {
      expect += (size_t{static_cast<uint8_t>(c.data[0])} << 8) | static_cast<uint8_t>(c.data[1]);
    }
  }
  out->reserve(out->size() + expect);
  int64_t last = INT64_MIN;
  bool first = true;
  for (const ChunkRef& c : chunks_) {
    if (c.maxt < lo) continue;
    if (c.mint > hi) break;
    if (!CheckCrc(c)) return status_;
    // Decoded in bulk straight into *out, then trimmed to the range.
    const size_t base = out->size();
    SampleFacts cf;
    status_ = c.encoding == ChunkEncoding::kPacked ? DecodePackedChunk(c.data, out, &cf)
              : c.encoding == ChunkEncoding::kXor  ? DecodeXorChunk(c.data, out)
              : IsRollupEncoding(c.encoding)       ? DecodeRollupChunk(c.data, c.encoding, out)
                                                   : Status::Corruption("chunk: unknown encoding");
    if (!status_.ok()) return status_;
    const size_t end = out->size();
    if (facts != nullptr && c.encoding != ChunkEncoding::kPacked) {
      cf = ScanFacts(out->data() + base, end - base);
    }
    if (end > base && (*out)[base].t >= lo && (*out)[end - 1].t <= hi &&
        (first || (*out)[base].t > last)) {
      // A chunk inside the range (most of a long query): kept as decoded when its times
      // strictly increase (one branch-free pass), without the per-sample filter below.
      // (DecodePackedChunk has checked that already.)
      bool increasing = true;
      const Sample* d = out->data();
      if (c.encoding != ChunkEncoding::kPacked) {
        for (size_t r = base + 1; r < end; ++r) increasing &= d[r].t > d[r - 1].t;
      }
      if (increasing) {
        last = d[end - 1].t;
        first = false;
        note(base, end, cf);
        continue;
      }
    }
    size_t w = base;
    bool past = false;
    for (size_t r = base; r < out->size(); ++r) {
      const Sample s = (*out)[r];
      if (s.t < lo || (!first && s.t <= last)) continue;  // t <= last only in corrupt data
      if (s.t > hi) {
        past = true;
        break;
      }
      (*out)[w++] = s;
      last = s.t;
      first = false;
    }
    out->resize(w);
    // The kept samples are a run of the chunk's in valid data; their step is checked anyway.
    cf.interval = ScanInterval(out->data() + base, w - base);
    note(base, w, cf);
    if (past) return done();
  }
  return done();
}

namespace {

// The step both k-way merges below share: *same becomes the lists whose current entry is the
// smallest (by cmp), one three-way comparison per list; empty
// when every list is done. size(i) is list i's length; cmp(i, j) compares list i's current
// entry with list j's (<0, 0, >0).
template <class Size, class Cmp>
void SmallestHeads(size_t lists, const std::vector<size_t>& pos, Size size, Cmp cmp,
                   std::vector<size_t>* same) {
  same->clear();
  for (size_t i = 0; i < lists; ++i) {
    if (pos[i] >= size(i)) continue;
    if (!same->empty()) {
      const int c = cmp(i, same->front());
      if (c > 0) continue;
      if (c < 0) same->clear();
    }
    same->push_back(i);
  }
}

// Label k of a series with labels of its own or by reference (SeriesData::symbols).
size_t NumLabels(const SeriesData& d) {
  return d.symbols != nullptr ? d.label_syms.size() / 2 : d.labels.size();
}
std::string_view LabelName(const SeriesData& d, size_t k) {
  return d.symbols != nullptr ? std::string_view(d.symbols[d.label_syms[2 * k]])
                              : std::string_view(d.labels.items()[k].name);
}
std::string_view LabelValue(const SeriesData& d, size_t k) {
  return d.symbols != nullptr ? std::string_view(d.symbols[d.label_syms[2 * k + 1]])
                              : std::string_view(d.labels.items()[k].value);
}

// Labels' order (label by label, name then value) for either kind of series.
int CompareLabels(const SeriesData& a, const SeriesData& b) {
  const size_t na = NumLabels(a), nb = NumLabels(b);
  for (size_t k = 0; k < std::min(na, nb); ++k) {
    // Mostly equal (the same series from several sources): CompareBytes passes them over.
    if (const int c = CompareBytes(LabelName(a, k), LabelName(b, k)); c != 0) return c;
    if (const int c = CompareBytes(LabelValue(a, k), LabelValue(b, k)); c != 0) return c;
  }
  return na < nb ? -1 : (na > nb ? 1 : 0);
}

}  // namespace

void ForEachMergedLabels(const std::vector<LabelViewList>& lists,
                         const std::function<bool(std::span<const std::string_view>)>& fn) {
  std::vector<size_t> pos(lists.size(), 0);
  std::vector<size_t> same;  // lists whose current entry has the smallest labels
  same.reserve(lists.size());
  // Names and values alternate, so comparing the flat sequences compares label by label.
  const auto entry = [&](size_t i) {
    const LabelViewList& l = lists[i];
    return std::span<const std::string_view>(l.parts.data() + l.begin[pos[i]],
                                             l.begin[pos[i] + 1] - l.begin[pos[i]]);
  };
  // Sources mostly hold the same series: a part equal in both (CompareBytes, no call for short
  // strings) is passed over before the first differing one is compared.
  const auto cmp = [&](size_t i, size_t j) {
    const auto a = entry(i), b = entry(j);
    const size_t n = std::min(a.size(), b.size());
    for (size_t k = 0; k < n; ++k) {
      if (const int c = CompareBytes(a[k], b[k]); c != 0) return c < 0 ? -1 : 1;
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  };
  for (;;) {
    SmallestHeads(
        lists.size(), pos, [&](size_t i) { return lists[i].size(); }, cmp, &same);
    if (same.empty()) break;
    if (!fn(entry(same.front()))) return;
    for (size_t i : same) ++pos[i];
  }
}

std::vector<SeriesData> MergeLabelLists(const std::vector<LabelViewList>& lists) {
  std::vector<SeriesData> out;
  size_t total = 0;
  for (const auto& l : lists) total = std::max(total, l.size());
  out.reserve(total);
  ForEachMergedLabels(lists, [&](std::span<const std::string_view> min) {
    std::vector<Label> labels;
    labels.reserve(min.size() / 2);
    for (size_t k = 0; k + 1 < min.size(); k += 2) {
      labels.push_back(Label{std::string(min[k]), std::string(min[k + 1])});
    }
    SeriesData d;
    d.labels = Labels::FromSortedUnchecked(std::move(labels));
    out.push_back(std::move(d));
    return true;
  });
  return out;
}

namespace {

// MergeSeriesLists over lists[i][pos[i] .. end[i]) into *out. Touches only those entries, so
// two calls over disjoint ranges may run at once.
void MergeRanges(std::vector<std::vector<SeriesData>>& lists, std::vector<size_t> pos,
                 const std::vector<size_t>& end, std::vector<SeriesData>* out) {
  size_t total = 0;
  for (size_t i = 0; i < lists.size(); ++i) total = std::max(total, end[i] - pos[i]);
  out->reserve(total);
  std::vector<size_t> same;  // lists whose current series has the smallest labels
  same.reserve(lists.size());
  const auto cmp = [&](size_t i, size_t j) {
    return CompareLabels(lists[i][pos[i]], lists[j][pos[j]]);
  };
  for (;;) {
    SmallestHeads(
        lists.size(), pos, [&](size_t i) { return end[i]; }, cmp, &same);
    if (same.empty()) break;
    SeriesData merged;
    // Labels moved from a series that has its own, built once otherwise.
    const auto own = std::find_if(same.begin(), same.end(),
                                  [&](size_t i) { return lists[i][pos[i]].symbols == nullptr; });
    if (own != same.end()) {
      merged.labels = std::move(lists[*own][pos[*own]].labels);
    } else {
      const SeriesData& d = lists[same.front()][pos[same.front()]];
      std::vector<Label> labels;
      labels.reserve(NumLabels(d));
      for (size_t k = 0; k < NumLabels(d); ++k) {
        labels.push_back(Label{std::string(LabelName(d, k)), std::string(LabelValue(d, k))});
      }
      merged.labels = Labels::FromSortedUnchecked(std::move(labels));
    }
    if (same.size() == 1) {
      merged.chunks = std::move(lists[same.front()][pos[same.front()]].chunks);
      ++pos[same.front()];
    } else {
      size_t n = 0;
      for (size_t i : same) n += lists[i][pos[i]].chunks.size();
      merged.chunks.reserve(n);  // one allocation, not one per growth
      for (size_t i : same) {
        for (auto& c : lists[i][pos[i]].chunks) merged.chunks.push_back(std::move(c));
        ++pos[i];
      }
    }
    out->push_back(std::move(merged));
  }
}

}  // namespace

std::vector<SeriesData> MergeSeriesLists(std::vector<std::vector<SeriesData>> lists,
                                         int parallelism) {
  const size_t n = lists.size();
  std::vector<size_t> begin(n, 0), end(n);
  size_t longest = 0;
  for (size_t i = 0; i < n; ++i) {
    end[i] = lists[i].size();
    if (end[i] > end[longest]) longest = i;
  }
  std::vector<SeriesData> out;
  // Below this a thread costs more than half the merge saves.
  constexpr size_t kSplitFrom = 2048;
  if (parallelism < 2 || n < 2 || end[longest] < kSplitFrom) {
    MergeRanges(lists, begin, end, &out);
    return out;
  }
  // Split at the longest list's middle series: in every list, the series below it go to one
  // half and the rest to the other, so equal series never straddle the halves, and the first
  // half's output comes before the second's.
  const SeriesData& pivot = lists[longest][end[longest] / 2];
  std::vector<size_t> mid(n);
  for (size_t i = 0; i < n; ++i) {
    mid[i] = static_cast<size_t>(
        std::partition_point(lists[i].begin(), lists[i].end(),
                             [&](const SeriesData& d) { return CompareLabels(d, pivot) < 0; }) -
        lists[i].begin());
  }
  std::vector<SeriesData> second;
  std::thread t([&] { MergeRanges(lists, mid, end, &second); });
  MergeRanges(lists, begin, mid, &out);
  t.join();
  out.reserve(out.size() + second.size());
  for (auto& d : second) out.push_back(std::move(d));
  return out;
}

}  // namespace kansoku::tsdb
