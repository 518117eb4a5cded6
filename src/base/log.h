#pragma once
// Structured logging: one line per event, logfmt (default) or JSON, to stderr.
//
//   log::Info("listening", {{"addr", "127.0.0.1:9400"}, {"tls", false}});
//   -> ts=2026-11-26T07:30:00.123Z level=info msg=listening addr=127.0.0.1:9400 tls=false
//
// Thread-safe: each line is written with one write(2) under a mutex. Log once per event, never
// per sample or per request at the default level (info); per-request detail goes to debug.
// For repeated failures use RateLimited so a flood logs once per interval, with a count.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace kansoku::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
bool Enabled(Level level);
// Parses "debug|info|warn|error"; false if unknown.
bool ParseLevel(std::string_view s, Level* out);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned long long v)
      : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  std::string_view key;
  std::string value;
  bool quoted;  // string values may need quoting; numbers and bools never do
};

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

// RateLimited: Allow() is true at most once per interval; Suppressed() tells how many calls were
// refused since the last allowed one (then resets). Thread-safe, lock-free.
class RateLimited {
 public:
  explicit RateLimited(int64_t interval_ms = 10000) : interval_ms_(interval_ms) {}
  bool Allow();
  uint64_t TakeSuppressed() { return suppressed_.exchange(0); }

 private:
  int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace kansoku::log
