#pragma once
// Graphite plaintext protocol parser -> RowBatch (TCP listener; collectd write_graphite).
//
//   <path>[;tag=value...] <value> [<timestamp>]\n      (CRLF accepted)
//
// Mapping (documented in docs/design/ingest-graphite.md):
//  - metric name = the path with every byte outside [a-zA-Z0-9_:] replaced by '_' ('.' and '-'
//    become '_'; a leading digit gets a '_' prefix), because kansoku stores Prometheus names:
//    "collectd.kansoku-test.load.load.shortterm" -> "collectd_kansoku_test_load_load_shortterm".
//  - tagged series (Graphite 1.1): "path;tag=v" -> label tag="v" (tag names sanitized the same
//    way, values kept as they are).
//  - value: float; "nan" (collectd's first rate sample) and other NaNs mean "no value" and are
//    skipped (counted in DecodeReport::values_skipped, not an error): a stored NaN would poison
//    sums in PromQL.
//  - timestamp: seconds since the epoch, integer or float; absent or -1 -> now.
// Errors are per line ("line N: cannot parse ..."); parsing goes on.
//
// TCP framing: Parse wants whole lines. A stream handler keeps the bytes after the last '\n'
// (CompleteLinesLength) for the next read, and parses the remainder at connection close.
// Line numbers in messages count from the start of each Parse call.
//
// Ownership: views point into `body` or the batch arena; valid during RowSink::Consume only.
// Thread safety: a Parser is single-threaded (one per connection); free functions reentrant.
#include <string_view>

#include "ingest/common/report.h"
#include "ingest/common/rows.h"

namespace kansoku::ingest::graphite {

// Length of the prefix of `buf` that ends with '\n' (0 if there is none).
size_t CompleteLinesLength(std::string_view buf);

class Parser {
 public:
  void Parse(std::string_view body, const DecodeOptions& opts, RowSink& sink, DecodeReport& report);

 private:
  RowBatch batch_;
};

void ParseGraphite(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                   DecodeReport& report);

}  // namespace kansoku::ingest::graphite
