#include "logs/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <immintrin.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/check.h"
#include "base/log.h"
#include "logs/block.h"
#include "logs/buf_cache.h"
#include "logs/codec.h"
#include "logs/wal.h"

namespace kansoku::logs {

std::string_view RowView::Get(std::string_view name, bool* found) const {
  if (labels) {
    for (const auto& kv : *labels) {
      if (kv.name == name) {
        *found = true;
        return kv.value;
      }
    }
  }
  for (const auto& [k, v] : fields) {
    if (k == name) {
      *found = true;
      return v;
    }
  }
  *found = false;
  return {};
}

namespace {

constexpr int64_t kDayNs = 86400LL * 1000000000LL;

// Floor division (days before 1970 are negative) without overflow at INT64_MIN.
int64_t DayOf(int64_t ts) {
  int64_t q = ts / kDayNs;
  return ts % kDayNs < 0 ? q - 1 : q;
}

std::string DayDir(int64_t day) {
  time_t t = static_cast<time_t>(day * 86400);
  struct tm tm;
  gmtime_r(&t, &tm);
  char b[32];
  snprintf(b, sizeof b, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return b;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void FsyncDir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// A flush's commit record (partitions/flush-<wal_seq_end>.commit): the block files of one flush,
// one "YYYYMMDD/NNNNNNNN.blk" a line. Written (atomically: .tmp, fsync, rename) once every block
// is complete as <block>.tmp and before any is renamed into place; removed once all are. At open,
// a commit record still present means a crash among the renames: they are completed.
bool IsCommitRecord(const std::string& name) {
  return name.size() > 7 && name.compare(name.size() - 7, 7, ".commit") == 0;
}

Status WriteCommitRecord(const std::string& path, const std::string& body) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp, errno);
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("cannot write " + path, err);
  }
  FsyncDir(path.substr(0, path.rfind('/')));
  return Status::Ok();
}

// Completes the renames of the flush whose commit record is at path, then removes the record.
void RollForwardCommit(const std::string& partitions, const std::string& path) {
  std::string body;
  if (FILE* fp = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) body.append(buf, n);
    std::fclose(fp);
  }
  std::vector<std::string> dirs;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    std::string rel = body.substr(pos, nl - pos);
    pos = nl + 1;
    // Only "YYYYMMDD/NNNNNNNN.blk" as written: anything else is not ours to rename.
    if (rel.empty() || rel.find("..") != std::string::npos ||
        rel.find_first_not_of("0123456789/.blk") != std::string::npos) {
      continue;
    }
    std::string full = partitions + "/" + rel;
    if (::rename((full + ".tmp").c_str(), full.c_str()) == 0) {
      log::Warn("log flush interrupted among its renames; completed", {{"block", full}});
      std::string dir = full.substr(0, full.rfind('/'));
      if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
    }
  }
  for (const auto& d : dirs) FsyncDir(d);
  ::unlink(path.c_str());
}

struct HeadStream {
  std::vector<KV> labels;
  std::string label_bytes;  // the labels as a WAL record encodes them (EncodedViews::labels)
  uint64_t label_hash = 0;  // XXH3-64 of label_bytes
  std::vector<RowData> rows;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
};

// The encoded WAL payload of one appended batch and the views of its records' fields: head rows
// view their message and field bytes here, so inserting a row allocates nothing per string and
// dropping a flushed head frees a few large buffers instead of every row's strings.
struct HeadBatch {
  std::shared_ptr<const void> owner;  // of the payload's bytes; shared with the live-tail buffer
  std::string_view payload;
  std::vector<KVView> fields;  // views into payload
};

// The head's streams by the hash of their encoded labels: open addressing with linear probing,
// equal hashes told apart by the encoded bytes. Every appended record looks its stream up here.
class HeadStreamIndex {
 public:
  // The stream with these encoded labels (hash = XXH3-64 of them), or nullptr.
  HeadStream* Find(std::string_view label_bytes, uint64_t hash) const {
    for (size_t i = hash & mask_; slots_[i] != nullptr; i = (i + 1) & mask_) {
      const HeadStream* s = slots_[i];
      if (s->label_hash == hash && s->label_bytes == label_bytes) return slots_[i];
    }
    return nullptr;
  }
  // s (not in the index yet) with its label_bytes and label_hash set.
  void Insert(HeadStream* s) {
    if ((n_ + 1) * 2 > slots_.size()) Grow();
    Place(s);
    ++n_;
  }

 private:
  void Place(HeadStream* s) {
    size_t i = s->label_hash & mask_;
    while (slots_[i] != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void Grow() {
    std::vector<HeadStream*> old(slots_.size() * 2, nullptr);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (HeadStream* s : old) {
      if (s != nullptr) Place(s);
    }
  }
  std::vector<HeadStream*> slots_ = std::vector<HeadStream*>(256, nullptr);
  size_t mask_ = 255;
  size_t n_ = 0;
};

struct Head {
  HeadStreamIndex index;  // of streams
  std::vector<std::unique_ptr<HeadStream>> streams;
  std::vector<HeadBatch> batches;  // own the bytes the rows of streams view
  size_t rows = 0;
  size_t bytes = 0;  // payloads + field views + rows
  int64_t first_append_ns = 0;
  uint64_t first_seq = 0;    // seq of the first row (0 when empty)
  uint64_t wal_seq_end = 0;  // set when frozen
  // Once frozen: its blocks as a flush cuts them (FlushPlan), made by whichever thread needs
  // them first (Close() plans the last head while a running flush finishes).
  std::mutex plan_mu;
  bool planned = false;                                                 // GUARDED_BY(plan_mu)
  std::vector<std::pair<int64_t, std::vector<BlockStreamInput>>> plan;  // GUARDED_BY(plan_mu)
  std::vector<std::string> paths;  // GUARDED_BY(plan_mu) of the plan's blocks (without .tmp)
  // Writing the planned blocks (WriteNextBlock): any thread takes the next block not taken yet,
  // so Close()'s planner can write some while a running flush still commits its own.
  std::atomic<size_t> next_block{0};
  std::vector<Status> results;  // by block, set by the thread that wrote it
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t done = 0;  // GUARDED_BY(done_mu) blocks written (or failed)
};

// One appended batch kept for live tail: its WAL payload (normalised records).
struct TailEntry {
  uint64_t first_seq = 0;
  uint64_t rows = 0;
  std::shared_ptr<const void> owner;  // of payload's bytes
  std::string_view payload;
};

// The stream filter of one scan, evaluated once per distinct label set of the blocks
// (Block::StreamInfo::id) instead of once per stream of every block.
class StreamMemo {
 public:
  StreamMemo(const ScanRequest& req, uint32_t ids)
      : req_(req), pass_(req.stream_filter ? ids : 0) {}
  bool Passes(const Block::StreamInfo& s) {
    if (!req_.stream_filter) return true;
    if (s.id >= pass_.size()) return req_.stream_filter(s.labels);
    int8_t& p = pass_[s.id];
    if (p == 0) p = req_.stream_filter(s.labels) ? 1 : -1;
    return p > 0;
  }

 private:
  const ScanRequest& req_;
  std::vector<int8_t> pass_;  // by id: 0 not evaluated yet, 1 passes, -1 rejected
};

// A part of a scan: a block or one head stream.
struct Part {
  int64_t min_ts, max_ts;
  size_t rows;
  std::shared_ptr<Block> block;  // or:
  std::shared_ptr<Head> head;
  HeadStream* stream = nullptr;
  size_t stream_rows = 0;  // rows of the head stream at snapshot time
};

class StoreImpl : public Store {
 public:
  explicit StoreImpl(StoreOptions o) : opts_(std::move(o)) {
    if (!opts_.now_ns) {
      opts_.now_ns = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    rules_.label_names = {"service", "host", "level", "source"};
    for (const auto& f : opts_.stream_fields) rules_.label_names.push_back(f);
    rules_.max_line_bytes = opts_.max_line_bytes;
    head_ = std::make_shared<Head>();
  }
  ~StoreImpl() override { Close(); }

  Status OpenFiles();
  Status Append(LogBatch&& batch) override;
  void StartBatch(BatchBuilder* b, size_t size_hint) const override {
    b->Reset(&rules_, opts_.now_ns(), size_hint);
  }
  Status AppendEncoded(EncodedBatch&& batch) override;
  Status Scan(const ScanRequest& req, ScanVisitor& visitor) const override;
  uint64_t LastSeq() const override { return last_seq_.load(); }
  uint64_t WaitForAppend(uint64_t after_seq, int64_t timeout_ms) const override;
  Status Flush() override;
  void ApplyRetention() override;
  StoreStats Stats() const override;
  void Close() override;

 private:
  // Inserts the normalised records of an encoded batch (its payload's bytes stay where they are:
  // head rows view them), with seqs first_seq, first_seq + 1, ...
  void InsertBatchLocked(Head& h, EncodedBatch&& batch, uint64_t first_seq);
  // Cuts a frozen head into its blocks (Head::plan): rows by UTC day, sorted by time, time
  // slices of block_max_rows, grouped by stream. Once per head; thread-safe.
  // Also picks the blocks' paths (creating their day directories). Error: a directory could not
  // be created (nothing planned; the next call tries again).
  Status PlanFlush(Head* f);
  // Writes the next planned block of f no thread has taken yet (as <path>.tmp, not fsynced) and
  // returns true; false when none is left or f is not planned.
  bool WriteNextBlock(Head* f);
  // Freezes the head (WAL rotated, head moved to frozen_) and returns it; nullptr when empty.
  Result<std::shared_ptr<Head>> FreezeHead();
  // Writes a frozen head's blocks with up to `threads` threads.
  Status WriteFrozen(const std::shared_ptr<Head>& f, size_t threads);
  // Flush() with the blocks written by up to `threads` threads.
  Status FlushWith(size_t threads);
  // The threads Flush() writes blocks with (StoreOptions::flush_threads, 0 = one per core).
  size_t FlushThreads() const;
  void BackgroundLoop();
  Status ScanBlock(const Block& b, const ScanRequest& req,
                   const std::vector<std::vector<uint64_t>>& cnf, const std::vector<char>* counted,
                   StreamMemo& memo, ScanVisitor& v, bool* stop) const;
  void CountFromFooters(const std::vector<Part>& parts, const ScanRequest& req, ScanVisitor& v,
                        std::vector<std::vector<char>>* counted) const;
  Status ScanHeadStream(const Part& p, const ScanRequest& req, uint64_t seq_end, ScanVisitor& v,
                        bool* stop) const;
  Status ScanTail(const ScanRequest& req, ScanVisitor& v) const;

  StoreOptions opts_;
  NormalizeRules rules_;
  std::unique_ptr<LogWal> wal_;

  std::mutex flush_mu_;   // one flush at a time
  std::mutex append_mu_;  // WAL write + head insert are atomic with respect to rotation
  mutable std::shared_mutex mu_;
  std::shared_ptr<Head> head_;                  // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<Head>> frozen_;   // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<Block>> blocks_;  // GUARDED_BY(mu_)
  StreamIds stream_ids_;                        // of every block's streams (CountFromFooters)
  std::atomic<uint64_t> next_block_id_{1};
  // The frozen head WriteFrozen is writing (nullptr when none): Close()'s planner starts on the
  // last head's blocks once every block of this one is taken.
  std::mutex writing_mu_;
  Head* writing_ = nullptr;  // GUARDED_BY(writing_mu_)

  mutable std::mutex tail_mu_;
  std::deque<TailEntry> tail_;  // GUARDED_BY(tail_mu_) oldest first, contiguous seqs
  size_t tail_bytes_ = 0;       // GUARDED_BY(tail_mu_)

  std::atomic<uint64_t> last_seq_{0};
  mutable std::mutex seq_mu_;
  mutable std::condition_variable seq_cv_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;  // GUARDED_BY(bg_mu_)
  bool flush_wanted_ = false;
  std::thread bg_;
  std::atomic<bool> closed_{false};

  mutable std::atomic<uint64_t> rows_appended_{0}, batches_appended_{0}, flushes_{0},
      flush_errors_{0}, blocks_deleted_{0}, blocks_pruned_{0}, blocks_scanned_{0}, rows_counted_{0},
      columns_read_{0}, wal_replayed_rows_{0}, corrupt_blocks_{0}, tail_rows_missed_{0},
      closing_helpers_{0}, planned_at_close_{0}, planner_blocks_{0}, heap_releases_{0};
};

void StoreImpl::InsertBatchLocked(Head& h, EncodedBatch&& batch, uint64_t first_seq) {
  EncodedViews& v = batch.views;
  HeadBatch hb{std::move(batch.owner), batch.payload, std::move(v.fields)};
  h.bytes += hb.payload.size() + hb.fields.size() * sizeof(KVView);
  const KVView* f = hb.fields.data();
  const size_t n = v.ts.size();
  if (n > 0 && h.rows == 0) h.first_seq = first_seq;
  h.rows += n;
  h.bytes += n * sizeof(RowData);
  // The head stream of each label set of the batch, looked up once per set.
  std::vector<HeadStream*> streams(v.n_label_sets, nullptr);
  for (size_t i = 0; i < n; ++i) {
    HeadStream*& s = streams[v.label_sets[i]];
    if (s == nullptr) s = h.index.Find(v.labels[i], v.label_hashes[i]);
    if (s == nullptr) {
      h.streams.push_back(std::make_unique<HeadStream>());
      s = h.streams.back().get();
      Decoder d(v.labels[i]);
      KANSOKU_CHECK(d.KVs(&s->labels) && d.done(), "BUG: encoded labels do not decode");
      s->label_bytes.assign(v.labels[i]);
      s->label_hash = v.label_hashes[i];
      h.index.Insert(s);
    }
    const int64_t ts = v.ts[i];
    s->min_ts = std::min(s->min_ts, ts);
    s->max_ts = std::max(s->max_ts, ts);
    RowData row;
    row.ts = ts;
    row.seq = first_seq + i;
    row.flags = v.flags[i];
    row.msg = v.msgs[i];
    row.fields = std::span<const KVView>(f, v.n_fields[i]);
    f += v.n_fields[i];
    s->rows.push_back(row);
  }
  h.batches.push_back(std::move(hb));  // moving keeps the fields' buffer where it is
}

Status StoreImpl::OpenFiles() {
  const std::string& dir = opts_.dir;
  for (const std::string& d : {dir, dir + "/partitions", dir + "/wal"}) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("cannot create " + d, errno);
    }
  }
  uint64_t wal_end = 0;
  for (const auto& name : ListDir(dir + "/partitions")) {
    std::string path = dir + "/partitions/" + name;
    if (IsCommitRecord(name)) RollForwardCommit(dir + "/partitions", path);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) ::unlink(path.c_str());
  }
  for (const auto& day : ListDir(dir + "/partitions")) {
    if (IsCommitRecord(day)) continue;
    std::string ddir = dir + "/partitions/" + day;
    for (const auto& f : ListDir(ddir)) {
      std::string path = ddir + "/" + f;
      if (f.size() > 4 && f.substr(f.size() - 4) == ".tmp") {
        ::unlink(path.c_str());
        continue;
      }
      if (f.size() < 4 || f.substr(f.size() - 4) != ".blk") continue;
      auto b = Block::Open(path, &stream_ids_);
      if (!b.ok() && b.status().code() == Status::Code::kInvalidArgument) {
        // A newer format: refuse to open rather than hide (or move aside) its rows and replay
        // the WAL segments it covers again.
        return b.status();
      }
      if (!b.ok()) {
        log::Error("log block is corrupt; moved aside",
                   {{"path", path}, {"error", b.status().message()}});
        corrupt_blocks_++;
        if (::rename(path.c_str(), (path + ".corrupt").c_str()) != 0) {
          log::Error("cannot rename corrupt block", {{"path", path}});
        }
        continue;
      }
      wal_end = std::max(wal_end, (*b)->wal_seq_end());
      unsigned long long id = strtoull(f.c_str(), nullptr, 10);
      next_block_id_ = std::max<uint64_t>(next_block_id_, id + 1);
      blocks_.push_back(std::move(b).value());
    }
  }
  // Segments already covered by blocks: delete before replay (no duplicates after a crash
  // between writing a block and dropping its segments).
  std::string wdir = dir + "/wal";
  for (const auto& f : ListDir(wdir)) {
    unsigned long long s = strtoull(f.c_str(), nullptr, 10);
    if (f.size() == 12 && s < wal_end) ::unlink((wdir + "/" + f).c_str());
  }
  WalReplayStats rs;
  uint64_t seq = 0;
  int64_t now = opts_.now_ns();
  auto last = ReplayLogWal(
      wdir, wal_end,
      [&](LogBatch&& batch) {
        if (head_->rows == 0) head_->first_append_ns = now;
        auto payload = std::make_shared<std::string>();
        EncodedBatch eb;
        EncodeBatchTo(batch, payload.get(), &eb.views);
        eb.payload = *payload;
        eb.owner = std::move(payload);
        InsertBatchLocked(*head_, std::move(eb), seq + 1);
        seq += batch.size();
      },
      &rs);
  if (!last.ok()) return last.status();
  wal_replayed_rows_ = rs.rows;
  last_seq_ = seq;
  KANSOKU_ASSIGN_OR_RETURN(wal_, LogWal::Open(wdir, std::max(*last, wal_end) + 1));
  if (opts_.background) bg_ = std::thread([this] { BackgroundLoop(); });
  return Status::Ok();
}

Status StoreImpl::Append(LogBatch&& batch) {
  if (batch.empty()) return Status::Ok();
  if (closed_) return Status::Unavailable("log store is closed");
  // Normalised and encoded record by record, as a decoder that builds the batch itself would.
  BatchBuilder b;
  StartBatch(&b, 0);
  std::vector<KVView> labels, fields;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + 8 < batch.size()) PrefetchVectors(batch[i + 8]);
    if (i + 4 < batch.size()) PrefetchStrings(batch[i + 4]);
    const LogRecord& r = batch[i];
    labels.clear();
    for (const auto& l : r.labels) labels.push_back(KVView{l.name, l.value});
    fields.clear();
    for (const auto& f : r.fields) fields.push_back(KVView{f.name, f.value});
    b.Add(r.ts_ns, r.flags, labels, r.msg, fields);
  }
  return AppendEncoded(b.Finish());
}

Status StoreImpl::AppendEncoded(EncodedBatch&& batch) {
  const size_t n = batch.records();
  if (n == 0) return Status::Ok();
  if (closed_) return Status::Unavailable("log store is closed");
  const int64_t now = opts_.now_ns();
  bool want_flush = false;
  {
    std::lock_guard<std::mutex> al(append_mu_);
    {
      std::shared_lock<std::shared_mutex> l(mu_);
      if (head_->rows > 4 * opts_.head_max_rows || head_->bytes > 4 * opts_.head_max_bytes) {
        return Status::Unavailable("log head is full: flushing to disk is behind; retry later");
      }
    }
    KANSOKU_RETURN_IF_ERROR(wal_->Write(batch.payload));
    if (opts_.wal_fsync_interval_ms == 0) KANSOKU_RETURN_IF_ERROR(wal_->Sync());
    if (opts_.tail_buffer_bytes > 0) {
      // Before last_seq_ moves: every seq a tail reader can see is in the buffer or the head.
      std::lock_guard<std::mutex> tl(tail_mu_);
      tail_bytes_ += batch.payload.size();
      tail_.push_back(TailEntry{last_seq_.load() + 1, n, batch.owner, batch.payload});
      while (tail_.size() > 1 && tail_bytes_ > opts_.tail_buffer_bytes) {
        tail_bytes_ -= tail_.front().payload.size();
        tail_.pop_front();
      }
    }
    std::unique_lock<std::shared_mutex> l(mu_);
    if (head_->rows == 0) head_->first_append_ns = now;
    uint64_t seq = last_seq_.load();
    InsertBatchLocked(*head_, std::move(batch), seq + 1);
    last_seq_.store(seq + n);
    want_flush = head_->rows >= opts_.head_max_rows || head_->bytes >= opts_.head_max_bytes;
  }
  rows_appended_ += n;
  batches_appended_++;
  { std::lock_guard<std::mutex> l(seq_mu_); }
  seq_cv_.notify_all();
  if (want_flush) {
    std::lock_guard<std::mutex> l(bg_mu_);
    flush_wanted_ = true;
    bg_cv_.notify_one();
  }
  return Status::Ok();
}

uint64_t StoreImpl::WaitForAppend(uint64_t after_seq, int64_t timeout_ms) const {
  std::unique_lock<std::mutex> l(seq_mu_);
  seq_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                   [&] { return last_seq_.load() > after_seq || closed_.load(); });
  return last_seq_.load();
}

Status StoreImpl::PlanFlush(Head* f) {
  std::lock_guard<std::mutex> pl(f->plan_mu);
  if (f->planned) return Status::Ok();
  // Group rows by UTC day, then stream; rows sorted by ts within a stream.
  // Rows by UTC day, sorted by time, cut into time slices of at most block_max_rows: small
  // time-sliced blocks keep the bloom filters selective and let time ranges skip blocks. Within
  // a block, rows are grouped by stream (in head order) and sorted by ts.
  struct Ref {
    int64_t ts;
    uint32_t stream;
    const RowData* row;
  };
  std::map<int64_t, std::vector<Ref>> by_day;
  for (size_t si = 0; si < f->streams.size(); ++si) {
    for (const auto& r : f->streams[si]->rows) {
      by_day[DayOf(r.ts)].push_back(Ref{r.ts, static_cast<uint32_t>(si), &r});
    }
  }
  auto& days = f->plan;
  days.clear();  // a failed flush is planned again
  const size_t cap = std::max<size_t>(1, opts_.block_max_rows);
  // Rows of a slice per stream: counted first, so each stream's list is allocated once and the
  // streams come in head order (ascending index) without a map.
  std::vector<uint32_t> slot(f->streams.size(), UINT32_MAX);
  for (auto& [day, refs] : by_day) {
    // By time; equal times keep head order (stream, then arrival: a stream's rows are one
    // vector, so their addresses grow with it), as a stable sort would, without its buffer.
    std::sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
      if (a.ts != b.ts) return a.ts < b.ts;
      if (a.stream != b.stream) return a.stream < b.stream;
      return a.row < b.row;
    });
    for (size_t b = 0; b < refs.size(); b += cap) {
      size_t e = std::min(refs.size(), b + cap);
      std::vector<uint32_t> present;
      std::vector<uint32_t> counts;
      for (size_t i = b; i < e; ++i) {
        uint32_t& sl = slot[refs[i].stream];
        if (sl == UINT32_MAX) {
          sl = static_cast<uint32_t>(present.size());
          present.push_back(refs[i].stream);
          counts.push_back(0);
        }
        counts[sl]++;
      }
      // Head order: slots renumbered by ascending stream index.
      std::vector<uint32_t> order(present.size());
      for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
      std::sort(order.begin(), order.end(),
                [&present](uint32_t x, uint32_t y) { return present[x] < present[y]; });
      std::vector<BlockStreamInput> streams(present.size());
      for (uint32_t k = 0; k < order.size(); ++k) {
        const uint32_t si = present[order[k]];
        streams[k].labels = &f->streams[si]->labels;
        streams[k].rows.reserve(counts[order[k]]);
        slot[si] = k;
      }
      for (size_t i = b; i < e; ++i) streams[slot[refs[i].stream]].rows.push_back(refs[i].row);
      for (uint32_t si : present) slot[si] = UINT32_MAX;
      days.emplace_back(day, std::move(streams));
    }
  }
  std::vector<std::string> paths(days.size());
  for (size_t i = 0; i < days.size(); ++i) {
    std::string ddir = opts_.dir + "/partitions/" + DayDir(days[i].first);
    if (::mkdir(ddir.c_str(), 0755) != 0 && errno != EEXIST) {
      days.clear();
      return Status::FromErrno("cannot create " + ddir, errno);
    }
    char name[32];
    snprintf(name, sizeof name, "/%08llu.blk", static_cast<unsigned long long>(next_block_id_++));
    paths[i] = ddir + name;
  }
  f->paths = std::move(paths);
  f->results.assign(days.size(), Status::Ok());
  f->next_block = 0;
  {
    std::lock_guard<std::mutex> dl(f->done_mu);
    f->done = 0;
  }
  f->planned = true;
  return Status::Ok();
}

bool StoreImpl::WriteNextBlock(Head* f) {
  size_t n, i;
  {
    // A plan changes only when a failed flush is planned again, and a flush fails only once
    // every block it took was done: a block taken here is never replanned while being written.
    std::lock_guard<std::mutex> pl(f->plan_mu);
    if (!f->planned) return false;
    n = f->plan.size();
    i = f->next_block++;
  }
  if (i >= n) return false;
  uint64_t bytes = 0;
  f->results[i] =
      WriteBlockUnsynced(f->paths[i] + ".tmp", f->plan[i].second, f->wal_seq_end, opts_.zstd_level,
                         opts_.zstd_meta_level, opts_.block_page_rows, &bytes);
  std::lock_guard<std::mutex> l(f->done_mu);
  if (++f->done == n) f->done_cv.notify_all();
  return true;
}

Status StoreImpl::WriteFrozen(const std::shared_ptr<Head>& f, size_t threads) {
  KANSOKU_RETURN_IF_ERROR(PlanFlush(f.get()));
  const size_t n = f->plan.size();  // fixed once planned
  const std::vector<std::string>& paths = f->paths;
  // Each block is written complete as <path>.tmp; only once all of them are (and are fsynced), a
  // commit record names them and they are renamed into place. A block's wal_seq_end lets the
  // next open delete the WAL segments of the whole frozen head, so a crash must never leave some
  // of a flush's blocks in place without the others (renamed one by one as each was written, a
  // kill -9 during a multi-block flush lost the rows of the blocks not yet written). At open, a
  // commit record completes its renames; .tmp blocks without one are deleted (the WAL still
  // holds their rows). Blocks are independent: written by up to `threads` threads (and by
  // Close()'s planner, which may have taken some already), registered in order once all are.
  {
    std::lock_guard<std::mutex> wl(writing_mu_);
    writing_ = f.get();
  }
  auto work = [this, &f] {
    while (WriteNextBlock(f.get())) {
    }
  };
  threads = std::clamp<size_t>(threads, 1, std::max<size_t>(n, 1));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  // The calling thread works like the helpers, and once the store is closing, takes on helpers
  // up to Flush()'s thread count for the blocks still to write: a background flush (one thread,
  // not to take a core from the appenders) that Close() finds running held up the final flush,
  // and so the server's exit, with one core of two idle (bench/logs: ~0.7 s of ~1.3 s).
  const size_t closing_threads = std::min(FlushThreads(), n);
  while (WriteNextBlock(f.get())) {
    while (closed_.load() && helpers.size() + 1 < closing_threads && f->next_block.load() < n) {
      try {
        helpers.emplace_back(work);
      } catch (const std::system_error&) {  // no thread available: the rest is written here
        break;
      }
      closing_helpers_++;
    }
  }
  for (auto& t : helpers) t.join();
  {
    std::unique_lock<std::mutex> dl(f->done_mu);  // blocks another thread took
    f->done_cv.wait(dl, [&] { return f->done == n; });
  }
  {
    std::lock_guard<std::mutex> wl(writing_mu_);  // f stays alive while the planner looks at it
    writing_ = nullptr;
  }
  // On failure none of this head's blocks is registered: remove what was written, so the retry
  // (which plans and writes them all again) does not leave their rows twice on disk.
  auto remove_all = [&paths] {
    for (const auto& p : paths) {
      ::unlink((p + ".tmp").c_str());
      ::unlink(p.c_str());
    }
  };
  auto failed = [&](Status st) {
    remove_all();
    std::lock_guard<std::mutex> pl(f->plan_mu);
    f->planned = false;
    return st;
  };
  for (size_t i = 0; i < n; ++i) {
    if (!f->results[i].ok()) return failed(f->results[i]);
  }
  // Durable before the commit record names them: the blocks (their writeback started as each was
  // written, so these fsyncs mostly find it done) and their directory entries, each directory
  // once.
  std::vector<std::string> dirs;
  for (const auto& p : paths) {
    std::string dir = p.substr(0, p.rfind('/'));
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  for (const auto& p : paths) {
    if (Status st = FsyncFile(p + ".tmp"); !st.ok()) return failed(st);
  }
  for (const auto& dir : dirs) FsyncDir(dir);
  const std::string partitions = opts_.dir + "/partitions";
  const std::string commit = partitions + "/flush-" + std::to_string(f->wal_seq_end) + ".commit";
  std::string record;
  for (const auto& p : paths) record += p.substr(partitions.size() + 1) + "\n";
  if (Status st = WriteCommitRecord(commit, record); !st.ok()) return failed(st);
  for (const auto& p : paths) {
    if (::rename((p + ".tmp").c_str(), p.c_str()) != 0) {
      Status st = Status::FromErrno("cannot rename " + p + ".tmp", errno);
      ::unlink(commit.c_str());
      return failed(st);
    }
  }
  for (const auto& dir : dirs) FsyncDir(dir);
  ::unlink(commit.c_str());  // lost in a crash: the roll-forward at open finds nothing to do
  std::vector<std::shared_ptr<Block>> written;
  for (const auto& p : paths) {
    auto b = Block::Open(p, &stream_ids_);
    if (!b.ok()) return failed(b.status());
    written.push_back(std::move(b).value());
  }
  std::unique_lock<std::shared_mutex> l(mu_);
  for (auto& b : written) blocks_.push_back(std::move(b));
  frozen_.erase(std::remove(frozen_.begin(), frozen_.end(), f), frozen_.end());
  return Status::Ok();
}

size_t StoreImpl::FlushThreads() const {
  size_t threads = opts_.flush_threads;
  if (threads == 0) threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  return threads;
}

Status StoreImpl::Flush() {
  // Called at close and by tests: nothing else is waiting for the cores, so a flush of several
  // blocks uses several (the final flush at shutdown took one core of two).
  return FlushWith(FlushThreads());
}

Result<std::shared_ptr<Head>> StoreImpl::FreezeHead() {
  std::lock_guard<std::mutex> al(append_mu_);
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    if (head_->rows == 0) return std::shared_ptr<Head>();
  }
  KANSOKU_ASSIGN_OR_RETURN(uint64_t new_seq, wal_->Rotate());
  std::unique_lock<std::shared_mutex> l(mu_);
  std::shared_ptr<Head> f = std::move(head_);
  f->wal_seq_end = new_seq;
  frozen_.push_back(f);
  head_ = std::make_shared<Head>();
  return f;
}

Status StoreImpl::FlushWith(size_t threads) {
  std::lock_guard<std::mutex> fl(flush_mu_);
  if (!wal_) return Status::Ok();
  KANSOKU_RETURN_IF_ERROR(FreezeHead().status());
  std::vector<std::shared_ptr<Head>> todo;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    todo = frozen_;
  }
  uint64_t drop_before = 0;
  for (const auto& f : todo) {
    Status st = WriteFrozen(f, threads);
    if (!st.ok()) {
      flush_errors_++;
      log::Error("log flush failed; rows stay in memory and WAL", {{"error", st.message()}});
      return st;
    }
    flushes_++;
    drop_before = std::max(drop_before, f->wal_seq_end);
  }
  if (drop_before) wal_->DropBefore(drop_before);
  return Status::Ok();
}

void StoreImpl::ApplyRetention() {
  int64_t now = opts_.now_ns();
  std::vector<std::shared_ptr<Block>> doomed;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    std::sort(blocks_.begin(), blocks_.end(),
              [](const auto& a, const auto& b) { return a->max_ts() < b->max_ts(); });
    size_t cut = 0;
    if (opts_.retention_ms > 0) {
      int64_t horizon = now - opts_.retention_ms * 1000000LL;
      while (cut < blocks_.size() && blocks_[cut]->max_ts() < horizon) ++cut;
    }
    if (opts_.retention_bytes > 0) {
      uint64_t total = wal_ ? wal_->bytes() : 0;
      for (size_t i = cut; i < blocks_.size(); ++i) total += blocks_[i]->file_bytes();
      while (cut < blocks_.size() && total > static_cast<uint64_t>(opts_.retention_bytes)) {
        total -= blocks_[cut]->file_bytes();
        ++cut;
      }
    }
    doomed.assign(blocks_.begin(), blocks_.begin() + static_cast<long>(cut));
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<long>(cut));
  }
  for (const auto& b : doomed) {
    ::unlink(b->path().c_str());
    std::string ddir = b->path().substr(0, b->path().rfind('/'));
    ::rmdir(ddir.c_str());  // only succeeds when empty
    blocks_deleted_++;
  }
  if (!doomed.empty()) {
    log::Info("log retention deleted blocks",
              {{"blocks", static_cast<unsigned long long>(doomed.size())}});
  }
}

void StoreImpl::BackgroundLoop() {
  auto last_sync = std::chrono::steady_clock::now();
  auto last_retention = last_sync;
  uint64_t rows_seen = rows_appended_;
  bool release_due = false;  // a flush freed a head since the heap was last handed back
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!stop_) {
    int64_t wait_ms = opts_.wal_fsync_interval_ms > 0
                          ? std::min<int64_t>(opts_.wal_fsync_interval_ms, 1000)
                          : 1000;
    bg_cv_.wait_for(l, std::chrono::milliseconds(wait_ms), [&] { return stop_ || flush_wanted_; });
    if (stop_) break;
    bool flush = flush_wanted_;
    flush_wanted_ = false;
    l.unlock();
    auto now = std::chrono::steady_clock::now();
    if (opts_.wal_fsync_interval_ms > 0 &&
        now - last_sync >= std::chrono::milliseconds(opts_.wal_fsync_interval_ms)) {
      Status st = wal_->Sync();
      if (!st.ok()) log::Error("log WAL fsync failed", {{"error", st.message()}});
      last_sync = now;
    }
    {
      std::shared_lock<std::shared_mutex> sl(mu_);
      if (head_->rows > 0 &&
          opts_.now_ns() - head_->first_append_ns >= opts_.flush_interval_ms * 1000000LL) {
        flush = true;
      }
      if (!frozen_.empty()) flush = true;  // retry a failed flush
    }
    if (flush) {
      // One thread: while ingest runs, a second one would only take a core from the appenders.
      Status st = FlushWith(1);
      (void)st;  // logged and counted inside
      ApplyRetention();
      last_retention = now;
    } else if (now - last_retention >= std::chrono::seconds(60)) {
      ApplyRetention();
      last_retention = now;
    }
    // A log query's decode buffers (up to 64 MiB) are not kept once queries stop.
    ScanBufCache().ReleaseIdle(now, std::chrono::seconds(10));
    // Flushed heads are freed in pieces that glibc keeps (bench/logs, 11 M rows: 494 MB of RSS
    // 5 s after the ingest, 198 MB after a malloc_trim). Handed back once appends have stopped
    // for a whole wait after a flush; not while they run, when the next head would fault the
    // same pages in again.
    const uint64_t rows_now = rows_appended_;
    if (flush) {
      release_due = true;
    } else if (release_due && rows_now == rows_seen) {
#ifdef __GLIBC__
      ::malloc_trim(0);
#endif
      heap_releases_++;
      release_due = false;
    }
    rows_seen = rows_now;
    l.lock();
  }
}

void StoreImpl::Close() {
  if (closed_.exchange(true)) return;
  // The head is frozen now, not after a running background flush: another thread plans its
  // blocks (the sort, serial) while that flush finishes its last blocks and starts writing them
  // once that flush has handed out its last one; the flush below writes the rest alongside (the
  // planner is joined only after it) and commits them.
  std::thread planner;
  if (wal_) {
    auto last = FreezeHead();
    if (last.ok() && *last) {
      try {
        planner = std::thread([this, f = *last] {
          if (!PlanFlush(f.get()).ok()) return;  // the flush below plans again and reports
          planned_at_close_++;
          // Its blocks are written once the running flush has handed out all of its own (a
          // third writer before that only slowed the two: cache and memory bandwidth), so a
          // core is not idle while that flush's last block, commit and head free run on the
          // other.
          for (;;) {
            {
              std::lock_guard<std::mutex> wl(writing_mu_);
              if (writing_ == nullptr || writing_ == f.get() ||
                  writing_->next_block.load() >= writing_->plan.size()) {
                break;
              }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          while (WriteNextBlock(f.get())) planner_blocks_++;
        });
      } catch (const std::system_error&) {  // no thread: planned by the flush below
      }
    }
  }
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  seq_cv_.notify_all();
  if (wal_) {
    Status st = Flush();
    if (!st.ok()) log::Error("log store: flush at close failed", {{"error", st.message()}});
    st = wal_->Sync();
    (void)st;
  }
  if (planner.joinable()) planner.join();
}

StoreStats StoreImpl::Stats() const {
  StoreStats s;
  s.rows_appended = rows_appended_;
  s.batches_appended = batches_appended_;
  s.flush_helpers_at_close = closing_helpers_;
  s.heads_planned_at_close = planned_at_close_;
  s.blocks_written_by_close_planner = planner_blocks_;
  s.heap_releases = heap_releases_;
  s.flushes = flushes_;
  s.flush_errors = flush_errors_;
  s.blocks_deleted = blocks_deleted_;
  s.blocks_pruned = blocks_pruned_;
  s.blocks_scanned = blocks_scanned_;
  s.rows_counted = rows_counted_;
  s.columns_read = columns_read_;
  s.wal_replayed_rows = wal_replayed_rows_;
  s.corrupt_blocks = corrupt_blocks_;
  s.last_seq = last_seq_;
  s.tail_rows_missed = tail_rows_missed_;
  {
    std::lock_guard<std::mutex> tl(tail_mu_);
    s.tail_buffer_bytes = tail_bytes_;
  }
  std::shared_lock<std::shared_mutex> l(mu_);
  s.head_rows = head_->rows;
  s.head_streams = head_->streams.size();
  for (const auto& f : frozen_) {
    s.head_rows += f->rows;
    s.head_streams += f->streams.size();
  }
  s.blocks = blocks_.size();
  for (const auto& b : blocks_) {
    s.block_rows += b->rows();
    s.bytes_on_disk += b->file_bytes();
  }
  s.wal_bytes = wal_ ? wal_->bytes() : 0;
  s.bytes_on_disk += s.wal_bytes;
  return s;
}

// ---- Scan ----

// Every name is a label name of labels.
bool HasLabels(const std::vector<KV>& labels, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    bool found = false;
    for (const auto& kv : labels) found |= kv.name == n;
    if (!found) return false;
  }
  return true;
}

bool PagePasses(const Block& b, size_t page, const std::vector<std::vector<uint64_t>>& cnf) {
  for (const auto& clause : cnf) {
    bool any = false;
    for (uint64_t h : clause) {
      if (b.PageMayContainHash(page, h)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

bool BloomPasses(const Block& b, const std::vector<std::vector<uint64_t>>& cnf) {
  if (cnf.empty()) return true;
  for (size_t p = 0; p < b.pages(); ++p) {
    if (PagePasses(b, p, cnf)) return true;
  }
  return false;
}

Status StoreImpl::Scan(const ScanRequest& req, ScanVisitor& visitor) const {
  if (req.tail || req.after_seq > 0) return ScanTail(req, visitor);
  std::vector<Part> parts;
  std::vector<std::vector<uint64_t>> cnf;
  for (const auto& clause : req.token_cnf) {
    std::vector<uint64_t> hs;
    hs.reserve(clause.size());
    for (const auto& t : clause) hs.push_back(TokenHash(t));
    cnf.push_back(std::move(hs));
  }
  StreamMemo memo(req, stream_ids_.size());
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    {
      for (const auto& b : blocks_) {
        if (b->max_ts() < req.min_ts || b->min_ts() > req.max_ts) {
          blocks_pruned_++;
          continue;
        }
        bool any_stream = !req.stream_filter;
        if (!any_stream) {
          for (const auto& s : b->streams()) {
            if (memo.Passes(s)) {
              any_stream = true;
              break;
            }
          }
        }
        if (!any_stream || !BloomPasses(*b, cnf)) {
          blocks_pruned_++;
          continue;
        }
        parts.push_back(Part{b->min_ts(), b->max_ts(), b->rows(), b, nullptr, nullptr, 0});
      }
    }
    auto add_head = [&](const std::shared_ptr<Head>& h) {
      for (const auto& s : h->streams) {
        if (s->rows.empty() || s->max_ts < req.min_ts || s->min_ts > req.max_ts) continue;
        if (req.stream_filter && !req.stream_filter(s->labels)) continue;
        parts.push_back(
            Part{s->min_ts, s->max_ts, s->rows.size(), nullptr, h, s.get(), s->rows.size()});
      }
    };
    for (const auto& f : frozen_) add_head(f);
    add_head(head_);
  }
  if (req.newest_first) {
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part& a, const Part& b) { return a.max_ts > b.max_ts; });
  } else {
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part& a, const Part& b) { return a.min_ts < b.min_ts; });
  }
  // Per part (blocks only), per stream: counted from the footer up front.
  std::vector<std::vector<char>> counted;
  if (req.count_rows && (!req.prefilter || req.count_by_labels)) {
    CountFromFooters(parts, req, visitor, &counted);
  }
  bool stop = false;
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    const Part& p = parts[pi];
    PartDecision d = visitor.BeginPart(p.min_ts, p.max_ts, p.rows);
    if (d == PartDecision::kStop) break;
    if (d == PartDecision::kSkip) continue;
    if (p.block) {
      const std::vector<char>* c = counted.empty() ? nullptr : &counted[pi];
      if (c && std::find(c->begin(), c->end(), 0) == c->end()) continue;  // all from the footer
      blocks_scanned_++;
      KANSOKU_RETURN_IF_ERROR(ScanBlock(*p.block, req, cnf, c, memo, visitor, &stop));
    } else {
      KANSOKU_RETURN_IF_ERROR(ScanHeadStream(p, req, UINT64_MAX, visitor, &stop));
    }
    if (stop) break;
  }
  return Status::Ok();
}

// The aggregation fast path over many blocks: every block stream that lies wholly inside the
// time range (and passes the stream filter) is summed per distinct label set (StreamInfo::id)
// first, then offered to the visitor once per label set, not once per block (a day of blocks
// repeats the same thousand streams in every block). (*counted)[part][stream] is set for the
// streams the visitor accounted for and for those the stream filter rejects (no block is opened
// just to skip them); the others (declined) are scanned as usual. With a prefilter
// (count_by_labels), only streams with every label in count_labels, and with count_msg_token,
// their rows holding the token, from the footer's message token counts; blocks without a count
// for the token and the other streams are scanned as usual.
void StoreImpl::CountFromFooters(const std::vector<Part>& parts, const ScanRequest& req,
                                 ScanVisitor& v, std::vector<std::vector<char>>* counted) const {
  std::vector<uint64_t> rows(stream_ids_.size(), 0);  // by StreamInfo::id
  std::vector<const std::vector<KV>*> labels(rows.size(), nullptr);
  std::vector<int8_t> pass(rows.size(), 0);  // stream filter, once per id: 1 pass, -1 reject
  // With a prefilter (count_by_labels), only streams with every label of count_labels, and with
  // a word, the footers' counts of it.
  const bool by_labels = static_cast<bool>(req.prefilter);
  const bool by_token = by_labels && !req.count_msg_token.empty();
  std::vector<uint32_t> token_rows;  // per stream of the current block
  counted->assign(parts.size(), {});
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    if (!parts[pi].block) continue;
    const auto& streams = parts[pi].block->streams();
    auto& c = (*counted)[pi];
    c.assign(streams.size(), 0);
    if (by_token && !parts[pi].block->MsgTokenCounts(req.count_msg_token, &token_rows)) continue;
    for (size_t si = 0; si < streams.size(); ++si) {
      const auto& s = streams[si];
      if (s.n_rows == 0 || s.min_ts < req.min_ts || s.max_ts > req.max_ts) continue;
      if (s.id >= rows.size()) continue;  // interned after the sizing above: scanned as usual
      if (pass[s.id] == 0) {
        pass[s.id] = !req.stream_filter || req.stream_filter(s.labels) ? 1 : -1;
        labels[s.id] = &s.labels;
      }
      if (pass[s.id] < 0) {  // rejected by its labels: no row to scan for either
        c[si] = 1;
        continue;
      }
      if (by_labels && !HasLabels(s.labels, req.count_labels)) continue;
      rows[s.id] += by_token ? token_rows[si] : s.n_rows;
      c[si] = 1;  // tentatively: cleared below when the visitor declines
    }
  }
  std::vector<char> accepted(rows.size(), 0);
  for (size_t id = 0; id < rows.size(); ++id) {
    if (pass[id] < 0 || (pass[id] > 0 && rows[id] == 0)) {  // no row: nothing to offer
      accepted[id] = 1;
      continue;
    }
    if (pass[id] > 0 && v.CountRows(*labels[id], rows[id])) {
      accepted[id] = 1;
      rows_counted_ += rows[id];
    }
  }
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    if (!parts[pi].block) continue;
    const auto& streams = parts[pi].block->streams();
    auto& c = (*counted)[pi];
    for (size_t si = 0; si < c.size(); ++si) c[si] = c[si] && accepted[streams[si].id];
  }
}

Status StoreImpl::ScanTail(const ScanRequest& req, ScanVisitor& v) const {
  // Rows after req.after_seq: from the recent-append buffer, and from the head for the seqs
  // before the buffer's first one (a reader that fell behind the buffer).
  std::vector<TailEntry> entries;
  uint64_t buf_first = last_seq_.load() + 1;
  {
    std::lock_guard<std::mutex> tl(tail_mu_);
    if (!tail_.empty()) buf_first = tail_.front().first_seq;
    for (const auto& e : tail_) {
      if (e.first_seq + e.rows - 1 > req.after_seq) entries.push_back(e);
    }
  }
  if (req.after_seq + 1 < buf_first) {
    std::vector<Part> parts;
    uint64_t head_first = buf_first;
    {
      std::shared_lock<std::shared_mutex> l(mu_);
      auto add_head = [&](const std::shared_ptr<Head>& h) {
        if (h->rows > 0) head_first = std::min(head_first, h->first_seq);
        for (const auto& s : h->streams) {
          if (s->rows.empty() || s->max_ts < req.min_ts || s->min_ts > req.max_ts) continue;
          if (req.stream_filter && !req.stream_filter(s->labels)) continue;
          parts.push_back(
              Part{s->min_ts, s->max_ts, s->rows.size(), nullptr, h, s.get(), s->rows.size()});
        }
      };
      for (const auto& f : frozen_) add_head(f);
      add_head(head_);
    }
    if (req.after_seq + 1 < head_first) tail_rows_missed_ += head_first - req.after_seq - 1;
    bool stop = false;
    for (const auto& p : parts) {
      PartDecision d = v.BeginPart(p.min_ts, p.max_ts, p.rows);
      if (d == PartDecision::kStop) return Status::Ok();
      if (d == PartDecision::kSkip) continue;
      KANSOKU_RETURN_IF_ERROR(ScanHeadStream(p, req, buf_first, v, &stop));
      if (stop) return Status::Ok();
    }
  }
  LogBatch batch;
  RowView rv;
  for (const auto& e : entries) {
    batch.clear();
    Status st = DecodeBatch(e.payload, &batch);
    if (!st.ok()) return Status::Internal("BUG: tail buffer: " + st.message());
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const auto& r : batch) {
      lo = std::min(lo, r.ts_ns);
      hi = std::max(hi, r.ts_ns);
    }
    PartDecision d = v.BeginPart(lo, hi, batch.size());
    if (d == PartDecision::kStop) return Status::Ok();
    if (d == PartDecision::kSkip) continue;
    for (size_t i = 0; i < batch.size(); ++i) {
      const LogRecord& r = batch[i];
      uint64_t seq = e.first_seq + i;
      if (seq <= req.after_seq || r.ts_ns < req.min_ts || r.ts_ns > req.max_ts) continue;
      if (req.stream_filter && !req.stream_filter(r.labels)) continue;
      rv.ts_ns = r.ts_ns;
      rv.seq = seq;
      rv.flags = r.flags;
      rv.labels = &r.labels;
      rv.msg = r.msg;
      rv.fields.clear();
      for (const auto& f : r.fields) {
        if (!req.all_fields &&
            std::find(req.fields.begin(), req.fields.end(), f.name) == req.fields.end()) {
          continue;
        }
        rv.fields.emplace_back(f.name, f.value);
      }
      if (!v.Row(rv)) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status StoreImpl::ScanHeadStream(const Part& p, const ScanRequest& req, uint64_t seq_end,
                                 ScanVisitor& v, bool* stop) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  const auto& rows = p.stream->rows;
  size_t n = std::min(p.stream_rows, rows.size());
  std::vector<uint32_t> idx;
  idx.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const RowData& r = rows[i];
    if (r.ts < req.min_ts || r.ts > req.max_ts || r.seq <= req.after_seq || r.seq >= seq_end) {
      continue;
    }
    idx.push_back(static_cast<uint32_t>(i));
  }
  if (req.count_rows && !idx.empty()) {
    uint64_t cnt = idx.size();
    if (req.prefilter) {
      RowView pv;
      pv.labels = &p.stream->labels;
      cnt = 0;
      for (uint32_t i : idx) {
        const RowData& r = rows[i];
        pv.ts_ns = r.ts;
        pv.seq = r.seq;
        pv.flags = r.flags;
        pv.msg = r.msg;
        pv.fields.clear();
        for (const auto& f : r.fields) pv.fields.emplace_back(f.name, f.value);
        cnt += req.prefilter(pv) ? 1 : 0;
      }
    }
    if (cnt == 0) return Status::Ok();
    if (v.CountRows(p.stream->labels, cnt)) {
      rows_counted_ += cnt;
      return Status::Ok();
    }
  }
  if (req.newest_first) {
    std::stable_sort(idx.begin(), idx.end(),
                     [&](uint32_t a, uint32_t b) { return rows[a].ts > rows[b].ts; });
  } else {
    std::stable_sort(idx.begin(), idx.end(),
                     [&](uint32_t a, uint32_t b) { return rows[a].ts < rows[b].ts; });
  }
  RowView rv;
  rv.labels = &p.stream->labels;
  for (uint32_t i : idx) {
    const RowData& r = rows[i];
    rv.ts_ns = r.ts;
    rv.seq = r.seq;
    rv.flags = r.flags;
    rv.msg = r.msg;
    rv.fields.clear();
    for (const auto& f : r.fields) {
      if (!req.all_fields &&
          std::find(req.fields.begin(), req.fields.end(), f.name) == req.fields.end()) {
        continue;
      }
      rv.fields.emplace_back(f.name, f.value);
    }
    if (!v.Row(rv)) {
      *stop = true;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// Bytes of decoded pages: grown without zero-filling (pages are decompressed straight into it).
// Buffers come from and go back to ScanBufCache(), so the next block's pages reuse them.
class RawBuf {
 public:
  RawBuf() = default;
  RawBuf(RawBuf&& o) noexcept : p_(o.p_), size_(o.size_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.size_ = o.cap_ = 0;
  }
  RawBuf& operator=(RawBuf&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  ~RawBuf() { ScanBufCache().Give(p_, cap_); }
  const char* data() const { return p_; }
  char* data() { return p_; }
  size_t size() const { return size_; }
  // Makes room for n more bytes (keeping the content); data() may move.
  void Reserve(size_t n) {
    if (size_ + n <= cap_) return;
    size_t cap;
    char* p = ScanBufCache().Take(std::max(size_ + n, cap_ * 2), &cap);
    if (size_) std::memcpy(p, p_, size_);
    ScanBufCache().Give(p_, cap_);
    p_ = p;
    cap_ = cap;
  }
  void Resize(size_t n) { size_ = n; }  // n <= size() + the last Reserve()

 private:
  char* p_ = nullptr;
  size_t size_ = 0, cap_ = 0;
};

// A decoded variable-length column, possibly only some of its pages: per row (offset into raw,
// len + 1), {0, 0} = absent or not decoded; spans lists the decoded pages' value bytes.
struct VarColumn {
  struct Entry {  // trivially constructible: new Entry[rows] does not zero-fill
    uint32_t first, second;
  };
  RawBuf raw;
  // Per row of a decoded page (offset into raw, len + 1; 0 = absent); rows of other pages are
  // uninitialised and never read.
  std::unique_ptr<Entry[]> rows;
  bool missing = false;  // the block has no such column: every row is absent
  struct Span {
    uint64_t row_begin, row_end;    // rows of the page
    size_t bytes_begin, bytes_end;  // its value bytes in raw
  };
  std::vector<Span> spans;
  std::vector<char> have;  // per page: decoded
  bool Present(uint32_t i) const { return !missing && rows[i].second != 0; }
  std::string_view Value(uint32_t i) const {
    if (missing) return {};
    auto [off, l] = rows[i];
    return l ? std::string_view(raw.data() + off, l - 1) : std::string_view();
  }
};

// Runs fn(0..n-1) on the calling thread and, when worth it, one more thread (the machine this is
// built for has two cores; a scan decompresses its pages on both). fn must be thread-safe.
template <typename Fn>
void OnTwoThreads(size_t n, bool worth_it, Fn&& fn) {
  if (n < 2 || !worth_it) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto loop = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::thread helper;
  try {
    helper = std::thread(loop);
  } catch (const std::system_error&) {  // no thread available: do it all here
  }
  loop();
  if (helper.joinable()) helper.join();
}

// The pages of a block that hold any of the rows in idx.
std::vector<char> PagesOf(const Block& b, const std::vector<uint32_t>& idx) {
  std::vector<char> pages(b.pages(), 0);
  uint64_t begin = 1, end = 0;  // rows of the last page marked (none yet)
  for (uint32_t i : idx) {
    if (i >= begin && i < end) continue;  // runs of rows of one page: no division
    size_t p = i / b.page_rows();
    pages[p] = 1;
    begin = b.PageBegin(p);
    end = b.PageEnd(p);
  }
  return pages;
}

// Bytes of a var column page's raw encoding (decoded prefix data[0, have)) needed to hold the
// values of rows [0, upto] of the page's n rows: the lengths, then the values up to row upto.
// Asks for 64 KiB more while the lengths themselves are not complete.
size_t VarPrefixNeeded(const char* data, size_t have, uint64_t n, uint64_t upto, ColumnKind kind) {
  Decoder d(std::string_view(data, have));
  uint64_t sum = 0;
  for (uint64_t r = 0; r < n; ++r) {
    uint64_t l;
    if (!d.Varint(&l)) return have + (64 << 10);
    if (r <= upto) sum += kind == ColumnKind::kMsg ? l : (l ? l - 1 : 0);
    if (sum > UINT32_MAX) return SIZE_MAX;  // corrupt: the whole page, then its checks
  }
  return have - d.remaining() + sum;
}

// Decodes the pages of a var column (kMsg or kField) marked in `pages` that are not decoded yet.
// A column absent from the block leaves every row absent. With only_rows (the rows that will be
// read), a page whose last such row lies in its first three quarters is decompressed only up to
// that row's value; its later rows are left absent and must not be read (the spans cover only
// the decoded bytes).
Status DecodeVar(const Block& b, std::string_view name, ColumnKind kind,
                 const std::vector<char>& pages, VarColumn* out,
                 std::atomic<uint64_t>* columns_read,
                 const std::vector<uint32_t>* only_rows = nullptr) {
  const Block::ColumnInfo* c = b.FindColumn(name, kind);
  if (!c) {
    out->missing = true;
    return Status::Ok();
  }
  if (!out->rows) {
    out->rows.reset(new VarColumn::Entry[b.rows()]);
    out->have.assign(b.pages(), 0);
  }
  // The pages to decode and where each goes in raw; then decompressed on two threads straight
  // into place, then their row offsets parsed.
  std::vector<size_t> todo, at;
  size_t want = out->raw.size();
  for (size_t p = 0; p < pages.size(); ++p) {
    if (!pages[p] || out->have[p]) continue;
    todo.push_back(p);
    at.push_back(want);
    want += c->pages[p].raw_len;
  }
  auto corrupt = [&](const char* why) {
    return Status::Corruption("block " + b.path() + ": column " + std::string(name) + " " + why);
  };
  if (todo.empty()) return Status::Ok();
  if (want > UINT32_MAX) return corrupt("too big to decode");
  out->raw.Reserve(want - out->raw.size());
  // Per page to decode: the last row that will be read (page-relative) when only a prefix is
  // worth decoding, else UINT64_MAX.
  std::vector<uint64_t> upto(todo.size(), UINT64_MAX);
  if (only_rows) {
    std::vector<uint64_t> last(b.pages(), 0);
    std::vector<char> seen(b.pages(), 0);
    for (uint32_t i : *only_rows) {
      size_t p = i / b.page_rows();
      uint64_t r = i - b.PageBegin(p);
      if (!seen[p] || r > last[p]) last[p] = r;
      seen[p] = 1;
    }
    for (size_t k = 0; k < todo.size(); ++k) {
      size_t p = todo[k];
      uint64_t rows = b.PageEnd(p) - b.PageBegin(p);
      if (seen[p] && (last[p] + 1) * 4 <= rows * 3) upto[k] = last[p];
    }
  }
  std::vector<Status> st(todo.size());
  std::vector<size_t> got(todo.size());
  char* base_ptr = out->raw.data();
  OnTwoThreads(todo.size(), want - out->raw.size() >= (256u << 10), [&](size_t k) {
    size_t p = todo[k];
    got[k] = c->pages[p].raw_len;
    if (upto[k] == UINT64_MAX) {
      st[k] = b.ReadPageInto(*c, p, base_ptr + at[k]);
      return;
    }
    uint64_t rows = b.PageEnd(p) - b.PageBegin(p);
    st[k] = b.ReadPagePrefix(
        *c, p, base_ptr + at[k],
        [&](const char* d, size_t have) { return VarPrefixNeeded(d, have, rows, upto[k], kind); },
        &got[k]);
  });
  for (const auto& e : st) KANSOKU_RETURN_IF_ERROR(e);
  out->raw.Resize(want);
  *columns_read += todo.size();
  for (size_t k = 0; k < todo.size(); ++k) {
    size_t p = todo[k];
    out->have[p] = 1;
    size_t page_end = at[k] + got[k];
    uint64_t begin = b.PageBegin(p), end = b.PageEnd(p);
    Decoder d(std::string_view(out->raw.data() + at[k], got[k]));
    thread_local std::vector<uint64_t> lens;
    lens.resize(end - begin);
    for (auto& l : lens) {
      if (!d.Varint(&l)) return corrupt("truncated");
    }
    size_t off = page_end - d.remaining();
    size_t bytes_begin = off;
    for (uint64_t i = begin; i < end; ++i) {
      if (upto[k] != UINT64_MAX && i - begin > upto[k]) {  // not decoded: absent, never read
        out->rows[i] = {0, 0};
        continue;
      }
      uint64_t l = lens[i - begin];
      if (kind == ColumnKind::kMsg) l += 1;  // msg lengths are not offset by one
      uint64_t len = l ? l - 1 : 0;
      if (len > page_end - off) return corrupt("values out of range");
      out->rows[i] = {static_cast<uint32_t>(off), static_cast<uint32_t>(l)};
      off += len;
    }
    out->spans.push_back(VarColumn::Span{begin, end, bytes_begin, off});
  }
  return Status::Ok();
}

// First occurrence of needle in [s, s + n), or nullptr. With AVX2: 32 candidate positions at a
// time where both the needle's first and last byte match, then memcmp (scans of frequent words
// spend their time here); else memmem.
__attribute__((target("avx2"))) const char* FindBytesAvx2(const char* s, size_t n,
                                                          std::string_view needle) {
  const size_t k = needle.size();
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[k - 1]);
  size_t i = 0;
  for (; i + k + 31 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + k - 1));
    auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(z, last))));
    while (mask != 0) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      if (std::memcmp(s + at + 1, needle.data() + 1, k - 2) == 0) return s + at;
      mask &= mask - 1;
    }
  }
  return static_cast<const char*>(memmem(s + i, n - i, needle.data(), k));
}

const char* FindBytes(const char* s, size_t n, std::string_view needle) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (needle.size() >= 2 && avx2) return FindBytesAvx2(s, n, needle);
  return static_cast<const char*>(memmem(s, n, needle.data(), needle.size()));
}

// Sets hit[r] for every decoded row r whose value contains needle (one memmem pass over each
// decoded page's contiguous value bytes; a match across a row boundary does not count).
void MarkContaining(const VarColumn& c, std::string_view needle, std::vector<char>* hit) {
  if (needle.empty()) return;
  const char* base = c.raw.data();
  auto row_end = [&c](uint64_t i) {
    return c.rows[i].first + (c.rows[i].second ? c.rows[i].second - 1 : 0);
  };
  for (const auto& sp : c.spans) {
    size_t pos = sp.bytes_begin, end = sp.bytes_end;
    uint64_t r = sp.row_begin;
    while (pos < end) {
      const void* p = FindBytes(base + pos, end - pos, needle);
      if (!p) break;
      size_t at = static_cast<size_t>(static_cast<const char*>(p) - base);
      while (r < sp.row_end && row_end(r) <= at) ++r;
      if (r == sp.row_end) break;
      if (c.rows[r].first <= at && at + needle.size() <= row_end(r)) {
        (*hit)[r] = 1;
        pos = row_end(r);
      } else {
        pos = at + 1;
      }
    }
  }
}

Status StoreImpl::ScanBlock(const Block& b, const ScanRequest& req,
                            const std::vector<std::vector<uint64_t>>& cnf,
                            const std::vector<char>* counted, StreamMemo& memo, ScanVisitor& v,
                            bool* stop) const {
  uint64_t n = b.rows();
  const auto& streams = b.streams();
  // Streams to read: matching labels and overlapping the time range.
  std::vector<char> want(streams.size(), 0);
  bool any = false;
  for (size_t si = 0; si < streams.size(); ++si) {
    const auto& s = streams[si];
    if (s.max_ts < req.min_ts || s.min_ts > req.max_ts) continue;
    if (counted && (*counted)[si]) continue;  // already counted by CountFromFooters
    if (!memo.Passes(s)) continue;
    // Aggregation fast path: a stream wholly inside the time range with no row filter is
    // answered from the footer.
    if (req.count_rows && !req.prefilter && s.min_ts >= req.min_ts && s.max_ts <= req.max_ts &&
        v.CountRows(s.labels, s.n_rows)) {
      rows_counted_ += s.n_rows;
      continue;
    }
    want[si] = 1;
    any = true;
  }
  if (!any) return Status::Ok();
  // Pages to read: holding rows of wanted streams and admitted by their bloom filter.
  const uint64_t page_rows = b.page_rows();
  std::vector<char> page_ok(b.pages(), 0);
  for (size_t si = 0; si < streams.size(); ++si) {
    const auto& s = streams[si];
    if (!want[si] || s.n_rows == 0) continue;
    for (uint64_t p = s.first_row / page_rows; p <= (s.first_row + s.n_rows - 1) / page_rows; ++p)
      page_ok[p] = 1;
  }
  bool any_page = false;
  for (size_t p = 0; p < b.pages(); ++p) {
    if (page_ok[p] && !cnf.empty() && !PagePasses(b, p, cnf)) page_ok[p] = 0;
    any_page |= page_ok[p] != 0;
  }
  if (!any_page) return Status::Ok();
  VarColumn msg;
  std::map<std::string, VarColumn, std::less<>> decoded;  // field columns decoded so far
  // Candidate rows first: the columns holding the prefilter's necessary substrings are decoded
  // for the admitted pages and searched with memmem (contiguous column bytes); pages without a
  // candidate row (bloom false positives of a needle) are dropped before _time is read.
  std::vector<char> cand;  // per row of a decoded page; empty = no substring to prune with
  if (req.prefilter && !req.must_contain.empty()) {
    for (const auto& [col, needle] : req.must_contain) {
      const VarColumn* vc = nullptr;
      if (col.empty()) {
        if (!req.prefilter_msg) continue;  // not a prefilter column: no pruning from it
        KANSOKU_RETURN_IF_ERROR(
            DecodeVar(b, "_msg", ColumnKind::kMsg, page_ok, &msg, &columns_read_));
        vc = &msg;
      } else {
        if (std::find(req.prefilter_fields.begin(), req.prefilter_fields.end(), col) ==
            req.prefilter_fields.end()) {
          continue;
        }
        if (b.FindColumn(col, ColumnKind::kField)) {  // else no row of this block has the field
          auto& dc = decoded[col];
          KANSOKU_RETURN_IF_ERROR(
              DecodeVar(b, col, ColumnKind::kField, page_ok, &dc, &columns_read_));
          vc = &dc;
        }
      }
      std::vector<char> hit(n, 0);
      if (vc) MarkContaining(*vc, needle, &hit);
      if (!col.empty()) {  // a label of that name shadows the field: the prefilter decides
        for (const auto& s : streams) {
          bool labelled = false;
          for (const auto& kv : s.labels) labelled |= kv.name == col;
          if (labelled) {
            std::fill(hit.begin() + s.first_row, hit.begin() + s.first_row + s.n_rows, 1);
          }
        }
      }
      if (cand.empty()) {
        cand = std::move(hit);
      } else {
        for (uint64_t i = 0; i < n; ++i) cand[i] &= hit[i];
      }
    }
    if (!cand.empty()) {
      any_page = false;
      for (size_t p = 0; p < b.pages(); ++p) {
        if (page_ok[p] &&
            !std::memchr(cand.data() + b.PageBegin(p), 1, b.PageEnd(p) - b.PageBegin(p))) {
          page_ok[p] = 0;
        }
        any_page |= page_ok[p] != 0;
      }
      if (!any_page) return Status::Ok();
    }
  }
  // Stream and time of the rows of those pages only (other rows stay uninitialised and are never
  // read). Streams cover the rows in order (checked at open); time deltas restart at every stream
  // and page start.
  std::unique_ptr<uint32_t[]> stream_of(new uint32_t[n]);
  std::unique_ptr<int64_t[]> ts(new int64_t[n]);
  const Block::ColumnInfo* tcol = b.FindColumn("_time", ColumnKind::kTime);
  if (!tcol) return Status::Corruption("block " + b.path() + ": no _time column");
  std::string raw;
  std::vector<uint32_t> idx;
  size_t si = 0;
  for (size_t p = 0; p < b.pages(); ++p) {
    if (!page_ok[p]) continue;
    raw.clear();
    columns_read_++;
    KANSOKU_RETURN_IF_ERROR(b.ReadPage(*tcol, p, &raw));
    Decoder d(raw);
    uint64_t scale = 1;
    if (b.version() >= 2 && (!d.Varint(&scale) || scale == 0 || scale > INT64_MAX)) {
      return Status::Corruption("block " + b.path() + ": bad _time scale");
    }
    int64_t prev = 0;
    for (uint64_t i = b.PageBegin(p); i < b.PageEnd(p); ++i) {
      while (streams[si].first_row + streams[si].n_rows <= i) ++si;
      if (i == b.PageBegin(p) || streams[si].first_row == i) prev = 0;
      uint64_t u;
      if (!d.Varint(&u)) return Status::Corruption("block " + b.path() + ": _time truncated");
      // Wrapping arithmetic: a corrupt page gives wrong times, never undefined behaviour.
      prev = static_cast<int64_t>(static_cast<uint64_t>(prev) +
                                  static_cast<uint64_t>(UnZigZag(u)) * scale);
      ts[i] = prev;
      stream_of[i] = static_cast<uint32_t>(si);
      // Block rows are in stream order, so idx comes out grouped by stream.
      if (want[si] && prev >= req.min_ts && prev <= req.max_ts && (cand.empty() || cand[i])) {
        idx.push_back(static_cast<uint32_t>(i));
      }
    }
  }
  if (idx.empty()) return Status::Ok();
  if (req.prefilter) {
    // Phase 1: decode the other columns the filter needs, only for pages with candidate rows,
    // and drop non-matching rows before the remaining columns are decompressed.
    std::vector<char> pages = PagesOf(b, idx);
    if (req.prefilter_msg) {
      KANSOKU_RETURN_IF_ERROR(DecodeVar(b, "_msg", ColumnKind::kMsg, pages, &msg, &columns_read_));
    }
    for (const auto& name : req.prefilter_fields) {
      if (!b.FindColumn(name, ColumnKind::kField)) continue;
      KANSOKU_RETURN_IF_ERROR(
          DecodeVar(b, name, ColumnKind::kField, pages, &decoded[name], &columns_read_));
    }
    RowView pv;
    size_t keep = 0;
    for (uint32_t i : idx) {
      pv.ts_ns = ts[i];
      pv.labels = &streams[stream_of[i]].labels;
      pv.msg = req.prefilter_msg ? msg.Value(i) : std::string_view();
      pv.fields.clear();
      for (const auto& [name, col] : decoded) {
        if (col.Present(i)) pv.fields.emplace_back(name, col.Value(i));
      }
      if (req.prefilter(pv)) idx[keep++] = i;
    }
    idx.resize(keep);
    if (idx.empty()) return Status::Ok();
  }
  if (req.count_rows) {
    // idx is grouped by stream (built stream by stream, the prefilter keeps the order): offer
    // each stream's count; the rows of declined streams go on to Row().
    size_t keep = 0;
    for (size_t a = 0; a < idx.size();) {
      size_t e = a;
      uint32_t si = stream_of[idx[a]];
      while (e < idx.size() && stream_of[idx[e]] == si) ++e;
      if (!v.CountRows(streams[si].labels, e - a)) {
        for (size_t i = a; i < e; ++i) idx[keep++] = idx[i];
      } else {
        rows_counted_ += e - a;
      }
      a = e;
    }
    idx.resize(keep);
    if (idx.empty()) return Status::Ok();
  }
  if (req.newest_first) {
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t c) { return ts[a] > ts[c]; });
  } else {
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t c) { return ts[a] < ts[c]; });
  }
  // Phase 2: only the pages holding the rows that remain.
  std::vector<char> pages = PagesOf(b, idx);
  std::unique_ptr<uint8_t[]> flags(new uint8_t[n]);
  const Block::ColumnInfo* fcol = b.FindColumn("_flags", ColumnKind::kFlags);
  if (!fcol) return Status::Corruption("block " + b.path() + ": no _flags column");
  for (size_t p = 0; p < b.pages(); ++p) {
    if (!pages[p]) continue;
    raw.clear();
    columns_read_++;
    KANSOKU_RETURN_IF_ERROR(b.ReadPage(*fcol, p, &raw));
    if (raw.size() != b.PageEnd(p) - b.PageBegin(p)) {
      return Status::Corruption("block " + b.path() + ": _flags size");
    }
    std::memcpy(flags.get() + b.PageBegin(p), raw.data(), raw.size());
  }
  if (req.need_msg) {
    KANSOKU_RETURN_IF_ERROR(
        DecodeVar(b, "_msg", ColumnKind::kMsg, pages, &msg, &columns_read_, &idx));
  }
  std::vector<std::pair<const std::string*, VarColumn>> fcols;
  for (const auto& c : b.columns()) {
    if (c.kind != ColumnKind::kField) continue;
    if (!req.all_fields &&
        std::find(req.fields.begin(), req.fields.end(), c.name) == req.fields.end()) {
      continue;
    }
    auto it = decoded.find(c.name);
    if (it != decoded.end()) {
      fcols.emplace_back(&c.name, std::move(it->second));
    } else {
      fcols.emplace_back(&c.name, VarColumn{});
    }
    KANSOKU_RETURN_IF_ERROR(DecodeVar(b, c.name, ColumnKind::kField, pages, &fcols.back().second,
                                      &columns_read_, &idx));
  }
  RowView rv;
  for (uint32_t i : idx) {
    rv.ts_ns = ts[i];
    rv.seq = 0;
    rv.flags = flags[i];
    rv.labels = &streams[stream_of[i]].labels;
    rv.msg = req.need_msg ? msg.Value(i) : std::string_view();
    rv.fields.clear();
    for (const auto& [name, col] : fcols) {
      if (col.Present(i)) rv.fields.emplace_back(*name, col.Value(i));
    }
    if (!v.Row(rv)) {
      *stop = true;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(StoreOptions opts) {
  auto s = std::make_unique<StoreImpl>(std::move(opts));
  KANSOKU_RETURN_IF_ERROR(s->OpenFiles());
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace kansoku::logs
