#pragma once
// The row model every metrics decoder produces, and the sink it hands rows to.
//
// A decoder turns bytes into a RowBatch: series (a list of label views plus the input position
// they came from), samples that point at a series, and metric metadata. It never touches
// storage or HTTP. When a batch grows past DecodeOptions::flush_rows the decoder hands it to a
// RowSink and clears it, so memory stays bounded for large bodies.
//
// Ownership/lifetime: label names and values are string_views into either the request body
// (which the caller keeps alive for the whole decode call) or the batch's own arena (unescaped
// values, composed names such as "<measurement>_<field>"). Every view in a batch is valid until
// the batch is cleared, i.e. only during RowSink::Consume. A sink that keeps data must copy it.
//
// Thread safety: RowBatch and the sinks are single-threaded objects.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::ingest {

struct LabelView {
  std::string_view name;
  std::string_view value;
  bool operator==(const LabelView&) const = default;
};

// One series in a batch: labels_[first_label, first_label + num_labels). `line` is the input
// position the series came from (1-based line, timeseries index, data point index: see
// RowBatch::location_unit), used in error messages.
//
// raw_key (optional): input bytes that alone determine the series' labels within the batch's
// key_context (e.g. the label fields of a remote_write TimeSeries, or `name{...}` of a text
// line). AppenderSink's SeriesCache then finds the built Labels with one hash and one memcmp.
// A decoder sets it only when the mapping from those bytes to labels is fixed by the context.
//
// deferred: the decoder did not parse the labels (num_labels == 0) because the same raw key, in
// the same key context and under the same limits, parsed and passed before; raw_hash is then
// XXH3(raw_key) ^ key_context (0 written as 1). A sink that said yes to
// RowSink::TakesDeferredLabels() finds them in its cache by raw key, or asks the batch's
// LabelResolver to parse them.
struct SeriesRow {
  uint32_t first_label;
  uint32_t num_labels;
  uint32_t line;
  bool deferred = false;
  std::string_view raw_key;
  uint64_t raw_hash = 0;
};

enum class RejectReason : unsigned char;  // report.h

// Parses the labels of a deferred series from its raw key (the decoder that deferred them).
class LabelResolver {
 public:
  virtual ~LabelResolver() = default;
  // Appends the series' labels (the decoder's order, extra labels included; views valid during
  // RowSink::Consume) to *out; false when they are invalid, with *reason and the full
  // "<unit> N: ..." *message to reject the series' rows with.
  virtual bool Resolve(const SeriesRow& series, std::vector<LabelView>* out, RejectReason* reason,
                       std::string* message) = 0;
};

struct SampleRow {
  uint32_t series;  // index into RowBatch::series()
  int64_t timestamp_ms;
  double value;
};

// An exemplar of a series (OpenMetrics `# {trace_id="..."} v ts`, remote-write Exemplar): its
// labels are exemplar_labels_[first_label, first_label + num_labels).
struct ExemplarRow {
  uint32_t series;  // index into RowBatch::series()
  uint32_t first_label;
  uint32_t num_labels;
  int64_t timestamp_ms;
  double value;
};

struct MetadataRow {
  std::string_view metric_family;
  tsdb::MetricType type = tsdb::MetricType::kUnknown;
  std::string_view help;
  std::string_view unit;
};

// Bump allocator for strings a decoder must own (unescaped values, composed names). Pointers
// stay valid until Clear(); Clear() keeps the first block for reuse, so a reused arena does not
// allocate in steady state.
class StringArena {
 public:
  StringArena() = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  // Returns n writable bytes.
  char* Allocate(size_t n);
  std::string_view Copy(std::string_view s);
  std::string_view Concat(std::string_view a, std::string_view sep, std::string_view b);
  void Clear();
  size_t bytes_used() const { return used_total_; }

 private:
  static constexpr size_t kBlockSize = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t pos_ = 0;  // offset in blocks_.back()
  size_t cap_ = 0;  // size of blocks_.back()
  size_t first_cap_ = 0;
  size_t used_total_ = 0;
};

class RowBatch {
 public:
  RowBatch() = default;
  RowBatch(const RowBatch&) = delete;
  RowBatch& operator=(const RowBatch&) = delete;

  // Starts a new series; labels added next belong to it. Returns its index.
  uint32_t BeginSeries(uint32_t line, std::string_view raw_key = {}) {
    series_.push_back({static_cast<uint32_t>(labels_.size()), 0, line, false, raw_key, 0});
    return static_cast<uint32_t>(series_.size() - 1);
  }
  void AddLabel(std::string_view name, std::string_view value) {
    labels_.push_back({name, value});
    ++series_.back().num_labels;
  }
  // Overwrites a label of the current series (index into the batch's label array, e.g.
  // series().back().first_label).
  void SetLabel(uint32_t index, LabelView l) { labels_[index] = l; }
  // Drops the last series and its labels (the line turned out to be bad). It must have no samples.
  void CancelSeries() {
    labels_.resize(series_.back().first_label);
    series_.pop_back();
  }
  // Adds a sample to the last series.
  void AddSample(int64_t timestamp_ms, double value) {
    samples_.push_back({static_cast<uint32_t>(series_.size() - 1), timestamp_ms, value});
  }
  void AddMetadata(const MetadataRow& md) { metadata_.push_back(md); }
  // Adds an exemplar to the last series (after the sample it belongs to).
  void AddExemplar(const LabelView* labels, uint32_t n, double value, int64_t timestamp_ms) {
    exemplars_.push_back({static_cast<uint32_t>(series_.size() - 1),
                          static_cast<uint32_t>(exemplar_labels_.size()), n, timestamp_ms, value});
    exemplar_labels_.insert(exemplar_labels_.end(), labels, labels + n);
  }

  StringArena& arena() { return arena_; }

  const std::vector<SeriesRow>& series() const { return series_; }
  const std::vector<SampleRow>& samples() const { return samples_; }
  const std::vector<MetadataRow>& metadata() const { return metadata_; }
  const std::vector<ExemplarRow>& exemplars() const { return exemplars_; }
  const LabelView* labels_of(const ExemplarRow& e) const {
    return exemplar_labels_.data() + e.first_label;
  }
  const LabelView* labels_of(const SeriesRow& s) const { return labels_.data() + s.first_label; }
  uint32_t current_series_labels() const { return series_.back().num_labels; }
  bool empty() const { return samples_.empty() && metadata_.empty() && exemplars_.empty(); }

  // Identifies how raw keys map to labels (protocol, extra labels); see KeyContext().
  uint64_t key_context() const { return key_context_; }
  void set_key_context(uint64_t c) { key_context_ = c; }
  // Sets the raw key of the current series (e.g. once its extent is known).
  void SetRawKey(std::string_view k) { series_.back().raw_key = k; }
  // Marks the current series (no labels added) deferred: see SeriesRow::deferred.
  void SetDeferred(uint64_t raw_hash) {
    series_.back().deferred = true;
    series_.back().raw_hash = raw_hash;
  }
  // Who parses deferred series' labels (set by the decoder; null = none deferred).
  LabelResolver* resolver() const { return resolver_; }
  void set_resolver(LabelResolver* r) { resolver_ = r; }

  // What SeriesRow::line counts, for messages: "line", "timeseries", "value list", "data point".
  std::string_view location_unit() const { return location_unit_; }
  void set_location_unit(std::string_view u) { location_unit_ = u; }

  // Forgets all rows and arena strings; keeps capacity and the key context.
  void Clear();

 private:
  std::vector<LabelView> labels_;
  std::vector<SeriesRow> series_;
  std::vector<SampleRow> samples_;
  std::vector<MetadataRow> metadata_;
  std::vector<ExemplarRow> exemplars_;
  std::vector<LabelView> exemplar_labels_;
  StringArena arena_;
  std::string_view location_unit_ = "line";
  uint64_t key_context_ = 0;
  LabelResolver* resolver_ = nullptr;
};

// Receives decoded batches. Consume is called zero or more times per decode call; the batch and
// every view in it are valid only during the call.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void Consume(const RowBatch& batch) = 0;
  // True if the sink handles deferred series (SeriesRow::deferred): a decoder defers only then.
  virtual bool TakesDeferredLabels() const { return false; }
};

// A sink that copies everything it sees: for tests, tools and small bodies.
class CollectingSink : public RowSink {
 public:
  struct Row {
    tsdb::Labels labels;  // built with Labels::FromVector (sorted, empty values dropped)
    int64_t timestamp_ms;
    double value;
    uint32_t line;
  };
  struct Metadata {
    std::string metric_family;
    tsdb::MetricMetadata md;
  };
  struct Exemplar {
    tsdb::Labels series;
    tsdb::Exemplar exemplar;
  };
  void Consume(const RowBatch& batch) override;
  std::vector<Row> rows;
  std::vector<Metadata> metadata;
  std::vector<Exemplar> exemplars;
};

// A sink that drops the rows. With touch_all_bytes it reads every byte of every view (fuzzing:
// lets ASan catch a view pointing outside the body); otherwise only sizes (benchmarks).
class DiscardSink : public RowSink {
 public:
  explicit DiscardSink(bool touch_all_bytes = false) : touch_all_bytes_(touch_all_bytes) {}
  void Consume(const RowBatch& batch) override;
  bool touch_all_bytes_;
  uint64_t samples = 0;
  uint64_t checksum = 0;
};

}  // namespace kansoku::ingest
