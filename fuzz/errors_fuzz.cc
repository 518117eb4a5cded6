// libFuzzer: Sentry envelope / event parsing and grouping (KANSOKU_FUZZ_FN picks the entry).
#include <cstddef>
#include <cstdint>

#include "errors/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::errors::KANSOKU_FUZZ_FN(data, size);
}
