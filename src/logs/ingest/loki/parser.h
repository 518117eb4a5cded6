#pragma once
// Loki push API decoder (POST /loki/api/v1/push), both bodies Loki accepts:
//   JSON:     {"streams":[{"stream":{"job":"x"},"values":[["<ns>","line",{"k":"v"}]]}]}
//   protobuf: logproto.PushRequest (after snappy decoding by the caller):
//             PushRequest{1: repeated StreamAdapter{1: labels `{a="b"}`, 2: repeated
//             EntryAdapter{1: Timestamp{1: seconds, 2: nanos}, 2: line,
//             3: repeated LabelPairAdapter{1: name, 2: value} (structured metadata)}}}
// Every stream label becomes a record label (Loki's model); `source` defaults to "loki";
// structured metadata becomes fields.
// Errors: a body that is not a valid push request at all is InvalidArgument naming the
// offset/field (nothing is stored, the client gets 400); a single entry with a bad timestamp is
// kept with the arrival time and flagged; a stream whose labels do not parse is stored with
// the raw label string in the field _labels and flagged.
// Thread safety: pure functions.
#include <string_view>

#include "base/status.h"
#include "logs/ingest/report.h"
#include "logs/record.h"

namespace kansoku::logs::ingest::loki {

Status ParseJson(std::string_view body, LogBatch* out, Report* report);
Status ParseProto(std::string_view body, LogBatch* out, Report* report);
// `{a="b", c="d"}` (Prometheus label syntax) -> labels.
Status ParseLabels(std::string_view s, std::vector<KV>* out);

int FuzzLokiJson(const uint8_t* data, size_t size);
int FuzzLokiProto(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::ingest::loki
