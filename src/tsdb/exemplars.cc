#include "tsdb/exemplars.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "base/log.h"
#include "tsdb/encoding.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {
namespace {

// The log reuses the WAL's record framing; its only record type is 1 (exemplar).
constexpr auto kExemplarRecord = static_cast<WalRecordType>(1);

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

void PutLabels(std::string* out, const Labels& ls) {
  enc::PutUvarint(out, ls.size());
  for (const auto& l : ls) {
    enc::PutString(out, l.name);
    enc::PutString(out, l.value);
  }
}

bool GetLabels(enc::Decoder& d, Labels* out) {
  const uint64_t n = d.Uvarint();
  if (!d.ok() || n > d.remaining()) return false;
  std::vector<Label> v;
  v.reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    Label l;
    l.name = std::string(d.String());
    l.value = std::string(d.String());
    v.push_back(std::move(l));
  }
  if (!d.ok()) return false;
  *out = Labels::FromVector(std::move(v));  // sorts and checks: the bytes are not trusted
  return true;
}

}  // namespace

std::string EncodeExemplarRecord(const Labels& series, const Exemplar& e) {
  std::string out;
  PutLabels(&out, series);
  PutLabels(&out, e.labels);
  enc::PutDouble(&out, e.value);
  enc::PutVarint(&out, e.t);
  return out;
}

Status DecodeExemplarRecord(std::string_view payload, Labels* series, Exemplar* e) {
  enc::Decoder d(payload);
  if (!GetLabels(d, series) || !GetLabels(d, &e->labels)) {
    return Status::Corruption("exemplar record: truncated labels");
  }
  e->value = d.Double();
  e->t = d.Varint();
  if (!d.ok() || !d.done()) return Status::Corruption("exemplar record: bad length");
  return Status::Ok();
}

ExemplarStore::ExemplarStore(std::string dir, size_t capacity)
    : dir_(std::move(dir)), log_path_(dir_ + "/log"), capacity_(capacity), ring_(capacity) {}

ExemplarStore::~ExemplarStore() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ >= 0) {
    if (dirty_ && ::fdatasync(fd_) != 0) {
      log::Error("tsdb exemplars: final fsync failed", {{"path", log_path_}});
    }
    ::close(fd_);
  }
}

Result<std::unique_ptr<ExemplarStore>> ExemplarStore::Open(std::string dir, size_t capacity) {
  if (capacity == 0) return Status::InvalidArgument("tsdb exemplars: capacity must be > 0");
  std::unique_ptr<ExemplarStore> s(new ExemplarStore(std::move(dir), capacity));
  KANSOKU_RETURN_IF_ERROR(s->Load());
  return s;
}

Status ExemplarStore::Load() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IOError("cannot create exemplar directory " + dir_ + ": " + ec.message());
  std::filesystem::remove(log_path_ + ".tmp", ec);  // an interrupted rewrite
  std::lock_guard<std::mutex> l(mu_);
  if (std::filesystem::exists(log_path_, ec)) {
    KANSOKU_ASSIGN_OR_RETURN(std::string data, ReadFileToString(log_path_));
    size_t end = 0;
    std::string problem;
    Labels series;
    Exemplar e;
    KANSOKU_RETURN_IF_ERROR(ScanWalRecords(
        data,
        [&](WalRecordType type, std::string_view payload) -> Status {
          if (type != kExemplarRecord) {
            return Status::Corruption("unknown record type " +
                                      std::to_string(static_cast<int>(type)));
          }
          KANSOKU_RETURN_IF_ERROR(DecodeExemplarRecord(payload, &series, &e));
          ++stats_.replayed;
          ++stats_.log_records;
          auto it = series_.find(series);
          if (Judge(series, it == series_.end() ? nullptr : &it->second.newest, e).ok()) {
            InsertLocked(series, e);
          }
          return Status::Ok();
        },
        &end, &problem));
    if (end < data.size()) {
      // A torn write at a crash (or a corrupt record): keep what is intact, drop the rest.
      log::Warn("tsdb exemplars: truncating the log's torn tail",
                {{"path", log_path_},
                 {"offset", static_cast<unsigned long long>(end)},
                 {"bytes_dropped", static_cast<unsigned long long>(data.size() - end)},
                 {"problem", problem}});
      if (::truncate(log_path_.c_str(), static_cast<off_t>(end)) != 0) {
        return Status::FromErrno("cannot truncate " + log_path_, errno);
      }
      ++stats_.torn_tails_truncated;
    }
  }
  KANSOKU_RETURN_IF_ERROR(OpenLogLocked());
  if (stats_.log_records > 2 * capacity_) KANSOKU_RETURN_IF_ERROR(RewriteLocked());
  return Status::Ok();
}

Status ExemplarStore::OpenLogLocked() {
  fd_ = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::FromErrno("cannot open " + log_path_, errno);
  return Status::Ok();
}

Status ExemplarStore::Validate(const Exemplar& e) {
  size_t runes = 0;
  for (const auto& l : e.labels) {
    if (!ValidUtf8(l.name) || !ValidUtf8(l.value)) {
      return Status::InvalidArgument("exemplar label \"" + l.name + "\" is not valid UTF-8");
    }
    if (l.name.empty()) return Status::InvalidArgument("exemplar label with an empty name");
    runes += RuneCount(l.name) + RuneCount(l.value);
  }
  if (runes > kMaxLabelRunes) {
    return Status::InvalidArgument("exemplar labels " + e.labels.ToString() + " have " +
                                   std::to_string(runes) + " runes, more than the limit of " +
                                   std::to_string(kMaxLabelRunes));
  }
  return Status::Ok();
}

Status ExemplarStore::Judge(const Labels& series, const Exemplar* newest, const Exemplar& e) {
  KANSOKU_RETURN_IF_ERROR(Validate(e));
  if (newest == nullptr) return Status::Ok();
  // Bitwise value comparison: a repeated NaN is the same exemplar.
  // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
  const bool same_value = std::memcmp(&newest->value, &e.value, sizeof e.value) == 0;
  if (newest->t == e.t && same_value && newest->labels == e.labels) {
    return Status::AlreadyExists("duplicate exemplar");
  }
  if (e.t <= newest->t) {
    return Status::InvalidArgument("out of order exemplar: series " + series.ToString() +
                                   " at timestamp " + std::to_string(e.t) +
                                   " is not newer than its newest exemplar at " +
                                   std::to_string(newest->t));
  }
  return Status::Ok();
}

Status ExemplarStore::Check(const Labels& series, const Exemplar& e) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = series_.find(series);
  Status st = Judge(series, it == series_.end() ? nullptr : &it->second.newest, e);
  return st.code() == Status::Code::kAlreadyExists ? Status::Ok() : st;
}

void ExemplarStore::InsertLocked(const Labels& series, const Exemplar& e) {
  Slot& slot = ring_[next_];
  if (slot.series != nullptr) {  // overwrite the oldest entry
    if (--slot.series->second.count == 0) series_.erase(slot.series->first);
    slot.series = nullptr;
  }
  auto [it, inserted] = series_.try_emplace(series);
  (void)inserted;
  it->second.newest = e;
  ++it->second.count;
  slot.series = &*it;
  slot.e = e;
  next_ = (next_ + 1) % capacity_;
}

Status ExemplarStore::AddBatch(const std::vector<Item>& items, bool sync, size_t* rejected,
                               Status* first_error) {
  std::lock_guard<std::mutex> l(mu_);
  std::string buf;
  size_t refused = 0;
  size_t added = 0;
  for (const Item& item : items) {
    auto it = series_.find(*item.series);
    Status st =
        Judge(*item.series, it == series_.end() ? nullptr : &it->second.newest, *item.exemplar);
    if (st.code() == Status::Code::kAlreadyExists) {
      ++stats_.duplicates;
      continue;
    }
    if (!st.ok()) {
      ++refused;
      ++(st.message().starts_with("out of order") ? stats_.out_of_order : stats_.invalid);
      if (first_error != nullptr && first_error->ok()) *first_error = st;
      continue;
    }
    InsertLocked(*item.series, *item.exemplar);
    AppendWalRecord(&buf, kExemplarRecord, EncodeExemplarRecord(*item.series, *item.exemplar));
    ++added;
  }
  if (rejected != nullptr) *rejected = refused;
  if (buf.empty()) return Status::Ok();
  KANSOKU_RETURN_IF_ERROR(WriteAll(fd_, buf, log_path_));
  dirty_ = true;
  stats_.appended += added;
  stats_.log_records += added;
  if (sync && ::fdatasync(fd_) != 0) return Status::FromErrno("cannot fsync " + log_path_, errno);
  if (sync) dirty_ = false;
  if (stats_.log_records > 2 * capacity_) {
    Status st = RewriteLocked();
    // The appended records are in the old log already; a failed rewrite only leaves it longer.
    if (!st.ok()) log::Error("tsdb exemplars: log rewrite failed", {{"error", st.ToString()}});
  }
  return Status::Ok();
}

Status ExemplarStore::Add(const Labels& series, const Exemplar& e) {
  size_t rejected = 0;
  Status first;
  KANSOKU_RETURN_IF_ERROR(AddBatch({Item{&series, &e}}, /*sync=*/false, &rejected, &first));
  return first;
}

Status ExemplarStore::RewriteLocked() {
  const std::string tmp = log_path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  std::string buf;
  uint64_t records = 0;
  Status st;
  for (size_t k = 0; k < capacity_ && st.ok(); ++k) {
    const Slot& s = ring_[(next_ + k) % capacity_];  // oldest first
    if (s.series == nullptr) continue;
    AppendWalRecord(&buf, kExemplarRecord, EncodeExemplarRecord(s.series->first, s.e));
    ++records;
    if (buf.size() >= (1u << 20)) {
      st = WriteAll(fd, buf, tmp);
      buf.clear();
    }
  }
  if (st.ok()) st = WriteAll(fd, buf, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot fsync " + tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), log_path_.c_str()) != 0) {
    st = Status::FromErrno("cannot rename " + tmp, errno);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  KANSOKU_RETURN_IF_ERROR(FsyncDir(dir_));
  if (fd_ >= 0) ::close(fd_);  // its records are all in the new file (fsynced)
  fd_ = -1;
  dirty_ = false;
  stats_.log_records = records;
  ++stats_.log_rewrites;
  return OpenLogLocked();
}

std::vector<SeriesExemplars> ExemplarStore::Select(
    const std::vector<std::vector<Matcher>>& matchers, int64_t mint, int64_t maxt) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SeriesExemplars> out;
  std::unordered_map<const SeriesMap::value_type*, size_t> index;
  for (const auto& entry : series_) {            // label order
    if (entry.second.newest.t < mint) continue;  // all its exemplars are older
    bool any = false;
    for (const auto& set : matchers) {
      bool all = true;
      for (const auto& m : set) {
        if (!m.Matches(entry.first.Get(m.name()))) {
          all = false;
          break;
        }
      }
      if (all) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    index.emplace(&entry, out.size());
    out.push_back({entry.first, {}});
  }
  if (out.empty()) return out;
  for (size_t k = 0; k < capacity_; ++k) {
    const Slot& s = ring_[(next_ + k) % capacity_];  // oldest first = time order per series
    if (s.series == nullptr || s.e.t < mint || s.e.t > maxt) continue;
    auto it = index.find(s.series);
    if (it != index.end()) out[it->second].exemplars.push_back(s.e);
  }
  std::erase_if(out, [](const SeriesExemplars& se) { return se.exemplars.empty(); });
  return out;
}

Status ExemplarStore::Sync() {
  std::lock_guard<std::mutex> l(mu_);
  if (!dirty_ || fd_ < 0) return Status::Ok();
  if (::fdatasync(fd_) != 0) return Status::FromErrno("cannot fsync " + log_path_, errno);
  dirty_ = false;
  return Status::Ok();
}

ExemplarStats ExemplarStore::Stats() const {
  std::lock_guard<std::mutex> l(mu_);
  ExemplarStats s = stats_;
  s.series = series_.size();
  for (const auto& e : series_) s.stored += e.second.count;
  return s;
}

}  // namespace kansoku::tsdb
