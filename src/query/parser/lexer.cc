#include "query/parser/lexer.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace kansoku::query {
namespace {

bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

// Length of a duration starting at s (digits+unit repeated), 0 if none.
size_t ScanDuration(std::string_view s) {
  size_t i = 0;
  bool any = false;
  while (i < s.size() && IsDigit(s[i])) {
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i >= s.size()) return 0;
    if (s.compare(i, 2, "ms") == 0) {
      i += 2;
    } else if (std::string_view("smhdwy").find(s[i]) != std::string_view::npos) {
      ++i;
    } else {
      return 0;
    }
    any = true;
  }
  if (!any) return 0;
  if (i < s.size() && IsAlnum(s[i])) return 0;
  return i;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string DescribeToken(const Token& t) {
  switch (t.type) {
    case Tok::kEOF:
      return "end of input";
    case Tok::kError:
      return "error";
    case Tok::kIdentifier:
      return "identifier \"" + std::string(t.text) + "\"";
    case Tok::kNumber:
      return "number \"" + std::string(t.text) + "\"";
    case Tok::kDuration:
      return "duration \"" + std::string(t.text) + "\"";
    case Tok::kString:
      return "string " + std::string(t.text);
    case Tok::kAdd:
    case Tok::kSub:
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kPow:
    case Tok::kEqlC:
    case Tok::kNeq:
    case Tok::kLss:
    case Tok::kLte:
    case Tok::kGtr:
    case Tok::kGte:
    case Tok::kEqlRegex:
    case Tok::kNeqRegex:
    case Tok::kAssign:
      return "<op:" + std::string(t.text) + ">";
    case Tok::kRParen:
      return "right parenthesis ')'";
    default:
      return "\"" + std::string(t.text) + "\"";
  }
}

bool ParseDurationMs(std::string_view s, int64_t* ms) {
  if (s.empty() || ScanDuration(s) != s.size()) return false;
  static constexpr std::string_view kOrder = "ywdhmsx";  // x = ms
  int64_t total = 0;
  int last_unit = -1;
  size_t i = 0;
  while (i < s.size()) {
    int64_t n = 0;
    while (IsDigit(s[i])) {
      if (n > std::numeric_limits<int64_t>::max() / 10) return false;
      n = n * 10 + (s[i] - '0');
      ++i;
    }
    char unit;
    if (s.compare(i, 2, "ms") == 0) {
      unit = 'x';
      i += 2;
    } else {
      unit = s[i++];
    }
    int idx = static_cast<int>(kOrder.find(unit));
    if (idx <= last_unit) return false;  // units must be in decreasing order, each once
    last_unit = idx;
    int64_t mult = 1;
    switch (unit) {
      case 'y':
        mult = 365LL * 24 * 3600 * 1000;
        break;
      case 'w':
        mult = 7LL * 24 * 3600 * 1000;
        break;
      case 'd':
        mult = 24LL * 3600 * 1000;
        break;
      case 'h':
        mult = 3600LL * 1000;
        break;
      case 'm':
        mult = 60LL * 1000;
        break;
      case 's':
        mult = 1000;
        break;
      default:
        mult = 1;
    }
    // Go's time.Duration (int64 ns, ~292 years) bounds PromQL durations.
    constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1'000'000;
    if (n > kMaxMs / mult) return false;
    total += n * mult;
    if (total > kMaxMs) return false;
  }
  *ms = total;
  return true;
}

bool UnquoteString(std::string_view q, std::string* out, std::string* error) {
  out->clear();
  if (q.size() < 2) {
    *error = "invalid string";
    return false;
  }
  char quote = q[0];
  std::string_view body = q.substr(1, q.size() - 2);
  if (quote == '`') {
    out->assign(body);
    return true;
  }
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= body.size()) {
      *error = "invalid escape sequence at end of string";
      return false;
    }
    char e = body[i];
    switch (e) {
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '"':
      case '\'':
        if (e != quote) {
          *error = std::string("unknown escape sequence \\") + e;
          return false;
        }
        out->push_back(e);
        break;
      case 'x':
      case 'u':
      case 'U': {
        int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int k = 1; k <= n; ++k) {
          if (i + k >= body.size() || HexVal(body[i + k]) < 0) {
            *error = "invalid escape sequence";
            return false;
          }
          v = v * 16 + static_cast<uint32_t>(HexVal(body[i + k]));
        }
        i += n;
        if (e == 'x') {
          out->push_back(static_cast<char>(v));
        } else {
          if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            *error = "invalid unicode escape";
            return false;
          }
          AppendUtf8(v, out);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 >= body.size()) {
            *error = "invalid octal escape";
            return false;
          }
          int v = 0;
          for (int k = 0; k < 3; ++k) {
            char d = body[i + k];
            if (d < '0' || d > '7') {
              *error = "invalid octal escape";
              return false;
            }
            v = v * 8 + (d - '0');
          }
          if (v > 255) {
            *error = "invalid octal escape";
            return false;
          }
          i += 2;
          out->push_back(static_cast<char>(v));
        } else {
          *error = std::string("unknown escape sequence \\") + e;
          return false;
        }
    }
  }
  return true;
}

std::vector<Token> Lex(std::string_view in) {
  std::vector<Token> toks;
  size_t i = 0;
  int bracket_depth = 0;
  auto emit = [&](Tok t, size_t start, size_t end) {
    Token tok;
    tok.type = t;
    tok.text = in.substr(start, end - start);
    tok.pos = static_cast<int>(start);
    toks.push_back(std::move(tok));
  };
  auto fail = [&](size_t at, std::string msg) {
    Token tok;
    tok.type = Tok::kError;
    tok.pos = static_cast<int>(at);
    tok.text = in.substr(at, at < in.size() ? 1 : 0);
    tok.error = std::move(msg);
    toks.push_back(std::move(tok));
  };
  while (true) {
    while (i < in.size() && std::isspace(static_cast<unsigned char>(in[i]))) ++i;
    if (i >= in.size()) {
      emit(Tok::kEOF, i, i);
      return toks;
    }
    char c = in[i];
    size_t start = i;
    if (c == '#') {
      while (i < in.size() && in[i] != '\n') ++i;
      continue;
    }
    if (IsAlpha(c) || (c == ':' && bracket_depth == 0)) {
      while (i < in.size() && (IsAlnum(in[i]) || in[i] == ':')) ++i;
      emit(Tok::kIdentifier, start, i);
      continue;
    }
    if (IsDigit(c) || (c == '.' && i + 1 < in.size() && IsDigit(in[i + 1]))) {
      size_t dl = ScanDuration(in.substr(i));
      if (dl > 0) {
        i += dl;
        emit(Tok::kDuration, start, i);
        continue;
      }
      if (c == '0' && i + 1 < in.size() && (in[i + 1] == 'x' || in[i + 1] == 'X')) {
        i += 2;
        while (i < in.size() && HexVal(in[i]) >= 0) ++i;
      } else {
        while (i < in.size() && IsDigit(in[i])) ++i;
        if (i < in.size() && in[i] == '.') {
          ++i;
          while (i < in.size() && IsDigit(in[i])) ++i;
        }
        if (i < in.size() && (in[i] == 'e' || in[i] == 'E')) {
          size_t j = i + 1;
          if (j < in.size() && (in[j] == '+' || in[j] == '-')) ++j;
          if (j < in.size() && IsDigit(in[j])) {
            i = j;
            while (i < in.size() && IsDigit(in[i])) ++i;
          }
        }
      }
      if (i < in.size() && (IsAlnum(in[i]) || in[i] == '.')) {
        fail(start, "bad number or duration syntax: \"" +
                        std::string(in.substr(start, i + 1 - start)) + "\"");
        return toks;
      }
      emit(Tok::kNumber, start, i);
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      ++i;
      bool closed = false;
      while (i < in.size()) {
        if (in[i] == '\\' && c != '`') {
          i += 2;
          continue;
        }
        if (in[i] == c) {
          closed = true;
          ++i;
          break;
        }
        if (in[i] == '\n' && c != '`') break;
        ++i;
      }
      if (!closed) {
        fail(start, c == '`' ? "unterminated raw string" : "unterminated quoted string");
        return toks;
      }
      emit(Tok::kString, start, i);
      continue;
    }
    auto two = in.substr(i, 2);
    Tok t;
    size_t len = 1;
    if (two == "==") {
      t = Tok::kEqlC;
      len = 2;
    } else if (two == "!=") {
      t = Tok::kNeq;
      len = 2;
    } else if (two == "<=") {
      t = Tok::kLte;
      len = 2;
    } else if (two == ">=") {
      t = Tok::kGte;
      len = 2;
    } else if (two == "=~") {
      t = Tok::kEqlRegex;
      len = 2;
    } else if (two == "!~") {
      t = Tok::kNeqRegex;
      len = 2;
    } else {
      switch (c) {
        case '(':
          t = Tok::kLParen;
          break;
        case ')':
          t = Tok::kRParen;
          break;
        case '{':
          t = Tok::kLBrace;
          break;
        case '}':
          t = Tok::kRBrace;
          break;
        case '[':
          t = Tok::kLBracket;
          ++bracket_depth;
          break;
        case ']':
          t = Tok::kRBracket;
          --bracket_depth;
          break;
        case ',':
          t = Tok::kComma;
          break;
        case ':':
          t = Tok::kColon;
          break;
        case '@':
          t = Tok::kAt;
          break;
        case '=':
          t = Tok::kAssign;
          break;
        case '+':
          t = Tok::kAdd;
          break;
        case '-':
          t = Tok::kSub;
          break;
        case '*':
          t = Tok::kMul;
          break;
        case '/':
          t = Tok::kDiv;
          break;
        case '%':
          t = Tok::kMod;
          break;
        case '^':
          t = Tok::kPow;
          break;
        case '<':
          t = Tok::kLss;
          break;
        case '>':
          t = Tok::kGtr;
          break;
        default: {
          std::string ch(1, c);
          if (c == '!') {
            fail(start, "unexpected character after '!': " + std::string(in.substr(i + 1, 1)));
          } else {
            fail(start, "unexpected character: '" + ch + "'");
          }
          return toks;
        }
      }
    }
    i += len;
    emit(t, start, i);
  }
}

}  // namespace kansoku::query
