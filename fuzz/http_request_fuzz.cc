// libFuzzer: raw HTTP request bytes through the server's parsing, auth extraction and decoding.
#include "net/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::net::FuzzHttpRequest(data, size);
}
