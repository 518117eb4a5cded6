#include "base/strings.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "base/clock.h"

namespace kansoku {

namespace {
class RealClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace

Clock& Clock::Real() {
  static RealClock clock;
  return clock;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<int64_t> ParseDurationMs(std::string_view s) {
  std::string_view in = TrimSpace(s);
  if (in.empty()) return Status::InvalidArgument("empty duration");
  bool all_digits = true;
  for (char c : in) all_digits &= std::isdigit(static_cast<unsigned char>(c)) != 0;
  if (all_digits) {
    int64_t v = 0;
    std::from_chars(in.data(), in.data() + in.size(), v);
    return v * 1000;
  }
  int64_t total = 0;
  std::string_view rest = in;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.'))
      ++i;
    if (i == 0) {
      return Status::InvalidArgument("cannot parse duration \"" + std::string(in) +
                                     "\": expected a number, e.g. 15s, 1m30s, 250ms");
    }
    double num = std::strtod(std::string(rest.substr(0, i)).c_str(), nullptr);
    rest.remove_prefix(i);
    size_t j = 0;
    while (j < rest.size() && std::isalpha(static_cast<unsigned char>(rest[j]))) ++j;
    std::string_view unit = rest.substr(0, j);
    rest.remove_prefix(j);
    double mult;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60000;
    else if (unit == "h")
      mult = 3600000;
    else if (unit == "d")
      mult = 86400000;
    else if (unit == "w")
      mult = 7 * 86400000.0;
    else
      return Status::InvalidArgument("cannot parse duration \"" + std::string(in) +
                                     "\": unknown unit \"" + std::string(unit) +
                                     "\" (use ms, s, m, h, d, w)");
    total += static_cast<int64_t>(num * mult);
  }
  return total;
}

Result<int64_t> ParseByteSize(std::string_view s) {
  std::string_view in = TrimSpace(s);
  size_t i = 0;
  while (i < in.size() && (std::isdigit(static_cast<unsigned char>(in[i])) || in[i] == '.')) ++i;
  if (i == 0) {
    return Status::InvalidArgument("cannot parse size \"" + std::string(in) +
                                   "\": expected a number, e.g. 512, 64KiB, 10MB");
  }
  double num = std::strtod(std::string(in.substr(0, i)).c_str(), nullptr);
  std::string unit = ToLower(TrimSpace(in.substr(i)));
  double mult;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kb" || unit == "k")
    mult = 1e3;
  else if (unit == "mb" || unit == "m")
    mult = 1e6;
  else if (unit == "gb" || unit == "g")
    mult = 1e9;
  else if (unit == "kib")
    mult = 1024;
  else if (unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else
    return Status::InvalidArgument("cannot parse size \"" + std::string(in) +
                                   "\": unknown unit (use B, KB, MB, GB, KiB, MiB, GiB)");
  return static_cast<int64_t>(num * mult);
}

std::string FormatByteSize(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else if (v == static_cast<int64_t>(v))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      auto hex = [](char h) {
        return std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10;
      };
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool QueryParam(std::string_view query, std::string_view key, std::string* value) {
  for (std::string_view part : Split(query, '&')) {
    size_t eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    if (UrlDecode(k) == key) {
      *value = eq == std::string_view::npos ? std::string() : UrlDecode(part.substr(eq + 1));
      return true;
    }
  }
  return false;
}

}  // namespace kansoku
