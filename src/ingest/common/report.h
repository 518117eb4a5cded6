#pragma once
// DecodeReport: what happened to one request's rows, and DecodeOptions: what every decoder takes.
//
// A report counts rows accepted (stored), rows rejected per reason, values skipped on purpose
// (string fields, NaN where the protocol means "no data"), and keeps the first kMaxErrors
// messages in the form "line N: cannot parse X \"...\": why". It also carries a request-level
// Status (bad snappy, truncated protobuf, storage commit failure) and classifies the outcome for
// the HTTP layer: success, bad data that must not be retried (4xx), or retryable (5xx), following
// the Prometheus remote-write 1.0 rules.
//
// Thread safety: a report belongs to one request (one thread).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest {

// Why a row (or a whole request) was rejected. The names are stable: handlers export them as
// kansoku_ingest_rows_invalid_total{protocol="...",reason="<name>"}.
enum class RejectReason : unsigned char {
  kSyntax,               // "syntax": the line or message does not parse
  kBadValue,             // "bad_value": the value is not a number / wrong type
  kBadTimestamp,         // "bad_timestamp": the timestamp does not parse
  kTimestampOutOfRange,  // "timestamp_out_of_range": too far in the past or the future
  kTooManyLabels,        // "too_many_labels"
  kLabelTooLong,         // "label_too_long": a name or value over the limit
  kInvalidLabel,         // "invalid_label": empty/invalid name, duplicate name, no metric name
  kUnsupported,  // "unsupported": e.g. native or exponential histograms, delta without state
  kStorage,      // "storage": the appender refused the row (out of order, ...)
  kLimit,        // "limit": a series / cardinality / rate limit refused it (usage guard)
  kCount_,
};
inline constexpr size_t kNumRejectReasons = static_cast<size_t>(RejectReason::kCount_);
std::string_view RejectReasonName(RejectReason r);

// How the HTTP layer should answer (remote-write 1.0 spec: senders retry on 5xx and 429 only).
enum class Outcome : unsigned char {
  kOk,           // 2xx (204 for remote_write / influx): every row stored
  kBadData,      // 400: some or all rows were invalid; valid rows are stored; do not retry
  kRetryable,    // 503: storage could not commit (or is shutting down); the sender should retry
  kRateLimited,  // 429 + Retry-After: the token's samples/s limit; nothing stored; retry later
};

// Limits on one row; defaults are generous, the handler may tighten them from the config.
struct Limits {
  // Labels per series including __name__ (VictoriaMetrics: 30, Prometheus: unlimited).
  uint32_t max_labels = 64;
  uint32_t max_label_name_bytes = 256;
  uint32_t max_label_value_bytes = 4096;
  // Samples older than now - max_past_ms or newer than now + max_future_ms are rejected with
  // kTimestampOutOfRange. 0 disables a bound. Storage applies its own retention bound on top.
  int64_t max_past_ms = 10LL * 365 * 24 * 3600 * 1000;  // 10 years
  int64_t max_future_ms = 2LL * 24 * 3600 * 1000;       // 2 days, as VictoriaMetrics
};

struct DecodeOptions {
  // "Now" in ms since the epoch: the default timestamp and the reference for Limits.
  int64_t now_ms = 0;
  Limits limits;
  // Added to every series unless the series already has the name (e.g. influx ?db=, extra_label).
  // Views must outlive the decode call.
  std::vector<LabelView> extra_labels;
  // A decoder hands its batch to the sink when it holds at least this many samples.
  size_t flush_rows = 8192;
};

class DecodeReport {
 public:
  static constexpr size_t kMaxErrors = 5;

  // A rejected row. `message` is the full text ("line 3: cannot parse ...").
  void Reject(RejectReason reason, std::string message);
  // Rejects `n` rows at once with one message (e.g. a whole bad series).
  void RejectN(RejectReason reason, uint64_t n, std::string message);
  void Accept(uint64_t n = 1) { rows_accepted_ += n; }
  void Skip(uint64_t n = 1) { values_skipped_ += n; }
  void AcceptMetadata(uint64_t n = 1) { metadata_accepted_ += n; }
  // Exemplars: stored, or refused by storage (out of order, labels over 128 runes). As in
  // Prometheus, a refused exemplar does not fail the request; Summary() names the first ones.
  void AcceptExemplar() { ++exemplars_accepted_; }
  void RejectExemplar(std::string message);
  // Adds another report's counters, errors (up to kMaxErrors) and request error to this one.
  void Merge(const DecodeReport& other);
  // The commit failed (or was refused): every accepted row becomes rejected with `message`.
  void RevertAccepted(std::string message, RejectReason reason = RejectReason::kStorage);
  // A rate limit refused the whole request: 429 with Retry-After: retry_after_s.
  void SetRateLimited(Status st, int retry_after_s);
  int retry_after_s() const { return retry_after_s_; }
  // A request-level failure. The first one wins. kInvalidArgument means the body is bad
  // (400), kResourceExhausted that it is too large (413); both must not be retried. Any other
  // code is treated as retryable (503).
  void SetRequestError(Status st);

  uint64_t rows_accepted() const { return rows_accepted_; }
  uint64_t rows_rejected() const { return rows_rejected_; }
  uint64_t rejected(RejectReason r) const { return by_reason_[static_cast<size_t>(r)]; }
  uint64_t values_skipped() const { return values_skipped_; }
  uint64_t metadata_accepted() const { return metadata_accepted_; }
  uint64_t exemplars_accepted() const { return exemplars_accepted_; }
  uint64_t exemplars_rejected() const { return exemplars_rejected_; }
  const std::vector<std::string>& exemplar_errors() const { return exemplar_errors_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const Status& request_status() const { return request_status_; }

  Outcome outcome() const;
  // 204, 400, 413, 429 or 503 (2xx/4xx/5xx as remote-write 1.0 wants).
  int HttpStatus() const;
  // One human line for a response body or a log line, e.g.
  // "stored 10 rows, rejected 2 (syntax: 1, timestamp_out_of_range: 1); first errors: line 3:
  // ...; line 7: ...". Empty details are omitted.
  std::string Summary() const;

 private:
  uint64_t rows_accepted_ = 0;
  uint64_t rows_rejected_ = 0;
  uint64_t values_skipped_ = 0;
  uint64_t metadata_accepted_ = 0;
  uint64_t exemplars_accepted_ = 0;
  uint64_t exemplars_rejected_ = 0;
  std::vector<std::string> exemplar_errors_;
  std::array<uint64_t, kNumRejectReasons> by_reason_{};
  std::vector<std::string> errors_;
  Status request_status_;
  int retry_after_s_ = 0;
};

// "cannot parse <what> \"<input>\": <why>" with the input as a JSON string (base/json.h: control
// bytes escaped, invalid UTF-8 as U+FFFD), cut to max_bytes (not inside a UTF-8 character) and
// then followed by "...". Used by every decoder.
std::string Quote(std::string_view s, size_t max_bytes = 64);

// Checks a finished series against the limits; on failure rejects `n_samples` rows in the report
// with a "<unit> N: ..." message, cancels the series and returns false.
bool CheckSeriesLimits(RowBatch& batch, const Limits& limits, DecodeReport& report);
// Checks a timestamp against the limits; on failure fills *why and returns false.
bool CheckTimestamp(int64_t t_ms, const DecodeOptions& opts, std::string* why);
// Adds opts.extra_labels to the current series (skips names the series already has).
void AddExtraLabels(RowBatch& batch, const DecodeOptions& opts);
// The raw-key context for a decoder: a hash of the protocol name and opts.extra_labels (which
// are added to every series), so cached raw keys never cross protocols or label settings.
uint64_t KeyContext(std::string_view protocol, const DecodeOptions& opts);
// Flushes the batch to the sink when it holds at least opts.flush_rows samples.
inline void MaybeFlush(RowBatch& batch, const DecodeOptions& opts, RowSink& sink) {
  if (batch.samples().size() >= opts.flush_rows) {
    sink.Consume(batch);
    batch.Clear();
  }
}
// Hands a non-empty batch to the sink and clears it.
void Flush(RowBatch& batch, RowSink& sink);

// Prometheus-compatible names from arbitrary input (Graphite paths, Influx measurements, OTLP
// names): every byte outside [a-zA-Z0-9_:] becomes '_' (':' also for label names), and a leading
// digit gets a '_' prefix. Returns `s` itself when it is already valid (no copy).
std::string_view SanitizeMetricName(std::string_view s, StringArena& arena);
std::string_view SanitizeLabelName(std::string_view s, StringArena& arena);

// Shortest round-trip decimal form without exponent ("0.005", "1000000", "+Inf"), as Go's
// strconv.FormatFloat(f, 'f', -1, 64) prints it: used for le="..." and quantile="...".
std::string_view FormatFloatLabel(double v, StringArena& arena);

// Parses a float the way Prometheus' text format does (Go's strconv.ParseFloat): optional sign,
// decimal or exponent form, "NaN", "Inf", "+Inf", "-Inf", "Infinity" in any case. The whole of s
// must be consumed.
bool ParseFloat(std::string_view s, double* out);
// Parses a decimal int64 (optional sign); the whole of s must be consumed; false on overflow.
bool ParseInt64(std::string_view s, int64_t* out);

}  // namespace kansoku::ingest
