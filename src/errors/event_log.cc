#include "errors/event_log.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/durable.h"
#include "base/log.h"

namespace kansoku::errors {
namespace {

// CRC-32 (the zlib / gzip polynomial; libdeflate's is PCLMUL-accelerated, same values).
uint32_t Crc(uint8_t type, std::string_view payload) {
  uint32_t c = libdeflate_crc32(0, &type, 1);
  return libdeflate_crc32(c, payload.data(), payload.size());
}

uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

Status WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write the error event log", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

}  // namespace

void AppendRecord(std::string* out, RecordType type, std::string_view payload) {
  uint32_t len = static_cast<uint32_t>(payload.size() + 1);
  uint8_t t = static_cast<uint8_t>(type);
  uint32_t crc = Crc(t, payload);
  out->append(reinterpret_cast<const char*>(&len), 4);
  out->append(reinterpret_cast<const char*>(&crc), 4);
  out->push_back(static_cast<char>(t));
  out->append(payload);
}

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void PutU16(std::string* out, uint16_t v) { out->append(reinterpret_cast<const char*>(&v), 2); }
void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
void PutBytes16(std::string* out, std::string_view s) {
  if (s.size() > 0xffff) s = s.substr(0, 0xffff);
  PutU16(out, static_cast<uint16_t>(s.size()));
  out->append(s);
}
void PutBytes32(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool Reader::Raw(size_t n, std::string_view* v) {
  if (p_.size() < n) return false;
  *v = p_.substr(0, n);
  p_.remove_prefix(n);
  return true;
}
bool Reader::U8(uint8_t* v) {
  std::string_view s;
  if (!Raw(1, &s)) return false;
  *v = static_cast<uint8_t>(s[0]);
  return true;
}
bool Reader::U16(uint16_t* v) {
  std::string_view s;
  if (!Raw(2, &s)) return false;
  std::memcpy(v, s.data(), 2);
  return true;
}
bool Reader::U32(uint32_t* v) {
  std::string_view s;
  if (!Raw(4, &s)) return false;
  std::memcpy(v, s.data(), 4);
  return true;
}
bool Reader::U64(uint64_t* v) {
  std::string_view s;
  if (!Raw(8, &s)) return false;
  std::memcpy(v, s.data(), 8);
  return true;
}
bool Reader::Bytes16(std::string_view* v) {
  uint16_t n;
  return U16(&n) && Raw(n, v);
}
bool Reader::Bytes32(std::string_view* v) {
  uint32_t n;
  return U32(&n) && Raw(n, v);
}

Result<std::unique_ptr<EventLog>> EventLog::Open(std::string dir, uint64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  return std::unique_ptr<EventLog>(new EventLog(std::move(dir), segment_bytes));
}

EventLog::~EventLog() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : retired_fds_) {
    ::fdatasync(fd);
    ::close(fd);
  }
  if (dir_dirty_) FsyncDirBestEffort(dir_);
  if (fd_ >= 0) {
    if (allocated_ > size_) (void)::ftruncate(fd_, static_cast<off_t>(size_));
    if (dirty_) ::fsync(fd_);
    ::close(fd_);
  }
}

std::string EventLog::SegmentPath(uint32_t n) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", n);
  return dir_ + "/" + buf;
}

Status EventLog::Replay(
    const std::function<Status(RecordType, std::string_view, const RecordRef&)>& fn) {
  std::vector<uint32_t> segs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() == 8 && std::all_of(name.begin(), name.end(), ::isdigit)) {
      segs.push_back(static_cast<uint32_t>(std::stoul(name)));
    }
  }
  if (ec) return Status::IOError("cannot list " + dir_ + ": " + ec.message());
  std::sort(segs.begin(), segs.end());
  uint64_t last_good = 0;
  for (size_t si = 0; si < segs.size(); ++si) {
    bool newest = si + 1 == segs.size();
    std::string path = SegmentPath(segs[si]);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
    struct stat st {};
    ::fstat(fd, &st);
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < data.size()) {
      ssize_t r = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    ::close(fd);
    data.resize(got);
    size_t pos = 0;
    bool bad = false;
    while (pos < data.size()) {
      if (data.size() - pos < kRecordHeaderBytes) {
        bad = true;
        break;
      }
      uint32_t len = LoadU32(data.data() + pos);
      uint32_t crc = LoadU32(data.data() + pos + 4);
      if (len == 0 || len > data.size() - pos - 8) {
        bad = true;
        break;
      }
      uint8_t type = static_cast<uint8_t>(data[pos + 8]);
      std::string_view payload(data.data() + pos + 9, len - 1);
      if (Crc(type, payload) != crc) {
        bad = true;
        break;
      }
      RecordRef ref{segs[si], pos, len - 1};
      KANSOKU_RETURN_IF_ERROR(fn(static_cast<RecordType>(type), payload, ref));
      ++stats_.records_replayed;
      stats_.bytes_replayed += 8 + len;
      pos += 8 + len;
    }
    if (bad) {
      if (newest) {
        log::Warn("error event log: truncating a torn tail",
                  {{"segment", path},
                   {"offset", static_cast<unsigned long long>(pos)},
                   {"dropped_bytes", static_cast<unsigned long long>(data.size() - pos)}});
        if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) {
          return Status::FromErrno("cannot truncate " + path, errno);
        }
        ++stats_.torn_tails_truncated;
      } else {
        log::Error("error event log: corrupt record, rest of segment skipped",
                   {{"segment", path}, {"offset", static_cast<unsigned long long>(pos)}});
        ++stats_.corrupt_segments;
      }
    }
    if (newest) {
      last_good = pos;
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      closed_bytes_ += data.size();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (segs.empty()) return OpenForAppend(1, 0);
  return OpenForAppend(segs.back(), last_good);
}

Status EventLog::OpenForAppend(uint32_t n, uint64_t size) {
  std::string path = SegmentPath(n);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  if (::lseek(fd, static_cast<off_t>(size), SEEK_SET) < 0) {
    ::close(fd);
    return Status::FromErrno("cannot seek " + path, errno);
  }
  // The segment given up is fsynced by the next Sync, outside the lock: fsyncing up to a
  // segment's worth of dirty pages here stalled every writer for tens of milliseconds. Its
  // preallocated blocks beyond the end are given back (truncating to its own size).
  if (fd_ >= 0) {
    if (allocated_ > size_) (void)::ftruncate(fd_, static_cast<off_t>(size_));
    retired_fds_.push_back(fd_);
  }
  fd_ = fd;
  allocated_ = size;
  segment_ = n;
  size_ = size;
  return Status::Ok();
}

Status EventLog::Append(std::string_view framed, uint32_t* segment, uint64_t* offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return Status::Internal("BUG: EventLog::Append before Replay");
  if (size_ > 0 && size_ + framed.size() > segment_bytes_) {
    closed_bytes_ += size_;
    KANSOKU_RETURN_IF_ERROR(OpenForAppend(segment_ + 1, 0));
    // The directory entry of the new segment must survive power loss too: the next Sync.
    dir_dirty_ = true;
  }
  *segment = segment_;
  *offset = size_;
  // Blocks are allocated ahead of the writes (beyond EOF, the file size is unchanged), so a
  // write rarely needs the filesystem's block allocation, which waits on writeback of the same
  // file (ext4 delayed allocation: i_data_sem). Failure (no fallocate support) is harmless and
  // is not retried before the next kPreallocateBytes, so it costs no syscall per write.
  if (size_ + framed.size() > allocated_) {
    const uint64_t want =
        std::min<uint64_t>(segment_bytes_, size_ + framed.size() + kPreallocateBytes);
    if (want > allocated_) {
      (void)::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_),
                        static_cast<off_t>(want - allocated_));
    }
    allocated_ = std::max<uint64_t>(want, size_ + framed.size());
  }
  Status st = WriteAll(fd_, framed.data(), framed.size());
  if (!st.ok()) {
    // A partial write leaves a torn record: cut it off so the next append starts clean.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {
      ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
    }
    return st;
  }
  size_ += framed.size();
  dirty_ = true;
  return Status::Ok();
}

Status EventLog::Sync() {
  // One Sync at a time: a second caller that finds nothing dirty must not return while the
  // first one's fsync of its records is still running.
  std::lock_guard<std::mutex> one_at_a_time(sync_mu_);
  int fd = -1;
  std::vector<int> retired;
  bool dir_dirty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retired.swap(retired_fds_);
    dir_dirty = dir_dirty_;
    dir_dirty_ = false;
    if (dirty_ && fd_ >= 0) {
      dirty_ = false;
      fd = ::dup(fd_);
      if (fd < 0) {
        dirty_ = true;
        for (int r : retired) ::close(r);
        return Status::FromErrno("cannot dup the event log fd", errno);
      }
    }
  }
  // Oldest first: segments given up since the last Sync, their directory entries, the live one.
  const int err = SyncSegmentsInOrder(retired, dir_, dir_dirty, fd);
  if (err != 0) return Status::FromErrno("cannot fsync the error event log", err);
  return Status::Ok();
}

Result<std::string> EventLog::Read(const RecordRef& ref) const {
  std::string path = SegmentPath(ref.segment);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("event log segment " + path + " is gone");
    return Status::FromErrno("cannot open " + path, errno);
  }
  std::string out(ref.length, '\0');
  size_t got = 0;
  off_t base = static_cast<off_t>(ref.offset + kRecordHeaderBytes);
  while (got < out.size()) {
    ssize_t r = ::pread(fd, out.data() + got, out.size() - got, base + static_cast<off_t>(got));
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  if (got != out.size()) return Status::Corruption("short read of a record in " + path);
  return out;
}

std::vector<EventLog::SegmentInfo> EventLog::ClosedSegments() const {
  uint32_t current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = segment_;
  }
  std::vector<SegmentInfo> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() != 8 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    uint32_t n = static_cast<uint32_t>(std::stoul(name));
    if (n >= current) continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    out.push_back({n, static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000});
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentInfo& a, const SegmentInfo& b) { return a.number < b.number; });
  return out;
}

Status EventLog::ScanSegment(
    uint32_t number,
    const std::function<Status(RecordType, std::string_view, const RecordRef&)>& fn) const {
  std::string path = SegmentPath(number);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  struct stat st {};
  ::fstat(fd, &st);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t r = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  data.resize(got);
  size_t pos = 0;
  while (data.size() - pos >= kRecordHeaderBytes) {
    uint32_t len = LoadU32(data.data() + pos);
    uint32_t crc = LoadU32(data.data() + pos + 4);
    if (len == 0 || len > data.size() - pos - 8) break;
    uint8_t type = static_cast<uint8_t>(data[pos + 8]);
    std::string_view payload(data.data() + pos + 9, len - 1);
    if (Crc(type, payload) != crc) break;
    KANSOKU_RETURN_IF_ERROR(fn(static_cast<RecordType>(type), payload, {number, pos, len - 1}));
    pos += 8 + len;
  }
  return Status::Ok();
}

Status EventLog::DeleteSegment(uint32_t number) {
  std::lock_guard<std::mutex> lock(mu_);
  if (number >= segment_) {
    return Status::InvalidArgument("BUG: cannot delete the segment being appended to");
  }
  std::string path = SegmentPath(number);
  struct stat st {};
  uint64_t bytes = ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (::unlink(path.c_str()) != 0) return Status::FromErrno("cannot delete " + path, errno);
  closed_bytes_ -= std::min(closed_bytes_, bytes);
  return Status::Ok();
}

uint64_t EventLog::BytesOnDisk() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_bytes_ + size_;
}

}  // namespace kansoku::errors
