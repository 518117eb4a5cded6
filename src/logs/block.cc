#include "logs/block.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL  // the same XXH3 values, inlined: one hash per token at ingest
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "logs/codec.h"

namespace kansoku::logs {

uint64_t TokenHash(std::string_view token) { return XXH3_64bits(token.data(), token.size()); }

uint64_t LabelsHash(const std::vector<KV>& labels) {
  // Every appended record is hashed (head stream lookup): one XXH3 call over the length-prefixed
  // names and values copied to the stack instead of two calls per label. Label sets too long for
  // the buffer chain one call per string. Which way a label set goes depends on the labels only,
  // so equal labels still hash equally. In memory only (never written to a file).
  char buf[512];
  size_t n = 0;
  for (const auto& kv : labels) {
    if (n + 8 + kv.name.size() + kv.value.size() > sizeof buf) {
      uint64_t h = 0x9E3779B97F4A7C15ULL;
      for (const auto& l : labels) {
        h = XXH3_64bits_withSeed(l.name.data(), l.name.size(), h);
        h = XXH3_64bits_withSeed(l.value.data(), l.value.size(), h ^ 0x5bd1e9955bd1e995ULL);
      }
      return h;
    }
    for (const std::string* s : {&kv.name, &kv.value}) {
      uint32_t len = static_cast<uint32_t>(s->size());
      std::memcpy(buf + n, &len, 4);
      std::memcpy(buf + n + 4, s->data(), s->size());
      n += 4 + s->size();
    }
  }
  return XXH3_64bits(buf, n);
}

struct StreamIds::Impl {
  mutable std::mutex mu;
  std::unordered_multimap<uint64_t, uint32_t> index;  // GUARDED_BY(mu) hash -> id
  std::vector<std::vector<KV>> labels;                // GUARDED_BY(mu) by id
};

StreamIds::StreamIds() : impl_(std::make_unique<Impl>()) {}
StreamIds::~StreamIds() = default;

uint32_t StreamIds::Intern(const std::vector<KV>& labels, uint64_t hash) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto [lo, hi] = impl_->index.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    if (impl_->labels[it->second] == labels) return it->second;  // exact, not the hash alone
  }
  auto id = static_cast<uint32_t>(impl_->labels.size());
  impl_->labels.push_back(labels);
  impl_->index.emplace(hash, id);
  return id;
}

uint32_t StreamIds::size() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return static_cast<uint32_t>(impl_->labels.size());
}

namespace {

constexpr char kMagic[4] = {'K', 'L', 'B', '1'};
// 1: one page per column, one bloom filter; 2: pages, no message token counts (both still read).
constexpr uint8_t kVersion = 3;
constexpr uint8_t kBloomK = 7;
// Message token counts: tokens held by at least rows / kCountedTokenRowDivisor rows (and 2), the
// kMaxCountedTokens most frequent of them.
constexpr uint64_t kCountedTokenRowDivisor = 256;
constexpr size_t kMaxCountedTokens = 128;

inline void BloomSet(std::vector<uint64_t>& bits, uint64_t h) {
  uint64_t n = bits.size() * 64;
  uint64_t h1 = h, h2 = (h >> 32) | (h << 32);
  h2 |= 1;
  for (int i = 0; i < kBloomK; ++i) {
    uint64_t b = (h1 + static_cast<uint64_t>(i) * h2) % n;
    bits[b >> 6] |= 1ULL << (b & 63);
  }
}

// Distinct 64-bit token hashes of one block: open addressing, linear probing (the hashes are
// uniformly distributed already).
class HashSet64 {
 public:
  HashSet64() : slots_(1 << 14, 0), mask_((1 << 14) - 1) {}
  void Insert(uint64_t h) {
    if (h == 0) {
      has_zero_ = true;
      return;
    }
    size_t i = h & mask_;
    while (slots_[i] != 0) {
      if (slots_[i] == h) return;
      i = (i + 1) & mask_;
    }
    slots_[i] = h;
    if (++n_ * 2 > slots_.size()) Grow();
  }
  size_t size() const { return n_ + (has_zero_ ? 1 : 0); }
  void Clear() {
    std::fill(slots_.begin(), slots_.end(), 0);
    n_ = 0;
    has_zero_ = false;
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (has_zero_) fn(uint64_t{0});
    for (uint64_t h : slots_) {
      if (h != 0) fn(h);
    }
  }

 private:
  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (uint64_t h : old) {
      if (h == 0) continue;
      size_t i = h & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = h;
    }
  }
  std::vector<uint64_t> slots_;
  size_t mask_;
  size_t n_ = 0;
  bool has_zero_ = false;
};

// Exact per-stream row counts of a block's most frequent message tokens (format v3, "Message
// token counts"). The candidates are chosen first from a sample of the rows (every
// kSampleStride-th row of a big block, every row of a small one): the 2 * max_tokens tokens held
// by the most sampled rows. Then every row's message tokens are looked up among the candidates
// only (a table that stays in L1) and counted exactly, per stream, once per row; the candidates
// with at least min_rows rows, the most frequent first, are written.
class MsgTokenCounter {
 public:
  MsgTokenCounter(const std::vector<std::pair<uint32_t, const RowData*>>& rows, size_t n_streams,
                  uint64_t min_rows, size_t max_tokens)
      : n_streams_(n_streams), min_rows_(min_rows), max_tokens_(max_tokens), cand_(10) {
    const size_t stride = rows.size() >= kSampleMinRows ? kSampleStride : 1;
    Table sample(12);
    for (size_t r = 0; r < rows.size(); r += stride) {
      ForEachToken(rows[r].second->msg, [&](std::string_view t) {
        uint64_t h = TokenHash(t);
        uint32_t e = sample.Find(t, h);
        if (e == UINT32_MAX) e = sample.Insert(t, h);
        Entry& en = sample.entries[e];
        if (en.last_row_plus1 == r + 1) return;
        en.last_row_plus1 = static_cast<uint32_t>(r + 1);
        en.rows++;
      });
    }
    // Sampled rows needed to be a candidate: half of what min_rows would give (generous; the
    // exact count decides).
    const uint64_t min_sampled = std::max<uint64_t>(1, min_rows / stride / 2);
    std::vector<uint32_t> pick;
    for (uint32_t e = 0; e < sample.entries.size(); ++e) {
      if (sample.entries[e].rows >= min_sampled) pick.push_back(e);
    }
    ByRowsThenBytes(sample.entries, &pick);
    if (pick.size() > 2 * max_tokens) pick.resize(2 * max_tokens);
    // The candidates' bytes are copied next to each other: every token of every row is compared
    // with one on a hash match, and a view into its sampled row's message missed the cache.
    size_t bytes = 0;
    for (uint32_t e : pick) bytes += sample.entries[e].token.size();
    cand_bytes_.reserve(bytes);  // no reallocation below: the views stay valid
    for (uint32_t e : pick) {
      const std::string_view t = sample.entries[e].token;
      cand_bytes_.append(t);
      cand_.Insert(std::string_view(cand_bytes_).substr(cand_bytes_.size() - t.size()),
                   sample.entries[e].hash);
    }
    counts_.assign(n_streams * cand_.entries.size(), 0);
  }

  // Row `row` of stream `stream` (rows are added in increasing order) holds token t (hash h).
  void Add(uint32_t row, uint32_t stream, std::string_view t, uint64_t h) {
    uint32_t e = cand_.Find(t, h);
    if (e == UINT32_MAX) return;
    Entry& en = cand_.entries[e];
    if (en.last_row_plus1 == row + 1) return;  // once per row
    en.last_row_plus1 = row + 1;
    en.rows++;
    counts_[static_cast<size_t>(stream) * cand_.entries.size() + e]++;
  }

  // Appends the table (format doc): the candidates held by at least min_rows rows, the most
  // frequent first (ties by bytes), at most max_tokens, each with (stream index delta, rows) for
  // every stream with a row holding it.
  void Encode(std::string* out) const {
    const auto& entries = cand_.entries;
    std::vector<uint32_t> pick;
    for (uint32_t e = 0; e < entries.size(); ++e) {
      if (entries[e].rows >= min_rows_) pick.push_back(e);
    }
    ByRowsThenBytes(entries, &pick);
    if (pick.size() > max_tokens_) pick.resize(max_tokens_);
    PutVarint(out, pick.size());
    const size_t nc = entries.size();
    // Tokens of one message template have the same counts: written once, then referred to.
    std::unordered_map<std::string, size_t> seen;  // entries -> 1 + index in the table
    std::string ent;
    for (size_t k = 0; k < pick.size(); ++k) {
      const uint32_t e = pick[k];
      PutString(out, entries[e].token);
      size_t n = 0;
      for (size_t si = 0; si < n_streams_; ++si) n += counts_[si * nc + e] != 0;
      ent.clear();
      PutVarint(&ent, n);
      size_t prev = 0;
      for (size_t si = 0; si < n_streams_; ++si) {
        uint32_t c = counts_[si * nc + e];
        if (c == 0) continue;
        PutVarint(&ent, si - prev);
        PutVarint(&ent, c);
        prev = si + 1;
      }
      auto [it, fresh] = seen.emplace(ent, k + 1);
      PutVarint(out, fresh ? 0 : it->second);
      if (fresh) out->append(ent);
    }
  }

 private:
  static constexpr size_t kSampleStride = 16;
  static constexpr size_t kSampleMinRows = 4096;
  struct Entry {
    std::string_view token;  // views a row's message, or cand_bytes_ for the candidates
    uint64_t hash;
    uint32_t rows;            // rows counted
    uint32_t last_row_plus1;  // the last row counted, + 1
  };
  static void ByRowsThenBytes(const std::vector<Entry>& entries, std::vector<uint32_t>* idx) {
    std::sort(idx->begin(), idx->end(), [&entries](uint32_t a, uint32_t b) {
      if (entries[a].rows != entries[b].rows) return entries[a].rows > entries[b].rows;
      return entries[a].token < entries[b].token;
    });
  }
  // Equal bytes. Inline: almost every comparison is of a short token with itself (equal hashes).
  static bool Same(std::string_view a, std::string_view b) { return SameBytes(a, b); }
  // Open addressing on the token hash; equal hashes are told apart by the bytes.
  struct Table {
    explicit Table(int log2_slots) : slots(size_t{1} << log2_slots), mask(slots.size() - 1) {}
    uint32_t Find(std::string_view t, uint64_t h) const {
      for (size_t i = h & mask; slots[i].idx != 0; i = (i + 1) & mask) {
        if (slots[i].hash == h && Same(entries[slots[i].idx - 1].token, t)) {
          return slots[i].idx - 1;
        }
      }
      return UINT32_MAX;
    }
    // t must not be in the table.
    uint32_t Insert(std::string_view t, uint64_t h) {
      if ((entries.size() + 1) * 2 > slots.size()) Grow();
      size_t i = h & mask;
      while (slots[i].idx != 0) i = (i + 1) & mask;
      entries.push_back(Entry{t, h, 0, 0});
      slots[i] = Slot{h, static_cast<uint32_t>(entries.size())};
      return static_cast<uint32_t>(entries.size() - 1);
    }
    void Grow() {
      std::vector<Slot> old(slots.size() * 2);
      old.swap(slots);
      mask = slots.size() - 1;
      for (const Slot& s : old) {
        if (s.idx == 0) continue;
        size_t i = s.hash & mask;
        while (slots[i].idx != 0) i = (i + 1) & mask;
        slots[i] = s;
      }
    }
    struct Slot {
      uint64_t hash = 0;
      uint32_t idx = 0;  // entry + 1; 0 = empty
    };
    std::vector<Slot> slots;
    size_t mask;
    std::vector<Entry> entries;
  };
  size_t n_streams_;
  uint64_t min_rows_;
  size_t max_tokens_;
  std::string cand_bytes_;  // the candidates' tokens, which cand_'s entries view
  Table cand_;
  std::vector<uint32_t> counts_;  // [stream][candidate]: rows of the stream holding it
};

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

ZSTD_CCtx* ThreadCCtx() {
  // One context per thread: ZSTD_compress would allocate and clear its tables on every call.
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}

Status Compress(std::string_view raw, int level, std::string* out) {
  size_t bound = ZSTD_compressBound(raw.size());
  size_t at = out->size();
  out->resize(at + bound);
  size_t n =
      ZSTD_compressCCtx(ThreadCCtx(), out->data() + at, bound, raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) {
    out->resize(at);
    return Status::Internal(std::string("BUG: zstd compress: ") + ZSTD_getErrorName(n));
  }
  out->resize(at + n);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write " + path, errno);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// The block file as it is written: compressed pages go out to the descriptor in chunks of about
// kChunk bytes as they are made, so a block is never held whole in memory (nor copied as a
// growing string), and a page is compressed straight into the unwritten tail of a buffer that is
// never zero-filled.
class BlockFileWriter {
 public:
  BlockFileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  uint64_t offset() const { return written_ + len_; }
  Status Append(std::string_view bytes) {
    KANSOKU_RETURN_IF_ERROR(Reserve(bytes.size()));
    std::memcpy(buf_.get() + len_, bytes.data(), bytes.size());
    len_ += bytes.size();
    return MaybeDrain();
  }
  Status AppendCompressed(std::string_view raw, int level) {
    const size_t bound = ZSTD_compressBound(raw.size());
    KANSOKU_RETURN_IF_ERROR(Reserve(bound));
    size_t n =
        ZSTD_compressCCtx(ThreadCCtx(), buf_.get() + len_, bound, raw.data(), raw.size(), level);
    if (ZSTD_isError(n)) {
      return Status::Internal(std::string("BUG: zstd compress: ") + ZSTD_getErrorName(n));
    }
    len_ += n;
    return MaybeDrain();
  }
  Status Finish() {
    Status st = WriteAll(fd_, std::string_view(buf_.get(), len_), path_);
    written_ += len_;
    len_ = 0;
    return st;
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  Status Reserve(size_t n) {
    if (len_ + n <= cap_) return Status::Ok();
    KANSOKU_RETURN_IF_ERROR(Finish());
    if (n > cap_) {
      cap_ = std::max(n, kChunk * 2);
      buf_ = std::make_unique_for_overwrite<char[]>(cap_);
    }
    return Status::Ok();
  }
  Status MaybeDrain() { return len_ >= kChunk ? Finish() : Status::Ok(); }
  int fd_;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, len_ = 0;
  uint64_t written_ = 0;
};

}  // namespace

namespace {

// Rows ahead of the one being gathered whose field views (kFar) and bytes (kNear) are prefetched.
constexpr uint64_t kFar = 32, kNear = 16;

// The block's bytes, written through `file` (WriteBlock opens, syncs and renames it).
Status WriteBlockTo(BlockFileWriter& file, const std::vector<BlockStreamInput>& streams,
                    uint64_t wal_seq_end, int zstd_level, int zstd_meta_level, uint64_t page_rows) {
  // Rows in block order (stream by stream), with their stream.
  std::vector<std::pair<uint32_t, const RowData*>> rows;
  std::string stream_table;
  PutVarint(&stream_table, streams.size());
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  for (size_t si = 0; si < streams.size(); ++si) {
    const auto& s = streams[si];
    PutKVs(&stream_table, *s.labels);
    PutVarint(&stream_table, rows.size());
    PutVarint(&stream_table, s.rows.size());
    int64_t smin = s.rows.empty() ? 0 : s.rows.front()->ts;
    int64_t smax = s.rows.empty() ? 0 : s.rows.back()->ts;
    PutVarint(&stream_table, ZigZag(smin));
    PutVarint(&stream_table, ZigZag(smax));
    min_ts = std::min(min_ts, smin);
    max_ts = std::max(max_ts, smax);
    for (const RowData* r : s.rows) rows.emplace_back(static_cast<uint32_t>(si), r);
  }
  const uint64_t n = rows.size();
  if (n == 0) return Status::InvalidArgument("BUG: empty block");
  MsgTokenCounter msg_tokens(rows, streams.size(),
                             std::max<uint64_t>(2, n / kCountedTokenRowDivisor), kMaxCountedTokens);
  if (page_rows == 0) page_rows = n;
  const size_t n_pages = static_cast<size_t>((n + page_rows - 1) / page_rows);

  // Field names in order of first appearance (rows usually list fields in the same order, so the
  // column of a row's j-th field is found at position j first); columns are written sorted.
  std::vector<std::string> names;
  auto column_of = [&names](size_t j, std::string_view name) -> size_t {
    if (j < names.size() && SameBytes(names[j], name)) return j;
    for (size_t c = 0; c < names.size(); ++c) {
      if (SameBytes(names[c], name)) return c;
    }
    return SIZE_MAX;
  };
  for (const auto& [si, r] : rows) {
    for (size_t j = 0; j < r->fields.size(); ++j) {
      if (column_of(j, r->fields[j].name) == SIZE_MAX) names.emplace_back(r->fields[j].name);
    }
  }
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });

  struct Col {
    std::string name;
    ColumnKind kind;
    std::string lens, bytes;  // current page (var columns: lens then bytes; others: lens only)
    uint64_t rows_before = 0;
    std::string pages_footer;  // per page: offset, compressed_len, raw_len
  };
  std::vector<Col> cols(3 + names.size());
  cols[0].name = "_time";
  cols[0].kind = ColumnKind::kTime;
  cols[1].name = "_flags";
  cols[1].kind = ColumnKind::kFlags;
  cols[2].name = "_msg";
  cols[2].kind = ColumnKind::kMsg;
  for (size_t c = 0; c < names.size(); ++c) {
    cols[3 + c].name = names[c];
    cols[3 + c].kind = ColumnKind::kField;
  }

  KANSOKU_RETURN_IF_ERROR(file.Append(std::string_view(kMagic, 4)));
  std::string blooms;
  HashSet64 tokens;
  auto add_tokens = [&tokens](std::string_view s) {
    ForEachToken(s, [&tokens](std::string_view t) { tokens.Insert(TokenHash(t)); });
  };
  auto flush_col = [&](Col& c) -> Status {
    uint64_t off = file.offset();
    c.lens.append(c.bytes);
    const bool meta_col = c.kind == ColumnKind::kTime || c.kind == ColumnKind::kFlags;
    KANSOKU_RETURN_IF_ERROR(file.AppendCompressed(c.lens, meta_col ? zstd_meta_level : zstd_level));
    PutVarint(&c.pages_footer, off);
    PutVarint(&c.pages_footer, file.offset() - off);
    PutVarint(&c.pages_footer, c.lens.size());
    c.lens.clear();
    c.bytes.clear();
    c.rows_before = 0;
    return Status::Ok();
  };
  std::vector<int64_t> deltas;
  for (size_t p = 0; p < n_pages; ++p) {
    uint64_t begin = p * page_rows, end = std::min(n, begin + page_rows);
    tokens.Clear();
    uint32_t last_stream = UINT32_MAX;
    int64_t prev = 0;
    for (uint64_t i = begin; i < end; ++i) {
      // A row's bytes lie wherever its batch put them in the head (rows come stream by stream),
      // each behind a dependent load: row -> field views -> bytes. Fetched in two steps ahead
      // of use: the field views kFar rows ahead, the bytes they point at kNear rows ahead.
      if (i + kFar < n) {
        const RowData* far = rows[i + kFar].second;
        __builtin_prefetch(far->fields.data());
        __builtin_prefetch(far->msg.data());
      }
      if (i + kNear < n) {
        const RowData* near = rows[i + kNear].second;
        const char* m = near->msg.data();
        for (size_t k = 64; k < near->msg.size() && k < 512; k += 64) __builtin_prefetch(m + k);
        for (size_t j = 0; j < near->fields.size() && j < 6; ++j) {
          __builtin_prefetch(near->fields[j].name.data());
          __builtin_prefetch(near->fields[j].value.data() + near->fields[j].value.size() - 1);
        }
      }
      const auto& [si, r] = rows[i];
      if (si != last_stream) {  // time deltas restart at every stream and page start
        last_stream = si;
        prev = 0;
        for (const auto& kv : *streams[si].labels) add_tokens(kv.value);
      }
      uint64_t row = i - begin;
      deltas.push_back(r->ts - prev);
      prev = r->ts;
      cols[1].lens.push_back(static_cast<char>(r->flags));
      PutVarint(&cols[2].lens, r->msg.size());
      cols[2].bytes.append(r->msg);
      const uint32_t stream = si;  // clang 14 cannot capture a structured binding
      ForEachToken(r->msg, [&](std::string_view t) {
        uint64_t h = TokenHash(t);
        tokens.Insert(h);
        msg_tokens.Add(static_cast<uint32_t>(i), stream, t, h);
      });
      for (size_t j = 0; j < r->fields.size(); ++j) {
        const KVView& f = r->fields[j];
        Col& c = cols[3 + column_of(j, f.name)];
        if (c.rows_before > row) continue;  // duplicate field name in one row: first wins
        c.lens.append(row - c.rows_before, '\0');
        PutVarint(&c.lens, f.value.size() + 1);
        c.bytes.append(f.value);
        c.rows_before = row + 1;
        add_tokens(f.value);
      }
    }
    // _time: the page's common divisor of the deltas first (timestamps in us or ms give deltas
    // that are multiples of 1000 or 10^6), then the scaled deltas.
    uint64_t scale = 0;
    for (int64_t d : deltas) {
      if (d == 0) continue;
      uint64_t a = d < 0 ? 0 - static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
      if (scale == 0) {
        scale = a;
      } else if (a % scale != 0) {  // one division for the many deltas the scale divides
        scale = std::gcd(scale, a);
      }
      if (scale == 1) break;
    }
    if (scale == 0 || scale > INT64_MAX) scale = 1;  // > INT64_MAX: only deltas of INT64_MIN
    PutVarint(&cols[0].lens, scale);
    for (int64_t d : deltas) PutVarint(&cols[0].lens, ZigZag(d / static_cast<int64_t>(scale)));
    deltas.clear();
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c].kind == ColumnKind::kField) {
        cols[c].lens.append(end - begin - cols[c].rows_before, '\0');
      }
      KANSOKU_RETURN_IF_ERROR(flush_col(cols[c]));
    }
    uint64_t n_bits = std::max<uint64_t>(1024, tokens.size() * 10);
    n_bits = (n_bits + 63) / 64 * 64;
    std::vector<uint64_t> bits(n_bits / 64);
    tokens.ForEach([&bits](uint64_t h) { BloomSet(bits, h); });
    PutVarint(&blooms, n_bits);
    blooms.append(reinterpret_cast<const char*>(bits.data()), bits.size() * 8);
  }

  std::string meta;
  meta.push_back(static_cast<char>(kVersion));
  PutVarint(&meta, ZigZag(min_ts));
  PutVarint(&meta, ZigZag(max_ts));
  PutVarint(&meta, n);
  PutVarint(&meta, wal_seq_end);
  PutVarint(&meta, page_rows);
  meta.append(stream_table);
  PutVarint(&meta, cols.size());
  auto put_col = [&meta](const Col& c) {
    PutString(&meta, c.name);
    meta.push_back(static_cast<char>(c.kind));
    meta.append(c.pages_footer);
  };
  for (size_t c = 0; c < 3; ++c) put_col(cols[c]);
  for (size_t i : order) put_col(cols[3 + i]);
  meta.push_back(static_cast<char>(kBloomK));
  meta.append(blooms);
  // The token counts are their own zstd frame inside the footer: compressed along with the
  // (incompressible) bloom bits they took 40 % more bytes.
  std::string counts, zcounts;
  msg_tokens.Encode(&counts);
  KANSOKU_RETURN_IF_ERROR(Compress(counts, zstd_meta_level, &zcounts));
  PutString(&meta, zcounts);

  std::string zfooter;
  KANSOKU_RETURN_IF_ERROR(Compress(meta, zstd_meta_level, &zfooter));
  const uint32_t footer_len = static_cast<uint32_t>(zfooter.size());
  const uint32_t footer_sum = XXH32(zfooter.data(), zfooter.size(), 0);
  PutU32(&zfooter, footer_len);
  PutU32(&zfooter, footer_sum);
  zfooter.append(kMagic, 4);
  KANSOKU_RETURN_IF_ERROR(file.Append(zfooter));
  return file.Finish();
}

}  // namespace

Status WriteBlockUnsynced(const std::string& path, const std::vector<BlockStreamInput>& streams,
                          uint64_t wal_seq_end, int zstd_level, int zstd_meta_level,
                          uint64_t page_rows, uint64_t* file_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + path, errno);
  BlockFileWriter file(fd, path);
  Status st = WriteBlockTo(file, streams, wal_seq_end, zstd_level, zstd_meta_level, page_rows);
  // Writeback starts now, without waiting: the caller's fsync later finds little left to write.
  if (st.ok()) (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd);
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  *file_bytes = file.offset();
  return Status::Ok();
}

Status WriteBlock(const std::string& path, const std::vector<BlockStreamInput>& streams,
                  uint64_t wal_seq_end, int zstd_level, int zstd_meta_level, uint64_t page_rows,
                  uint64_t* file_bytes) {
  std::string tmp = path + ".tmp";
  KANSOKU_RETURN_IF_ERROR(WriteBlockUnsynced(tmp, streams, wal_seq_end, zstd_level, zstd_meta_level,
                                             page_rows, file_bytes));
  Status st = FsyncFile(tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::FromErrno("cannot rename " + tmp, errno);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  std::string dir = path.substr(0, path.rfind('/'));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status FsyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  Status st = ::fsync(fd) == 0 ? Status::Ok() : Status::FromErrno("cannot fsync " + path, errno);
  ::close(fd);
  return st;
}

Result<std::shared_ptr<Block>> Block::Open(const std::string& path, StreamIds* ids) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open block " + path, errno);
  std::shared_ptr<Block> b(new Block());
  b->fd_ = fd;
  b->path_ = path;
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno("cannot stat " + path, errno);
  b->file_bytes_ = st.st_size;
  auto corrupt = [&path](const std::string& why) {
    return Status::Corruption("block " + path + ": " + why);
  };
  if (st.st_size < 16) return corrupt("too short");
  char tail[12];
  if (::pread(fd, tail, 12, st.st_size - 12) != 12) return corrupt("cannot read trailer");
  if (std::memcmp(tail + 8, kMagic, 4) != 0) return corrupt("bad magic");
  uint32_t flen, sum;
  std::memcpy(&flen, tail, 4);
  std::memcpy(&sum, tail + 4, 4);
  if (flen > static_cast<uint64_t>(st.st_size) - 16) return corrupt("footer length out of range");
  std::string zf(flen, '\0');
  if (::pread(fd, zf.data(), flen, st.st_size - 12 - flen) != static_cast<ssize_t>(flen)) {
    return corrupt("cannot read footer");
  }
  if (XXH32(zf.data(), zf.size(), 0) != sum) return corrupt("footer checksum mismatch");
  unsigned long long raw_size = ZSTD_getFrameContentSize(zf.data(), zf.size());
  if (raw_size == ZSTD_CONTENTSIZE_ERROR || raw_size == ZSTD_CONTENTSIZE_UNKNOWN ||
      raw_size > (1ULL << 31)) {
    return corrupt("bad footer frame");
  }
  std::string meta(raw_size, '\0');
  size_t n = ZSTD_decompress(meta.data(), meta.size(), zf.data(), zf.size());
  if (ZSTD_isError(n) || n != raw_size) return corrupt("cannot decompress footer");
  Decoder d(meta);
  uint8_t version;
  uint64_t n_streams, n_cols, n_bits;
  if (!d.Byte(&version) || version < 1) return corrupt("unknown version");
  if (version > kVersion) {  // checksum verified: written by a newer kansoku, not corrupt
    return Status::InvalidArgument("block " + path + ": format version " + std::to_string(version) +
                                   " is newer than this kansoku reads (" +
                                   std::to_string(kVersion) + ")");
  }
  if (!d.SVarint(&b->min_ts_) || !d.SVarint(&b->max_ts_) || !d.Varint(&b->rows_) ||
      !d.Varint(&b->wal_seq_end_)) {
    return corrupt("truncated header");
  }
  b->version_ = version;
  b->page_rows_ = b->rows_;
  if (version >= 2 && (!d.Varint(&b->page_rows_) || b->page_rows_ == 0)) {
    return corrupt("bad page size");
  }
  if (b->rows_ == 0 || b->page_rows_ == 0) return corrupt("empty block");
  uint64_t n_pages = (b->rows_ + b->page_rows_ - 1) / b->page_rows_;
  if (!d.Varint(&n_streams) || n_streams > meta.size() || n_pages > meta.size()) {
    return corrupt("truncated header");
  }
  for (uint64_t i = 0; i < n_streams; ++i) {
    StreamInfo s;
    if (!d.KVs(&s.labels) || !d.Varint(&s.first_row) || !d.Varint(&s.n_rows) ||
        !d.SVarint(&s.min_ts) || !d.SVarint(&s.max_ts)) {
      return corrupt("truncated stream table");
    }
    // Streams cover the rows in order, without gaps (scans rely on it).
    uint64_t expect =
        b->streams_.empty() ? 0 : b->streams_.back().first_row + b->streams_.back().n_rows;
    if (s.first_row != expect || s.n_rows > b->rows_ - s.first_row) {
      return corrupt("stream rows out of range");
    }
    s.labels_hash = LabelsHash(s.labels);
    if (ids) s.id = ids->Intern(s.labels, s.labels_hash);
    b->streams_.push_back(std::move(s));
  }
  if (b->streams_.empty() || b->streams_.back().first_row + b->streams_.back().n_rows != b->rows_) {
    return corrupt("streams do not cover the rows");
  }
  if (!d.Varint(&n_cols) || n_cols > meta.size()) return corrupt("truncated column table");
  for (uint64_t i = 0; i < n_cols; ++i) {
    ColumnInfo c;
    std::string_view name;
    uint8_t kind;
    if (!d.String(&name) || !d.Byte(&kind)) return corrupt("truncated column table");
    c.name = std::string(name);
    c.kind = static_cast<ColumnKind>(kind);
    c.pages.resize(n_pages);
    for (auto& pg : c.pages) {
      if (!d.Varint(&pg.offset) || !d.Varint(&pg.compressed_len) || !d.Varint(&pg.raw_len)) {
        return corrupt("truncated column table");
      }
      if (pg.offset > static_cast<uint64_t>(st.st_size) ||
          pg.compressed_len > static_cast<uint64_t>(st.st_size) - pg.offset) {
        return corrupt("column " + c.name + " out of range");
      }
    }
    b->columns_.push_back(std::move(c));
  }
  // v1: n_bits, k, bits; v2: k once, then n_bits, bits per page.
  auto read_bloom = [&](std::vector<uint64_t>* out, bool with_k) -> bool {
    std::string_view bits;
    if (!d.Varint(&n_bits) || n_bits % 64 != 0 || n_bits == 0 ||
        (with_k && !d.Byte(&b->bloom_k_)) || n_bits / 8 > d.remaining() ||
        !d.Bytes(n_bits / 8, &bits)) {
      return false;
    }
    out->resize(n_bits / 64);
    std::memcpy(out->data(), bits.data(), bits.size());
    return true;
  };
  b->blooms_.resize(n_pages);
  if (version == 1) {
    if (!read_bloom(&b->blooms_[0], true)) return corrupt("truncated bloom filter");
  } else {
    if (!d.Byte(&b->bloom_k_)) return corrupt("truncated bloom filter");
    for (auto& bl : b->blooms_) {
      if (!read_bloom(&bl, false)) return corrupt("truncated bloom filter");
    }
  }
  if (b->bloom_k_ == 0 || b->bloom_k_ > 32) return corrupt("bad bloom filter");
  if (version >= 3) {
    // Message token counts: checked here (streams in range and increasing, counts within the
    // stream's rows), kept encoded and decoded again for the one token a query asks about.
    std::string_view z;
    if (!d.String(&z)) return corrupt("truncated token counts");
    unsigned long long raw = ZSTD_getFrameContentSize(z.data(), z.size());
    if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > (1ULL << 28)) {
      return corrupt("bad token counts frame");
    }
    b->msg_token_table_.resize(raw);
    size_t got = ZSTD_decompress(b->msg_token_table_.data(), raw, z.data(), z.size());
    if (ZSTD_isError(got) || got != raw) return corrupt("cannot decompress token counts");
    if (!d.done()) return corrupt("trailing bytes after token counts");
    Decoder t(b->msg_token_table_);
    uint64_t n_tokens;
    if (!t.Varint(&n_tokens) || n_tokens > b->msg_token_table_.size()) {
      return corrupt("truncated token counts");
    }
    for (uint64_t k = 0; k < n_tokens; ++k) {
      std::string_view tok;
      uint64_t same_as, n_entries;
      if (!t.String(&tok) || !t.Varint(&same_as)) return corrupt("truncated token counts");
      if (same_as > 0) {  // the entries of an earlier token
        if (same_as > k) return corrupt("bad token counts reference");
        b->msg_tokens_.emplace_back(tok, b->msg_tokens_[same_as - 1].second);
        continue;
      }
      b->msg_tokens_.emplace_back(tok, b->msg_token_table_.size() - t.remaining());
      if (!t.Varint(&n_entries) || n_entries > n_streams) return corrupt("truncated token counts");
      uint64_t si = 0;
      for (uint64_t e = 0; e < n_entries; ++e) {
        uint64_t delta, rows;
        if (!t.Varint(&delta) || !t.Varint(&rows) || delta >= n_streams - si ||
            rows > b->streams_[si + delta].n_rows) {
          return corrupt("bad token counts");
        }
        si += delta + 1;
      }
    }
    if (!t.done()) return corrupt("trailing bytes after token counts");
  }
  return b;
}

Block::~Block() {
  if (fd_ >= 0) ::close(fd_);
}

bool Block::PageMayContainHash(size_t page, uint64_t h) const {
  const auto& bloom = blooms_[page];
  uint64_t n = bloom.size() * 64;
  uint64_t h1 = h, h2 = ((h >> 32) | (h << 32)) | 1;
  for (int i = 0; i < bloom_k_; ++i) {
    uint64_t b = (h1 + static_cast<uint64_t>(i) * h2) % n;
    if (!(bloom[b >> 6] & (1ULL << (b & 63)))) return false;
  }
  return true;
}

bool Block::MsgTokenCounts(std::string_view token, std::vector<uint32_t>* counts) const {
  for (const auto& [tok, at] : msg_tokens_) {
    if (tok != token) continue;
    counts->assign(streams_.size(), 0);
    Decoder t(std::string_view(msg_token_table_).substr(at));
    uint64_t n_entries = 0, si = 0, delta = 0, rows = 0;
    t.Varint(&n_entries);  // checked at Open
    for (uint64_t e = 0; e < n_entries; ++e) {
      t.Varint(&delta);
      t.Varint(&rows);
      si += delta;
      (*counts)[si++] = static_cast<uint32_t>(rows);
    }
    return true;
  }
  return false;
}

const Block::ColumnInfo* Block::FindColumn(std::string_view name, ColumnKind kind) const {
  for (const auto& c : columns_) {
    if (c.kind == kind && c.name == name) return &c;
  }
  return nullptr;
}

Status Block::ReadPage(const ColumnInfo& c, size_t page, std::string* raw) const {
  if (page >= c.pages.size()) return Status::Internal("BUG: page out of range");
  const PageInfo& pg = c.pages[page];
  if (pg.raw_len > (1ULL << 34)) return Status::Corruption("block " + path_ + ": page too big");
  size_t at = raw->size();
  raw->resize(at + pg.raw_len);
  Status st = ReadPageInto(c, page, raw->data() + at);
  if (!st.ok()) raw->resize(at);
  return st;
}

Status Block::ReadPagePrefix(const ColumnInfo& c, size_t page, char* dst,
                             const std::function<size_t(const char*, size_t)>& need,
                             size_t* decoded) const {
  KANSOKU_ASSIGN_OR_RETURN(std::string_view z, ReadCompressedPage(c, page));
  const PageInfo& pg = c.pages[page];
  auto corrupt = [&] {
    return Status::Corruption("block " + path_ + ": cannot decompress column " + c.name);
  };
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> sctx(ZSTD_createDCtx());
  ZSTD_DCtx_reset(sctx.get(), ZSTD_reset_session_only);
  ZSTD_inBuffer in{z.data(), z.size(), 0};
  ZSTD_outBuffer out{dst, 0, 0};
  size_t target = std::min<size_t>(pg.raw_len, 64 << 10);
  bool frame_done = false;
  while (true) {
    out.size = target;
    while (out.pos < out.size && !frame_done) {
      size_t in0 = in.pos, out0 = out.pos;
      size_t r = ZSTD_decompressStream(sctx.get(), &out, &in);
      if (ZSTD_isError(r)) return corrupt();
      frame_done = r == 0;
      if (!frame_done && in.pos == in0 && out.pos == out0) return corrupt();  // truncated
    }
    if (out.pos == pg.raw_len) break;
    if (frame_done) return corrupt();  // shorter than raw_len
    size_t want = std::min<size_t>(need(dst, out.pos), pg.raw_len);
    if (want <= out.pos) break;
    target = want;
  }
  *decoded = out.pos;
  return Status::Ok();
}

Result<std::string_view> Block::ReadCompressedPage(const ColumnInfo& c, size_t page) const {
  if (page >= c.pages.size()) return Status::Internal("BUG: page out of range");
  const PageInfo& pg = c.pages[page];
  if (pg.raw_len > (1ULL << 34)) return Status::Corruption("block " + path_ + ": page too big");
  thread_local std::string z;
  z.resize(pg.compressed_len);
  if (::pread(fd_, z.data(), z.size(), static_cast<off_t>(pg.offset)) !=
      static_cast<ssize_t>(z.size())) {
    return Status::IOError("block " + path_ + ": cannot read column " + c.name);
  }
  return std::string_view(z);
}

Status Block::ReadPageInto(const ColumnInfo& c, size_t page, char* dst) const {
  KANSOKU_ASSIGN_OR_RETURN(std::string_view z, ReadCompressedPage(c, page));
  const PageInfo& pg = c.pages[page];
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  size_t n = ZSTD_decompressDCtx(dctx.get(), dst, pg.raw_len, z.data(), z.size());
  if (ZSTD_isError(n) || n != pg.raw_len) {
    return Status::Corruption("block " + path_ + ": cannot decompress column " + c.name);
  }
  return Status::Ok();
}

}  // namespace kansoku::logs
