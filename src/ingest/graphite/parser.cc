#include "ingest/graphite/parser.h"

#include <cmath>
#include <cstring>
#include <string>

namespace kansoku::ingest::graphite {

size_t CompleteLinesLength(std::string_view buf) {
  size_t p = buf.rfind('\n');
  return p == std::string_view::npos ? 0 : p + 1;
}

namespace {

inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string LineErr(uint32_t line) { return "line " + std::to_string(line) + ": "; }

std::string_view NextToken(std::string_view s, size_t* i) {
  while (*i < s.size() && IsSpace(s[*i])) ++*i;
  size_t b = *i;
  while (*i < s.size() && !IsSpace(s[*i])) ++*i;
  return s.substr(b, *i - b);
}

void ParseLine(std::string_view s, uint32_t line_no, RowBatch& batch, const DecodeOptions& opts,
               DecodeReport& report) {
  size_t i = 0;
  std::string_view path = NextToken(s, &i);
  std::string_view value_s = NextToken(s, &i);
  std::string_view ts_s = NextToken(s, &i);
  std::string_view extra = NextToken(s, &i);
  if (value_s.empty()) {
    report.Reject(RejectReason::kSyntax,
                  LineErr(line_no) + "cannot parse " + Quote(s) + ": missing value after path");
    return;
  }
  if (!extra.empty()) {
    report.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse " + Quote(s) +
                                             ": unexpected " + Quote(extra) +
                                             " after the timestamp");
    return;
  }
  std::string_view name = path.substr(0, path.find(';'));
  if (name.empty()) {
    report.Reject(RejectReason::kSyntax,
                  LineErr(line_no) + "cannot parse " + Quote(s) + ": empty metric path");
    return;
  }
  double value;
  if (!ParseFloat(value_s, &value)) {
    report.Reject(RejectReason::kBadValue, LineErr(line_no) + "cannot parse value " +
                                               Quote(value_s) + " of " + Quote(name) +
                                               ": not a number");
    return;
  }
  int64_t ts = opts.now_ms;
  if (!ts_s.empty() && ts_s != "-1") {
    double secs;
    if (!ParseFloat(ts_s, &secs) || !std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
      report.Reject(RejectReason::kBadTimestamp, LineErr(line_no) + "cannot parse timestamp " +
                                                     Quote(ts_s) + " of " + Quote(name) +
                                                     ": want seconds since the epoch");
      return;
    }
    ts = static_cast<int64_t>(std::llround(secs * 1000));
  }
  std::string why;
  if (!CheckTimestamp(ts, opts, &why)) {
    report.Reject(RejectReason::kTimestampOutOfRange,
                  LineErr(line_no) + "metric " + Quote(name) + ": " + why);
    return;
  }
  if (std::isnan(value)) {
    report.Skip();
    return;
  }
  StringArena& arena = batch.arena();
  batch.BeginSeries(line_no);
  batch.AddLabel(tsdb::kMetricName, SanitizeMetricName(name, arena));
  size_t p = name.size();
  while (p < path.size()) {
    ++p;  // ';'
    size_t e = path.find(';', p);
    if (e == std::string_view::npos) e = path.size();
    std::string_view tag = path.substr(p, e - p);
    p = e;
    size_t eq = tag.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == tag.size()) {
      batch.CancelSeries();
      report.Reject(RejectReason::kSyntax, LineErr(line_no) + "cannot parse tag " + Quote(tag) +
                                               " of " + Quote(name) +
                                               ": want name=value, both non-empty");
      return;
    }
    batch.AddLabel(SanitizeLabelName(tag.substr(0, eq), arena), tag.substr(eq + 1));
  }
  if (!CheckSeriesLimits(batch, opts.limits, report)) return;
  AddExtraLabels(batch, opts);
  batch.AddSample(ts, value);
}

}  // namespace

void Parser::Parse(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report) {
  batch_.Clear();
  batch_.set_location_unit("line");
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
    while (b < line.size() && IsSpace(line[b])) ++b;
    line.remove_prefix(b);
    if (line.empty()) continue;
    ParseLine(line, line_no, batch_, opts, report);
    MaybeFlush(batch_, opts, sink);
  }
  Flush(batch_, sink);
}

void ParseGraphite(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report) {
  Parser p;
  p.Parse(body, opts, sink, report);
}

}  // namespace kansoku::ingest::graphite
