#pragma once
// OTLP/HTTP logs decoder (POST /v1/logs): ExportLogsServiceRequest as protobuf or as OTLP/JSON.
//
// Mapping of each LogRecord:
//   ts       time_unix_nano, else observed_time_unix_nano, else arrival time
//   labels   service <- resource service.name, host <- resource host.name,
//            level <- severity_text, else from severity_number (1-4 trace, 5-8 debug, 9-12 info,
//            13-16 warn, 17-20 error, 21-24 fatal), source <- "otlp"
//   msg      body (string; other AnyValues as JSON text)
//   fields   log attributes by key; other resource attributes by key; trace_id and span_id as
//            lower-case hex; scope name as otel.scope.name; event_name
// A body that is not a valid request is InvalidArgument (400, nothing stored), naming the field
// and offset.
// Thread safety: pure functions.
#include <string_view>

#include "base/status.h"
#include "logs/ingest/report.h"
#include "logs/record.h"

namespace kansoku::logs::ingest::otlp_logs {

Status ParseProto(std::string_view body, LogBatch* out, Report* report);
Status ParseJson(std::string_view body, LogBatch* out, Report* report);

int FuzzOtlpLogsProto(const uint8_t* data, size_t size);
int FuzzOtlpLogsJson(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::ingest::otlp_logs
