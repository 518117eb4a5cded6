// libFuzzer: one log parser per binary; KANSOKU_LOGS_FUZZ_FN names its entry point
// (src/logs/fuzz_entry.h), set by fuzz/CMakeLists.txt.
#include "logs/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::logs::KANSOKU_LOGS_FUZZ_FN(data, size);
}
