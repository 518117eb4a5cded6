#include "logs/ingest/jsonline/parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>

namespace kansoku::logs::ingest::jsonline {

struct Parser::Impl {
  simdjson::dom::parser parser;
  struct Item {
    std::string_view name;  // flattened key: in the parsed document or in nested_names
    simdjson::dom::element value;
  };
  std::vector<Item> items;  // reused between documents
  // Names of keys of nested objects ("http.status"), built per document; a deque so that the
  // views in items stay valid while it grows. Reused: nested_used are this document's.
  std::deque<std::string> nested_names;
  size_t nested_used = 0;
  // Text of values that are not JSON strings (numbers, arrays, ...) and of messages made here,
  // per document, the same way (a deque: views stay valid while it grows).
  std::deque<std::string> texts;
  size_t texts_used = 0;

  // One decoded document as views into the parser's DOM, the document, texts and o.
  struct Doc {
    int64_t ts_ns = 0;
    uint8_t flags = 0;
    std::string_view msg;
    std::vector<KVView> labels;  // stream_fields keys, then o.extra_labels
    std::vector<KVView> fields;
  };
  Doc doc;

  // Decodes text into doc (views valid until the next Decode). readable_after: bytes readable
  // after text (simdjson reads up to SIMDJSON_PADDING past the end; their content does not
  // matter): enough of them and text is parsed in place instead of copied. False (and doc is
  // the flagged raw line) when it is not a JSON object; *why says why.
  bool Decode(std::string_view text, size_t readable_after, const Options& o, std::string* why);
  // Appends the object's keys (nested objects flattened with '.') and values to items.
  void Flatten(simdjson::dom::object obj, std::string_view prefix, int depth);
  std::string* Text() {
    if (texts_used == texts.size()) texts.emplace_back();
    std::string* t = &texts[texts_used++];
    t->clear();
    return t;
  }
  // The value as kept: a view of a JSON string's bytes, or the text of another value.
  std::string_view Value(simdjson::dom::element v);
  // doc as a LogRecord (appended to rec's labels and fields; with reuse, rec's field elements
  // are overwritten from the first on, so their strings keep their capacity).
  void ToRecord(LogRecord* rec, bool reuse) const;
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

int64_t NumberToNanos(double v) {
  double a = std::fabs(v);
  if (!std::isfinite(v) || a >= 9.2e18) return 0;
  int64_t mult = a < 1e11 ? 1000000000LL : a < 1e14 ? 1000000LL : a < 1e17 ? 1000LL : 1;
  // Integer part in integer arithmetic: a double holds ms/us since the epoch exactly.
  int64_t whole = static_cast<int64_t>(v);
  double frac = v - static_cast<double>(whole);
  return whole * mult + std::llround(frac * static_cast<double>(mult));
}

namespace {

// The text a non-object value is kept as (strings unquoted, other JSON as its minified text).
void AssignScalar(simdjson::dom::element v, std::string* out) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      out->assign(v.get_string().value());
      return;
    case simdjson::dom::element_type::BOOL:
      out->assign(v.get_bool().value() ? "true" : "false");
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out->clear();
      return;
    case simdjson::dom::element_type::INT64: {
      char b[24];
      auto r = std::to_chars(b, b + sizeof b, v.get_int64().value());
      out->assign(b, r.ptr);
      return;
    }
    case simdjson::dom::element_type::UINT64: {
      char b[24];
      auto r = std::to_chars(b, b + sizeof b, v.get_uint64().value());
      out->assign(b, r.ptr);
      return;
    }
    default:
      *out = simdjson::minify(v);
  }
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

void Parser::Impl::Flatten(simdjson::dom::object obj, std::string_view prefix, int depth) {
  for (auto [k, v] : obj) {
    std::string_view name = k;
    if (!prefix.empty()) {
      if (nested_used == nested_names.size()) nested_names.emplace_back();
      std::string& n = nested_names[nested_used++];
      n.assign(prefix);
      n += '.';
      n += k;
      name = n;
    }
    if (v.type() == simdjson::dom::element_type::OBJECT && depth < 8) {
      Flatten(v.get_object().value(), name, depth + 1);
      continue;
    }
    if (v.type() == simdjson::dom::element_type::NULL_VALUE) continue;
    items.push_back(Item{name, v});
  }
}

std::string_view Parser::Impl::Value(simdjson::dom::element v) {
  if (v.type() == simdjson::dom::element_type::STRING) return v.get_string().value();
  std::string* t = Text();
  AssignScalar(v, t);
  return *t;
}

bool Parser::ParseObject(std::string_view text, const Options& o, LogRecord* rec,
                         std::string* why) {
  const bool ok = impl_->Decode(text, 0, o, why);
  impl_->ToRecord(rec, /*reuse=*/false);
  return ok;
}

void Parser::Impl::ToRecord(LogRecord* rec, bool reuse) const {
  rec->ts_ns = doc.ts_ns;
  rec->flags |= doc.flags;
  rec->msg.assign(doc.msg);
  size_t nf = reuse ? 0 : rec->fields.size();
  for (const auto& f : doc.fields) {
    if (nf == rec->fields.size()) rec->fields.emplace_back();
    KV& kv = rec->fields[nf++];
    kv.name.assign(f.name);
    kv.value.assign(f.value);
  }
  rec->fields.resize(nf);
  // The store promotes service/host/level to labels: room for them now, one allocation.
  rec->labels.reserve(rec->labels.size() + doc.labels.size() + 4);
  for (const auto& l : doc.labels)
    rec->labels.push_back(KV{std::string(l.name), std::string(l.value)});
}

bool Parser::Impl::Decode(std::string_view text, size_t readable_after, const Options& o,
                          std::string* why) {
  doc.ts_ns = 0;
  doc.flags = 0;
  doc.labels.clear();
  doc.fields.clear();
  texts_used = 0;
  auto extra_labels = [&] {
    for (const auto& l : o.extra_labels) doc.labels.push_back(KVView{l.name, l.value});
  };
  auto parse_error = [&](std::string message) {
    doc.flags |= kFlagParseError;
    std::string* t = Text();
    *t = std::move(message);
    doc.fields.push_back(KVView{"_parse_error", *t});
  };
  simdjson::dom::element root;
  auto err =
      parser.parse(text.data(), text.size(), readable_after < simdjson::SIMDJSON_PADDING).get(root);
  if (err != simdjson::SUCCESS || root.type() != simdjson::dom::element_type::OBJECT) {
    *why = err != simdjson::SUCCESS
               ? std::string("cannot parse JSON: ") + simdjson::error_message(err)
               : std::string("not a JSON object");
    doc.msg = text;
    extra_labels();
    parse_error(*why);
    return false;
  }
  // Keys with their values still in the DOM: only what is kept is converted.
  items.clear();
  nested_used = 0;
  Flatten(root.get_object().value(), "", 0);
  auto find = [this](const std::vector<std::string>& names, size_t skip) -> size_t {
    for (const auto& name : names) {
      for (size_t i = 0; i < items.size(); ++i) {
        if (i != skip && items[i].name == name) return i;
      }
    }
    return SIZE_MAX;
  };
  // Message.
  size_t msg_i = find(o.msg_fields, SIZE_MAX);
  doc.msg = msg_i != SIZE_MAX ? Value(items[msg_i].value) : text;
  // Time.
  size_t time_i = find(o.time_fields, msg_i);
  if (time_i != SIZE_MAX) {
    const auto& v = items[time_i].value;
    int64_t ns = 0;
    if (v.type() == simdjson::dom::element_type::STRING &&
        ParseRfc3339Nanos(v.get_string().value(), &ns)) {
      doc.ts_ns = ns;
    } else {
      std::string t;
      AssignScalar(v, &t);
      char* end = nullptr;
      double d = std::strtod(t.c_str(), &end);
      if (ParseRfc3339Nanos(t, &ns)) {
        doc.ts_ns = ns;
      } else if (!t.empty() && *end == '\0') {
        doc.ts_ns = NumberToNanos(d);
      } else {
        parse_error("cannot parse time field " + std::string(items[time_i].name) + " \"" +
                    t.substr(0, 64) + "\"; used the arrival time");
        *why = std::string(doc.fields.back().value);
        time_i = SIZE_MAX;  // keep the field as it was sent
      }
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == msg_i || i == time_i) continue;
    if (!o.stream_fields.empty() && Contains(o.stream_fields, items[i].name)) {
      doc.labels.push_back(KVView{items[i].name, Value(items[i].value)});
      continue;
    }
    doc.fields.push_back(KVView{items[i].name, Value(items[i].value)});
  }
  extra_labels();
  return (doc.flags & kFlagParseError) == 0;
}

namespace {

// Lines for a reserve, counted with memchr (vectorised; std::count over an 8 MiB body was 2.6 %
// of ingest CPU).
size_t CountLines(std::string_view body) {
  size_t lines = 1;
  const char* end = body.data() + body.size();
  for (const char* p = body.data(); p < end; ++p) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (p == nullptr) break;
    ++lines;
  }
  return lines;
}

// Calls fn(line, line_no) for every non-blank line (CR LF or LF).
template <typename Fn>
void ForEachLine(std::string_view body, Fn&& fn) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t b = 0;
    while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
    if (b == line.size()) continue;
    fn(line, line_no);
  }
}

// Records ahead of the one being decoded into whose memory is prefetched (ParseLinesReusing).
constexpr size_t kPrefetchFar = 8, kPrefetchNear = 4;

}  // namespace

void Parser::ParseLines(std::string_view body, const Options& o, LogBatch* out, Report* report) {
  out->reserve(out->size() + CountLines(body));
  ForEachLine(body, [&](std::string_view line, size_t line_no) {
    LogRecord rec;
    std::string why;
    size_t after = static_cast<size_t>(body.data() + body.size() - (line.data() + line.size()));
    if (!impl_->Decode(line, after, o, &why)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    impl_->ToRecord(&rec, /*reuse=*/false);
    report->records++;
    out->push_back(std::move(rec));
  });
}

void Parser::ParseLinesReusing(std::string_view body, const Options& o, LogBatch* out,
                               Report* report) {
  size_t n = 0;  // no reserve: the batch keeps its capacity from request to request
  std::string why;
  ForEachLine(body, [&](std::string_view line, size_t line_no) {
    // The reused records' label and field vectors and strings lie anywhere on the heap and went
    // cold since the previous request: touching them (to clear and overwrite) stalled on a cache
    // miss each. Fetched ahead: the vectors kFar records ahead, their strings kNear ahead.
    if (n + kPrefetchFar < out->size()) PrefetchVectors((*out)[n + kPrefetchFar]);
    if (n + kPrefetchNear < out->size()) PrefetchStrings((*out)[n + kPrefetchNear]);
    if (n == out->size()) out->emplace_back();
    LogRecord& rec = (*out)[n++];
    rec.ts_ns = 0;
    rec.flags = 0;
    rec.msg.clear();
    rec.labels.clear();
    why.clear();
    size_t after = static_cast<size_t>(body.data() + body.size() - (line.data() + line.size()));
    if (!impl_->Decode(line, after, o, &why)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    impl_->ToRecord(&rec, /*reuse=*/true);
    report->records++;
  });
  out->resize(n);
}

void Parser::ParseLinesInto(std::string_view body, const Options& o, BatchBuilder* out,
                            Report* report) {
  std::string why;
  ForEachLine(body, [&](std::string_view line, size_t line_no) {
    why.clear();
    size_t after = static_cast<size_t>(body.data() + body.size() - (line.data() + line.size()));
    if (!impl_->Decode(line, after, o, &why)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    const Impl::Doc& d = impl_->doc;
    out->Add(d.ts_ns, d.flags, d.labels, d.msg, d.fields);
    report->records++;
  });
}

int FuzzJsonLines(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Parser p;
  Options o;
  LogBatch out;
  Report r;
  p.ParseLines(body, o, &out, &r);
  // The same lines decoded into a builder (what /insert/jsonline does): the payload decodes,
  // with every line's record.
  NormalizeRules rules;
  rules.label_names = {"service", "host", "level", "source"};
  rules.max_line_bytes = 64;
  BatchBuilder b;
  b.Reset(&rules, 1, 0);
  Report r2;
  p.ParseLinesInto(body, o, &b, &r2);
  EncodedBatch e = b.Finish();
  LogBatch decoded;
  if (!DecodeBatch(e.payload, &decoded).ok() || decoded.size() != out.size()) __builtin_trap();
  return 0;
}

}  // namespace kansoku::logs::ingest::jsonline
