#include "alert/cron.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace kansoku::alert {
namespace {

constexpr int64_t kMinuteMs = 60000;

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
int64_t Be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{Be32(p)} << 32) | Be32(p + 4));
}

bool ParseFixedOffset(std::string_view s, int64_t* out) {
  if (s.size() < 2 || (s[0] != '+' && s[0] != '-')) return false;
  std::string digits;
  for (char c : s.substr(1)) {
    if (c == ':') continue;
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    digits += c;
  }
  if (digits.size() != 2 && digits.size() != 4) return false;
  int h = std::stoi(digits.substr(0, 2));
  int m = digits.size() == 4 ? std::stoi(digits.substr(2, 2)) : 0;
  if (h > 14 || m > 59) return false;
  *out = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  return true;
}

// Field `i` of a crontab: fills `bits` with the allowed values in [lo, hi].
Status ParseField(std::string_view f, int lo, int hi, const char* const* names, int name_base,
                  const char* what, uint64_t* bits, bool* star) {
  *bits = 0;
  *star = f == "*" || f == "?";
  auto value = [&](std::string_view v, int* out) -> bool {
    if (v.empty()) return false;
    if (names) {
      std::string low = ToLower(v);
      for (int i = 0; names[i]; ++i) {
        if (low == names[i]) {
          *out = i + name_base;
          return true;
        }
      }
    }
    int n = 0;
    for (char c : v) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || n > 1000) return false;
      n = n * 10 + (c - '0');
    }
    *out = n;
    return true;
  };
  for (auto item : Split(f, ',')) {
    std::string_view range = item, step_s;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      step_s = item.substr(slash + 1);
    }
    int a = lo, b = hi, step = 1;
    if (!step_s.empty() || item.find('/') != std::string_view::npos) {
      if (!value(step_s, &step) || step < 1) {
        return Status::InvalidArgument(std::string(what) + ": bad step in \"" + std::string(item) +
                                       "\"");
      }
    }
    if (range != "*" && range != "?") {
      auto dash = range.find('-');
      if (dash == std::string_view::npos) {
        if (!value(range, &a)) {
          return Status::InvalidArgument(std::string(what) + ": bad value \"" + std::string(range) +
                                         "\"");
        }
        b = step_s.empty() ? a : hi;
      } else if (!value(range.substr(0, dash), &a) || !value(range.substr(dash + 1), &b)) {
        return Status::InvalidArgument(std::string(what) + ": bad range \"" + std::string(range) +
                                       "\"");
      }
    }
    if (a < lo || b > hi || a > b) {
      return Status::InvalidArgument(std::string(what) + ": \"" + std::string(item) +
                                     "\" is outside " + std::to_string(lo) + "-" +
                                     std::to_string(hi));
    }
    for (int v = a; v <= b; v += step) *bits |= uint64_t{1} << v;
  }
  return Status::Ok();
}

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                               "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

}  // namespace

Result<TimeZone> TimeZone::Load(std::string_view name) {
  TimeZone tz;
  if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "GMT" ||
      name == "Etc/GMT" || name == "utc") {
    return tz;
  }
  tz.name_ = std::string(name);
  if (ParseFixedOffset(name, &tz.fixed_)) return tz;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != '+') {
      return Status::InvalidArgument("timezone \"" + std::string(name) + "\": not a tz name");
    }
  }
  if (name.find("..") != std::string_view::npos || name[0] == '/') {
    return Status::InvalidArgument("timezone \"" + std::string(name) + "\": not a tz name");
  }
  std::ifstream f("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
  if (!f) return Status::NotFound("timezone \"" + std::string(name) + "\": unknown");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string data = ss.str();
  auto bad = [&] {
    return Status::InvalidArgument("timezone \"" + std::string(name) + "\": not a TZif file");
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  if (n < 44 || std::memcmp(p, "TZif", 4) != 0) return bad();
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = Be32(p + at + 20 + 4 * i);
  };
  uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  counts(0, c);
  size_t at = 44;
  int tsize = 4;
  if (p[4] >= '2') {  // skip the v1 block, use the 64-bit one
    size_t v1 = size_t{c[3]} * 5 + size_t{c[4]} * 6 + c[5] + size_t{c[2]} * 8 + c[1] + c[0];
    if (at + v1 + 44 > n || std::memcmp(p + at + v1, "TZif", 4) != 0) return bad();
    at += v1;
    counts(at, c);
    at += 44;
    tsize = 8;
  }
  size_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0 || at + timecnt * (tsize + 1) + typecnt * 6 > n) return bad();
  const unsigned char* times = p + at;
  const unsigned char* idx = times + timecnt * tsize;
  const unsigned char* types = idx + timecnt;
  auto offset_of = [&](size_t t) { return static_cast<int32_t>(Be32(types + 6 * t)); };
  tz.initial_ = offset_of(0);
  for (size_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= typecnt) return bad();
    tz.transitions_.push_back(tsize == 8 ? Be64(times + 8 * i)
                                         : static_cast<int32_t>(Be32(times + 4 * i)));
    tz.offsets_.push_back(offset_of(idx[i]));
  }
  return tz;
}

int64_t TimeZone::OffsetAt(int64_t t_s) const {
  if (transitions_.empty()) return fixed_ ? fixed_ : initial_;
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t_s);
  if (it == transitions_.begin()) return initial_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

Result<CronSchedule> CronSchedule::ParseCrontab(std::string_view expr) {
  std::string e(TrimSpace(expr));
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string fields_text = e;
  for (const auto& [m, v] : kMacros) {
    if (e == m) fields_text = v;
  }
  std::vector<std::string_view> f;
  for (auto part : Split(fields_text, ' ')) {
    if (!part.empty()) f.push_back(part);
  }
  if (f.size() != 5) {
    return Status::InvalidArgument("crontab \"" + e +
                                   "\": want 5 fields (minute hour day month "
                                   "weekday), got " +
                                   std::to_string(f.size()));
  }
  CronSchedule s;
  s.text_ = e;
  uint64_t b;
  bool star;
  auto wrap = [&](const Status& st) {
    return st.ok() ? st : Status::InvalidArgument("crontab \"" + e + "\": " + st.message());
  };
  KANSOKU_RETURN_IF_ERROR(wrap(ParseField(f[0], 0, 59, nullptr, 0, "minute", &s.minutes_, &star)));
  KANSOKU_RETURN_IF_ERROR(wrap(ParseField(f[1], 0, 23, nullptr, 0, "hour", &b, &star)));
  s.hours_ = static_cast<uint32_t>(b);
  KANSOKU_RETURN_IF_ERROR(wrap(ParseField(f[2], 1, 31, nullptr, 0, "day of month", &b, &star)));
  s.days_ = static_cast<uint32_t>(b);
  s.dom_star_ = star;
  KANSOKU_RETURN_IF_ERROR(wrap(ParseField(f[3], 1, 12, kMonths, 1, "month", &b, &star)));
  s.months_ = static_cast<uint32_t>(b);
  KANSOKU_RETURN_IF_ERROR(wrap(ParseField(f[4], 0, 7, kDays, 0, "day of week", &b, &star)));
  if (b & (1u << 7)) b |= 1;  // 7 = Sunday
  s.weekdays_ = static_cast<uint8_t>(b & 0x7f);
  s.dow_star_ = star;
  return s;
}

Result<CronSchedule> CronSchedule::Every(int64_t interval_ms) {
  if (interval_ms <= 0) return Status::InvalidArgument("interval must be positive");
  CronSchedule s;
  s.interval_ms_ = interval_ms;
  s.text_ = "@every " + std::to_string(interval_ms) + "ms";
  return s;
}

Result<CronSchedule> CronSchedule::SentryInterval(int64_t value, std::string_view unit) {
  static const std::pair<const char*, int64_t> kUnits[] = {{"minute", kMinuteMs},
                                                           {"hour", 60 * kMinuteMs},
                                                           {"day", 1440 * kMinuteMs},
                                                           {"week", 7 * 1440 * kMinuteMs},
                                                           {"month", 30 * 1440 * kMinuteMs},
                                                           {"year", 365 * 1440 * kMinuteMs}};
  if (value <= 0 || value > 100000) {
    return Status::InvalidArgument("interval value must be between 1 and 100000");
  }
  for (const auto& [u, ms] : kUnits) {
    if (unit == u) return Every(value * ms);
  }
  return Status::InvalidArgument("interval unit \"" + std::string(unit) +
                                 "\": want minute, hour, day, week, month or year");
}

Result<CronSchedule> CronSchedule::Parse(std::string_view text) {
  std::string_view t = TrimSpace(text);
  if (t.rfind("@every ", 0) == 0) {
    auto ms = ParseDurationMs(TrimSpace(t.substr(7)));
    if (!ms.ok())
      return Status::InvalidArgument("schedule \"" + std::string(t) +
                                     "\": " + ms.status().message());
    return Every(*ms);
  }
  return ParseCrontab(t);
}

int64_t CronSchedule::NextAfter(int64_t t_ms, const TimeZone& tz) const {
  if (interval_ms_ > 0) return t_ms + interval_ms_;
  int64_t s = (t_ms / kMinuteMs + 1) * 60;  // next whole minute, unix seconds
  if (t_ms < 0) s = (t_ms / kMinuteMs) * 60;
  const int64_t limit = s + int64_t{5} * 366 * 86400;
  while (s < limit) {
    int64_t local = s + tz.OffsetAt(s);
    time_t lt = static_cast<time_t>(local);
    struct tm tm;
    gmtime_r(&lt, &tm);
    bool month_ok = months_ & (1u << (tm.tm_mon + 1));
    bool dom_ok = days_ & (1u << tm.tm_mday);
    bool dow_ok = weekdays_ & (1u << tm.tm_wday);
    bool day_ok = dom_star_ || dow_star_ ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
    if (!month_ok || !day_ok) {
      s += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
      continue;
    }
    if (!(hours_ & (1u << tm.tm_hour))) {
      s += 3600 - (tm.tm_min * 60 + tm.tm_sec);
      continue;
    }
    if (!(minutes_ & (uint64_t{1} << tm.tm_min))) {
      s += 60 - tm.tm_sec;
      continue;
    }
    return s * 1000;
  }
  return -1;
}

}  // namespace kansoku::alert
