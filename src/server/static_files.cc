#include "server/static_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace kansoku::server {
namespace fs = std::filesystem;

namespace {
const char* ContentType(const std::string& ext) {
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool ReadFile(const fs::path& p, std::string* out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

constexpr const char* kNoUi =
    "<!doctype html><html><head><meta charset=utf-8><title>kansoku</title></head><body>"
    "<h1>kansoku</h1><p>The web UI is not built. Run <code>make run</code> (or "
    "<code>scripts/build-web</code>) from the source tree, or set <code>web_dir</code>.</p>"
    "<p>The API is up: <a href=\"/-/healthy\">/-/healthy</a>.</p></body></html>";
}  // namespace

std::string ResolveWebDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path share = exe.parent_path() / ".." / "share" / "kansoku" / "web";
    if (fs::exists(share / "index.html", ec)) return fs::weakly_canonical(share, ec).string();
  }
#ifdef KANSOKU_SOURCE_DIR
  fs::path dev = fs::path(KANSOKU_SOURCE_DIR) / "web" / "dist";
  if (fs::exists(dev / "index.html", ec)) return dev.string();
#endif
  return "";
}

void ServeStatic(const std::string& web_dir, const std::string& path, net::Response* resp) {
  if (web_dir.empty()) {
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    resp->body = kNoUi;
    return;
  }
  std::string rel = UrlDecode(path.substr(0, path.find('?')));
  if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos) {
    return resp->Error(400, "bad path");
  }
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  fs::path file = fs::path(web_dir) / (rel.empty() ? "index.html" : rel);
  std::error_code ec;
  bool is_file = fs::is_regular_file(file, ec);
  if (!is_file) {
    // Client-side routes (no extension) get the app shell; missing assets are 404.
    if (fs::path(rel).has_extension()) return resp->Error(404, "no such file: /" + rel);
    file = fs::path(web_dir) / "index.html";
  }
  std::string body;
  if (!ReadFile(file, &body)) return resp->Error(404, "no such file: /" + rel);
  resp->status = 200;
  resp->content_type = ContentType(file.extension().string());
  // Vite puts content hashes in asset names: cache them; never cache the shell.
  if (StartsWith(rel, "assets/"))
    resp->SetHeader("Cache-Control", "public, max-age=31536000, immutable");
  else
    resp->SetHeader("Cache-Control", "no-cache");
  resp->body = std::move(body);
}

}  // namespace kansoku::server
