#include "errors/logback.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "base/json.h"

namespace kansoku::errors {
namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Leading blanks (tabs and spaces) of a line.
size_t Indent(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == '\t' || line[i] == ' ')) ++i;
  return i;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool IsJavaIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

// "java.lang.IllegalStateException" (dotted Java identifiers, at least one character).
bool IsClassName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (char c : s) {
    if (c != '.' && !IsJavaIdentChar(c)) return false;
  }
  return true;
}

// "java.lang.IllegalStateException: payment gateway timeout" -> exception; false when the line
// does not start with a class name.
bool ParseHeader(std::string_view line, ExceptionInfo* ex) {
  size_t colon = line.find(": ");
  std::string_view cls = colon == std::string_view::npos ? line : line.substr(0, colon);
  if (colon == std::string_view::npos && !line.empty() && line.back() == ':') {
    cls = line.substr(0, line.size() - 1);  // "Type:" with an empty message
  }
  if (!IsClassName(cls)) return false;
  size_t dot = cls.rfind('.');
  ex->type = std::string(dot == std::string_view::npos ? cls : cls.substr(dot + 1));
  ex->module = dot == std::string_view::npos ? "" : std::string(cls.substr(0, dot));
  ex->value = colon == std::string_view::npos ? "" : std::string(line.substr(colon + 2));
  return true;
}

// "at java.base/java.lang.Integer.parseInt(Integer.java:652) ~[na:na]" -> frame.
bool ParseFrame(std::string_view line, const JavaInAppRules& rules, Frame* f) {
  line.remove_prefix(3);  // "at "
  size_t open = line.find('(');
  if (open == std::string_view::npos || open == 0) return false;
  std::string_view where = line.substr(0, open);
  size_t close = line.find(')', open);
  std::string_view src =
      line.substr(open + 1, (close == std::string_view::npos ? line.size() : close) - open - 1);
  // Java 9+: "app//", "java.base/", "com.foo.loader/foo@9.0/" before the class.
  size_t slash = where.rfind('/');
  if (slash != std::string_view::npos) where.remove_prefix(slash + 1);
  size_t dot = where.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == where.size()) return false;
  f->module = std::string(where.substr(0, dot));
  f->function = std::string(where.substr(dot + 1));
  size_t colon = src.rfind(':');
  if (colon != std::string_view::npos) {
    f->filename = std::string(src.substr(0, colon));
    int64_t n = 0;
    bool ok = colon + 1 < src.size();
    for (char c : src.substr(colon + 1)) {
      if (c < '0' || c > '9' || n > 100000000) {
        ok = false;
        break;
      }
      n = n * 10 + (c - '0');
    }
    if (ok) f->lineno = n;
  } else if (src != "Native Method" && src != "Unknown Source") {
    f->filename = std::string(src);
  }
  f->in_app = rules.InApp(f->module) ? 1 : 0;
  return true;
}

void Field(std::string& out, bool* first, std::string_view key, std::string_view value) {
  if (!*first) out += ',';
  *first = false;
  AppendJsonString(out, key);
  out += ':';
  AppendJsonString(out, value);
}

}  // namespace

const std::vector<std::string>& JavaInAppRules::DefaultExcludes() {
  static const std::vector<std::string> v = {"java.",      "javax.",
                                             "jdk.",       "sun.",
                                             "com.sun.",   "kotlin.",
                                             "scala.",     "ch.qos.logback.",
                                             "org.slf4j.", "org.apache.log4j.",
                                             "org.junit.", "net.logstash."};
  return v;
}

bool JavaInAppRules::InApp(std::string_view class_name) const {
  if (!include.empty()) {
    return std::any_of(include.begin(), include.end(),
                       [&](const std::string& p) { return StartsWith(class_name, p); });
  }
  const auto& ex = exclude.empty() ? DefaultExcludes() : exclude;
  return std::none_of(ex.begin(), ex.end(),
                      [&](const std::string& p) { return StartsWith(class_name, p); });
}

std::vector<ExceptionInfo> ParseJavaStackTrace(std::string_view text, const JavaInAppRules& rules) {
  std::vector<ExceptionInfo> printed;  // in printed order
  bool root_first = false;             // "Wrapped by:" output prints the root cause first
  bool in_frames = false;              // frames seen for the current exception
  size_t suppressed_indent = std::string_view::npos;
  size_t pos = 0;
  while (pos <= text.size() && printed.size() < 64) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t indent = Indent(raw);
    std::string_view line = Trim(raw);
    if (line.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    if (suppressed_indent != std::string_view::npos) {
      if (indent > suppressed_indent) continue;
      suppressed_indent = std::string_view::npos;
    }
    if (StartsWith(line, "Suppressed: ")) {
      suppressed_indent = indent;
      continue;
    }
    bool caused = StartsWith(line, "Caused by: ");
    bool wrapped = StartsWith(line, "Wrapped by: ");
    if (caused || wrapped) {
      ExceptionInfo ex;
      if (ParseHeader(line.substr(caused ? 11 : 12), &ex)) {
        if (wrapped) root_first = true;
        printed.push_back(std::move(ex));
        in_frames = false;
      }
      continue;
    }
    if (StartsWith(line, "at ")) {
      if (printed.empty()) continue;
      Frame f;
      if (ParseFrame(line, rules, &f)) {
        auto& frames = printed.back().frames;
        if (frames.size() < 500) frames.push_back(std::move(f));
        in_frames = true;
      }
      continue;
    }
    if (StartsWith(line, "... ") && (line.find(" more") != std::string_view::npos ||
                                     line.find(" omitted") != std::string_view::npos)) {
      continue;
    }
    if (printed.empty()) {
      ExceptionInfo ex;
      if (ParseHeader(line, &ex)) printed.push_back(std::move(ex));
      continue;
    }
    // A message line of the current exception (messages may span lines) before its frames.
    if (!in_frames && printed.back().value.size() < 8192) {
      printed.back().value += '\n';
      printed.back().value += line;
    }
  }
  // A cause's frames shared with the exception enclosing it: Throwable.printStackTrace (and so
  // logstash-logback-encoder) prints "... N common frames omitted", logback's SyslogAppender
  // prints them all. Drop them in both forms, so both group alike. (Printed order: each
  // exception's cause follows it; with root_first, each wrapper follows its cause.)
  for (size_t i = 1; i < printed.size(); ++i) {
    auto& inner = printed[root_first ? i - 1 : i].frames;
    const auto& outer = printed[root_first ? i : i - 1].frames;
    size_t a = inner.size(), b = outer.size();
    while (a > 1 && b > 0 && inner[a - 1].module == outer[b - 1].module &&
           inner[a - 1].function == outer[b - 1].function &&
           inner[a - 1].filename == outer[b - 1].filename &&
           inner[a - 1].lineno == outer[b - 1].lineno) {
      --a;
      --b;
    }
    inner.resize(a);
  }
  // Frames oldest call first (Java prints the newest first).
  for (auto& ex : printed) std::reverse(ex.frames.begin(), ex.frames.end());
  // Sentry order: root cause first, the thrown exception last.
  if (!root_first) std::reverse(printed.begin(), printed.end());
  return printed;
}

bool SplitLogbackSyslogLine(std::string_view line, std::string* thread, std::string* logger,
                            std::string* message) {
  std::string_view rest = Trim(line);
  std::string th;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find("] ");
    if (close == std::string_view::npos) return false;
    th = std::string(rest.substr(1, close - 1));
    rest = Trim(rest.substr(close + 2));
  }
  size_t sp = rest.find(' ');
  std::string_view first = sp == std::string_view::npos ? rest : rest.substr(0, sp);
  if (first.find('.') == std::string_view::npos || !IsClassName(first)) return false;
  *thread = std::move(th);
  *logger = std::string(first);
  *message = sp == std::string_view::npos ? "" : std::string(Trim(rest.substr(sp + 1)));
  return true;
}

std::string LogbackEventJson(const LogbackRecord& rec, const JavaInAppRules& rules,
                             std::string* event_id) {
  auto exceptions = ParseJavaStackTrace(rec.stack_trace, rules);
  if (exceptions.empty()) return "";
  XXH128_hash_t h = XXH3_128bits(rec.stack_trace.data(), rec.stack_trace.size());
  h.low64 ^= static_cast<uint64_t>(rec.ts_ns) * 0x9E3779B97F4A7C15ULL;
  h.high64 ^= XXH3_64bits(rec.message.data(), rec.message.size());
  char idbuf[33];
  std::snprintf(idbuf, sizeof idbuf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  *event_id = idbuf;

  std::string j = "{\"event_id\":\"";
  j += idbuf;
  j += "\",\"timestamp\":";
  char ts[48];
  std::snprintf(ts, sizeof ts, "%.6f", static_cast<double>(rec.ts_ns) / 1e9);
  j += ts;
  j += ",\"platform\":\"java\"";
  bool first = false;
  Field(j, &first, "level", rec.level.empty() ? "error" : rec.level);
  if (!rec.logger.empty()) Field(j, &first, "logger", rec.logger);
  if (!rec.host.empty()) Field(j, &first, "server_name", rec.host);
  if (!rec.environment.empty()) Field(j, &first, "environment", rec.environment);
  if (!rec.release.empty()) Field(j, &first, "release", rec.release);
  if (!rec.message.empty()) {
    j += ",\"logentry\":{";
    bool f2 = true;
    Field(j, &f2, "formatted", rec.message);
    j += '}';
  }
  j += ",\"exception\":{\"values\":[";
  for (size_t i = 0; i < exceptions.size(); ++i) {
    const auto& ex = exceptions[i];
    if (i) j += ',';
    j += '{';
    bool f2 = true;
    Field(j, &f2, "type", ex.type);
    Field(j, &f2, "value", ex.value);
    if (!ex.module.empty()) Field(j, &f2, "module", ex.module);
    j += ",\"mechanism\":{\"type\":\"logback\",\"handled\":true}";
    j += ",\"stacktrace\":{\"frames\":[";
    for (size_t k = 0; k < ex.frames.size(); ++k) {
      const auto& fr = ex.frames[k];
      if (k) j += ',';
      j += '{';
      bool f3 = true;
      Field(j, &f3, "module", fr.module);
      Field(j, &f3, "function", fr.function);
      if (!fr.filename.empty()) Field(j, &f3, "filename", fr.filename);
      if (fr.lineno > 0) j += ",\"lineno\":" + std::to_string(fr.lineno);
      j += fr.in_app == 1 ? ",\"in_app\":true}" : ",\"in_app\":false}";
    }
    j += "]}}";
  }
  j += "]},\"tags\":{";
  bool ft = true;
  if (!rec.logger.empty()) Field(j, &ft, "logger", rec.logger);
  if (!rec.thread.empty()) Field(j, &ft, "thread", rec.thread);
  if (!rec.service.empty()) Field(j, &ft, "service", rec.service);
  Field(j, &ft, "source", rec.source.empty() ? "logback" : "logback:" + rec.source);
  j += "},\"contexts\":{";
  bool fc = true;
  if (!rec.trace_id.empty()) {
    j += "\"trace\":{";
    bool f2 = true;
    Field(j, &f2, "trace_id", rec.trace_id);
    j += '}';
    fc = false;
  }
  if (!rec.mdc.empty()) {
    if (!fc) j += ',';
    j += "\"MDC\":{";
    bool f2 = true;
    for (const auto& [k, v] : rec.mdc) Field(j, &f2, k, v);
    j += '}';
  }
  j += "},\"sdk\":{\"name\":\"kansoku.logback\",\"version\":\"1\"}}";
  return j;
}

}  // namespace kansoku::errors
