#include "logs/record.h"

#include <cstdint>

#include <cctype>
#include <cstdio>
#include <ctime>

namespace kansoku::logs {

void LogRecord::SetParseError(std::string_view why) {
  flags |= kFlagParseError;
  for (auto& f : fields) {
    if (f.name == "_parse_error") {
      f.value = std::string(why);
      return;
    }
  }
  fields.push_back(KV{"_parse_error", std::string(why)});
}

std::string_view LogRecord::Field(std::string_view name) const {
  for (const auto& f : fields)
    if (f.name == name) return f.value;
  return {};
}

std::string StreamKey(const std::vector<KV>& sorted_labels) {
  std::string k = "{";
  for (size_t i = 0; i < sorted_labels.size(); ++i) {
    if (i) k += ',';
    k += sorted_labels[i].name;
    k += "=\"";
    for (char c : sorted_labels[i].value) {
      if (c == '"' || c == '\\') k += '\\';
      if (c == '\n') {
        k += "\\n";
        continue;
      }
      k += c;
    }
    k += '"';
  }
  k += '}';
  return k;
}

std::string NormalizeLevel(std::string_view level) {
  std::string l;
  l.reserve(level.size());
  for (char c : level) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l.empty()) return l;
  struct Alias {
    const char* from;
    const char* to;
  };
  static const Alias kAliases[] = {
      {"trace", "trace"},
      {"t", "trace"},
      {"debug", "debug"},
      {"d", "debug"},
      {"dbg", "debug"},
      {"info", "info"},
      {"i", "info"},
      {"information", "info"},
      {"informational", "info"},
      {"notice", "notice"},
      {"warn", "warn"},
      {"warning", "warn"},
      {"w", "warn"},
      {"error", "error"},
      {"err", "error"},
      {"e", "error"},
      {"critical", "critical"},
      {"crit", "critical"},
      {"alert", "alert"},
      {"emergency", "emergency"},
      {"emerg", "emergency"},
      {"panic", "emergency"},
      {"fatal", "fatal"},
      {"f", "fatal"},
      {"severe", "error"},
  };
  for (const auto& a : kAliases)
    if (l == a.from) return a.to;
  return l;
}

namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}
}  // namespace

bool ParseRfc3339Nanos(std::string_view s, int64_t* ns) {
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return false;
    while (digits < 9) {
      frac *= 10;
      ++digits;
    }
  }
  int64_t offset_s = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om;
      if (!Digits(s, i + 1, 2, &oh)) return false;
      size_t j = i + 3;
      if (j < s.size() && s[j] == ':') ++j;
      if (!Digits(s, j, 2, &om)) return false;
      offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
      i = j + 2;
    } else {
      return false;
    }
  }
  if (i != s.size()) return false;
  // days from civil (Howard Hinnant's algorithm).
  int64_t yy = y - (mo <= 2);
  int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  // Nanoseconds since 1970 fit int64 only between the years 1677 and 2262.
  constexpr int64_t kMaxSecs = INT64_MAX / 1000000000LL - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) return false;
  *ns = secs * 1000000000LL + frac;
  return true;
}

std::string FormatRfc3339Nanos(int64_t ns) {
  int64_t secs = ns / 1000000000LL;
  int64_t frac = ns % 1000000000LL;
  if (frac < 0) {
    frac += 1000000000LL;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           static_cast<long long>(frac));
  return buf;
}

}  // namespace kansoku::logs
