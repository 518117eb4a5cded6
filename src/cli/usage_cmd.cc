#include "cli/usage_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <map>
#include <memory>

#include "base/metrics.h"
#include "base/strings.h"
#include "cli/client.h"

namespace kansoku::cli {
namespace {

std::string Str(simdjson::dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return metrics::FormatValue(d);
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
  return "";
}

std::string Rate(simdjson::dom::element e) {
  double d = 0;
  if (e.get_double().get(d) != simdjson::SUCCESS) d = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, d >= 100 ? "%.0f" : "%.2f", d);
  return buf;
}

std::string Ago(int64_t ms) {
  if (ms <= 0) return "-";
  int64_t s = (static_cast<int64_t>(std::time(nullptr)) * 1000 - ms) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

}  // namespace

void AddUsageCommand(CLI::App* app, int* exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  auto tenant = std::make_shared<std::string>();
  auto top = std::make_shared<int>(10);
  auto kind = std::make_shared<std::string>();
  CLI::App* cmd = app->add_subcommand(
      "usage", "What is monitored: tokens, cardinality top offenders, sources, limits");
  cmd->add_option("--tenant", *tenant, "only this token's cardinality (default: all)");
  cmd->add_option("--top", *top, "rows per table (default 10; sources: per kind)");
  cmd->add_option("--kind", *kind,
                  "only sources of this kind (token, host, service, instance, job, container_id, "
                  "sentry_project, sentry_key, log_stream, scrape_target)");
  flags->AddTo(cmd);
  cmd->callback([=] {
    flags->ResolveDefaults();
    auto fail = [&](const Status& st) {
      std::fprintf(stderr, "kansoku: %s\n", st.message().c_str());
      *exit_code = 1;
    };
    std::string q = "?top=" + std::to_string(*top);
    if (!tenant->empty()) q += "&tenant=" + UrlEncode(*tenant);
    auto usage = CallApi(*flags, "GET", "/api/v1/usage");
    if (!usage.ok()) return fail(usage.status());
    auto card = CallApi(*flags, "GET", "/api/v1/usage/cardinality" + q);
    if (!card.ok()) return fail(card.status());
    std::string sq = "/api/v1/usage/sources?limit=10000";
    if (!kind->empty()) sq += "&kind=" + UrlEncode(*kind);
    auto sources = CallApi(*flags, "GET", sq);
    if (!sources.ok()) return fail(sources.status());
    if (flags->json) {
      std::printf("{\"usage\":%s,\"cardinality\":%s,\"sources\":%s}\n", usage->c_str(),
                  card->c_str(), sources->c_str());
      return;
    }
    simdjson::dom::parser p1, p2, p3;
    simdjson::dom::element u, c, s;
    if (p1.parse(*usage)["data"].get(u) || p2.parse(*card)["data"].get(c) ||
        p3.parse(*sources)["data"].get(s)) {
      return fail(Status::Internal("cannot parse the server's answer"));
    }

    std::printf("TOKENS (active series: %s)\n", Str(u["active_series"]).c_str());
    std::vector<std::vector<std::string>> rows;
    for (simdjson::dom::element t : u["tenants"].get_array()) {
      std::string refusals;
      simdjson::dom::object ro;
      if (t["refusals"].get_object().get(ro) == simdjson::SUCCESS) {
        for (auto [k, v] : ro)
          refusals += (refusals.empty() ? "" : " ") + std::string(k) + "=" + Str(v);
      }
      std::string limit = Str(t["limits"]["max_active_series"]);
      rows.push_back({Str(t["name"]), Str(t["active_series"]), limit == "0" ? "-" : limit,
                      Str(t["new_series_last_hour"]), Rate(t["samples_per_second"]),
                      Rate(t["events_per_minute"]), Rate(t["log_bytes_per_second"]),
                      refusals.empty() ? "-" : refusals});
    }
    PrintTable({"TOKEN", "ACTIVE SERIES", "LIMIT", "NEW/1H", "SAMPLES/S", "EVENTS/MIN",
                "LOG BYTES/S", "REFUSED"},
               rows);

    std::printf("\nTOP METRICS BY ACTIVE SERIES%s\n",
                tenant->empty() ? "" : (" (token " + *tenant + ")").c_str());
    rows.clear();
    for (simdjson::dom::element m : c["top_metrics"].get_array())
      rows.push_back({Str(m["name"]), Str(m["count"])});
    PrintTable({"METRIC", "SERIES"}, rows);

    std::printf("\nTOP LABELS BY DISTINCT VALUES\n");
    rows.clear();
    for (simdjson::dom::element m : c["top_labels"].get_array())
      rows.push_back({Str(m["name"]), Str(m["count"])});
    PrintTable({"LABEL", "VALUES"}, rows);
    std::string recent;
    for (simdjson::dom::element v : c["biggest_label_recent_values"].get_array()) {
      if (recent.size() > 100) {
        recent += ", ...";
        break;
      }
      recent += (recent.empty() ? "" : ", ") + Str(v);
    }
    if (!recent.empty())
      std::printf("recent values of %s: %s\n", Str(c["biggest_label"]).c_str(), recent.c_str());

    std::printf("\nSOURCES (top %d per kind)\n", *top);
    rows.clear();
    std::map<std::string, int> per_kind;
    for (simdjson::dom::element x : s.get_array()) {
      std::string k = Str(x["kind"]);
      if (per_kind[k]++ >= *top) continue;
      auto opt = [&](const char* field) {
        simdjson::dom::element d;
        return x[field].get(d) == simdjson::SUCCESS ? Str(d) : std::string();
      };
      std::string volume = Rate(x["samples_per_second"]) + " samples/s";
      if (!opt("events_total").empty()) volume = Rate(x["events_per_minute"]) + " events/min";
      if (!opt("log_bytes_total").empty()) volume = Rate(x["log_bytes_per_second"]) + " B/s";
      std::string status = opt("status");
      rows.push_back({k, Str(x["name"]), status.empty() ? "-" : status, Str(x["active_series"]),
                      volume, Ago(int64_t(x["first_seen_ms"])), Ago(int64_t(x["last_seen_ms"])),
                      opt("detail")});
    }
    PrintTable(
        {"KIND", "NAME", "STATUS", "ACTIVE SERIES", "VOLUME", "FIRST SEEN", "LAST SEEN", "DETAIL"},
        rows);
    for (const auto& [k, n] : per_kind) {
      if (n > *top)
        std::printf("(%d more %s sources: --kind %s --top N)\n", n - *top, k.c_str(), k.c_str());
    }
  });
}

}  // namespace kansoku::cli
