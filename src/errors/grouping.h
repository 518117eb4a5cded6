#pragma once
// Grouping: which issue an event belongs to (algorithm and version: docs/design/errors.md
// section 4). Order: the event's fingerprint (with {{ default }}), else in-app stack frames,
// else exception type + normalised value, else the normalised message. Synthetic exceptions
// (captureMessage) group by message.
//
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "errors/event.h"
#include "errors/fingerprint_rules.h"

namespace kansoku::errors {

// The version every new event is grouped with; stored with each event and issue.
inline constexpr uint8_t kGroupingVersion = 1;
std::string_view GroupingVersionName(uint8_t version);  // 1 -> "kansoku-1"

struct Grouping {
  std::string hash;  // 32 lowercase hex (XXH3-128)
  uint8_t version = kGroupingVersion;
  std::string basis;  // "fingerprint", "stacktrace", "exception", "message", "fallback"
  std::vector<std::string> components;  // what was hashed, for the API's "why grouped" view
  std::string title;                    // "TypeError: card declined ..." or the message
  std::string culprit;                  // "module in function" of the top frame, or transaction
};

// rules: the project's server-side fingerprint rules (may be null); a matching rule wins over
// the event's own fingerprint.
Grouping GroupEvent(const Event& e, const FingerprintRules* rules = nullptr);

// Replaces variable parts of a message with placeholders (<uuid>, <email>, <url>, <ip>, <hex>,
// <date>, <int>, <float>).
std::string NormalizeMessage(std::string_view s);
// "/srv/app/releases/3f2a9c1/app.py" -> "app.py"; revision hashes and versions replaced.
std::string NormalizeFilename(std::string_view s);

}  // namespace kansoku::errors
