#include "cli/logs_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <memory>

#include "base/strings.h"
#include "cli/client.h"

namespace kansoku::cli {
namespace {

// One record as a line: time, stream, message, then the other fields.
void PrintRow(simdjson::dom::object row) {
  std::string time, stream, msg, rest;
  for (auto [k, v] : row) {
    std::string_view s;
    if (v.get_string().get(s)) continue;
    if (k == "_time")
      time = std::string(s);
    else if (k == "_stream")
      stream = std::string(s);
    else if (k == "_msg")
      msg = std::string(s);
    else if (k == "_time_ns")
      continue;
    else if (stream.find(std::string(k) + "=\"") == std::string::npos) {
      rest += "  " + std::string(k) + "=" + std::string(s);
    }
  }
  std::printf("%s %s %s%s\n", time.c_str(), stream.c_str(), msg.c_str(), rest.c_str());
}

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

void AddLogsCommand(CLI::App* app, int* exit_code) {
  struct Args {
    ClientFlags flags;
    std::string query, since, start, end;
    int limit = 100;
    bool follow = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app->add_subcommand("logs", "Search logs (query language: docs/logs-query.md)");
  c->add_option("query", a->query, "log query, e.g. 'error service:api | limit 20'")->required();
  c->add_option("--since", a->since, "only the last duration, e.g. 15m, 1h, 2d");
  c->add_option("--start", a->start, "range start (RFC 3339, Unix seconds, now-1h)");
  c->add_option("--end", a->end, "range end (default now)");
  c->add_option("--limit", a->limit, "records to print (default 100)");
  c->add_flag("-f,--follow", a->follow, "keep printing new matching records (live tail)");
  a->flags.AddTo(c);
  c->callback([a, exit_code] {
    a->flags.ResolveDefaults();
    std::string path =
        "/api/v1/logs/query?query=" + UrlEncode(a->query) + "&limit=" + std::to_string(a->limit);
    if (!a->since.empty()) path += "&start=" + UrlEncode("now-" + a->since);
    if (!a->start.empty()) path += "&start=" + UrlEncode(a->start);
    if (!a->end.empty()) path += "&end=" + UrlEncode(a->end);
    // Remember where the tail starts before reading the history, so nothing falls between.
    std::string cursor;
    if (a->follow) {
      auto t = CallApi(a->flags, "GET", "/api/v1/logs/tail?wait=0s&query=*");
      if (t.ok()) {
        size_t p = t->rfind("id: ");
        if (p != std::string::npos) cursor = t->substr(p + 4, t->find('\n', p) - p - 4);
      }
    }
    auto r = CallApi(a->flags, "GET", path);
    if (!r.ok()) {
      std::fprintf(stderr, "kansoku: %s\n", r.status().message().c_str());
      *exit_code = 1;
      return;
    }
    if (a->flags.json && !a->follow) {
      std::printf("%s\n", r->c_str());
      return;
    }
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (p.parse(*r).get(doc) != simdjson::SUCCESS) {
      std::fprintf(stderr, "kansoku: the server's answer is not JSON\n");
      *exit_code = 1;
      return;
    }
    simdjson::dom::element data = doc["data"];
    std::string_view type;
    if (data["type"].get_string().get(type) == simdjson::SUCCESS && type == "table") {
      std::vector<std::string> header;
      for (auto c : data["columns"].get_array()) header.emplace_back(std::string_view(c));
      std::vector<std::vector<std::string>> rows;
      for (auto row : data["rows"].get_array()) {
        std::vector<std::string> cells;
        for (auto cell : row.get_array()) cells.emplace_back(std::string_view(cell));
        rows.push_back(std::move(cells));
      }
      PrintTable(header, rows);
      return;
    }
    std::vector<simdjson::dom::object> rows;
    for (auto row : data["rows"].get_array()) rows.push_back(row.get_object());
    if (a->follow) {
      for (auto it = rows.rbegin(); it != rows.rend(); ++it) PrintRow(*it);  // oldest first
    } else {
      for (auto row : rows) PrintRow(row);
    }
    std::fflush(stdout);
    if (!a->follow) return;
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    simdjson::dom::parser tp;
    while (!g_stop) {
      std::string tail = "/api/v1/logs/tail?wait=2s&query=" + UrlEncode(a->query);
      if (!cursor.empty()) tail += "&after=" + cursor;
      auto t = CallApi(a->flags, "GET", tail);
      if (!t.ok()) {
        std::fprintf(stderr, "kansoku: %s\n", t.status().message().c_str());
        *exit_code = 1;
        return;
      }
      // Server-sent events: "data: {...}" lines, then "id: <cursor>".
      size_t pos = 0;
      while (pos < t->size()) {
        size_t nl = t->find('\n', pos);
        if (nl == std::string::npos) nl = t->size();
        std::string_view line(t->data() + pos, nl - pos);
        if (line.substr(0, 6) == "data: ") {
          simdjson::dom::element e;
          if (tp.parse(line.data() + 6, line.size() - 6).get(e) == simdjson::SUCCESS &&
              e.is_object()) {
            PrintRow(e.get_object());
          }
        } else if (line.substr(0, 4) == "id: ") {
          cursor = std::string(line.substr(4));
        }
        pos = nl + 1;
      }
      std::fflush(stdout);
    }
  });
}

}  // namespace kansoku::cli
