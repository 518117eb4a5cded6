// libFuzzer: Content-Encoding decoders on arbitrary bytes; the first byte picks the codec.
#include <string_view>

#include "net/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kEncodings[] = {"gzip", "deflate", "zstd", "br", "snappy", "gzip, br"};
  const char* enc = kEncodings[data[0] % 6];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = kansoku::net::DecodeContent(enc, body, 1 << 20);
  (void)r;
  return 0;
}
