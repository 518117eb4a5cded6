#include "cli/query_cmd.h"

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <ctime>
#include <memory>

#include "base/strings.h"
#include "cli/client.h"

namespace kansoku::cli {
namespace {

// "now", "now-1h", "-15m" -> Unix seconds; anything else is passed through to the server.
std::string ResolveTime(const std::string& s) {
  std::string_view v = s;
  double now = static_cast<double>(std::time(nullptr));
  if (v == "now") return std::to_string(static_cast<int64_t>(now));
  if (StartsWith(v, "now")) v.remove_prefix(3);
  if (StartsWith(v, "-") && v.size() > 1 && !std::isdigit(static_cast<unsigned char>(v.back()))) {
    auto d = ParseDurationMs(v.substr(1));
    if (d.ok()) return std::to_string(static_cast<int64_t>(now - static_cast<double>(*d) / 1000));
  }
  return s;
}

std::string SeriesName(simdjson::dom::object metric) {
  std::string name, labels;
  for (auto field : metric) {
    std::string_view k = field.key, v = field.value.get_string();
    if (k == "__name__") {
      name = std::string(v);
      continue;
    }
    labels += (labels.empty() ? "" : ", ") + std::string(k) + "=\"" + std::string(v) + "\"";
  }
  return name + "{" + labels + "}";
}

std::string FormatTime(double secs) {
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

void AddQueryCommand(CLI::App* app, int* exit_code) {
  struct Args {
    ClientFlags flags;
    std::string expr, time, start, end, step;
  };
  auto a = std::make_shared<Args>();
  CLI::App* q = app->add_subcommand("query", "Run a PromQL query (instant, or range with --start)");
  q->add_option("expr", a->expr, "PromQL expression")->required();
  q->add_option("--time", a->time, "instant query time (RFC 3339, Unix seconds, now, now-1h)");
  q->add_option("--start", a->start, "range start (makes it a range query)");
  q->add_option("--end", a->end, "range end (default now)");
  q->add_option("--step", a->step, "range step, e.g. 15s or 60 (default: about 60 points)");
  a->flags.AddTo(q);
  q->callback([a, exit_code] {
    a->flags.ResolveDefaults();
    std::string path;
    bool range = !a->start.empty();
    if (range) {
      std::string end = ResolveTime(a->end.empty() ? "now" : a->end);
      std::string start = ResolveTime(a->start);
      std::string step = a->step;
      if (step.empty()) {
        double s = std::atof(start.c_str()), e = std::atof(end.c_str());
        step = std::to_string(std::max<int64_t>(1, static_cast<int64_t>((e - s) / 60)));
      }
      path = "/api/v1/query_range?query=" + UrlEncode(a->expr) + "&start=" + UrlEncode(start) +
             "&end=" + UrlEncode(end) + "&step=" + UrlEncode(step);
    } else {
      path = "/api/v1/query?query=" + UrlEncode(a->expr);
      if (!a->time.empty()) path += "&time=" + UrlEncode(ResolveTime(a->time));
    }
    auto r = CallApi(a->flags, "GET", path);
    if (!r.ok()) {
      std::fprintf(stderr, "kansoku: %s\n", r.status().message().c_str());
      *exit_code = 1;
      return;
    }
    if (a->flags.json) {
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
    std::string_view type = data["resultType"].get_string();
    std::vector<std::vector<std::string>> rows;
    if (type == "scalar" || type == "string") {
      simdjson::dom::array v = data["result"].get_array();
      rows.push_back({"", FormatTime(double(v.at(0))), std::string(std::string_view(v.at(1)))});
      PrintTable({"SERIES", "TIME", "VALUE"}, rows);
    } else if (type == "vector") {
      for (simdjson::dom::element s : data["result"].get_array()) {
        simdjson::dom::array v = s["value"].get_array();
        rows.push_back({SeriesName(s["metric"].get_object()), FormatTime(double(v.at(0))),
                        std::string(std::string_view(v.at(1)))});
      }
      PrintTable({"SERIES", "TIME", "VALUE"}, rows);
    } else {
      for (simdjson::dom::element s : data["result"].get_array()) {
        double mn = INFINITY, mx = -INFINITY;
        std::string last;
        size_t n = 0;
        for (simdjson::dom::element pt : s["values"].get_array()) {
          std::string_view sv = pt.get_array().at(1);
          double v = std::strtod(std::string(sv).c_str(), nullptr);
          mn = std::min(mn, v);
          mx = std::max(mx, v);
          last = std::string(sv);
          ++n;
        }
        char a1[32], a2[32];
        std::snprintf(a1, sizeof a1, "%g", mn);
        std::snprintf(a2, sizeof a2, "%g", mx);
        rows.push_back({SeriesName(s["metric"].get_object()), std::to_string(n), a1, a2, last});
      }
      PrintTable({"SERIES", "POINTS", "MIN", "MAX", "LAST"}, rows);
    }
    for (const char* key : {"warnings", "infos"}) {
      simdjson::dom::array arr;
      if (doc[key].get_array().get(arr) == simdjson::SUCCESS) {
        for (auto w : arr)
          std::fprintf(stderr, "%s: %s\n", key, std::string(std::string_view(w)).c_str());
      }
    }
  });
}

}  // namespace kansoku::cli
