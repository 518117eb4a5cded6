#pragma once
// Test helpers for the ingest decoders (tests and benchmarks only, not linked into the server):
// a protobuf wire writer to build payloads, and a FakeAppender that validates labels like the
// real storage and records what it got.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::ingest::testing {

// Builds protobuf wire bytes: w.Str(1, "x"); w.Msg(2, sub.data()); ...
class ProtoWriter {
 public:
  ProtoWriter& Varint(uint32_t field, uint64_t v) {
    Key(field, 0);
    PutVarint(v);
    return *this;
  }
  ProtoWriter& Fixed64(uint32_t field, uint64_t v) {
    Key(field, 1);
    char b[8];
    std::memcpy(b, &v, 8);
    out_.append(b, 8);
    return *this;
  }
  ProtoWriter& Double(uint32_t field, double d) {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    return Fixed64(field, u);
  }
  ProtoWriter& Str(uint32_t field, std::string_view s) {
    Key(field, 2);
    PutVarint(s.size());
    out_.append(s);
    return *this;
  }
  ProtoWriter& Msg(uint32_t field, const ProtoWriter& m) { return Str(field, m.data()); }
  ProtoWriter& PackedFixed64(uint32_t field, const std::vector<uint64_t>& v) {
    std::string b;
    for (uint64_t x : v) b.append(reinterpret_cast<const char*>(&x), 8);
    return Str(field, b);
  }
  ProtoWriter& PackedDouble(uint32_t field, const std::vector<double>& v) {
    std::string b;
    for (double x : v) b.append(reinterpret_cast<const char*>(&x), 8);
    return Str(field, b);
  }
  const std::string& data() const { return out_; }

 private:
  void Key(uint32_t field, uint32_t wire) { PutVarint((uint64_t{field} << 3) | wire); }
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// Records appended rows; validates labels with tsdb::ValidateLabels as the real head does.
class FakeAppender : public tsdb::Appender {
 public:
  struct Row {
    tsdb::Labels labels;
    int64_t t;
    double v;
  };
  Status Append(const tsdb::Labels& labels, int64_t t, double v) override {
    Status st = tsdb::ValidateLabels(labels);
    if (!st.ok()) return st;
    if (fail_metric == labels.MetricName()) {
      return Status::InvalidArgument("out of order sample for " + labels.ToString());
    }
    staged.push_back({labels, t, v});
    return Status::Ok();
  }
  Status UpdateMetadata(std::string_view metric_name, const tsdb::MetricMetadata& md) override {
    metadata.emplace_back(std::string(metric_name), md);
    return Status::Ok();
  }
  Status Commit() override {
    ++commits;
    if (!commit_error.ok()) return commit_error;
    for (Row& r : staged) rows.push_back(std::move(r));
    staged.clear();
    return Status::Ok();
  }
  void Rollback() override { staged.clear(); }

  std::vector<Row> staged, rows;
  std::vector<std::pair<std::string, tsdb::MetricMetadata>> metadata;
  int commits = 0;
  Status commit_error;
  std::string fail_metric;  // Append of this metric name fails (as out of order)
};

}  // namespace kansoku::ingest::testing
