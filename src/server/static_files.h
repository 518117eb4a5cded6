#pragma once
// Serves the built web UI from a directory: files by path, index.html for any other path without
// a file extension (client-side routes), never anything outside the directory.
#include <string>

#include "net/http.h"

namespace kansoku::server {

// web_dir from the config if set, else <exe>/../share/kansoku/web, else the source tree's
// web/dist (development); "" when none exists.
std::string ResolveWebDir(const std::string& configured);
void ServeStatic(const std::string& web_dir, const std::string& path, net::Response* resp);

}  // namespace kansoku::server
