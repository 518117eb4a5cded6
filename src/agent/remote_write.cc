#include "agent/remote_write.h"

#include <snappy.h>

#include <cstring>

namespace kansoku::agent {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(std::string* out, uint32_t field, uint32_t wire) {
  PutVarint(out, (field << 3) | wire);
}

void PutString(std::string* out, uint32_t field, const std::string& s) {
  PutTag(out, field, 2);
  PutVarint(out, s.size());
  out->append(s);
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

size_t StringFieldSize(const std::string& s) { return 1 + VarintSize(s.size()) + s.size(); }

size_t LabelSize(const Label& l) {
  size_t n = 0;
  if (!l.first.empty()) n += StringFieldSize(l.first);
  if (!l.second.empty()) n += StringFieldSize(l.second);
  return n;
}

size_t SampleSize(const Sample& s) {
  size_t n = 0;
  uint64_t bits;
  std::memcpy(&bits, &s.value, 8);
  if (bits != 0) n += 1 + 8;
  if (s.timestamp_ms != 0) n += 1 + VarintSize(static_cast<uint64_t>(s.timestamp_ms));
  return n;
}

}  // namespace

void EncodeWriteRequest(const Sample* begin, const Sample* end, std::string* out) {
  const Sample* p = begin;
  while (p != end) {
    // A run of samples with the same labels becomes one TimeSeries.
    const Sample* q = p + 1;
    while (q != end && q->labels == p->labels) ++q;
    size_t ts_size = 0;
    for (const auto& l : p->labels) {
      size_t ls = LabelSize(l);
      ts_size += 1 + VarintSize(ls) + ls;
    }
    for (const Sample* s = p; s != q; ++s) {
      size_t ss = SampleSize(*s);
      ts_size += 1 + VarintSize(ss) + ss;
    }
    PutTag(out, 1, 2);
    PutVarint(out, ts_size);
    for (const auto& l : p->labels) {
      PutTag(out, 1, 2);
      PutVarint(out, LabelSize(l));
      if (!l.first.empty()) PutString(out, 1, l.first);
      if (!l.second.empty()) PutString(out, 2, l.second);
    }
    for (const Sample* s = p; s != q; ++s) {
      PutTag(out, 2, 2);
      PutVarint(out, SampleSize(*s));
      uint64_t bits;
      std::memcpy(&bits, &s->value, 8);
      if (bits != 0) {
        PutTag(out, 1, 1);
        char b[8];
        std::memcpy(b, &bits, 8);  // little-endian hosts (x86-64, arm64)
        out->append(b, 8);
      }
      if (s->timestamp_ms != 0) {
        PutTag(out, 2, 0);
        PutVarint(out, static_cast<uint64_t>(s->timestamp_ms));
      }
    }
    p = q;
  }
}

std::string SnappyCompress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

Result<std::string> SnappyUncompress(const std::string& compressed) {
  std::string out;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &out)) {
    return Status::InvalidArgument("cannot decode snappy block");
  }
  return out;
}

}  // namespace kansoku::agent
