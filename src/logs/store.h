#pragma once
// logs::Store: the embedded log store (format: docs/design/logs-storage.md).
//
//   auto store = logs::Store::Open(opts);            // replays the WAL, loads block footers
//   logs::LogBatch batch = ...;                      // from any ingest protocol
//   Status st = (*store)->Append(std::move(batch));  // durable (in the WAL) when OK
//   (*store)->Scan(request, visitor);                // what the log query engine reads through
//
// In-process producers (ingest decoders, the Sentry-compatible error tracker for envelope `log`
// items, the agent's shipper) all call Append(); it is the one write path.
//
// Append: normalises each record (labels sorted and deduplicated, empty label values dropped,
// fields named in StoreOptions::stream_fields promoted to labels, level normalised, a message
// longer than max_line_bytes cut and flagged kFlagTruncated with its original length in the
// field _truncated, ts_ns 0 replaced by the arrival
// time), writes the whole batch to the WAL with one write(2), then adds it to the in-memory head.
// Returns OK only when the batch is in the WAL: an acknowledged batch survives kill -9 (power
// loss loses at most wal_fsync_interval_ms). Errors: IOError when the WAL write fails (nothing
// of the batch is acknowledged or visible), Unavailable after Close().
//
// Scan: visits "parts" (a block, or the head's rows of one stream) in order of max_ts
// descending (newest_first) or min_ts ascending, pruned by time range, label filter and the
// per-block token bloom filter; within a part rows come in the requested time order.
// Scan never blocks appends for long: it snapshots the block list and copies the matching head
// rows of each stream under a shared lock.
//
// Thread safety: every method is thread-safe. A background thread flushes the head and applies
// retention. Ownership: the Store owns its files; destroy it (or Close()) before the directory
// goes away. Close() flushes the head to blocks and fsyncs: it freezes the head at once and
// sorts it into blocks on a second thread while a background flush that is running finishes,
// which starts writing them once that flush has handed out its last block.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "logs/record.h"

namespace kansoku::logs {

class BatchBuilder;  // logs/wal.h
struct EncodedBatch;

struct StoreOptions {
  std::string dir;                                 // data_dir/logs
  int64_t retention_ms = 30LL * 24 * 3600 * 1000;  // retention: 30d by age (0 = keep forever)
  int64_t retention_bytes = 0;                     // retention_size: 0 = no size bound
  int64_t wal_fsync_interval_ms = 1000;            // 0 = fsync on every append
  size_t head_max_rows = 500000;                   // flush the head beyond this many rows
  size_t head_max_bytes = 128 << 20;               // ... or beyond this many bytes
  int64_t flush_interval_ms = 5 * 60 * 1000;       // ... or when its oldest row is this old
  // zstd levels of block columns. On log text and hex ids level 1 is both faster and smaller than
  // 3 (bench/logs data: _msg 22.10 vs 22.30 MB, trace_id 16.13 vs 16.43 MB per 1 M rows, 5x less
  // CPU); the small _time deltas gain from a higher level (2.72 vs 2.98 MB at 4) at little cost.
  int zstd_level = 1;               // _msg and field columns
  int zstd_meta_level = 4;          // _time and _flags columns, token counts, footer
  size_t block_max_rows = 65536;    // a flush cuts each day's rows into time slices of this size
  size_t block_page_rows = 8192;    // rows per column page and per bloom filter within a block
  size_t max_line_bytes = 1 << 20;  // longer messages are cut and flagged
  // Threads that write the blocks of a flush by Flush() or Close() (each block by one thread);
  // 0 = one per core, at most 4. Background flushes write with one, and take on helpers up to
  // this many for their remaining blocks once Close() is called.
  size_t flush_threads = 0;
  // Live tail: the most recent appended batches (their WAL payloads, shared, not copied) are kept
  // up to this many bytes so a tail reader finds rows even after the head was flushed to blocks.
  size_t tail_buffer_bytes = 64 << 20;
  // Label names beyond the defaults (service, host, level, source): a field with one of these
  // names becomes a stream label.
  std::vector<std::string> stream_fields;
  bool background = true;           // run the flush/retention thread (tests drive Flush() by hand)
  std::function<int64_t()> now_ns;  // clock; default: system clock
};

// One row as a Scan visitor sees it. Views are valid only during the Row() call.
struct RowView {
  int64_t ts_ns = 0;
  uint64_t seq = 0;  // head rows: append sequence (live tail); block rows: 0
  uint8_t flags = 0;
  const std::vector<KV>* labels = nullptr;  // the stream's labels, sorted
  std::string_view msg;
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // present fields only
  // Field value by name: labels first, then fields; nullptr-free: found=false when absent.
  std::string_view Get(std::string_view name, bool* found) const;
};

struct ScanRequest {
  int64_t min_ts = INT64_MIN;  // inclusive
  int64_t max_ts = INT64_MAX;  // inclusive
  bool newest_first = true;
  // Bloom pruning in conjunctive normal form: a block is read only if, for every clause, at
  // least one of the clause's tokens may be in it. Empty = no pruning.
  std::vector<std::vector<std::string>> token_cnf;
  // Stream filter on the sorted labels; empty = every stream.
  std::function<bool(const std::vector<KV>& labels)> stream_filter;
  bool need_msg = true;
  bool all_fields = true;           // decode every field column
  std::vector<std::string> fields;  // else only these
  // Live tail (tail set, or after_seq > 0). Only rows appended after after_seq (which may be 0:
  // from the very first row), read from the recent-append buffer
  // (StoreOptions::tail_buffer_bytes) and the head, never from blocks. Rows that left both
  // before the tail read them (a reader further behind than the buffer while the head was
  // flushed) are counted in StoreStats::tail_rows_missed.
  uint64_t after_seq = 0;
  bool tail = false;
  // Optional block row pre-filter: only _msg (when prefilter_msg) and prefilter_fields are
  // decompressed first and rows it rejects are dropped before any other column is read. It sees
  // labels, ts and those columns only. The visitor still gets every row that passes.
  std::function<bool(const RowView&)> prefilter;
  std::vector<std::string> prefilter_fields;
  bool prefilter_msg = false;
  // Necessary conditions of the prefilter (the query's top-level conjunction): a row can pass
  // only if its column (field name, "" = _msg; one of prefilter_fields / prefilter_msg) contains
  // these bytes. The store finds the candidate rows with memmem over the column's contiguous
  // bytes and runs the prefilter only on them. Streams with a label of that name are left to the
  // prefilter (a label shadows a field).
  std::vector<std::pair<std::string, std::string>> must_contain;
  // Aggregation fast path: the visitor wants per-stream row counts where it can (see
  // ScanVisitor::CountRows). Requires that the prefilter, when set, is the complete row filter.
  bool count_rows = false;
  // With count_rows and a prefilter: set when the prefilter is exactly conditions (leaves or
  // negated leaves) on the names in count_labels, ANDed with, when count_msg_token is not empty,
  // "the message holds this word" (one token: bytes ForEachToken keeps whole). For a stream that
  // has every name in count_labels as a label, the stream_filter decides those conditions
  // exactly, so its rows wholly inside the time range are counted from the block footers without
  // reading any column: all of them, or with a word, the footer's count of the word (format v3,
  // the block's most frequent message tokens; blocks without it are scanned). Other streams are
  // scanned as usual.
  bool count_by_labels = false;
  std::vector<std::string> count_labels;
  std::string count_msg_token;
};

enum class PartDecision { kScan, kSkip, kStop };

class ScanVisitor {
 public:
  virtual ~ScanVisitor() = default;
  // Called before each part with its time bounds and row count; kStop ends the scan.
  virtual PartDecision BeginPart(int64_t min_ts, int64_t max_ts, size_t rows) = 0;
  // False ends the scan.
  virtual bool Row(const RowView& row) = 0;
  // Only with ScanRequest::count_rows: `n` rows of the stream with these labels were selected
  // (time range, stream_filter, after_seq and the prefilter). Return true when the visitor
  // accounted for them from the labels alone: they are then not passed to Row(). Return false
  // (and change nothing) to receive them one by one through Row() instead. A block whose streams
  // are all accounted for this way is answered from its footer without reading any column when
  // it lies wholly inside the time range and there is no prefilter. Without a prefilter, the
  // footer counts of block streams wholly inside the time range are summed over all blocks and
  // offered first, once per distinct label set, before any BeginPart (declined ones are then
  // scanned block by block as usual).
  virtual bool CountRows(const std::vector<KV>& labels, uint64_t n) {
    (void)labels;
    (void)n;
    return false;
  }
};

struct StoreStats {
  uint64_t rows_appended = 0;
  uint64_t batches_appended = 0;
  uint64_t head_rows = 0;
  uint64_t head_streams = 0;
  uint64_t blocks = 0;
  uint64_t block_rows = 0;
  uint64_t bytes_on_disk = 0;  // blocks + WAL
  uint64_t wal_bytes = 0;
  uint64_t flushes = 0;
  uint64_t flush_errors = 0;
  uint64_t blocks_deleted = 0;  // by retention
  uint64_t blocks_pruned = 0;   // skipped by time/bloom/labels in scans
  uint64_t blocks_scanned = 0;
  uint64_t rows_counted = 0;  // rows aggregated by CountRows() without being materialised
  uint64_t columns_read = 0;  // block columns decompressed by scans
  uint64_t wal_replayed_rows = 0;
  uint64_t corrupt_blocks = 0;
  uint64_t last_seq = 0;
  uint64_t tail_buffer_bytes = 0;
  uint64_t tail_rows_missed = 0;
  // Threads a running flush took on to write its remaining blocks once Close() was called.
  uint64_t flush_helpers_at_close = 0;
  // Heads Close() froze and cut into blocks on a thread of its own while a running flush
  // finished (0 or 1), and the blocks of it that thread wrote.
  uint64_t heads_planned_at_close = 0;
  uint64_t blocks_written_by_close_planner = 0;
  // Times the background thread handed free heap pages back to the system (malloc_trim) once
  // appends had stopped after a flush.
  uint64_t heap_releases = 0;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(StoreOptions opts);
  virtual ~Store() = default;

  [[nodiscard]] virtual Status Append(LogBatch&& batch) = 0;
  // The same for a decoder that encodes its batch itself, without LogRecords: StartBatch
  // readies b with this store's normalising rules and clock (ts 0 becomes now), the decoder
  // Add()s its records, and AppendEncoded takes b->Finish(). Same result, errors and
  // durability as Append of those records.
  virtual void StartBatch(BatchBuilder* b, size_t size_hint) const = 0;
  [[nodiscard]] virtual Status AppendEncoded(EncodedBatch&& batch) = 0;
  [[nodiscard]] virtual Status Scan(const ScanRequest& req, ScanVisitor& visitor) const = 0;
  // Sequence number of the newest appended row (0 when none).
  virtual uint64_t LastSeq() const = 0;
  // Blocks until a row with seq > after_seq exists or timeout_ms passes; returns LastSeq().
  virtual uint64_t WaitForAppend(uint64_t after_seq, int64_t timeout_ms) const = 0;
  // Freezes the head and writes it as blocks (one per UTC day). Used at close and by tests.
  [[nodiscard]] virtual Status Flush() = 0;
  // Applies retention by age and size now.
  virtual void ApplyRetention() = 0;
  virtual StoreStats Stats() const = 0;
  // Flushes, fsyncs and stops the background thread. Appends after Close are Unavailable.
  virtual void Close() = 0;
};

}  // namespace kansoku::logs
