#pragma once
// Sentry envelope parsing (format: docs/design/errors.md section 3).
//
//   Envelope = Headers "\n" { ItemHeaders "\n" Payload ["\n"] }
//
// Headers are one-line JSON objects. An item with "length" has exactly that many payload bytes;
// without it the payload runs to the next "\n" (or the end). ParseEnvelope does not copy: every
// string_view points into the body, which must outlive the Envelope.
//
// Errors: InvalidArgument naming the item index and byte offset ("item 2 at byte 517: ...").
// On an error, *out still holds the envelope headers and the items parsed before the bad one.
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kansoku::errors {

struct EnvelopeItem {
  std::string type;          // "event", "attachment", ...; "" if the header lacked it
  std::string_view header;   // the item header JSON
  std::string_view payload;  // the payload bytes
  // Attachment fields (empty when absent).
  std::string filename;
  std::string content_type;
};

struct Envelope {
  std::string_view header;  // envelope header JSON
  std::string event_id;     // header "event_id" (as sent), or ""
  std::string dsn;          // header "dsn", or ""
  std::vector<EnvelopeItem> items;
};

// Parses body into *out. Envelope-level problems (bad header JSON, duplicate sent_at) and the
// first bad item are errors; items before a bad item are kept in out->items.
Status ParseEnvelope(std::string_view body, Envelope* out);

// Sentry data categories (rate limits, client reports). kNone: never limited.
enum class Category : uint8_t {
  kError,
  kDefault,
  kSecurity,
  kTransaction,
  kSpan,
  kSession,
  kAttachment,
  kMonitor,
  kLogItem,
  kInternal,
  kOther
};
Category ItemCategory(std::string_view item_type);
std::string_view CategoryName(Category c);

// Size limit of one item of this type in bytes (Sentry's documented limits).
size_t MaxItemBytes(std::string_view item_type);

}  // namespace kansoku::errors
