#pragma once
// JSON lines (NDJSON) log decoder: one JSON object per line. Also decodes the JSON event objects
// of logstash-logback-encoder, rsyslog's JSON template and Elasticsearch _bulk documents.
//
// Field mapping (first present key wins):
//   message: options.msg_fields, default _msg, message, msg, log
//   time:    options.time_fields, default _time, @timestamp, timestamp, ts, time
//            (RFC 3339 string, or a number of s / ms / us / ns since the epoch, told apart by
//            magnitude); missing -> 0 (the store uses the arrival time)
//   labels:  service, host, level, source stay keys; the store turns them into stream labels
//   other keys become fields; nested objects are flattened with '.' ("http.status"); arrays and
//   other non-strings keep their JSON text. A record without a message key gets the whole line
//   as its message.
// A line that is not a JSON object becomes a record flagged kFlagParseError with the raw line as
// message. Empty lines are skipped.
// Thread safety: Parser is not thread-safe (it reuses a simdjson parser); use one per thread.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logs/ingest/report.h"
#include "logs/record.h"
#include "logs/wal.h"

namespace kansoku::logs::ingest::jsonline {

struct Options {
  std::vector<std::string> msg_fields = {"_msg", "message", "msg", "log"};
  std::vector<std::string> time_fields = {"_time", "@timestamp", "timestamp", "ts", "time"};
  std::vector<KV> extra_labels;            // added to every record (e.g. source=jsonline)
  std::vector<std::string> stream_fields;  // keys to make labels for this request
};

class Parser {
 public:
  Parser();
  ~Parser();
  // Decodes every line of body, appending records to out.
  void ParseLines(std::string_view body, const Options& o, LogBatch* out, Report* report);
  // Same records as ParseLines, but *out is replaced, reusing the records already there: their
  // message strings and label / field vectors keep their capacity, so a thread that decodes
  // request after request into one batch allocates only for values that outgrow it.
  void ParseLinesReusing(std::string_view body, const Options& o, LogBatch* out, Report* report);
  // Same records as ParseLines, added to a batch that the store's BatchBuilder encodes as they
  // come (no LogRecords; out was readied by Store::StartBatch).
  void ParseLinesInto(std::string_view body, const Options& o, BatchBuilder* out, Report* report);
  // Decodes one JSON document (one line / one _bulk source). False (and a flagged record in
  // *rec) when it is not a JSON object; *why says why.
  bool ParseObject(std::string_view doc, const Options& o, LogRecord* rec, std::string* why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Converts a JSON number timestamp to ns by magnitude (s, ms, us or ns).
int64_t NumberToNanos(double v);

int FuzzJsonLines(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::ingest::jsonline
