#include "scrape/scrape.h"

#include <glob.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "base/strings.h"
#include "net/decode.h"
#include "net/http_client.h"

namespace kansoku::scrape {
namespace {

bool NameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

bool ParseValue(std::string_view s, double* v) {
  if (s == "NaN") {
    *v = std::nan("");
    return true;
  }
  if (s == "+Inf" || s == "Inf") {
    *v = HUGE_VAL;
    return true;
  }
  if (s == "-Inf") {
    *v = -HUGE_VAL;
    return true;
  }
  if (s.empty() || s.size() > 63) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  *v = std::strtod(buf, &end);
  return end == buf + s.size();
}

// One sample line into *out; "" on success, else why. allow_exemplar=false: the exemplar's own
// text (no nested exemplar, so no recursion beyond one level).
std::string ParseLine(std::string_view line, bool om, ScrapedSample* out,
                      bool allow_exemplar = true) {
  size_t i = 0;
  if (i >= line.size() || !NameStart(line[i])) return "metric name must start with [a-zA-Z_:]";
  while (i < line.size() && NameChar(line[i])) ++i;
  out->labels.clear();
  out->labels.emplace_back("__name__", std::string(line.substr(0, i)));
  auto skip_ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  skip_ws();
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      skip_ws();
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      size_t ns = i;
      if (i >= line.size() || !NameStart(line[i]) || line[i] == ':') return "bad label name";
      while (i < line.size() && NameChar(line[i]) && line[i] != ':') ++i;
      std::string name(line.substr(ns, i - ns));
      skip_ws();
      if (i >= line.size() || line[i] != '=') return "expected = after label name " + name;
      ++i;
      skip_ws();
      if (i >= line.size() || line[i] != '"') return "label value must be quoted";
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) break;
          char e = line[i++];
          value.push_back(e == 'n' ? '\n' : e);  // \\ \" \n
        } else {
          value.push_back(c);
        }
      }
      if (!closed) return "unterminated label value";
      for (const auto& l : out->labels) {
        if (l.first == name) return "duplicate label " + name;
      }
      out->labels.emplace_back(std::move(name), std::move(value));
      skip_ws();
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return "expected , or } in labels";
    }
  }
  skip_ws();
  std::string_view rest = line.substr(i);
  out->exemplar.reset();
  if (om && allow_exemplar) {
    size_t ex = rest.find(" # ");
    if (ex != std::string_view::npos) {
      std::string_view ex_text = rest.substr(ex + 3);
      rest = rest.substr(0, ex);
      while (!ex_text.empty() && (ex_text.front() == ' ' || ex_text.front() == '\t')) {
        ex_text.remove_prefix(1);
      }
      if (ex_text.empty() || ex_text.front() != '{') return "bad exemplar: expected '{' after '#'";
      // `{labels} value [timestamp]` reads as a sample line with a placeholder metric name.
      ScrapedSample e;
      std::string why = ParseLine("x" + std::string(ex_text), true, &e, false);
      if (!why.empty()) return "bad exemplar: " + why;
      ScrapedExemplar se;
      se.labels.assign(std::make_move_iterator(e.labels.begin() + 1),
                       std::make_move_iterator(e.labels.end()));
      se.value = e.value;
      se.timestamp_ms = e.timestamp_ms;
      out->exemplar = std::move(se);
    }
  }
  size_t sp = rest.find_first_of(" \t");
  std::string_view val = rest.substr(0, sp);
  if (!ParseValue(val, &out->value)) return "bad value \"" + std::string(val.substr(0, 40)) + "\"";
  out->timestamp_ms = 0;
  if (sp != std::string_view::npos) {
    std::string_view ts = rest.substr(sp);
    while (!ts.empty() && (ts.front() == ' ' || ts.front() == '\t')) ts.remove_prefix(1);
    while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
    if (!ts.empty()) {
      double t;
      if (!ParseValue(ts, &t) || !std::isfinite(t)) return "bad timestamp";
      out->timestamp_ms =
          om ? static_cast<int64_t>(std::llround(t * 1000)) : static_cast<int64_t>(t);
    }
  }
  return "";
}

}  // namespace

Result<std::vector<ScrapedSample>> ParseExposition(std::string_view body, bool om,
                                                   size_t max_samples) {
  std::vector<ScrapedSample> out;
  size_t line_no = 0;
  bool eof = false;
  while (!body.empty() && !eof) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (om && line == "# EOF") eof = true;
      continue;
    }
    ScrapedSample s;
    std::string why = ParseLine(line, om, &s);
    if (!why.empty()) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + why + ": \"" +
                                     std::string(line.substr(0, 120)) + "\"");
    }
    out.push_back(std::move(s));
    if (max_samples && out.size() > max_samples) {
      return Status::ResourceExhausted("more than " + std::to_string(max_samples) +
                                       " samples (max_samples)");
    }
  }
  return out;
}

Result<std::vector<TargetGroup>> LoadFileSd(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    std::vector<TargetGroup> out;
    if (!root || root.IsNull()) return out;
    if (!root.IsSequence()) {
      return Status::InvalidArgument(path + ": expected a list of {targets, labels}");
    }
    for (const auto& g : root) {
      TargetGroup tg;
      if (!g.IsMap() || !g["targets"] || !g["targets"].IsSequence()) {
        return Status::InvalidArgument(path + ":" + std::to_string(g.Mark().line + 1) +
                                       ": each group needs a targets list");
      }
      for (const auto& t : g["targets"]) tg.targets.push_back(t.as<std::string>());
      if (g["labels"]) {
        if (!g["labels"].IsMap()) {
          return Status::InvalidArgument(path + ": labels must be a mapping");
        }
        for (auto it = g["labels"].begin(); it != g["labels"].end(); ++it) {
          tg.labels.emplace_back(it->first.as<std::string>(), it->second.as<std::string>());
        }
      }
      out.push_back(std::move(tg));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

ScrapeJob::ScrapeJob(ScrapeJobConfig c) : cfg_(std::move(c)) {}
ScrapeJob::~ScrapeJob() = default;

Result<std::unique_ptr<ScrapeJob>> ScrapeJob::Create(ScrapeJobConfig config) {
  if (config.job.empty()) return Status::InvalidArgument("a scrape job needs a name");
  std::unique_ptr<ScrapeJob> j(new ScrapeJob(std::move(config)));
  for (auto [src, dst] :
       {std::pair{&j->cfg_.metric_keep, &j->keep_}, std::pair{&j->cfg_.metric_drop, &j->drop_}}) {
    if (src->empty()) continue;
    auto re = std::make_unique<re2::RE2>(*src, re2::RE2::Quiet);
    if (!re->ok()) {
      return Status::InvalidArgument("job " + j->cfg_.job + ": bad regex \"" + *src +
                                     "\": " + re->error());
    }
    *dst = std::move(re);
  }
  for (auto [rules, out, key] :
       {std::tuple{&j->cfg_.target_relabel, &j->target_relabel_, "relabel_configs"},
        std::tuple{&j->cfg_.metric_relabel, &j->metric_relabel_, "metric_relabel_configs"}}) {
    auto r = Relabeler::Compile(*rules);
    if (!r.ok()) {
      return Status::InvalidArgument("job " + j->cfg_.job + ": " + key + ": " +
                                     r.status().message());
    }
    *out = std::move(r).value();
  }
  return j;
}

LabelSet ScrapeJob::TargetLabels(const std::string& target, const LabelSet& group_labels) const {
  LabelSet out = {{"__address__", target},
                  {"job", cfg_.job},
                  {"__scheme__", cfg_.scheme},
                  {"__metrics_path__", cfg_.metrics_path}};
  for (const auto& l : group_labels) {
    if (l.first != "job" && l.first != "__address__") out.push_back(l);
  }
  return out;
}

ResolvedTarget ScrapeJob::Resolve(const std::string& target, const LabelSet& group_labels) const {
  ResolvedTarget r;
  LabelSet ls = TargetLabels(target, group_labels);
  if (!target_relabel_.Apply(&ls)) {
    r.kept = false;
    r.reason = "dropped by relabel_configs";
    return r;
  }
  auto get = [&ls](std::string_view name) -> std::string {
    for (const auto& l : ls) {
      if (l.first == name) return l.second;
    }
    return "";
  };
  const std::string address = get("__address__");
  if (address.empty()) {
    r.kept = false;
    r.reason = "relabel_configs left no __address__";
    return r;
  }
  std::string scheme = get("__scheme__"), path = get("__metrics_path__"), query;
  if (scheme.empty()) scheme = cfg_.scheme;
  if (path.empty() || path[0] != '/') path = "/" + path;
  std::string instance = get("instance");
  r.labels.emplace_back("job", get("job"));
  r.labels.emplace_back("instance", instance.empty() ? address : instance);
  for (const auto& [name, value] : ls) {
    if (StartsWith(name, "__param_")) {
      query += query.empty() ? "?" : "&";
      query += UrlEncode(std::string_view(name).substr(8)) + "=" + UrlEncode(value);
    } else if (!StartsWith(name, "__") && name != "job" && name != "instance") {
      r.labels.emplace_back(name, value);
    }
  }
  if (r.labels[0].second.empty()) r.labels.erase(r.labels.begin());  // relabelled away
  r.url = scheme + "://" + address + path + query;
  return r;
}

std::vector<TargetGroup> ScrapeJob::Targets(std::vector<std::string>* sd_errors) const {
  std::vector<TargetGroup> out;
  auto add_job_labels = [this](TargetGroup* tg) {
    for (const auto& l : cfg_.labels) {
      bool have = false;
      for (const auto& x : tg->labels) have |= x.first == l.first;
      if (!have) tg->labels.push_back(l);
    }
  };
  if (!cfg_.static_targets.empty()) out.push_back({cfg_.static_targets, cfg_.labels});
  for (TargetGroup tg : cfg_.static_groups) {
    add_job_labels(&tg);
    out.push_back(std::move(tg));
  }
  for (const auto& pattern : cfg_.file_sd) {
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        auto groups = LoadFileSd(g.gl_pathv[i]);
        if (!groups.ok()) {
          sd_errors->push_back(groups.status().message());
          continue;
        }
        for (auto& tg : *groups) {
          add_job_labels(&tg);
          out.push_back(std::move(tg));
        }
      }
    }
    ::globfree(&g);
  }
  return out;
}

ScrapeOutcome ScrapeJob::Scrape(const std::string& target, const LabelSet& group_labels,
                                int64_t now_ms) const {
  ScrapeOutcome o;
  ResolvedTarget rt = Resolve(target, group_labels);
  o.instance = target;
  for (const auto& l : rt.labels) {
    if (l.first == "instance") o.instance = l.second;
  }
  const LabelSet& tl = rt.labels;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<ScrapedSample> samples;
  net::ClientOptions co;
  co.timeout_ms = cfg_.timeout_ms;
  char tos[32];
  std::snprintf(tos, sizeof tos, "%g", cfg_.timeout_ms / 1000.0);
  if (!rt.kept) return o;  // not scraped; the scraper only scrapes kept targets
  auto r = net::HttpCall(
      "GET", rt.url,
      {{"Accept",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
       {"Accept-Encoding", "gzip"},
       {"User-Agent", "kansoku-scrape"},
       {"X-Prometheus-Scrape-Timeout-Seconds", tos}},
      "", co);
  if (!r.ok()) {
    o.error = r.status().message();
  } else if (r->status < 200 || r->status >= 300) {
    o.error = "HTTP status " + std::to_string(r->status);
  } else if (r->body.size() > cfg_.max_body_bytes) {
    o.error = "body of " + std::to_string(r->body.size()) + " bytes is over max_body_bytes";
  } else {
    std::string body = std::move(r->body);
    std::string enc = r->Header("content-encoding");
    bool ok = true;
    if (!enc.empty() && enc != "identity") {
      auto d = net::DecodeContent(enc, body, cfg_.max_body_bytes);
      if (!d.ok()) {
        o.error = d.status().message();
        ok = false;
      } else {
        body = std::move(d).value();
      }
    }
    if (ok) {
      bool om = r->Header("content-type").find("application/openmetrics-text") != std::string::npos;
      auto parsed = ParseExposition(body, om, cfg_.max_samples);
      if (!parsed.ok()) {
        o.error = "invalid exposition: " + parsed.status().message();
      } else {
        samples = std::move(parsed).value();
        o.up = true;
      }
    }
  }
  double duration = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t scraped = samples.size();
  for (auto& s : samples) {
    const std::string& name = s.labels[0].second;
    if (keep_ && !re2::RE2::FullMatch(name, *keep_)) continue;
    if (drop_ && re2::RE2::FullMatch(name, *drop_)) continue;
    for (const auto& t : tl) {
      size_t at = s.labels.size();
      for (size_t k = 0; k < s.labels.size(); ++k) {
        if (s.labels[k].first == t.first) at = k;
      }
      if (at == s.labels.size()) {
        s.labels.push_back(t);
      } else if (!cfg_.honor_labels) {
        std::string exported_value = s.labels[at].second;
        s.labels[at].second = t.second;
        s.labels.emplace_back("exported_" + t.first, std::move(exported_value));
      }
    }
    if (!metric_relabel_.empty()) {
      if (!metric_relabel_.Apply(&s.labels)) continue;
      // __name__ first again (it may have been rewritten); a sample without one is dropped.
      auto name_at = std::find_if(s.labels.begin(), s.labels.end(),
                                  [](const Label& l) { return l.first == "__name__"; });
      if (name_at == s.labels.end()) continue;
      std::rotate(s.labels.begin(), name_at, name_at + 1);
    }
    if (s.timestamp_ms == 0) s.timestamp_ms = now_ms;
    o.samples.push_back(std::move(s));
  }
  auto synth = [&](const char* name, double v) {
    ScrapedSample s;
    s.labels.emplace_back("__name__", name);
    for (const auto& t : tl) s.labels.push_back(t);
    s.timestamp_ms = now_ms;
    s.value = v;
    o.samples.push_back(std::move(s));
  };
  synth("up", o.up ? 1 : 0);
  synth("scrape_duration_seconds", duration);
  synth("scrape_samples_scraped", static_cast<double>(scraped));
  return o;
}

}  // namespace kansoku::scrape
