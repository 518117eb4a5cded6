// libFuzzer: one TSDB on-disk decoder per binary; KANSOKU_TSDB_FUZZ_FN names its entry point
// (src/tsdb/fuzz_entry.h), set by fuzz/CMakeLists.txt.
#include "tsdb/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::tsdb::KANSOKU_TSDB_FUZZ_FN(data, size);
}
