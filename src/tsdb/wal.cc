#include "tsdb/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <unordered_map>
#include <utility>

#include "base/durable.h"
#include "base/log.h"
#include "tsdb/encoding.h"

namespace kansoku::tsdb {
namespace fs = std::filesystem;
namespace {

constexpr size_t kFrameHeader = 9;  // u32 len, u32 crc, u8 type
constexpr uint32_t kMaxRecord = 256u << 20;
constexpr std::string_view kCheckpointPrefix = "checkpoint.";

uint32_t Crc(uint8_t type, std::string_view payload) {
  uLong c = crc32(0L, &type, 1);
  // zlib takes uInt lengths; records are < 4 GiB by construction.
  c = crc32(c, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(c);
}

std::string SegmentName(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08d", n);
  return buf;
}

// Parses "00000012" -> 12; -1 if not a segment name.
int ParseNumber(std::string_view s) {
  if (s.size() != 8) return -1;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

struct WalListing {
  std::vector<int> segments;       // ascending
  int checkpoint = -1;             // newest complete checkpoint
  std::vector<std::string> stale;  // older checkpoints and leftover tmp files
};

WalListing List(const std::string& dir) {
  WalListing l;
  std::error_code ec;
  std::vector<int> checkpoints;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (int n = ParseNumber(name); n >= 0) {
      l.segments.push_back(n);
    } else if (name.starts_with(kCheckpointPrefix)) {
      std::string_view rest = std::string_view(name).substr(kCheckpointPrefix.size());
      if (int c = ParseNumber(rest); c >= 0) {
        checkpoints.push_back(c);
      } else {
        l.stale.push_back(e.path().string());  // checkpoint.N.tmp
      }
    }
  }
  std::sort(l.segments.begin(), l.segments.end());
  std::sort(checkpoints.begin(), checkpoints.end());
  if (!checkpoints.empty()) {
    l.checkpoint = checkpoints.back();
    for (size_t i = 0; i + 1 < checkpoints.size(); ++i) {
      l.stale.push_back(dir + "/" + std::string(kCheckpointPrefix) + SegmentName(checkpoints[i]));
    }
  }
  return l;
}

// Replays one file. is_tail: the newest segment, whose torn tail is truncated.
Status ReplayFile(const std::string& path, bool is_tail,
                  const std::function<Status(WalRecordType, std::string_view)>& fn,
                  WalStats* stats) {
  KANSOKU_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  size_t off = 0;
  std::string problem;
  KANSOKU_RETURN_IF_ERROR(ScanWalRecords(data, fn, &off, &problem, stats));
  if (problem.empty()) return Status::Ok();
  if (is_tail) {
    log::Warn("tsdb wal: truncating torn tail",
              {{"file", path},
               {"offset", static_cast<unsigned long long>(off)},
               {"dropped_bytes", static_cast<unsigned long long>(data.size() - off)},
               {"reason", problem}});
    if (::truncate(path.c_str(), static_cast<off_t>(off)) != 0) {
      return Status::FromErrno("cannot truncate WAL segment " + path, errno);
    }
    if (stats != nullptr) ++stats->torn_tails_truncated;
  } else {
    log::Error(
        "tsdb wal: corrupt record inside segment; skipping its remainder",
        {{"file", path}, {"offset", static_cast<unsigned long long>(off)}, {"reason", problem}});
    if (stats != nullptr) ++stats->corrupt_segments;
  }
  return Status::Ok();
}

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open directory " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("cannot fsync directory " + dir, err);
  return Status::Ok();
}

Result<std::string> ReadFileToString(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status::IOError("cannot remove " + path + ": " + ec.message());
  return Status::Ok();
}

void AppendWalRecord(std::string* out, WalRecordType type, std::string_view payload) {
  KANSOKU_CHECK(payload.size() <= kMaxRecord, "BUG: WAL record too large; split the batch");
  const auto t = static_cast<uint8_t>(type);
  enc::PutU32(out, static_cast<uint32_t>(payload.size()));
  enc::PutU32(out, Crc(t, payload));
  out->push_back(static_cast<char>(t));
  out->append(payload);
}

std::string EncodeWalSeries(const std::vector<WalSeries>& series) {
  std::string out;
  for (const auto& s : series) {
    enc::PutUvarint(&out, s.ref);
    enc::PutUvarint(&out, s.labels.size());
    for (const auto& l : s.labels) {
      enc::PutString(&out, l.name);
      enc::PutString(&out, l.value);
    }
  }
  return out;
}

std::string EncodeWalSymbolSeries(const std::vector<WalSeries>& series) {
  std::unordered_map<std::string_view, uint32_t> ids;  // views into series' labels
  std::vector<std::string_view> symbols;
  std::string body;
  auto sym = [&](std::string_view v) {
    auto [it, inserted] = ids.emplace(v, static_cast<uint32_t>(symbols.size()));
    if (inserted) symbols.push_back(v);
    enc::PutUvarint(&body, it->second);
  };
  for (const auto& s : series) {
    enc::PutUvarint(&body, s.ref);
    enc::PutUvarint(&body, s.labels.size());
    for (const auto& l : s.labels) {
      sym(l.name);
      sym(l.value);
    }
  }
  std::string out;
  enc::PutUvarint(&out, symbols.size());
  for (std::string_view v : symbols) enc::PutString(&out, v);
  out.append(body);
  return out;
}

std::string EncodeWalSamples(const std::vector<WalSample>& samples) {
  std::string out;
  out.reserve(samples.size() * 12);
  SeriesRef prev_ref = 0;
  int64_t prev_t = 0;
  for (const auto& s : samples) {
    enc::PutVarint(&out, static_cast<int64_t>(s.ref - prev_ref));
    enc::PutVarint(&out, s.t - prev_t);
    enc::PutDouble(&out, s.v);
    prev_ref = s.ref;
    prev_t = s.t;
  }
  return out;
}

void AppendWalChunk(std::string* payload, const WalChunk& c) {
  enc::PutUvarint(payload, c.ref);
  payload->push_back(static_cast<char>(c.encoding));
  enc::PutString(payload, c.data);
}

Status DecodeWalChunks(std::string_view payload, std::vector<WalChunk>* out) {
  enc::Decoder d(payload);
  while (d.ok() && !d.done()) {
    WalChunk c;
    c.ref = d.Uvarint();
    const uint8_t e = d.U8();
    c.data = d.String();
    if (!d.ok()) break;
    if (e != static_cast<uint8_t>(ChunkEncoding::kXor) &&
        e != static_cast<uint8_t>(ChunkEncoding::kPacked)) {
      return Status::Corruption("wal chunks record: unknown chunk encoding " + std::to_string(e));
    }
    c.encoding = static_cast<ChunkEncoding>(e);
    out->push_back(c);
  }
  if (!d.ok()) return Status::Corruption("wal chunks record: truncated");
  return Status::Ok();
}

std::string EncodeWalMetadata(const std::vector<WalMetadata>& md) {
  std::string out;
  for (const auto& m : md) {
    enc::PutString(&out, m.metric);
    out.push_back(static_cast<char>(m.md.type));
    enc::PutString(&out, m.md.unit);
    enc::PutString(&out, m.md.help);
  }
  return out;
}

namespace {
// The series entries of a series record's payload from d's position on: ref, label count, then
// each label by label(&l), which reads one label (false: a bad reference, Corruption).
template <class ReadLabel>
Status DecodeSeriesEntries(enc::Decoder& d, ReadLabel label, std::vector<WalSeries>* out) {
  while (d.ok() && !d.done()) {
    WalSeries s;
    s.ref = d.Uvarint();
    const uint64_t n = d.Uvarint();
    if (n > d.remaining()) return Status::Corruption("WAL series record: bad label count");
    std::vector<Label> labels;
    labels.reserve(n);
    for (uint64_t i = 0; i < n && d.ok(); ++i) {
      Label l;
      if (!label(&l)) {
        return Status::Corruption("WAL series record: symbol reference out of range");
      }
      labels.push_back(std::move(l));
    }
    if (!d.ok()) break;
    s.labels = Labels::FromSortedUnchecked(std::move(labels));
    out->push_back(std::move(s));
  }
  if (!d.ok()) return Status::Corruption("WAL series record: truncated payload");
  return Status::Ok();
}
}  // namespace

Status DecodeWalSymbolSeries(std::string_view payload, std::vector<WalSeries>* out) {
  enc::Decoder d(payload);
  const uint64_t n_symbols = d.Uvarint();
  if (n_symbols > d.remaining()) return Status::Corruption("WAL series record: bad symbol count");
  std::vector<std::string_view> symbols;
  symbols.reserve(n_symbols);
  for (uint64_t i = 0; i < n_symbols && d.ok(); ++i) symbols.push_back(d.String());
  return DecodeSeriesEntries(
      d,
      [&](Label* l) {
        const uint64_t name = d.Uvarint(), value = d.Uvarint();
        if (!d.ok()) return true;  // truncated: reported by the caller
        if (name >= symbols.size() || value >= symbols.size()) return false;
        l->name = std::string(symbols[name]);
        l->value = std::string(symbols[value]);
        return true;
      },
      out);
}

Status DecodeWalSeries(std::string_view payload, std::vector<WalSeries>* out) {
  enc::Decoder d(payload);
  return DecodeSeriesEntries(
      d,
      [&](Label* l) {
        l->name = std::string(d.String());
        l->value = std::string(d.String());
        return true;
      },
      out);
}

Status DecodeWalSamples(std::string_view payload, std::vector<WalSample>* out) {
  enc::Decoder d(payload);
  SeriesRef ref = 0;
  int64_t t = 0;
  while (!d.done() && d.ok()) {
    ref += static_cast<SeriesRef>(d.Varint());
    t += d.Varint();
    const double v = d.Double();
    if (!d.ok()) break;
    out->push_back({ref, t, v});
  }
  if (!d.ok()) return Status::Corruption("WAL samples record: truncated payload");
  return Status::Ok();
}

Status DecodeWalMetadata(std::string_view payload, std::vector<WalMetadata>* out) {
  enc::Decoder d(payload);
  while (!d.done() && d.ok()) {
    WalMetadata m;
    m.metric = std::string(d.String());
    const uint8_t type = d.U8();
    m.md.type = type <= static_cast<uint8_t>(MetricType::kStateSet) ? static_cast<MetricType>(type)
                                                                    : MetricType::kUnknown;
    m.md.unit = std::string(d.String());
    m.md.help = std::string(d.String());
    if (!d.ok()) break;
    out->push_back(std::move(m));
  }
  if (!d.ok()) return Status::Corruption("WAL metadata record: truncated payload");
  return Status::Ok();
}

Status ScanWalRecords(std::string_view data,
                      const std::function<Status(WalRecordType, std::string_view)>& fn, size_t* end,
                      std::string* problem, WalStats* stats) {
  size_t off = 0;
  problem->clear();
  while (off < data.size()) {
    if (data.size() - off < kFrameHeader) {
      *problem = "incomplete record header";
      break;
    }
    const uint32_t len = enc::GetU32(data.data() + off);
    const uint32_t crc = enc::GetU32(data.data() + off + 4);
    const auto type = static_cast<uint8_t>(data[off + 8]);
    if (len > kMaxRecord || data.size() - off - kFrameHeader < len) {
      *problem = "incomplete record (length " + std::to_string(len) + ")";
      break;
    }
    const std::string_view payload(data.data() + off + kFrameHeader, len);
    if (Crc(type, payload) != crc) {
      *problem = "checksum mismatch";
      break;
    }
    if (type < 1 || type > 5) {
      *problem = "unknown record type " + std::to_string(type);
      break;
    }
    Status st = fn(static_cast<WalRecordType>(type), payload);
    if (!st.ok()) {
      *end = off;
      return st;
    }
    off += kFrameHeader + len;
    if (stats != nullptr) {
      ++stats->records_replayed;
      stats->bytes_replayed += kFrameHeader + len;
    }
  }
  *end = off;
  return Status::Ok();
}

Status ReplayWal(const std::string& dir,
                 const std::function<Status(WalRecordType, std::string_view)>& fn,
                 WalStats* stats) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  const WalListing l = List(dir);
  if (l.checkpoint >= 0) {
    const std::string path = dir + "/" + std::string(kCheckpointPrefix) + SegmentName(l.checkpoint);
    // A checkpoint is complete by construction (renamed after fsync); damage is not a torn tail.
    KANSOKU_RETURN_IF_ERROR(ReplayFile(path, /*is_tail=*/false, fn, stats));
  }
  for (size_t i = 0; i < l.segments.size(); ++i) {
    if (l.segments[i] <= l.checkpoint) continue;
    const bool tail = i + 1 == l.segments.size();
    KANSOKU_RETURN_IF_ERROR(ReplayFile(dir + "/" + SegmentName(l.segments[i]), tail, fn, stats));
  }
  return Status::Ok();
}

Result<std::unique_ptr<WalWriter>> WalWriter::Open(std::string dir, uint64_t segment_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create WAL directory " + dir + ": " + ec.message());
  WalListing l = List(dir);
  for (const auto& p : l.stale) fs::remove(p, ec);
  int next = 1;
  if (!l.segments.empty()) next = l.segments.back() + 1;
  if (l.checkpoint >= next) next = l.checkpoint + 1;
  std::unique_ptr<WalWriter> w(new WalWriter(std::move(dir), segment_bytes));
  std::lock_guard<std::mutex> lock(w->mu_);
  KANSOKU_RETURN_IF_ERROR(w->OpenSegmentLocked(next, /*sync_now=*/true));
  return w;
}

WalWriter::~WalWriter() {
  std::lock_guard<std::mutex> l(mu_);
  TrimPreallocationLocked();
  SyncSegmentsInOrder(retired_, dir_, dir_dirty_, fd_ >= 0 && dirty_ ? fd_ : -1);
  if (fd_ >= 0 && !dirty_) ::close(fd_);
}

void WalWriter::TrimPreallocationLocked() {
  if (fd_ >= 0 && allocated_ > seg_size_) (void)::ftruncate(fd_, static_cast<off_t>(seg_size_));
  allocated_ = seg_size_;
}

Status WalWriter::OpenSegmentLocked(int n, bool sync_now) {
  if (fd_ >= 0) {
    TrimPreallocationLocked();
    if (!dirty_) {
      ::close(fd_);
    } else if (sync_now) {
      // Earlier segments first: records stay durable in order.
      const int err = SyncSegmentsInOrder(retired_, dir_, dir_dirty_, fd_);
      retired_.clear();
      dir_dirty_ = false;
      if (err != 0) {
        fd_ = -1;
        return Status::FromErrno("cannot fsync WAL segment", err);
      }
    } else {
      retired_.push_back(fd_);  // fdatasync'd and closed by the next Sync
    }
    fd_ = -1;
  }
  const std::string path = dir_ + "/" + SegmentName(n);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::FromErrno("cannot create WAL segment " + path, errno);
  segment_ = n;
  seg_size_ = 0;
  allocated_ = 0;
  dirty_ = false;
  if (!sync_now) {
    dir_dirty_ = true;
    return Status::Ok();
  }
  return FsyncDir(dir_);
}

Status WalWriter::Write(std::string_view framed, bool sync) {
  std::lock_guard<std::mutex> l(mu_);
  if (seg_size_ > 0 && seg_size_ + framed.size() > segment_bytes_) {
    KANSOKU_RETURN_IF_ERROR(OpenSegmentLocked(segment_ + 1, sync));
  }
  // Blocks are allocated ahead of the writes, beyond EOF (the file size, and so replay, are
  // unchanged), so a write rarely needs ext4's delayed block allocation, which waits for
  // writeback of the same file (i_data_sem; measured on the errors event log). The rest is
  // trimmed when the segment is left or closed. A failed fallocate (no support) is harmless and
  // not retried before the next kPreallocateBytes.
  if (const uint64_t need = seg_size_ + framed.size(); need > allocated_) {
    const uint64_t want = std::min<uint64_t>(segment_bytes_, need + kPreallocateBytes);
    if (want > allocated_) {
      (void)::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_),
                        static_cast<off_t>(want - allocated_));
    }
    allocated_ = std::max(want, need);
  }
  Status st = WriteAll(fd_, framed, dir_ + "/" + SegmentName(segment_));
  if (!st.ok()) {
    // A partial record may now end this segment. Later records go to a fresh segment, so replay
    // treats the damage as the end of an older segment and keeps everything written after it.
    Status rotate = OpenSegmentLocked(segment_ + 1, sync);
    if (!rotate.ok()) return st.WithContext(rotate.ToString());
    return st;
  }
  seg_size_ += framed.size();
  written_ += framed.size();
  dirty_ = true;
  if (sync) return SyncLocked();
  return Status::Ok();
}

Status WalWriter::SyncLocked() {
  // Segments left by Rotate and their directory entries first, then the live segment.
  if (!retired_.empty() || dir_dirty_) {
    const int err = SyncSegmentsInOrder(retired_, dir_, dir_dirty_, -1);
    retired_.clear();
    dir_dirty_ = false;
    if (err != 0) return Status::FromErrno("cannot fsync WAL segment", err);
  }
  if (::fdatasync(fd_) != 0) return Status::FromErrno("cannot fsync WAL segment", errno);
  dirty_ = false;
  return Status::Ok();
}

Status WalWriter::Sync() {
  std::lock_guard<std::mutex> one(sync_mu_);
  std::vector<int> retired;
  bool dir_dirty = false;
  int live = -1;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (fd_ >= 0 && dirty_) {
      live = ::dup(fd_);                  // closed by SyncSegmentsInOrder; the writers keep fd_
      if (live < 0) return SyncLocked();  // no descriptor to spare: under the lock, as before
      dirty_ = false;                     // a write from now on sets it again, for the next Sync
    }
    retired.swap(retired_);
    dir_dirty = std::exchange(dir_dirty_, false);
  }
  if (retired.empty() && !dir_dirty && live < 0) return Status::Ok();
  const int err = SyncSegmentsInOrder(retired, dir_, dir_dirty, live);
  if (err != 0) {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;  // try again next time (the kernel may have dropped the error's pages)
    return Status::FromErrno("cannot fsync WAL segment", err);
  }
  return Status::Ok();
}

Result<int> WalWriter::Rotate() {
  std::lock_guard<std::mutex> l(mu_);
  const int closed = segment_;
  KANSOKU_RETURN_IF_ERROR(OpenSegmentLocked(segment_ + 1, /*sync_now=*/false));
  return closed;
}

Status WalWriter::Checkpoint(int upto, const std::function<Status(const Emit& emit)>& produce) {
  const std::string final_path = dir_ + "/" + std::string(kCheckpointPrefix) + SegmentName(upto);
  const std::string tmp = final_path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  std::string buf;
  Status st = produce([&](std::string_view framed) -> Status {
    buf.append(framed);
    if (buf.size() < (1u << 20)) return Status::Ok();
    Status ws = WriteAll(fd, buf, tmp);
    buf.clear();
    return ws;
  });
  if (st.ok()) st = WriteAll(fd, buf, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot fsync " + tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    st = Status::FromErrno("cannot rename " + tmp, errno);
  }
  if (st.ok()) st = FsyncDir(dir_);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The checkpoint now stands for everything up to `upto`.
  const WalListing l = List(dir_);
  std::error_code ec;
  for (int seg : l.segments) {
    if (seg <= upto) fs::remove(dir_ + "/" + SegmentName(seg), ec);
  }
  for (const auto& p : l.stale) fs::remove(p, ec);
  return FsyncDir(dir_);
}

uint64_t WalWriter::BytesWritten() const {
  std::lock_guard<std::mutex> l(mu_);
  return written_;
}

uint64_t WalWriter::DiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace kansoku::tsdb
