#include "agent/collectors/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kansoku::agent {

Status ReadSmallFile(const std::string& path, std::string* out) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path, err);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (64u << 20)) break;  // no pseudo-file is this large; stop a runaway
  }
  ::close(fd);
  return Status::Ok();
}

std::string_view Fields::Next() {
  size_t i = 0;
  while (i < s_.size() && (s_[i] == ' ' || s_[i] == '\t' || s_[i] == '\n')) ++i;
  size_t j = i;
  while (j < s_.size() && s_[j] != ' ' && s_[j] != '\t' && s_[j] != '\n') ++j;
  std::string_view f = s_.substr(i, j - i);
  s_.remove_prefix(j);
  return f;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

double ParseDouble(std::string_view s) {
  char tmp[64];
  if (s.empty() || s.size() >= sizeof tmp) return 0;
  for (size_t i = 0; i < s.size(); ++i) tmp[i] = s[i];
  tmp[s.size()] = '\0';
  char* end = nullptr;
  double v = std::strtod(tmp, &end);
  return end == tmp ? 0 : v;
}

std::string UnescapeMount(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace kansoku::agent
