#include "net/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "net/decode.h"

namespace kansoku::net {
namespace {

class FixedAuth : public Authenticator {
 public:
  Result<Principal> Authenticate(std::string_view token) override {
    if (token == "adm") return Principal{1, "admin-token", kScopeAdmin};
    if (token == "ing") return Principal{2, "ingest-token", kScopeIngest};
    return Status::Unauthenticated("unknown API token");
  }
};

// Minimal blocking client: sends raw bytes, reads one response (Content-Length framed).
class RawClient {
 public:
  explicit RawClient(const std::string& addr) {
    size_t colon = addr.rfind(':');
    int port = std::stoi(addr.substr(colon + 1));
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { close(fd_); }
  void Send(const std::string& s) {
    ASSERT_EQ(write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  struct Resp {
    int status = 0;
    std::string head, body;
  };
  // head_only: the answer to HEAD (a Content-Length but no body).
  Resp Read(bool head_only = false) {
    Resp r;
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (!Fill()) return r;
    }
    size_t end = buf_.find("\r\n\r\n");
    r.head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t cl = r.head.find("Content-Length: ");
    size_t n = cl == std::string::npos || head_only ? 0 : std::stoul(r.head.substr(cl + 16));
    while (buf_.size() < n) {
      if (!Fill()) break;
    }
    r.body = buf_.substr(0, n);
    buf_.erase(0, n);
    return r;
  }
  bool Closed() {
    char c;
    return read(fd_, &c, 1) == 0;
  }

 private:
  bool Fill() {
    char tmp[4096];
    ssize_t n = read(fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buf_;
};

// Options of a server for one test: loopback port 0, two io threads, `workers` worker threads.
HttpServerOptions LoopbackOptions(Authenticator* auth, metrics::Registry* registry, int workers) {
  HttpServerOptions o;
  o.listen = {"127.0.0.1:0"};
  o.io_threads = 2;
  o.worker_threads = workers;
  o.authenticator = auth;
  o.metrics = registry;
  return o;
}

// An offloaded POST /big route (ingest scope) taking bodies up to max_body bytes.
Route BigRoute(int64_t max_body, std::function<void(Request&, Response&)> handler) {
  Route big;
  big.method = "POST";
  big.path = "/big";
  big.scope = kScopeIngest;
  big.offload = true;
  big.max_body_bytes = max_body;
  big.max_decoded_body_bytes = max_body;
  big.handler = std::move(handler);
  return big;
}

// How many handlers ran at once, at most.
struct Concurrency {
  std::atomic<int> running{0}, most{0};
  void Enter() {
    const int now = running.fetch_add(1) + 1;
    int m = most.load();
    while (now > m && !most.compare_exchange_weak(m, now)) {
    }
  }
  void Leave() { running.fetch_sub(1); }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.listen = {"127.0.0.1:0"};
    o.io_threads = 2;
    o.worker_threads = 2;
    o.authenticator = &auth_;
    o.metrics = &registry_;
    o.header_timeout_ms = 1000;
    o.shutdown_grace_ms = 5000;
    server_ = std::make_unique<HttpServer>(o);
    Route echo;
    echo.method = "POST";
    echo.path = "/echo";
    echo.scope = kScopeIngest;
    echo.max_body_bytes = 1000;
    echo.max_decoded_body_bytes = 5000;
    echo.handler = [](Request& req, Response& resp) { resp.Text(200, "got " + req.body); };
    server_->AddRoute(echo);
    Route health;
    health.method = "GET";
    health.path = "/-/healthy";
    health.scope = kScopeNone;
    health.handler = [](Request&, Response& resp) { resp.Text(200, "OK"); };
    server_->AddRoute(health);
    Route admin;
    admin.path = "/admin/";
    admin.prefix = true;
    admin.scope = kScopeAdmin;
    admin.allow_query_token = true;
    admin.handler = [](Request& req, Response& resp) { resp.Text(200, req.principal.token_name); };
    server_->AddRoute(admin);
    Route hdr;
    hdr.method = "GET";
    hdr.path = "/hdr";
    hdr.scope = kScopeNone;
    hdr.handler = [](Request&, Response& resp) {
      resp.Text(200, std::string(20000, 'x'));  // above the size copied behind the header
      resp.SetHeader("X-Note", "a\r\nInjected: yes");
    };
    server_->AddRoute(hdr);
    Route slow;
    slow.method = "GET";
    slow.path = "/slow";
    slow.scope = kScopeNone;
    slow.offload = true;
    slow.handler = [this](Request&, Response& resp) {
      slow_started_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      resp.Text(200, "slow done");
    };
    server_->AddRoute(slow);
    Route sum;
    sum.method = "POST";
    sum.path = "/sum";
    sum.scope = kScopeIngest;
    sum.offload = true;
    sum.max_body_bytes = 8 << 20;
    sum.max_decoded_body_bytes = 8 << 20;
    sum.handler = [](Request& req, Response& resp) {
      uint64_t h = 0;
      for (unsigned char c : req.body) h = h * 31 + c;
      resp.Text(200, std::to_string(req.body.size()) + " " + std::to_string(h));
    };
    server_->AddRoute(sum);
    ASSERT_TRUE(server_->Start().ok());
    addr_ = server_->BoundAddresses().at(0);
  }
  void TearDown() override { server_->Stop(); }

  FixedAuth auth_;
  metrics::Registry registry_;
  std::unique_ptr<HttpServer> server_;
  std::string addr_;
  std::atomic<bool> slow_started_{false};
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  RawClient c(addr_);
  for (int i = 0; i < 3; ++i) {
    c.Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ing\r\nContent-Length: "
        "2\r\n\r\nhi");
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "got hi\n");
  }
  std::string m = registry_.Render();
  EXPECT_NE(m.find("kansoku_http_requests_total{route=\"/echo\",code=\"200\"} 3"),
            std::string::npos)
      << m;
}

TEST_F(HttpServerTest, HandlerHeadersCannotInjectAndLargeBodiesArriveWhole) {
  RawClient c(addr_);
  for (int i = 0; i < 2; ++i) {
    c.Send("GET /hdr HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::string(20000, 'x') + "\n");
    EXPECT_NE(r.head.find("X-Note: a  Injected: yes"), std::string::npos) << r.head;
    EXPECT_EQ(r.head.find("\r\nInjected:"), std::string::npos) << r.head;
    EXPECT_EQ(r.head.find("Connection:"), std::string::npos) << r.head;  // 1.1 keep-alive
  }
}

// Large bodies in a row on one connection (their buffers are reused through the io thread's
// BodyPool): each handler sees exactly its own bytes, whether the body is longer or shorter than
// the one before it, plain or compressed.
TEST_F(HttpServerTest, LargeBodiesInARowArriveExactly) {
  RawClient c(addr_);
  auto expect = [](const std::string& b) {
    uint64_t h = 0;
    for (unsigned char ch : b) h = h * 31 + ch;
    return std::to_string(b.size()) + " " + std::to_string(h) + "\n";
  };
  auto send = [&c](const std::string& body, const std::string& extra) {
    c.Send("POST /sum HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ing\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.Read();
  };
  std::string pattern;
  for (int i = 0; i < 300000; ++i) pattern += static_cast<char>('a' + i * 7 % 26);
  // 6 MiB: read into a buffer advised for huge pages (kHugePageBodyBytes), across 2 MiB pages.
  std::string big;
  while (big.size() < (6u << 20)) big += pattern;
  big.resize(6u << 20);
  for (const std::string& body : {std::string(3 << 20, 'x'), std::string(200000, 'y'),
                                  pattern + pattern, std::string(3 << 20, 'z'), big}) {
    auto r = send(body, "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expect(body));
  }
  // Compressed and larger than 64 KiB on the wire too (pseudo-random bytes do not shrink).
  std::string noise(300000, '\0');
  uint32_t x = 12345;
  for (char& ch : noise) {
    x = x * 1103515245 + 12345;
    ch = static_cast<char>(x >> 24);
  }
  auto gz = EncodeContent("gzip", noise);
  ASSERT_TRUE(gz.ok());
  ASSERT_GT(gz->size(), 65536u);
  auto r = send(*gz, "Content-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, expect(noise));
  r = send(std::string(150000, 'q'), "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, expect(std::string(150000, 'q')));
}

TEST_F(HttpServerTest, Http10KeepAliveAndHead) {
  RawClient c(addr_);
  c.Send("HEAD /hdr HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = c.Read(/*head_only=*/true);
  EXPECT_EQ(r.head.substr(0, 15), "HTTP/1.0 200 OK") << r.head;
  EXPECT_NE(r.head.find("Content-Length: 20001"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Connection: keep-alive"), std::string::npos) << r.head;
  c.Send("GET /-/healthy HTTP/1.0\r\n\r\n");  // no body came before this answer
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK\n");
  EXPECT_TRUE(c.Closed());  // HTTP/1.0 without keep-alive
}

TEST_F(HttpServerTest, ChunkedBody) {
  RawClient c(addr_);
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "got abcde\n");
}

TEST_F(HttpServerTest, CompressedBodies) {
  for (const char* enc : {"gzip", "deflate", "zstd", "br", "snappy"}) {
    RawClient c(addr_);
    std::string payload(300, 'z');
    std::string body = *EncodeContent(enc, payload);
    c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nContent-Encoding: " +
           std::string(enc) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body);
    auto r = c.Read();
    EXPECT_EQ(r.status, 200) << enc << " " << r.body;
    EXPECT_EQ(r.body, "got " + payload + "\n") << enc;
  }
}

TEST_F(HttpServerTest, BodyLimitsNameTheLimit) {
  {
    RawClient c(addr_);
    c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nContent-Length: 5000\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("exceeds the limit of 1000 B (1000 bytes) for /echo"), std::string::npos)
        << r.body;
  }
  {
    RawClient c(addr_);  // chunked, no length up front
    std::string chunk(600, 'a');
    c.Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nTransfer-Encoding: chunked\r\n\r\n"
        "258\r\n" +
        chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 413);
  }
  {
    RawClient c(addr_);  // a small gzip body that inflates beyond 5000 bytes
    std::string body = *EncodeContent("gzip", std::string(20000, 'a'));
    c.Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nContent-Encoding: "
        "gzip\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = c.Read();
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("decoded body exceeds"), std::string::npos) << r.body;
  }
  {
    RawClient c(addr_);
    c.Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nContent-Encoding: "
        "gzip\r\nContent-Length: 4\r\n\r\nabcd");
    auto r = c.Read();
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("cannot decode gzip body"), std::string::npos) << r.body;
  }
}

TEST_F(HttpServerTest, AuthenticationAndScopes) {
  struct Case {
    std::string headers;
    std::string path;
    int status;
    std::string body_has;
  } cases[] = {
      {"", "/admin/x", 401, "missing API token"},
      {"Authorization: Bearer nope\r\n", "/admin/x", 401, "unknown API token"},
      {"Authorization: Bearer ing\r\n", "/admin/x", 403, "lacks the 'admin' scope"},
      {"Authorization: Bearer adm\r\n", "/admin/x", 200, "admin-token"},
      {"Authorization: Basic dXNlcjphZG0=\r\n", "/admin/x", 200, "admin-token"},  // user:adm
      {"X-Api-Key: adm\r\n", "/admin/x", 200, "admin-token"},
      {"", "/admin/x?token=adm", 200, "admin-token"},
      {"", "/-/healthy", 200, "OK"},
      {"", "/nothing", 404, "no route for /nothing"},
  };
  for (const auto& tc : cases) {
    RawClient c(addr_);
    c.Send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n" + tc.headers + "\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, tc.status) << tc.headers << tc.path;
    EXPECT_NE(r.body.find(tc.body_has), std::string::npos) << r.body;
  }
  // Query tokens only where the route allows them.
  RawClient c(addr_);
  c.Send("POST /echo?token=ing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(c.Read().status, 401);
}

TEST_F(HttpServerTest, MethodNotAllowedAndMalformed) {
  {
    RawClient c(addr_);
    c.Send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.Read().status, 405);
  }
  {
    RawClient c(addr_);
    c.Send("THIS IS NOT HTTP\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("malformed HTTP request"), std::string::npos);
  }
  {
    RawClient c(addr_);
    c.Send("GET / HTTP/1.1\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.Read().status, 431);
  }
}

TEST_F(HttpServerTest, ExpectContinue) {
  RawClient c(addr_);
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nX-Api-Key: ing\r\nContent-Length: 3\r\nExpect: "
      "100-continue\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 100);
  c.Send("abc");
  auto r2 = c.Read();
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "got abc\n");
}

TEST_F(HttpServerTest, SlowClientHeaderTimeout) {
  RawClient c(addr_);
  c.Send("GET /-/healthy HTTP/1.1\r\nHo");  // never finishes the header
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.Closed());
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, std::chrono::seconds(4));
}

TEST_F(HttpServerTest, StopDrainsInFlightRequests) {
  RawClient c(addr_);
  c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  while (!slow_started_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  RawClient idle(addr_);  // connected, no request: closed at once on Stop
  std::thread stopper([this] { server_->Stop(); });
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slow done\n");
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << r.head;
  stopper.join();
}

TEST(ParseHostPortTest, Forms) {
  std::string h;
  unsigned short p;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9400", &h, &p).ok());
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 9400);
  ASSERT_TRUE(ParseHostPort("[::1]:80", &h, &p).ok());
  EXPECT_EQ(h, "::1");
  ASSERT_TRUE(ParseHostPort(":9", &h, &p).ok());
  EXPECT_EQ(h, "0.0.0.0");
  EXPECT_FALSE(ParseHostPort("nohost", &h, &p).ok());
  EXPECT_FALSE(ParseHostPort("h:99999", &h, &p).ok());
}

}  // namespace
}  // namespace kansoku::net

namespace kansoku::net {
namespace {

// max_body_bytes_in_flight: a large body waits (unread) until earlier ones are answered.
// The worker that ran an offloaded handler starts writing its answer. The connection carries no
// deadline while the handler runs, so a handler longer than the connection's timeouts still
// answers (before, the header or idle deadline stayed armed and closed it); the write's
// completion on the io thread takes the connection on to its next (pipelined or later) request;
// many clients at once each get their own answer.
TEST(HttpServerOffloadTest, WorkersWriteTheirAnswers) {
  FixedAuth auth;
  metrics::Registry registry;
  HttpServerOptions o = LoopbackOptions(&auth, &registry, 3);
  // Shorter than the slow handler (the sweeper looks every <= 250 ms): a deadline left armed
  // while a handler runs closes the connection before its answer.
  o.header_timeout_ms = 400;
  o.idle_timeout_ms = 400;
  o.body_timeout_ms = 400;
  HttpServer server(o);
  Route slow;
  slow.method = "GET";
  slow.path = "/slow";
  slow.scope = kScopeNone;
  slow.offload = true;
  slow.handler = [](Request&, Response& resp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    resp.Text(200, "slow done");
  };
  server.AddRoute(slow);
  Route echo;
  echo.method = "GET";
  echo.path = "/echo";
  echo.scope = kScopeNone;
  echo.offload = true;
  echo.handler = [](Request& req, Response& resp) {
    // Large answers too: their write completes in several steps on the io thread.
    std::string q;
    req.QueryParam("q", &q);
    const size_t n = q.size() > 3 ? 100000 : 10;
    resp.Text(200, q + std::string(n, '.'));
  };
  server.AddRoute(echo);
  ASSERT_TRUE(server.Start().ok());
  const std::string addr = server.BoundAddresses().at(0);
  {
    RawClient c(addr);
    for (int i = 0; i < 2; ++i) {
      c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
      auto r = c.Read();
      EXPECT_EQ(r.status, 200) << r.head;
      EXPECT_EQ(r.body, "slow done\n");
    }
  }
  {
    RawClient c(addr);
    std::string burst;
    for (int i = 0; i < 40; ++i)
      burst += "GET /echo?q=" + std::to_string(i * 997) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    c.Send(burst);
    for (int i = 0; i < 40; ++i) {
      const std::string q = std::to_string(i * 997);
      auto r = c.Read();
      ASSERT_EQ(r.status, 200) << i << r.head;
      EXPECT_EQ(r.body, q + std::string(q.size() > 3 ? 100000 : 10, '.') + "\n") << i;
    }
  }
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      RawClient c(addr);
      for (int i = 0; i < 100; ++i) {
        const std::string q = std::to_string(t * 1000 + i);
        c.Send("GET /echo?q=" + q + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto r = c.Read();
        if (r.status == 200 && r.body == q + std::string(q.size() > 3 ? 100000 : 10, '.') + "\n") {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : clients) th.join();
  server.Stop();
  EXPECT_EQ(ok.load(), 600);
}

TEST(HttpServerBodyBudgetTest, LargeBodiesBeyondTheBudgetWaitTheirTurn) {
  FixedAuth auth;
  metrics::Registry registry;
  HttpServerOptions o = LoopbackOptions(&auth, &registry, 2);
  o.max_body_bytes_in_flight = 200000;
  HttpServer server(o);
  Concurrency conc;
  Route big = BigRoute(1 << 20, [&](Request& req, Response& resp) {
    if (req.body.size() > 1000) {  // large bodies held at once
      conc.Enter();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      conc.Leave();
    }
    resp.Text(200, std::to_string(req.body.size()));
  });
  server.AddRoute(big);
  ASSERT_TRUE(server.Start().ok());
  const std::string addr = server.BoundAddresses().at(0);
  const std::string body(150000, 'x');  // two of them exceed the budget
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] {
      RawClient c(addr);
      c.Send("POST /big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ing\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
      auto r = c.Read();
      EXPECT_EQ(r.status, 200) << r.head << r.body;
      if (r.status == 200 && r.body == "150000\n") ok.fetch_add(1);
      // The connection is still usable: a small request is never held back.
      c.Send(
          "POST /big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ing\r\nContent-Length: "
          "2\r\n\r\nab");
      if (c.Read().body == "2\n") ok.fetch_add(1);
    });
  }
  for (auto& t : clients) t.join();
  server.Stop();
  EXPECT_EQ(ok.load(), 6);
  // Two workers would run two of the large requests at once; the budget admits one at a time.
  EXPECT_EQ(conc.most.load(), 1);
}

// Bodies too large for an io thread's pool (> 20 MiB) are kept in the server's shared pool for
// the next large body, within max_body_bytes_in_flight: the next one is read into the same
// buffer (the same address), on whichever io thread; a body the kept buffers leave no room for
// evicts them instead of waiting; bodies never exceed the budget together.
TEST(HttpServerBodyBudgetTest, LargeBodiesReuseKeptBuffersWithinTheBudget) {
  FixedAuth auth;
  metrics::Registry registry;
  HttpServerOptions o = LoopbackOptions(&auth, &registry, 3);
  o.max_body_bytes_in_flight = 50 << 20;
  HttpServer server(o);
  std::mutex mu;
  std::vector<const char*> seen;  // body buffers, in the order the handler saw them
  Concurrency conc;
  // Size and a sample of the bytes: what the handler saw, compared with what was sent.
  auto digest = [](const std::string& body) {
    size_t sum = 0;
    for (size_t i = 0; i < body.size(); i += 4096) sum += static_cast<unsigned char>(body[i]);
    return std::to_string(body.size()) + " " + std::to_string(sum);
  };
  Route big = BigRoute(64 << 20, [&](Request& req, Response& resp) {
    conc.Enter();
    {
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(req.body.data());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    conc.Leave();
    resp.Text(200, digest(req.body));
  });
  server.AddRoute(big);
  ASSERT_TRUE(server.Start().ok());
  const std::string addr = server.BoundAddresses().at(0);
  auto send = [&](const std::string& body) {
    RawClient c(addr);
    c.Send("POST /big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ing\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.Read();
  };
  auto expect = [&](const std::string& body) { return digest(body) + "\n"; };
  const std::string a(21 << 20, 'a'), b((21 << 20) - 100, 'b');
  // One after the other, each on a new connection (the io threads take turns): the second and
  // third are read into the first one's buffer.
  for (const std::string* body : {&a, &b, &a}) {
    auto r = send(*body);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, expect(*body));
  }
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[1], seen[0]);
    EXPECT_EQ(seen[2], seen[0]);
  }
  // 40 MiB does not fit next to the kept ~22 MiB: the kept buffer goes, the body is read.
  const std::string c(40 << 20, 'c');
  auto r = send(c);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, expect(c));
  // Four at once: two fit the budget together, the others wait and then reuse their buffers.
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      const std::string& body = i % 2 ? a : b;
      auto resp = send(body);
      if (resp.status == 200 && resp.body == expect(body)) ok.fetch_add(1);
    });
  }
  for (auto& th : clients) th.join();
  server.Stop();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_LE(conc.most.load(), 2);
}

}  // namespace
}  // namespace kansoku::net
