#include "tsdb/block.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "tsdb/encoding.h"
#include "tsdb/series_iter.h"
#include "tsdb/wal.h"

namespace kansoku::tsdb {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kChunksMagic = "KSC1";
constexpr std::string_view kIndexMagicV1 = "KSI1";  // label strings inline
constexpr std::string_view kIndexMagic = "KSI2";    // a symbol table; deltas for chunk refs
constexpr size_t kIndexFooterV1 = 8 + 8 + 4 + 4;
constexpr size_t kIndexFooter = 8 + 8 + 8 + 4 + 4;

uint32_t Crc(std::string_view data, uLong seed = 0) {
  return static_cast<uint32_t>(
      crc32(seed, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

uint32_t ChunkCrc(ChunkEncoding e, std::string_view data) {
  const auto enc = static_cast<unsigned char>(e);
  const uLong c = crc32(0L, &enc, 1);
  return Crc(data, c);
}

Status WriteFileSync(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + path, errno);
  Status st = WriteAll(fd, data, path);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot fsync " + path, errno);
  ::close(fd);
  return st;
}

}  // namespace

Status WriteBlockMeta(const std::string& path, const BlockMeta& m) {
  std::string s = "kansoku-block 1\n";
  s += "mint " + std::to_string(m.mint) + "\n";
  s += "maxt " + std::to_string(m.maxt) + "\n";
  s += "series " + std::to_string(m.num_series) + "\n";
  s += "samples " + std::to_string(m.num_samples) + "\n";
  s += "chunks " + std::to_string(m.num_chunks) + "\n";
  s += "level " + std::to_string(m.level) + "\n";
  return WriteFileSync(path, s);
}

Result<BlockMeta> ReadBlockMeta(const std::string& path) {
  KANSOKU_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  std::istringstream in(data);
  std::string key;
  BlockMeta m;
  int version = 0;
  bool have_mint = false, have_maxt = false;
  if (!(in >> key >> version) || key != "kansoku-block" || version != 1) {
    return Status::Corruption("block meta " + path + ": bad header");
  }
  while (in >> key) {
    long long v;
    if (!(in >> v)) return Status::Corruption("block meta " + path + ": bad value for " + key);
    if (key == "mint")
      m.mint = v, have_mint = true;
    else if (key == "maxt")
      m.maxt = v, have_maxt = true;
    else if (key == "series")
      m.num_series = static_cast<uint64_t>(v);
    else if (key == "samples")
      m.num_samples = static_cast<uint64_t>(v);
    else if (key == "chunks")
      m.num_chunks = static_cast<uint64_t>(v);
    else if (key == "level")
      m.level = static_cast<int>(v);
  }
  if (!have_mint || !have_maxt || m.maxt <= m.mint) {
    return Status::Corruption("block meta " + path + ": missing or empty time range");
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// BlockWriter

Result<std::unique_ptr<BlockWriter>> BlockWriter::Create(std::string parent, std::string name,
                                                         bool rollups) {
  std::unique_ptr<BlockWriter> w(new BlockWriter(std::move(parent), std::move(name), rollups));
  const std::string tmp = w->parent_ + "/" + w->name_ + ".tmp";
  KANSOKU_RETURN_IF_ERROR(RemoveAll(tmp));
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) return Status::IOError("cannot create " + tmp + ": " + ec.message());
  const std::string path = tmp + "/chunks";
  w->chunks_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->chunks_fd_ < 0) return Status::FromErrno("cannot create " + path, errno);
  w->chunk_buf_.append(kChunksMagic);
  w->chunks_off_ = kChunksMagic.size();
  return w;
}

BlockWriter::~BlockWriter() {
  if (chunks_fd_ >= 0) ::close(chunks_fd_);
  if (!finished_) (void)RemoveAll(parent_ + "/" + name_ + ".tmp");
}

Status BlockWriter::FlushChunk(const Sample* samples, size_t n) {
  const ChunkEncoding e = EncodeChunk(samples, n, &enc_buf_);
  return WriteChunk(e, enc_buf_, ChunkCrc(e, enc_buf_), samples[0].t, samples[n - 1].t);
}

Status BlockWriter::WriteChunk(ChunkEncoding e, std::string_view data, uint32_t crc, int64_t mint,
                               int64_t maxt) {
  chunk_metas_.push_back({mint, maxt, chunks_off_});
  const size_t before = chunk_buf_.size();
  enc::PutUvarint(&chunk_buf_, data.size());
  chunk_buf_.push_back(static_cast<char>(e));
  chunk_buf_.append(data);
  enc::PutU32(&chunk_buf_, crc);
  chunks_off_ += chunk_buf_.size() - before;
  ++chunks_;
  if (chunk_buf_.size() >= (1u << 20)) {
    KANSOKU_RETURN_IF_ERROR(
        WriteAll(chunks_fd_, chunk_buf_, parent_ + "/" + name_ + ".tmp/chunks"));
    chunk_buf_.clear();
  }
  return Status::Ok();
}

uint32_t BlockWriter::Symbol(const std::string& s) {
  auto [it, added] = symbol_ids_.try_emplace(s, static_cast<uint32_t>(symbols_.size()));
  if (added) symbols_.push_back(&it->first);
  return it->second;
}

Status BlockWriter::AddSeries(const Labels& labels, SeriesIterator& it) {
  KANSOKU_CHECK(entries_.empty() || last_labels_ < labels,
                "BUG: BlockWriter::AddSeries labels not strictly increasing");
  const auto chunks_begin = static_cast<uint32_t>(chunk_metas_.size());
  // The whole series at once (a merging iterator decodes chunks that do not overlap one after
  // the other, without its per-sample heap), then cut into runs of kSamplesPerChunk.
  std::vector<Sample>& all = pending_;
  all.clear();
  KANSOKU_RETURN_IF_ERROR(it.ReadRange(INT64_MIN, INT64_MAX, &all, nullptr));
  std::vector<RollupBuilder> rollups;
  if (rollups_) {
    for (int64_t r : kRollupResolutions) rollups.emplace_back(r);
    for (const Sample& s : all) {
      for (auto& r : rollups) r.Add(s.t, s.v);
    }
  }
  for (size_t i = 0; i < all.size(); i += kSamplesPerChunk) {
    KANSOKU_RETURN_IF_ERROR(
        FlushChunk(all.data() + i, std::min<size_t>(kSamplesPerChunk, all.size() - i)));
  }
  samples_ += all.size();
  if (all.capacity() > 4 * kSamplesPerChunk) std::vector<Sample>().swap(all);  // a long series
  EndSeries(labels, chunks_begin, rollups);
  return Status::Ok();
}

void BlockWriter::EndSeries(const Labels& labels, uint32_t chunks_begin,
                            std::vector<RollupBuilder>& rollups) {
  Entry e;
  e.chunks_begin = chunks_begin;
  e.num_chunks = static_cast<uint32_t>(chunk_metas_.size() - chunks_begin);
  if (e.num_chunks == 0) return;
  if (rollups_) {
    auto& r = rollups_data_.emplace_back();
    for (size_t i = 0; i < rollups.size(); ++i) r[i] = EncodeRollupSeries(rollups[i].Finish());
  }
  e.labels_begin = static_cast<uint32_t>(label_syms_.size() / 2);
  e.num_labels = static_cast<uint32_t>(labels.size());
  for (const auto& l : labels) {
    label_syms_.push_back(Symbol(l.name));
    label_syms_.push_back(Symbol(l.value));
  }
  entries_.push_back(e);
  last_labels_ = labels;
}

namespace {
// Samples a chunk's header announces (u16 big-endian at offset 0 in both encodings); 0 when
// the bytes are too short.
uint32_t ChunkSampleCount(std::string_view data) {
  if (data.size() < 2) return 0;
  return (static_cast<uint32_t>(static_cast<uint8_t>(data[0])) << 8) |
         static_cast<uint8_t>(data[1]);
}
}  // namespace

bool BlockWriter::CanCopyChunks(const std::vector<ChunkRef>& chunks, int64_t mint, int64_t maxt) {
  if (chunks.empty()) return false;
  uint64_t samples = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ChunkRef& c = chunks[i];
    if (c.encoding != ChunkEncoding::kXor && c.encoding != ChunkEncoding::kPacked) return false;
    if (c.mint < mint || c.maxt > maxt || c.maxt < c.mint) return false;
    if (i > 0 && c.mint <= chunks[i - 1].maxt) return false;
    const uint32_t n = ChunkSampleCount(c.data);
    if (n == 0 || n > kSamplesPerChunk) return false;
    samples += n;
  }
  return chunks.size() <= (samples + kSamplesPerChunk - 1) / kSamplesPerChunk;
}

Status BlockWriter::AddSeriesChunks(const Labels& labels, std::vector<ChunkRef> chunks,
                                    int64_t mint, int64_t maxt) {
  std::stable_sort(chunks.begin(), chunks.end(),
                   [](const ChunkRef& a, const ChunkRef& b) { return a.mint < b.mint; });
  if (!CanCopyChunks(chunks, mint, maxt)) {
    MergedSeriesIterator it(std::move(chunks), mint, maxt);
    return AddSeries(labels, it);
  }
  KANSOKU_CHECK(entries_.empty() || last_labels_ < labels,
                "BUG: BlockWriter::AddSeriesChunks labels not strictly increasing");
  std::vector<RollupBuilder> rollups;
  if (rollups_) {
    for (int64_t r : kRollupResolutions) rollups.emplace_back(r);
  }
  const auto chunks_begin = static_cast<uint32_t>(chunk_metas_.size());
  for (const ChunkRef& c : chunks) {
    // The CRC is computed anyway (it is written); a ref that asks for a check must match it,
    // so a damaged chunk is not written on under a fresh CRC.
    const uint32_t crc = ChunkCrc(c.encoding, c.data);
    const bool verified = c.crc_ok != nullptr && c.crc_ok->load(std::memory_order_relaxed);
    if (c.check_crc && !verified) {
      if (crc != c.crc) return Status::Corruption("chunk checksum mismatch");
      if (c.crc_ok != nullptr) c.crc_ok->store(true, std::memory_order_relaxed);
    }
    if (rollups_) {
      ChunkIterator it(c.data, c.encoding);
      while (it.Next()) {
        const Sample s = it.At();
        for (auto& r : rollups) r.Add(s.t, s.v);
      }
      KANSOKU_RETURN_IF_ERROR(it.status());
    }
    KANSOKU_RETURN_IF_ERROR(WriteChunk(c.encoding, c.data, crc, c.mint, c.maxt));
    samples_ += ChunkSampleCount(c.data);
    ++copied_chunks_;
  }
  EndSeries(labels, chunks_begin, rollups);
  return Status::Ok();
}

Result<BlockMeta> BlockWriter::Finish(int64_t mint, int64_t maxt, int level) {
  const std::string tmp = parent_ + "/" + name_ + ".tmp";
  KANSOKU_RETURN_IF_ERROR(WriteAll(chunks_fd_, chunk_buf_, tmp + "/chunks"));
  chunk_buf_.clear();
  if (::fsync(chunks_fd_) != 0) return Status::FromErrno("cannot fsync " + tmp + "/chunks", errno);
  ::close(chunks_fd_);
  chunks_fd_ = -1;

  // Index: magic, symbols, series section, postings section, footer (tsdb-block.md).
  // Writer symbol numbers -> their rank in the sorted symbol table.
  std::vector<uint32_t> order(symbols_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return *symbols_[a] < *symbols_[b]; });
  std::vector<uint32_t> rank(symbols_.size());
  for (uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  std::string idx(kIndexMagic);
  const uint64_t symbols_off = idx.size();
  enc::PutUvarint(&idx, order.size());
  for (uint32_t s : order) enc::PutString(&idx, *symbols_[s]);
  const uint64_t series_off = idx.size();
  enc::PutUvarint(&idx, entries_.size());
  MemPostings postings;
  int64_t prev_mint = 0;
  uint64_t prev_offset = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    enc::PutUvarint(&idx, e.num_labels);
    for (uint32_t k = e.labels_begin; k < e.labels_begin + e.num_labels; ++k) {
      const uint32_t name = label_syms_[2 * k], value = label_syms_[2 * k + 1];
      postings.AddLabel(i, *symbols_[name], *symbols_[value]);
      enc::PutUvarint(&idx, rank[name]);
      enc::PutUvarint(&idx, rank[value]);
    }
    postings.AddRef(i);
    enc::PutUvarint(&idx, e.num_chunks);
    for (uint32_t k = e.chunks_begin; k < e.chunks_begin + e.num_chunks; ++k) {
      const ChunkMeta& c = chunk_metas_[k];
      enc::PutVarint(&idx, c.mint - prev_mint);
      enc::PutUvarint(&idx, static_cast<uint64_t>(c.maxt - c.mint));
      enc::PutUvarint(&idx, c.offset - prev_offset);  // chunks are written in series order
      prev_mint = c.mint;
      prev_offset = c.offset;
    }
  }
  const uint64_t postings_off = idx.size();
  enc::PutUvarint(&idx, postings.NumLabelPairs());
  for (const auto& name : postings.LabelNames()) {
    postings.ForEachValue(name, [&](std::string_view value, const Postings& p) {
      enc::PutUvarint(&idx, rank[symbol_ids_.find(name)->second]);
      enc::PutUvarint(&idx, rank[symbol_ids_.find(std::string(value))->second]);
      enc::PutUvarint(&idx, p.size());
      SeriesRef prev = 0;
      for (SeriesRef r : p) {
        enc::PutUvarint(&idx, r - prev);
        prev = r;
      }
    });
  }
  enc::PutU64(&idx, symbols_off);
  enc::PutU64(&idx, series_off);
  enc::PutU64(&idx, postings_off);
  enc::PutU32(&idx, Crc(idx));
  idx.append(kIndexMagic);
  KANSOKU_RETURN_IF_ERROR(WriteFileSync(tmp + "/index", idx));

  for (size_t i = 0; rollups_ && i < std::size(kRollupResolutions); ++i) {
    const int64_t r = kRollupResolutions[i];
    if ((maxt - mint) / r > kMaxRollupPointsPerSeries) continue;  // too many points: raw data
    std::vector<std::string> rs;
    rs.reserve(rollups_data_.size());
    for (auto& e : rollups_data_) rs.push_back(std::move(e[i]));
    KANSOKU_RETURN_IF_ERROR(
        WriteFileSync(tmp + "/rollup-" + std::to_string(r), EncodeRollupFile(r, rs)));
  }

  BlockMeta m;
  m.mint = mint;
  m.maxt = maxt;
  m.num_series = entries_.size();
  m.num_samples = samples_;
  m.num_chunks = chunks_;
  m.level = level;
  KANSOKU_RETURN_IF_ERROR(WriteBlockMeta(tmp + "/meta", m));
  KANSOKU_RETURN_IF_ERROR(FsyncDir(tmp));
  const std::string final_dir = parent_ + "/" + name_;
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    return Status::FromErrno("cannot rename " + tmp + " to " + final_dir, errno);
  }
  KANSOKU_RETURN_IF_ERROR(FsyncDir(parent_));
  finished_ = true;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Block

Block::~Block() {
  if (map_ != nullptr) ::munmap(const_cast<char*>(map_), map_size_);
}

Result<std::shared_ptr<Block>> Block::Open(const std::string& dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = dir;
  KANSOKU_ASSIGN_OR_RETURN(b->meta_, ReadBlockMeta(dir + "/meta"));
  KANSOKU_ASSIGN_OR_RETURN(std::string idx, ReadFileToString(dir + "/index"));
  KANSOKU_RETURN_IF_ERROR(b->LoadIndex(idx).WithContext("block " + dir));
  const std::string cpath = dir + "/chunks";
  const int fd = ::open(cpath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + cpath, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("cannot stat " + cpath, err);
  }
  b->map_size_ = static_cast<size_t>(st.st_size);
  if (b->map_size_ < kChunksMagic.size()) {
    ::close(fd);
    return Status::Corruption("block " + dir + ": chunks file too short");
  }
  // The magic is read with pread, not through the map: a first touch of the map reads around
  // the page (1 MB of RSS per block with this machine's 8 MB read_ahead_kb), which a block only
  // opened, not read, should not cost.
  char magic[16];
  static_assert(sizeof magic >= kChunksMagic.size());
  if (::pread(fd, magic, kChunksMagic.size(), 0) != static_cast<ssize_t>(kChunksMagic.size()) ||
      std::string_view(magic, kChunksMagic.size()) != kChunksMagic) {
    ::close(fd);
    return Status::Corruption("block " + dir + ": bad chunks magic");
  }
  void* p = ::mmap(nullptr, b->map_size_, PROT_READ, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return Status::FromErrno("cannot mmap " + cpath, err);
  b->map_ = static_cast<const char*>(p);
  b->size_bytes_ = b->map_size_ + idx.size();
  for (int64_t r : kRollupResolutions) {
    const std::string path = dir + "/rollup-" + std::to_string(r);
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;  // written by an older version, or too wide
    KANSOKU_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
    auto table = RollupTable::Decode(std::move(data), b->NumSeries());
    if (!table.ok()) return table.status().WithContext("block " + dir);
    if (table->resolution() != r)
      return Status::Corruption("block " + dir + ": " + path + " resolution mismatch");
    b->size_bytes_ += table->SizeBytes();
    b->rollups_.push_back(std::move(table).value());
  }
  return b;
}

Status Block::CheckIndexBytes(std::string_view data) {
  Block b;
  return b.LoadIndex(data);
}

Status Block::LoadIndex(std::string_view data) {
  const bool v1 = data.size() >= 4 && data.substr(0, 4) == kIndexMagicV1;
  const std::string_view magic = v1 ? kIndexMagicV1 : kIndexMagic;
  const size_t footer_size = v1 ? kIndexFooterV1 : kIndexFooter;
  if (data.size() < magic.size() + footer_size || data.substr(0, magic.size()) != magic ||
      data.substr(data.size() - 4) != magic) {
    return Status::Corruption("index: bad magic or too short");
  }
  const size_t footer = data.size() - footer_size;
  const uint64_t symbols_off = v1 ? 0 : enc::GetU64(data.data() + footer);
  const uint64_t series_off = enc::GetU64(data.data() + footer + (v1 ? 0 : 8));
  const uint64_t postings_off = enc::GetU64(data.data() + footer + (v1 ? 8 : 16));
  const uint32_t crc = enc::GetU32(data.data() + footer + (v1 ? 16 : 24));
  if (Crc(data.substr(0, footer + (v1 ? 16 : 24))) != crc)
    return Status::Corruption("index: checksum mismatch");
  if ((!v1 && (symbols_off < magic.size() || symbols_off > series_off)) ||
      series_off > postings_off || postings_off > footer) {
    return Status::Corruption("index: bad section offsets");
  }
  // KSI2: the file's symbol table. KSI1 (strings inline): symbols are interned as read.
  std::vector<std::string_view> symbols;
  std::unordered_map<std::string_view, uint32_t> interned;
  if (!v1) {
    enc::Decoder sd(data.substr(symbols_off, series_off - symbols_off));
    const uint64_t ns = sd.Uvarint();
    if (ns > sd.remaining()) return Status::Corruption("index: bad symbol count");
    symbols.reserve(ns);
    for (uint64_t i = 0; i < ns && sd.ok(); ++i) symbols.push_back(sd.String());
    if (!sd.ok() || !sd.done()) return Status::Corruption("index: truncated symbol table");
  }
  // A label string: inline (KSI1) or a symbol reference (KSI2); false when out of range.
  auto read_symbol = [&](enc::Decoder& d, uint32_t* out) {
    if (v1) {
      const std::string_view v = d.String();
      auto [it, added] = interned.try_emplace(v, static_cast<uint32_t>(symbols.size()));
      if (added) symbols.push_back(v);
      *out = it->second;
      return true;
    }
    const uint64_t ref = d.Uvarint();
    if (ref >= symbols.size()) return false;
    *out = static_cast<uint32_t>(ref);
    return true;
  };
  enc::Decoder d(data.substr(series_off, postings_off - series_off));
  const uint64_t n = d.Uvarint();
  if (n > d.remaining()) return Status::Corruption("index: bad series count");
  label_begin_.reserve(n + 1);
  chunk_begin_.reserve(n + 1);
  label_begin_.push_back(0);
  chunk_begin_.push_back(0);
  int64_t prev_mint = 0;
  uint64_t prev_offset = 0;
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    const uint64_t nl = d.Uvarint();
    if (nl > d.remaining()) return Status::Corruption("index: bad label count");
    for (uint64_t j = 0; j < nl; ++j) {
      uint32_t name, value;
      if (!read_symbol(d, &name) || !read_symbol(d, &value)) {
        return Status::Corruption("index: label symbol out of range");
      }
      if (j > 0 && !(symbols[label_syms_[label_syms_.size() - 2]] < symbols[name])) {
        return Status::Corruption("index: labels of series " + std::to_string(i) +
                                  " not sorted or repeated");
      }
      label_syms_.push_back(name);
      label_syms_.push_back(value);
    }
    if (label_syms_.size() / 2 >= UINT32_MAX) return Status::Corruption("index: too many labels");
    label_begin_.push_back(static_cast<uint32_t>(label_syms_.size() / 2));
    const uint64_t nc = d.Uvarint();
    if (nc > d.remaining()) return Status::Corruption("index: bad chunk count");
    for (uint64_t j = 0; j < nc; ++j) {
      ChunkMeta c;
      // KSI2 stores deltas from the previous chunk (unsigned arithmetic: damage wraps).
      c.mint = d.Varint();
      const uint64_t span = d.Uvarint();
      c.offset = d.Uvarint();
      if (!v1) {
        c.mint =
            static_cast<int64_t>(static_cast<uint64_t>(c.mint) + static_cast<uint64_t>(prev_mint));
        c.offset += prev_offset;
        prev_mint = c.mint;
        prev_offset = c.offset;
      }
      // Unsigned: a corrupt span must not overflow int64 (UB).
      c.maxt = static_cast<int64_t>(static_cast<uint64_t>(c.mint) + span);
      if (c.maxt < c.mint) return Status::Corruption("index: bad chunk time range");
      if (chunks_.size() >= UINT32_MAX) return Status::Corruption("index: too many chunks");
      chunks_.push_back(c);
    }
    chunk_begin_.push_back(static_cast<uint32_t>(chunks_.size()));
  }
  if (!d.ok()) return Status::Corruption("index: truncated series section");
  label_syms_.shrink_to_fit();
  chunks_.shrink_to_fit();
  crc_ok_ = std::make_unique<std::atomic<bool>[]>(chunks_.size());
  enc::Decoder pd(data.substr(postings_off, footer - postings_off));
  const uint64_t np = pd.Uvarint();
  for (uint64_t i = 0; i < np && pd.ok(); ++i) {
    uint32_t name, value;
    if (!read_symbol(pd, &name) || !read_symbol(pd, &value)) {
      return Status::Corruption("index: postings symbol out of range");
    }
    const uint64_t cnt = pd.Uvarint();
    if (cnt > pd.remaining()) return Status::Corruption("index: bad postings length");
    SeriesRef ref = 0;
    for (uint64_t j = 0; j < cnt && pd.ok(); ++j) {
      ref += pd.Uvarint();
      bool found = false;
      if (ref < NumSeries()) {
        for (uint32_t k = label_begin_[ref]; k < label_begin_[ref + 1]; ++k) {
          if (symbols[label_syms_[2 * k]] == symbols[name]) {
            found = symbols[label_syms_[2 * k + 1]] == symbols[value];
            break;
          }
        }
      }
      if (!found) return Status::Corruption("index: postings entry does not match its series");
    }
  }
  if (!pd.ok()) return Status::Corruption("index: truncated postings section");
  symbols_.assign(symbols.begin(), symbols.end());
  // The postings section was verified above against the series; the in-memory index is built
  // from the series (identical content, one pass, no second copy of the strings to parse).
  for (size_t i = 0; i < NumSeries(); ++i) {
    for (uint32_t k = label_begin_[i]; k < label_begin_[i + 1]; ++k) {
      postings_.AddLabel(i, symbols_[label_syms_[2 * k]], symbols_[label_syms_[2 * k + 1]]);
    }
    postings_.AddRef(i);
  }
  return Status::Ok();
}

Labels Block::LabelsOf(size_t id) const {
  std::vector<Label> labels;
  labels.reserve(label_begin_[id + 1] - label_begin_[id]);
  for (uint32_t k = label_begin_[id]; k < label_begin_[id + 1]; ++k) {
    labels.push_back(Label{symbols_[label_syms_[2 * k]], symbols_[label_syms_[2 * k + 1]]});
  }
  return Labels::FromSortedUnchecked(std::move(labels));
}

Status Block::ChunkAt(size_t chunk, ChunkRef* out) const {
  const ChunkMeta& m = chunks_[chunk];
  if (m.offset >= map_size_)
    return Status::Corruption("block " + dir_ + ": chunk offset out of range");
  enc::Decoder d(std::string_view(map_ + m.offset, map_size_ - m.offset));
  const uint64_t len = d.Uvarint();
  const uint8_t enc = d.U8();
  const std::string_view data = d.Bytes(len);
  // The CRC after the data is needed only until the chunk was verified once in this process
  // (crc_ok_); reading it anyway was a cache miss per chunk and query (3 % of a 24 h rate()).
  const bool verified = crc_ok_[chunk].load(std::memory_order_relaxed);
  const uint32_t crc = verified ? 0 : d.U32();
  if (!d.ok()) return Status::Corruption("block " + dir_ + ": chunk record truncated");
  if (enc != static_cast<uint8_t>(ChunkEncoding::kXor) &&
      enc != static_cast<uint8_t>(ChunkEncoding::kPacked)) {
    return Status::Corruption("block " + dir_ + ": unknown chunk encoding " + std::to_string(enc));
  }
  out->encoding = static_cast<ChunkEncoding>(enc);
  out->owner = shared_from_this();
  out->data = data;
  out->mint = m.mint;
  out->maxt = m.maxt;
  out->check_crc = true;
  out->crc = crc;
  out->crc_ok = &crc_ok_[chunk];
  return Status::Ok();
}

Status Block::AppendChunks(size_t id, int64_t mint, int64_t maxt,
                           std::vector<ChunkRef>* out) const {
  for (size_t c = chunk_begin_[id]; c < chunk_begin_[id + 1]; ++c) {
    if (chunks_[c].maxt < mint || chunks_[c].mint > maxt) continue;
    ChunkRef r;
    KANSOKU_RETURN_IF_ERROR(ChunkAt(c, &r));
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

void Block::ReleaseMappedPages() const {
  if (map_ != nullptr) (void)::madvise(const_cast<char*>(map_), map_size_, MADV_DONTNEED);
}

bool Block::HasRollup(int64_t resolution_ms) const {
  for (const auto& t : rollups_) {
    if (t.resolution() == resolution_ms) return true;
  }
  return false;
}

Result<std::vector<SeriesData>> Block::Select(const std::vector<Matcher>& matchers, int64_t mint,
                                              int64_t maxt,
                                              const std::optional<RollupChoice>& rollup, bool* used,
                                              bool label_refs) const {
  const RollupTable* table = nullptr;
  if (rollup) {
    for (const auto& t : rollups_) {
      if (t.resolution() == rollup->resolution_ms) table = &t;
    }
  }
  if (used != nullptr) *used = table != nullptr;
  Postings ids;
  if (matchers.empty()) {
    ids = postings_.All();
  } else {
    KANSOKU_ASSIGN_OR_RETURN(ids, SelectPostings(*this, matchers));
  }
  std::vector<SeriesData> out;
  const auto set_labels = [&](SeriesRef id, SeriesData* d) {
    if (label_refs) {
      d->symbols = symbols_.data();
      d->label_syms =
          std::span<const uint32_t>(label_syms_.data() + 2 * size_t{label_begin_[id]},
                                    2 * size_t{label_begin_[id + 1] - label_begin_[id]});
    } else {
      d->labels = LabelsOf(id);
    }
  };
  for (SeriesRef id : ids) {
    const std::span<const ChunkMeta> chunks = ChunksOf(id);
    SeriesData d;
    if (table != nullptr) {
      ChunkEncoding encoding;
      const std::string_view bytes = table->ChunkFor(id, rollup->agg, &encoding);
      if (bytes.empty() || chunks.empty() || chunks.back().maxt < mint ||
          chunks.front().mint > maxt) {
        continue;
      }
      ChunkRef r;
      r.owner = shared_from_this();
      r.data = bytes;
      r.encoding = encoding;
      r.mint = chunks.front().mint;  // rollup points lie within the raw data's span
      r.maxt = chunks.back().maxt;
      d.chunks.push_back(std::move(r));
      set_labels(id, &d);
      out.push_back(std::move(d));
      continue;
    }
    KANSOKU_RETURN_IF_ERROR(AppendChunks(id, mint, maxt, &d.chunks));
    if (d.chunks.empty()) continue;
    set_labels(id, &d);
    out.push_back(std::move(d));
  }
  return out;  // ids are label-ordered, so out is too
}

Status Block::SelectLabels(const std::vector<Matcher>& matchers, int64_t mint, int64_t maxt,
                           LabelViewList* out) const {
  Postings ids;
  if (matchers.empty()) {
    ids = postings_.All();
  } else {
    KANSOKU_ASSIGN_OR_RETURN(ids, SelectPostings(*this, matchers));
  }
  if (!ids.empty()) {
    // Sized by the first series' label count (the lists grew a few times per call before).
    const size_t first = label_begin_[ids.front() + 1] - label_begin_[ids.front()];
    out->parts.reserve(out->parts.size() + 2 * first * ids.size());
    out->begin.reserve(out->begin.size() + ids.size());
  }
  for (SeriesRef id : ids) {
    const std::span<const ChunkMeta> chunks = ChunksOf(id);
    if (std::none_of(chunks.begin(), chunks.end(),
                     [&](const ChunkMeta& c) { return c.maxt >= mint && c.mint <= maxt; })) {
      continue;
    }
    for (uint32_t k = label_begin_[id]; k < label_begin_[id + 1]; ++k) {
      out->parts.emplace_back(symbols_[label_syms_[2 * k]]);
      out->parts.emplace_back(symbols_[label_syms_[2 * k + 1]]);
    }
    out->EndEntry();
  }
  return Status::Ok();  // ids are label-ordered, so the entries are too
}

}  // namespace kansoku::tsdb
