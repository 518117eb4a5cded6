#pragma once
// The storage seam for metrics: what ingest writes through and what the query engine reads
// through. The embedded TSDB implements it; a scale-out backend (ClickHouse) will implement it
// too. Nothing here knows about wire protocols, PromQL or HTTP.
//
// Ownership: an Appendable/Queryable outlives every Appender/Querier it hands out.
// Thread safety: Appendable::NewAppender and Queryable::NewQuerier are thread-safe; each Appender,
// Querier, SeriesSet and SeriesIterator is used by one thread at a time.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"

namespace re2 {
class RE2;
}

namespace kansoku::tsdb {

struct Sample {
  // Left uninitialised on purpose, as a plain aggregate's would be without `{}`: decoders size a
  // vector to the chunk's sample count and then write every sample, and value-initialising first
  // (resize zero-fills an aggregate) cost 6 % of a 24 h `sum(rate())` query in perf.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init,hicpp-member-init)
  Sample() {}
  constexpr Sample(int64_t t_ms, double value) : t(t_ms), v(value) {}

  int64_t t;  // milliseconds since the epoch
  double v;
};
static_assert(std::is_trivially_copyable_v<Sample>);

// What a decoder or a bulk read learned of the samples it produced, so that a caller need not
// scan them again (a query drops staleness markers and looks for counter resets). false means
// "not known"; every field may be false (0) for any samples.
struct SampleFacts {
  bool no_nan = false;       // no value is NaN (so no staleness marker)
  bool no_decrease = false;  // no value is below the one before it (`<`, as a counter reset)
  // > 0: there are at least two samples and each is `interval` ms after the one before it (a
  // regular series: the query engine then finds window edges by arithmetic). 0: not known.
  int64_t interval = 0;
};

// Prometheus' staleness marker: a NaN with this exact bit pattern marks a series as gone.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline double StaleNaN() {
  double d;
  std::memcpy(&d, &kStaleNaNBits, sizeof d);
  return d;
}
inline bool IsStaleNaN(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b == kStaleNaNBits;
}

enum class MetricType : unsigned char {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateSet
};
std::string_view MetricTypeName(MetricType t);   // "counter", ... as /api/v1/metadata prints
MetricType ParseMetricType(std::string_view s);  // unknown strings -> kUnknown

// An exemplar: a sample of a series with its own labels (e.g. trace_id), a value and a time.
struct Exemplar {
  Labels labels;
  double value = 0;
  int64_t t = 0;  // milliseconds since the epoch
  bool operator==(const Exemplar&) const = default;
};
struct SeriesExemplars {
  Labels series;
  std::vector<Exemplar> exemplars;  // in time order
};

struct MetricMetadata {
  MetricType type = MetricType::kUnknown;
  std::string help;
  std::string unit;
  bool operator==(const MetricMetadata&) const = default;
};

// Appender: batched writes. Append/UpdateMetadata stage; Commit makes the whole batch durable
// (in the WAL) and visible; Rollback discards it. Must not be reused after Commit or Rollback.
// Not thread-safe.
class Appender {
 public:
  virtual ~Appender() = default;
  // Errors per sample (the batch goes on): InvalidArgument for bad labels; "out of order" (older
  // than the series' own newest sample beyond the out-of-order window) or "too old" (beyond
  // retention) (kInvalidArgument with a message naming the series and timestamps);
  // ResourceExhausted when a series limit refuses a new series.
  virtual Status Append(const Labels& labels, int64_t t, double v) = 0;
  // The same, for callers that append the same series again and again and keep a handle per
  // series (ingest's SeriesCache). *handle == 0: the series is found by its labels, and
  // *handle may be set to a non-zero value naming it. *handle != 0 (set by an earlier call on
  // an appender of the same Appendable, for these same labels): the label lookup is skipped.
  // A handle the storage no longer knows (series collected, another storage) falls back to the
  // labels and is replaced, so a stale handle costs time, never correctness. The default
  // ignores the handle.
  virtual Status AppendWithHandle(uint64_t* handle, const Labels& labels, int64_t t, double v) {
    (void)handle;
    return Append(labels, t, v);
  }
  virtual Status UpdateMetadata(std::string_view metric_name, const MetricMetadata& md) = 0;
  // Stages an exemplar of `series` (made durable and visible by Commit, as samples are).
  // InvalidArgument for exemplar labels over 128 runes, bad label names, or an exemplar older
  // than the series' newest stored one. The default drops exemplars (storages without them).
  virtual Status AppendExemplar(const Labels& series, const Exemplar& e) {
    (void)series;
    (void)e;
    return Status::Ok();
  }
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
};

class Appendable {
 public:
  virtual ~Appendable() = default;
  virtual std::unique_ptr<Appender> NewAppender() = 0;
};

enum class MatchType : unsigned char { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// A label matcher as in PromQL: name="v", name!="v", name=~"re", name!~"re". Regexes are RE2,
// fully anchored. A missing label matches as the empty string.
class Matcher {
 public:
  static Result<Matcher> Create(MatchType type, std::string name, std::string value);
  bool Matches(std::string_view value) const;
  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // True if the matcher matches the empty string (then series lacking the label match too).
  bool MatchesEmpty() const { return Matches(""); }
  std::string ToString() const;  // name="value" with Go-style quoting

  Matcher(const Matcher&) = default;
  Matcher& operator=(const Matcher&) = default;
  Matcher(Matcher&&) noexcept = default;
  Matcher& operator=(Matcher&&) noexcept = default;
  ~Matcher();

 private:
  Matcher() = default;
  MatchType type_ = MatchType::kEqual;
  std::string name_, value_;
  std::shared_ptr<const re2::RE2> re_;  // compiled once, shared by copies
};

// Iterates one series' samples in time order.
class SeriesIterator {
 public:
  virtual ~SeriesIterator() = default;
  // Advances to the next sample; false at the end.
  virtual bool Next() = 0;
  // Advances to the first sample with t >= target (no-op if already there); false if none.
  virtual bool Seek(int64_t target) = 0;
  virtual Sample At() const = 0;
  // Non-OK if reading failed (corrupt chunk); checked after Next() returns false.
  virtual Status status() const { return Status::Ok(); }
  // Bulk read for a fresh iterator (no Next/Seek called yet): appends every sample with
  // mint <= t <= maxt to *out, in time order, exactly what Seek(mint) and Next() up to maxt
  // would yield, and returns status(). Do not use the iterator afterwards. The default does
  // that loop; implementations override it to decode without a virtual call per sample.
  // facts (nullable) gets what is known of the appended samples (SampleFacts).
  virtual Status ReadRange(int64_t mint, int64_t maxt, std::vector<Sample>* out,
                           SampleFacts* facts);
};

// The series a Select found, in label order.
class SeriesSet {
 public:
  virtual ~SeriesSet() = default;
  virtual bool Next() = 0;
  virtual const Labels& labels() const = 0;
  // A fresh iterator over the current series' samples within the querier's [mint, maxt].
  virtual std::unique_ptr<SeriesIterator> Iterator() const = 0;
  // The current series' labels and iterator, each taken at most once per series by a caller
  // that asks nothing more about that series: a set may move them out instead of copying
  // (afterwards labels() and Iterator() of this series are unspecified).
  virtual Labels TakeLabels() { return labels(); }
  virtual std::unique_ptr<SeriesIterator> TakeIterator() { return Iterator(); }
  virtual Status status() const { return Status::Ok(); }
};

struct SelectHints {
  int64_t start = 0;  // the data the caller needs; a backend may use rollups when step is large
  int64_t end = 0;
  int64_t step = 0;   // 0 for instant queries
  std::string func;   // enclosing function name (e.g. "rate"), a hint for rollup choice
  int64_t range = 0;  // range of a range vector selector, ms
  // Threads the backend may use for this one call (the caller's query parallelism); 1 keeps the
  // call on the calling thread.
  int parallelism = 1;
};

// Reads data within [mint, maxt] (inclusive, ms). Not thread-safe.
class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching all matchers (at least one must not match the empty string), sorted by labels.
  virtual Result<std::unique_ptr<SeriesSet>> Select(const std::vector<Matcher>& matchers,
                                                    const SelectHints& hints) = 0;
  // Label names, sorted; restricted to series matching matchers when non-empty.
  virtual Result<std::vector<std::string>> LabelNames(const std::vector<Matcher>& matchers) = 0;
  virtual Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                       const std::vector<Matcher>& matchers) = 0;
  // The labels of the series Select(matchers, hints) would find, in label order, without their
  // samples: fn gets each set as alternating name and value views, valid during the call only,
  // and returns false to stop. For /api/v1/series, which only writes them out: a backend may
  // pass views of its own copies (no Labels built per series). The default goes through Select.
  using LabelPartsFn = std::function<bool(std::span<const std::string_view>)>;
  virtual Status ForEachSeriesLabels(const std::vector<Matcher>& matchers, const SelectHints& hints,
                                     const LabelPartsFn& fn);
};

class Queryable {
 public:
  virtual ~Queryable() = default;
  virtual Result<std::unique_ptr<Querier>> NewQuerier(int64_t mint, int64_t maxt) = 0;
  // Metadata per metric name (all names when metric is empty), at most limit (0 = no limit).
  virtual std::vector<std::pair<std::string, MetricMetadata>> Metadata(std::string_view metric,
                                                                       size_t limit) = 0;
  // Series matching any of the matcher sets (all matchers of a set) that have exemplars with
  // mint <= t <= maxt, sorted by series labels. The default: none stored.
  virtual std::vector<SeriesExemplars> SelectExemplars(
      const std::vector<std::vector<Matcher>>& matchers, int64_t mint, int64_t maxt) {
    (void)matchers;
    (void)mint;
    (void)maxt;
    return {};
  }
};

}  // namespace kansoku::tsdb
