#include "alert/silences.h"

#include <fcntl.h>
#include <unistd.h>

#include <simdjson.h>

#include <fstream>
#include <random>
#include <sstream>

#include "alert/alert.h"
#include "net/http.h"

namespace kansoku::alert {

namespace {
constexpr int64_t kKeepExpiredMs = 5LL * 24 * 3600 * 1000;

Status WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& data) {
  std::string path = dir + "/" + name, tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::FromErrno("cannot write " + tmp, e);
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Status::FromErrno("cannot fsync " + tmp, e);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::FromErrno("cannot rename " + tmp, errno);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}
}  // namespace

std::string Silence::StateAt(int64_t now_ms) const {
  if (now_ms < starts_at_ms) return "pending";
  if (now_ms >= ends_at_ms) return "expired";
  return "active";
}

Silences::Silences(std::string state_dir, Clock* clock)
    : dir_(std::move(state_dir)), clock_(clock) {}

Status Silences::Load() {
  if (dir_.empty()) return Status::Ok();
  std::ifstream f(dir_ + "/silences.json", std::ios::binary);
  if (!f) return Status::Ok();
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS ||
      doc["silences"].get_array().get(arr) != simdjson::SUCCESS) {
    return Status::Corruption(dir_ + "/silences.json: not a silences file");
  }
  std::lock_guard<std::mutex> l(mu_);
  entries_.clear();
  for (auto e : arr) {
    Entry en;
    std::string_view sv;
    auto str = [&](const char* k, std::string* out) {
      if (e[k].get_string().get(sv) == simdjson::SUCCESS) *out = std::string(sv);
    };
    auto i64 = [&](const char* k, int64_t* out) {
      int64_t n;
      if (e[k].get_int64().get(n) == simdjson::SUCCESS) *out = n;
    };
    str("id", &en.s.id);
    str("created_by", &en.s.created_by);
    str("comment", &en.s.comment);
    i64("starts_at_ms", &en.s.starts_at_ms);
    i64("ends_at_ms", &en.s.ends_at_ms);
    i64("updated_at_ms", &en.s.updated_at_ms);
    simdjson::dom::array ms;
    if (e["matchers"].get_array().get(ms) == simdjson::SUCCESS) {
      for (auto m : ms) {
        if (m.get_string().get(sv) != simdjson::SUCCESS) continue;
        auto pm = ParseMatcher(sv);
        if (!pm.ok()) continue;
        en.s.matchers.emplace_back(sv);
        en.compiled.push_back(std::move(pm).value());
      }
    }
    if (en.s.id.empty() || en.compiled.empty()) continue;
    entries_.push_back(std::move(en));
  }
  return Status::Ok();
}

Status Silences::SaveLocked() const {
  if (dir_.empty()) return Status::Ok();
  std::string j = "{\"version\":1,\"silences\":[";
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Silence& s = entries_[i].s;
    if (i) j += ',';
    j += "{\"id\":" + net::JsonString(s.id) + ",\"matchers\":[";
    for (size_t k = 0; k < s.matchers.size(); ++k) {
      if (k) j += ',';
      j += net::JsonString(s.matchers[k]);
    }
    j += "],\"starts_at_ms\":" + std::to_string(s.starts_at_ms) +
         ",\"ends_at_ms\":" + std::to_string(s.ends_at_ms) +
         ",\"updated_at_ms\":" + std::to_string(s.updated_at_ms) +
         ",\"created_by\":" + net::JsonString(s.created_by) +
         ",\"comment\":" + net::JsonString(s.comment) + "}";
  }
  j += "]}\n";
  return WriteFileAtomic(dir_, "silences.json", j);
}

Result<std::string> Silences::Put(Silence s) {
  if (s.matchers.empty()) return Status::InvalidArgument("a silence needs at least one matcher");
  std::vector<tsdb::Matcher> compiled;
  bool all_empty = true;
  for (const auto& m : s.matchers) {
    auto pm = ParseMatcher(m);
    if (!pm.ok()) return pm.status();
    all_empty &= pm->MatchesEmpty();
    compiled.push_back(std::move(pm).value());
  }
  if (all_empty) {
    return Status::InvalidArgument(
        "at least one matcher must not match the empty string (the "
        "silence would mute every alert)");
  }
  int64_t now = clock_->NowMs();
  if (s.starts_at_ms == 0) s.starts_at_ms = now;
  if (s.ends_at_ms <= s.starts_at_ms) {
    return Status::InvalidArgument("endsAt must be after startsAt");
  }
  if (s.ends_at_ms <= now) return Status::InvalidArgument("endsAt is in the past");
  s.updated_at_ms = now;
  std::lock_guard<std::mutex> l(mu_);
  // Forget long-expired silences.
  std::erase_if(entries_, [&](const Entry& e) { return e.s.ends_at_ms + kKeepExpiredMs < now; });
  auto old = entries_;
  if (s.id.empty()) {
    std::random_device rd;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04llx", rd(), rd() & 0xffff,
                  static_cast<unsigned long long>(++seq_ & 0xffff));
    s.id = buf;
    entries_.push_back({s, std::move(compiled)});
  } else {
    bool found = false;
    for (auto& e : entries_) {
      if (e.s.id == s.id) {
        e = {s, std::move(compiled)};
        found = true;
        break;
      }
    }
    if (!found) return Status::NotFound("silence " + s.id + " not found");
  }
  Status st = SaveLocked();
  if (!st.ok()) {
    entries_ = std::move(old);
    return st;
  }
  return s.id;
}

Status Silences::Expire(const std::string& id) {
  int64_t now = clock_->NowMs();
  std::lock_guard<std::mutex> l(mu_);
  for (auto& e : entries_) {
    if (e.s.id != id) continue;
    if (e.s.ends_at_ms <= now) return Status::Ok();
    int64_t old_end = e.s.ends_at_ms, old_start = e.s.starts_at_ms;
    e.s.ends_at_ms = now;
    if (e.s.starts_at_ms > now) e.s.starts_at_ms = now;
    e.s.updated_at_ms = now;
    Status st = SaveLocked();
    if (!st.ok()) {
      e.s.ends_at_ms = old_end;
      e.s.starts_at_ms = old_start;
    }
    return st;
  }
  return Status::NotFound("silence " + id + " not found");
}

std::vector<Silence> Silences::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Silence> out;
  for (const auto& e : entries_) out.push_back(e.s);
  return out;
}

std::string Silences::MutedBy(const tsdb::Labels& labels, int64_t now_ms) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& e : entries_) {
    if (now_ms < e.s.starts_at_ms || now_ms >= e.s.ends_at_ms) continue;
    if (MatchesAll(e.compiled, labels)) return e.s.id;
  }
  return "";
}

size_t Silences::ActiveCount(int64_t now_ms) const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (const auto& e : entries_) n += now_ms >= e.s.starts_at_ms && now_ms < e.s.ends_at_ms;
  return n;
}

}  // namespace kansoku::alert
