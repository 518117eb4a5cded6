#pragma once
// Java logging (logback) records as Sentry error events (docs/design/errors.md section 8).
//
// ParseJavaStackTrace reads a Java stack trace as Throwable.printStackTrace and logback print it
// (logstash-logback-encoder's `stack_trace` field; logback SyslogAppender's one-line-per-datagram
// form once joined): `Type: message`, `\tat pkg.Class.method(File.java:12)`, `... 3 more`,
// `Caused by: ...`, `Suppressed: ...` (skipped), `Wrapped by: ...` (root-cause-first output).
// LogbackEventJson turns one record into the Sentry event JSON an SDK would send, so the event
// goes through the same ParseEvent + GroupEvent path and groups like SDK events.
//
// Errors: none; text that is not a stack trace yields no exceptions (the caller then skips it).
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors/event.h"

namespace kansoku::errors {

// Which frames are the application's: a frame is in-app when its class starts with one of
// `include` (package prefixes such as "com.example."); with no include list, every frame whose
// class does not start with an `exclude` prefix (default: the JDK and logging libraries) is.
struct JavaInAppRules {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool InApp(std::string_view class_name) const;
  static const std::vector<std::string>& DefaultExcludes();
};

// Exceptions in Sentry's order: the root cause first, the exception that was thrown last (as
// an SDK sends exception.values); each with frames oldest call first. type is the simple class
// name, module its package ("java.lang"), as Sentry's Java SDK reports them.
std::vector<ExceptionInfo> ParseJavaStackTrace(std::string_view text, const JavaInAppRules& rules);

// One logback record, whatever shipper it came through.
struct LogbackRecord {
  int64_t ts_ns = 0;
  std::string level;    // "error", "fatal", ...
  std::string message;  // the formatted message, without the stack trace
  std::string stack_trace;
  std::string logger, thread, host, service, environment, release, trace_id;
  std::string source;                                    // "json_tcp", "syslog": a tag
  std::vector<std::pair<std::string, std::string>> mdc;  // other fields: contexts.MDC
};

// The Sentry event JSON for rec (platform "java", logentry, exception values with frames,
// tags logger/thread/source/service, contexts MDC and trace). event_id is derived from the
// record's content (a re-sent record gets the same id). Returns "" when the stack trace holds
// no exception.
std::string LogbackEventJson(const LogbackRecord& rec, const JavaInAppRules& rules,
                             std::string* event_id);

// The syslog form: "[thread] com.example.Logger message" (logback's default suffix pattern) or
// "com.example.Logger message" -> logger and thread when the first words look like them; the
// rest is the message. Returns false (nothing changed) when no logger name is found.
bool SplitLogbackSyslogLine(std::string_view line, std::string* thread, std::string* logger,
                            std::string* message);

}  // namespace kansoku::errors
