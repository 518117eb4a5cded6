#pragma once
// Log records as every ingest protocol produces them and the store keeps them
// (docs/design/logs-storage.md, "Model").
//
// A LogRecord owns its strings; a LogBatch is what one request / one listener batch appends.
// Thread safety: plain values.
#include <emmintrin.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kansoku::logs {

// name=value; used for stream labels and for free-form fields.
struct KV {
  std::string name;
  std::string value;
  bool operator==(const KV& o) const { return name == o.name && value == o.value; }
  bool operator<(const KV& o) const { return name < o.name || (name == o.name && value < o.value); }
};

// A name=value pair viewing bytes someone else owns (a head row's field in its WAL payload).
struct KVView {
  std::string_view name;
  std::string_view value;
};

enum RecordFlags : uint8_t {
  kFlagParseError = 1,  // the protocol parser could not parse the line; raw line kept as msg
  kFlagTruncated = 2,   // msg was longer than the store's max_line_bytes and was cut
};

struct LogRecord {
  int64_t ts_ns = 0;       // nanoseconds since the Unix epoch, UTC
  std::vector<KV> labels;  // stream labels; any order, the store sorts and dedups them
  std::string msg;         // the message
  std::vector<KV> fields;  // free-form fields (trace_id, stack_trace, SD params, ...)
  uint8_t flags = 0;       // RecordFlags

  // Marks the record as not fully parsed: sets kFlagParseError and the field _parse_error.
  void SetParseError(std::string_view why);
  // Value of a field (or "" when absent).
  std::string_view Field(std::string_view name) const;
};

using LogBatch = std::vector<LogRecord>;

// Prefetch hints for passes over a batch, whose records' vectors and strings are scattered over
// the heap: PrefetchVectors(r) fetches r's label and field arrays and its message's first bytes;
// PrefetchStrings(r), once those arrays are in cache, the label and field strings' bytes (of
// strings too long to be stored in place). Hints only: nothing is read that r does not own.
inline void PrefetchVectors(const LogRecord& r) {
  const char* l = reinterpret_cast<const char*>(r.labels.data());
  const size_t lb = r.labels.size() * sizeof(KV);
  for (size_t k = 0; k < lb; k += 64) __builtin_prefetch(l + k);
  const char* f = reinterpret_cast<const char*>(r.fields.data());
  const size_t fb = r.fields.size() * sizeof(KV);
  for (size_t k = 0; k < fb; k += 64) __builtin_prefetch(f + k);
  __builtin_prefetch(r.msg.data());
}
inline void PrefetchStrings(const LogRecord& r) {
  for (const KV& kv : r.fields) {
    __builtin_prefetch(kv.name.data());
    __builtin_prefetch(kv.value.data());
  }
  for (const KV& kv : r.labels) __builtin_prefetch(kv.value.data());
}

// The canonical stream key of sorted labels: `{a="x",b="y"}` (Loki/Prometheus style).
std::string StreamKey(const std::vector<KV>& sorted_labels);

// [A-Za-z0-9_] and bytes >= 0x80, as a table (the tokenizer is on the ingest hot path).
struct TokenByteTable {
  bool is[256];
  constexpr TokenByteTable() : is() {
    for (int c = 0; c < 256; ++c) {
      is[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c >= 0x80;
    }
  }
};
inline constexpr TokenByteTable kTokenBytes{};

inline bool IsTokenByte(unsigned char c) { return kTokenBytes.is[c]; }

// Bit i set when p[i] (i < 16) is a token byte: [A-Za-z0-9_] or >= 0x80 (SSE2, x86-64's
// baseline).
inline uint32_t TokenByteMask16(const char* p) {
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  auto in = [](__m128i x, char lo, char hi) {  // lo <= x <= hi, bytes unsigned
    const __m128i l = _mm_set1_epi8(lo), h = _mm_set1_epi8(hi);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, l), x),
                         _mm_cmpeq_epi8(_mm_min_epu8(x, h), x));
  };
  const __m128i letter = in(_mm_or_si128(c, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i word =
      _mm_or_si128(_mm_or_si128(letter, in(c, '0', '9')), _mm_cmpeq_epi8(c, _mm_set1_epi8('_')));
  // Bytes >= 0x80 have their top bit set: movemask of c itself.
  return static_cast<uint32_t>(_mm_movemask_epi8(word) | _mm_movemask_epi8(c));
}

// Tokenizer shared by ingest (bloom filters) and query (word matching): calls fn(token) for
// every maximal run of [A-Za-z0-9_] and bytes >= 0x80, in order. The bytes are classified 16 at
// a time (TokenByteMask16) and token ends found with bit scans; the last < 16 bytes one by one.
template <typename Fn>
inline void ForEachToken(std::string_view s, Fn&& fn) {
  const char* p = s.data();
  const size_t n = s.size();
  size_t start = SIZE_MAX;  // of the token being read, or SIZE_MAX between tokens
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint32_t m = TokenByteMask16(p + i);
    // Bits still to look at: token bytes when between tokens, other bytes inside one.
    uint32_t look = start == SIZE_MAX ? m : ~m & 0xFFFF;
    while (look != 0) {
      const unsigned at = static_cast<unsigned>(__builtin_ctz(look));
      if (start == SIZE_MAX) {
        start = i + at;
        look = ~m & 0xFFFF & (0xFFFFu << at);
      } else {
        fn(std::string_view(p + start, i + at - start));
        start = SIZE_MAX;
        look = m & (0xFFFFu << at);
      }
    }
  }
  for (; i < n; ++i) {
    const bool t = kTokenBytes.is[static_cast<unsigned char>(p[i])];
    if (t && start == SIZE_MAX) {
      start = i;
    } else if (!t && start != SIZE_MAX) {
      fn(std::string_view(p + start, i - start));
      start = SIZE_MAX;
    }
  }
  if (start != SIZE_MAX) fn(std::string_view(p + start, n - start));
}

// Severity names every protocol maps to (the `level` label): "trace", "debug", "info",
// "notice", "warn", "error", "critical", "alert", "emergency", "fatal".
// Maps common spellings ("ERR", "warning", "Information", "E") to these; "" stays "".
std::string NormalizeLevel(std::string_view level);

// Parses RFC 3339 / ISO 8601 ("2026-11-26T05:47:34.663470+00:00", "...Z", with or without
// fraction up to ns) into ns since the epoch. False when it does not parse.
bool ParseRfc3339Nanos(std::string_view s, int64_t* ns);
// Formats ns since the epoch as RFC 3339 with 9 fraction digits and "Z".
std::string FormatRfc3339Nanos(int64_t ns);

}  // namespace kansoku::logs
