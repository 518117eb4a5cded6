// kansoku_bench_hget: wall time of HTTP GETs, each over a fresh TCP connection, measured by a
// client whose own cost is a few microseconds (Python's http.client costs ~0.2 ms a request,
// the size of a whole label lookup on the servers bench/promql compares).
//
//   kansoku_bench_hget HOST PORT RUNS TARGET [--header 'Name: value']... [--body FILE]
//
// Sends GET TARGET RUNS times, one after the other. Each time runs from connect() until the
// response's last body byte (Content-Length or chunked; no compression is asked for). Prints one
// line per run: "<microseconds> <status> <body bytes>". --body writes the last run's body (chunked
// framing removed) to FILE, for the caller to check the answer. Exit 1 on any socket or framing
// error, with the reason on stderr.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "kansoku_bench_hget: %s\n", why.c_str());
  std::exit(1);
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct Response {
  int status = 0;
  std::string body;
};

// Framing of a response read so far: complete (true, *out filled) or not yet (false).
bool Complete(const std::string& buf, Response* out) {
  const size_t hdr_end = buf.find("\r\n\r\n");
  if (hdr_end == std::string::npos) return false;
  const std::string_view head(buf.data(), hdr_end);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") Die("not an HTTP response");
  out->status = std::atoi(std::string(head.substr(9, 3)).c_str());
  long long length = -1;
  bool chunked = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    const size_t next = head.find("\r\n", pos + 2);
    std::string_view line =
        head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (IEquals(name, "content-length")) length = std::atoll(std::string(value).c_str());
      if (IEquals(name, "transfer-encoding") && value.find("chunked") != std::string_view::npos) {
        chunked = true;
      }
    }
    pos = next;
  }
  const size_t body_at = hdr_end + 4;
  if (!chunked) {
    if (length < 0) Die("a response with neither Content-Length nor chunked framing");
    if (buf.size() < body_at + static_cast<size_t>(length)) return false;
    out->body.assign(buf, body_at, static_cast<size_t>(length));
    return true;
  }
  // Chunked: walk the chunk sizes (no copying) until the zero-size chunk and the empty line
  // after it; only a complete body is copied out.
  std::vector<std::pair<size_t, size_t>> parts;  // (offset, size) in buf
  size_t p = body_at;
  for (;;) {
    const size_t eol = buf.find("\r\n", p);
    if (eol == std::string::npos) return false;
    const unsigned long long n = std::strtoull(buf.c_str() + p, nullptr, 16);
    if (n == 0) {
      // Trailers (none expected) end with an empty line.
      if (buf.find("\r\n", eol + 2) == std::string::npos) return false;
      break;
    }
    if (buf.size() < eol + 2 + n + 2) return false;
    parts.emplace_back(eol + 2, n);
    p = eol + 2 + n + 2;
  }
  out->body.clear();
  for (const auto& [at, n] : parts) out->body.append(buf, at, n);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    Die("usage: kansoku_bench_hget HOST PORT RUNS TARGET [--header 'N: v']... [--body FILE]");
  }
  const std::string host = argv[1];
  const std::string port = argv[2];
  const int runs = std::atoi(argv[3]);
  const std::string target = argv[4];
  std::string headers;
  const char* body_file = nullptr;
  for (int i = 5; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--header" && i + 1 < argc) {
      headers += std::string(argv[++i]) + "\r\n";
    } else if (a == "--body" && i + 1 < argc) {
      body_file = argv[++i];
    } else {
      Die("unknown argument " + a);
    }
  }
  if (runs <= 0) Die("RUNS must be > 0");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (int e = getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); e != 0) {
    Die(std::string("resolve: ") + gai_strerror(e));
  }
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" + port +
                              "\r\nAccept-Encoding: identity\r\n" + headers + "\r\n";
  std::string buf;
  std::vector<char> chunk(1 << 16);
  Response resp;
  for (int r = 0; r < runs; ++r) {
    buf.clear();
    const auto t0 = std::chrono::steady_clock::now();
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      Die(std::string("connect: ") + std::strerror(errno));
    }
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) Die(std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
    for (;;) {
      const ssize_t n = recv(fd, chunk.data(), chunk.size(), 0);
      if (n < 0) Die(std::string("recv: ") + std::strerror(errno));
      if (n == 0) Die("the server closed the connection before the response ended");
      buf.append(chunk.data(), static_cast<size_t>(n));
      if (Complete(buf, &resp)) break;
    }
    const auto t1 = std::chrono::steady_clock::now();
    close(fd);
    std::printf("%lld %d %zu\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()),
                resp.status, resp.body.size());
  }
  freeaddrinfo(ai);
  if (body_file != nullptr) {
    FILE* f = std::fopen(body_file, "wb");
    if (f == nullptr || std::fwrite(resp.body.data(), 1, resp.body.size(), f) != resp.body.size() ||
        std::fclose(f) != 0) {
      Die(std::string("write ") + body_file);
    }
  }
  return 0;
}
