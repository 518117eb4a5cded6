#pragma once
// DB: the embedded TSDB. Implements Appendable (ingest writes) and Queryable (PromQL reads) on
// top of a Head (recent data in memory), a WAL (durability of the head) and immutable Blocks
// (older data on disk). Formats: docs/design/tsdb-{chunks,wal,block}.md.
//
// Directory layout: <dir>/wal/ (segments + checkpoint), <dir>/b-NNNNNNNN/ (blocks),
// <dir>/exemplars/ (the exemplar log, exemplars.h).
//
// Lifecycle: Open() loads blocks, replays the WAL into the head, and (unless
// DBOptions::background is false) starts three background threads: one fsyncs the WAL every
// wal_fsync_interval_ms; one persists the head's oldest complete block range once the head spans
// 1.5 block ranges and writers have moved past it (checked every persist_check_interval_ms, see
// CompactHeadBehindWriters, and every background_interval_ms, CompactHead(true)); one compacts
// blocks and applies retention every background_interval_ms and after each persisted range. The
// destructor stops them, checkpoints and fsyncs the WAL. One DB per directory: Open takes an flock
// on <dir>/lock and fails with Unavailable while another DB (in any process) holds it.
//
// Durability: Appender::Commit returns after the batch is written to the WAL with write(2): it
// survives kill -9. Power loss can lose up to wal_fsync_interval_ms (0 = fsync on every Commit).
//
// Errors: Appender::Append returns per-sample InvalidArgument ("out of order sample" — judged per
// series, so backfill of series without newer data is accepted at any age —, "too old" beyond
// retention_ms, "duplicate sample for timestamp", bad labels) or ResourceExhausted (max_series);
// the batch goes on without that sample. Commit returns IOError when the WAL write fails (nothing
// of the batch is applied) and InvalidArgument when some samples lost a race at commit time
// (e.g. a concurrent appender wrote newer samples); the others are committed.
//
// Thread safety: everything is thread-safe; each Appender/Querier is used by one thread at a time.
// Queriers see a consistent view of blocks + head per Select call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "tsdb/block.h"
#include "tsdb/exemplars.h"
#include "tsdb/head.h"
#include "tsdb/storage.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {

struct DBOptions {
  // Width of one block; chunks are cut at its multiples. 2 h, as Prometheus.
  int64_t block_range_ms = 2 * 3600 * 1000;
  // How far behind a series' newest sample an older sample is still accepted. 0 = reject all
  // out-of-order samples.
  int64_t out_of_order_window_ms = 0;
  // fsync the WAL at most this often; 0 = fsync inside every Commit.
  int64_t wal_fsync_interval_ms = 1000;
  // A new WAL segment starts after this many bytes.
  uint64_t wal_segment_bytes = 128ull << 20;
  // Delete blocks whose end is older than the newest data minus this. 0 = keep forever.
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;
  // Delete oldest blocks while blocks + WAL exceed this. 0 = no size limit.
  uint64_t retention_bytes = 0;
  // Refuse new series beyond this many in the head (ResourceExhausted). 0 = unlimited.
  size_t max_series = 0;
  // Exemplars kept (one ring shared by all series, in <dir>/exemplars/; exemplars.h). 0 = none
  // stored (AppendExemplar drops them).
  size_t max_exemplars = 100000;
  uint32_t samples_per_chunk = 120;
  // Merge blocks into ranges of block_range_ms * 3^k, up to this width. 0 = no compaction.
  int64_t max_block_range_ms = 3LL * 24 * 3600 * 1000;  // ~31 h * 3 ~ 3 days
  // Let range functions over large steps read the blocks' 5 m / 1 h rollups (rollup.h).
  bool use_rollups = true;
  // Blocks get rollups once their end is this far behind the newest persisted range (as Thanos
  // downsamples after 40 h): compaction of younger blocks writes none, and a block that ages past
  // it without rollups is rewritten with them. Recent data is read raw anyway (a 5 m rollup pays
  // off for ranges of days); this keeps the rollups' disk cost (+0.3 B/sample, KSR3) off the
  // newest data. 0 = every compaction writes rollups.
  int64_t rollup_min_age_ms = 40LL * 3600 * 1000;
  // On close, checkpoint the WAL (the head as chunk records; segments deleted). Crash tests that
  // want the raw segments left behind turn it off.
  bool checkpoint_on_close = true;
  // Run the background thread (fsync, head compaction, retention). Tests may turn it off and
  // call CompactHead()/ApplyRetention()/SyncWal() themselves.
  bool background = true;
  int64_t background_interval_ms = 30000;  // head compaction + retention check period
  // How often the background checks whether writers moved past the head's oldest range
  // (CompactHeadBehindWriters); bounds how much of a fast import the head holds.
  int64_t persist_check_interval_ms = 1000;
  Clock* clock = nullptr;  // nullptr = Clock::Real()
};

struct DBStats {
  uint64_t head_series = 0;
  uint64_t head_chunks = 0;
  uint64_t samples_appended = 0;  // accepted into the head since Open (replay included)
  uint64_t ooo_samples_appended = 0;
  uint64_t samples_rejected = 0;  // refused by Append or at Commit
  uint64_t series_created = 0;
  uint64_t series_removed = 0;
  int64_t head_min_time = INT64_MAX;  // INT64_MAX / INT64_MIN when the head is empty
  int64_t head_max_time = INT64_MIN;
  uint64_t blocks = 0;
  uint64_t block_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t bytes_on_disk = 0;  // blocks + WAL
  uint64_t head_compactions = 0;
  uint64_t block_compactions = 0;
  uint64_t blocks_deleted_by_retention = 0;
  uint64_t wal_torn_tails_truncated = 0;
  uint64_t wal_replay_records = 0;
  uint64_t rollup_block_reads = 0;  // block reads served from rollups instead of raw chunks
  double wal_replay_seconds = 0;
};

class DB : public Appendable, public Queryable {
 public:
  static Result<std::unique_ptr<DB>> Open(const DBOptions& options, std::string dir);
  ~DB() override;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;

  // Appendable
  std::unique_ptr<Appender> NewAppender() override;
  // Queryable
  Result<std::unique_ptr<Querier>> NewQuerier(int64_t mint, int64_t maxt) override;
  std::vector<std::pair<std::string, MetricMetadata>> Metadata(std::string_view metric,
                                                               size_t limit) override;
  std::vector<SeriesExemplars> SelectExemplars(const std::vector<std::vector<Matcher>>& matchers,
                                               int64_t mint, int64_t maxt) override;
  // nullptr when max_exemplars is 0.
  ExemplarStore* exemplars() const { return exemplars_.get(); }

  DBStats Stats() const;
  std::vector<BlockMeta> Blocks() const;
  // Persists complete block ranges while the head spans more than 1.5 block ranges, truncates
  // the head after each and checkpoints the WAL once. Returns the number of blocks written.
  // follow_writers (the background loop): a range is only persisted once writers have moved
  // past it — no sample in or after it among those appended since the previous two calls — so
  // a running import (backfill) is persisted behind its frontier instead of in overlapping
  // pieces; ranges more than kMaxHeadRanges block ranges behind the newest sample are persisted
  // regardless (bounds the head while a slow backfill runs).
  Result<int> CompactHead(bool follow_writers = false);
  // The background loop's frequent check (every persist_check_interval_ms): persists the head's
  // oldest range once the head spans 1.5 block ranges, nothing was appended below its end
  // during the last two checks, and every series with samples in it has moved past it
  // (Head::AllSeriesPast). An import walking through old data is so persisted right behind its
  // frontier, range by range, instead of accumulating in the head until the next 30 s round.
  // Series that stopped writing inside the range hold it until CompactHead(true) takes it.
  Result<int> CompactHeadBehindWriters();
  static constexpr int64_t kMaxHeadRanges = 24;
  // Merges adjacent blocks into larger aligned ranges (see max_block_range_ms), then rewrites
  // blocks that aged past rollup_min_age_ms without rollups with them. Returns how many blocks
  // were written.
  Result<int> CompactBlocks();
  // Deletes whole blocks beyond retention_ms / retention_bytes. Returns how many.
  Result<int> ApplyRetention();
  Status SyncWal();
  const std::string& dir() const { return dir_; }

 private:
  friend class DBAppender;
  friend class DBQuerier;
  DB(const DBOptions& options, std::string dir);
  Status Load();
  enum class Trigger { kAll, kRound, kTick };
  Result<int> CompactHeadLocked(Trigger trigger);
  Status PersistRange(int64_t lo, int64_t hi);
  // Writes the head as a WAL checkpoint (tsdb-wal.md). threads (1 or 2): how many threads
  // encode the head's chunks (2 at close, where the encoding is most of the wait).
  Status Checkpoint(int threads = 1);
  std::string NextBlockName();
  void SyncLoop();
  void HeadLoop();
  void BlocksLoop();
  // Waits up to ms or until stop; false when stopping.
  bool WaitOrStop(int64_t ms);
  std::vector<std::shared_ptr<Block>> BlocksSnapshot(int64_t mint, int64_t maxt) const;

  const DBOptions options_;
  const std::string dir_;
  // Distinguishes this DB's appender handles (high bits) from other DBs' in the process.
  const uint64_t handle_tag_;
  int lock_fd_ = -1;
  Clock& clock_;
  Head head_;
  std::unique_ptr<WalWriter> wal_;
  std::unique_ptr<ExemplarStore> exemplars_;

  // Held shared by a commit across WAL write + head apply; exclusively to rotate the WAL, so a
  // checkpoint never misses a sample that is in an older segment but not yet in the head.
  std::shared_mutex commit_mu_;
  std::mutex commit_gate_;  // taken before commit_mu_ by both sides: writer preference
  // Held shared by a Select across blocks + head; exclusively while a block is added and the
  // head truncated (or blocks are swapped), so no Select sees data in neither.
  mutable std::shared_mutex blocks_mu_;
  std::vector<std::shared_ptr<Block>> blocks_;  // GUARDED_BY(blocks_mu_), by mint
  // Head persistence (CompactHead*, Checkpoint) and block compaction + retention run on their own
  // threads and take their own lock, so a long merge never stalls persisting a fast import's
  // ranges. Both only add or swap blocks under blocks_mu_.
  std::mutex head_mu_;     // one head persistence at a time
  std::mutex compact_mu_;  // one block compaction/retention run at a time
  // Writes `sources` (time-ordered, merged) as one block [mint, maxt) of `level`, with or
  // without rollups, installs it and removes the sources. compact_mu_ held.
  Result<BlockMeta> RewriteBlocks(const std::vector<std::shared_ptr<Block>>& sources, int64_t mint,
                                  int64_t maxt, int level, bool rollups);
  std::atomic<int> next_block_seq_{1};
  // End of the newest range whose block is installed (blocks loaded at open included): block
  // compaction merges only windows below it.
  // Whether a block ending at block_maxt is rollup_min_age_ms behind the persisted bound.
  bool AgedForRollups(int64_t block_maxt) const;
  std::atomic<int64_t> persisted_until_{INT64_MIN};
  // Oldest timestamp appended (Head::TakeMinAppendedTime) since the previous round, in the
  // round before it, and in the previous tick: the writers' frontier of CompactHead(true) and of
  // CompactHeadBehindWriters.
  int64_t round_min_appended_ = INT64_MAX;       // GUARDED_BY(head_mu_)
  int64_t prev_round_min_appended_ = INT64_MAX;  // GUARDED_BY(head_mu_)
  int64_t prev_tick_min_appended_ = INT64_MAX;   // GUARDED_BY(head_mu_)
  bool checkpoint_due_ = false;  // GUARDED_BY(head_mu_): ranges persisted since the last one

  mutable std::mutex md_mu_;
  std::map<std::string, MetricMetadata, std::less<>> metadata_;  // GUARDED_BY(md_mu_)

  std::atomic<uint64_t> samples_rejected_{0};
  std::atomic<uint64_t> head_compactions_{0};
  std::atomic<uint64_t> block_compactions_{0};
  std::atomic<uint64_t> retention_deleted_{0};
  std::atomic<uint64_t> rollup_reads_{0};
  WalStats replay_stats_;
  double replay_seconds_ = 0;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;  // GUARDED_BY(bg_mu_)
  // Set when a head range was persisted: the blocks thread runs a compaction round now.
  bool compact_requested_ = false;  // GUARDED_BY(bg_mu_)
  std::thread sync_thread_;         // WAL + exemplar fsync every wal_fsync_interval_ms
  std::thread head_thread_;         // head persistence (ticks and rounds)
  std::thread blocks_thread_;       // block compaction and retention (rounds)
};

}  // namespace kansoku::tsdb
