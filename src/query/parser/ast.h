#pragma once
// PromQL abstract syntax tree, as Prometheus 3.x defines the language (float samples only).
//
// What: the node types the parser produces and the engine evaluates, the static function
// table, and String() which prints an expression back in canonical PromQL (useful for tests
// and error messages).
// Ownership: every node owns its children (unique_ptr); an Expr tree is an immutable value once
// ParseExpr has returned it. Thread safety: immutable trees may be read from many threads.
// Errors: none here; see parser.h.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/storage.h"

namespace kansoku::query {

enum class ValueType : unsigned char { kNone, kScalar, kVector, kMatrix, kString };
// "scalar", "instant vector", "range vector", "string" as Prometheus prints them in errors.
std::string_view ValueTypeName(ValueType t);
// "scalar", "vector", "matrix", "string" as the HTTP API prints resultType.
std::string_view ValueTypeApiName(ValueType t);

// Byte offsets [start, end) into the query text.
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class ExprKind : unsigned char {
  kNumber,
  kString,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kAggregate,
  kCall,
};

enum class BinOp : unsigned char {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};
std::string_view BinOpName(BinOp op);
bool IsComparison(BinOp op);
bool IsSetOp(BinOp op);

enum class AggOp : unsigned char {
  kSum,
  kAvg,
  kMin,
  kMax,
  kCount,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kQuantile,
  kCountValues,
  kLimitk,
  kLimitRatio,
};
std::string_view AggOpName(AggOp op);
// Parses an aggregation name case-insensitively.
std::optional<AggOp> LookupAggOp(std::string_view name);
bool AggOpHasParam(AggOp op);

// @ modifier: none, a fixed timestamp, or the query's start()/end().
enum class AtKind : unsigned char { kNone, kTimestamp, kStart, kEnd };

struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  ValueType Type() const;
  std::string String() const;

  ExprKind kind;
  PosRange pos;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(ExprKind::kNumber) {}
  double value = 0;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(ExprKind::kString) {}
  std::string value;
};

// Time modifiers shared by selectors and subqueries. Offsets and timestamps in ms.
struct TimeModifiers {
  int64_t offset_ms = 0;
  AtKind at = AtKind::kNone;
  int64_t at_ms = 0;  // for kTimestamp; the engine resolves start()/end()
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector) {}
  std::string name;  // metric name if given (also present as a matcher)
  std::vector<tsdb::Matcher> matchers;
  TimeModifiers mods;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector) {}
  std::unique_ptr<VectorSelector> vs;  // carries offset and @
  int64_t range_ms = 0;
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  int64_t step_ms = 0;  // 0: the engine's default subquery step
  TimeModifiers mods;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(ExprKind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::kUnary) {}
  bool negate = true;  // false for unary plus
  ExprPtr expr;
};

enum class Cardinality : unsigned char { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> matching_labels;  // on(...) or ignoring(...)
  bool on = false;                           // true: on(); false: ignoring() (or none)
  std::vector<std::string> include;          // group_left(...)/group_right(...) extra labels
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinOp op = BinOp::kAdd;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  bool has_matching = false;  // both sides are vectors: `matching` applies
  VectorMatching matching;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate) {}
  AggOp op = AggOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk/bottomk/quantile/count_values/limitk/limit_ratio
  std::vector<std::string> grouping;
  bool without = false;
  bool has_grouping_clause = false;  // for printing `by ()`
};

struct FunctionInfo {
  std::string_view name;
  std::vector<ValueType> arg_types;
  int variadic =
      0;  // 0: fixed; -1: any number of trailing args of the last type; n>0: up to n optional
  ValueType return_type = ValueType::kVector;
};
// nullptr for unknown names. Names are case-sensitive, as in Prometheus.
const FunctionInfo* LookupFunction(std::string_view name);

struct Call : Expr {
  Call() : Expr(ExprKind::kCall) {}
  const FunctionInfo* func = nullptr;
  std::vector<ExprPtr> args;
};

// Strips any number of enclosing parentheses.
const Expr* UnwrapParens(const Expr* e);

// Prints a duration in ms as Prometheus does ("1h30m", "500ms").
std::string FormatDuration(int64_t ms);
// Go-style quoted string.
std::string QuoteString(std::string_view s);

}  // namespace kansoku::query
