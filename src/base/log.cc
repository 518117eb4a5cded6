#include "base/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/json.h"

namespace kansoku::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kLogfmt)};
std::mutex g_mu;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void AppendTimestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // sized for any int fields, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

bool NeedsQuote(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f)
      return true;
  }
  return false;
}

void AppendLogfmt(std::string& out, std::string_view key, std::string_view v, bool quoted) {
  out += ' ';
  out += key;
  out += '=';
  if (quoted && NeedsQuote(v)) {
    out += '"';
    AppendJsonEscaped(out, v);
    out += '"';
  } else {
    out += v;
  }
}

void AppendJson(std::string& out, std::string_view key, std::string_view v, bool quoted) {
  out += ",\"";
  AppendJsonEscaped(out, key);
  out += "\":";
  if (quoted) {
    out += '"';
    AppendJsonEscaped(out, v);
    out += '"';
  } else {
    out += v;
  }
}
}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  value = buf;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
void SetFormat(Format format) { g_format.store(static_cast<int>(format)); }
bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool ParseLevel(std::string_view s, Level* out) {
  if (s == "debug")
    *out = Level::kDebug;
  else if (s == "info")
    *out = Level::kInfo;
  else if (s == "warn" || s == "warning")
    *out = Level::kWarn;
  else if (s == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(128);
  if (static_cast<Format>(g_format.load()) == Format::kJson) {
    line += "{\"ts\":\"";
    AppendTimestamp(line);
    line += "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":\"";
    AppendJsonEscaped(line, msg);
    line += '"';
    for (const Field& f : fields) AppendJson(line, f.key, f.value, f.quoted);
    line += "}\n";
  } else {
    line += "ts=";
    AppendTimestamp(line);
    line += " level=";
    line += LevelName(level);
    AppendLogfmt(line, "msg", msg, true);
    for (const Field& f : fields) AppendLogfmt(line, f.key, f.value, f.quoted);
    line += '\n';
  }
  std::lock_guard<std::mutex> lock(g_mu);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(2, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

bool RateLimited::Allow() {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now >= next && next_ms_.compare_exchange_strong(next, now + interval_ms_)) return true;
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace kansoku::log
