#include "logs/block.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL  // the same XXH3 values, inlined: one hash per token at ingest
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

#include "logs/codec.h"

namespace kansoku::logs {

uint64_t TokenHash(std::string_view token) { return XXH3_64bits(token.data(), token.size()); }

namespace {

constexpr char kMagic[4] = {'K', 'L', 'B', '1'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kBloomK = 7;

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

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

Status Compress(std::string_view raw, int level, std::string* out) {
  // One context per thread: ZSTD_compress would allocate and clear its tables on every call.
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  size_t bound = ZSTD_compressBound(raw.size());
  size_t at = out->size();
  out->resize(at + bound);
  size_t n = ZSTD_compressCCtx(cctx.get(), out->data() + at, bound, raw.data(), raw.size(), level);
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

}  // namespace

Status WriteBlock(const std::string& path, const std::vector<BlockStreamInput>& streams,
                  uint64_t wal_seq_end, int zstd_level, uint64_t* file_bytes) {
  // Column raw encodings.
  std::string time_col, flags_col, msg_lens, msg_bytes;
  struct FieldCol {
    std::string lens, bytes;
    uint64_t rows_before = 0;  // rows already accounted (absent rows are padded lazily)
  };
  // Field columns in order of first appearance (rows usually list fields in the same order, so
  // the column of a row's j-th field is found at position j first).
  std::vector<std::pair<std::string, FieldCol>> field_cols;
  HashSet64 tokens;
  uint64_t row = 0;
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  std::string footer;
  PutVarint(&footer, streams.size());
  auto add_tokens = [&tokens](std::string_view s) {
    ForEachToken(s, [&tokens](std::string_view t) { tokens.Insert(TokenHash(t)); });
  };
  for (const auto& s : streams) {
    PutKVs(&footer, *s.labels);
    for (const auto& kv : *s.labels) add_tokens(kv.value);
    PutVarint(&footer, row);
    PutVarint(&footer, s.rows.size());
    int64_t smin = s.rows.empty() ? 0 : s.rows.front()->ts;
    int64_t smax = s.rows.empty() ? 0 : s.rows.back()->ts;
    PutVarint(&footer, ZigZag(smin));
    PutVarint(&footer, ZigZag(smax));
    min_ts = std::min(min_ts, smin);
    max_ts = std::max(max_ts, smax);
    int64_t prev = 0;
    for (const RowData* r : s.rows) {
      PutVarint(&time_col, ZigZag(r->ts - prev));
      prev = r->ts;
      flags_col.push_back(static_cast<char>(r->flags));
      PutVarint(&msg_lens, r->msg.size());
      msg_bytes.append(r->msg);
      add_tokens(r->msg);
      for (size_t j = 0; j < r->fields.size(); ++j) {
        const KV& f = r->fields[j];
        size_t ci = j;
        if (ci >= field_cols.size() || field_cols[ci].first != f.name) {
          ci = 0;
          while (ci < field_cols.size() && field_cols[ci].first != f.name) ++ci;
          if (ci == field_cols.size()) field_cols.emplace_back(f.name, FieldCol{});
        }
        FieldCol& c = field_cols[ci].second;
        if (c.rows_before > row) continue;  // duplicate field name in one row: first wins
        while (c.rows_before < row) {
          c.lens.push_back(0);
          c.rows_before++;
        }
        PutVarint(&c.lens, f.value.size() + 1);
        c.bytes.append(f.value);
        c.rows_before++;
        add_tokens(f.value);
      }
      ++row;
    }
  }
  if (row == 0) return Status::InvalidArgument("BUG: empty block");

  std::string file(kMagic, 4);
  std::string cols_footer;
  uint64_t n_cols = 0;
  auto add_col = [&](std::string_view name, ColumnKind kind, std::string_view raw) -> Status {
    uint64_t off = file.size();
    KANSOKU_RETURN_IF_ERROR(Compress(raw, zstd_level, &file));
    PutString(&cols_footer, name);
    cols_footer.push_back(static_cast<char>(kind));
    PutVarint(&cols_footer, off);
    PutVarint(&cols_footer, file.size() - off);
    PutVarint(&cols_footer, raw.size());
    ++n_cols;
    return Status::Ok();
  };
  KANSOKU_RETURN_IF_ERROR(add_col("_time", ColumnKind::kTime, time_col));
  KANSOKU_RETURN_IF_ERROR(add_col("_flags", ColumnKind::kFlags, flags_col));
  msg_lens.append(msg_bytes);
  KANSOKU_RETURN_IF_ERROR(add_col("_msg", ColumnKind::kMsg, msg_lens));
  std::sort(field_cols.begin(), field_cols.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, c] : field_cols) {
    while (c.rows_before < row) {
      c.lens.push_back(0);
      c.rows_before++;
    }
    c.lens.append(c.bytes);
    KANSOKU_RETURN_IF_ERROR(add_col(name, ColumnKind::kField, c.lens));
  }

  std::string meta;
  meta.push_back(static_cast<char>(kVersion));
  PutVarint(&meta, ZigZag(min_ts));
  PutVarint(&meta, ZigZag(max_ts));
  PutVarint(&meta, row);
  PutVarint(&meta, wal_seq_end);
  meta.append(footer);
  PutVarint(&meta, n_cols);
  meta.append(cols_footer);
  uint64_t n_bits = std::max<uint64_t>(1024, tokens.size() * 10);
  n_bits = (n_bits + 63) / 64 * 64;
  std::vector<uint64_t> bits(n_bits / 64);
  tokens.ForEach([&bits](uint64_t h) { BloomSet(bits, h); });
  PutVarint(&meta, n_bits);
  meta.push_back(static_cast<char>(kBloomK));
  meta.append(reinterpret_cast<const char*>(bits.data()), bits.size() * 8);

  std::string zfooter;
  KANSOKU_RETURN_IF_ERROR(Compress(meta, zstd_level, &zfooter));
  file.append(zfooter);
  PutU32(&file, static_cast<uint32_t>(zfooter.size()));
  PutU32(&file, XXH32(zfooter.data(), zfooter.size(), 0));
  file.append(kMagic, 4);

  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  Status st = WriteAll(fd, file, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot fsync " + tmp, errno);
  ::close(fd);
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
  *file_bytes = file.size();
  return Status::Ok();
}

Result<std::shared_ptr<Block>> Block::Open(const std::string& path) {
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
  if (!d.Byte(&version) || version != kVersion) return corrupt("unknown version");
  if (!d.SVarint(&b->min_ts_) || !d.SVarint(&b->max_ts_) || !d.Varint(&b->rows_) ||
      !d.Varint(&b->wal_seq_end_) || !d.Varint(&n_streams) || n_streams > meta.size()) {
    return corrupt("truncated header");
  }
  for (uint64_t i = 0; i < n_streams; ++i) {
    StreamInfo s;
    if (!d.KVs(&s.labels) || !d.Varint(&s.first_row) || !d.Varint(&s.n_rows) ||
        !d.SVarint(&s.min_ts) || !d.SVarint(&s.max_ts)) {
      return corrupt("truncated stream table");
    }
    if (s.first_row + s.n_rows > b->rows_) return corrupt("stream rows out of range");
    b->streams_.push_back(std::move(s));
  }
  if (!d.Varint(&n_cols) || n_cols > meta.size()) return corrupt("truncated column table");
  for (uint64_t i = 0; i < n_cols; ++i) {
    ColumnInfo c;
    std::string_view name;
    uint8_t kind;
    if (!d.String(&name) || !d.Byte(&kind) || !d.Varint(&c.offset) ||
        !d.Varint(&c.compressed_len) || !d.Varint(&c.raw_len)) {
      return corrupt("truncated column table");
    }
    c.name = std::string(name);
    c.kind = static_cast<ColumnKind>(kind);
    if (c.offset + c.compressed_len > static_cast<uint64_t>(st.st_size)) {
      return corrupt("column " + c.name + " out of range");
    }
    b->columns_.push_back(std::move(c));
  }
  std::string_view bits;
  if (!d.Varint(&n_bits) || n_bits % 64 != 0 || n_bits == 0 || !d.Byte(&b->bloom_k_) ||
      !d.Bytes(n_bits / 8, &bits)) {
    return corrupt("truncated bloom filter");
  }
  b->bloom_.resize(n_bits / 64);
  std::memcpy(b->bloom_.data(), bits.data(), bits.size());
  return b;
}

Block::~Block() {
  if (fd_ >= 0) ::close(fd_);
}

bool Block::MayContainHash(uint64_t h) const {
  uint64_t n = bloom_.size() * 64;
  uint64_t h1 = h, h2 = ((h >> 32) | (h << 32)) | 1;
  for (int i = 0; i < bloom_k_; ++i) {
    uint64_t b = (h1 + static_cast<uint64_t>(i) * h2) % n;
    if (!(bloom_[b >> 6] & (1ULL << (b & 63)))) return false;
  }
  return true;
}

Status Block::ReadColumn(std::string_view name, ColumnKind kind, std::string* raw) const {
  for (const auto& c : columns_) {
    if (c.kind != kind || c.name != name) continue;
    std::string z(c.compressed_len, '\0');
    if (::pread(fd_, z.data(), z.size(), static_cast<off_t>(c.offset)) !=
        static_cast<ssize_t>(z.size())) {
      return Status::IOError("block " + path_ + ": cannot read column " + c.name);
    }
    if (c.raw_len > (1ULL << 34)) return Status::Corruption("block " + path_ + ": column too big");
    raw->resize(c.raw_len);
    thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
    size_t n = ZSTD_decompressDCtx(dctx.get(), raw->data(), raw->size(), z.data(), z.size());
    if (ZSTD_isError(n) || n != c.raw_len) {
      return Status::Corruption("block " + path_ + ": cannot decompress column " + c.name);
    }
    return Status::Ok();
  }
  return Status::NotFound("no column " + std::string(name));
}

}  // namespace kansoku::logs
