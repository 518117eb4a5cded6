#include "cli/import_cmd.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "cli/client.h"
#include "net/decode.h"
#include "net/http_client.h"

namespace kansoku::cli {
namespace {

// Influx line protocol: "measurement[,tags] field=value[,...] [ts]"; Prometheus text has
// "name{...} value" or "name value" and # HELP/# TYPE comments.
std::string DetectFormat(const std::string& sample) {
  for (std::string_view line : Split(sample, '\n')) {
    line = TrimSpace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t brace = line.find('{');
    size_t space = line.find(' ');
    if (brace != std::string_view::npos && brace < space) return "prometheus";
    std::string_view head = line.substr(0, space);
    if (head.find(',') != std::string_view::npos) return "influx";
    std::string_view rest = space == std::string_view::npos ? "" : TrimSpace(line.substr(space));
    std::string_view first = rest.substr(0, rest.find(' '));
    return first.find('=') != std::string_view::npos ? "influx" : "prometheus";
  }
  return "prometheus";
}

void Progress(double done, double total, uint64_t stored, bool tty) {
  if (!tty) return;
  int width = 30;
  double frac = total > 0 ? done / total : 0;
  int fill = static_cast<int>(frac * width);
  std::fprintf(stderr, "\r[%s%s] %5.1f%%  %.1f/%.1f MB  %llu rows stored",
               std::string(fill, '=').c_str(), std::string(width - fill, ' ').c_str(), frac * 100,
               done / 1e6, total / 1e6, static_cast<unsigned long long>(stored));
  std::fflush(stderr);
}

}  // namespace

void AddImportExportCommands(CLI::App* app, int* exit_code) {
  struct ImportArgs {
    ClientFlags flags;
    std::string file, format, precision = "ns";
    int64_t chunk_mb = 8;
  };
  auto ia = std::make_shared<ImportArgs>();
  CLI::App* imp =
      app->add_subcommand("import", "Import a Prometheus text or Influx line-protocol file");
  imp->add_option("file", ia->file, "file to import, or - for stdin")->required();
  imp->add_option("--format", ia->format,
                  "prometheus or influx (default: detected from the first line)");
  imp->add_option("--precision", ia->precision,
                  "influx timestamp precision: ns, us, ms, s (default ns)");
  imp->add_option("--chunk-mb", ia->chunk_mb, "bytes per request in MB (default 8)");
  ia->flags.AddTo(imp);
  imp->callback([ia, exit_code] {
    ia->flags.ResolveDefaults();
    std::unique_ptr<std::istream> owned;
    std::istream* in = &std::cin;
    double total = 0;
    if (ia->file != "-") {
      owned = std::make_unique<std::ifstream>(ia->file, std::ios::binary);
      if (!*owned) {
        std::fprintf(stderr, "kansoku: cannot read %s\n", ia->file.c_str());
        *exit_code = 1;
        return;
      }
      owned->seekg(0, std::ios::end);
      total = static_cast<double>(owned->tellg());
      owned->seekg(0);
      in = owned.get();
    }
    bool tty = isatty(2);
    size_t chunk = static_cast<size_t>(std::max<int64_t>(1, ia->chunk_mb)) << 20;
    std::string buf, carry, format = ia->format;
    double done = 0;
    uint64_t stored = 0, rejected = 0, lines_before = 0;
    std::vector<std::string> errors;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<char> block(chunk);
    while (true) {
      in->read(block.data(), static_cast<std::streamsize>(block.size()));
      size_t n = static_cast<size_t>(in->gcount());
      if (n == 0 && carry.empty()) break;
      buf = std::move(carry);
      buf.append(block.data(), n);
      carry.clear();
      if (n > 0) {  // keep the partial last line for the next request
        size_t nl = buf.rfind('\n');
        if (nl == std::string::npos) {
          carry = std::move(buf);
          continue;
        }
        carry = buf.substr(nl + 1);
        buf.resize(nl + 1);
      }
      done += static_cast<double>(n);
      if (format.empty()) format = DetectFormat(buf.substr(0, 4096));
      std::string path =
          format == "influx" ? "/write?precision=" + ia->precision : "/api/v1/import/prometheus";
      auto body = net::EncodeContent("gzip", buf);
      std::vector<std::pair<std::string, std::string>> headers = {
          {"Authorization", "Bearer " + ia->flags.token},
          {"Content-Encoding", "gzip"},
          {"Content-Type", "text/plain"}};
      net::ClientOptions co;
      co.insecure_tls = ia->flags.insecure;
      co.timeout_ms = 300000;
      auto r = net::HttpCall("POST", ia->flags.server + path, headers, *body, co);
      if (!r.ok()) {
        std::fprintf(stderr, "\nkansoku: %s\n", r.status().message().c_str());
        *exit_code = 1;
        return;
      }
      if (r->status == 401 || r->status == 403 || r->status >= 500) {
        std::fprintf(stderr, "\nkansoku: server answered %d: %s\n", r->status, r->body.c_str());
        *exit_code = 1;
        return;
      }
      std::string s = r->Header("x-kansoku-rows-stored"), j = r->Header("x-kansoku-rows-rejected");
      if (!s.empty()) stored += std::stoull(s);
      if (!j.empty()) rejected += std::stoull(j);
      if (r->status != 204 && errors.size() < 5) {
        errors.push_back("(line numbers count from file line " + std::to_string(lines_before + 1) +
                         ") " + r->body);
      }
      for (char ch : buf) lines_before += ch == '\n';
      Progress(done, total > 0 ? total : done, stored, tty);
      if (n == 0) break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty) std::fprintf(stderr, "\n");
    std::printf("imported %s as %s: %llu rows stored, %llu rejected in %.1fs\n", ia->file.c_str(),
                format.c_str(), static_cast<unsigned long long>(stored),
                static_cast<unsigned long long>(rejected), secs);
    for (const auto& e : errors) std::printf("server: %s", e.c_str());
    if (rejected) *exit_code = 1;
  });

  struct ExportArgs {
    ClientFlags flags;
    std::vector<std::string> selectors;
    std::string start, end, out;
  };
  auto ea = std::make_shared<ExportArgs>();
  CLI::App* exp = app->add_subcommand("export", "Export series as Prometheus text with timestamps");
  exp->add_option("selector", ea->selectors, "series selector(s), e.g. 'node_load1{host=\"a\"}'")
      ->required();
  exp->add_option("--start", ea->start, "start (RFC 3339 or Unix seconds; default: all)");
  exp->add_option("--end", ea->end, "end (default: all)");
  exp->add_option("-o,--output", ea->out, "output file (default stdout)");
  ea->flags.AddTo(exp);
  exp->callback([ea, exit_code] {
    ea->flags.ResolveDefaults();
    std::string path = "/api/v1/export/prometheus?";
    for (const auto& s : ea->selectors) path += "match[]=" + UrlEncode(s) + "&";
    if (!ea->start.empty()) path += "start=" + UrlEncode(ea->start) + "&";
    if (!ea->end.empty()) path += "end=" + UrlEncode(ea->end) + "&";
    path.pop_back();
    auto r = CallApi(ea->flags, "GET", path);
    if (!r.ok()) {
      std::fprintf(stderr, "kansoku: %s\n", r.status().message().c_str());
      *exit_code = 1;
      return;
    }
    if (ea->out.empty() || ea->out == "-") {
      std::fwrite(r->data(), 1, r->size(), stdout);
    } else {
      std::ofstream f(ea->out, std::ios::binary);
      f << *r;
      if (!f) {
        std::fprintf(stderr, "kansoku: cannot write %s\n", ea->out.c_str());
        *exit_code = 1;
      }
    }
  });
}

}  // namespace kansoku::cli
