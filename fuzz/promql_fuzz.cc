// libFuzzer: the PromQL parser (and print/re-parse round trip) on arbitrary text.
#include "query/parser/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::query::FuzzPromQLParser(data, size);
}
