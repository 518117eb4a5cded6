#include "ingest/prom_text/parser.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace kansoku::ingest::prom_text {

Format FormatFromContentType(std::string_view ct) {
  return ct.find("application/openmetrics-text") != std::string_view::npos
             ? Format::kOpenMetrics
             : Format::kPrometheusText;
}

namespace {

inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }
inline bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Cursor over one line.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return s[i]; }
  void SkipSpace() {
    while (i < s.size() && IsSpace(s[i])) ++i;
  }
  std::string_view Token() {  // up to the next space
    size_t b = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    return s.substr(b, i - b);
  }
  std::string_view Rest() const { return i < s.size() ? s.substr(i) : std::string_view(); }
};

// Reads a double-quoted string at c (c.peek() == '"'); unescapes into the arena if needed.
bool ReadQuoted(Cursor& c, StringArena& arena, std::string_view* out, std::string* why) {
  size_t b = ++c.i;
  bool escaped = false;
  while (c.i < c.s.size() && c.s[c.i] != '"') {
    if (c.s[c.i] == '\\') {
      escaped = true;
      ++c.i;
    }
    ++c.i;
  }
  if (c.i >= c.s.size()) {
    *why = "unterminated quoted string";
    return false;
  }
  std::string_view raw = c.s.substr(b, c.i - b);
  ++c.i;  // closing quote
  if (!escaped) {
    *out = raw;
    return true;
  }
  char* p = arena.Allocate(raw.size());
  size_t n = 0;
  for (size_t k = 0; k < raw.size(); ++k) {
    char ch = raw[k];
    if (ch == '\\' && k + 1 < raw.size()) {
      char e = raw[++k];
      if (e == 'n')
        p[n++] = '\n';
      else if (e == '\\' || e == '"')
        p[n++] = e;
      else {
        p[n++] = '\\';
        p[n++] = e;
      }
    } else {
      p[n++] = ch;
    }
  }
  *out = std::string_view(p, n);
  return true;
}

std::string_view UnescapeHelp(std::string_view s, StringArena& arena) {
  if (s.find('\\') == std::string_view::npos) return s;
  char* p = arena.Allocate(s.size());
  size_t n = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '\\' && k + 1 < s.size() && (s[k + 1] == 'n' || s[k + 1] == '\\')) {
      p[n++] = s[k + 1] == 'n' ? '\n' : '\\';
      ++k;
    } else {
      p[n++] = s[k];
    }
  }
  return {p, n};
}

std::string LineErr(uint32_t line) { return "line " + std::to_string(line) + ": "; }

// The parity of the number of set bits of a 16-bit value. (__builtin_popcount/parity are a call
// into libgcc without -mpopcnt: ~2% of the import's CPU.)
inline unsigned Parity16(unsigned x) {
  x ^= x >> 8;
  x ^= x >> 4;
  x ^= x >> 2;
  x ^= x >> 1;
  return x & 1U;
}

// The length of the run of name characters ([a-zA-Z0-9_:]) at the start of s.
size_t NameEnd(std::string_view s) {
  size_t i = 0;
#ifdef __SSE2__
  // 16 bytes a step (the byte loop was ~4% of the import's CPU: a few compares and a branch per
  // character). Signed compares: bytes >= 0x80 are negative and match no range.
  const __m128i az_lo = _mm_set1_epi8('a' - 1), az_hi = _mm_set1_epi8('z' + 1);
  const __m128i d_lo = _mm_set1_epi8('0' - 1), d_hi = _mm_set1_epi8('9' + 1);
  const __m128i case_bit = _mm_set1_epi8(0x20);
  const __m128i underscore = _mm_set1_epi8('_'), colon = _mm_set1_epi8(':');
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i lower = _mm_or_si128(v, case_bit);
    const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, az_lo), _mm_cmplt_epi8(lower, az_hi));
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d_lo), _mm_cmplt_epi8(v, d_hi));
    const __m128i other = _mm_or_si128(_mm_cmpeq_epi8(v, underscore), _mm_cmpeq_epi8(v, colon));
    const auto ok =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), other)));
    if (ok != 0xffffU) return i + static_cast<size_t>(__builtin_ctz(~ok));
  }
#endif
  while (i < s.size() && IsNameChar(s[i])) ++i;
  return i;
}

// The end of `name{...}` (the raw key, as Sample takes it: the name, spaces, the label list),
// scanning quoted values as ReadQuoted does; npos when the line does not look well formed.
size_t KeyEnd(std::string_view line, size_t* name_end) {
  const size_t n = line.size();
  size_t i = NameEnd(line);
  *name_end = i;
  while (i < n && IsSpace(line[i])) ++i;
  if (i >= n || line[i] != '{') return i;
  // Usually no value holds a '}' or an escape: the first '}' ends the list when the bytes before
  // it hold an even number of quotes and no backslash.
  if (const void* close = std::memchr(line.data() + i, '}', n - i)) {
    const size_t end = static_cast<size_t>(static_cast<const char*>(close) - line.data());
    // Only the parity of the quote count matters: the parity of a sum of counts is the parity
    // of the XOR of the masks, so the blocks' quote masks are XORed and counted once at the end.
    unsigned quote_bits = 0;
    unsigned backslashes = 0;
    size_t k = i;
#ifdef __SSE2__
    // 16 bytes a step (GCC -O2 does not vectorise the loop below; it was ~8% of the import's CPU).
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    for (; k + 16 <= end; k += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(line.data() + k));
      quote_bits ^= static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)));
      backslashes |= static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)));
    }
#endif
    for (; k < end; ++k) {
      quote_bits ^= static_cast<unsigned>(line[k] == '"');
      backslashes += static_cast<unsigned>(line[k] == '\\');
    }
    if (Parity16(quote_bits) == 0 && backslashes == 0) return end + 1;
  }
  for (++i; i < n; ++i) {
    if (line[i] == '}') return i + 1;
    if (line[i] == '"') {
      for (++i; i < n && line[i] != '"'; ++i) {
        if (line[i] == '\\') ++i;
      }
      if (i >= n) return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

inline uint64_t RawHash(std::string_view key, uint64_t context) {
  uint64_t h = XXH3_64bits(key.data(), key.size()) ^ context;
  return h | static_cast<uint64_t>(h == 0);  // as AppenderSink's (0 is FlatMap64's empty key)
}

// Keys whose labels parsed and passed the limits (see Parser::known_): the hash of the key in
// its context, mixed with the limits'.
struct KnownKeys {
  FlatMap64* set;
  uint64_t limits_mix;
};

// A sample line's key, found ahead of parsing the line (Parser::Parse looks a window of lines
// ahead and prefetches their known-key slots).
struct KeyScan {
  size_t key_end = std::string_view::npos;  // npos: no well-formed key
  size_t name_end = 0;
  uint64_t raw_hash = 0;
};
KeyScan ScanKey(std::string_view line, uint64_t key_context) {
  KeyScan k;
  if (!IsNameStart(line[0])) return k;
  k.key_end = KeyEnd(line, &k.name_end);
  if (k.key_end != std::string_view::npos)
    k.raw_hash = RawHash(line.substr(0, k.key_end), key_context);
  return k;
}

class LineParser {
 public:
  LineParser(RowBatch& batch, Format format, const DecodeOptions& opts, DecodeReport& report,
             KnownKeys known = {nullptr, 0})
      : batch_(batch), format_(format), opts_(opts), report_(report), known_(known) {}

  void Comment(std::string_view line, uint32_t line_no, bool* eof);
  // key: ScanKey(line) when the caller looked ahead, else null (scanned here if needed).
  void Sample(std::string_view line, uint32_t line_no, const KeyScan* key = nullptr);
  // Begins a series for the `name{...}` at the start of c's line and adds its labels (not the
  // extra ones); false when it was rejected (and cancelled). *name: the metric name.
  bool SeriesLabels(Cursor& c, uint32_t line_no, std::string_view* name);
  void FlushMetadata() {
    if (pending_active_) {
      batch_.AddMetadata(pending_);
      pending_active_ = false;
    }
  }

 private:
  bool Labels(Cursor& c, std::string_view* name, std::string* why,
              std::vector<LabelView>* into = nullptr);
  bool Exemplar(Cursor& c, int64_t sample_ts, std::string* why);
  // The value, timestamp and exemplar after the key at c; false when the line was rejected.
  bool ValueAndTimestamp(Cursor& c, uint32_t line_no, std::string_view name, double* value,
                         int64_t* ts, bool* has_exemplar);

  RowBatch& batch_;
  Format format_;
  const DecodeOptions& opts_;
  DecodeReport& report_;
  KnownKeys known_;
  MetadataRow pending_;
  bool pending_active_ = false;
  // The current line's exemplar (OpenMetrics), parsed before the sample is added.
  std::vector<LabelView> ex_labels_;
  double ex_value_ = 0;
  int64_t ex_ts_ = 0;
};

void LineParser::Comment(std::string_view line, uint32_t line_no, bool* eof) {
  Cursor c{line, 1};
  c.SkipSpace();
  std::string_view kw = c.Token();
  if (kw == "EOF" && c.Rest().find_first_not_of(" \t") == std::string_view::npos) {
    *eof = true;
    return;
  }
  if (kw != "HELP" && kw != "TYPE" && kw != "UNIT") return;  // a plain comment
  c.SkipSpace();
  std::string_view name = c.Token();
  if (name.empty()) {
    report_.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse " + Quote(line) +
                                              ": missing metric name after # " + std::string(kw));
    return;
  }
  if (c.i < c.s.size()) ++c.i;  // one separator; HELP text keeps further spaces
  std::string_view rest = c.Rest();
  if (kw != "HELP") rest = rest.substr(0, rest.find_last_not_of(" \t") + 1);
  if (!pending_active_ || pending_.metric_family != name) {
    FlushMetadata();
    pending_ = MetadataRow{};
    pending_.metric_family = name;
    pending_active_ = true;
  }
  if (kw == "HELP") {
    pending_.help = UnescapeHelp(rest, batch_.arena());
  } else if (kw == "UNIT") {
    pending_.unit = rest;
  } else {
    tsdb::MetricType t = tsdb::ParseMetricType(rest);
    if (t == tsdb::MetricType::kUnknown && rest != "untyped" && rest != "unknown") {
      report_.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse metric type " +
                                                Quote(rest) + " of " + Quote(name) +
                                                ": unknown type");
      return;
    }
    pending_.type = t;
  }
}

// Parses `{...}` at c (c.peek() == '{'), adding labels to the current series (or to *into). A
// quoted item without '=' is the metric name (UTF-8 form); it goes to *name.
bool LineParser::Labels(Cursor& c, std::string_view* name, std::string* why,
                        std::vector<LabelView>* into) {
  ++c.i;
  for (;;) {
    c.SkipSpace();
    if (c.done()) {
      *why = "missing '}'";
      return false;
    }
    if (c.peek() == '}') {
      ++c.i;
      return true;
    }
    std::string_view lname;
    if (c.peek() == '"') {
      if (!ReadQuoted(c, batch_.arena(), &lname, why)) return false;
      c.SkipSpace();
      if (!c.done() && (c.peek() == ',' || c.peek() == '}')) {
        if (!name->empty()) {
          *why = "two metric names " + Quote(*name) + " and " + Quote(lname);
          return false;
        }
        *name = lname;
        if (c.peek() == ',') ++c.i;
        continue;
      }
    } else {
      size_t b = c.i;
      if (!IsNameStart(c.peek()) || c.peek() == ':') {
        *why = "invalid label name start " + Quote(c.s.substr(c.i, 1));
        return false;
      }
      while (!c.done() && IsNameChar(c.peek()) && c.peek() != ':') ++c.i;
      lname = c.s.substr(b, c.i - b);
      c.SkipSpace();
    }
    if (c.done() || c.peek() != '=') {
      *why = "missing '=' after label name " + Quote(lname);
      return false;
    }
    ++c.i;
    c.SkipSpace();
    if (c.done() || c.peek() != '"') {
      *why = "missing '\"' before the value of label " + Quote(lname);
      return false;
    }
    std::string_view value;
    if (!ReadQuoted(c, batch_.arena(), &value, why)) {
      *why += " in the value of label " + Quote(lname);
      return false;
    }
    if (into != nullptr) {
      into->push_back({lname, value});
    } else {
      batch_.AddLabel(lname, value);
    }
    c.SkipSpace();
    if (c.done()) {
      *why = "missing '}'";
      return false;
    }
    if (c.peek() == ',') {
      ++c.i;
    } else if (c.peek() != '}') {
      *why = "expected ',' or '}' after the value of label " + Quote(lname) + ", got " +
             Quote(c.s.substr(c.i, 1));
      return false;
    }
  }
}

void LineParser::Sample(std::string_view line, uint32_t line_no, const KeyScan* key) {
  // A key that parsed and passed before (in this context, under these limits) is not parsed
  // again: the series is deferred (SeriesRow::deferred), found by the sink by its raw key.
  size_t key_end = std::string_view::npos;
  uint64_t raw_hash = 0;
  if (known_.set != nullptr && IsNameStart(line[0])) {
    const KeyScan scan = key != nullptr ? *key : ScanKey(line, batch_.key_context());
    const size_t name_end = scan.name_end;
    key_end = scan.key_end;
    if (key_end != std::string_view::npos) {
      raw_hash = scan.raw_hash;
      if (known_.set->Find(raw_hash ^ known_.limits_mix) != nullptr) {
        const std::string_view name = line.substr(0, name_end);
        batch_.BeginSeries(line_no, line.substr(0, key_end));
        batch_.SetDeferred(raw_hash);
        Cursor c{line, key_end};
        double value;
        int64_t ts;
        bool has_exemplar;
        if (!ValueAndTimestamp(c, line_no, name, &value, &ts, &has_exemplar)) return;
        batch_.AddSample(ts, value);
        if (has_exemplar) {
          batch_.AddExemplar(ex_labels_.data(), static_cast<uint32_t>(ex_labels_.size()), ex_value_,
                             ex_ts_);
        }
        return;
      }
    }
  }
  Cursor c{line, 0};
  std::string_view name;
  if (!SeriesLabels(c, line_no, &name)) return;
  double value;
  int64_t ts;
  bool has_exemplar;
  if (!ValueAndTimestamp(c, line_no, name, &value, &ts, &has_exemplar)) return;
  if (!CheckSeriesLimits(batch_, opts_.limits, report_)) return;
  if (raw_hash != 0 && c.s.substr(0, key_end) == batch_.series().back().raw_key) {
    // Bounded: a stream of ever new keys starts over (they are then parsed, as before).
    if (known_.set->size() >= Parser::kMaxKnownKeys) known_.set->Clear();
    known_.set->Insert(raw_hash ^ known_.limits_mix, 1);
  }
  AddExtraLabels(batch_, opts_);
  batch_.AddSample(ts, value);
  if (has_exemplar) {
    batch_.AddExemplar(ex_labels_.data(), static_cast<uint32_t>(ex_labels_.size()), ex_value_,
                       ex_ts_);
  }
}

bool LineParser::SeriesLabels(Cursor& c, uint32_t line_no, std::string_view* name_out) {
  const std::string_view line = c.s;
  std::string_view& name = *name_out;
  if (IsNameStart(c.peek())) {
    while (!c.done() && IsNameChar(c.peek())) ++c.i;
    name = line.substr(0, c.i);
  } else if (c.peek() != '{') {
    report_.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse " + Quote(line) +
                                              ": a sample must start with a metric name");
    return false;
  }
  batch_.BeginSeries(line_no);
  const uint32_t name_label = batch_.series().back().first_label;
  batch_.AddLabel(tsdb::kMetricName, name);
  c.SkipSpace();
  std::string why;
  if (!c.done() && c.peek() == '{') {
    std::string_view quoted_name;
    if (!Labels(c, &quoted_name, &why)) {
      batch_.CancelSeries();
      report_.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse labels of " +
                                                Quote(name.empty() ? line : name) + ": " + why);
      return false;
    }
    if (!quoted_name.empty()) {
      if (!name.empty()) {
        batch_.CancelSeries();
        report_.Reject(RejectReason::kSyntax,
                       LineErr(line_no) + "cannot parse " + Quote(line) + ": two metric names");
        return false;
      }
      name = quoted_name;
      batch_.SetLabel(name_label, {tsdb::kMetricName, name});
    }
  }
  if (name.empty()) {
    batch_.CancelSeries();
    report_.Reject(RejectReason::kSyntax,
                   LineErr(line_no) + "cannot parse " + Quote(line) + ": missing metric name");
    return false;
  }
  // `name{...}` determines the labels (escapes decode the same way every time).
  batch_.SetRawKey(line.substr(0, c.i));
  return true;
}

bool LineParser::ValueAndTimestamp(Cursor& c, uint32_t line_no, std::string_view name,
                                   double* value_out, int64_t* ts_out, bool* has_exemplar_out) {
  const std::string_view line = c.s;
  std::string why;
  c.SkipSpace();
  std::string_view value_s = c.Token();
  double value;
  if (value_s.empty() || !ParseFloat(value_s, &value)) {
    batch_.CancelSeries();
    report_.Reject(RejectReason::kBadValue,
                   LineErr(line_no) + "cannot parse value " + Quote(value_s) + " of metric " +
                       Quote(name) + (value_s.empty() ? ": missing value" : ": not a number"));
    return false;
  }
  c.SkipSpace();
  int64_t ts = opts_.now_ms;
  if (!c.done() && c.peek() != '#') {
    std::string_view ts_s = c.Token();
    bool ok;
    if (format_ == Format::kOpenMetrics) {
      double secs;
      ok = ParseFloat(ts_s, &secs) && std::isfinite(secs) && std::fabs(secs) < 9.2e15;
      if (ok) ts = static_cast<int64_t>(std::llround(secs * 1000));
    } else {
      ok = ParseInt64(ts_s, &ts);
    }
    if (!ok) {
      batch_.CancelSeries();
      report_.Reject(RejectReason::kBadTimestamp,
                     LineErr(line_no) + "cannot parse timestamp " + Quote(ts_s) + " of metric " +
                         Quote(name) +
                         (format_ == Format::kOpenMetrics ? ": want seconds since the epoch"
                                                          : ": want integer milliseconds"));
      return false;
    }
    c.SkipSpace();
  }
  if (!c.done() && c.peek() != '#') {
    batch_.CancelSeries();
    report_.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse " + Quote(line) +
                                              ": unexpected " + Quote(c.Rest()) +
                                              " after the timestamp");
    return false;
  }
  // A '#' here starts an exemplar: OpenMetrics only (the 0.0.4 format has none: skipped).
  const bool has_exemplar = !c.done() && format_ == Format::kOpenMetrics;
  if (has_exemplar && !Exemplar(c, ts, &why)) {
    batch_.CancelSeries();
    report_.Reject(
        RejectReason::kSyntax,
        LineErr(line_no) + "cannot parse the exemplar of metric " + Quote(name) + ": " + why);
    return false;
  }
  if (!CheckTimestamp(ts, opts_, &why)) {
    batch_.CancelSeries();
    report_.Reject(RejectReason::kTimestampOutOfRange,
                   LineErr(line_no) + "metric " + Quote(name) + ": " + why);
    return false;
  }
  *value_out = value;
  *ts_out = ts;
  *has_exemplar_out = has_exemplar;
  return true;
}

// `# {labels} value [timestamp]` at c (c.peek() == '#'). The timestamp is in seconds; without
// one the exemplar gets the sample's timestamp (as Prometheus' scraper does).
bool LineParser::Exemplar(Cursor& c, int64_t sample_ts, std::string* why) {
  ++c.i;
  c.SkipSpace();
  if (c.done() || c.peek() != '{') {
    *why = "expected '{' after '#'";
    return false;
  }
  ex_labels_.clear();
  std::string_view quoted_name;
  if (!Labels(c, &quoted_name, why, &ex_labels_)) return false;
  if (!quoted_name.empty()) {
    *why = "an exemplar has no metric name, got " + Quote(quoted_name);
    return false;
  }
  c.SkipSpace();
  std::string_view value_s = c.Token();
  if (value_s.empty() || !ParseFloat(value_s, &ex_value_)) {
    *why = value_s.empty() ? "missing value" : "value " + Quote(value_s) + " is not a number";
    return false;
  }
  c.SkipSpace();
  ex_ts_ = sample_ts;
  if (!c.done()) {
    std::string_view ts_s = c.Token();
    double secs;
    if (!ParseFloat(ts_s, &secs) || !std::isfinite(secs) || std::fabs(secs) >= 9.2e15) {
      *why = "timestamp " + Quote(ts_s) + " is not seconds since the epoch";
      return false;
    }
    ex_ts_ = static_cast<int64_t>(std::llround(secs * 1000));
    c.SkipSpace();
  }
  if (!c.done()) {
    *why = "unexpected " + Quote(c.Rest()) + " after the exemplar";
    return false;
  }
  return true;
}

}  // namespace

namespace {
uint64_t LimitsMix(const Limits& l) {
  const uint64_t parts[3] = {l.max_labels, l.max_label_name_bytes, l.max_label_value_bytes};
  return XXH3_64bits(parts, sizeof parts);
}
}  // namespace

bool Parser::Resolve(const SeriesRow& series, std::vector<LabelView>* out, RejectReason* reason,
                     std::string* message) {
  scratch_.Clear();
  scratch_.set_location_unit("line");
  scratch_.set_key_context(batch_.key_context());
  DecodeReport report;
  LineParser lp(scratch_, format_, *opts_, report);
  Cursor c{series.raw_key, 0};
  std::string_view name;
  if (lp.SeriesLabels(c, series.line, &name) &&
      CheckSeriesLimits(scratch_, opts_->limits, report)) {
    AddExtraLabels(scratch_, *opts_);
    const SeriesRow& r = scratch_.series().back();
    const LabelView* l = scratch_.labels_of(r);
    out->insert(out->end(), l, l + r.num_labels);
    return true;
  }
  *reason = RejectReason::kSyntax;
  for (size_t i = 0; i < kNumRejectReasons; ++i) {
    if (report.rejected(static_cast<RejectReason>(i)) > 0) *reason = static_cast<RejectReason>(i);
  }
  *message = report.errors().empty() ? LineErr(series.line) + "cannot parse labels"
                                     : report.errors().front();
  return false;
}

void Parser::Parse(std::string_view body, Format format, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report) {
  batch_.Clear();
  batch_.set_location_unit("line");
  batch_.set_key_context(KeyContext("prom_text", opts));
  format_ = format;
  opts_ = &opts;
  const bool defer = sink.TakesDeferredLabels();
  batch_.set_resolver(defer ? this : nullptr);
  const uint64_t limits_mix = LimitsMix(opts.limits);
  LineParser lp(batch_, format, opts, report, KnownKeys{defer ? &known_ : nullptr, limits_mix});
  // Lines are taken a window at a time: first every sample line's key is scanned and hashed and
  // its known-key slot prefetched, then the lines are parsed in order. The known-key lookup was
  // a cache miss per line on a large import (~4% of its CPU); now the window's misses overlap.
  constexpr size_t kWindow = 32;
  struct Ahead {
    std::string_view line;
    uint32_t line_no;
    KeyScan key;
  };
  std::array<Ahead, kWindow> ahead;
  uint32_t line_no = 0;
  size_t pos = 0;
  bool eof = false;
  while (pos < body.size() && !eof) {
    size_t n = 0;
    while (n < kWindow && pos < body.size()) {
      const char* nl =
          static_cast<const char*>(std::memchr(body.data() + pos, '\n', body.size() - pos));
      size_t end = nl ? static_cast<size_t>(nl - body.data()) : body.size();
      std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      size_t b = 0;
      while (b < line.size() && IsSpace(line[b])) ++b;
      line.remove_prefix(b);
      if (line.empty()) continue;
      Ahead& a = ahead[n++];
      a.line = line;
      a.line_no = line_no;
      a.key = KeyScan{};
      if (defer && line[0] != '#') {
        a.key = ScanKey(line, batch_.key_context());
        if (a.key.raw_hash != 0) known_.Prefetch(a.key.raw_hash ^ limits_mix);
      }
    }
    for (size_t i = 0; i < n && !eof; ++i) {
      const Ahead& a = ahead[i];
      if (a.line[0] == '#') {
        lp.Comment(a.line, a.line_no, &eof);
        continue;
      }
      lp.Sample(a.line, a.line_no, defer ? &a.key : nullptr);
      if (batch_.samples().size() >= opts.flush_rows) {
        // Metadata stays pending across the flush: its views point into the body, not the
        // arena, unless HELP had escapes; flush it now to be safe.
        lp.FlushMetadata();
        MaybeFlush(batch_, opts, sink);
      }
    }
  }
  lp.FlushMetadata();
  Flush(batch_, sink);
  opts_ = nullptr;
}

void ParsePromText(std::string_view body, Format format, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report) {
  Parser p;
  p.Parse(body, format, opts, sink, report);
}

}  // namespace kansoku::ingest::prom_text
