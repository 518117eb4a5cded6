#include "cli/token_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <ctime>
#include <memory>

#include "cli/client.h"
#include "net/http.h"

namespace kansoku::cli {
namespace {

std::string FormatTime(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "kansoku: %s\n", st.message().c_str());
  return 1;
}

}  // namespace

void AddTokenCommand(CLI::App* app, int* exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* tok = app->add_subcommand("token", "Manage API tokens (needs an admin token)");
  tok->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto scopes = std::make_shared<std::vector<std::string>>();
  CLI::App* create = tok->add_subcommand("create", "Create a token; its secret is printed once");
  create->add_option("--name", *name, "token name")->required();
  create->add_option("--scope", *scopes, "ingest, read or admin (repeat or comma-separate)")
      ->required();
  flags->AddTo(create);
  create->callback([=] {
    flags->ResolveDefaults();
    std::string body = "{\"name\":" + net::JsonString(*name) + ",\"scopes\":[";
    for (size_t i = 0; i < scopes->size(); ++i) {
      body += (i ? "," : "") + net::JsonString((*scopes)[i]);
    }
    body += "]}";
    // "ingest,read" in one flag: split server-side? No: split here so the API stays a list.
    if (scopes->size() == 1 && (*scopes)[0].find(',') != std::string::npos) {
      body = "{\"name\":" + net::JsonString(*name) + ",\"scopes\":[";
      size_t start = 0;
      const std::string& s = (*scopes)[0];
      bool first = true;
      while (start <= s.size()) {
        size_t c = s.find(',', start);
        std::string part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
        if (!part.empty()) {
          body += (first ? "" : ",") + net::JsonString(part);
          first = false;
        }
        if (c == std::string::npos) break;
        start = c + 1;
      }
      body += "]}";
    }
    auto r = CallApi(*flags, "POST", "/api/v1/tokens", body);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    simdjson::dom::element d = p.parse(*r)["data"];
    std::printf("created token %lld \"%s\"\nsecret (shown once): %s\n",
                static_cast<long long>(int64_t(d["id"])),
                std::string(std::string_view(d["name"])).c_str(),
                std::string(std::string_view(d["token"])).c_str());
  });

  auto all = std::make_shared<bool>(false);
  CLI::App* list = tok->add_subcommand("list", "List tokens (secrets are never shown)");
  list->add_flag("--all", *all, "include revoked tokens");
  flags->AddTo(list);
  list->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "GET", std::string("/api/v1/tokens") + (*all ? "?all=true" : ""));
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    std::vector<std::vector<std::string>> rows;
    for (simdjson::dom::element t : p.parse(*r)["data"].get_array()) {
      std::string sc;
      for (auto s : t["scopes"].get_array())
        sc += (sc.empty() ? "" : ",") + std::string(std::string_view(s));
      rows.push_back({std::to_string(int64_t(t["id"])), std::string(std::string_view(t["name"])),
                      sc, FormatTime(int64_t(t["created_at_ms"])),
                      bool(t["revoked"]) ? "revoked" : "valid"});
    }
    PrintTable({"ID", "NAME", "SCOPES", "CREATED", "STATE"}, rows);
  });

  auto id = std::make_shared<long long>(0);
  CLI::App* revoke = tok->add_subcommand("revoke", "Revoke a token by id");
  revoke->add_option("id", *id, "token id (from `kansoku token list`)")->required();
  flags->AddTo(revoke);
  revoke->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "DELETE", "/api/v1/tokens/" + std::to_string(*id));
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    std::printf("revoked token %lld\n", *id);
  });
}

}  // namespace kansoku::cli
