#include "cli/targets_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/client.h"
#include "net/http.h"

namespace kansoku::cli {
namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "kansoku: %s\n", st.message().c_str());
  return 1;
}

std::string Str(simdjson::dom::element obj, const char* key) {
  std::string_view s;
  return obj[key].get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "";
}

std::string Int(simdjson::dom::element obj, const char* key) {
  int64_t v;
  return obj[key].get_int64().get(v) == simdjson::SUCCESS ? std::to_string(v) : "-";
}

void Print(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json).get(doc) != simdjson::SUCCESS) {
    std::printf("%s\n", json.c_str());
    return;
  }
  simdjson::dom::element data = doc["data"];
  std::vector<std::vector<std::string>> rows;
  for (const char* kind : {"activeTargets", "heldTargets", "droppedTargets"}) {
    simdjson::dom::array arr;
    if (data[kind].get_array().get(arr) != simdjson::SUCCESS) continue;
    for (auto t : arr) {
      std::string state = Str(t, "state");
      std::string health = state == "active" ? Str(t, "health") : "-";
      std::string last = state == "active" ? Str(t, "lastScrape") : "-";
      if (last.rfind("0001-", 0) == 0) last = "never";
      double dur = 0;
      std::string samples = "-", duration = "-";
      if (state == "active") {
        samples = Int(t, "samplesPerScrape");
        if (t["lastScrapeDuration"].get_double().get(dur) == simdjson::SUCCESS) {
          char b[32];
          std::snprintf(b, sizeof b, "%.3fs", dur);
          duration = b;
        }
      }
      std::string why = state == "active" ? Str(t, "lastError") : Str(t, "reason");
      std::string where = "server";
      simdjson::dom::element agent;
      if (t["agent"].get(agent) == simdjson::SUCCESS) where = "agent " + Str(agent, "host");
      rows.push_back({Str(t, "scrapePool"), where, Str(t, "scrapeUrl"), state, health, last,
                      duration, samples, why});
    }
  }
  PrintTable({"JOB", "SCRAPED BY", "URL", "STATE", "HEALTH", "LAST SCRAPE", "DURATION", "SAMPLES",
              "ERROR/REASON"},
             rows);
  simdjson::dom::array jobs;
  if (data["jobs"].get_array().get(jobs) == simdjson::SUCCESS) {
    for (auto j : jobs) {
      int64_t held = 0;
      if (j["held"].get_int64().get(held) == simdjson::SUCCESS && held > 0) {
        std::string host;
        simdjson::dom::element agent;
        if (j["agent"].get(agent) == simdjson::SUCCESS) host = Str(agent, "host");
        std::string on = host.empty() ? "" : " on agent " + host;
        std::string flag = host.empty() ? "" : " --host " + host;
        std::printf(
            "\njob %s%s holds %lld new targets since %s (grew from %s, limit %s): "
            "kansoku targets approve %s%s\n",
            Str(j, "job").c_str(), on.c_str(), static_cast<long long>(held),
            Str(j, "heldSince").c_str(), Int(j, "holdBase").c_str(), Int(j, "holdLimit").c_str(),
            Str(j, "job").c_str(), flag.c_str());
      }
    }
  }
}

}  // namespace

void AddTargetsCommand(CLI::App* app, int* exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* targets = app->add_subcommand(
      "targets",
      "List scrape targets of the server and of agents (health, last scrape, held / not selected)");
  auto state = std::make_shared<std::string>("any");
  targets->add_option("--state", *state, "active, held, dropped or any");
  flags->AddTo(targets);
  targets->callback([=] {
    if (!targets->get_subcommands().empty()) return;
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "GET", "/api/v1/targets?state=" + *state);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    Print(*r);
  });

  auto job = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto host = std::make_shared<std::string>();
  CLI::App* approve = targets->add_subcommand(
      "approve",
      "Enroll the targets a job holds because its target set grew too fast (an agent's job: at "
      "its next report)");
  approve->add_option("job", *job, "scrape job")->required();
  approve->add_option("target", *target, "only this target (host:port)");
  approve->add_option("--host", *host, "only this agent's job (host name or id)");
  flags->AddTo(approve);
  approve->callback([=] {
    flags->ResolveDefaults();
    std::string body = "{\"job\":" + net::JsonString(*job);
    if (!target->empty()) body += ",\"target\":" + net::JsonString(*target);
    if (!host->empty()) body += ",\"host\":" + net::JsonString(*host);
    body += "}";
    auto r = CallApi(*flags, "POST", "/api/v1/targets/approve", body);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    int64_t n = 0, agents = 0;
    if (p.parse(*r).get(doc) != simdjson::SUCCESS ||
        doc["data"]["approved"].get_int64().get(n) != simdjson::SUCCESS) {
      return void(std::printf("%s\n", r->c_str()));
    }
    if (doc["data"]["agents"].get_int64().get(agents) != simdjson::SUCCESS) agents = 0;
    std::printf("job %s: %lld targets approved", job->c_str(), static_cast<long long>(n));
    if (agents > 0) {
      std::printf(" (%lld on agents, enrolled at their next report)",
                  static_cast<long long>(agents));
    }
    std::printf("\n");
  });
}

}  // namespace kansoku::cli
