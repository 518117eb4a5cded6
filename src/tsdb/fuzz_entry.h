#pragma once
// libFuzzer entry points for the TSDB's on-disk decoders: chunks, WAL records and block files.
// Data on disk can be damaged; decoding it must give a Corruption status, never a crash, an
// out-of-bounds read, UB or a leak. The fuzz/ targets wrap these (fuzz/tsdb_fuzz.cc); the unit
// test (fuzz_entry_test.cc) runs them on valid and damaged inputs.
//
// Checksums would stop a fuzzer at the door, so the entries whose formats carry a CRC recompute
// it over the input when the first byte is odd (the parser behind the CRC is fuzzed), and leave
// it as given when it is even (the CRC check itself is fuzzed).
//
// Thread safety: reentrant (no shared state). Each returns 0.
#include <cstddef>
#include <cstdint>

namespace kansoku::tsdb {

// byte 0 picks XOR or packed; the rest is the chunk. Iterates it (Next, then Seek from a fresh
// iterator), decodes packed bytes whole, and re-encodes what decoded cleanly (round trip
// checked when the timestamps are strictly increasing).
int FuzzChunk(const uint8_t* data, size_t size);
// byte 0: bit 0 fixes the CRCs of the framed records; bit 1 instead treats the rest as one
// payload of type byte1 % 4 + 1. Every record is decoded with the replay's decoders (chunk
// records' chunks iterated too).
int FuzzWalRecords(const uint8_t* data, size_t size);
// byte 0: bit 0 fixes the CRC; bit 1 picks the rollup file decoder instead of the index.
int FuzzBlockFiles(const uint8_t* data, size_t size);

}  // namespace kansoku::tsdb
