#include "agent/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "agent/collectors/text.h"
#include "base/log.h"

namespace kansoku::agent {

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, int64_t max_bytes) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create spool directory " + dir, errno);
  }
  std::unique_ptr<Spool> s(new Spool(dir, max_bytes));
  std::vector<Entry> found;
  bool ok = ListDir(dir, [&](const char* name, bool) {
    std::string n(name);
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      ::unlink((dir + "/" + n).c_str());  // a write that never completed
      return;
    }
    unsigned long long seq = 0;
    unsigned samples = 0;
    int consumed = 0;
    if (std::sscanf(name, "%20llu-%u.rw%n", &seq, &samples, &consumed) != 2 ||
        static_cast<size_t>(consumed) != n.size()) {
      return;  // not ours
    }
    struct stat st;
    if (::stat((dir + "/" + n).c_str(), &st) != 0) return;
    found.push_back({seq, samples, static_cast<int64_t>(st.st_size)});
  });
  if (!ok) return Status::FromErrno("cannot list spool directory " + dir, errno);
  std::sort(found.begin(), found.end(),
            [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
  for (const auto& e : found) {
    s->entries_.push_back(e);
    s->bytes_ += e.bytes;
    s->samples_ += e.samples;
    s->next_seq_ = std::max(s->next_seq_, e.seq + 1);
  }
  return s;
}

std::string Spool::FileName(const Entry& e) const {
  char name[64];
  std::snprintf(name, sizeof name, "%020" PRIu64 "-%u.rw", e.seq, e.samples);
  return dir_ + "/" + name;
}

Status Spool::Write(const Entry& e, const std::string& body) {
  std::string path = FileName(e);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  size_t off = 0;
  while (off < body.size()) {
    ssize_t n = ::write(fd, body.data() + off, body.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::FromErrno("cannot write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("cannot rename " + tmp, err);
  }
  return Status::Ok();
}

uint64_t Spool::EvictFor(int64_t incoming) {
  uint64_t dropped = 0;
  while (!entries_.empty() && bytes_ + incoming > max_bytes_) {
    const Entry& e = entries_.front();
    ::unlink(FileName(e).c_str());
    bytes_ -= e.bytes;
    samples_ -= e.samples;
    dropped += e.samples;
    entries_.pop_front();
  }
  return dropped;
}

Status Spool::PushBack(const std::string& body, uint32_t samples, uint64_t* dropped_samples) {
  *dropped_samples = 0;
  int64_t size = static_cast<int64_t>(body.size());
  if (size > max_bytes_) {
    *dropped_samples = samples;
    return Status::ResourceExhausted("batch of " + std::to_string(size) +
                                     " bytes is larger than the spool bound");
  }
  *dropped_samples = EvictFor(size);
  Entry e{next_seq_++, samples, size};
  KANSOKU_RETURN_IF_ERROR(Write(e, body));
  entries_.push_back(e);
  bytes_ += size;
  samples_ += samples;
  return Status::Ok();
}

Status Spool::PushFront(const std::string& body, uint32_t samples, uint64_t* dropped_samples) {
  *dropped_samples = 0;
  int64_t size = static_cast<int64_t>(body.size());
  if (size > max_bytes_) {
    *dropped_samples = samples;
    return Status::ResourceExhausted("batch larger than the spool bound");
  }
  // The oldest batch is the one to drop when full: it is this one if the spool is full of
  // newer data.
  if (bytes_ + size > max_bytes_) {
    *dropped_samples = samples;
    return Status::Ok();
  }
  uint64_t seq = entries_.empty() ? next_seq_++ : entries_.front().seq - 1;
  Entry e{seq, samples, size};
  KANSOKU_RETURN_IF_ERROR(Write(e, body));
  entries_.push_front(e);
  bytes_ += size;
  samples_ += samples;
  return Status::Ok();
}

Result<bool> Spool::Front(std::string* body, uint32_t* samples, uint64_t* seq) {
  while (!entries_.empty()) {
    const Entry e = entries_.front();
    *samples = e.samples;
    *seq = e.seq;
    Status st = ReadSmallFile(FileName(e), body);
    if (!st.ok()) {
      // Vanished or unreadable: forget it (counted by the caller as dropped) and go on.
      log::Warn("spool file unreadable, skipped", {{"err", st.message()}});
      Remove(e.seq);
      return st;
    }
    *samples = e.samples;
    *seq = e.seq;
    return true;
  }
  return false;
}

void Spool::Remove(uint64_t seq) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->seq == seq) {
      ::unlink(FileName(*it).c_str());
      bytes_ -= it->bytes;
      samples_ -= it->samples;
      entries_.erase(it);
      return;
    }
  }
}

}  // namespace kansoku::agent
