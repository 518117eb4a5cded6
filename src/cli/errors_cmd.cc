#include "cli/errors_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <memory>

#include "base/strings.h"
#include "cli/client.h"
#include "net/http.h"

namespace kansoku::cli {
namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "kansoku: %s\n", st.message().c_str());
  return 1;
}

std::string S(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t i;
  if (e[key].get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  return "";
}

void PrintProjects(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body).get(doc) != simdjson::SUCCESS) return;
  simdjson::dom::array arr;
  if (doc["data"].get_array().get(arr) != simdjson::SUCCESS) {
    simdjson::dom::element one;
    if (doc["data"].get(one) != simdjson::SUCCESS) return;
    std::string j = "{\"data\":[" + std::string(simdjson::minify(one)) + "]}";
    return PrintProjects(j);
  }
  std::vector<std::vector<std::string>> rows;
  for (auto pr : arr) {
    std::string limits = S(pr, "events_per_minute") + "/min " + S(pr, "events_per_day") + "/day";
    simdjson::dom::array keys;
    if (pr["keys"].get_array().get(keys) == simdjson::SUCCESS) {
      for (auto k : keys) {
        bool enabled = true;
        if (k["enabled"].get_bool().get(enabled) != simdjson::SUCCESS) {
        }
        rows.push_back({S(pr, "id"), S(pr, "name"), S(k, "id"), S(k, "label"),
                        enabled ? "enabled" : "disabled", limits, S(k, "dsn")});
      }
    }
  }
  PrintTable({"PROJECT", "NAME", "KEY", "LABEL", "STATE", "PROJECT LIMIT", "DSN"}, rows);
  // Dropped-event counts the SDKs reported (client_report).
  std::vector<std::vector<std::string>> rep;
  for (auto pr : arr) {
    simdjson::dom::array r;
    if (pr["client_reports"].get_array().get(r) != simdjson::SUCCESS) continue;
    for (auto x : r)
      rep.push_back({S(pr, "id"), S(x, "reason"), S(x, "category"), S(x, "quantity")});
  }
  if (!rep.empty()) {
    std::printf("\ndropped by SDKs (client reports):\n");
    PrintTable({"PROJECT", "REASON", "CATEGORY", "QUANTITY"}, rep);
  }
}

}  // namespace

void AddErrorsCommands(CLI::App* app, int* exit_code) {
  // ---- projects ----
  auto pf = std::make_shared<ClientFlags>();
  CLI::App* proj = app->add_subcommand(
      "projects", "Sentry projects and DSN keys (no subcommand: list them with their DSNs)");
  pf->AddTo(proj);
  proj->require_subcommand(0, 1);
  proj->callback([=] {
    if (!proj->get_subcommands().empty()) return;
    pf->ResolveDefaults();
    auto r = CallApi(*pf, "GET", "/api/v1/projects");
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (pf->json) return void(std::printf("%s\n", r->c_str()));
    PrintProjects(*r);
  });

  auto name = std::make_shared<std::string>();
  CLI::App* create = proj->add_subcommand("create", "Create a project (with one key)");
  create->add_option("name", *name, "project name")->required();
  pf->AddTo(create);
  create->callback([=] {
    pf->ResolveDefaults();
    auto r = CallApi(*pf, "POST", "/api/v1/projects", "{\"name\":" + net::JsonString(*name) + "}");
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (pf->json) return void(std::printf("%s\n", r->c_str()));
    PrintProjects(*r);
  });

  auto pid = std::make_shared<long long>(0);
  auto kid = std::make_shared<long long>(0);
  auto label = std::make_shared<std::string>("key");
  CLI::App* add_key = proj->add_subcommand("add-key", "Add a DSN key to a project");
  add_key->add_option("project", *pid, "project id")->required();
  add_key->add_option("--label", *label, "key label");
  pf->AddTo(add_key);
  add_key->callback([=] {
    pf->ResolveDefaults();
    auto r = CallApi(*pf, "POST", "/api/v1/projects/" + std::to_string(*pid) + "/keys",
                     "{\"label\":" + net::JsonString(*label) + "}");
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (pf->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    simdjson::dom::element d;
    if (p.parse(*r)["data"].get(d) == simdjson::SUCCESS) {
      std::printf("key %s added\ndsn: %s\n", S(d, "id").c_str(), S(d, "dsn").c_str());
    }
  });

  for (const char* verb : {"disable-key", "enable-key", "rotate-key"}) {
    std::string v = verb;
    CLI::App* c = proj->add_subcommand(
        v, v == "rotate-key" ? "Give a key a new public key (the old one stops working)"
                             : (v == "disable-key" ? "Disable a DSN key" : "Enable a DSN key"));
    c->add_option("project", *pid, "project id")->required();
    c->add_option("key", *kid, "key id (from `kansoku projects`)")->required();
    pf->AddTo(c);
    c->callback([=] {
      pf->ResolveDefaults();
      std::string path =
          "/api/v1/projects/" + std::to_string(*pid) + "/keys/" + std::to_string(*kid);
      auto r = v == "rotate-key" ? CallApi(*pf, "POST", path + "/rotate")
                                 : CallApi(*pf, "PUT", path,
                                           std::string("{\"disabled\":") +
                                               (v == "disable-key" ? "true" : "false") + "}");
      if (!r.ok()) return void(*exit_code = Fail(r.status()));
      if (pf->json) return void(std::printf("%s\n", r->c_str()));
      simdjson::dom::parser p;
      simdjson::dom::element d;
      if (p.parse(*r)["data"].get(d) == simdjson::SUCCESS) {
        std::printf("key %s: %s\ndsn: %s\n", S(d, "id").c_str(), v.c_str(), S(d, "dsn").c_str());
      }
    });
  }

  auto per_min = std::make_shared<long long>(-1);
  auto per_day = std::make_shared<long long>(-1);
  CLI::App* limits = proj->add_subcommand(
      "set-limits", "Event quotas of a project, or of one key with --key (0 = unlimited)");
  limits->add_option("project", *pid, "project id")->required();
  limits->add_option("--key", *kid, "key id: set the key's limits instead of the project's");
  limits->add_option("--per-minute", *per_min, "events per minute");
  limits->add_option("--per-day", *per_day, "events per day");
  pf->AddTo(limits);
  limits->callback([=] {
    pf->ResolveDefaults();
    std::string body = "{";
    if (*per_min >= 0) body += "\"events_per_minute\":" + std::to_string(*per_min);
    if (*per_day >= 0) {
      body += std::string(body.size() > 1 ? "," : "") +
              "\"events_per_day\":" + std::to_string(*per_day);
    }
    body += "}";
    std::string path = "/api/v1/projects/" + std::to_string(*pid);
    if (*kid > 0) path += "/keys/" + std::to_string(*kid);
    auto r = CallApi(*pf, "PUT", path, body);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (pf->json) return void(std::printf("%s\n", r->c_str()));
    std::printf("limits set\n");
  });

  // ---- issues ----
  auto f = std::make_shared<ClientFlags>();
  auto project = std::make_shared<long long>(0);
  auto status = std::make_shared<std::string>("unresolved");
  auto query = std::make_shared<std::string>();
  auto sort = std::make_shared<std::string>("last_seen");
  auto limit = std::make_shared<int>(50);
  auto assignee = std::make_shared<std::string>();
  auto unassigned = std::make_shared<bool>(false);
  CLI::App* issues = app->add_subcommand(
      "issues", "Error issues (no subcommand: list them; `show ID`, `resolve ID`, ...)");
  issues->add_option("--project", *project, "only this project");
  issues->add_option("--status", *status, "unresolved (default), resolved, archived, all, ...");
  issues->add_option("--query", *query, "text and key:value terms (level:error, release:x)");
  issues->add_option("--sort", *sort, "last_seen, first_seen, events or users");
  issues->add_option("--limit", *limit, "at most this many (default 50)");
  issues->add_option("--assignee", *assignee, "only issues assigned to this user/e-mail/team");
  issues->add_flag("--unassigned", *unassigned, "only issues nobody is assigned to");
  f->AddTo(issues);
  issues->require_subcommand(0, 1);
  issues->callback([=] {
    if (!issues->get_subcommands().empty()) return;
    f->ResolveDefaults();
    std::string path =
        "/api/v1/issues?status=" + *status + "&sort=" + *sort + "&limit=" + std::to_string(*limit);
    if (*project) path += "&project=" + std::to_string(*project);
    if (!query->empty()) path += "&query=" + UrlEncode(*query);
    if (!assignee->empty()) path += "&assignee=" + UrlEncode(*assignee);
    if (*unassigned) path += "&assigned=false";
    auto r = CallApi(*f, "GET", path);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (f->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    std::vector<std::vector<std::string>> rows;
    simdjson::dom::array arr;
    if (p.parse(*r)["data"].get_array().get(arr) == simdjson::SUCCESS) {
      for (auto i : arr) {
        std::string title = S(i, "title");
        if (title.size() > 70) title = title.substr(0, 67) + "...";
        std::string who = S(i, "assignee");
        rows.push_back({S(i, "id"), S(i, "project"), S(i, "status"), S(i, "level"),
                        std::to_string(int64_t(i["count"])), std::to_string(int64_t(i["users"])),
                        S(i, "last_seen"), who.empty() ? "-" : who, title});
      }
    }
    PrintTable(
        {"ID", "PROJECT", "STATUS", "LEVEL", "EVENTS", "USERS", "LAST SEEN", "ASSIGNEE", "TITLE"},
        rows);
  });

  auto id = std::make_shared<long long>(0);
  CLI::App* show = issues->add_subcommand("show", "An issue with tags and its latest event");
  show->add_option("id", *id, "issue id")->required();
  f->AddTo(show);
  show->callback([=] {
    f->ResolveDefaults();
    auto r = CallApi(*f, "GET", "/api/v1/issues/" + std::to_string(*id));
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (f->json) return void(std::printf("%s\n", r->c_str()));
    simdjson::dom::parser p;
    simdjson::dom::element d;
    if (p.parse(*r)["data"].get(d) != simdjson::SUCCESS) return;
    std::printf(
        "issue %s: %s\n  culprit: %s\n  status: %s  level: %s  events: %lld  users: %lld\n"
        "  first seen: %s  last seen: %s\n  grouping: %s by %s\n  assignee: %s\n",
        S(d, "id").c_str(), S(d, "title").c_str(), S(d, "culprit").c_str(), S(d, "status").c_str(),
        S(d, "level").c_str(), static_cast<long long>(int64_t(d["count"])),
        static_cast<long long>(int64_t(d["users"])), S(d, "first_seen").c_str(),
        S(d, "last_seen").c_str(), S(d["grouping"], "version").c_str(),
        S(d["grouping"], "basis").c_str(),
        S(d, "assignee").empty() ? "(nobody)" : S(d, "assignee").c_str());
    simdjson::dom::array tags;
    if (d["tags"].get_array().get(tags) == simdjson::SUCCESS) {
      std::printf("  tags:\n");
      for (auto t : tags) {
        std::string vals;
        for (auto v : t["top_values"].get_array()) {
          vals += (vals.empty() ? "" : ", ") + S(v, "value") + " (" +
                  std::to_string(int64_t(v["count"])) + ")";
        }
        std::printf("    %s: %s\n", S(t, "key").c_str(), vals.c_str());
      }
    }
    simdjson::dom::element ev;
    if (d["latest_event"]["event"].get(ev) == simdjson::SUCCESS) {
      std::printf("  latest event %s:\n", S(d["latest_event"], "event_id").c_str());
      simdjson::dom::array exc;
      if (ev["exception"]["values"].get_array().get(exc) == simdjson::SUCCESS) {
        for (auto x : exc) {
          std::printf("    %s: %s\n", S(x, "type").c_str(), S(x, "value").c_str());
          simdjson::dom::array frames;
          if (x["stacktrace"]["frames"].get_array().get(frames) != simdjson::SUCCESS) continue;
          for (auto fr : frames) {
            std::string file = S(fr, "filename");
            std::printf("      at %s (%s:%s)\n", S(fr, "function").c_str(), file.c_str(),
                        S(fr, "lineno").c_str());
            std::string cl = S(fr, "context_line");
            if (!cl.empty()) std::printf("         %s\n", cl.c_str());
          }
        }
      } else if (!S(ev, "message").empty()) {
        std::printf("    %s\n", S(ev, "message").c_str());
      }
    }
  });

  auto until_events = std::make_shared<long long>(0);
  auto for_seconds = std::make_shared<long long>(0);
  for (const char* verb : {"resolve", "resolve-next-release", "unresolve", "archive"}) {
    std::string v = verb;
    CLI::App* c = issues->add_subcommand(v, "Set an issue's status: " + v);
    c->add_option("id", *id, "issue id")->required();
    if (v == "archive") {
      c->add_option("--until-events", *until_events, "unarchive after this many more events");
      c->add_option("--for-seconds", *for_seconds, "unarchive after this long");
    }
    f->AddTo(c);
    c->callback([=] {
      f->ResolveDefaults();
      std::string st = v == "resolve"                ? "resolved"
                       : v == "resolve-next-release" ? "resolved_in_next_release"
                       : v == "unresolve"            ? "unresolved"
                                                     : "archived";
      std::string body = "{\"status\":\"" + st + "\"";
      if (*until_events > 0) body += ",\"until_events\":" + std::to_string(*until_events);
      if (*for_seconds > 0) body += ",\"for_seconds\":" + std::to_string(*for_seconds);
      body += "}";
      auto r = CallApi(*f, "PUT", "/api/v1/issues/" + std::to_string(*id), body);
      if (!r.ok()) return void(*exit_code = Fail(r.status()));
      if (f->json) return void(std::printf("%s\n", r->c_str()));
      std::printf("issue %lld: %s\n", *id, st.c_str());
    });
  }

  auto who = std::make_shared<std::string>();
  CLI::App* assign = issues->add_subcommand("assign", "Assign an issue to a user, e-mail or team");
  assign->add_option("id", *id, "issue id")->required();
  assign->add_option("assignee", *who, "who works on it (any name: user, e-mail, team)")
      ->required();
  f->AddTo(assign);
  CLI::App* unassign = issues->add_subcommand("unassign", "Remove an issue's assignee");
  unassign->add_option("id", *id, "issue id")->required();
  f->AddTo(unassign);
  auto set_assignee = [=](bool clear) {
    f->ResolveDefaults();
    std::string body =
        clear ? "{\"assignee\":null}" : "{\"assignee\":" + net::JsonString(*who) + "}";
    auto r = CallApi(*f, "PUT", "/api/v1/issues/" + std::to_string(*id), body);
    if (!r.ok()) return void(*exit_code = Fail(r.status()));
    if (f->json) return void(std::printf("%s\n", r->c_str()));
    if (clear) {
      std::printf("issue %lld: unassigned\n", *id);
    } else {
      std::printf("issue %lld: assigned to %s\n", *id, who->c_str());
    }
  };
  assign->callback([=] { set_assignee(false); });
  unassign->callback([=] { set_assignee(true); });
}

}  // namespace kansoku::cli
