#include "query/parser/parser.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "query/parser/lexer.h"

namespace kansoku::query {
namespace {

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Binding power of binary operators (higher binds tighter).
constexpr int kPowPrec = 6;

struct ParseFailure {};

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), toks_(Lex(input)) {}

  Result<ExprPtr> ParseTop() {
    ExprPtr e = ParseBinary(0);
    if (!error_.ok()) return error_;
    if (Peek().type != Tok::kEOF) {
      Unexpected(Peek(), "");
      return error_;
    }
    return e;
  }

  Result<std::vector<tsdb::Matcher>> ParseSelectorOnly() {
    ExprPtr e = ParseBinary(0);
    if (!error_.ok()) return error_;
    if (Peek().type != Tok::kEOF) {
      Unexpected(Peek(), "");
      return error_;
    }
    if (e->kind != ExprKind::kVectorSelector) {
      return Status::InvalidArgument("1:1: parse error: expected vector selector, got " +
                                     std::string(ValueTypeName(e->Type())));
    }
    return static_cast<VectorSelector*>(e.get())->matchers;
  }

 private:
  // ---- error helpers ----
  std::string PosString(int pos) const {
    int line = 1, col = 1;
    for (int i = 0; i < pos && i < static_cast<int>(input_.size()); ++i) {
      if (input_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return std::to_string(line) + ":" + std::to_string(col);
  }
  void Fail(int pos, const std::string& msg) {
    if (error_.ok()) error_ = Status::InvalidArgument(PosString(pos) + ": parse error: " + msg);
  }
  // "unexpected <token>[ in <context>][, expected <expected>]", as Prometheus words it.
  void Unexpected(const Token& t, const std::string& expected, const std::string& context = "") {
    if (t.type == Tok::kError) {
      Fail(t.pos, t.error);
      return;
    }
    std::string msg = "unexpected " + DescribeToken(t);
    if (!context.empty()) msg += " in " + context;
    if (!expected.empty()) msg += ", expected " + expected;
    Fail(t.pos, msg);
  }
  bool failed() const { return !error_.ok(); }
  static constexpr int kMaxNesting = 256;
  int depth_ = 0;  // ParseBinary calls in progress

  // ---- token helpers ----
  const Token& Peek(size_t k = 0) const {
    size_t i = p_ + k;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  const Token& Next() {
    const Token& t = Peek();
    if (p_ < toks_.size() - 1) ++p_;
    return t;
  }
  bool Expect(Tok type, const std::string& what) {
    if (Peek().type == Tok::kEOF && type == Tok::kRParen) {
      Fail(Peek().pos, "unclosed left parenthesis");
      return false;
    }
    if (Peek().type == Tok::kEOF && type == Tok::kRBracket) {
      Fail(Peek().pos, "unclosed left bracket");
      return false;
    }
    if (Peek().type != type) {
      Unexpected(Peek(), what);
      return false;
    }
    Next();
    return true;
  }
  bool PeekKeyword(std::string_view kw, size_t k = 0) const {
    return Peek(k).type == Tok::kIdentifier && EqualFold(Peek(k).text, kw);
  }

  // ---- binary expressions ----
  struct OpInfo {
    BinOp op;
    int prec;
  };
  std::optional<OpInfo> PeekBinOp() const {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kAdd:
        return OpInfo{BinOp::kAdd, 4};
      case Tok::kSub:
        return OpInfo{BinOp::kSub, 4};
      case Tok::kMul:
        return OpInfo{BinOp::kMul, 5};
      case Tok::kDiv:
        return OpInfo{BinOp::kDiv, 5};
      case Tok::kMod:
        return OpInfo{BinOp::kMod, 5};
      case Tok::kPow:
        return OpInfo{BinOp::kPow, kPowPrec};
      case Tok::kEqlC:
        return OpInfo{BinOp::kEql, 3};
      case Tok::kNeq:
        return OpInfo{BinOp::kNeq, 3};
      case Tok::kLss:
        return OpInfo{BinOp::kLss, 3};
      case Tok::kLte:
        return OpInfo{BinOp::kLte, 3};
      case Tok::kGtr:
        return OpInfo{BinOp::kGtr, 3};
      case Tok::kGte:
        return OpInfo{BinOp::kGte, 3};
      case Tok::kIdentifier:
        if (EqualFold(t.text, "and")) return OpInfo{BinOp::kAnd, 2};
        if (EqualFold(t.text, "unless")) return OpInfo{BinOp::kUnless, 2};
        if (EqualFold(t.text, "or")) return OpInfo{BinOp::kOr, 1};
        if (EqualFold(t.text, "atan2")) return OpInfo{BinOp::kAtan2, 5};
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  ExprPtr ParseBinary(int min_prec) {
    // Every nesting (parentheses, unary operators, arguments, the right side of '^') comes
    // through here: bounded, so a query of thousands of '(' is a parse error, not a stack
    // overflow of the parser (or of printing and evaluating the tree).
    if (depth_ >= kMaxNesting) {
      Fail(Peek().pos,
           "expression nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)");
      return nullptr;
    }
    ++depth_;
    struct Leave {
      int* d;
      ~Leave() { --*d; }
    } leave{&depth_};
    ExprPtr lhs = ParseUnary();
    if (failed()) return nullptr;
    while (true) {
      auto op = PeekBinOp();
      if (!op || op->prec < min_prec) break;
      const Token& op_tok = Next();
      auto b = std::make_unique<BinaryExpr>();
      b->op = op->op;
      b->pos.start = lhs->pos.start;
      if (PeekKeyword("bool")) {
        Next();
        b->return_bool = true;
      }
      bool saw_matching = false;
      if (PeekKeyword("on") || PeekKeyword("ignoring")) {
        saw_matching = true;
        b->matching.on = EqualFold(Next().text, "on");
        if (!ParseLabelList(&b->matching.matching_labels)) return nullptr;
        if (PeekKeyword("group_left") || PeekKeyword("group_right")) {
          b->matching.card = EqualFold(Next().text, "group_left") ? Cardinality::kManyToOne
                                                                  : Cardinality::kOneToMany;
          if (Peek().type == Tok::kLParen) {
            if (!ParseLabelList(&b->matching.include)) return nullptr;
          }
        }
      } else if (PeekKeyword("group_left") || PeekKeyword("group_right")) {
        Unexpected(Peek(), "");
        return nullptr;
      }
      int next_min = op->prec == kPowPrec ? op->prec : op->prec + 1;
      ExprPtr rhs = ParseBinary(next_min);
      if (failed()) return nullptr;
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      b->pos.end = b->rhs->pos.end;
      if (!CheckBinary(b.get(), op_tok, saw_matching)) return nullptr;
      lhs = std::move(b);
    }
    return lhs;
  }

  bool CheckBinary(BinaryExpr* b, const Token& op_tok, bool saw_matching) {
    ValueType lt = b->lhs->Type(), rt = b->rhs->Type();
    auto is_sv = [](ValueType t) { return t == ValueType::kScalar || t == ValueType::kVector; };
    int pos = b->pos.start;
    if (b->return_bool && !IsComparison(b->op)) {
      Fail(op_tok.pos, "bool modifier can only be used on comparison operators");
      return false;
    }
    if (!is_sv(lt) || !is_sv(rt)) {
      Fail(pos, "binary expression must contain only scalar and instant vector types");
      return false;
    }
    bool both_vec = lt == ValueType::kVector && rt == ValueType::kVector;
    if (IsComparison(b->op) && lt == ValueType::kScalar && rt == ValueType::kScalar &&
        !b->return_bool) {
      Fail(pos, "comparisons between scalars must use BOOL modifier");
      return false;
    }
    if (IsSetOp(b->op)) {
      if (!both_vec) {
        Fail(pos, "set operator \"" + std::string(BinOpName(b->op)) +
                      "\" not allowed in binary scalar expression");
        return false;
      }
      if (b->matching.card == Cardinality::kManyToOne ||
          b->matching.card == Cardinality::kOneToMany) {
        Fail(pos, "no grouping allowed for \"" + std::string(BinOpName(b->op)) + "\" operation");
        return false;
      }
      b->matching.card = Cardinality::kManyToMany;
    }
    if (!both_vec && saw_matching) {
      Fail(pos, "vector matching only allowed between instant vectors");
      return false;
    }
    b->has_matching = both_vec;
    if (b->matching.on) {
      for (const auto& l : b->matching.include) {
        for (const auto& m : b->matching.matching_labels) {
          if (l == m) {
            Fail(pos, "label \"" + l + "\" must not occur in ON and GROUP clause at once");
            return false;
          }
        }
      }
    }
    return true;
  }

  ExprPtr ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      Next();
      bool negate = t.type == Tok::kSub;
      int start = t.pos;
      ExprPtr operand = ParseBinary(kPowPrec);
      if (failed()) return nullptr;
      if (operand->kind == ExprKind::kNumber) {
        auto* n = static_cast<NumberLiteral*>(operand.get());
        if (negate) n->value = -n->value;
        n->pos.start = start;
        return operand;
      }
      ValueType ot = operand->Type();
      if (ot != ValueType::kScalar && ot != ValueType::kVector) {
        Fail(start,
             "unary expression only allowed on expressions of type scalar or instant vector, got "
             "\"" +
                 std::string(ValueTypeName(ot)) + "\"");
        return nullptr;
      }
      auto u = std::make_unique<UnaryExpr>();
      u->negate = negate;
      u->pos = {start, operand->pos.end};
      u->expr = std::move(operand);
      return u;
    }
    ExprPtr e = ParsePrimary();
    if (failed()) return nullptr;
    return ParsePostfix(std::move(e));
  }

  // ---- primary expressions ----
  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber: {
        Next();
        auto n = std::make_unique<NumberLiteral>();
        std::string s(t.text);
        char* end = nullptr;
        n->value = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0') {
          Fail(t.pos, "bad number syntax: \"" + s + "\"");
          return nullptr;
        }
        n->pos = {t.pos, t.pos + static_cast<int>(t.text.size())};
        return n;
      }
      case Tok::kDuration: {
        Next();
        int64_t ms = 0;
        if (!ParseDurationMs(t.text, &ms)) {
          Fail(t.pos, "bad duration syntax: \"" + std::string(t.text) + "\"");
          return nullptr;
        }
        auto n = std::make_unique<NumberLiteral>();
        n->value = static_cast<double>(ms) / 1000.0;
        n->pos = {t.pos, t.pos + static_cast<int>(t.text.size())};
        return n;
      }
      case Tok::kString: {
        Next();
        auto s = std::make_unique<StringLiteral>();
        std::string err;
        if (!UnquoteString(t.text, &s->value, &err)) {
          Fail(t.pos, err);
          return nullptr;
        }
        s->pos = {t.pos, t.pos + static_cast<int>(t.text.size())};
        return s;
      }
      case Tok::kLParen: {
        Next();
        auto p = std::make_unique<ParenExpr>();
        p->pos.start = t.pos;
        p->expr = ParseBinary(0);
        if (failed()) return nullptr;
        p->pos.end = Peek().pos + 1;
        if (!Expect(Tok::kRParen, "\")\"")) return nullptr;
        return p;
      }
      case Tok::kLBrace: {
        auto vs = std::make_unique<VectorSelector>();
        vs->pos.start = t.pos;
        if (!ParseMatchers(vs.get())) return nullptr;
        if (!FinishSelector(vs.get())) return nullptr;
        return vs;
      }
      case Tok::kIdentifier:
        return ParseIdentifierExpr();
      default:
        Unexpected(t, "");
        return nullptr;
    }
  }

  ExprPtr ParseIdentifierExpr() {
    const Token& t = Next();
    std::string_view name = t.text;
    bool call_follows = Peek().type == Tok::kLParen;
    if (auto agg = LookupAggOp(name);
        agg && (call_follows || PeekKeyword("by") || PeekKeyword("without"))) {
      return ParseAggregate(*agg, t);
    }
    if (call_follows) return ParseCall(t);
    if (EqualFold(name, "inf") || EqualFold(name, "nan")) {
      auto n = std::make_unique<NumberLiteral>();
      n->value = EqualFold(name, "inf") ? HUGE_VAL : std::nan("");
      n->pos = {t.pos, t.pos + static_cast<int>(name.size())};
      return n;
    }
    for (std::string_view kw : {"by", "without", "on", "ignoring", "group_left", "group_right",
                                "bool", "offset", "and", "or", "unless", "atan2"}) {
      if (EqualFold(name, kw)) {
        Unexpected(t, "");
        return nullptr;
      }
    }
    if (LookupAggOp(name)) {
      Unexpected(Peek(), "\"(\"");
      return nullptr;
    }
    auto vs = std::make_unique<VectorSelector>();
    vs->pos = {t.pos, t.pos + static_cast<int>(name.size())};
    vs->name = std::string(name);
    if (Peek().type == Tok::kLBrace) {
      if (!ParseMatchers(vs.get())) return nullptr;
    }
    auto m =
        tsdb::Matcher::Create(tsdb::MatchType::kEqual, std::string(tsdb::kMetricName), vs->name);
    KANSOKU_CHECK(m.ok(), "BUG: equality matcher failed");
    vs->matchers.insert(vs->matchers.begin(), std::move(m).value());
    if (!FinishSelector(vs.get())) return nullptr;
    return vs;
  }

  bool FinishSelector(VectorSelector* vs) {
    int name_matchers = 0;
    for (const auto& m : vs->matchers) {
      if (m.name() == tsdb::kMetricName) ++name_matchers;
    }
    if (!vs->name.empty() && name_matchers > 1) {
      for (const auto& m : vs->matchers) {
        if (m.name() == tsdb::kMetricName &&
            !(m.type() == tsdb::MatchType::kEqual && m.value() == vs->name)) {
          Fail(vs->pos.start,
               "metric name must not be set twice: \"" + vs->name + "\" or \"" + m.value() + "\"");
          return false;
        }
      }
    }
    bool non_empty = false;
    for (const auto& m : vs->matchers) {
      if (!m.MatchesEmpty()) non_empty = true;
    }
    if (!non_empty) {
      Fail(vs->pos.start, "vector selector must contain at least one non-empty matcher");
      return false;
    }
    return true;
  }

  // Parses {a="b", ...} into vs->matchers; a bare quoted string sets the metric name.
  bool ParseMatchers(VectorSelector* vs) {
    if (!Expect(Tok::kLBrace, "\"{\"")) return false;
    while (Peek().type != Tok::kRBrace) {
      if (Peek().type == Tok::kEOF) {
        Fail(Peek().pos, "unexpected end of input inside braces");
        return false;
      }
      const Token& lt = Next();
      std::string label;
      if (lt.type == Tok::kIdentifier) {
        if (lt.text.find(':') != std::string_view::npos) {
          Unexpected(lt, "", "label matching");
          return false;
        }
        label = std::string(lt.text);
      } else if (lt.type == Tok::kString) {
        std::string err;
        if (!UnquoteString(lt.text, &label, &err)) {
          Fail(lt.pos, err);
          return false;
        }
        if (Peek().type == Tok::kComma || Peek().type == Tok::kRBrace) {
          if (!vs->name.empty()) {
            Fail(lt.pos,
                 "metric name must not be set twice: \"" + vs->name + "\" or \"" + label + "\"");
            return false;
          }
          vs->name = label;
          auto m =
              tsdb::Matcher::Create(tsdb::MatchType::kEqual, std::string(tsdb::kMetricName), label);
          vs->matchers.push_back(std::move(m).value());
          if (Peek().type == Tok::kComma) Next();
          continue;
        }
      } else {
        Unexpected(lt, "label name", "label matching");
        return false;
      }
      const Token& op = Next();
      tsdb::MatchType mt;
      switch (op.type) {
        case Tok::kAssign:
          mt = tsdb::MatchType::kEqual;
          break;
        case Tok::kNeq:
          mt = tsdb::MatchType::kNotEqual;
          break;
        case Tok::kEqlRegex:
          mt = tsdb::MatchType::kRegexMatch;
          break;
        case Tok::kNeqRegex:
          mt = tsdb::MatchType::kRegexNoMatch;
          break;
        default:
          Unexpected(op, "\"=\", \"!=\", \"=~\" or \"!~\"", "label matching");
          return false;
      }
      const Token& vt = Next();
      if (vt.type == Tok::kEOF) {
        Fail(vt.pos, "unexpected end of input inside braces");
        return false;
      }
      if (vt.type != Tok::kString) {
        Fail(vt.pos, "unexpected " + DescribeToken(vt) + " in label matching, expected string");
        return false;
      }
      std::string value, err;
      if (!UnquoteString(vt.text, &value, &err)) {
        Fail(vt.pos, err);
        return false;
      }
      auto m = tsdb::Matcher::Create(mt, label, value);
      if (!m.ok()) {
        Fail(vt.pos, m.status().message());
        return false;
      }
      vs->matchers.push_back(std::move(m).value());
      if (Peek().type == Tok::kComma) {
        Next();
      } else if (Peek().type == Tok::kEOF) {
        Fail(Peek().pos, "unexpected end of input inside braces");
        return false;
      } else if (Peek().type != Tok::kRBrace) {
        Unexpected(Peek(), "\",\" or \"}\"", "label matching");
        return false;
      }
    }
    vs->pos.end = Peek().pos + 1;
    Next();  // '}'
    return true;
  }

  // (a, b, "c") for by/without/on/ignoring/group_x.
  bool ParseLabelList(std::vector<std::string>* out) {
    if (!Expect(Tok::kLParen, "\"(\"")) return false;
    while (Peek().type != Tok::kRParen) {
      const Token& t = Next();
      if (t.type == Tok::kIdentifier && t.text.find(':') == std::string_view::npos) {
        out->emplace_back(t.text);
      } else if (t.type == Tok::kString) {
        std::string s, err;
        if (!UnquoteString(t.text, &s, &err)) {
          Fail(t.pos, err);
          return false;
        }
        out->push_back(std::move(s));
      } else {
        Unexpected(t, "label", "grouping opts");
        return false;
      }
      if (Peek().type == Tok::kComma) {
        Next();
      } else if (Peek().type != Tok::kRParen) {
        Unexpected(Peek(), "\",\" or \")\"", "grouping opts");
        return false;
      }
    }
    Next();
    return true;
  }

  ExprPtr ParseAggregate(AggOp op, const Token& name_tok) {
    auto a = std::make_unique<AggregateExpr>();
    a->op = op;
    a->pos.start = name_tok.pos;
    auto parse_grouping = [&]() -> bool {
      if (PeekKeyword("by") || PeekKeyword("without")) {
        if (a->has_grouping_clause) {
          Unexpected(Peek(), "");
          return false;
        }
        a->without = EqualFold(Next().text, "without");
        a->has_grouping_clause = true;
        return ParseLabelList(&a->grouping);
      }
      return true;
    };
    if (!parse_grouping()) return nullptr;
    if (!Expect(Tok::kLParen, "\"(\"")) return nullptr;
    std::vector<ExprPtr> args;
    if (Peek().type != Tok::kRParen) {
      while (true) {
        args.push_back(ParseBinary(0));
        if (failed()) return nullptr;
        if (Peek().type == Tok::kComma) {
          Next();
          continue;
        }
        break;
      }
    }
    a->pos.end = Peek().pos + 1;
    if (!Expect(Tok::kRParen, "\",\" or \")\"")) return nullptr;
    if (!parse_grouping()) return nullptr;
    size_t want = AggOpHasParam(op) ? 2 : 1;
    if (args.size() != want) {
      Fail(a->pos.start, "wrong number of arguments for aggregate expression provided, expected " +
                             std::to_string(want) + ", got " + std::to_string(args.size()));
      return nullptr;
    }
    if (want == 2) a->param = std::move(args[0]);
    a->expr = std::move(args.back());
    if (a->expr->Type() != ValueType::kVector) {
      Fail(a->pos.start, "expected type instant vector in aggregation expression, got " +
                             std::string(ValueTypeName(a->expr->Type())));
      return nullptr;
    }
    if (a->param) {
      ValueType want_t = op == AggOp::kCountValues ? ValueType::kString : ValueType::kScalar;
      if (a->param->Type() != want_t) {
        Fail(a->pos.start, "expected type " + std::string(ValueTypeName(want_t)) +
                               " in aggregation parameter, got " +
                               std::string(ValueTypeName(a->param->Type())));
        return nullptr;
      }
    }
    return a;
  }

  ExprPtr ParseCall(const Token& name_tok) {
    const FunctionInfo* f = LookupFunction(name_tok.text);
    if (f == nullptr) {
      Fail(name_tok.pos, "unknown function with name \"" + std::string(name_tok.text) + "\"");
      return nullptr;
    }
    auto c = std::make_unique<Call>();
    c->func = f;
    c->pos.start = name_tok.pos;
    Next();  // (
    if (Peek().type != Tok::kRParen) {
      while (true) {
        c->args.push_back(ParseBinary(0));
        if (failed()) return nullptr;
        if (Peek().type == Tok::kComma) {
          Next();
          continue;
        }
        break;
      }
    }
    c->pos.end = Peek().pos + 1;
    if (!Expect(Tok::kRParen, "\",\" or \")\"")) return nullptr;
    int n = static_cast<int>(c->args.size());
    int fixed = static_cast<int>(f->arg_types.size());
    std::string fname(f->name);
    if (f->variadic == 0 && n != fixed) {
      Fail(c->pos.start, "expected " + std::to_string(fixed) + " argument(s) in call to \"" +
                             fname + "\", got " + std::to_string(n));
      return nullptr;
    }
    if (f->variadic > 0 && (n < fixed - f->variadic || n > fixed)) {
      Fail(c->pos.start, "expected at most " + std::to_string(fixed) +
                             " argument(s) in call to \"" + fname + "\", got " + std::to_string(n));
      return nullptr;
    }
    if (f->variadic < 0 && n < fixed - 1) {
      Fail(c->pos.start, "expected at least " + std::to_string(fixed - 1) +
                             " argument(s) in call to \"" + fname + "\", got " + std::to_string(n));
      return nullptr;
    }
    for (int i = 0; i < n; ++i) {
      ValueType want = f->arg_types[std::min(i, fixed - 1)];
      ValueType got = c->args[i]->Type();
      if (got != want) {
        Fail(c->args[i]->pos.start, "expected type " + std::string(ValueTypeName(want)) +
                                        " in call to function \"" + fname + "\", got " +
                                        std::string(ValueTypeName(got)));
        return nullptr;
      }
    }
    return c;
  }

  // ---- postfix: [range], [range:step], offset, @ ----
  bool ParseDurationOrNumber(int64_t* ms, bool allow_negative) {
    bool neg = false;
    if (allow_negative && (Peek().type == Tok::kSub || Peek().type == Tok::kAdd)) {
      neg = Next().type == Tok::kSub;
    }
    const Token& t = Next();
    if (t.type == Tok::kDuration) {
      if (!ParseDurationMs(t.text, ms)) {
        Fail(t.pos, "not a valid duration string: \"" + std::string(t.text) + "\"");
        return false;
      }
    } else if (t.type == Tok::kNumber) {
      double secs = std::strtod(std::string(t.text).c_str(), nullptr);
      if (!std::isfinite(secs) || std::fabs(secs) > 9.2e9) {  // time.Duration range
        Fail(t.pos, "duration out of range");
        return false;
      }
      *ms = static_cast<int64_t>(std::llround(secs * 1000));
    } else {
      Unexpected(t, "duration");
      return false;
    }
    if (neg) *ms = -*ms;
    return true;
  }

  TimeModifiers* ModsOf(Expr* e) {
    switch (e->kind) {
      case ExprKind::kVectorSelector:
        return &static_cast<VectorSelector*>(e)->mods;
      case ExprKind::kMatrixSelector:
        return &static_cast<MatrixSelector*>(e)->vs->mods;
      case ExprKind::kSubquery:
        return &static_cast<SubqueryExpr*>(e)->mods;
      default:
        return nullptr;
    }
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    bool has_offset = false, has_at = false;
    while (!failed()) {
      const Token& t = Peek();
      if (t.type == Tok::kLBracket) {
        Next();
        int64_t range = 0;
        if (!ParseDurationOrNumber(&range, false)) return nullptr;
        if (Peek().type == Tok::kColon) {
          Next();
          int64_t step = 0;
          if (Peek().type != Tok::kRBracket) {
            if (!ParseDurationOrNumber(&step, false)) return nullptr;
          }
          int end = Peek().pos + 1;
          if (!Expect(Tok::kRBracket, "\"]\"")) return nullptr;
          if (e->Type() != ValueType::kVector) {
            Fail(e->pos.start, "subquery is only allowed on instant vector, got " +
                                   std::string(ValueTypeName(e->Type())) + " in \"" + e->String() +
                                   "[" + FormatDuration(range) + ":" +
                                   (step ? FormatDuration(step) : "") + "]\" instead");
            return nullptr;
          }
          if (range <= 0) {
            Fail(t.pos, "subquery range must be positive");  // unreachable for durations
            return nullptr;
          }
          auto sq = std::make_unique<SubqueryExpr>();
          sq->pos = {e->pos.start, end};
          sq->range_ms = range;
          sq->step_ms = step;
          sq->expr = std::move(e);
          e = std::move(sq);
          has_offset = has_at = false;
          continue;
        }
        int end = Peek().pos + 1;
        if (!Expect(Tok::kRBracket, "\"]\" or \":\"")) return nullptr;
        if (e->kind != ExprKind::kVectorSelector) {
          Fail(e->pos.start, "ranges only allowed for vector selectors");
          return nullptr;
        }
        if (has_offset || has_at) {
          Fail(t.pos, has_offset ? "no offset modifiers allowed before range"
                                 : "no @ modifiers allowed before range");
          return nullptr;
        }
        if (range <= 0) {
          Fail(t.pos, "range must be greater than zero");
          return nullptr;
        }
        auto ms = std::make_unique<MatrixSelector>();
        ms->pos = {e->pos.start, end};
        ms->range_ms = range;
        ms->vs.reset(static_cast<VectorSelector*>(e.release()));
        e = std::move(ms);
        continue;
      }
      if (PeekKeyword("offset")) {
        Next();
        TimeModifiers* mods = ModsOf(e.get());
        if (mods == nullptr) {
          Fail(t.pos,
               "offset modifier must be preceded by an instant vector selector or range vector "
               "selector or a subquery");
          return nullptr;
        }
        if (has_offset) {
          Fail(t.pos, "offset may not be set multiple times");
          return nullptr;
        }
        if (!ParseDurationOrNumber(&mods->offset_ms, true)) return nullptr;
        has_offset = true;
        continue;
      }
      if (t.type == Tok::kAt) {
        Next();
        TimeModifiers* mods = ModsOf(e.get());
        if (mods == nullptr) {
          Fail(t.pos,
               "@ modifier must be preceded by an instant vector selector or range vector selector "
               "or a subquery");
          return nullptr;
        }
        if (has_at) {
          Fail(t.pos, "@ <timestamp> may not be set multiple times");
          return nullptr;
        }
        if (PeekKeyword("start") || PeekKeyword("end")) {
          mods->at = EqualFold(Next().text, "start") ? AtKind::kStart : AtKind::kEnd;
          if (!Expect(Tok::kLParen, "\"(\"") || !Expect(Tok::kRParen, "\")\"")) return nullptr;
        } else {
          bool neg = false;
          if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) neg = Next().type == Tok::kSub;
          const Token& nt = Next();
          double secs;
          if (nt.type == Tok::kNumber) {
            secs = std::strtod(std::string(nt.text).c_str(), nullptr);
          } else if (nt.type == Tok::kDuration) {
            int64_t ms;
            if (!ParseDurationMs(nt.text, &ms)) {
              Fail(nt.pos, "bad duration");
              return nullptr;
            }
            secs = static_cast<double>(ms) / 1000;
          } else if (nt.type == Tok::kIdentifier &&
                     (EqualFold(nt.text, "inf") || EqualFold(nt.text, "nan"))) {
            secs = HUGE_VAL;
          } else {
            Unexpected(nt, "number or \"start()\" or \"end()\"");
            return nullptr;
          }
          if (neg) secs = -secs;
          if (!std::isfinite(secs) || std::fabs(secs * 1000) > 4.6e18) {
            Fail(nt.pos, "timestamp out of bounds for @ modifier: " + std::string(nt.text));
            return nullptr;
          }
          mods->at = AtKind::kTimestamp;
          mods->at_ms = static_cast<int64_t>(std::llround(secs * 1000));
        }
        has_at = true;
        continue;
      }
      break;
    }
    return failed() ? nullptr : std::move(e);
  }

  std::string_view input_;
  std::vector<Token> toks_;
  size_t p_ = 0;
  Status error_;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view input) {
  Parser p(input);
  return p.ParseTop();
}

Result<std::vector<tsdb::Matcher>> ParseMetricSelector(std::string_view input) {
  Parser p(input);
  return p.ParseSelectorOnly();
}

}  // namespace kansoku::query
