#include "errors/grouping.h"

#include <xxhash.h>

#include <cctype>

#include "base/strings.h"

namespace kansoku::errors {
namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

bool IsIpv4(std::string_view s) {
  // a.b.c.d with an optional :port
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    if (!AllOf(s.substr(colon + 1), IsDigit)) return false;
    s = s.substr(0, colon);
  }
  auto parts = Split(s, '.');
  if (parts.size() != 4) return false;
  for (auto p : parts)
    if (p.empty() || p.size() > 3 || !AllOf(p, IsDigit)) return false;
  return true;
}

bool IsIpv6(std::string_view s) {
  if (s.size() < 3) return false;
  int colons = 0;
  bool hexdigit = false;
  for (char c : s) {
    if (c == ':') {
      ++colons;
    } else if (IsHex(c)) {
      hexdigit = true;
    } else if (c != '.') {
      return false;
    }
  }
  return colons >= 2 && (hexdigit || s == "::");
}

bool IsHexId(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && AllOf(s.substr(2), IsHex)) {
    return true;
  }
  if (s.size() < 8 || !AllOf(s, IsHex)) return false;
  bool digit = false;
  for (char c : s) digit |= IsDigit(c);
  return digit;
}

bool IsDate(std::string_view s) {
  // 2026-11-26, 2026-11-26T05:43:38(.123)(Z|+00:00), 05:43:38
  if (s.size() >= 10 && IsDigit(s[0]) && IsDigit(s[3]) && s[4] == '-' && IsDigit(s[5]) &&
      s[7] == '-' && IsDigit(s[8]) && IsDigit(s[9])) {
    return true;
  }
  return s.size() >= 8 && IsDigit(s[0]) && IsDigit(s[1]) && s[2] == ':' && IsDigit(s[3]) &&
         IsDigit(s[4]) && s[5] == ':' && IsDigit(s[6]) && IsDigit(s[7]);
}

// "<int>", "<float>" or "" if s is not a number.
const char* NumberKind(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || !IsDigit(s[0])) return "";
  size_t dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (!IsDigit(c)) {
      return "";
    }
  }
  if (s.back() == '.') return "";
  return dots == 0 ? "<int>" : dots == 1 ? "<float>" : "";
}

bool IsWordDelim(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsPartDelim(char c) {
  switch (c) {
    case '=':
    case ',':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '"':
    case '\'':
    case '`':
    case '<':
    case '>':
    case '/':
    case '#':
    case '!':
    case '?':
    case ':':
    case '&':
    case '|':
    case '*':
    case '%':
    case '$':
    case '~':
    case '^':
      return true;
    default:
      return false;
  }
}

// Classifies a whole token that may contain ':' or '/' (URL, email, IP, UUID, date).
const char* WholeTokenKind(std::string_view t) {
  if (t.find("://") != std::string_view::npos) return "<url>";
  size_t at = t.find('@');
  if (at != std::string_view::npos && at > 0 && t.find('.', at) != std::string_view::npos) {
    return "<email>";
  }
  if (IsUuid(t)) return "<uuid>";
  if (IsIpv4(t) || IsIpv6(t)) return "<ip>";
  if (IsDate(t)) return "<date>";
  return nullptr;
}

void NormalizePart(std::string_view p, std::string* out) {
  std::string_view core = p;
  // A trailing '.' (end of sentence) is kept outside the classification.
  bool dot = !core.empty() && core.back() == '.';
  if (dot) core.remove_suffix(1);
  const char* kind = NumberKind(core);
  if (*kind) {
    out->append(kind);
  } else if (IsUuid(core)) {
    out->append("<uuid>");
  } else if (IsHexId(core)) {
    out->append("<hex>");
  } else {
    out->append(core);
  }
  if (dot) out->push_back('.');
}

void HashPart(XXH3_state_t* st, std::string_view s) {
  XXH3_128bits_update(st, s.data(), s.size());
  char zero = 0;
  XXH3_128bits_update(st, &zero, 1);
}

std::string Hex128(XXH128_hash_t h) {
  static const char* d = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    uint64_t w = i < 8 ? h.high64 : h.low64;
    int shift = (7 - (i % 8)) * 8;
    uint8_t b = static_cast<uint8_t>(w >> shift);
    out[i * 2] = d[b >> 4];
    out[i * 2 + 1] = d[b & 15];
  }
  return out;
}

std::string FirstLine(std::string_view s, size_t max) {
  size_t nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  if (s.size() > max) return std::string(s.substr(0, max)) + "...";
  return std::string(s);
}

// The frames of a stack that contribute: in-app ones when the SDK marked any, else all.
std::vector<const Frame*> Contributing(const std::vector<Frame>& frames) {
  std::vector<const Frame*> out;
  for (const auto& f : frames)
    if (f.in_app == 1) out.push_back(&f);
  if (out.empty()) {
    for (const auto& f : frames) out.push_back(&f);
  }
  return out;
}

void AddFrames(const std::vector<Frame>& frames, std::vector<std::string>* comps) {
  for (const Frame* f : Contributing(frames)) {
    std::string c = !f->module.empty()
                        ? f->module
                        : NormalizeFilename(!f->filename.empty() ? f->filename : f->abs_path);
    c += "|" + f->function;
    std::string_view cl = TrimSpace(f->context_line);
    if (!cl.empty() && cl.size() < 120) c += "|" + std::string(cl);
    comps->push_back(std::move(c));
  }
}

std::string MessageOf(const Event& e) {
  if (!e.message_template.empty()) return e.message_template;
  if (!e.message.empty()) return NormalizeMessage(e.message);
  for (const auto& ex : e.exceptions)
    if (ex.synthetic && !ex.value.empty()) return NormalizeMessage(ex.value);
  return "";
}

}  // namespace

std::string_view GroupingVersionName(uint8_t version) {
  return version == 1 ? "kansoku-1" : "unknown";
}

std::string NormalizeMessage(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (IsWordDelim(s[i])) {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsWordDelim(s[j])) ++j;
    std::string_view word = s.substr(i, j - i);
    i = j;
    // Strip surrounding punctuation for whole-token checks.
    size_t a = 0, b = word.size();
    while (a < b && (word[a] == '(' || word[a] == '[' || word[a] == '"' || word[a] == '\'' ||
                     word[a] == '<' || word[a] == '{')) {
      ++a;
    }
    while (b > a &&
           (word[b - 1] == ')' || word[b - 1] == ']' || word[b - 1] == '"' || word[b - 1] == '\'' ||
            word[b - 1] == ',' || word[b - 1] == ';' || word[b - 1] == '.' || word[b - 1] == '>' ||
            word[b - 1] == '}' || word[b - 1] == ':')) {
      --b;
    }
    std::string_view core = word.substr(a, b - a);
    if (const char* kind = core.empty() ? nullptr : WholeTokenKind(core)) {
      out.append(word.substr(0, a));
      out.append(kind);
      out.append(word.substr(b));
      continue;
    }
    // key=value, a/b, x:y: classify each part between delimiters.
    size_t p = 0;
    while (p < word.size()) {
      if (IsPartDelim(word[p])) {
        out.push_back(word[p++]);
        continue;
      }
      size_t q = p;
      while (q < word.size() && !IsPartDelim(word[q])) ++q;
      std::string_view part = word.substr(p, q - p);
      // IPv4 with port is split by ':'; check the part itself too.
      if (IsIpv4(part)) {
        out.append("<ip>");
      } else {
        NormalizePart(part, &out);
      }
      p = q;
    }
  }
  return out;
}

std::string NormalizeFilename(std::string_view s) {
  size_t slash = s.find_last_of("/\\");
  std::string_view base = slash == std::string_view::npos ? s : s.substr(slash + 1);
  // Drop query strings of URLs (webpack ?hash).
  size_t q = base.find('?');
  if (q != std::string_view::npos) base = base.substr(0, q);
  // Hash-like segments between '.', '-' or '_': "main.3f2a9c1b.js" -> "main.<hash>.js".
  std::string out;
  size_t i = 0;
  while (i <= base.size()) {
    size_t j = i;
    while (j < base.size() && base[j] != '.' && base[j] != '-' && base[j] != '_') ++j;
    std::string_view seg = base.substr(i, j - i);
    if (IsHexId(seg) || (seg.size() >= 2 && AllOf(seg, IsDigit))) {
      out += "<hash>";
    } else {
      out.append(seg);
    }
    if (j < base.size()) out.push_back(base[j]);
    i = j + 1;
  }
  return out;
}

Grouping GroupEvent(const Event& e, const FingerprintRules* rules) {
  Grouping g;
  std::vector<std::string> def;
  std::string basis;
  // 1. stack trace of real (non-synthetic) exceptions.
  for (const auto& ex : e.exceptions) {
    if (ex.synthetic || ex.frames.empty()) continue;
    def.push_back("type:" + ex.type);
    AddFrames(ex.frames, &def);
  }
  if (!def.empty()) {
    basis = "stacktrace";
  } else {
    // 2. exception type + normalised value.
    for (const auto& ex : e.exceptions) {
      if (ex.synthetic || (ex.type.empty() && ex.value.empty())) continue;
      def.push_back("type:" + ex.type);
      def.push_back("value:" + NormalizeMessage(ex.value));
    }
    if (!def.empty()) {
      basis = "exception";
    } else if (!e.frames.empty()) {
      // A top-level stack trace (attach_stacktrace on messages) groups like one.
      AddFrames(e.frames, &def);
      basis = "stacktrace";
    }
    if (def.empty()) {
      std::string m = MessageOf(e);
      if (!m.empty()) {
        def.push_back("message:" + m);
        basis = "message";
      } else {
        def.push_back("<no grouping information>");
        basis = "fallback";
      }
    }
  }
  const std::vector<std::string>* fingerprint = rules ? rules->Match(e) : nullptr;
  if (fingerprint) {
    g.basis = "fingerprint_rule";
  } else if (!e.fingerprint.empty()) {
    fingerprint = &e.fingerprint;
    g.basis = "fingerprint";
  }
  if (fingerprint) {
    const ExceptionInfo* top = nullptr;
    for (const auto& ex : e.exceptions)
      if (!ex.synthetic) top = &ex;
    for (const auto& f : *fingerprint) {
      std::string_view v = TrimSpace(f);
      if (v.size() > 4 && StartsWith(v, "{{") && v.substr(v.size() - 2) == "}}") {
        std::string var(TrimSpace(v.substr(2, v.size() - 4)));
        if (var == "default") {
          for (auto& c : def) g.components.push_back(c);
          continue;
        }
        std::string val;
        if (var == "transaction")
          val = e.transaction;
        else if (var == "error.type")
          val = top ? top->type : "";
        else if (var == "error.value")
          val = top ? top->value : "";
        else if (var == "message")
          val = e.message;
        else if (var == "level")
          val = e.level;
        else if (var == "logger")
          val = e.logger;
        else
          val = std::string(v);
        g.components.push_back(var + "=" + val);
        continue;
      }
      g.components.push_back("fp:" + std::string(v));
    }
  } else {
    g.basis = basis;
    g.components = std::move(def);
  }
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  HashPart(st, GroupingVersionName(g.version));
  for (const auto& c : g.components) HashPart(st, c);
  g.hash = Hex128(XXH3_128bits_digest(st));
  XXH3_freeState(st);

  // Title and culprit.
  const ExceptionInfo* top = nullptr;
  for (const auto& ex : e.exceptions)
    if (!ex.synthetic) top = &ex;
  if (top) {
    g.title = FirstLine(top->type.empty()
                            ? top->value
                            : (top->value.empty() ? top->type : top->type + ": " + top->value),
                        200);
  } else if (!e.message.empty()) {
    g.title = FirstLine(e.message, 200);
  } else if (!e.exceptions.empty()) {
    g.title = FirstLine(e.exceptions.back().value, 200);
  }
  if (g.title.empty()) g.title = "<unlabeled event>";
  const std::vector<Frame>* frames = top ? &top->frames : &e.frames;
  auto contrib = Contributing(*frames);
  if (!contrib.empty()) {
    const Frame* f = contrib.back();  // the most recent call
    std::string where =
        !f->module.empty() ? f->module : (!f->filename.empty() ? f->filename : f->abs_path);
    g.culprit = where + (f->function.empty() ? "" : " in " + f->function);
  } else {
    g.culprit = e.transaction;
  }
  return g;
}

}  // namespace kansoku::errors
