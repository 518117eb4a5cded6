#pragma once
// libFuzzer entry points of the log subsystem's parsers (fuzz/logs_fuzz.cc wraps one per
// binary via KANSOKU_LOGS_FUZZ_FN). Each must never crash, hang or leak on any input.
// Thread safety: reentrant.
#include <cstddef>
#include <cstdint>

namespace kansoku::logs {

int FuzzLogQuery(const uint8_t* data, size_t size);       // query language parser
int FuzzJsonLines(const uint8_t* data, size_t size);      // JSON lines
int FuzzLokiJson(const uint8_t* data, size_t size);       // Loki push JSON
int FuzzLokiProto(const uint8_t* data, size_t size);      // Loki push protobuf (+ snappy)
int FuzzEsBulk(const uint8_t* data, size_t size);         // Elasticsearch _bulk
int FuzzOtlpLogsProto(const uint8_t* data, size_t size);  // OTLP logs protobuf
int FuzzOtlpLogsJson(const uint8_t* data, size_t size);   // OTLP logs JSON
int FuzzSyslog(const uint8_t* data, size_t size);         // RFC 5424 / 3164
int FuzzWalBatch(const uint8_t* data, size_t size);       // WAL batch decoding

}  // namespace kansoku::logs
