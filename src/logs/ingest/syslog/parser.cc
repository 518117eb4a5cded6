#include "logs/ingest/syslog/parser.h"

#include <algorithm>

#include <ctime>

namespace kansoku::logs::ingest::syslog {
namespace {

const char* kSeverity[] = {"emergency", "alert",  "critical", "error",
                           "warn",      "notice", "info",     "debug"};
const char* kFacility[] = {"kern",   "user",     "mail",    "daemon",       "auth",     "syslog",
                           "lpr",    "news",     "uucp",    "cron",         "authpriv", "ftp",
                           "ntp",    "security", "console", "solaris-cron", "local0",   "local1",
                           "local2", "local3",   "local4",  "local5",       "local6",   "local7"};

std::string_view NextToken(std::string_view s, size_t* pos) {
  if (*pos > s.size()) *pos = s.size();
  size_t b = *pos;
  while (*pos < s.size() && s[*pos] != ' ') ++*pos;
  std::string_view t = s.substr(b, *pos - b);
  if (*pos < s.size()) ++*pos;  // the space
  return t;
}

void Nil(std::string_view v, const char* name, LogRecord* r, bool label) {
  if (v.empty() || v == "-") return;
  (label ? r->labels : r->fields).push_back(KV{name, std::string(v)});
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "Nov 26 05:47:34" or "Nov  6 05:47:34" at s; 15 bytes.
bool Bsd3164Time(std::string_view s, const Options& o, int64_t* ns) {
  static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':') return false;
  int mon = -1;
  for (int i = 0; i < 12; ++i)
    if (s.substr(0, 3) == kMon[i]) mon = i + 1;
  if (mon < 0) return false;
  auto dig = [&](size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!(s[4] == ' ' || dig(4)) || !dig(5) || !dig(7) || !dig(8) || !dig(10) || !dig(11) ||
      !dig(13) || !dig(14)) {
    return false;
  }
  int day = (s[4] == ' ' ? 0 : (s[4] - '0') * 10) + (s[5] - '0');
  int h = (s[7] - '0') * 10 + (s[8] - '0');
  int mi = (s[10] - '0') * 10 + (s[11] - '0');
  int se = (s[13] - '0') * 10 + (s[14] - '0');
  if (day < 1 || day > 31 || h > 23 || mi > 59 || se > 60) return false;
  time_t now_s = static_cast<time_t>(o.now_ns / 1000000000LL);
  struct tm tm;
  gmtime_r(&now_s, &tm);
  int64_t best = 0;
  int64_t best_diff = INT64_MAX;
  for (int y = tm.tm_year + 1900 - 1; y <= tm.tm_year + 1900 + 1; ++y) {
    int64_t secs = DaysFromCivil(y, mon, day) * 86400 + h * 3600 + mi * 60 + se - o.tz_offset_s;
    int64_t diff = secs - now_s;
    if (diff < 0) diff = -diff;
    if (diff < best_diff) {
      best_diff = diff;
      best = secs;
    }
  }
  *ns = best * 1000000000LL;
  return true;
}

bool ParseSd(std::string_view s, size_t* pos, LogRecord* r, std::string* why) {
  if (*pos < s.size() && s[*pos] == '-') {
    ++*pos;
    return true;
  }
  std::string ids;
  while (*pos < s.size() && s[*pos] == '[') {
    ++*pos;
    size_t b = *pos;
    while (*pos < s.size() && s[*pos] != ' ' && s[*pos] != ']') ++*pos;
    std::string id(s.substr(b, *pos - b));
    if (id.empty()) {
      *why = "empty SD-ID";
      return false;
    }
    if (!ids.empty()) ids += ',';
    ids += id;
    while (*pos < s.size() && s[*pos] == ' ') {
      ++*pos;
      size_t nb = *pos;
      while (*pos < s.size() && s[*pos] != '=' && s[*pos] != ']' && s[*pos] != ' ') ++*pos;
      std::string name(s.substr(nb, *pos - nb));
      if (*pos + 1 >= s.size() || s[*pos] != '=' || s[*pos + 1] != '"' || name.empty()) {
        *why = "bad SD-PARAM in [" + id + "]";
        return false;
      }
      *pos += 2;
      std::string v;
      while (*pos < s.size() && s[*pos] != '"') {
        if (s[*pos] == '\\' && *pos + 1 < s.size() &&
            (s[*pos + 1] == '"' || s[*pos + 1] == '\\' || s[*pos + 1] == ']')) {
          ++*pos;
        }
        v += s[(*pos)++];
      }
      if (*pos >= s.size()) {
        *why = "unterminated SD-PARAM value in [" + id + "]";
        return false;
      }
      ++*pos;
      bool dup = false;
      for (const auto& f : r->fields) dup |= f.name == name;
      if (!dup) r->fields.push_back(KV{std::move(name), std::move(v)});
    }
    if (*pos >= s.size() || s[*pos] != ']') {
      *why = "unterminated SD-ELEMENT [" + id + "]";
      return false;
    }
    ++*pos;
  }
  if (!ids.empty()) r->fields.push_back(KV{"sd_ids", ids});
  return true;
}

}  // namespace

bool Parse(std::string_view msg, const Options& o, LogRecord* rec) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r' || msg.back() == '\0')) {
    msg.remove_suffix(1);
  }
  std::string peer_host = o.peer.substr(0, o.peer.rfind(':'));
  if (!peer_host.empty() && peer_host.front() == '[')
    peer_host = peer_host.substr(1, peer_host.size() - 2);
  auto fail = [&](const std::string& why) {
    *rec = LogRecord();
    rec->msg.assign(msg);
    rec->labels = {{"source", o.source}, {"host", peer_host}};
    rec->SetParseError(why);
    return false;
  };
  size_t pos = 0;
  if (msg.size() < 3 || msg[0] != '<') return fail("no <PRI> at the start");
  int pri = 0;
  pos = 1;
  while (pos < msg.size() && pos < 5 && msg[pos] >= '0' && msg[pos] <= '9') {
    pri = pri * 10 + (msg[pos] - '0');
    ++pos;
  }
  if (pos == 1 || pos >= msg.size() || msg[pos] != '>' || pri > 191) return fail("invalid <PRI>");
  ++pos;
  LogRecord r;
  r.labels.push_back(KV{"level", kSeverity[pri & 7]});
  r.labels.push_back(KV{"source", o.source});
  r.fields.push_back(KV{"facility", kFacility[pri >> 3]});
  std::string_view rest = msg.substr(pos);
  if (rest.size() >= 2 && rest[0] == '1' && rest[1] == ' ') {
    // RFC 5424.
    size_t p = 2;
    std::string_view ts = NextToken(rest, &p);
    std::string_view host = NextToken(rest, &p);
    std::string_view app = NextToken(rest, &p);
    std::string_view procid = NextToken(rest, &p);
    std::string_view msgid = NextToken(rest, &p);
    if (msgid.empty() && p >= rest.size()) return fail("truncated RFC 5424 header");
    if (ts != "-") {
      if (!ParseRfc3339Nanos(ts, &r.ts_ns)) return fail("cannot parse RFC 5424 timestamp");
    }
    Nil(host, "host", &r, true);
    Nil(app, "service", &r, true);
    Nil(procid, "procid", &r, false);
    Nil(msgid, "msgid", &r, false);
    std::string why;
    if (!ParseSd(rest, &p, &r, &why)) return fail(why);
    if (p < rest.size() && rest[p] == ' ') ++p;
    std::string_view m = rest.substr(std::min(p, rest.size()));
    if (m.size() >= 3 && m.substr(0, 3) == "\xEF\xBB\xBF") m.remove_prefix(3);
    r.msg.assign(m);
  } else {
    // RFC 3164.
    size_t p = 0;
    if (Bsd3164Time(rest, o, &r.ts_ns)) {
      p = std::min<size_t>(16, rest.size());  // "Mmm dd hh:mm:ss " (the space may be missing)
    } else {
      size_t sp = rest.find(' ');
      int64_t ns;
      if (sp != std::string_view::npos && ParseRfc3339Nanos(rest.substr(0, sp), &ns)) {
        r.ts_ns = ns;
        p = sp + 1;
      } else {
        return fail("no RFC 3164 or RFC 5424 timestamp after <PRI>");
      }
    }
    std::string_view host = NextToken(rest, &p);
    Nil(host, "host", &r, true);
    // TAG[PID]: or TAG: or TAG[PID] (no colon).
    size_t tb = p;
    while (p < rest.size() && rest[p] != '[' && rest[p] != ':' && rest[p] != ' ') ++p;
    std::string_view tag = rest.substr(tb, p - tb);
    if (p < rest.size() && rest[p] == '[') {
      size_t close = rest.find(']', p);
      if (close != std::string_view::npos) {
        Nil(rest.substr(p + 1, close - p - 1), "procid", &r, false);
        p = close + 1;
      }
    }
    if (p < rest.size() && rest[p] == ':') ++p;
    if (p < rest.size() && rest[p] == ' ') ++p;
    Nil(tag, "service", &r, true);
    r.msg.assign(rest.substr(std::min(p, rest.size())));
  }
  bool have_host = false;
  for (const auto& l : r.labels) have_host |= l.name == "host";
  if (!have_host && !peer_host.empty()) r.labels.push_back(KV{"host", peer_host});
  *rec = std::move(r);
  return true;
}

bool IsContinuation(std::string_view m) {
  return (!m.empty() && m[0] == '\t') || m.substr(0, 10) == "Caused by:" ||
         m.substr(0, 4) == "... ";
}

std::string MultilineJoiner::Key(const LogRecord& r) {
  std::string k = StreamKey(r.labels);
  k += r.Field("procid");
  return k;
}

void MultilineJoiner::Add(LogBatch&& batch) {
  LogBatch ready;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto& r : batch) {
      std::string key = Key(r);
      auto it = pending_.find(key);
      if (it != pending_.end() && IsContinuation(r.msg) && !(r.flags & kFlagParseError)) {
        it->second.rec.msg += '\n';
        it->second.rec.msg += r.msg;
        continue;
      }
      if (it != pending_.end()) {
        ready.push_back(std::move(it->second.rec));
        it->second = Pending{std::move(r), now};
      } else {
        pending_.emplace(std::move(key), Pending{std::move(r), now});
      }
    }
  }
  if (!ready.empty()) sink_(std::move(ready));
}

void MultilineJoiner::Flush(std::chrono::milliseconds max_age) {
  LogBatch ready;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (max_age.count() == 0 || now - it->second.at >= max_age) {
        ready.push_back(std::move(it->second.rec));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!ready.empty()) sink_(std::move(ready));
}

int FuzzSyslog(const uint8_t* data, size_t size) {
  Options o;
  o.now_ns = 1795672203LL * 1000000000LL;
  o.peer = "127.0.0.1:514";
  LogRecord r;
  Parse(std::string_view(reinterpret_cast<const char*>(data), size), o, &r);
  return 0;
}

}  // namespace kansoku::logs::ingest::syslog
