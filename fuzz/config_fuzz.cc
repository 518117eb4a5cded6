// libFuzzer: the YAML config loader never crashes on any text.
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = kansoku::config::ParseServerConfig(text, "fuzz.yml");
  (void)r;
  return 0;
}
