// libFuzzer: one ingest decoder per binary; KANSOKU_FUZZ_FN names its entry point
// (src/ingest/fuzz_entry.h), set by fuzz/CMakeLists.txt.
#include "ingest/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::ingest::KANSOKU_FUZZ_FN(data, size);
}
