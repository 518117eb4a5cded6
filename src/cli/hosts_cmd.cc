#include "cli/hosts_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <memory>

#include "base/clock.h"
#include "cli/client.h"
#include "net/http.h"

namespace kansoku::cli {
namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "kansoku: %s\n", st.message().c_str());
  return 1;
}

std::string Ago(int64_t ms) {
  if (ms <= 0) return "-";
  int64_t s = (Clock::Real().NowMs() - ms) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string Num(simdjson::dom::element obj, const char* key, double scale, const char* fmt) {
  double v;
  if (obj[key].get_double().get(v) != simdjson::SUCCESS) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v * scale);
  return buf;
}

std::string Str(simdjson::dom::element obj, const char* key) {
  std::string_view s;
  return obj[key].get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "";
}

void PrintHosts(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json).get(doc) != simdjson::SUCCESS) {
    std::printf("%s\n", json.c_str());
    return;
  }
  simdjson::dom::element data = doc["data"];
  std::vector<simdjson::dom::element> hosts;
  if (data.is_array()) {
    for (auto h : data.get_array()) hosts.push_back(h);
  } else {
    hosts.push_back(data);
  }
  std::vector<std::vector<std::string>> rows;
  for (auto h : hosts) {
    std::string roles;
    for (auto r : h["roles"].get_array())
      roles += (roles.empty() ? "" : ",") + std::string(std::string_view(r));
    std::string status = Str(h, "status");
    if (bool(h["retired"]))
      status = "retired";
    else if (bool(h["unreachable"]))
      status += " (unreachable)";
    simdjson::dom::element m = h["metrics"];
    rows.push_back({Str(h, "id"), Str(h, "name"), Str(h, "service"), roles, status,
                    Ago(int64_t(h["last_heartbeat_ms"])), Num(m, "load1", 1, "%.2f"),
                    Num(m, "cpu_used_ratio", 100, "%.0f%%"),
                    Num(m, "memory_used_ratio", 100, "%.0f%%"),
                    Num(m, "fs_max_used_ratio", 100, "%.0f%%")});
  }
  PrintTable(
      {"ID", "NAME", "SERVICE", "ROLES", "STATUS", "HEARTBEAT", "LOAD1", "CPU", "MEM", "DISK"},
      rows);
}

}  // namespace

void AddHostsCommand(CLI::App* app, int* exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* hosts = app->add_subcommand(
      "hosts", "List the hosts agents registered (status, roles, last heartbeat, key metrics)");
  auto service = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  auto status = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto list_fn = [=] {
    flags->ResolveDefaults();
    std::string q;
    auto param = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + v;
    };
    param("service", *service);
    param("role", *role);
    param("status", *status);
    if (*all) param("all", "1");
    auto r = CallApi(*flags, "GET", "/api/v1/hosts" + q);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    PrintHosts(*r);
  };
  hosts->add_option("--service", *service, "only hosts of this service");
  hosts->add_option("--role", *role, "only hosts with this role");
  hosts->add_option("--status", *status,
                    "working, standby, maintenance, poweroff, unreachable or retired");
  hosts->add_flag("--all", *all, "include retired hosts");
  flags->AddTo(hosts);
  hosts->callback([=] {
    if (hosts->get_subcommands().empty()) list_fn();
  });

  auto id = std::make_shared<std::string>();
  CLI::App* show = hosts->add_subcommand("show", "Show one host (JSON)");
  show->add_option("id", *id, "host id")->required();
  flags->AddTo(show);
  show->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "GET", "/api/v1/hosts/" + *id);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    std::printf("%s\n", r->c_str());
  });

  auto new_status = std::make_shared<std::string>();
  CLI::App* st = hosts->add_subcommand("status", "Set a host's status");
  st->add_option("id", *id, "host id")->required();
  st->add_option("status", *new_status, "working, standby, maintenance or poweroff")->required();
  flags->AddTo(st);
  st->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "POST", "/api/v1/hosts/" + *id + "/status",
                     "{\"status\":" + net::JsonString(*new_status) + "}");
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    std::printf("host %s: status %s\n", id->c_str(), new_status->c_str());
  });

  CLI::App* retire = hosts->add_subcommand("retire", "Retire a host for good");
  retire->add_option("id", *id, "host id")->required();
  flags->AddTo(retire);
  retire->callback([=] {
    flags->ResolveDefaults();
    auto r = CallApi(*flags, "POST", "/api/v1/hosts/" + *id + "/retire", "{}");
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (flags->json) return void(std::printf("%s\n", r->c_str()));
    std::printf("host %s retired\n", id->c_str());
  });
}

}  // namespace kansoku::cli
