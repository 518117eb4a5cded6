#pragma once
// PromQL lexer: turns query text into tokens. Context-free: keywords are returned as
// identifiers and the parser decides (PromQL keywords are contextual and case-insensitive).
//
// Thread safety: a Lexer is used by one thread; it borrows the input, which must outlive it.
// Errors: a kError token carries the message; lexing stops there.
#include <string>
#include <string_view>
#include <vector>

namespace kansoku::query {

enum class Tok : unsigned char {
  kEOF,
  kError,
  kIdentifier,
  kNumber,
  kDuration,
  kString,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kComma,
  kColon,
  kAt,
  kAssign,  // =
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlC,
  kNeq,
  kLss,
  kLte,
  kGtr,
  kGte,
  kEqlRegex,
  kNeqRegex,
};

struct Token {
  Tok type = Tok::kEOF;
  std::string_view text;  // raw text (strings include their quotes)
  int pos = 0;            // byte offset
  std::string error;      // for kError
};

// A human description for "unexpected X" messages, e.g. "number", "\")\"", "end of input".
std::string DescribeToken(const Token& t);

// Lexes the whole input. The last token is kEOF or kError.
std::vector<Token> Lex(std::string_view input);

// Parses a PromQL duration such as "1h30m" or "500ms" into ms. False if malformed.
bool ParseDurationMs(std::string_view s, int64_t* ms);

// Unquotes a PromQL string literal (", ' or ` quoted, with Go escapes). False and an error
// message if malformed.
bool UnquoteString(std::string_view quoted, std::string* out, std::string* error);

}  // namespace kansoku::query
