#include "errors/envelope.h"

#include <simdjson.h>

#include <charconv>

namespace kansoku::errors {
namespace {

std::string At(size_t index, size_t offset) {
  return "item " + std::to_string(index) + " at byte " + std::to_string(offset) + ": ";
}

// Finds the end of the line starting at pos (index of '\n' or body.size()).
size_t LineEnd(std::string_view body, size_t pos) {
  size_t nl = body.find('\n', pos);
  return nl == std::string_view::npos ? body.size() : nl;
}

}  // namespace

Status ParseEnvelope(std::string_view body, Envelope* out) {
  *out = Envelope{};
  thread_local simdjson::dom::parser parser;
  size_t end = LineEnd(body, 0);
  std::string_view header = body.substr(0, end);
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
  simdjson::dom::element h;
  if (parser.parse(header.data(), header.size(), true).get(h) != simdjson::SUCCESS ||
      !h.is_object()) {
    return Status::InvalidArgument(
        "envelope header (line 1) is not a JSON object: expected {\"event_id\":...}");
  }
  out->header = header;
  int sent_at = 0;
  for (auto field : h.get_object()) {
    std::string_view v;
    if (field.key == "sent_at") {
      if (++sent_at > 1) return Status::InvalidArgument("envelope header has sent_at twice");
    } else if (field.key == "event_id") {
      if (field.value.get_string().get(v) == simdjson::SUCCESS) out->event_id = std::string(v);
    } else if (field.key == "dsn") {
      if (field.value.get_string().get(v) == simdjson::SUCCESS) out->dsn = std::string(v);
    }
  }
  size_t pos = end < body.size() ? end + 1 : body.size();
  size_t index = 0;
  while (pos < body.size()) {
    // Blank lines between items (and a trailing newline) are skipped.
    if (body[pos] == '\n') {
      ++pos;
      continue;
    }
    if (body[pos] == '\r' && pos + 1 < body.size() && body[pos + 1] == '\n') {
      pos += 2;
      continue;
    }
    size_t item_start = pos;
    size_t hend = LineEnd(body, pos);
    std::string_view ih = body.substr(pos, hend - pos);
    if (!ih.empty() && ih.back() == '\r') ih.remove_suffix(1);
    simdjson::dom::element ie;
    if (parser.parse(ih.data(), ih.size(), true).get(ie) != simdjson::SUCCESS || !ie.is_object()) {
      return Status::InvalidArgument(At(index, item_start) +
                                     "item header is not a JSON object: expected "
                                     "{\"type\":\"event\",\"length\":N}");
    }
    EnvelopeItem item;
    item.header = ih;
    std::string_view s;
    if (ie["type"].get_string().get(s) == simdjson::SUCCESS) item.type = std::string(s);
    if (ie["filename"].get_string().get(s) == simdjson::SUCCESS) item.filename = std::string(s);
    if (ie["content_type"].get_string().get(s) == simdjson::SUCCESS) {
      item.content_type = std::string(s);
    }
    simdjson::dom::element len_el;
    bool has_length = ie["length"].get(len_el) == simdjson::SUCCESS && !len_el.is_null();
    size_t payload_start = hend < body.size() ? hend + 1 : body.size();
    if (has_length) {
      uint64_t len = 0;
      int64_t slen = 0;
      double dlen = 0;
      if (len_el.get_uint64().get(len) != simdjson::SUCCESS) {
        if (len_el.get_int64().get(slen) == simdjson::SUCCESS ||
            len_el.get_double().get(dlen) == simdjson::SUCCESS) {
          return Status::InvalidArgument(At(index, item_start) +
                                         "item length must be a non-negative integer");
        }
        return Status::InvalidArgument(At(index, item_start) + "item length is not a number");
      }
      if (len > body.size() - payload_start) {
        return Status::InvalidArgument(At(index, item_start) + "length " + std::to_string(len) +
                                       " runs past the end of the envelope (" +
                                       std::to_string(body.size() - payload_start) +
                                       " bytes left)");
      }
      item.payload = body.substr(payload_start, len);
      pos = payload_start + len;
      if (pos < body.size()) {
        if (body[pos] == '\n') {
          ++pos;
        } else if (body[pos] == '\r' && pos + 1 < body.size() && body[pos + 1] == '\n') {
          pos += 2;
        } else {
          return Status::InvalidArgument(At(index, item_start) + "payload of length " +
                                         std::to_string(len) +
                                         " is not followed by a newline (wrong length?)");
        }
      }
    } else {
      size_t pend = LineEnd(body, payload_start);
      item.payload = body.substr(payload_start, pend - payload_start);
      pos = pend < body.size() ? pend + 1 : body.size();
    }
    out->items.push_back(std::move(item));
    ++index;
  }
  return Status::Ok();
}

Category ItemCategory(std::string_view t) {
  if (t == "event") return Category::kError;
  if (t == "transaction") return Category::kTransaction;
  if (t == "span") return Category::kSpan;
  if (t == "session" || t == "sessions") return Category::kSession;
  if (t == "attachment") return Category::kAttachment;
  if (t == "check_in") return Category::kMonitor;
  if (t == "log") return Category::kLogItem;
  if (t == "client_report") return Category::kInternal;
  if (t == "user_report") return Category::kDefault;
  return Category::kOther;
}

std::string_view CategoryName(Category c) {
  switch (c) {
    case Category::kError:
      return "error";
    case Category::kDefault:
      return "default";
    case Category::kSecurity:
      return "security";
    case Category::kTransaction:
      return "transaction";
    case Category::kSpan:
      return "span";
    case Category::kSession:
      return "session";
    case Category::kAttachment:
      return "attachment";
    case Category::kMonitor:
      return "monitor";
    case Category::kLogItem:
      return "log_item";
    case Category::kInternal:
      return "internal";
    case Category::kOther:
      return "other";
  }
  return "other";
}

size_t MaxItemBytes(std::string_view t) {
  if (t == "attachment") return 100u << 20;
  if (t == "check_in") return 100u << 10;
  if (t == "client_report") return 4u << 10;
  return 1u << 20;
}

}  // namespace kansoku::errors
