#pragma once
// Prometheus remote_write 1.0 encoder: samples -> WriteRequest protobuf -> snappy block.
// The server's decoder is ingest/prom_remote_write (the agent does not link it; tests check
// the two agree). Wire schema (docs/design/ingest-prom-remote-write.md):
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }
// Samples with the same label set that follow each other share one TimeSeries. Labels must be
// sorted (SampleBatch::Finalize does it). proto3: zero values are omitted.
// Thread safety: free functions, no shared state.
#include <string>
#include <vector>

#include "agent/sample.h"
#include "base/status.h"

namespace kansoku::agent {

// Appends the protobuf encoding of samples [begin, end) to *out.
void EncodeWriteRequest(const Sample* begin, const Sample* end, std::string* out);

// Snappy block compression (the remote_write Content-Encoding).
std::string SnappyCompress(const std::string& raw);
// For tests: undoes SnappyCompress; InvalidArgument on corrupt input.
Result<std::string> SnappyUncompress(const std::string& compressed);

}  // namespace kansoku::agent
