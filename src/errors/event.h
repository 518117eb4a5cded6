#pragma once
// Reading a Sentry event (store body or envelope "event" item) into the fields grouping and the
// issue index need (docs/design/errors.md section 4). The raw JSON is kept by the caller as
// received; Event holds copies of the few fields it needs, so it outlives the parser.
//
// Errors: InvalidArgument ("event is not valid JSON: ...", "event must be a JSON object").
// Unknown or odd-typed fields are ignored, never an error (SDKs vary).
// Thread safety: ParseEvent uses a thread_local parser; Event is a plain value.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kansoku::errors {

struct Frame {
  std::string module, filename, abs_path, function, context_line;
  int64_t lineno = 0;
  int in_app = -1;  // -1 unknown, 0 false, 1 true
};

struct ExceptionInfo {
  std::string type, value, module;
  bool synthetic = false;
  std::vector<Frame> frames;  // oldest call first, as Sentry sends them
};

struct Event {
  std::string event_id;  // 32 lowercase hex, dashes removed; "" if absent
  double timestamp = 0;  // seconds since the epoch; 0 if absent
  std::string level;     // "error" if absent
  std::string platform, logger, transaction, release, environment, server_name;
  std::string message;           // formatted message (message / logentry.formatted / .message)
  std::string message_template;  // logentry.message when params are present
  std::vector<ExceptionInfo> exceptions;  // chain order as sent (innermost last)
  std::vector<Frame> frames;              // top-level stacktrace / first thread with frames
  std::vector<std::string> fingerprint;
  std::vector<std::pair<std::string, std::string>> tags;
  std::string user_id, user_email, user_username, user_ip;
  // A stable identity for "users affected": id, else email, else username, else ip; "" if none.
  std::string UserKey() const;
};

// padded: the kJsonPadding bytes past json's end are allocated, readable memory (their values do
// not matter); the parser then reads json in place instead of copying it.
inline constexpr size_t kJsonPadding = 64;
Status ParseEvent(std::string_view json, Event* out, bool padded = false);

// Normalises "2026-11-26T05:43:38.261Z" or a number into seconds; 0 on failure.
double ParseSentryTimestamp(std::string_view s);

// Lowercase 32-hex form of an event id ("b545698b-..." -> "b545698b..."); "" if not an id.
std::string NormalizeEventId(std::string_view id);

}  // namespace kansoku::errors
