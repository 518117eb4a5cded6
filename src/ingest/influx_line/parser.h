#pragma once
// InfluxDB line protocol parser -> RowBatch, for POST /write (1.x) and /api/v2/write.
//
//   measurement[,tag=v...] field=value[,field2=value2...] [timestamp]
//
// Mapping (as VictoriaMetrics does): each field becomes one series named
// "<measurement>_<field>" with the tags as labels; names are sanitized to Prometheus rules
// (bytes outside [a-zA-Z0-9_:] -> '_', leading digit -> '_' prefix); tag values are kept as
// they are. Field values: floats, "12i" (int), "12u" (uint), booleans t/T/true/True/TRUE and
// f/F/false/False/FALSE (1/0); quoted strings cannot be stored as samples and are skipped
// (counted in DecodeReport::values_skipped, not an error). Escapes: "\," "\ " in measurements;
// "\," "\=" "\ " in tag keys/values and field keys; "\"" "\\" in string values.
// Timestamp: integer in the request precision (default ns), converted to ms; absent -> now.
// As influxdb-client 1.6.7 sends: leading whitespace, blank lines and '#' comment lines
// (`# DML`, `# CONTEXT-DATABASE: db`) are ignored; CRLF is accepted.
// The handler should pass ?db=<name> as DecodeOptions::extra_labels {"db", name}
// (VictoriaMetrics' -influxDBLabel), which does not override a "db" tag.
//
// Errors are per line: a line with any bad part is rejected as a whole and counts as one
// rejected row ("line N: cannot parse ..."); parsing goes on with the next line.
//
// Ownership: views point into `body` or the batch arena; valid during RowSink::Consume only.
// Thread safety: a Parser is single-threaded; the free function is reentrant.
#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::influx_line {

enum class Precision : unsigned char {
  kNanoseconds,
  kMicroseconds,
  kMilliseconds,
  kSeconds,
  kMinutes,
  kHours
};

// From the `precision` query parameter: "" / "n" / "ns" (default), "u" / "us" / "µ", "ms", "s",
// "m", "h". InvalidArgument "cannot parse precision \"x\": ..." otherwise.
Result<Precision> ParsePrecision(std::string_view s);

struct Options {
  Precision precision = Precision::kNanoseconds;
  // VictoriaMetrics' -influxSkipSingleField: a line with a single field is named
  // "<measurement>" instead of "<measurement>_<field>".
  bool skip_single_field = false;
};

class Parser {
 public:
  void Parse(std::string_view body, const Options& options, const DecodeOptions& opts,
             RowSink& sink, DecodeReport& report);

 private:
  RowBatch batch_;
};

void ParseInfluxLines(std::string_view body, const Options& options, const DecodeOptions& opts,
                      RowSink& sink, DecodeReport& report);

}  // namespace kansoku::ingest::influx_line
