#include "alert/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <variant>
#include <vector>

namespace kansoku::alert {

namespace {

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Go's %.4g (like C's, except Inf/NaN spellings).
std::string G4(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return Fmt("%.4g", v);
}

}  // namespace

std::string GoFormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits in scientific form: d.ddde[+-]x.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::atoi(s.c_str() + e + 1);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {  // strconv 'g' with shortest precision uses eprec 6
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(-exp - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exp + 1)
    return out + digits + std::string(exp + 1 - digits.size(), '0');
  return out + digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
}

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return G4(v);
  if (std::fabs(v) >= 1) {
    static const char* kP[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    std::string prefix;
    for (const char* p : kP) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return G4(v) + prefix;
  }
  static const char* kP[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kP) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return G4(v) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return G4(v);
  static const char* kP[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  std::string prefix;
  for (const char* p : kP) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return G4(v) + prefix;
}

std::string HumanizePercentage(double v) { return G4(v * 100) + "%"; }

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return G4(v);
  if (v == 0) return G4(v) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    auto d = static_cast<int64_t>(v);
    int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24, days = d / 86400;
    char buf[128];
    if (days != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldd %lldh %lldm %llds", sign.c_str(), (long long)days,
                    (long long)hours, (long long)minutes, (long long)seconds);
      return buf;
    }
    if (hours != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldh %lldm %llds", sign.c_str(), (long long)hours,
                    (long long)minutes, (long long)seconds);
      return buf;
    }
    if (minutes != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldm %llds", sign.c_str(), (long long)minutes,
                    (long long)seconds);
      return buf;
    }
    return sign + G4(v) + "s";
  }
  static const char* kP[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kP) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return G4(v) + prefix + "s";
}

namespace {

std::string HumanizeTimestamp(double v) {
  if (std::isnan(v) || std::isinf(v)) return G4(v);
  auto secs = static_cast<time_t>(std::floor(v));
  double frac = v - std::floor(v);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (frac > 0) {
    std::string f = Fmt("%.9f", frac).substr(1);  // ".123000000"
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += f;
  }
  return out + " +0000 UTC";
}

// ---- AST ----
struct LabelsRef {
  const tsdb::Labels* labels;
};
using Value = std::variant<std::string, double, LabelsRef>;

enum class ArgKind { kString, kNumber, kVar, kFunc };
enum class Root { kLabels, kValue, kExternalLabels, kExternalUrl };
struct Arg {
  ArgKind kind;
  std::string text;  // string literal, function name, or field (after the root)
  double number = 0;
  Root root = Root::kLabels;
};
using Command = std::vector<Arg>;
struct Node {
  bool action = false;
  std::string text;
  std::vector<Command> pipeline;
  int line = 1;
};

const char* kFuncs[] = {"humanize",
                        "humanize1024",
                        "humanizePercentage",
                        "humanizeDuration",
                        "humanizeTimestamp",
                        "toUpper",
                        "toLower",
                        "title",
                        "printf",
                        "index"};

bool IsFunc(std::string_view s) {
  for (const char* f : kFuncs)
    if (s == f) return true;
  return false;
}

std::string ToString(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* d = std::get_if<double>(&v)) return GoFormatFloat(*d);
  const auto* ls = std::get<LabelsRef>(v).labels;
  std::string out = "map[";
  bool first = true;
  if (ls) {
    for (const auto& l : *ls) {
      if (!first) out += ' ';
      first = false;
      out += l.name + ":" + l.value;
    }
  }
  return out + "]";
}

Result<double> ToFloat(const Value& v) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) {
    std::string t(*s);
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0') {
      return Status::InvalidArgument("cannot convert \"" + t + "\" to a number");
    }
    return d;
  }
  return Status::InvalidArgument("cannot convert a label map to a number");
}

constexpr unsigned long kMaxPrintfWidth = 200;

// Go-like printf over a subset of verbs.
Result<std::string> GoPrintf(const std::string& fmt, const std::vector<Value>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    while (j < fmt.size() && std::string_view("+-# 0123456789.").find(fmt[j]) != std::string::npos)
      ++j;
    if (j >= fmt.size()) return Status::InvalidArgument("printf: format ends inside a verb");
    char verb = fmt[j];
    std::string flags = fmt.substr(i + 1, j - i - 1);
    i = j;
    // Width and precision: at most kMaxPrintfWidth (the result goes through a 256-byte buffer;
    // "%.2000000000f" made snprintf allocate gigabytes).
    for (size_t k = 0; k < flags.size();) {
      if (flags[k] < '0' || flags[k] > '9') {
        ++k;
        continue;
      }
      size_t e = k;
      unsigned long n = 0;
      while (e < flags.size() && flags[e] >= '0' && flags[e] <= '9') {
        n = std::min<unsigned long>(n * 10 + static_cast<unsigned long>(flags[e] - '0'), 1000000);
        ++e;
      }
      if (n > kMaxPrintfWidth) {
        return Status::InvalidArgument("printf: width or precision " + flags.substr(k, e - k) +
                                       " in %" + flags + verb + " is above " +
                                       std::to_string(kMaxPrintfWidth));
      }
      k = e;
    }
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (ai >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Value& a = args[ai++];
    char buf[256];
    switch (verb) {
      case 'f':
      case 'e':
      case 'g':
      case 'F':
      case 'E':
      case 'G': {
        auto d = ToFloat(a);
        if (!d.ok()) return d.status();
        std::string f = "%" + flags + verb;
        std::snprintf(buf, sizeof buf, f.c_str(), *d);
        out += buf;
        break;
      }
      case 'd': {
        auto d = ToFloat(a);
        if (!d.ok()) return d.status();
        std::string f = "%" + flags + "lld";
        std::snprintf(buf, sizeof buf, f.c_str(), static_cast<long long>(*d));
        out += buf;
        break;
      }
      case 's':
      case 'v': {
        std::string s = ToString(a);
        std::string f = "%" + flags + "s";
        std::snprintf(buf, sizeof buf, f.c_str(), s.c_str());
        out += s.size() < 200 ? std::string(buf) : s;
        break;
      }
      case 'q':
        out += "\"" + ToString(a) + "\"";
        break;
      default:
        return Status::InvalidArgument(std::string("printf: unsupported verb %") + verb);
    }
  }
  return out;
}

}  // namespace

struct Template::Impl {
  std::string name;
  std::vector<Node> nodes;
};

namespace {

class Parser {
 public:
  Parser(std::string_view text, std::string_view name) : s_(text), name_(name) {}

  Status Err(int line, const std::string& why) const {
    return Status::InvalidArgument("template: " + std::string(name_) + ":" + std::to_string(line) +
                                   ": " + why);
  }

  Status Parse(std::vector<Node>* nodes) {
    size_t i = 0;
    int line = 1;
    while (i < s_.size()) {
      size_t open = s_.find("{{", i);
      std::string text(
          s_.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i));
      if (open == std::string_view::npos) {
        AddText(nodes, text, line);
        break;
      }
      bool trim_left = open + 2 < s_.size() && s_[open + 2] == '-' && open + 3 < s_.size() &&
                       IsSpace(s_[open + 3]);
      if (trim_left) {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      }
      AddText(nodes, text, line);
      for (char c : s_.substr(i, open - i))
        if (c == '\n') ++line;
      size_t body_start = open + (trim_left ? 3 : 2);
      // Find the closing "}}" outside string literals.
      size_t j = body_start;
      bool in_str = false, in_raw = false;
      size_t close = std::string_view::npos;
      for (; j + 1 < s_.size(); ++j) {
        char c = s_[j];
        if (in_str) {
          if (c == '\\') {
            ++j;
          } else if (c == '"') {
            in_str = false;
          }
          continue;
        }
        if (in_raw) {
          if (c == '`') in_raw = false;
          continue;
        }
        if (c == '"') in_str = true;
        if (c == '`') in_raw = true;
        if (c == '}' && s_[j + 1] == '}') {
          close = j;
          break;
        }
      }
      if (close == std::string_view::npos) return Err(line, "unclosed action (missing \"}}\")");
      bool trim_right = close > body_start && s_[close - 1] == '-' && close - 1 > body_start &&
                        IsSpace(s_[close - 2]);
      std::string_view body = s_.substr(body_start, (trim_right ? close - 1 : close) - body_start);
      Node n;
      n.action = true;
      n.line = line;
      std::string_view tb = Trim(body);
      if (tb.size() >= 4 && tb.substr(0, 2) == "/*" && tb.substr(tb.size() - 2) == "*/") {
        // comment: no output
      } else {
        KANSOKU_RETURN_IF_ERROR(ParsePipeline(body, line, &n.pipeline));
        nodes->push_back(std::move(n));
      }
      for (char c : s_.substr(open, close + 2 - open))
        if (c == '\n') ++line;
      i = close + 2;
      if (trim_right) {
        while (i < s_.size() && IsSpace(s_[i])) {
          if (s_[i] == '\n') ++line;
          ++i;
        }
      }
    }
    return Status::Ok();
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
    return s;
  }
  static void AddText(std::vector<Node>* nodes, const std::string& text, int line) {
    if (text.empty()) return;
    Node n;
    n.text = text;
    n.line = line;
    nodes->push_back(std::move(n));
  }

  Status ParsePipeline(std::string_view body, int line, std::vector<Command>* out) {
    std::vector<Arg> cur;
    size_t i = 0;
    auto flush = [&]() -> Status {
      if (cur.empty()) return Err(line, "missing value in pipeline");
      out->push_back(std::move(cur));
      cur.clear();
      return Status::Ok();
    };
    while (i < body.size()) {
      char c = body[i];
      if (IsSpace(c)) {
        ++i;
        continue;
      }
      if (c == '|') {
        KANSOKU_RETURN_IF_ERROR(flush());
        ++i;
        continue;
      }
      if (c == '(' || c == ')') return Err(line, "parenthesized pipelines are not supported");
      if (c == '"') {
        std::string s;
        ++i;
        bool closed = false;
        while (i < body.size()) {
          char d = body[i++];
          if (d == '"') {
            closed = true;
            break;
          }
          if (d == '\\' && i < body.size()) {
            char e = body[i++];
            switch (e) {
              case 'n':
                s += '\n';
                break;
              case 't':
                s += '\t';
                break;
              case '\\':
                s += '\\';
                break;
              case '"':
                s += '"';
                break;
              default:
                s += '\\';
                s += e;
            }
            continue;
          }
          s += d;
        }
        if (!closed) return Err(line, "unterminated quoted string");
        cur.push_back({ArgKind::kString, std::move(s)});
        continue;
      }
      if (c == '`') {
        size_t e = body.find('`', i + 1);
        if (e == std::string_view::npos) return Err(line, "unterminated raw string");
        cur.push_back({ArgKind::kString, std::string(body.substr(i + 1, e - i - 1))});
        i = e + 1;
        continue;
      }
      size_t j = i;
      while (j < body.size() && !IsSpace(body[j]) && body[j] != '|' && body[j] != '(' &&
             body[j] != ')')
        ++j;
      std::string word(body.substr(i, j - i));
      i = j;
      Arg a;
      if (word[0] == '$' || word[0] == '.') {
        a.kind = ArgKind::kVar;
        std::string root, field;
        std::string w = word[0] == '$' ? word.substr(1) : word;
        // "$labels.x", "$value", ".Labels.x", ".Value", "$.Labels.x"
        if (!w.empty() && w[0] == '.') w.erase(0, 1);
        size_t dot = w.find('.');
        root = w.substr(0, dot);
        if (dot != std::string::npos) field = w.substr(dot + 1);
        if (root == "labels" || root == "Labels") {
          a.root = Root::kLabels;
        } else if (root == "value" || root == "Value") {
          a.root = Root::kValue;
        } else if (root == "externalLabels" || root == "ExternalLabels") {
          a.root = Root::kExternalLabels;
        } else if (root == "externalURL" || root == "ExternalURL") {
          a.root = Root::kExternalUrl;
        } else {
          return Err(line, "undefined variable \"" + word + "\"");
        }
        if (!field.empty() && (a.root == Root::kValue || a.root == Root::kExternalUrl)) {
          return Err(line, "can't evaluate field " + field + " of \"" + word + "\"");
        }
        if (field.find('.') != std::string::npos) {
          return Err(line, "nested field \"" + word + "\" is not supported");
        }
        a.text = field;
        cur.push_back(std::move(a));
        continue;
      }
      if ((word[0] >= '0' && word[0] <= '9') || word[0] == '-' || word[0] == '+') {
        char* end = nullptr;
        double d = std::strtod(word.c_str(), &end);
        if (*end != '\0') return Err(line, "bad number syntax: " + word);
        a.kind = ArgKind::kNumber;
        a.number = d;
        cur.push_back(std::move(a));
        continue;
      }
      if (IsFunc(word)) {
        a.kind = ArgKind::kFunc;
        a.text = word;
        cur.push_back(std::move(a));
        continue;
      }
      static const char* kKeywords[] = {"if",     "else",     "end",   "range", "with",
                                        "define", "template", "block", "break", "continue"};
      for (const char* k : kKeywords) {
        if (word == k) return Err(line, "action \"" + word + "\" is not supported by kansoku");
      }
      return Err(line, "function \"" + word + "\" not defined");
    }
    return flush();
  }

  std::string_view s_;
  std::string_view name_;
};

Result<Value> EvalArg(const Arg& a, const TemplateData& d) {
  switch (a.kind) {
    case ArgKind::kString:
      return Value(a.text);
    case ArgKind::kNumber:
      return Value(a.number);
    case ArgKind::kVar:
      switch (a.root) {
        case Root::kValue:
          return Value(d.value);
        case Root::kExternalUrl:
          return Value(std::string(d.external_url));
        case Root::kLabels:
        case Root::kExternalLabels: {
          const tsdb::Labels* ls = a.root == Root::kLabels ? d.labels : d.external_labels;
          if (a.text.empty()) return Value(LabelsRef{ls});
          return Value(ls ? std::string(ls->Get(a.text)) : std::string());
        }
      }
      break;
    case ArgKind::kFunc:
      break;
  }
  return Status::Internal("BUG: unexpected template argument");
}

Result<Value> Call(const std::string& fn, const std::vector<Value>& args) {
  auto need = [&](size_t n) -> Status {
    if (args.size() != n) {
      return Status::InvalidArgument("wrong number of args for " + fn + ": want " +
                                     std::to_string(n) + " got " + std::to_string(args.size()));
    }
    return Status::Ok();
  };
  if (fn == "printf") {
    if (args.empty()) return Status::InvalidArgument("printf: missing format");
    std::vector<Value> rest(args.begin() + 1, args.end());
    auto s = GoPrintf(ToString(args[0]), rest);
    if (!s.ok()) return s.status();
    return Value(*s);
  }
  if (fn == "index") {
    KANSOKU_RETURN_IF_ERROR(need(2));
    const auto* m = std::get_if<LabelsRef>(&args[0]);
    if (!m) return Status::InvalidArgument("index: first argument must be a label map");
    return Value(m->labels ? std::string(m->labels->Get(ToString(args[1]))) : std::string());
  }
  KANSOKU_RETURN_IF_ERROR(need(1));
  if (fn == "toUpper" || fn == "toLower" || fn == "title") {
    std::string s = ToString(args[0]);
    bool start = true;
    for (char& c : s) {
      if (fn == "toUpper") {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      } else if (fn == "toLower") {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else {
        if (start && std::isalpha(static_cast<unsigned char>(c)))
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        start = !std::isalnum(static_cast<unsigned char>(c));
      }
    }
    return Value(s);
  }
  auto d = ToFloat(args[0]);
  if (!d.ok()) return Status::InvalidArgument(fn + ": " + d.status().message());
  if (fn == "humanize") return Value(Humanize(*d));
  if (fn == "humanize1024") return Value(Humanize1024(*d));
  if (fn == "humanizePercentage") return Value(HumanizePercentage(*d));
  if (fn == "humanizeDuration") return Value(HumanizeDuration(*d));
  if (fn == "humanizeTimestamp") return Value(HumanizeTimestamp(*d));
  return Status::InvalidArgument("function \"" + fn + "\" not defined");
}

}  // namespace

Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Result<Template> Template::Parse(std::string_view text, std::string_view name) {
  Template t;
  t.impl_ = std::make_unique<Impl>();
  t.impl_->name = std::string(name);
  Parser p(text, name);
  KANSOKU_RETURN_IF_ERROR(p.Parse(&t.impl_->nodes));
  return t;
}

bool Template::IsPlain() const {
  for (const auto& n : impl_->nodes)
    if (n.action) return false;
  return true;
}

Result<std::string> Template::Execute(const TemplateData& data) const {
  std::string out;
  for (const auto& n : impl_->nodes) {
    if (!n.action) {
      out += n.text;
      continue;
    }
    auto err = [&](const Status& st) {
      return Status::InvalidArgument("template: " + impl_->name + ":" + std::to_string(n.line) +
                                     ": " + st.message());
    };
    std::optional<Value> piped;
    for (const auto& cmd : n.pipeline) {
      if (cmd[0].kind == ArgKind::kFunc) {
        std::vector<Value> args;
        for (size_t i = 1; i < cmd.size(); ++i) {
          if (cmd[i].kind == ArgKind::kFunc) {
            return err(Status::InvalidArgument("nested function call " + cmd[i].text +
                                               " needs parentheses (not supported)"));
          }
          auto v = EvalArg(cmd[i], data);
          if (!v.ok()) return err(v.status());
          args.push_back(std::move(*v));
        }
        if (piped) args.push_back(std::move(*piped));
        auto r = Call(cmd[0].text, args);
        if (!r.ok()) return err(r.status());
        piped = std::move(*r);
      } else {
        if (cmd.size() != 1 || piped) {
          return err(Status::InvalidArgument(
              "can't give argument to non-function " +
              (cmd[0].kind == ArgKind::kVar ? std::string("variable") : std::string("value"))));
        }
        auto v = EvalArg(cmd[0], data);
        if (!v.ok()) return err(v.status());
        piped = std::move(*v);
      }
    }
    if (piped) out += ToString(*piped);
  }
  return out;
}

std::string ExpandTemplate(std::string_view text, std::string_view name, const TemplateData& data) {
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  auto t = Template::Parse(text, name);
  if (!t.ok()) return "<error expanding template: " + t.status().message() + ">";
  auto r = t->Execute(data);
  if (!r.ok()) return "<error expanding template: " + r.status().message() + ">";
  return std::move(r).value();
}

}  // namespace kansoku::alert
