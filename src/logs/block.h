#pragma once
// Immutable log blocks (docs/design/logs-storage.md, "Blocks"): zstd-compressed columns of one
// UTC day's rows sorted by (stream, ts), cut into pages of a fixed number of rows (each column's
// page is its own zstd frame, so reading a few rows decompresses a few pages), a footer with
// per-stream row ranges and time bounds, and a token bloom filter per page.
//
// WriteBlock writes a complete file under a temporary name, fsyncs and renames it into place.
// Block::Open reads and verifies the footer and keeps the descriptor open for column reads, so a
// block unlinked by retention stays readable by scans that still hold it.
//
// Thread safety: a Block is immutable after Open; every method is const and thread-safe.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "logs/record.h"

namespace kansoku::logs {

// One row as the head keeps it.
// One row as the block writer and the head see it. msg and fields view bytes the owner keeps
// alive (the head: the encoded WAL payloads of its batches; tests: their own strings).
struct RowData {
  int64_t ts = 0;
  uint64_t seq = 0;
  uint8_t flags = 0;
  std::string_view msg;
  std::span<const KVView> fields;
};

struct BlockStreamInput {
  const std::vector<KV>* labels = nullptr;
  std::vector<const RowData*> rows;  // sorted by ts ascending
};

// Writes streams (in the given order) as one block file at path: format version 3, every column
// cut into pages of page_rows rows (the last page may hold fewer), one token bloom filter per
// page, and per-stream row counts of the block's most frequent message tokens. The _msg and field
// columns are compressed at zstd_level; _time, _flags, the token counts and the footer at
// zstd_meta_level. Bytes written in *file_bytes.
Status WriteBlock(const std::string& path, const std::vector<BlockStreamInput>& streams,
                  uint64_t wal_seq_end, int zstd_level, int zstd_meta_level, uint64_t page_rows,
                  uint64_t* file_bytes);

// The same, written at path itself (no temporary name, no rename) and not fsynced: its writeback
// is started (sync_file_range) but not waited for. The caller makes the file durable with
// FsyncFile and its directory entry with an fsync of the directory before relying on it (a
// flush fsyncs all its blocks and their directories once, after writing them all, instead of
// waiting for each block's fsync on the thread that builds the next one). On error the file is
// removed.
Status WriteBlockUnsynced(const std::string& path, const std::vector<BlockStreamInput>& streams,
                          uint64_t wal_seq_end, int zstd_level, int zstd_meta_level,
                          uint64_t page_rows, uint64_t* file_bytes);
// fsync(2) of the file at path (opened read-only for it). IOError on failure.
Status FsyncFile(const std::string& path);

// Token hashing shared by the writer and the query side.
uint64_t TokenHash(std::string_view token);
// Hash of a sorted label list (head stream index, Block::StreamInfo::labels_hash). Equal labels
// give equal hashes; callers that need exactness still compare the labels on a match.
uint64_t LabelsHash(const std::vector<KV>& labels);

enum class ColumnKind : uint8_t { kTime = 1, kFlags = 2, kMsg = 3, kField = 4 };

// Dense ids for distinct label sets, shared by the blocks of one store (Block::Open assigns
// StreamInfo::id): a scan that sums footer counts over many blocks adds into an array indexed by
// id instead of comparing label lists. Ids are never reused or forgotten (a store sees a few
// thousand distinct streams, not millions). Thread-safe.
class StreamIds {
 public:
  StreamIds();
  ~StreamIds();
  StreamIds(const StreamIds&) = delete;
  StreamIds& operator=(const StreamIds&) = delete;
  // The id of these labels (hash = LabelsHash(labels)); a new one, size() - 1, if unseen.
  uint32_t Intern(const std::vector<KV>& labels, uint64_t hash);
  // Ids handed out so far: every id is < size().
  uint32_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Block {
 public:
  struct StreamInfo {
    std::vector<KV> labels;
    uint64_t first_row = 0;
    uint64_t n_rows = 0;
    int64_t min_ts = 0;
    int64_t max_ts = 0;
    uint64_t labels_hash = 0;  // LabelsHash(labels), computed at Open (not stored in the file)
    uint32_t id = 0;           // from the StreamIds given to Open (0 without one)
  };
  struct PageInfo {
    uint64_t offset = 0;
    uint64_t compressed_len = 0;
    uint64_t raw_len = 0;
  };
  struct ColumnInfo {
    std::string name;
    ColumnKind kind;
    std::vector<PageInfo> pages;  // one per page of the block
  };

  // Reads format versions 1 (one page, one bloom filter), 2 (pages) and 3 (message token
  // counts); a newer version (with a valid checksum) is InvalidArgument, not Corruption. With ids,
  // every stream's id is interned there.
  static Result<std::shared_ptr<Block>> Open(const std::string& path, StreamIds* ids = nullptr);
  ~Block();

  const std::string& path() const { return path_; }
  int64_t min_ts() const { return min_ts_; }
  int64_t max_ts() const { return max_ts_; }
  uint64_t rows() const { return rows_; }
  uint64_t wal_seq_end() const { return wal_seq_end_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::vector<StreamInfo>& streams() const { return streams_; }
  const std::vector<ColumnInfo>& columns() const { return columns_; }
  // Rows per page; page p holds rows [p * page_rows, min(rows, (p + 1) * page_rows)).
  uint64_t page_rows() const { return page_rows_; }
  // Format version (1, 2 or 3); version >= 2 _time pages start with a varint scale.
  int version() const { return version_; }
  size_t pages() const { return blooms_.size(); }
  uint64_t PageBegin(size_t p) const { return p * page_rows_; }
  uint64_t PageEnd(size_t p) const { return std::min(rows_, (p + 1) * page_rows_); }

  // False when the token is certainly absent from every message, field and label of page p.
  bool PageMayContainHash(size_t page, uint64_t token_hash) const;
  // Message token counts (format v3): when `token` is one of the block's counted message tokens,
  // sets counts[s] to the number of rows of stream s whose _msg holds it as a token (a maximal
  // run of token bytes, ForEachToken) and returns true. False (counts unchanged) when the block
  // has no such count (older format, or a token too rare to be counted): scan to know.
  bool MsgTokenCounts(std::string_view token, std::vector<uint32_t>* counts) const;
  // Number of counted message tokens (0 before format v3).
  size_t counted_msg_tokens() const { return msg_tokens_.size(); }
  // The column with this name and kind, or nullptr.
  const ColumnInfo* FindColumn(std::string_view name, ColumnKind kind) const;
  // Decompresses page p of column c and appends its raw encoding (format doc) to *raw.
  Status ReadPage(const ColumnInfo& c, size_t page, std::string* raw) const;
  // Decompresses page p of column c into dst, which has room for exactly its raw_len bytes.
  // Thread-safe (pread, per-thread zstd context): scans decompress pages on two threads.
  Status ReadPageInto(const ColumnInfo& c, size_t page, char* dst) const;
  // Decompresses only a prefix of page p of column c into dst (room for raw_len bytes): need(dst,
  // n) is told the n bytes decoded so far and answers how many bytes are needed in total; the
  // frame is decoded (streaming) until that many bytes or the whole page are there. *decoded is
  // the number of bytes written (>= the last need, capped at raw_len). Thread-safe as above.
  Status ReadPagePrefix(const ColumnInfo& c, size_t page, char* dst,
                        const std::function<size_t(const char*, size_t)>& need,
                        size_t* decoded) const;

 private:
  Block() = default;
  // Reads page p of column c, still compressed, into a per-thread buffer (checked: page index,
  // size bound, complete read). The view is valid until this thread's next call.
  Result<std::string_view> ReadCompressedPage(const ColumnInfo& c, size_t page) const;
  std::string path_;
  int fd_ = -1;
  int64_t min_ts_ = 0, max_ts_ = 0;
  uint64_t rows_ = 0, wal_seq_end_ = 0, file_bytes_ = 0, page_rows_ = 0;
  std::vector<StreamInfo> streams_;
  std::vector<ColumnInfo> columns_;
  std::vector<std::vector<uint64_t>> blooms_;  // per page; n_bits = size() * 64
  uint8_t bloom_k_ = 7;
  int version_ = 3;
  std::string msg_token_table_;  // v3 message token counts, encoded (format doc)
  std::vector<std::pair<std::string_view, size_t>> msg_tokens_;  // token, its entries' offset
};

}  // namespace kansoku::logs
