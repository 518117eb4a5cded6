#include "logs/query/parser.h"

#include <re2/re2.h>

#include <cctype>
#include <cstdlib>

#include "logs/record.h"

namespace kansoku::logs::query {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsWordEnd(char c) {
  return IsSpace(c) || c == '(' || c == ')' || c == '|' || c == '{' || c == '}' || c == '"' ||
         c == '\'' || c == ':';
}
bool IsIdent(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' ||
         c == '-' || c == '/';
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<Query> Run() {
    Query q;
    SkipSpace();
    if (AtEnd() || Peek() == '|') {
      q.filter = std::make_shared<Filter>();
    } else {
      q.filter = ParseOr(&q);
    }
    while (ok() && !AtEnd()) {
      SkipSpace();
      if (AtEnd()) break;
      if (Peek() != '|') {
        Fail("expected '|' or the end of the query");
        break;
      }
      ++pos_;
      ParsePipe(&q);
      SkipSpace();
    }
    if (!ok()) return Status::InvalidArgument(err_);
    if (!q.filter) q.filter = std::make_shared<Filter>();
    return q;
  }

 private:
  bool ok() const { return err_.empty(); }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(s_[pos_])) ++pos_;
  }
  std::nullptr_t Fail(const std::string& what) {
    if (err_.empty()) {
      std::string got = AtEnd() ? "end of query" : "'" + std::string(s_.substr(pos_, 12)) + "'";
      err_ = "cannot parse log query at offset " + std::to_string(pos_) + ": " + what + " (got " +
             got + ")";
    }
    return nullptr;
  }
  // Keyword at pos (followed by a word end).
  bool Keyword(std::string_view kw) {
    if (s_.substr(pos_, kw.size()) != kw) return false;
    size_t e = pos_ + kw.size();
    if (e < s_.size() && !IsWordEnd(s_[e]) && s_[e] != ',') return false;
    pos_ = e;
    return true;
  }
  bool PeekKeyword(std::string_view kw) {
    size_t save = pos_;
    bool k = Keyword(kw);
    pos_ = save;
    return k;
  }

  bool QuotedString(std::string* out) {
    char q = Peek();
    if (q != '"' && q != '\'' && q != '`') return false;
    ++pos_;
    out->clear();
    while (!AtEnd() && s_[pos_] != q) {
      char c = s_[pos_++];
      if (c == '\\' && q != '`' && !AtEnd()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n':
            *out += '\n';
            break;
          case 't':
            *out += '\t';
            break;
          case 'r':
            *out += '\r';
            break;
          default:
            *out += e;
        }
        continue;
      }
      *out += c;
    }
    if (AtEnd()) {
      Fail("unterminated string");
      return false;
    }
    ++pos_;
    return true;
  }
  std::string BareWord() {
    size_t b = pos_;
    while (!AtEnd() && !IsWordEnd(s_[pos_])) ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }
  std::string Ident() {
    size_t b = pos_;
    while (!AtEnd() && IsIdent(s_[pos_])) ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }

  std::shared_ptr<Filter> Combine(FilterKind k, std::vector<std::shared_ptr<Filter>> kids) {
    if (kids.size() == 1) return kids[0];
    auto f = std::make_shared<Filter>();
    f->kind = k;
    f->kids = std::move(kids);
    return f;
  }

  std::shared_ptr<Filter> ParseOr(Query* q) {
    std::vector<std::shared_ptr<Filter>> kids;
    auto a = ParseAnd(q);
    if (!a) return nullptr;
    kids.push_back(a);
    for (;;) {
      SkipSpace();
      if (!Keyword("or") && !Keyword("OR")) break;
      auto b = ParseAnd(q);
      if (!b) return nullptr;
      kids.push_back(b);
    }
    return Combine(FilterKind::kOr, std::move(kids));
  }

  std::shared_ptr<Filter> ParseAnd(Query* q) {
    std::vector<std::shared_ptr<Filter>> kids;
    for (;;) {
      SkipSpace();
      if (AtEnd() || Peek() == ')' || Peek() == '|') break;
      if (PeekKeyword("or") || PeekKeyword("OR")) break;
      if (Keyword("and") || Keyword("AND")) continue;
      auto u = ParseUnary(q);
      if (!u) return nullptr;
      if (u->kind == FilterKind::kAll && u->kids.empty() && !kids.empty()) continue;
      kids.push_back(u);
      if (++depth_guard_ > 100000) return Fail("query too long");
    }
    if (kids.empty()) return Fail("expected a filter");
    // A time filter parses to kAll; drop it from conjunctions with real filters.
    std::vector<std::shared_ptr<Filter>> real;
    for (auto& k : kids)
      if (!(k->kind == FilterKind::kAll)) real.push_back(k);
    if (real.empty()) return kids[0];
    return Combine(FilterKind::kAnd, std::move(real));
  }

  std::shared_ptr<Filter> ParseUnary(Query* q) {
    if (++depth_ > 200) return Fail("nesting too deep");
    struct Depth {
      int* d;
      ~Depth() { --*d; }
    } guard{&depth_};
    SkipSpace();
    char c = Peek();
    if (Keyword("not") || Keyword("NOT") || ((c == '-' || c == '!') && (++pos_, true))) {
      auto k = ParseUnary(q);
      if (!k) return nullptr;
      auto f = std::make_shared<Filter>();
      f->kind = FilterKind::kNot;
      f->kids.push_back(k);
      return f;
    }
    if (c == '(') {
      ++pos_;
      auto f = ParseOr(q);
      if (!f) return nullptr;
      SkipSpace();
      if (Peek() != ')') return Fail("expected ')'");
      ++pos_;
      return f;
    }
    if (c == '{') return ParseSelector();
    if (c == '"' || c == '\'' || c == '`') {
      std::string v;
      if (!QuotedString(&v)) return nullptr;
      return Leaf(FilterKind::kPhrase, "", v);
    }
    if (c == '~') {
      ++pos_;
      return RegexValue("");
    }
    std::string w = BareWord();
    if (w.empty()) return Fail("expected a word, a phrase or field:value");
    if (Peek() == ':') {
      ++pos_;
      return FieldValue(q, w);
    }
    if (w == "*") return std::make_shared<Filter>();
    if (w.size() > 1 && w.back() == '*') {
      return Leaf(FilterKind::kPrefix, "", w.substr(0, w.size() - 1));
    }
    return Leaf(FilterKind::kPhrase, "", w);
  }

  std::shared_ptr<Filter> Leaf(FilterKind k, std::string field, std::string value) {
    auto f = std::make_shared<Filter>();
    f->kind = k;
    f->field = field == "_msg" ? "" : std::move(field);
    f->value = std::move(value);
    if (k == FilterKind::kPhrase && f->value.empty()) f->kind = FilterKind::kEmpty;
    return f;
  }

  std::shared_ptr<Filter> RegexValue(const std::string& field) {
    std::string v;
    if (!QuotedString(&v)) return Fail("expected a quoted regular expression after '~'");
    auto f = Leaf(FilterKind::kRegex, field, v);
    RE2::Options o;
    o.set_log_errors(false);
    f->re = std::make_shared<RE2>(v, o);
    if (!f->re->ok()) return Fail("invalid regular expression: " + f->re->error());
    return f;
  }

  std::shared_ptr<Filter> FieldValue(Query* q, const std::string& field) {
    if (field == "_time") return TimeValue(q);
    if (field == "_stream") {
      SkipSpace();
      if (Peek() != '{') return Fail("expected '{' after _stream:");
      return ParseSelector();
    }
    char c = Peek();
    if (c == '*') {
      ++pos_;
      return Leaf(FilterKind::kExists, field, "");
    }
    if (c == '~') {
      ++pos_;
      return RegexValue(field);
    }
    if (c == '=') {
      ++pos_;
      std::string v;
      if (Peek() == '"' || Peek() == '\'' || Peek() == '`') {
        if (!QuotedString(&v)) return nullptr;
      } else {
        v = BareWord();
      }
      return Leaf(FilterKind::kExact, field, v);
    }
    if (c == '>' || c == '<') {
      std::string op(1, c);
      ++pos_;
      if (Peek() == '=') {
        op += '=';
        ++pos_;
      }
      std::string num = BareWord();
      char* end = nullptr;
      double d = std::strtod(num.c_str(), &end);
      if (num.empty() || *end != '\0') return Fail("expected a number after " + op);
      auto f = Leaf(FilterKind::kCompare, field, num);
      f->op = op;
      f->number = d;
      return f;
    }
    if (c == '"' || c == '\'' || c == '`') {
      std::string v;
      if (!QuotedString(&v)) return nullptr;
      return Leaf(FilterKind::kPhrase, field, v);
    }
    if (c == '(') {  // field:(a or b)  -> applies each word to the field
      ++pos_;
      std::vector<std::shared_ptr<Filter>> kids;
      bool is_or = false;
      for (;;) {
        SkipSpace();
        if (Peek() == ')') break;
        if (Keyword("or") || Keyword("OR")) {
          is_or = true;
          continue;
        }
        if (Keyword("and") || Keyword("AND")) continue;
        std::string v;
        if (Peek() == '"' || Peek() == '\'') {
          if (!QuotedString(&v)) return nullptr;
        } else {
          v = BareWord();
        }
        if (v.empty()) return Fail("expected a value or ')'");
        kids.push_back(Leaf(FilterKind::kPhrase, field, v));
      }
      ++pos_;
      if (kids.empty()) return Fail("expected at least one value in field:(...)");
      return Combine(is_or ? FilterKind::kOr : FilterKind::kAnd, std::move(kids));
    }
    std::string w = BareWord();
    if (w.empty()) return Fail("expected a value after '" + field + ":'");
    if (w.size() > 1 && w.back() == '*') {
      return Leaf(FilterKind::kPrefix, field, w.substr(0, w.size() - 1));
    }
    return Leaf(FilterKind::kPhrase, field, w);
  }

  bool TimePoint(int64_t* ns) {
    SkipSpace();
    std::string v;
    if (Peek() == '"' || Peek() == '\'') {
      if (!QuotedString(&v)) return false;
    } else {
      size_t b = pos_;
      while (!AtEnd() && !IsSpace(s_[pos_]) && s_[pos_] != ',' && s_[pos_] != ']' &&
             s_[pos_] != ')')
        ++pos_;
      v = std::string(s_.substr(b, pos_ - b));
    }
    if (ParseRfc3339Nanos(v, ns)) return true;
    // Unix seconds (with fraction).
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (!v.empty() && *end == '\0') {
      *ns = static_cast<int64_t>(d * 1e9);
      return true;
    }
    Fail("expected an RFC 3339 time or Unix seconds");
    return false;
  }

  std::shared_ptr<Filter> TimeValue(Query* q) {
    q->has_time = true;
    if (Peek() == '[') {
      ++pos_;
      int64_t a, b;
      if (!TimePoint(&a)) return nullptr;
      SkipSpace();
      if (Peek() != ',') return Fail("expected ',' in _time:[start, end]");
      ++pos_;
      if (!TimePoint(&b)) return nullptr;
      SkipSpace();
      char close = Peek();
      if (close != ']' && close != ')') return Fail("expected ']' or ')'");
      ++pos_;
      q->min_ts = std::max(q->min_ts, a);
      q->max_ts = std::min(q->max_ts, close == ']' ? b : b - 1);
      return std::make_shared<Filter>();
    }
    std::string d = BareWord();
    int64_t ns;
    if (!ParseDurationNs(d, &ns) || ns <= 0) {
      return Fail("expected a duration such as 5m, 1h or [start, end] after _time:");
    }
    q->rel_ns = q->rel_ns ? std::min(q->rel_ns, ns) : ns;
    return std::make_shared<Filter>();
  }

  std::shared_ptr<Filter> ParseSelector() {
    ++pos_;  // '{'
    std::vector<std::shared_ptr<Filter>> kids;
    for (;;) {
      SkipSpace();
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      if (!kids.empty()) {
        if (Peek() != ',') return Fail("expected ',' or '}' in a stream selector");
        ++pos_;
        SkipSpace();
      }
      std::string name = Ident();
      if (name.empty()) return Fail("expected a label name");
      SkipSpace();
      std::string op;
      if (s_.substr(pos_, 2) == "=~" || s_.substr(pos_, 2) == "!~" || s_.substr(pos_, 2) == "!=") {
        op = std::string(s_.substr(pos_, 2));
        pos_ += 2;
      } else if (Peek() == '=') {
        op = "=";
        ++pos_;
      } else {
        return Fail("expected =, !=, =~ or !~");
      }
      SkipSpace();
      std::string v;
      if (!QuotedString(&v)) return Fail("expected a quoted label value");
      std::shared_ptr<Filter> f;
      if (op[1] == '~') {
        // Label regexes are anchored, as in PromQL/LogQL.
        f = Leaf(FilterKind::kRegex, name, v);
        RE2::Options o;
        o.set_log_errors(false);
        f->re = std::make_shared<RE2>("^(?:" + v + ")$", o);
        if (!f->re->ok()) return Fail("invalid regular expression: " + f->re->error());
      } else {
        f = Leaf(FilterKind::kExact, name, v);
      }
      if (op[0] == '!') {
        auto n = std::make_shared<Filter>();
        n->kind = FilterKind::kNot;
        n->kids.push_back(f);
        f = n;
      }
      kids.push_back(f);
    }
    if (kids.empty()) return std::make_shared<Filter>();
    return Combine(FilterKind::kAnd, std::move(kids));
  }

  // ---- pipes ----
  bool IdentList(std::vector<std::string>* out, bool allow_desc,
                 std::vector<std::pair<std::string, bool>>* sort) {
    SkipSpace();
    bool paren = Peek() == '(';
    if (paren) ++pos_;
    for (;;) {
      SkipSpace();
      if (paren && Peek() == ')') {
        ++pos_;
        break;
      }
      std::string id = Ident();
      if (id.empty()) {
        Fail("expected a field name");
        return false;
      }
      bool desc = false;
      if (allow_desc) {
        SkipSpace();
        if (Keyword("desc"))
          desc = true;
        else if (Keyword("asc"))
          desc = false;
      }
      if (out) out->push_back(id);
      if (sort) sort->emplace_back(id, desc);
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (paren) {
        if (Peek() != ')') {
          Fail("expected ',' or ')'");
          return false;
        }
        ++pos_;
      }
      break;
    }
    return true;
  }

  bool Number(int64_t* n) {
    SkipSpace();
    std::string w = Ident();
    char* end = nullptr;
    long long v = std::strtoll(w.c_str(), &end, 10);
    if (w.empty() || *end != '\0' || v < 0) {
      Fail("expected a non-negative integer");
      return false;
    }
    *n = v;
    return true;
  }

  void ParsePipe(Query* q) {
    SkipSpace();
    Pipe p;
    if (Keyword("stats")) {
      p.kind = Pipe::kStats;
      SkipSpace();
      if (Keyword("by")) {
        if (!IdentList(&p.by, false, nullptr)) return;
      }
      for (;;) {
        SkipSpace();
        StatFunc f;
        f.func = Ident();
        if (f.func != "count" && f.func != "count_uniq" && f.func != "sum" && f.func != "min" &&
            f.func != "max" && f.func != "avg") {
          Fail("expected a stats function: count, count_uniq, sum, min, max or avg");
          return;
        }
        SkipSpace();
        if (Peek() != '(') {
          Fail("expected '('");
          return;
        }
        ++pos_;
        SkipSpace();
        f.field = Ident();
        SkipSpace();
        if (Peek() != ')') {
          Fail("expected ')'");
          return;
        }
        ++pos_;
        if (f.func != "count" && f.field.empty()) {
          Fail(f.func + "() needs a field");
          return;
        }
        f.name = f.func + "(" + f.field + ")";
        SkipSpace();
        if (Keyword("as")) {
          SkipSpace();
          f.name = Ident();
          if (f.name.empty()) {
            Fail("expected a name after 'as'");
            return;
          }
        }
        p.funcs.push_back(std::move(f));
        SkipSpace();
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        break;
      }
      SkipSpace();
      if (Keyword("by")) {
        if (!p.by.empty()) {
          Fail("'by' given twice");
          return;
        }
        if (!IdentList(&p.by, false, nullptr)) return;
      }
    } else if (Keyword("sort")) {
      p.kind = Pipe::kSort;
      SkipSpace();
      if (!Keyword("by")) {
        Fail("expected 'by' after sort");
        return;
      }
      if (!IdentList(nullptr, true, &p.sort)) return;
    } else if (Keyword("limit") || Keyword("head")) {
      p.kind = Pipe::kLimit;
      if (!Number(&p.n)) return;
    } else if (Keyword("offset")) {
      p.kind = Pipe::kOffset;
      if (!Number(&p.n)) return;
    } else if (Keyword("fields")) {
      p.kind = Pipe::kFields;
      if (!IdentList(&p.fields, false, nullptr)) return;
    } else {
      Fail("expected a pipe: stats, sort, limit, offset or fields");
      return;
    }
    q->pipes.push_back(std::move(p));
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  int depth_guard_ = 0;
  std::string err_;
};

}  // namespace

bool ParseDurationNs(std::string_view s, int64_t* ns) {
  if (s.empty()) return false;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t b = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == b) return false;
    double v = std::strtod(std::string(s.substr(b, i - b)).c_str(), nullptr);
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(u, i - u);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else if (unit == "d")
      mult = 86400e9;
    else if (unit == "w")
      mult = 7 * 86400e9;
    else if (unit == "y")
      mult = 365 * 86400e9;
    else
      return false;
    double add = v * mult;
    if (add > 9e18 || total + add > 9e18) return false;
    total += static_cast<int64_t>(add);
  }
  *ns = total;
  return true;
}

Result<Query> ParseLogQuery(std::string_view text) {
  if (text.size() > 64 * 1024) return Status::InvalidArgument("log query longer than 64 KiB");
  return Parser(text).Run();
}

int FuzzLogQueryParser(const uint8_t* data, size_t size) {
  auto q = ParseLogQuery(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)q;
  return 0;
}

}  // namespace kansoku::logs::query
