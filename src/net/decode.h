#pragma once
// Content-Encoding decoding for request bodies: gzip, deflate (zlib-wrapped or raw), zstd,
// snappy (block format as remote_write sends it, or the framed/stream format), br, identity.
// A list ("gzip, br") is undone last-applied first.
//
// Every decoder stops at max_decoded bytes and answers ResourceExhausted naming the limit, so a
// compression bomb costs at most that much memory. A broken stream is InvalidArgument with the
// codec's reason. Thread-safe (no shared state).
#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kansoku::net {

// gzip, zlib and raw-deflate results normally keep kDecodedPadding bytes of spare capacity past
// their end (not when the stream's size hint was wrong), so a JSON parser that reads up to 64
// bytes past the end (simdjson) can use them in place; check capacity() before relying on it.
inline constexpr size_t kDecodedPadding = 64;

Result<std::string> DecodeContent(std::string_view content_encoding, std::string_view body,
                                  size_t max_decoded);

// Encoders, used by tests, benches and the agent's shipper.
Result<std::string> EncodeContent(std::string_view encoding, std::string_view body);

}  // namespace kansoku::net
