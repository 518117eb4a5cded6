#include "logs/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "base/check.h"
#include "base/durable.h"
#include "base/log.h"
#include "logs/codec.h"

namespace kansoku::logs {

namespace {

size_t VarintLen(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
size_t StringLen(std::string_view s) { return VarintLen(s.size()) + s.size(); }
template <typename KVs>
size_t KVsLen(const KVs& kvs) {
  size_t n = VarintLen(kvs.size());
  for (const auto& kv : kvs) n += StringLen(kv.name) + StringLen(kv.value);
  return n;
}

// Writes through a cursor into memory sized beforehand (no capacity checks per string).
struct Writer {
  char* p;
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
  }
  std::string_view String(std::string_view s) {
    Varint(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    std::string_view at(p, s.size());
    p += s.size();
    return at;
  }
};

// Maps in the pages of [p, p + n) with one madvise(MADV_POPULATE_WRITE) instead of one page
// fault per 4 KiB page at first touch. A large payload is a fresh mmap (kansoku server's mmap
// threshold is 1 MiB): for an 8 MiB batch that was 2,048 faults, ~9 % of ingest CPU. Best effort:
// a kernel without it (before 5.14) faults the pages in as before.
void PopulateForWrite(char* p, size_t n) {
  const uintptr_t page = 4096;
  uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  if (e > b) (void)::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE);
}

}  // namespace

namespace {

// The distinct label sets of one batch, as the payload's label table holds them: each set's
// encoded bytes (varint n, then the names and values) once, in order of first appearance, and
// for every record the index of its set. Equal label lists (normalised) are equal bytes.
class LabelSets {
 public:
  explicit LabelSets(size_t records) { of_record_.reserve(records); }
  // Adds the next record's labels (KV or KVView).
  template <typename Labels>
  void Add(const Labels& labels) {
    const size_t len = KVsLen(labels);
    if (scratch_.size() < len) scratch_.resize(std::max(len, 2 * scratch_.size()));
    Writer w{scratch_.data()};
    w.Varint(labels.size());
    for (const auto& kv : labels) {
      w.String(kv.name);
      w.String(kv.value);
    }
    const std::string_view enc(scratch_.data(), len);
    const uint64_t h = XXH3_64bits(enc.data(), enc.size());
    if ((sets_.size() + 1) * 2 > slots_.size()) Grow();
    size_t i = h & (slots_.size() - 1);
    for (; slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
      const Set& s = sets_[slots_[i] - 1];
      if (s.hash == h && Bytes(s) == enc) {
        of_record_.push_back(slots_[i] - 1);
        return;
      }
    }
    sets_.push_back(Set{bytes_.size(), len, h});
    bytes_.append(enc);
    slots_[i] = static_cast<uint32_t>(sets_.size());
    of_record_.push_back(static_cast<uint32_t>(sets_.size() - 1));
  }
  struct Set {
    size_t off, len;  // in bytes()
    uint64_t hash;    // XXH3-64 of the bytes
  };
  const std::vector<Set>& sets() const { return sets_; }
  const std::string& bytes() const { return bytes_; }
  uint32_t of_record(size_t i) const { return of_record_[i]; }

 private:
  std::string_view Bytes(const Set& s) const {
    return std::string_view(bytes_).substr(s.off, s.len);
  }
  void Grow() {
    slots_.assign(std::max<size_t>(64, slots_.size() * 2), 0);
    for (size_t k = 0; k < sets_.size(); ++k) {
      size_t i = sets_[k].hash & (slots_.size() - 1);
      while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = static_cast<uint32_t>(k + 1);
    }
  }
  std::string scratch_, bytes_;
  std::vector<Set> sets_;
  std::vector<uint32_t> slots_;  // set index + 1; 0 = empty
  std::vector<uint32_t> of_record_;
};

}  // namespace

struct BatchEncoder::Impl {
  explicit Impl(size_t records) : sets(records) {}
  LabelSets sets;
  size_t records = 0;
  size_t size = 0;  // of the records' encodings, without the header and label table
  size_t n_fields = 0;
};

BatchEncoder::BatchEncoder(size_t records) : impl_(std::make_unique<Impl>(records)) {}
BatchEncoder::~BatchEncoder() = default;

void BatchEncoder::Add(const LogRecord& r) {
  Impl& m = *impl_;
  m.sets.Add(r.labels);
  m.size += VarintLen(ZigZag(r.ts_ns)) + 1 + VarintLen(m.sets.of_record(m.records)) +
            StringLen(r.msg) + KVsLen(r.fields);
  m.n_fields += r.fields.size();
  m.records++;
}

void BatchEncoder::EncodeTo(const LogBatch& batch, std::string* out, EncodedViews* views) {
  Impl& m = *impl_;
  KANSOKU_CHECK(batch.size() == m.records, "BUG: BatchEncoder: batch is not the records added");
  const LabelSets& sets = m.sets;
  const size_t size =
      2 + VarintLen(sets.sets().size()) + sets.bytes().size() + VarintLen(batch.size()) + m.size;
  if (out->capacity() < size && size >= (1 << 20)) {
    out->clear();
    out->reserve(size);
    PopulateForWrite(out->data(), size);
  }
  out->resize(size);
  if (views) {
    views->msgs.clear();
    views->msgs.reserve(batch.size());
    views->fields.clear();
    views->fields.reserve(m.n_fields);
    views->labels.clear();
    views->labels.reserve(batch.size());
    views->label_hashes.clear();
    views->label_hashes.reserve(batch.size());
    views->label_sets.clear();
    views->label_sets.reserve(batch.size());
    views->n_label_sets = sets.sets().size();
    views->ts.clear();
    views->ts.reserve(batch.size());
    views->flags.clear();
    views->flags.reserve(batch.size());
    views->n_fields.clear();
    views->n_fields.reserve(batch.size());
  }
  Writer w{out->data()};
  *w.p++ = 0;  // format 2 (a format 1 payload starts with its record count, never 0)
  *w.p++ = 2;
  w.Varint(sets.sets().size());
  const char* table = w.p;
  std::memcpy(w.p, sets.bytes().data(), sets.bytes().size());
  w.p += sets.bytes().size();
  w.Varint(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + 8 < batch.size()) PrefetchVectors(batch[i + 8]);
    if (i + 4 < batch.size()) PrefetchStrings(batch[i + 4]);
    const auto& r = batch[i];
    const uint32_t set = sets.of_record(i);
    w.Varint(ZigZag(r.ts_ns));
    *w.p++ = static_cast<char>(r.flags);
    w.Varint(set);
    if (views) {
      const auto& s = sets.sets()[set];
      views->labels.push_back(std::string_view(table + s.off, s.len));
      views->label_hashes.push_back(s.hash);
      views->label_sets.push_back(set);
      views->ts.push_back(r.ts_ns);
      views->flags.push_back(r.flags);
      views->n_fields.push_back(static_cast<uint32_t>(r.fields.size()));
    }
    std::string_view msg = w.String(r.msg);
    w.Varint(r.fields.size());
    if (views) views->msgs.push_back(msg);
    for (const auto& kv : r.fields) {
      std::string_view name = w.String(kv.name);
      std::string_view value = w.String(kv.value);
      if (views) views->fields.push_back(KVView{name, value});
    }
  }
  KANSOKU_CHECK(w.p == out->data() + out->size(), "BUG: log batch encoding size mismatch");
}

void EncodeBatchTo(const LogBatch& batch, std::string* out, EncodedViews* views) {
  BatchEncoder e(batch.size());
  for (const auto& r : batch) e.Add(r);
  e.EncodeTo(batch, out, views);
}

std::string EncodeBatch(const LogBatch& batch) {
  std::string out;
  EncodeBatchTo(batch, &out, nullptr);
  return out;
}

namespace {

// Label names are short and mostly differ in their first byte: it is compared inline before
// any call to memcmp (the comparisons of normalising were ~10 % of Append's CPU).
inline bool NameLess(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0]) {
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  }
  return a < b;
}

// The level names NormalizeLevel produces: a value already spelled so needs no work.
bool IsCanonicalLevel(std::string_view v) {
  const char* p = v.data();
  switch (v.size()) {
    case 4:
      return std::memcmp(p, "info", 4) == 0 || std::memcmp(p, "warn", 4) == 0;
    case 5:
      return std::memcmp(p, "debug", 5) == 0 || std::memcmp(p, "error", 5) == 0 ||
             std::memcmp(p, "trace", 5) == 0 || std::memcmp(p, "alert", 5) == 0 ||
             std::memcmp(p, "fatal", 5) == 0;
    case 6:
      return std::memcmp(p, "notice", 6) == 0;
    case 8:
      return std::memcmp(p, "critical", 8) == 0;
    case 9:
      return std::memcmp(p, "emergency", 9) == 0;
    default:
      return false;
  }
}

bool SameKVs(std::span<const KVView> a, const std::vector<KV>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameBytes(a[i].name, b[i].name) || !SameBytes(a[i].value, b[i].value)) return false;
  }
  return true;
}

}  // namespace

struct BatchBuilder::Impl {
  const NormalizeRules* rules = nullptr;
  int64_t now = 0;
  // Records are written from buf[head] on; Finish() puts the header and label table just before
  // them when they fit in the room left (sized from the previous batch's table), else copies.
  std::unique_ptr<char[]> buf;
  size_t cap = 0, head = 0, end = 0, populated = 0;
  size_t table_guess = 4096;
  std::unique_ptr<LabelSets> sets = std::make_unique<LabelSets>(0);
  EncodedViews views;
  std::vector<KVView> labels, fields;  // the record being normalised
  std::string level, truncated;        // values made while normalising
  std::vector<SentStream> sent;
  size_t last_sent = SIZE_MAX;
  std::unordered_multimap<uint64_t, size_t> sent_index;

  bool IsLabelName(std::string_view name) const {
    for (const auto& n : rules->label_names) {
      if (SameBytes(name, n)) return true;
    }
    return false;
  }
  // Room for `need` more bytes after end (the views are moved along with the bytes).
  void Reserve(size_t need) {
    if (end + need > cap) {
      size_t ncap = std::max(2 * cap, end + need + (1 << 16));
      std::unique_ptr<char[]> nb(new char[ncap]);
      if (end > head) std::memcpy(nb.get() + head, buf.get() + head, end - head);
      Rebase(buf.get(), nb.get());
      buf = std::move(nb);
      cap = ncap;
      populated = end;
    }
    // A large buffer's pages are mapped in ahead with one madvise per MiB (not one fault per
    // 4 KiB page at first touch).
    if (cap >= (1 << 20) && end + need > populated) {
      const size_t to = std::min(cap, std::max(populated, end) + need + (1 << 20));
      PopulateForWrite(buf.get() + populated, to - populated);
      populated = to;
    }
  }
  void Rebase(const char* from, const char* to) {
    auto move = [&](std::string_view& v) {
      if (!v.empty()) v = std::string_view(to + (v.data() - from), v.size());
    };
    for (auto& m : views.msgs) move(m);
    for (auto& f : views.fields) {
      move(f.name);
      move(f.value);
    }
  }
  void CountSent(std::span<const KVView> sent_labels, std::string_view msg,
                 std::span<const KVView> sent_fields) {
    uint64_t bytes = msg.size();
    for (const auto& f : sent_fields) bytes += f.name.size() + f.value.size();
    size_t k = last_sent;
    if (k == SIZE_MAX || !SameKVs(sent_labels, sent[k].labels)) {
      uint64_t h = 0x9E3779B97F4A7C15ULL;
      for (const auto& kv : sent_labels) {
        h = XXH3_64bits_withSeed(kv.name.data(), kv.name.size(), h);
        h = XXH3_64bits_withSeed(kv.value.data(), kv.value.size(), h ^ 0x5bd1e9955bd1e995ULL);
      }
      k = SIZE_MAX;
      auto [lo, hi] = sent_index.equal_range(h);
      for (auto it = lo; it != hi; ++it) {
        if (SameKVs(sent_labels, sent[it->second].labels)) k = it->second;
      }
      if (k == SIZE_MAX) {
        k = sent.size();
        SentStream s;
        for (const auto& kv : sent_labels)
          s.labels.push_back(KV{std::string(kv.name), std::string(kv.value)});
        sent.push_back(std::move(s));
        sent_index.emplace(h, k);
      }
      last_sent = k;
    }
    sent[k].records++;
    sent[k].bytes += bytes;
  }
};

BatchBuilder::BatchBuilder() : impl_(std::make_unique<Impl>()) {}
BatchBuilder::~BatchBuilder() = default;

void BatchBuilder::Reset(const NormalizeRules* rules, int64_t now_ns, size_t size_hint) {
  Impl& m = *impl_;
  m.rules = rules;
  m.now = now_ns;
  m.buf.reset();
  m.cap = m.end = m.populated = 0;
  m.head = m.table_guess;
  m.end = m.head;
  m.sets = std::make_unique<LabelSets>(0);
  m.views = EncodedViews();
  m.sent.clear();
  m.sent_index.clear();
  m.last_sent = SIZE_MAX;
  // Allocated for the hint, but mapped in only as records are written (Reserve): the unused
  // rest of the hint is never touched, so it takes no memory while the head keeps the buffer.
  m.cap = m.head + size_hint + (1 << 16);
  m.buf.reset(new char[m.cap]);
}

size_t BatchBuilder::records() const { return impl_->views.ts.size(); }

const std::vector<BatchBuilder::SentStream>& BatchBuilder::sent_streams() const {
  return impl_->sent;
}

void BatchBuilder::Add(int64_t ts_ns, uint8_t flags, std::span<const KVView> labels,
                       std::string_view msg, std::span<const KVView> fields) {
  Impl& m = *impl_;
  m.CountSent(labels, msg, fields);
  if (ts_ns == 0) ts_ns = m.now;
  // Fields named like labels become labels, unless a label of that name with a value is there
  // already (then the field is dropped); the other fields keep their order.
  auto& ls = m.labels;
  auto& fs = m.fields;
  ls.assign(labels.begin(), labels.end());
  fs.clear();
  for (const auto& f : fields) {
    if (!m.IsLabelName(f.name)) {
      fs.push_back(f);
      continue;
    }
    bool have = false;
    for (const auto& l : ls) have |= SameBytes(l.name, f.name) && !l.value.empty();
    if (!have) ls.push_back(f);
  }
  ls.erase(std::remove_if(ls.begin(), ls.end(),
                          [](const KVView& kv) { return kv.value.empty() || kv.name.empty(); }),
           ls.end());
  // Stable insertion sort by name (a handful of labels), then the first of each name kept.
  for (size_t i = 1; i < ls.size(); ++i) {
    KVView x = ls[i];
    size_t j = i;
    for (; j > 0 && NameLess(x.name, ls[j - 1].name); --j) ls[j] = ls[j - 1];
    ls[j] = x;
  }
  ls.erase(std::unique(ls.begin(), ls.end(),
                       [](const KVView& a, const KVView& b) { return SameBytes(a.name, b.name); }),
           ls.end());
  for (auto& l : ls) {
    if (l.name.size() == 5 && std::memcmp(l.name.data(), "level", 5) == 0 &&
        !IsCanonicalLevel(l.value)) {
      std::string v = NormalizeLevel(l.value);
      if (v != l.value) {
        m.level = std::move(v);
        l.value = m.level;
      }
    }
  }
  if (msg.size() > m.rules->max_line_bytes) {
    m.truncated = std::to_string(msg.size());
    fs.push_back(KVView{"_truncated", m.truncated});
    msg = msg.substr(0, m.rules->max_line_bytes);
    flags |= kFlagTruncated;
  }
  m.sets->Add(ls);
  const uint32_t set = m.sets->of_record(m.views.ts.size());
  size_t need = 10 + 1 + 5 + 10 + msg.size() + 10;
  for (const auto& f : fs) need += 20 + f.name.size() + f.value.size();
  m.Reserve(need);
  Writer w{m.buf.get() + m.end};
  w.Varint(ZigZag(ts_ns));
  *w.p++ = static_cast<char>(flags);
  w.Varint(set);
  m.views.msgs.push_back(w.String(msg));
  w.Varint(fs.size());
  for (const auto& f : fs) {
    std::string_view name = w.String(f.name);
    std::string_view value = w.String(f.value);
    m.views.fields.push_back(KVView{name, value});
  }
  m.end = static_cast<size_t>(w.p - m.buf.get());
  m.views.label_sets.push_back(set);
  m.views.ts.push_back(ts_ns);
  m.views.flags.push_back(flags);
  m.views.n_fields.push_back(static_cast<uint32_t>(fs.size()));
}

EncodedBatch BatchBuilder::Finish() {
  Impl& m = *impl_;
  const LabelSets& sets = *m.sets;
  const size_t n = m.views.ts.size();
  const size_t prefix = 2 + VarintLen(sets.sets().size()) + sets.bytes().size() + VarintLen(n);
  m.table_guess = std::max<size_t>(4096, 2 * prefix);
  if (m.buf == nullptr) {  // Finish without Reset: an empty batch
    m.cap = m.end = m.head;
    m.buf.reset(new char[m.cap + 1]);
  }
  if (prefix > m.head) {  // the table did not fit in the room: the records move up
    const size_t ncap = prefix + (m.end - m.head);
    std::unique_ptr<char[]> nb(new char[ncap]);
    std::memcpy(nb.get() + prefix, m.buf.get() + m.head, m.end - m.head);
    m.Rebase(m.buf.get() + m.head, nb.get() + prefix);
    m.buf = std::move(nb);
    m.end = ncap;
    m.head = prefix;
  }
  const size_t start = m.head - prefix;
  Writer w{m.buf.get() + start};
  *w.p++ = 0;  // format 2, as BatchEncoder::EncodeTo writes it
  *w.p++ = 2;
  w.Varint(sets.sets().size());
  const char* table = w.p;
  std::memcpy(w.p, sets.bytes().data(), sets.bytes().size());
  w.p += sets.bytes().size();
  w.Varint(n);
  KANSOKU_CHECK(w.p == m.buf.get() + m.head, "BUG: log batch header size mismatch");
  EncodedBatch out;
  out.payload = std::string_view(m.buf.get() + start, m.end - start);
  out.views = std::move(m.views);
  out.views.n_label_sets = sets.sets().size();
  out.views.labels.reserve(n);
  out.views.label_hashes.reserve(n);
  for (uint32_t set : out.views.label_sets) {
    const auto& s = sets.sets()[set];
    out.views.labels.push_back(std::string_view(table + s.off, s.len));
    out.views.label_hashes.push_back(s.hash);
  }
  out.owner = std::shared_ptr<const char[]>(m.buf.release());
  m.views = EncodedViews();
  m.cap = m.end = m.head = m.populated = 0;
  return out;
}

Status DecodeBatch(std::string_view payload, LogBatch* out) {
  Decoder d(payload);
  // Format 2 opens with 0 and its version, then the label table; format 1 (written before the
  // table) with the record count, which is never 0, and every record holds its own labels.
  const bool table = !payload.empty() && payload[0] == 0;
  std::vector<std::vector<KV>> sets;
  if (table) {
    uint8_t zero, version;
    uint64_t n_sets;
    if (!d.Byte(&zero) || !d.Byte(&version) || version != 2) {
      return Status::Corruption("unknown WAL batch format");
    }
    if (!d.Varint(&n_sets) || n_sets > d.remaining()) {  // each set takes >= 1 byte
      return Status::Corruption("bad label set count in WAL batch");
    }
    sets.resize(n_sets);
    for (auto& s : sets) {
      if (!d.KVs(&s)) return Status::Corruption("truncated label table in WAL batch");
    }
  }
  uint64_t n;
  if (!d.Varint(&n) || n > payload.size()) return Status::Corruption("bad batch row count");
  out->clear();
  out->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    LogRecord r;
    std::string_view msg;
    bool ok = d.SVarint(&r.ts_ns) && d.Byte(&r.flags);
    if (ok && table) {
      uint64_t set;
      ok = d.Varint(&set) && set < sets.size();
      if (ok) r.labels = sets[set];
    } else if (ok) {
      ok = d.KVs(&r.labels);
    }
    if (!ok || !d.String(&msg) || !d.KVs(&r.fields)) {
      return Status::Corruption("truncated record " + std::to_string(i) + " in WAL batch");
    }
    r.msg.assign(msg);
    out->push_back(std::move(r));
  }
  if (!d.done()) return Status::Corruption("trailing bytes after WAL batch");
  return Status::Ok();
}

std::string WalSegmentName(uint64_t seq) {
  char b[32];
  snprintf(b, sizeof b, "%08llu.wal", static_cast<unsigned long long>(seq));
  return b;
}

namespace {
std::vector<uint64_t> ListSegments(const std::string& dir) {
  std::vector<uint64_t> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() == 12 && n.substr(8) == ".wal") {
      char* end = nullptr;
      unsigned long long v = strtoull(n.c_str(), &end, 10);
      if (end == n.c_str() + 8) out.push_back(v);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  std::string data;
  struct stat st;
  if (fstat(fd, &st) == 0) data.reserve(st.st_size);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path, e);
    }
    if (n == 0) break;
    data.append(buf, n);
  }
  ::close(fd);
  return data;
}
}  // namespace

Result<uint64_t> ReplayLogWal(const std::string& dir, uint64_t first_seq,
                              const std::function<void(LogBatch&&)>& fn, WalReplayStats* stats) {
  auto segs = ListSegments(dir);
  uint64_t last = 0;
  for (size_t si = 0; si < segs.size(); ++si) {
    uint64_t seq = segs[si];
    last = std::max(last, seq);
    if (seq < first_seq) continue;
    std::string path = dir + "/" + WalSegmentName(seq);
    KANSOKU_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    size_t pos = 0;
    bool newest = si + 1 == segs.size();
    while (pos < data.size()) {
      std::string why;
      if (data.size() - pos < 8) {
        why = "short frame header";
      } else {
        uint32_t len, sum;
        std::memcpy(&len, data.data() + pos, 4);
        std::memcpy(&sum, data.data() + pos + 4, 4);
        if (len > data.size() - pos - 8) {
          why = "frame longer than the segment";
        } else if (XXH32(data.data() + pos + 8, len, 0) != sum) {
          why = "checksum mismatch";
        } else {
          LogBatch batch;
          Status st = DecodeBatch(std::string_view(data.data() + pos + 8, len), &batch);
          if (!st.ok()) {
            why = st.message();
          } else {
            stats->frames++;
            stats->rows += batch.size();
            fn(std::move(batch));
            pos += 8 + len;
            continue;
          }
        }
      }
      if (newest) {
        log::Warn(
            "log WAL: truncating torn tail",
            {{"segment", path}, {"offset", static_cast<unsigned long long>(pos)}, {"reason", why}});
        stats->torn_tails++;
        if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) {
          return Status::FromErrno("cannot truncate " + path, errno);
        }
      } else {
        log::Error(
            "log WAL: corrupt segment, skipping its rest",
            {{"segment", path}, {"offset", static_cast<unsigned long long>(pos)}, {"reason", why}});
        stats->corrupt_segments++;
      }
      break;
    }
  }
  return last;
}

Result<std::unique_ptr<LogWal>> LogWal::Open(const std::string& dir, uint64_t seq) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create " + dir, errno);
  }
  std::unique_ptr<LogWal> w(new LogWal(dir));
  for (uint64_t s : ListSegments(dir)) {
    struct stat st;
    if (::stat((dir + "/" + WalSegmentName(s)).c_str(), &st) == 0) w->older_bytes_ += st.st_size;
  }
  std::lock_guard<std::mutex> l(w->mu_);
  KANSOKU_RETURN_IF_ERROR(w->OpenSegment(seq));
  // At startup nothing waits on the lock: make the directory (and the new entry) durable now.
  FsyncDirBestEffort(w->dir_);
  w->dir_dirty_ = false;
  return w;
}

LogWal::~LogWal() {
  std::unique_lock<std::mutex> l(mu_);
  sync_cv_.wait(l, [&] { return !syncing_; });
  for (const auto& [seq, fd] : retired_fds_) {
    ::fdatasync(fd);
    ::close(fd);
  }
  retired_fds_.clear();
  if (dir_dirty_) FsyncDirBestEffort(dir_);
  if (fd_ >= 0) {
    TrimPreallocation();
    ::fsync(fd_);
    ::close(fd_);
  }
}

void LogWal::TrimPreallocation() {
  if (fd_ >= 0 && allocated_ > seg_bytes_) (void)::ftruncate(fd_, static_cast<off_t>(seg_bytes_));
  allocated_ = 0;
}

Status LogWal::OpenSegment(uint64_t seq) {
  std::string path = dir_ + "/" + WalSegmentName(seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot open WAL segment " + path, errno);
  // The segment given up is fsynced (and closed) by the next Sync, outside the lock: an fsync
  // here would stall every Write for its length.
  if (fd_ >= 0) {
    TrimPreallocation();
    retired_fds_.emplace_back(seq_, fd_);
    older_bytes_ += seg_bytes_;
  }
  struct stat st;
  seg_bytes_ = (fstat(fd, &st) == 0) ? st.st_size : 0;
  allocated_ = seg_bytes_;
  if (seg_bytes_ && older_bytes_ >= seg_bytes_) older_bytes_ -= seg_bytes_;  // counted at Open
  fd_ = fd;
  seq_ = seq;
  // The new file's directory entry must survive power loss too: the next Sync.
  dir_dirty_ = true;
  return Status::Ok();
}

Status LogWal::Write(std::string_view payload) {
  // Frame header and payload in one writev: the payload (a whole request's batch) is not copied.
  char header[8];
  uint32_t len = static_cast<uint32_t>(payload.size());
  uint32_t sum = XXH32(payload.data(), payload.size(), 0);
  std::memcpy(header, &len, 4);  // little-endian hosts only
  std::memcpy(header + 4, &sum, 4);
  const size_t total = sizeof header + payload.size();
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return Status::Unavailable("log WAL is closed");
  // Blocks are allocated ahead of the writes, beyond EOF (the size, and so replay, unchanged),
  // so a write rarely waits in ext4's delayed allocation behind writeback of the same file; the
  // rest is trimmed when the segment is left or closed. A failed fallocate (no support) is
  // harmless and not retried before the next kPreallocateBytes.
  if (seg_bytes_ + total > allocated_) {
    const uint64_t want = seg_bytes_ + total + kPreallocateBytes;
    (void)::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_),
                      static_cast<off_t>(want - allocated_));
    allocated_ = want;
  }
  size_t off = 0;
  while (off < total) {
    iovec iov[2];
    int n_iov = 0;
    if (off < sizeof header) iov[n_iov++] = {header + off, sizeof header - off};
    size_t poff = off < sizeof header ? 0 : off - sizeof header;
    iov[n_iov++] = {const_cast<char*>(payload.data()) + poff, payload.size() - poff};
    ssize_t n = ::writev(fd_, iov, n_iov);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      if (::ftruncate(fd_, static_cast<off_t>(seg_bytes_)) != 0) {
        log::Error("log WAL: cannot truncate after a failed write", {{"dir", dir_}});
      }
      return Status::FromErrno("cannot write log WAL", e);
    }
    off += static_cast<size_t>(n);
  }
  seg_bytes_ += total;
  writes_++;
  return Status::Ok();
}

Status LogWal::Sync() {
  std::vector<std::pair<uint64_t, int>> retired;
  bool dir_dirty;
  int fd = -1;
  uint64_t target;
  {
    std::unique_lock<std::mutex> l(mu_);
    // One Sync at a time: a Sync that returned early while another one's fsync is still running
    // would acknowledge writes that are not yet durable. Waiting also coalesces fsyncs.
    sync_cv_.wait(l, [&] { return !syncing_; });
    target = writes_;
    if (synced_writes_ >= target && retired_fds_.empty() && !dir_dirty_) return Status::Ok();
    retired.swap(retired_fds_);
    dir_dirty = dir_dirty_;
    dir_dirty_ = false;
    if (fd_ >= 0 && synced_writes_ < target) {
      fd = ::dup(fd_);
      if (fd < 0) {
        int e = errno;
        retired_fds_.swap(retired);
        dir_dirty_ = dir_dirty;
        return Status::FromErrno("cannot dup the log WAL descriptor", e);
      }
    }
    syncing_ = true;
  }
  // Oldest first: the segments given up since the last Sync, the directory, the live segment.
  std::vector<int> retired_fds;
  for (const auto& r : retired) retired_fds.push_back(r.second);
  const int err = SyncSegmentsInOrder(retired_fds, dir_, dir_dirty, fd);
  {
    std::lock_guard<std::mutex> l(mu_);
    syncing_ = false;
    if (err == 0) synced_writes_ = std::max(synced_writes_, target);
  }
  sync_cv_.notify_all();
  if (err != 0) return Status::FromErrno("cannot fsync log WAL", err);
  return Status::Ok();
}

Result<uint64_t> LogWal::Rotate() {
  std::lock_guard<std::mutex> l(mu_);
  KANSOKU_RETURN_IF_ERROR(OpenSegment(seq_ + 1));
  return seq_;
}

void LogWal::DropBefore(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  // A segment given up and not fsynced yet whose rows are now in durable blocks needs no fsync:
  // closed here, its dirty pages are dropped with the file instead of written out (at close,
  // the final Sync spent ~30-110 ms writing out the segments the final flush had just covered).
  auto kept = retired_fds_.begin();
  for (auto& r : retired_fds_) {
    if (r.first < seq) {
      ::close(r.second);
      retired_dropped_++;
    } else {
      *kept++ = r;
    }
  }
  retired_fds_.erase(kept, retired_fds_.end());
  for (uint64_t s : ListSegments(dir_)) {
    if (s >= seq || s == seq_) continue;
    std::string path = dir_ + "/" + WalSegmentName(s);
    struct stat st;
    uint64_t sz = ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
    if (::unlink(path.c_str()) == 0) older_bytes_ -= std::min(older_bytes_, sz);
  }
}

uint64_t LogWal::retired_dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return retired_dropped_;
}

uint64_t LogWal::current_seq() const {
  std::lock_guard<std::mutex> l(mu_);
  return seq_;
}

uint64_t LogWal::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return older_bytes_ + seg_bytes_;
}

}  // namespace kansoku::logs
