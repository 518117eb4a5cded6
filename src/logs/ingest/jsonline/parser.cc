#include "logs/ingest/jsonline/parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>

namespace kansoku::logs::ingest::jsonline {

struct Parser::Impl {
  simdjson::dom::parser parser;
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

std::string Scalar(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(v.get_string().value());
    case simdjson::dom::element_type::BOOL:
      return v.get_bool().value() ? "true" : "false";
    case simdjson::dom::element_type::NULL_VALUE:
      return "";
    case simdjson::dom::element_type::INT64:
      return std::to_string(v.get_int64().value());
    case simdjson::dom::element_type::UINT64:
      return std::to_string(v.get_uint64().value());
    default:
      return simdjson::minify(v);
  }
}

void Flatten(simdjson::dom::object obj, const std::string& prefix, std::vector<KV>* out,
             int depth) {
  for (auto [k, v] : obj) {
    std::string name = prefix.empty() ? std::string(k) : prefix + "." + std::string(k);
    if (v.type() == simdjson::dom::element_type::OBJECT && depth < 8) {
      Flatten(v.get_object().value(), name, out, depth + 1);
      continue;
    }
    if (v.type() == simdjson::dom::element_type::NULL_VALUE) continue;
    out->push_back(KV{std::move(name), Scalar(v)});
  }
}

}  // namespace

bool Parser::ParseObject(std::string_view doc, const Options& o, LogRecord* rec, std::string* why) {
  simdjson::dom::element root;
  auto err = impl_->parser.parse(doc.data(), doc.size()).get(root);
  if (err != simdjson::SUCCESS || root.type() != simdjson::dom::element_type::OBJECT) {
    *why = err != simdjson::SUCCESS
               ? std::string("cannot parse JSON: ") + simdjson::error_message(err)
               : std::string("not a JSON object");
    rec->msg.assign(doc);
    rec->labels.insert(rec->labels.end(), o.extra_labels.begin(), o.extra_labels.end());
    rec->SetParseError(*why);
    return false;
  }
  std::vector<KV> fields;
  Flatten(root.get_object().value(), "", &fields, 0);
  // Message.
  bool have_msg = false;
  for (const auto& name : o.msg_fields) {
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const KV& kv) { return kv.name == name; });
    if (it != fields.end()) {
      rec->msg = std::move(it->value);
      fields.erase(it);
      have_msg = true;
      break;
    }
  }
  if (!have_msg) rec->msg.assign(doc);
  // Time.
  for (const auto& name : o.time_fields) {
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const KV& kv) { return kv.name == name; });
    if (it == fields.end()) continue;
    int64_t ns = 0;
    char* end = nullptr;
    double d = std::strtod(it->value.c_str(), &end);
    if (ParseRfc3339Nanos(it->value, &ns)) {
      rec->ts_ns = ns;
    } else if (!it->value.empty() && *end == '\0') {
      rec->ts_ns = NumberToNanos(d);
    } else {
      rec->SetParseError("cannot parse time field " + name + " \"" + it->value.substr(0, 64) +
                         "\"; used the arrival time");
      *why = rec->Field("_parse_error");
      break;  // keep the field as it was sent
    }
    fields.erase(it);
    break;
  }
  for (auto& f : fields) {
    if (std::find(o.stream_fields.begin(), o.stream_fields.end(), f.name) !=
        o.stream_fields.end()) {
      rec->labels.push_back(std::move(f));
    } else {
      rec->fields.push_back(std::move(f));
    }
  }
  rec->labels.insert(rec->labels.end(), o.extra_labels.begin(), o.extra_labels.end());
  return (rec->flags & kFlagParseError) == 0;
}

void Parser::ParseLines(std::string_view body, const Options& o, LogBatch* out, Report* report) {
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
    LogRecord rec;
    std::string why;
    if (!ParseObject(line, o, &rec, &why)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    report->records++;
    out->push_back(std::move(rec));
  }
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
