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

  // Decodes doc into *rec. readable_after: bytes readable after doc (simdjson reads up to
  // SIMDJSON_PADDING past the end; their content does not matter): enough of them and doc is
  // parsed in place instead of copied. With reuse, rec->fields' elements (from the previous
  // document) are overwritten instead of destroyed, so their strings keep their capacity.
  bool Parse(std::string_view doc, size_t readable_after, const Options& o, LogRecord* rec,
             std::string* why, bool reuse);
  // Appends the object's keys (nested objects flattened with '.') and values to items.
  void Flatten(simdjson::dom::object obj, std::string_view prefix, int depth);
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

bool Parser::ParseObject(std::string_view doc, const Options& o, LogRecord* rec, std::string* why) {
  return impl_->Parse(doc, 0, o, rec, why, /*reuse=*/false);
}

bool Parser::Impl::Parse(std::string_view doc, size_t readable_after, const Options& o,
                         LogRecord* rec, std::string* why, bool reuse) {
  simdjson::dom::element root;
  auto err =
      parser.parse(doc.data(), doc.size(), readable_after < simdjson::SIMDJSON_PADDING).get(root);
  if (err != simdjson::SUCCESS || root.type() != simdjson::dom::element_type::OBJECT) {
    *why = err != simdjson::SUCCESS
               ? std::string("cannot parse JSON: ") + simdjson::error_message(err)
               : std::string("not a JSON object");
    if (reuse) rec->fields.clear();
    rec->msg.assign(doc);
    rec->labels.insert(rec->labels.end(), o.extra_labels.begin(), o.extra_labels.end());
    rec->SetParseError(*why);
    return false;
  }
  // Keys with their values still in the DOM: only what is kept is copied out.
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
  // Fields are written from index nf on: reused elements first, then new ones.
  size_t nf = reuse ? 0 : rec->fields.size();
  // Message.
  size_t msg_i = find(o.msg_fields, SIZE_MAX);
  if (msg_i != SIZE_MAX) {
    AssignScalar(items[msg_i].value, &rec->msg);
  } else {
    rec->msg.assign(doc);
  }
  // Time.
  size_t time_i = find(o.time_fields, msg_i);
  if (time_i != SIZE_MAX) {
    const auto& v = items[time_i].value;
    int64_t ns = 0;
    if (v.type() == simdjson::dom::element_type::STRING &&
        ParseRfc3339Nanos(v.get_string().value(), &ns)) {
      rec->ts_ns = ns;
    } else {
      std::string text;
      AssignScalar(v, &text);
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (ParseRfc3339Nanos(text, &ns)) {
        rec->ts_ns = ns;
      } else if (!text.empty() && *end == '\0') {
        rec->ts_ns = NumberToNanos(d);
      } else {
        rec->fields.resize(nf);
        rec->SetParseError("cannot parse time field " + std::string(items[time_i].name) + " \"" +
                           text.substr(0, 64) + "\"; used the arrival time");
        *why = rec->Field("_parse_error");
        nf = rec->fields.size();
        time_i = SIZE_MAX;  // keep the field as it was sent
      }
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == msg_i || i == time_i) continue;
    if (!o.stream_fields.empty() && Contains(o.stream_fields, items[i].name)) {
      KV kv{std::string(items[i].name), std::string()};
      AssignScalar(items[i].value, &kv.value);
      rec->labels.push_back(std::move(kv));
      continue;
    }
    if (nf == rec->fields.size()) rec->fields.emplace_back();
    KV& f = rec->fields[nf++];
    f.name.assign(items[i].name);
    AssignScalar(items[i].value, &f.value);
  }
  rec->fields.resize(nf);
  // The store promotes service/host/level to labels: room for them now, one allocation.
  rec->labels.reserve(rec->labels.size() + o.extra_labels.size() + 4);
  rec->labels.insert(rec->labels.end(), o.extra_labels.begin(), o.extra_labels.end());
  return (rec->flags & kFlagParseError) == 0;
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
    if (!impl_->Parse(line, after, o, &rec, &why, /*reuse=*/false)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
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
    if (!impl_->Parse(line, after, o, &rec, &why, /*reuse=*/true)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    report->records++;
  });
  out->resize(n);
}

int FuzzJsonLines(const uint8_t* data, size_t size) {
  Parser p;
  Options o;
  LogBatch out;
  Report r;
  p.ParseLines(std::string_view(reinterpret_cast<const char*>(data), size), o, &out, &r);
  return 0;
}

}  // namespace kansoku::logs::ingest::jsonline
