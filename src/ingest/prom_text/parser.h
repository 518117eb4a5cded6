#pragma once
// Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text parser -> RowBatch.
// Used by /api/v1/import/prometheus (VictoriaMetrics' import endpoint) and by the scraper.
//
// Accepted, per line (LF or CRLF; leading spaces/tabs and blank lines ignored):
//   # HELP <name> <text>          help text; escapes \\ and \n
//   # TYPE <name> <type>          counter gauge histogram summary untyped | OpenMetrics: unknown
//                                 gaugehistogram info stateset
//   # UNIT <name> <unit>          OpenMetrics
//   # EOF                         OpenMetrics end marker: the rest of the body is ignored
//   # anything else               a comment, ignored
//   name[{l="v",...}] value [timestamp] [# {exemplar labels} value [ts]]
// Label values unescape \\, \" and \n (other escapes are kept verbatim, as Prometheus' lexer
// does); a trailing comma in the label list is fine. UTF-8 names may be quoted:
// {"my.metric", "my.label"="v"}. Values: Go float syntax plus NaN, +Inf, -Inf. Timestamps:
// integer milliseconds (text 0.0.4) or float seconds (OpenMetrics); a missing timestamp is
// DecodeOptions::now_ms. Exemplars (OpenMetrics only; skipped in 0.0.4 text) go to the batch
// (RowBatch::AddExemplar) after their sample; their timestamp is in seconds and defaults to the
// sample's; a malformed exemplar rejects its line.
//
// Metadata: HELP/TYPE/UNIT lines for the same family are merged into one MetadataRow, emitted
// when another family starts or at the end.
//
// Errors are per line: the bad line is rejected in the report ("line N: cannot parse ...") and
// parsing goes on with the next line. There is no request-level error.
//
// Ownership: views point into `body` (or the batch arena) and are valid during
// RowSink::Consume only. Thread safety: a Parser reuses its buffers and is single-threaded.
#include <string_view>

#include "base/flat_map64.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::prom_text {

enum class Format : unsigned char {
  kPrometheusText,  // text/plain; version=0.0.4 (timestamps in ms)
  kOpenMetrics,     // application/openmetrics-text (timestamps in seconds, float)
};

// From a Content-Type header value: OpenMetrics when it names application/openmetrics-text.
Format FormatFromContentType(std::string_view content_type);

// With a sink that takes deferred labels (RowSink::TakesDeferredLabels), a Parser remembers the
// keys (`name{...}`) whose labels parsed and passed the limits, by hash, across Parse calls (up
// to kMaxKnownKeys, then it starts over): such a key is not parsed again but handed over deferred
// (SeriesRow::deferred), and the sink finds its series by the raw key, or calls Resolve. Only
// the value, timestamp and exemplar of its lines are parsed (and rejected as before).
class Parser : public LabelResolver {
 public:
  static constexpr size_t kMaxKnownKeys = 1 << 20;

  void Parse(std::string_view body, Format format, const DecodeOptions& opts, RowSink& sink,
             DecodeReport& report);
  // Parses a deferred series' labels (during the sink's Consume of a batch of this Parser). The
  // views are valid until the next Resolve call or the end of the Consume.
  bool Resolve(const SeriesRow& series, std::vector<LabelView>* out, RejectReason* reason,
               std::string* message) override;

 private:
  RowBatch batch_;
  FlatMap64 known_;   // hash(key, key context) ^ hash(limits) -> 1
  RowBatch scratch_;  // Resolve's
  // Of the Parse call in progress.
  Format format_ = Format::kPrometheusText;
  const DecodeOptions* opts_ = nullptr;
};

void ParsePromText(std::string_view body, Format format, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report);

}  // namespace kansoku::ingest::prom_text
