#pragma once
// Syslog decoder: RFC 5424 and RFC 3164 (BSD) messages, one message per call (the framing —
// UDP datagram, octet-counted or LF-framed TCP — is undone by net::Framer before this).
//
//   RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v"...] MSG
//   RFC 3164: <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG   (also without ':' as rsyslog's
//             traditional forward format sends it, and with an RFC 3339 timestamp)
// Mapping: labels host (HOSTNAME, else the peer address), service (APP-NAME / TAG), level (from
// the severity: emergency alert critical error warn notice info debug), source=syslog; fields
// facility, procid, msgid and every SD param by its name (first wins; the SD-ID of each in
// sd_ids). RFC 3164 has no year or zone: the year that puts the time closest to now, in
// Options::tz_offset_s (default UTC).
// A message without a valid <PRI> or with a broken header is kept whole as the message, flagged
// kFlagParseError with the reason; trailing CR/LF are stripped.
// Thread safety: pure functions; MultilineJoiner is thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "logs/record.h"

namespace kansoku::logs::ingest::syslog {

struct Options {
  int64_t now_ns = 0;   // for the RFC 3164 year and messages without a timestamp
  int tz_offset_s = 0;  // zone of RFC 3164 timestamps
  std::string peer;     // "127.0.0.1:5514": host when the message has none
  std::string source = "syslog";
};

// Returns true when parsed cleanly; false when *rec holds the raw message flagged with why.
bool Parse(std::string_view msg, const Options& o, LogRecord* rec);

// Joins continuation lines (a message starting with a TAB, "Caused by:" or "\tat ") from the
// same sender into the previous record: logback's SyslogAppender sends every stack-trace line
// as its own datagram. Records are released to the sink when a non-continuation record of the
// same sender arrives, or by Flush(max_age) for records older than max_age.
class MultilineJoiner {
 public:
  using Sink = std::function<void(LogBatch&&)>;
  explicit MultilineJoiner(Sink sink) : sink_(std::move(sink)) {}
  // Adds records of one listener batch; releases completed ones in one sink call.
  void Add(LogBatch&& batch);
  // Releases records held longer than max_age (call periodically) or all when max_age is 0.
  void Flush(std::chrono::milliseconds max_age);

 private:
  struct Pending {
    LogRecord rec;
    std::chrono::steady_clock::time_point at;
  };
  static std::string Key(const LogRecord& r);
  Sink sink_;
  std::mutex mu_;
  std::map<std::string, Pending> pending_;  // GUARDED_BY(mu_)
};

bool IsContinuation(std::string_view msg);

int FuzzSyslog(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::ingest::syslog
