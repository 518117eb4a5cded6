#include "errors/event.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <ctime>

namespace kansoku::errors {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string Str(element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
  }
  bool b;
  if (e.get_bool().get(b) == simdjson::SUCCESS) return b ? "true" : "false";
  return "";
}

std::string Field(element obj, std::string_view key) {
  element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return "";
  return Str(v);
}

void ReadFrames(element st, std::vector<Frame>* out) {
  array frames;
  if (st["frames"].get_array().get(frames) != simdjson::SUCCESS) return;
  for (element f : frames) {
    if (!f.is_object()) continue;
    Frame fr;
    fr.module = Field(f, "module");
    fr.filename = Field(f, "filename");
    fr.abs_path = Field(f, "abs_path");
    fr.function = Field(f, "function");
    fr.context_line = Field(f, "context_line");
    int64_t ln;
    if (f["lineno"].get_int64().get(ln) == simdjson::SUCCESS) fr.lineno = ln;
    bool in_app;
    if (f["in_app"].get_bool().get(in_app) == simdjson::SUCCESS) fr.in_app = in_app ? 1 : 0;
    out->push_back(std::move(fr));
    if (out->size() >= 500) break;  // Sentry trims long stacks too
  }
}

void ReadException(element ex, Event* out) {
  if (!ex.is_object()) return;
  ExceptionInfo info;
  info.type = Field(ex, "type");
  info.value = Field(ex, "value");
  info.module = Field(ex, "module");
  bool synthetic = false;
  if (ex["mechanism"]["synthetic"].get_bool().get(synthetic) == simdjson::SUCCESS) {
    info.synthetic = synthetic;
  }
  element st;
  if (ex["stacktrace"].get(st) == simdjson::SUCCESS && st.is_object()) ReadFrames(st, &info.frames);
  out->exceptions.push_back(std::move(info));
}

int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::string Event::UserKey() const {
  if (!user_id.empty()) return "id:" + user_id;
  if (!user_email.empty()) return "email:" + user_email;
  if (!user_username.empty()) return "username:" + user_username;
  if (!user_ip.empty()) return "ip:" + user_ip;
  return "";
}

double ParseSentryTimestamp(std::string_view s) {
  // RFC 3339: 2026-11-26T05:43:38.261Z or with +00:00; numeric strings are seconds.
  if (s.empty()) return 0;
  if (s.size() < 19 || s[4] != '-') {
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    return r.ec == std::errc() ? d : 0;
  }
  int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2), h = Digits(s, 11, 2),
      mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      se < 0 || se > 60) {
    return 0;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  double t = static_cast<double>(timegm(&tm));
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    double scale = 0.1;
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      t += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  if (pos + 6 <= s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = Digits(s, pos + 1, 2), om = Digits(s, pos + 4, 2);
    if (oh >= 0 && om >= 0) t -= (s[pos] == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
  }
  return t;
}

std::string NormalizeEventId(std::string_view id) {
  std::string out;
  out.reserve(32);
  for (char c : id) {
    if (c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out.size() == 32 ? out : "";
}

static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);

Status ParseEvent(std::string_view json, Event* out, bool padded) {
  *out = Event{};
  thread_local simdjson::dom::parser parser;
  element doc;
  auto err = parser.parse(json.data(), json.size(), !padded).get(doc);
  if (err != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("event is not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  if (!doc.is_object()) return Status::InvalidArgument("event must be a JSON object");
  out->event_id = NormalizeEventId(Field(doc, "event_id"));
  element ts;
  if (doc["timestamp"].get(ts) == simdjson::SUCCESS) {
    double d;
    std::string_view s;
    if (ts.get_double().get(d) == simdjson::SUCCESS) {
      out->timestamp = d;
    } else if (ts.get_string().get(s) == simdjson::SUCCESS) {
      out->timestamp = ParseSentryTimestamp(s);
    }
  }
  out->level = Field(doc, "level");
  if (out->level.empty()) out->level = "error";
  out->platform = Field(doc, "platform");
  out->logger = Field(doc, "logger");
  out->transaction = Field(doc, "transaction");
  out->release = Field(doc, "release");
  out->environment = Field(doc, "environment");
  out->server_name = Field(doc, "server_name");

  // message: a string, or {message, formatted, params}; logentry likewise.
  for (const char* key : {"logentry", "message"}) {
    element m;
    if (doc[key].get(m) != simdjson::SUCCESS) continue;
    if (m.is_string()) {
      if (out->message.empty()) out->message = Str(m);
    } else if (m.is_object()) {
      std::string formatted = Field(m, "formatted");
      std::string tmpl = Field(m, "message");
      array params;
      bool has_params =
          m["params"].get_array().get(params) == simdjson::SUCCESS && params.size() > 0;
      object po;
      if (!has_params && m["params"].get_object().get(po) == simdjson::SUCCESS) {
        has_params = po.size() > 0;
      }
      if (out->message.empty()) out->message = !formatted.empty() ? formatted : tmpl;
      if (has_params && out->message_template.empty()) out->message_template = tmpl;
    }
  }

  element exc;
  if (doc["exception"].get(exc) == simdjson::SUCCESS) {
    array values;
    bool ok = exc.is_array() ? exc.get_array().get(values) == simdjson::SUCCESS
                             : exc["values"].get_array().get(values) == simdjson::SUCCESS;
    size_t n = 0;
    if (ok) {
      for (element ex : values) {
        ReadException(ex, out);
        if (++n >= 20) break;
      }
    }
  }
  element st;
  if (doc["stacktrace"].get(st) == simdjson::SUCCESS && st.is_object()) {
    ReadFrames(st, &out->frames);
  } else {
    array threads;
    element th;
    if (doc["threads"].get(th) == simdjson::SUCCESS &&
        (th.is_array() ? th.get_array().get(threads) == simdjson::SUCCESS
                       : th["values"].get_array().get(threads) == simdjson::SUCCESS)) {
      for (element t : threads) {
        element tst;
        if (t.is_object() && t["stacktrace"].get(tst) == simdjson::SUCCESS && tst.is_object()) {
          ReadFrames(tst, &out->frames);
          if (!out->frames.empty()) break;
        }
      }
    }
  }

  array fp;
  if (doc["fingerprint"].get_array().get(fp) == simdjson::SUCCESS) {
    for (element f : fp) {
      std::string s = Str(f);
      if (!s.empty()) out->fingerprint.push_back(std::move(s));
    }
  }
  element tags;
  if (doc["tags"].get(tags) == simdjson::SUCCESS) {
    if (tags.is_object()) {
      for (auto kv : tags.get_object()) {
        out->tags.emplace_back(std::string(kv.key), Str(kv.value));
      }
    } else if (tags.is_array()) {
      for (element pair : tags.get_array()) {
        array p;
        if (pair.get_array().get(p) == simdjson::SUCCESS && p.size() == 2) {
          out->tags.emplace_back(Str(p.at(0).value_unsafe()), Str(p.at(1).value_unsafe()));
        }
      }
    }
  }
  element user;
  if (doc["user"].get(user) == simdjson::SUCCESS && user.is_object()) {
    out->user_id = Field(user, "id");
    out->user_email = Field(user, "email");
    out->user_username = Field(user, "username");
    out->user_ip = Field(user, "ip_address");
  }
  return Status::Ok();
}

}  // namespace kansoku::errors
