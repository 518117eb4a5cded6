#pragma once
// libFuzzer entry points, one per ingest decoder. Each feeds `data` to the decoder with fixed
// options and a sink that reads every byte of every decoded view (so ASan sees out-of-bounds
// views), and returns 0. They must never crash, hang or leak on any input; a KANSOKU_CHECK
// failure is a bug. The fuzz/ targets wrap them:
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
//     return kansoku::ingest::FuzzPromText(d, n); }
// Thread safety: reentrant (no shared state).
#include <cstddef>
#include <cstdint>

namespace kansoku::ingest {

// Snappy block decode, then WriteRequest decode of the raw input and of the decoded bytes.
int FuzzPromRemoteWrite(const uint8_t* data, size_t size);
// Text 0.0.4 and OpenMetrics (both formats on the same input).
int FuzzPromText(const uint8_t* data, size_t size);
// Influx line protocol with precision ns and s.
int FuzzInfluxLine(const uint8_t* data, size_t size);
// Graphite plaintext.
int FuzzGraphite(const uint8_t* data, size_t size);
// collectd write_http JSON.
int FuzzCollectdJson(const uint8_t* data, size_t size);
// OTLP ExportMetricsServiceRequest, protobuf.
int FuzzOtlpProto(const uint8_t* data, size_t size);
// OTLP ExportMetricsServiceRequest, JSON.
int FuzzOtlpJson(const uint8_t* data, size_t size);

}  // namespace kansoku::ingest
