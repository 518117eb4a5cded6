#include "cli/client.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "net/http_client.h"

namespace kansoku::cli {

void ClientFlags::AddTo(CLI::App* app) {
  app->add_option("--server", server,
                  "kansoku server URL (env KANSOKU_SERVER; default http://127.0.0.1:9400)");
  app->add_option("--token", token, "API token (env KANSOKU_TOKEN)");
  app->add_flag("--json", json, "print JSON instead of a table");
  app->add_flag("--insecure", insecure, "do not verify the server's TLS certificate");
}

void ClientFlags::ResolveDefaults() {
  if (server.empty()) {
    const char* e = std::getenv("KANSOKU_SERVER");
    server = e && *e ? e : "http://127.0.0.1:9400";
  }
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (token.empty()) {
    const char* e = std::getenv("KANSOKU_TOKEN");
    if (e) token = e;
  }
}

Result<std::string> CallApi(const ClientFlags& f, const std::string& method,
                            const std::string& path, const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!f.token.empty()) headers.emplace_back("Authorization", "Bearer " + f.token);
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  net::ClientOptions opts;
  opts.insecure_tls = f.insecure;
  auto r = net::HttpCall(method, f.server + path, headers, body, opts);
  if (!r.ok()) return r.status();
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  std::string msg = r->body;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view err;
  if (p.parse(r->body).get(doc) == simdjson::SUCCESS &&
      doc["error"].get_string().get(err) == simdjson::SUCCESS) {
    msg = std::string(err);
  }
  Status::Code code = r->status == 401   ? Status::Code::kUnauthenticated
                      : r->status == 403 ? Status::Code::kPermissionDenied
                      : r->status == 404 ? Status::Code::kNotFound
                      : r->status < 500  ? Status::Code::kInvalidArgument
                                         : Status::Code::kUnavailable;
  return Status(code, "server answered " + std::to_string(r->status) + ": " + msg);
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s += std::string(w[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", s.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

}  // namespace kansoku::cli
