#include "cli/alert_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <memory>

#include "alert/rule_file.h"
#include "cli/client.h"
#include "net/http.h"

namespace kansoku::cli {

namespace {
int Fail(const std::string& msg) {
  std::fprintf(stderr, "kansoku: %s\n", msg.c_str());
  return 1;
}
}  // namespace

void AddAlertCommands(CLI::App* app, int* exit_code) {
  // rules check: no server needed.
  CLI::App* rules = app->add_subcommand("rules", "Alerting and recording rule files");
  rules->require_subcommand(1);
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* check = rules->add_subcommand("check", "Validate Prometheus rule files");
  check->add_option("files", *files, "rule files")->required();
  check->callback([=] {
    int bad = 0;
    for (const auto& f : *files) {
      auto r = alert::LoadRuleFile(f);
      if (!r.ok()) {
        std::fprintf(stderr, "FAILED: %s\n", r.status().message().c_str());
        ++bad;
        continue;
      }
      size_t n = 0;
      for (const auto& g : r->groups) n += g.rules.size();
      std::printf("%s: SUCCESS: %zu rules found\n", f.c_str(), n);
    }
    *exit_code = bad ? 1 : 0;
  });

  auto flags = std::make_shared<ClientFlags>();
  CLI::App* sil = app->add_subcommand("silences", "List, add and expire alert silences");
  sil->require_subcommand(1);

  CLI::App* list = sil->add_subcommand("list", "List silences");
  flags->AddTo(list);
  list->callback([=] {
    flags->ResolveDefaults();
    auto body = CallApi(*flags, "GET", "/api/v1/silences");
    if (!body.ok()) {
      *exit_code = Fail(body.status().message());
      return;
    }
    if (flags->json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    if (p.parse(*body).get(doc) != simdjson::SUCCESS ||
        doc["data"].get_array().get(arr) != simdjson::SUCCESS) {
      *exit_code = Fail("unexpected answer from the server");
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (auto s : arr) {
      std::string matchers;
      simdjson::dom::array ms;
      if (s["matchers"].get_array().get(ms) == simdjson::SUCCESS) {
        for (auto m : ms) {
          std::string_view v;
          if (m.get_string().get(v) == simdjson::SUCCESS)
            matchers += (matchers.empty() ? "" : ",") + std::string(v);
        }
      }
      auto str = [&](const char* k) {
        std::string_view v;
        return s[k].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
      };
      std::string_view state;
      if (s["status"]["state"].get_string().get(state) != simdjson::SUCCESS) state = "";
      rows.push_back({str("id"), std::string(state), matchers, str("startsAt"), str("endsAt"),
                      str("createdBy"), str("comment")});
    }
    PrintTable({"ID", "STATE", "MATCHERS", "STARTS", "ENDS", "BY", "COMMENT"}, rows);
  });

  auto matchers = std::make_shared<std::vector<std::string>>();
  auto duration = std::make_shared<std::string>("2h");
  auto author = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  CLI::App* add = sil->add_subcommand(
      "add", "Add a silence: kansoku silences add 'instance=\"db1\"' --duration 2h");
  add->add_option("matchers", *matchers, "label matchers: name=\"v\", name!=\"v\", name=~\"re\"")
      ->required();
  add->add_option("--duration", *duration, "how long (default 2h)");
  add->add_option("--author", *author, "who (default: the token's name)");
  add->add_option("--comment", *comment, "why")->required();
  flags->AddTo(add);
  add->callback([=] {
    flags->ResolveDefaults();
    std::string body = "{\"matchers\":[";
    for (size_t i = 0; i < matchers->size(); ++i)
      body += (i ? "," : "") + net::JsonString((*matchers)[i]);
    body += "],\"duration\":" + net::JsonString(*duration) +
            ",\"comment\":" + net::JsonString(*comment);
    if (!author->empty()) body += ",\"createdBy\":" + net::JsonString(*author);
    body += "}";
    auto r = CallApi(*flags, "POST", "/api/v1/silences", body);
    if (!r.ok()) {
      *exit_code = Fail(r.status().message());
      return;
    }
    std::printf("%s\n", r->c_str());
  });

  auto id = std::make_shared<std::string>();
  CLI::App* expire = sil->add_subcommand("expire", "End a silence now");
  expire->add_option("id", *id, "silence id")->required();
  flags->AddTo(expire);
  expire->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "DELETE", "/api/v1/silences/" + *id);
    if (!r.ok()) {
      *exit_code = Fail(r.status().message());
      return;
    }
    std::printf("expired %s\n", id->c_str());
  });
}

}  // namespace kansoku::cli
