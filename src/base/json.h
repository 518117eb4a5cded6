#pragma once
// JSON string escaping: the one implementation every kansoku JSON writer uses (API answers, JSON
// logs, error events, ingest reports).
//
// Output is always valid JSON text and valid UTF-8, whatever the input bytes are:
//   - '"' and '\\' are backslash-escaped; \b \f \n \r \t get their short escapes; every other
//     control character (U+0000..U+001F) and DEL (0x7f) is written as \u00XX;
//   - well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) is
//     copied unchanged;
//   - every byte that does not start a well-formed sequence (a stray continuation byte, a
//     truncated or overlong sequence, a surrogate, 0xF5..0xFF) becomes U+FFFD, one per byte.
// Thread safety: pure functions.
#include <string>
#include <string_view>

namespace kansoku {

// Appends the escaped contents of s to out (no surrounding quotes).
void AppendJsonEscaped(std::string& out, std::string_view s);
// True when AppendJsonEscaped copies s unchanged (printable ASCII other than '"' and '\\'): the
// caller may then copy it straight into its buffer.
bool JsonPlain(std::string_view s);
// Appends "s" (escaped, with the quotes) to out.
void AppendJsonString(std::string& out, std::string_view s);
// "s", escaped, with the quotes.
std::string JsonString(std::string_view s);

}  // namespace kansoku
