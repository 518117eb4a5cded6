#include "logs/ingest/es_bulk/parser.h"

#include <simdjson.h>

namespace kansoku::logs::ingest::es_bulk {
namespace {

void JsonEscape(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

void Parser::Parse(std::string_view body, const std::string& default_index, LogBatch* out,
                   std::vector<Item>* items, Report* report) {
  simdjson::dom::parser parser;
  jsonline::Options jo;
  jo.extra_labels = {{"source", "elasticsearch"}};
  size_t pos = 0;
  size_t line_no = 0;
  auto next_line = [&](std::string_view* line) {
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string_view::npos) nl = body.size();
      *line = body.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
      if (!line->empty()) return true;
    }
    return false;
  };
  std::string_view line;
  while (next_line(&line)) {
    Item item;
    item.index = default_index;
    simdjson::dom::element action;
    simdjson::dom::object obj;
    if (parser.parse(line.data(), line.size()).get(action) || action.get_object().get(obj) ||
        obj.size() != 1) {
      // Not an action line: keep it as a document so nothing is lost, and flag it.
      item.action = "index";
      LogRecord r;
      std::string why;
      json_.ParseObject(line, jo, &r, &why);
      r.SetParseError("line " + std::to_string(line_no) + " is not a _bulk action line");
      report->flagged++;
      report->records++;
      report->Error("line " + std::to_string(line_no) +
                    ": expected an action such as {\"index\":{}}");
      out->push_back(std::move(r));
      items->push_back(std::move(item));
      continue;
    }
    auto [name, meta] = *obj.begin();
    item.action = std::string(name);
    std::string_view idx;
    if (!meta["_index"].get_string().get(idx)) item.index = std::string(idx);
    if (item.action == "delete") {
      item.status = 400;
      item.error = "logs are append-only: delete is not supported";
      report->rejected++;
      items->push_back(std::move(item));
      continue;
    }
    std::string_view doc;
    if (!next_line(&doc)) {
      item.status = 400;
      item.error = "action without a document line";
      report->rejected++;
      report->Error("line " + std::to_string(line_no) + ": action without a document");
      items->push_back(std::move(item));
      break;
    }
    if (item.action != "index" && item.action != "create") {
      item.status = 400;
      item.error = "logs are append-only: " + item.action + " is not supported";
      report->rejected++;
      items->push_back(std::move(item));
      continue;
    }
    LogRecord r;
    std::string why;
    if (!json_.ParseObject(doc, jo, &r, &why)) {
      report->flagged++;
      report->Error("line " + std::to_string(line_no) + ": " + why);
    }
    if (!item.index.empty()) r.fields.push_back(KV{"es_index", item.index});
    report->records++;
    out->push_back(std::move(r));
    items->push_back(std::move(item));
  }
}

std::string Parser::Response(const std::vector<Item>& items, int64_t took_ms) {
  bool errors = false;
  for (const auto& i : items) errors |= i.status >= 300;
  std::string j = "{\"took\":" + std::to_string(took_ms) +
                  ",\"errors\":" + (errors ? "true" : "false") + ",\"items\":[";
  size_t n = 0;
  for (const auto& i : items) {
    if (n++) j += ',';
    j += "{\"";
    JsonEscape(j, i.action.empty() ? "index" : i.action);
    j += "\":{\"_index\":\"";
    JsonEscape(j, i.index);
    j += "\",\"_id\":\"" + std::to_string(n) + "\",\"status\":" + std::to_string(i.status);
    if (i.status < 300) {
      j += ",\"result\":\"created\",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}}}";
    } else {
      j += ",\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"";
      JsonEscape(j, i.error);
      j += "\"}}}";
    }
  }
  j += "]}";
  return j;
}

int FuzzEsBulk(const uint8_t* data, size_t size) {
  Parser p;
  LogBatch b;
  std::vector<Item> items;
  Report r;
  p.Parse(std::string_view(reinterpret_cast<const char*>(data), size), "logs", &b, &items, &r);
  (void)Parser::Response(items, 1);
  return 0;
}

}  // namespace kansoku::logs::ingest::es_bulk
