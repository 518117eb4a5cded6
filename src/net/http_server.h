#pragma once
// HttpServer: HTTP/1.1 on Boost.Asio/Beast for every HTTP route of kansoku (API, ingest, UI).
//
// Per connection: keep-alive, chunked request bodies (de-chunked by the parser), optional TLS.
// Per request, in this order, each step able to answer early and close:
//   1. read the header (max_header_bytes, header_timeout_ms)      -> 400 / 431 / close on timeout
//   2. route lookup (exact path, else longest prefix)             -> 404 / 405
//   3. authentication (Bearer, Basic password, X-Api-Key, and ?token= only on routes that allow
//      it) against the Authenticator                               -> 401 unknown / 403 scope
//   4. body limit from the route (Content-Length checked up front; chunked bodies while reading)
//                                                                  -> 413 naming the limit
//   5. "Expect: 100-continue" answered only after 2-4 passed
//   6. Content-Encoding decoding within max_decoded_body_bytes     -> 400 / 413
//   7. the handler, on the io thread or, if Route::offload, on the worker pool (whose thread
//      also starts writing the answer; the write completes on the connection's io thread)
// Overload: beyond max_connections new connections get 503 and are closed; a full worker queue
// answers 503 with Retry-After.
//
// Threading: one io_context per io thread; each connection stays on the io thread it is given.
// Thread safety: AddRoute before Start only. Start/Stop from one thread. Handlers run
// concurrently on io and worker threads and must be thread-safe.
// Ownership: the server borrows the Authenticator and metrics::Registry; both must outlive it.
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "net/http.h"

namespace kansoku::net {

// Resolves a presented token to a Principal. Unauthenticated for unknown/revoked tokens.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Result<Principal> Authenticate(std::string_view token) = 0;
};

struct HttpServerOptions {
  // Addresses to listen on: "127.0.0.1:9400", "[::1]:9400", "0.0.0.0:9400", ":9400" (all v4).
  // Port 0 picks a free port; BoundAddresses() tells which.
  std::vector<std::string> listen = {"127.0.0.1:9400"};
  // io threads (0 = number of cores) and worker threads for offloaded routes (0 = cores).
  int io_threads = 0;
  int worker_threads = 0;
  // Offloaded requests waiting for a worker beyond this answer 503.
  int max_queued_requests = 1024;
  // Bodies (by Content-Length) of offloaded requests held at once, from the start of reading
  // until the answer is written: a request beyond it waits (its body unread, TCP pushes back)
  // until earlier ones finish; one body alone is always admitted. Bounds the memory of
  // concurrent large imports. 0 = no bound. Bodies up to 64 KiB and chunked ones don't count.
  // Buffers kept for later large bodies (those too big for an io thread's own pool) count too.
  int64_t max_body_bytes_in_flight = 64ll << 20;
  // TLS: both set = every listener speaks HTTPS.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A new connection or a request's header must arrive within this (slow-client guard).
  int64_t header_timeout_ms = 10000;
  // The body must be fully received within this after the header.
  int64_t body_timeout_ms = 60000;
  // A keep-alive connection idle this long is closed.
  int64_t idle_timeout_ms = 60000;
  // Writing a response must finish within this.
  int64_t write_timeout_ms = 60000;
  int64_t max_header_bytes = 64 * 1024;
  int max_connections = 4096;
  // On Stop, in-flight requests get this long to finish.
  int64_t shutdown_grace_ms = 15000;
  Authenticator* authenticator = nullptr;  // required unless every route is kScopeNone
  metrics::Registry* metrics = nullptr;    // required
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void AddRoute(Route route);
  // Binds every listen address and starts the threads. IOError names the address that failed.
  Status Start();
  // "127.0.0.1:43127" per listener, after Start.
  std::vector<std::string> BoundAddresses() const;
  // Graceful: stop accepting, close idle keep-alive connections, let in-flight requests finish
  // (up to shutdown_grace_ms), then stop the threads. Idempotent.
  void Stop();

  class Impl;  // implementation detail (http_server.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port", "[v6]:port", ":port" into host and port. Empty host -> "0.0.0.0".
Status ParseHostPort(std::string_view s, std::string* host, unsigned short* port);

}  // namespace kansoku::net
