#pragma once
// Entry points for the libFuzzer targets in fuzz/: each takes arbitrary bytes and must never
// crash, hang or leak. They run the same code the server runs.
#include <cstddef>
#include <cstdint>

namespace kansoku::net {
// Request bytes -> Beast parser -> our Request (headers, query, token extraction, form params)
// -> Content-Encoding decoding of the body.
int FuzzHttpRequest(const uint8_t* data, size_t size);
}  // namespace kansoku::net
