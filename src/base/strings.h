#pragma once
// Small string helpers shared by every subsystem (no allocation unless the result needs it).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kansoku {

std::string_view TrimSpace(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);
std::string HexEncode(std::string_view bytes);

// "15s", "1m30s", "250ms", "2h", "1d", plain seconds "30" -> milliseconds.
Result<int64_t> ParseDurationMs(std::string_view s);
// "512", "64KiB", "10MB", "1GiB" (KB/MB/GB are decimal, KiB/MiB/GiB binary) -> bytes.
Result<int64_t> ParseByteSize(std::string_view s);
// 1536 -> "1.5KiB"; used in error messages that name a limit.
std::string FormatByteSize(int64_t bytes);

// Percent-decoding of a URL query component ('+' is a space).
std::string UrlDecode(std::string_view s);
// Percent-encoding for a URL query component or path segment: RFC 3986 unreserved characters
// (ALPHA DIGIT - . _ ~) stay, every other byte becomes %XX (upper-case hex).
std::string UrlEncode(std::string_view s);
// Finds the value of key in "a=1&b=2"; false if absent.
bool QueryParam(std::string_view query, std::string_view key, std::string* value);

}  // namespace kansoku
