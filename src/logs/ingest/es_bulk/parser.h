#pragma once
// Elasticsearch _bulk decoder (what Filebeat, Logstash, Fluent Bit, Vector, rsyslog's
// omelasticsearch and pino/winston-elasticsearch send): NDJSON pairs of an action line
// ({"index":{...}} or {"create":{...}}) and a document line. Documents are decoded like JSON
// lines (message/@timestamp mapping, see jsonline/parser.h); the action's _index becomes the
// field es_index. `update` and `delete` actions are answered per item with status 400 (logs are
// append-only). Every action gets one entry in `items`, in order, so the shipper can retry
// exactly the failed ones.
// Thread safety: Parser is not thread-safe; use one per thread.
#include <string>
#include <string_view>
#include <vector>

#include "logs/ingest/jsonline/parser.h"
#include "logs/ingest/report.h"
#include "logs/record.h"

namespace kansoku::logs::ingest::es_bulk {

struct Item {
  std::string action;  // "index", "create", "update", "delete" or "" for an unparsable line
  std::string index;
  int status = 201;   // 201 created, 400 rejected
  std::string error;  // for status 400
};

class Parser {
 public:
  // Decodes the body; items get one entry per action. *out gets the records.
  void Parse(std::string_view body, const std::string& default_index, LogBatch* out,
             std::vector<Item>* items, Report* report);
  // The _bulk answer: {"took":N,"errors":bool,"items":[{"create":{"_index":..,"status":201,...}}]}
  static std::string Response(const std::vector<Item>& items, int64_t took_ms);

 private:
  jsonline::Parser json_;
};

int FuzzEsBulk(const uint8_t* data, size_t size);

}  // namespace kansoku::logs::ingest::es_bulk
