#pragma once
// libFuzzer-ready entry point for the PromQL parser (wrapped by fuzz/promql_fuzz.cc).
//
// FuzzPromQLParser parses data as a query; on success it checks the printer invariant: the
// printed form parses back and prints identically (a violation aborts via KANSOKU_CHECK, which
// is what a fuzzer should find). Never aborts on any other input. Returns 0.
// Thread safety: stateless.
#include <cstddef>
#include <cstdint>

namespace kansoku::query {

int FuzzPromQLParser(const uint8_t* data, size_t size);

}  // namespace kansoku::query
