#include "errors/fingerprint_rules.h"

#include <fnmatch.h>

#include "base/strings.h"

namespace kansoku::errors {
namespace {

bool Glob(const std::string& glob, std::string_view value) {
  std::string v = ToLower(value);
  return fnmatch(glob.c_str(), v.c_str(), 0) == 0;
}

// Splits "a:b  c:\"d e\"" into tokens, keeping quoted parts together (quotes removed).
Result<std::vector<std::string>> Tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    std::string tok;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
      if (s[i] == '"') {
        size_t close = s.find('"', i + 1);
        if (close == std::string_view::npos) return Status::InvalidArgument("unterminated quote");
        tok.append(s.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        tok.push_back(s[i++]);
      }
    }
    out.push_back(std::move(tok));
  }
  return out;
}

}  // namespace

Result<FingerprintRules> FingerprintRules::Parse(std::string_view text) {
  FingerprintRules out;
  int lineno = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++lineno;
    size_t hash = line.find('#');
    // A '#' inside quotes is rare in rules; comments are whole-line or trailing.
    if (hash != std::string_view::npos &&
        line.substr(0, hash).find('"') == std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = TrimSpace(line);
    if (line.empty()) continue;
    auto err = [&](const std::string& why) {
      return Status::InvalidArgument("fingerprint rules line " + std::to_string(lineno) + ": " +
                                     why);
    };
    size_t arrow = line.find("->");
    if (arrow == std::string_view::npos) return err("expected 'matcher:value ... -> fingerprint'");
    Rule rule;
    auto toks = Tokens(line.substr(0, arrow));
    if (!toks.ok()) return err(toks.status().message());
    if (toks->empty()) return err("a rule needs at least one matcher before '->'");
    for (std::string t : *toks) {
      Matcher m;
      if (!t.empty() && t[0] == '!') {
        m.negate = true;
        t.erase(0, 1);
      }
      size_t colon = t.find(':');
      if (colon == std::string::npos || colon == 0) {
        return err("matcher \"" + t + "\" must be key:value");
      }
      std::string key = t.substr(0, colon);
      m.glob = ToLower(t.substr(colon + 1));
      if (key == "error.type" || key == "type")
        m.field = Field::kType;
      else if (key == "error.value" || key == "value")
        m.field = Field::kValue;
      else if (key == "message")
        m.field = Field::kMessage;
      else if (key == "logger")
        m.field = Field::kLogger;
      else if (key == "level")
        m.field = Field::kLevel;
      else if (key == "stack.function" || key == "function")
        m.field = Field::kFunction;
      else if (key == "stack.module" || key == "module")
        m.field = Field::kModule;
      else if (key == "stack.abs_path" || key == "path")
        m.field = Field::kPath;
      else if (key == "app")
        m.field = Field::kApp;
      else if (StartsWith(key, "tags.") && key.size() > 5) {
        m.field = Field::kTag;
        m.tag = key.substr(5);
      } else {
        return err("unknown matcher \"" + key +
                   "\" (error.type, error.value, message, logger, level, tags.<key>, "
                   "stack.function, stack.module, stack.abs_path, app)");
      }
      if (m.field == Field::kApp && m.glob != "yes" && m.glob != "no") {
        return err("app: must be yes or no");
      }
      rule.matchers.push_back(std::move(m));
    }
    std::string_view rhs = TrimSpace(line.substr(arrow + 2));
    size_t title = rhs.find("title=");
    if (title != std::string_view::npos) rhs = TrimSpace(rhs.substr(0, title));
    for (auto part : Split(rhs, ',')) {
      part = TrimSpace(part);
      if (part.size() >= 2 && part.front() == '"' && part.back() == '"') {
        part = part.substr(1, part.size() - 2);
      }
      if (!part.empty()) rule.fingerprint.emplace_back(part);
    }
    if (rule.fingerprint.empty()) return err("a rule needs a fingerprint after '->'");
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

bool FingerprintRules::MatchOne(const Matcher& m, const Event& e) {
  switch (m.field) {
    case Field::kType:
      for (const auto& x : e.exceptions)
        if (!x.synthetic && Glob(m.glob, x.type)) return true;
      return false;
    case Field::kValue:
      for (const auto& x : e.exceptions)
        if (Glob(m.glob, x.value)) return true;
      return false;
    case Field::kMessage:
      if (!e.message.empty() && Glob(m.glob, e.message)) return true;
      for (const auto& x : e.exceptions)
        if (Glob(m.glob, x.value)) return true;
      return false;
    case Field::kLogger:
      return Glob(m.glob, e.logger);
    case Field::kLevel:
      return Glob(m.glob, e.level);
    case Field::kTag:
      for (const auto& [k, v] : e.tags)
        if (k == m.tag && Glob(m.glob, v)) return true;
      if (m.tag == "release") return Glob(m.glob, e.release);
      if (m.tag == "environment") return Glob(m.glob, e.environment);
      return false;
    default:
      return false;  // frame fields are matched together
  }
}

bool FingerprintRules::MatchFrames(const std::vector<const Matcher*>& ms, const Event& e) {
  auto frame_ok = [&](const Frame& f) {
    for (const Matcher* m : ms) {
      bool hit = false;
      switch (m->field) {
        case Field::kFunction:
          hit = Glob(m->glob, f.function);
          break;
        case Field::kModule:
          hit = Glob(m->glob, f.module);
          break;
        case Field::kPath:
          hit = Glob(m->glob, f.abs_path) || Glob(m->glob, f.filename);
          break;
        case Field::kApp:
          hit = (m->glob == "yes") == (f.in_app == 1);
          break;
        default:
          break;
      }
      if (hit == m->negate) return false;
    }
    return true;
  };
  for (const auto& x : e.exceptions)
    for (const auto& f : x.frames)
      if (frame_ok(f)) return true;
  for (const auto& f : e.frames)
    if (frame_ok(f)) return true;
  return false;
}

const std::vector<std::string>* FingerprintRules::Match(const Event& e) const {
  for (const auto& r : rules_) {
    std::vector<const Matcher*> frame_ms;
    bool ok = true;
    for (const auto& m : r.matchers) {
      if (m.field == Field::kFunction || m.field == Field::kModule || m.field == Field::kPath ||
          m.field == Field::kApp) {
        frame_ms.push_back(&m);
        continue;
      }
      if (MatchOne(m, e) == m.negate) {
        ok = false;
        break;
      }
    }
    if (ok && !frame_ms.empty()) ok = MatchFrames(frame_ms, e);
    if (ok) return &r.fingerprint;
  }
  return nullptr;
}

}  // namespace kansoku::errors
