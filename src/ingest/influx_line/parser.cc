#include "ingest/influx_line/parser.h"

#include <cstring>
#include <string>
#include <vector>

namespace kansoku::ingest::influx_line {

Result<Precision> ParsePrecision(std::string_view s) {
  if (s.empty() || s == "n" || s == "ns") return Precision::kNanoseconds;
  if (s == "u" || s == "us" || s == "\xc2\xb5") return Precision::kMicroseconds;
  if (s == "ms") return Precision::kMilliseconds;
  if (s == "s") return Precision::kSeconds;
  if (s == "m") return Precision::kMinutes;
  if (s == "h") return Precision::kHours;
  return Status::InvalidArgument("cannot parse precision " + Quote(s) +
                                 ": want one of ns, us, ms, s, m, h");
}

namespace {

// Scans from s[*i] to the first unescaped byte in `stops` (or the end). Sets *escaped when a
// backslash was seen.
inline std::string_view ScanUntil(std::string_view s, size_t* i, const char* stops, bool* escaped) {
  size_t b = *i;
  size_t k = b;
  while (k < s.size()) {
    char c = s[k];
    if (c == '\\' && k + 1 < s.size()) {
      *escaped = true;
      k += 2;
      continue;
    }
    if (std::strchr(stops, c) != nullptr && c != '\0') break;
    ++k;
  }
  *i = k;
  return s.substr(b, k - b);
}

// Removes the backslash before any of `escapable`.
std::string_view Unescape(std::string_view s, const char* escapable, StringArena& arena) {
  char* p = arena.Allocate(s.size());
  size_t n = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '\\' && k + 1 < s.size() && std::strchr(escapable, s[k + 1]) != nullptr) {
      p[n++] = s[++k];
    } else {
      p[n++] = s[k];
    }
  }
  return {p, n};
}

struct Field {
  std::string_view key;
  double value;
  bool skip;  // string field
};

std::string LineErr(uint32_t line) { return "line " + std::to_string(line) + ": "; }

bool ParseFieldValue(std::string_view v, double* out, bool* is_string) {
  *is_string = false;
  if (v.empty()) return false;
  char last = v.back();
  if (last == 'i' || last == 'u') {
    std::string_view digits = v.substr(0, v.size() - 1);
    int64_t n;
    if (last == 'u') {
      if (digits.empty() || digits[0] == '-' || digits[0] == '+') return false;
      uint64_t u = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return false;
        if (u > (UINT64_MAX - (c - '0')) / 10) return false;
        u = u * 10 + (c - '0');
      }
      *out = static_cast<double>(u);
      return true;
    }
    if (!ParseInt64(digits, &n)) return false;
    *out = static_cast<double>(n);
    return true;
  }
  switch (v[0]) {
    case 't':
    case 'T':
      if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE") {
        *out = 1;
        return true;
      }
      return false;
    case 'f':
    case 'F':
      if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE") {
        *out = 0;
        return true;
      }
      return false;
    default:
      break;
  }
  // Influx floats: no NaN/Inf literals.
  char c = v[0] == '-' || v[0] == '+' ? (v.size() > 1 ? v[1] : '\0') : v[0];
  if (!((c >= '0' && c <= '9') || c == '.')) return false;
  return ParseFloat(v, out);
}

bool ToMillis(int64_t ts, Precision p, int64_t* out) {
  switch (p) {
    case Precision::kNanoseconds:
      *out = ts / 1000000;
      return true;
    case Precision::kMicroseconds:
      *out = ts / 1000;
      return true;
    case Precision::kMilliseconds:
      *out = ts;
      return true;
    case Precision::kSeconds:
      return !__builtin_mul_overflow(ts, int64_t{1000}, out);
    case Precision::kMinutes:
      return !__builtin_mul_overflow(ts, int64_t{60000}, out);
    case Precision::kHours:
      return !__builtin_mul_overflow(ts, int64_t{3600000}, out);
  }
  return false;
}

class LineParser {
 public:
  LineParser(RowBatch& batch, const Options& options, const DecodeOptions& opts,
             DecodeReport& report)
      : batch_(batch), options_(options), opts_(opts), report_(report) {}

  void Line(std::string_view line, uint32_t line_no);

 private:
  void Fail(RejectReason r, uint32_t line_no, const std::string& why) {
    report_.Reject(r, LineErr(line_no) + why);
  }

  RowBatch& batch_;
  const Options& options_;
  const DecodeOptions& opts_;
  DecodeReport& report_;
  std::vector<LabelView> tags_;
  std::vector<Field> fields_;
};

void LineParser::Line(std::string_view s, uint32_t line_no) {
  StringArena& arena = batch_.arena();
  size_t i = 0;
  bool esc = false;
  std::string_view measurement = ScanUntil(s, &i, ", ", &esc);
  if (measurement.empty()) {
    Fail(RejectReason::kSyntax, line_no, "cannot parse " + Quote(s) + ": missing measurement");
    return;
  }
  if (esc) measurement = Unescape(measurement, ", ", arena);
  tags_.clear();
  while (i < s.size() && s[i] == ',') {
    ++i;
    esc = false;
    std::string_view key = ScanUntil(s, &i, "=, ", &esc);
    if (esc) key = Unescape(key, ",= ", arena);
    if (i >= s.size() || s[i] != '=' || key.empty()) {
      Fail(RejectReason::kSyntax, line_no,
           "cannot parse tag " + Quote(key) + " of measurement " + Quote(measurement) +
               (key.empty() ? ": empty tag key" : ": missing '='"));
      return;
    }
    ++i;
    esc = false;
    std::string_view value = ScanUntil(s, &i, ", ", &esc);
    if (value.empty()) {
      Fail(RejectReason::kSyntax, line_no,
           "cannot parse tag " + Quote(key) + " of measurement " + Quote(measurement) +
               ": empty tag value");
      return;
    }
    if (esc) value = Unescape(value, ",= ", arena);
    tags_.push_back({SanitizeLabelName(key, arena), value});
  }
  if (i >= s.size()) {
    Fail(RejectReason::kSyntax, line_no,
         "cannot parse " + Quote(s) + ": missing fields after measurement " + Quote(measurement));
    return;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  fields_.clear();
  for (;;) {
    esc = false;
    std::string_view key = ScanUntil(s, &i, "=, ", &esc);
    if (esc) key = Unescape(key, ",= ", arena);
    if (i >= s.size() || s[i] != '=' || key.empty()) {
      Fail(RejectReason::kSyntax, line_no,
           "cannot parse field " + Quote(key) + " of measurement " + Quote(measurement) +
               (key.empty() ? ": empty field key" : ": missing '='"));
      return;
    }
    ++i;
    if (i < s.size() && s[i] == '"') {
      // Quoted string: scan to the closing unescaped quote.
      size_t k = i + 1;
      while (k < s.size() && s[k] != '"') k += s[k] == '\\' ? 2 : 1;
      if (k >= s.size()) {
        Fail(RejectReason::kBadValue, line_no,
             "cannot parse field " + Quote(key) + " of measurement " + Quote(measurement) +
                 ": unterminated string value");
        return;
      }
      i = k + 1;
      fields_.push_back({key, 0, true});
    } else {
      size_t b = i;
      while (i < s.size() && s[i] != ',' && s[i] != ' ') ++i;
      std::string_view v = s.substr(b, i - b);
      double d;
      bool is_string;
      if (!ParseFieldValue(v, &d, &is_string)) {
        Fail(RejectReason::kBadValue, line_no,
             "cannot parse value " + Quote(v) + " of field " + Quote(key) + " of measurement " +
                 Quote(measurement) +
                 ": want a float, an integer (12i), an unsigned (12u), a boolean or a quoted "
                 "string");
        return;
      }
      fields_.push_back({key, d, false});
    }
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    break;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  int64_t ts = opts_.now_ms;
  if (i < s.size()) {
    size_t b = i;
    while (i < s.size() && s[i] != ' ') ++i;
    std::string_view ts_s = s.substr(b, i - b);
    int64_t raw;
    if (!ParseInt64(ts_s, &raw) || !ToMillis(raw, options_.precision, &ts)) {
      Fail(RejectReason::kBadTimestamp, line_no,
           "cannot parse timestamp " + Quote(ts_s) + " of measurement " + Quote(measurement) +
               ": want an integer in the request precision");
      return;
    }
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size()) {
      Fail(RejectReason::kSyntax, line_no,
           "cannot parse " + Quote(s) + ": unexpected " + Quote(s.substr(i)) +
               " after the timestamp");
      return;
    }
  }
  std::string why;
  if (!CheckTimestamp(ts, opts_, &why)) {
    Fail(RejectReason::kTimestampOutOfRange, line_no,
         "measurement " + Quote(measurement) + ": " + why);
    return;
  }
  std::string_view mname = SanitizeMetricName(measurement, arena);
  bool single = options_.skip_single_field && fields_.size() == 1;
  for (const Field& f : fields_) {
    if (f.skip) {
      report_.Skip();
      continue;
    }
    batch_.BeginSeries(line_no);
    std::string_view name =
        single ? mname : SanitizeMetricName(arena.Concat(measurement, "_", f.key), arena);
    batch_.AddLabel(tsdb::kMetricName, name);
    for (const LabelView& t : tags_) batch_.AddLabel(t.name, t.value);
    if (!CheckSeriesLimits(batch_, opts_.limits, report_)) return;
    AddExtraLabels(batch_, opts_);
    batch_.AddSample(ts, f.value);
  }
}

}  // namespace

void Parser::Parse(std::string_view body, const Options& options, const DecodeOptions& opts,
                   RowSink& sink, DecodeReport& report) {
  batch_.Clear();
  batch_.set_location_unit("line");
  LineParser lp(batch_, options, opts, report);
  uint32_t line_no = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    const char* nl =
        static_cast<const char*>(std::memchr(body.data() + pos, '\n', body.size() - pos));
    size_t end = nl ? static_cast<size_t>(nl - body.data()) : body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t b = 0;
    while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
    line.remove_prefix(b);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    lp.Line(line, line_no);
    MaybeFlush(batch_, opts, sink);
  }
  Flush(batch_, sink);
}

void ParseInfluxLines(std::string_view body, const Options& options, const DecodeOptions& opts,
                      RowSink& sink, DecodeReport& report) {
  Parser p;
  p.Parse(body, options, opts, sink, report);
}

}  // namespace kansoku::ingest::influx_line
