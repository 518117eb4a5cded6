#include "alert/alert.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace kansoku::alert {

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "inactive";
}

uint64_t Fingerprint(const tsdb::Labels& labels) { return labels.Hash(); }

std::string FingerprintHex(uint64_t fp) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fp));
  return buf;
}

std::string FormatRfc3339(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int frac = static_cast<int>(ms - secs * 1000);
  time_t tt = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac) {
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", frac);
  } else {
    std::snprintf(buf + n, sizeof buf - n, "Z");
  }
  return buf;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument("cannot parse time \"" + std::string(s) +
                                   "\": want RFC 3339 like 2026-11-26T07:00:00Z");
  };
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6 &&
      std::sscanf(str.c_str(), "%4d-%2d-%2dt%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6) {
    return bad();
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t frac_ms = 0;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return bad();
    for (int k = digits; k < 3; ++k) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return bad();
    offset_s = (oh * 3600 + om * 60) * (str[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad();
  }
  if (i != str.size()) return bad();
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t t = static_cast<int64_t>(timegm(&tm));
  return (t - offset_s) * 1000 + frac_ms;
}

Result<tsdb::Matcher> ParseMatcher(std::string_view s) {
  std::string in(s);
  size_t i = 0;
  while (i < in.size() && (std::isalnum(static_cast<unsigned char>(in[i])) || in[i] == '_')) ++i;
  std::string name = in.substr(0, i);
  size_t j = i;
  while (j < in.size() && in[j] == ' ') ++j;
  tsdb::MatchType type;
  if (in.compare(j, 2, "=~") == 0) {
    type = tsdb::MatchType::kRegexMatch;
    j += 2;
  } else if (in.compare(j, 2, "!~") == 0) {
    type = tsdb::MatchType::kRegexNoMatch;
    j += 2;
  } else if (in.compare(j, 2, "!=") == 0) {
    type = tsdb::MatchType::kNotEqual;
    j += 2;
  } else if (in.compare(j, 1, "=") == 0) {
    type = tsdb::MatchType::kEqual;
    j += 1;
  } else {
    return Status::InvalidArgument("cannot parse matcher \"" + in +
                                   "\": want name=\"value\", name!=\"value\", name=~\"re\" or "
                                   "name!~\"re\"");
  }
  if (name.empty())
    return Status::InvalidArgument("cannot parse matcher \"" + in + "\": no label name");
  while (j < in.size() && in[j] == ' ') ++j;
  std::string value = in.substr(j);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    std::string unq;
    for (size_t k = 1; k + 1 < value.size(); ++k) {
      if (value[k] == '\\' && k + 2 < value.size()) {
        ++k;
        unq += value[k] == 'n' ? '\n' : value[k];
        continue;
      }
      unq += value[k];
    }
    value = unq;
  }
  auto m = tsdb::Matcher::Create(type, name, value);
  if (!m.ok())
    return Status::InvalidArgument("cannot parse matcher \"" + in + "\": " + m.status().message());
  return m;
}

bool MatchesAll(const std::vector<tsdb::Matcher>& matchers, const tsdb::Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

}  // namespace kansoku::alert
