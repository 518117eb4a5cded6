#include "ingest/common/report.h"

#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>

#include "base/json.h"

namespace kansoku::ingest {

std::string_view RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kSyntax:
      return "syntax";
    case RejectReason::kBadValue:
      return "bad_value";
    case RejectReason::kBadTimestamp:
      return "bad_timestamp";
    case RejectReason::kTimestampOutOfRange:
      return "timestamp_out_of_range";
    case RejectReason::kTooManyLabels:
      return "too_many_labels";
    case RejectReason::kLabelTooLong:
      return "label_too_long";
    case RejectReason::kInvalidLabel:
      return "invalid_label";
    case RejectReason::kUnsupported:
      return "unsupported";
    case RejectReason::kStorage:
      return "storage";
    case RejectReason::kLimit:
      return "limit";
    case RejectReason::kCount_:
      break;
  }
  return "unknown";
}

void DecodeReport::Reject(RejectReason reason, std::string message) {
  RejectN(reason, 1, std::move(message));
}

void DecodeReport::RejectN(RejectReason reason, uint64_t n, std::string message) {
  KANSOKU_DCHECK(reason != RejectReason::kCount_, "BUG: kCount_ is not a reason");
  rows_rejected_ += n;
  by_reason_[static_cast<size_t>(reason)] += n;
  if (errors_.size() < kMaxErrors) errors_.push_back(std::move(message));
}

void DecodeReport::Merge(const DecodeReport& o) {
  rows_accepted_ += o.rows_accepted_;
  rows_rejected_ += o.rows_rejected_;
  values_skipped_ += o.values_skipped_;
  metadata_accepted_ += o.metadata_accepted_;
  exemplars_accepted_ += o.exemplars_accepted_;
  exemplars_rejected_ += o.exemplars_rejected_;
  for (const std::string& e : o.exemplar_errors_) {
    if (exemplar_errors_.size() >= kMaxErrors) break;
    exemplar_errors_.push_back(e);
  }
  for (size_t i = 0; i < kNumRejectReasons; ++i) by_reason_[i] += o.by_reason_[i];
  for (const std::string& e : o.errors_) {
    if (errors_.size() >= kMaxErrors) break;
    errors_.push_back(e);
  }
  SetRequestError(o.request_status_);
}

void DecodeReport::RejectExemplar(std::string message) {
  ++exemplars_rejected_;
  if (exemplar_errors_.size() < kMaxErrors) exemplar_errors_.push_back(std::move(message));
}

void DecodeReport::RevertAccepted(std::string message, RejectReason reason) {
  if (rows_accepted_ == 0) return;
  uint64_t n = rows_accepted_;
  rows_accepted_ = 0;
  RejectN(reason, n, std::move(message));
}

void DecodeReport::SetRateLimited(Status st, int retry_after_s) {
  request_status_ = std::move(st);
  retry_after_s_ = retry_after_s > 0 ? retry_after_s : 1;
}

void DecodeReport::SetRequestError(Status st) {
  if (st.ok() || !request_status_.ok()) return;
  request_status_ = std::move(st);
}

Outcome DecodeReport::outcome() const {
  if (retry_after_s_ > 0) return Outcome::kRateLimited;
  if (!request_status_.ok()) {
    Status::Code c = request_status_.code();
    return c == Status::Code::kInvalidArgument || c == Status::Code::kResourceExhausted
               ? Outcome::kBadData
               : Outcome::kRetryable;
  }
  return rows_rejected_ > 0 ? Outcome::kBadData : Outcome::kOk;
}

int DecodeReport::HttpStatus() const {
  switch (outcome()) {
    case Outcome::kOk:
      return 204;
    case Outcome::kBadData:
      return request_status_.code() == Status::Code::kResourceExhausted ? 413 : 400;
    case Outcome::kRetryable:
      return 503;
    case Outcome::kRateLimited:
      return 429;
  }
  return 500;
}

std::string DecodeReport::Summary() const {
  std::string out;
  if (!request_status_.ok()) {
    out += request_status_.message();
    out += "; ";
  }
  out += "stored " + std::to_string(rows_accepted_) + " rows";
  if (rows_rejected_ > 0) {
    out += ", rejected " + std::to_string(rows_rejected_) + " (";
    bool first = true;
    for (size_t i = 0; i < kNumRejectReasons; ++i) {
      if (by_reason_[i] == 0) continue;
      if (!first) out += ", ";
      first = false;
      out += RejectReasonName(static_cast<RejectReason>(i));
      out += ": ";
      out += std::to_string(by_reason_[i]);
    }
    out += ")";
  }
  if (values_skipped_ > 0) out += ", skipped " + std::to_string(values_skipped_) + " values";
  if (metadata_accepted_ > 0) {
    out += ", stored " + std::to_string(metadata_accepted_) + " metadata entries";
  }
  if (exemplars_accepted_ > 0 || exemplars_rejected_ > 0) {
    out += ", stored " + std::to_string(exemplars_accepted_) + " exemplars";
  }
  if (exemplars_rejected_ > 0) {
    out += ", rejected " + std::to_string(exemplars_rejected_) + " exemplars (";
    for (size_t i = 0; i < exemplar_errors_.size(); ++i) {
      if (i > 0) out += "; ";
      out += exemplar_errors_[i];
    }
    out += ")";
  }
  if (!errors_.empty()) {
    out += "; first errors: ";
    for (size_t i = 0; i < errors_.size(); ++i) {
      if (i > 0) out += "; ";
      out += errors_[i];
    }
  }
  return out;
}

std::string Quote(std::string_view s, size_t max_bytes) {
  bool cut = s.size() > max_bytes;
  if (cut) {
    // Cut before a UTF-8 continuation byte rather than through a character.
    size_t n = max_bytes;
    for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k) --n;
    s = s.substr(0, n);
  }
  std::string out = JsonString(s);
  if (cut) out += "...";
  return out;
}

namespace {
std::string Where(const RowBatch& batch, uint32_t line) {
  std::string s(batch.location_unit());
  s += ' ';
  s += std::to_string(line);
  s += ": ";
  return s;
}
}  // namespace

bool CheckSeriesLimits(RowBatch& batch, const Limits& limits, DecodeReport& report) {
  const SeriesRow& sr = batch.series().back();
  KANSOKU_DCHECK(
      batch.samples().empty() || batch.samples().back().series + 1 < batch.series().size(),
      "BUG: CheckSeriesLimits after samples were added");
  if (limits.max_labels > 0 && sr.num_labels > limits.max_labels) {
    report.Reject(RejectReason::kTooManyLabels,
                  Where(batch, sr.line) + "series has " + std::to_string(sr.num_labels) +
                      " labels, more than the limit of " + std::to_string(limits.max_labels));
    batch.CancelSeries();
    return false;
  }
  const LabelView* l = batch.labels_of(sr);
  for (uint32_t i = 0; i < sr.num_labels; ++i) {
    if (l[i].name.size() > limits.max_label_name_bytes) {
      report.Reject(RejectReason::kLabelTooLong,
                    Where(batch, sr.line) + "label name " + Quote(l[i].name) + " is " +
                        std::to_string(l[i].name.size()) + " bytes, more than the limit of " +
                        std::to_string(limits.max_label_name_bytes));
      batch.CancelSeries();
      return false;
    }
    if (l[i].value.size() > limits.max_label_value_bytes) {
      report.Reject(RejectReason::kLabelTooLong,
                    Where(batch, sr.line) + "value of label " + Quote(l[i].name) + " is " +
                        std::to_string(l[i].value.size()) + " bytes, more than the limit of " +
                        std::to_string(limits.max_label_value_bytes));
      batch.CancelSeries();
      return false;
    }
  }
  return true;
}

bool CheckTimestamp(int64_t t_ms, const DecodeOptions& opts, std::string* why) {
  const Limits& l = opts.limits;
  if (l.max_past_ms > 0 && t_ms < opts.now_ms - l.max_past_ms) {
    *why = "timestamp " + std::to_string(t_ms) + " ms is more than " +
           std::to_string(l.max_past_ms / 1000) + "s in the past";
    return false;
  }
  if (l.max_future_ms > 0 && t_ms > opts.now_ms + l.max_future_ms) {
    *why = "timestamp " + std::to_string(t_ms) + " ms is more than " +
           std::to_string(l.max_future_ms / 1000) + "s in the future";
    return false;
  }
  return true;
}

void AddExtraLabels(RowBatch& batch, const DecodeOptions& opts) {
  if (opts.extra_labels.empty()) return;
  const SeriesRow& sr = batch.series().back();
  uint32_t n = sr.num_labels;
  for (const LabelView& extra : opts.extra_labels) {
    bool present = false;
    const LabelView* l = batch.labels_of(batch.series().back());
    for (uint32_t i = 0; i < n; ++i) {
      if (l[i].name == extra.name) {
        present = true;
        break;
      }
    }
    if (!present) batch.AddLabel(extra.name, extra.value);
  }
}

uint64_t KeyContext(std::string_view protocol, const DecodeOptions& opts) {
  std::string k(protocol);
  for (const LabelView& l : opts.extra_labels) {
    k += '\xff';
    k += l.name;
    k += '\xfe';
    k += l.value;
  }
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: runs once per request
  for (char c : k) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h | 1;  // never 0 (0 = no context)
}

void Flush(RowBatch& batch, RowSink& sink) {
  if (!batch.empty()) sink.Consume(batch);
  batch.Clear();
}

namespace {
inline bool IsNameChar(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (allow_colon && c == ':');
}

std::string_view Sanitize(std::string_view s, StringArena& arena, bool allow_colon) {
  if (s.empty()) return s;
  bool leading_digit = s[0] >= '0' && s[0] <= '9';
  bool ok = !leading_digit;
  if (ok) {
    for (char c : s) {
      if (!IsNameChar(c, allow_colon)) {
        ok = false;
        break;
      }
    }
  }
  if (ok) return s;
  size_t n = s.size() + (leading_digit ? 1 : 0);
  char* p = arena.Allocate(n);
  size_t j = 0;
  if (leading_digit) p[j++] = '_';
  for (char c : s) p[j++] = IsNameChar(c, allow_colon) ? c : '_';
  return {p, n};
}
}  // namespace

std::string_view SanitizeMetricName(std::string_view s, StringArena& arena) {
  return Sanitize(s, arena, true);
}
std::string_view SanitizeLabelName(std::string_view s, StringArena& arena) {
  return Sanitize(s, arena, false);
}

std::string_view FormatFloatLabel(double v, StringArena& arena) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (res.ec != std::errc()) {
    res = std::to_chars(buf, buf + sizeof buf, v);
  }
  return arena.Copy(std::string_view(buf, res.ptr - buf));
}

bool ParseFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return false;
  // from_chars accepts "inf", "infinity", "nan" case-insensitively, but also "nan(...)", which
  // Go does not; and it does not accept a leading '+'.
  std::string_view rest = s.substr(i);
  if (rest[0] == 'n' || rest[0] == 'N') {
    if (rest.size() != 3 || (rest[1] != 'a' && rest[1] != 'A') ||
        (rest[2] != 'n' && rest[2] != 'N')) {
      return false;
    }
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (rest[0] == '-' || rest[0] == '+') return false;
  double v;
  auto res = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (res.ec != std::errc() || res.ptr != rest.data() + rest.size()) return false;
  *out = neg ? -v : v;
  return true;
}

namespace {
// Eight ASCII digits (the first the most significant) as their value; false when one of the
// bytes is not '0'..'9'. SWAR: three multiply-shift steps combine digit pairs, quads, octets.
inline bool EightDigits(const char* p, uint64_t* v) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  if constexpr (std::endian::native != std::endian::little) w = __builtin_bswap64(w);
  // Every byte in 0x30..0x39: high nibble 3, and adding 6 does not carry into it.
  if (((w & 0xF0F0F0F0F0F0F0F0) | (((w + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) !=
      0x3333333333333333)
    return false;
  w = (w & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8;
  w = (w & 0x00FF00FF00FF00FF) * 6553601 >> 16;
  *v = (w & 0x0000FFFF0000FFFF) * 42949672960001 >> 32;
  return true;
}
}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  // Fast path: 1 to 18 plain digits cannot overflow (millisecond timestamps have 13).
  if (!s.empty() && s.size() <= 18) {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t v = 0, eight;
    bool digits = true;
    while (digits && n >= 8) {
      digits = EightDigits(p, &eight);
      v = v * 100000000 + eight;
      p += 8;
      n -= 8;
    }
    for (; digits && n > 0; --n, ++p) {
      const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
      digits = d <= 9;
      v = v * 10 + d;
    }
    if (digits) {
      *out = static_cast<int64_t>(v);
      return true;
    }
  }
  if (s.empty()) return false;
  size_t i = s[0] == '+' ? 1 : 0;
  if (i >= s.size() || (i == 1 && s[1] == '-')) return false;
  auto res = std::from_chars(s.data() + i, s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace kansoku::ingest
