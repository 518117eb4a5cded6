#pragma once
// Small helpers the /proc, /sys and cgroup collectors share: reading a pseudo-file in one go,
// walking lines and whitespace-separated fields without allocating, listing a directory.
// Thread safety: free functions and small values, no shared state.
#include <string>
#include <string_view>

#include "base/status.h"

namespace kansoku::agent {

// Reads a whole (small, pseudo) file into *out with read(2) until EOF (stat sizes of /proc
// files are 0). IOError with strerror on failure.
Status ReadSmallFile(const std::string& path, std::string* out);

// Calls fn(line) for each line (without '\n').
template <typename Fn>
void ForEachLine(std::string_view s, Fn&& fn) {
  while (!s.empty()) {
    size_t nl = s.find('\n');
    std::string_view line = s.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
}

// Whitespace-separated fields; Next() returns "" at the end.
class Fields {
 public:
  explicit Fields(std::string_view s) : s_(s) {}
  std::string_view Next();

 private:
  std::string_view s_;
};

std::string_view TrimSpaces(std::string_view s);
// Decimal (or float) text to double; 0 when it does not parse.
double ParseDouble(std::string_view s);
// /proc/self/mounts escapes space, tab, newline and backslash as \040 \011 \012 \134.
std::string UnescapeMount(std::string_view s);
// Calls fn(name, is_dir) for each entry except . and ..; false if the directory can't be read.
template <typename Fn>
bool ListDir(const std::string& path, Fn&& fn);

}  // namespace kansoku::agent

#include <dirent.h>

namespace kansoku::agent {
template <typename Fn>
bool ListDir(const std::string& path, Fn&& fn) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
      continue;
    fn(static_cast<const char*>(e->d_name), e->d_type == DT_DIR);
  }
  ::closedir(d);
  return true;
}
}  // namespace kansoku::agent
