#include "logs/record.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <random>

#include "logs/codec.h"
#include "logs/wal.h"

namespace kansoku::logs {
namespace {

TEST(Rfc3339, ParsesOffsetsAndFractions) {
  int64_t ns;
  ASSERT_TRUE(ParseRfc3339Nanos("1970-01-01T00:00:01Z", &ns));
  EXPECT_EQ(ns, 1000000000);
  ASSERT_TRUE(ParseRfc3339Nanos("2026-11-26T05:47:34.663470+00:00", &ns));
  EXPECT_EQ(FormatRfc3339Nanos(ns), "2026-11-26T05:47:34.663470000Z");
  ASSERT_TRUE(ParseRfc3339Nanos("2026-11-26T06:47:34.5+01:00", &ns));
  EXPECT_EQ(FormatRfc3339Nanos(ns), "2026-11-26T05:47:34.500000000Z");
  ASSERT_TRUE(ParseRfc3339Nanos("2026-11-26T05:47:34.123456789123Z", &ns));
  EXPECT_EQ(ns % 1000000000, 123456789);
  EXPECT_FALSE(ParseRfc3339Nanos("2026-13-26T05:47:34Z", &ns));
  EXPECT_FALSE(ParseRfc3339Nanos("yesterday", &ns));
  EXPECT_FALSE(ParseRfc3339Nanos("2026-11-26T05:47:34Zjunk", &ns));
}

TEST(Level, Normalizes) {
  EXPECT_EQ(NormalizeLevel("ERR"), "error");
  EXPECT_EQ(NormalizeLevel("Warning"), "warn");
  EXPECT_EQ(NormalizeLevel("information"), "info");
  EXPECT_EQ(NormalizeLevel("custom"), "custom");
}

TEST(Tokens, SplitsOnNonWordBytes) {
  std::vector<std::string> t;
  ForEachToken("GET /api/v1?x=1 \"timeout\" trace_id=f00d",
               [&](std::string_view s) { t.emplace_back(s); });
  EXPECT_EQ(
      t, (std::vector<std::string>{"GET", "api", "v1", "x", "1", "timeout", "trace_id", "f00d"}));
}

// ForEachToken (16 bytes classified at a time) gives the tokens of a byte-by-byte reading of
// the definition, on every byte value, at every length around the 16-byte steps, with tokens
// running across them.
TEST(Tokens, SixteenBytesAtATimeEqualByteByByte) {
  auto reference = [](std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s) {
      const unsigned char c = static_cast<unsigned char>(ch);
      const bool t = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c >= 0x80;
      if (t) {
        cur += ch;
      } else if (!cur.empty()) {
        out.push_back(cur);
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  };
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::mt19937 rng(7);
  std::vector<std::string> inputs = {all, "", "a", std::string(16, 'x'), std::string(33, '-')};
  const std::string alphabet = "aZ09_ -/.\"\x80\xff@[`{";
  for (int k = 0; k < 3000; ++k) {
    std::string x(rng() % 70, ' ');
    const bool runs = k % 2 == 0;  // long tokens and gaps, or any bytes
    for (auto& ch : x) {
      ch = runs ? alphabet[rng() % 3 == 0 ? rng() % alphabet.size() : 0]
                : static_cast<char>(rng() % 256);
    }
    inputs.push_back(x);
  }
  for (const auto& in : inputs) {
    std::vector<std::string> got;
    ForEachToken(in, [&](std::string_view t) { got.emplace_back(t); });
    EXPECT_EQ(got, reference(in)) << in;
  }
}

TEST(Wal, BatchRoundTrips) {
  LogBatch b(2);
  b[0].ts_ns = -5;
  b[0].labels = {{"service", "api"}};
  b[0].msg = std::string("bin\0ary", 7);
  b[0].fields = {{"k", "v"}};
  b[1].ts_ns = 1795672203671000000;
  b[1].SetParseError("bad header");
  std::string enc = EncodeBatch(b);
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(enc, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].msg, b[0].msg);
  EXPECT_EQ(out[0].ts_ns, -5);
  EXPECT_EQ(out[1].Field("_parse_error"), "bad header");
  EXPECT_EQ(out[1].flags, kFlagParseError);
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    LogBatch tmp;
    EXPECT_FALSE(DecodeBatch(std::string_view(enc).substr(0, cut), &tmp).ok()) << cut;
  }
}

// The payload layout is the WAL format of docs/design/logs-storage.md, byte for byte, and the
// views EncodeBatchTo hands out (what head rows keep) point at the message and field bytes
// inside it.
TEST(Wal, EncodeBatchToGivesViewsIntoThePayload) {
  const std::string trace(40, 't');
  const std::string long_msg(200, 'x');
  LogBatch b(2);
  b[0].ts_ns = 1;
  b[0].labels = {{"service", "api"}};
  b[0].msg = "hello";
  b[0].fields = {{"k", "v"}, {"trace_id", trace}};
  b[1].ts_ns = -1;
  b[1].msg = long_msg;
  // Format 2: 0, version 2, the label table ({service=api}, {}), then the records.
  std::string want = std::string(1, '\0') + "\x02" + "\x02" +
                     "\x01\x07service\x03"
                     "api" +
                     std::string(1, '\0') + "\x02" + "\x02" + std::string(2, '\0') + "\x05hello" +
                     "\x02" + "\x01k\x01v" + "\x08trace_id\x28" + trace + "\x01" +
                     std::string(1, '\0') + "\x01" + "\xc8\x01" + long_msg + std::string(1, '\0');
  std::string payload = "previous contents are replaced";
  EncodedViews v;
  EncodeBatchTo(b, &payload, &v);
  EXPECT_EQ(payload, want);
  ASSERT_EQ(v.msgs.size(), 2u);
  ASSERT_EQ(v.fields.size(), 2u);
  EXPECT_EQ(v.msgs[0], "hello");
  EXPECT_EQ(v.msgs[1], long_msg);
  EXPECT_EQ(v.fields[0].name, "k");
  EXPECT_EQ(v.fields[0].value, "v");
  EXPECT_EQ(v.fields[1].name, "trace_id");
  EXPECT_EQ(v.fields[1].value, trace);
  auto inside = [&payload](std::string_view s) {
    return s.data() >= payload.data() && s.data() + s.size() <= payload.data() + payload.size();
  };
  for (auto m : v.msgs) EXPECT_TRUE(inside(m));
  for (const auto& f : v.fields) EXPECT_TRUE(inside(f.name) && inside(f.value));
  EXPECT_EQ(EncodeBatch(b), want);
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(payload, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].fields[1].value, trace);
  EXPECT_EQ(out[1].ts_ns, -1);
  EXPECT_EQ(out[0].labels, (std::vector<KV>{{"service", "api"}}));
  EXPECT_TRUE(out[1].labels.empty());
}

// BatchEncoder (what Append uses: each record measured once it is final, then all encoded)
// gives the bytes and views EncodeBatchTo gives, also into a buffer that held more.
TEST(Wal, BatchEncoderGivesTheBytesOfEncodeBatchTo) {
  LogBatch b;
  for (int i = 0; i < 300; ++i) {
    LogRecord r;
    r.ts_ns = (i % 7 == 0 ? -1 : 1) * int64_t{1000003} * i;
    r.flags = static_cast<uint8_t>(i % 3);
    r.labels = {{"host", "h" + std::to_string(i % 5)}, {"service", i % 2 ? "api" : "web"}};
    r.msg = std::string(static_cast<size_t>(i % 150), 'm') + std::to_string(i);
    if (i % 4) r.fields = {{"trace_id", std::string(32, 'a' + i % 26)}, {"n", std::to_string(i)}};
    b.push_back(r);
  }
  std::string want;
  EncodedViews wv;
  EncodeBatchTo(b, &want, &wv);
  BatchEncoder e(b.size());
  for (const auto& r : b) e.Add(r);
  std::string got(1 << 16, 'z');  // a reused buffer, larger than the payload
  EncodedViews gv;
  e.EncodeTo(b, &got, &gv);
  EXPECT_EQ(got, want);
  ASSERT_EQ(gv.msgs.size(), b.size());
  ASSERT_EQ(gv.fields.size(), wv.fields.size());
  EXPECT_EQ(gv.label_sets, wv.label_sets);
  EXPECT_EQ(gv.label_hashes, wv.label_hashes);
  EXPECT_EQ(gv.n_label_sets, 10u);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(gv.msgs[i], b[i].msg);
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(got, &out).ok());
  ASSERT_EQ(out.size(), b.size());
  EXPECT_EQ(out[299].msg, b[299].msg);
  EXPECT_EQ(out[299].labels, b[299].labels);
  EXPECT_EQ(out[299].fields, b[299].fields);
}

// Records of one label set share one entry of the payload's label table (the same bytes, the
// same view and hash for the head), and decode with their own labels again.
TEST(Wal, LabelSetsAreWrittenOncePerBatch) {
  LogBatch b;
  for (int i = 0; i < 6; ++i) {
    LogRecord r;
    r.ts_ns = i;
    r.labels = {{"host", i % 2 ? "a" : "b"}, {"service", "api"}};
    r.msg = "m" + std::to_string(i);
    b.push_back(r);
  }
  std::string payload;
  EncodedViews v;
  EncodeBatchTo(b, &payload, &v);
  ASSERT_EQ(v.labels.size(), 6u);
  EXPECT_EQ(v.labels[0].data(), v.labels[2].data());
  EXPECT_EQ(v.labels[1].data(), v.labels[5].data());
  EXPECT_NE(v.labels[0], v.labels[1]);
  EXPECT_EQ(v.label_hashes[0], v.label_hashes[4]);
  EXPECT_NE(v.label_hashes[0], v.label_hashes[1]);
  EXPECT_EQ(v.n_label_sets, 2u);
  EXPECT_EQ(v.label_sets, (std::vector<uint32_t>{0, 1, 0, 1, 0, 1}));
  size_t services = 0;
  for (size_t at = payload.find("service"); at != std::string::npos;
       at = payload.find("service", at + 1)) {
    ++services;
  }
  EXPECT_EQ(services, 2u);  // one per distinct set, not one per record
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(payload, &out).ok());
  ASSERT_EQ(out.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i].labels, b[i].labels) << i;
    EXPECT_EQ(out[i].msg, b[i].msg);
  }
  // A record naming a set the table does not have is corrupt.
  std::string bad = payload;
  bad[bad.find("m5") - 2] = 9;  // record 5's set index
  EXPECT_FALSE(DecodeBatch(bad, &out).ok());
  // Every truncation is refused; any single byte changed decodes or is refused, within bounds
  // (ASan runs this too).
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_FALSE(DecodeBatch(std::string_view(payload).substr(0, cut), &out).ok()) << cut;
  }
  for (size_t at = 0; at < payload.size(); ++at) {
    for (int v : {0, 1, 2, 0x7f, 0x80, 0xff}) {
      std::string m = payload;
      m[at] = static_cast<char>(v);
      (void)DecodeBatch(m, &out);
    }
  }
}

// WAL segments written before the label table (format 1: every record holds its labels) still
// replay.
TEST(Wal, Format1PayloadsStillDecode) {
  const std::string trace(40, 't');
  std::string v1 = std::string("\x02") + "\x02" + std::string(1, '\0') + "\x01" +
                   "\x07service\x03"
                   "api" +
                   "\x05hello" + "\x02" + "\x01k\x01v" + "\x08trace_id\x28" + trace + "\x01" +
                   std::string(2, '\0') + "\x02hi" + std::string(1, '\0');
  LogBatch out;
  ASSERT_TRUE(DecodeBatch(v1, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ts_ns, 1);
  EXPECT_EQ(out[0].labels, (std::vector<KV>{{"service", "api"}}));
  EXPECT_EQ(out[0].msg, "hello");
  EXPECT_EQ(out[0].fields[1].value, trace);
  EXPECT_EQ(out[1].ts_ns, -1);
  EXPECT_TRUE(out[1].labels.empty());
  EXPECT_EQ(out[1].msg, "hi");
}

// BatchBuilder (what decoders and Append encode with) normalises each record as
// docs/design/logs-storage.md "Model" says and writes what EncodeBatch writes for the
// normalised records: promoted label fields (a label with a value wins over a field), empty
// labels dropped, sorted by name (bytes unsigned) and deduplicated (first kept), level
// normalised, long messages cut and flagged, ts 0 -> now.
TEST(Wal, BatchBuilderNormalisesAndEncodesAsEncodeBatch) {
  NormalizeRules rules;
  rules.label_names = {"service", "host", "level", "source"};
  rules.max_line_bytes = 16;
  const int64_t now = 1795672203000000007;
  struct In {
    int64_t ts;
    uint8_t flags;
    std::vector<KVView> labels;
    std::string msg;
    std::vector<KVView> fields;
  };
  std::vector<In> in = {
      {0,
       0,
       {{"source", "jsonline"}},
       "hello",
       {{"service", "api"},
        {"host", "h1"},
        {"level", "ERR"},
        {"trace_id", "abc"},
        {"source", "x"}}},
      {3,
       kFlagParseError,
       {{"b", "2"}, {"a", "1"}, {"b", "3"}, {"c", ""}, {"\xc3\xa9", "e"}, {"z", "y"}},
       "m",
       {{"host", ""}, {"host", "h2"}, {"k", "v"}}},
      {-4, 0, {{"level", "Information"}}, "0123456789abcdefXYZ", {{"a", ""}}},
      {5, 0, {{"level", "warn"}}, std::string(16, 'x'), {}},
  };
  LogBatch want(4);
  want[0].ts_ns = now;
  want[0].labels = {{"host", "h1"}, {"level", "error"}, {"service", "api"}, {"source", "jsonline"}};
  want[0].msg = "hello";
  want[0].fields = {{"trace_id", "abc"}};
  want[1].ts_ns = 3;
  want[1].flags = kFlagParseError;
  want[1].labels = {{"a", "1"}, {"b", "2"}, {"host", "h2"}, {"z", "y"}, {"\xc3\xa9", "e"}};
  want[1].msg = "m";
  want[1].fields = {{"k", "v"}};
  want[2].ts_ns = -4;
  want[2].flags = kFlagTruncated;
  want[2].labels = {{"level", "info"}};
  want[2].msg = "0123456789abcdef";
  want[2].fields = {{"a", ""}, {"_truncated", "19"}};
  want[3].ts_ns = 5;
  want[3].labels = {{"level", "warn"}};
  want[3].msg = std::string(16, 'x');
  BatchBuilder b;
  b.Reset(&rules, now, 0);
  for (const auto& r : in) b.Add(r.ts, r.flags, r.labels, r.msg, r.fields);
  EXPECT_EQ(b.records(), 4u);
  // Usage: per label list as passed; bytes of the message and fields as passed.
  ASSERT_EQ(b.sent_streams().size(), 4u);
  EXPECT_EQ(b.sent_streams()[0].labels, (std::vector<KV>{{"source", "jsonline"}}));
  EXPECT_EQ(b.sent_streams()[0].bytes, 5u + 10 + 6 + 8 + 11 + 7);
  EXPECT_EQ(b.sent_streams()[2].bytes, 19u + 1);
  EncodedBatch got = b.Finish();
  EXPECT_EQ(got.payload, EncodeBatch(want));
  EXPECT_EQ(got.records(), 4u);
  EXPECT_EQ(got.views.ts, (std::vector<int64_t>{now, 3, -4, 5}));
  EXPECT_EQ(got.views.n_fields, (std::vector<uint32_t>{1, 1, 2, 0}));
  EXPECT_EQ(got.views.n_label_sets, 4u);
  ASSERT_EQ(got.views.msgs.size(), 4u);
  EXPECT_EQ(got.views.msgs[2], "0123456789abcdef");
  ASSERT_EQ(got.views.fields.size(), 4u);
  EXPECT_EQ(got.views.fields[3].name, "_truncated");
  EXPECT_EQ(got.views.fields[3].value, "19");
  EncodedViews wv;
  std::string wp;
  EncodeBatchTo(want, &wp, &wv);
  EXPECT_EQ(got.views.label_hashes, wv.label_hashes);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(got.views.labels[i], wv.labels[i]);
}

// A builder whose records outgrow its buffer (no size hint) and whose label table outgrows the
// room kept for it in front of the records still gives EncodeBatch's bytes, with views into the
// payload; so does the next batch of the same builder.
TEST(Wal, BatchBuilderGrowsAndMovesItsRecords) {
  NormalizeRules rules;
  rules.label_names = {"service", "host", "level", "source"};
  BatchBuilder b;
  for (int round = 0; round < 2; ++round) {
    b.Reset(&rules, 1, round == 0 ? 0 : 1 << 20);
    LogBatch want;
    for (int i = 0; i < 3000; ++i) {
      LogRecord r;
      r.ts_ns = 100 + i;
      r.labels = {{"host", "host-with-a-long-name-" + std::to_string(i * (round + 1))}};
      r.msg = std::string(static_cast<size_t>(i % 300), 'm') + std::to_string(i);
      const std::vector<KVView> fields = {{"host", r.labels[0].value}};  // promoted
      b.Add(r.ts_ns, 0, {}, r.msg, fields);
      want.push_back(r);
    }
    EncodedBatch got = b.Finish();
    EXPECT_EQ(got.payload, EncodeBatch(want)) << round;
    const char* lo = got.payload.data();
    const char* hi = lo + got.payload.size();
    ASSERT_EQ(got.views.msgs.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got.views.msgs[i], want[i].msg);
      EXPECT_TRUE(got.views.msgs[i].data() >= lo && got.views.msgs[i].data() < hi);
    }
    LogBatch out;
    ASSERT_TRUE(DecodeBatch(got.payload, &out).ok());
    EXPECT_EQ(out.size(), want.size());
  }
}

// The size hint only reserves address space: a batch far smaller than its hint maps in only the
// pages it wrote (and at most a few MiB ahead), so a head holding many such payloads does not
// hold their hints in memory (mapping in the whole hint at Reset raised bench/logs' peak RSS by
// ~140 MiB). Checked with mincore on the buffer past the payload.
TEST(Wal, BatchBuilderMapsInOnlyWhatItWrites) {
  NormalizeRules rules;
  rules.label_names = {"service"};
  BatchBuilder b;
  const size_t hint = size_t{64} << 20;
  b.Reset(&rules, 1, hint);
  for (int i = 0; i < 100; ++i) b.Add(i + 1, 0, {}, "a short message", {});
  EncodedBatch got = b.Finish();
  const long page = ::sysconf(_SC_PAGESIZE);
  // From 8 MiB past the payload's start to 8 MiB before the hint's end: all of it in the buffer.
  const uintptr_t from = (reinterpret_cast<uintptr_t>(got.payload.data()) + (8 << 20)) &
                         ~static_cast<uintptr_t>(page - 1);
  const size_t len = hint - (16 << 20);
  std::vector<unsigned char> resident(len / static_cast<size_t>(page));
  ASSERT_EQ(::mincore(reinterpret_cast<void*>(from), len, resident.data()), 0);
  size_t n = 0;
  for (unsigned char r : resident) n += r & 1;
  EXPECT_EQ(n, 0u) << "pages of the size hint were mapped in without being written";
}

}  // namespace
}  // namespace kansoku::logs
