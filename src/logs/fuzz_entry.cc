#include "logs/fuzz_entry.h"

#include "logs/ingest/es_bulk/parser.h"
#include "logs/ingest/jsonline/parser.h"
#include "logs/ingest/loki/parser.h"
#include "logs/ingest/otlp_logs/parser.h"
#include "logs/ingest/syslog/parser.h"
#include "logs/query/parser.h"
#include "logs/wal.h"

namespace kansoku::logs {

int FuzzLogQuery(const uint8_t* d, size_t n) { return query::FuzzLogQueryParser(d, n); }
int FuzzJsonLines(const uint8_t* d, size_t n) { return ingest::jsonline::FuzzJsonLines(d, n); }
int FuzzLokiJson(const uint8_t* d, size_t n) { return ingest::loki::FuzzLokiJson(d, n); }
int FuzzLokiProto(const uint8_t* d, size_t n) { return ingest::loki::FuzzLokiProto(d, n); }
int FuzzEsBulk(const uint8_t* d, size_t n) { return ingest::es_bulk::FuzzEsBulk(d, n); }
int FuzzOtlpLogsProto(const uint8_t* d, size_t n) {
  return ingest::otlp_logs::FuzzOtlpLogsProto(d, n);
}
int FuzzOtlpLogsJson(const uint8_t* d, size_t n) {
  return ingest::otlp_logs::FuzzOtlpLogsJson(d, n);
}
int FuzzSyslog(const uint8_t* d, size_t n) { return ingest::syslog::FuzzSyslog(d, n); }
int FuzzWalBatch(const uint8_t* d, size_t n) {
  LogBatch b;
  (void)DecodeBatch(std::string_view(reinterpret_cast<const char*>(d), n), &b);
  return 0;
}

}  // namespace kansoku::logs
