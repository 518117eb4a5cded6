#include "net/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <sys/mman.h>

#include "base/log.h"
#include "base/strings.h"
#include "net/decode.h"

namespace kansoku::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

Status ParseHostPort(std::string_view s, std::string* host, unsigned short* port) {
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Status::InvalidArgument("cannot parse address \"" + std::string(s) +
                                     "\": expected [v6-address]:port");
    }
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("cannot parse address \"" + std::string(s) +
                                     "\": expected host:port");
    }
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(p)) > 65535) {
    return Status::InvalidArgument("cannot parse address \"" + std::string(s) + "\": bad port \"" +
                                   std::string(p) + "\"");
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = static_cast<unsigned short>(std::stoi(std::string(p)));
  return Status::Ok();
}

namespace {

std::string EndpointString(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

std::string Base64Decode(std::string_view in) {
  static const auto kTable = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(chars[i])] = i;
    t['-'] = 62;
    t['_'] = 63;
    return t;
  }();
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    if (c == '=') break;
    int d = kTable[c];
    if (d < 0) continue;
    val = (val << 6) + d;
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

template <class Fields>
void FillRequest(const http::request_header<Fields>& hdr, Request* req) {
  // Assigned in place: a keep-alive connection reuses its Request, so after the
  // first request these strings and the header vector already have their
  // capacity.
  req->method.assign(hdr.method_string());
  req->target.assign(hdr.target());
  std::string_view target(req->target);
  size_t q = target.find('?');
  req->path.assign(target.substr(0, q));
  if (q == std::string_view::npos) {
    req->query.clear();
  } else {
    req->query.assign(target.substr(q + 1));
  }
  size_t n = 0;
  for (const auto& f : hdr) {
    if (n == req->headers.size()) req->headers.emplace_back();
    auto& [name, value] = req->headers[n++];
    name.assign(f.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    value.assign(f.value());
  }
  req->headers.resize(n);
}

// The token a request presents: Bearer, Basic password (or user when no
// password), X-Api-Key, and ?token= / ?api_key= only when allow_query. Empty
// when none. *scratch backs the view.
std::string_view ExtractToken(const Request& req, bool allow_query, std::string* scratch) {
  std::string_view auth = req.Header("authorization");
  if (!auth.empty()) {
    if (auth.size() > 7 && EqualsIgnoreCase(auth.substr(0, 7), "bearer ")) {
      return TrimSpace(auth.substr(7));
    }
    if (auth.size() > 6 && EqualsIgnoreCase(auth.substr(0, 6), "token ")) {
      return TrimSpace(auth.substr(6));  // InfluxDB v2 clients (Telegraf, influx CLI 2.x)
    }
    if (auth.size() > 6 && EqualsIgnoreCase(auth.substr(0, 6), "basic ")) {
      *scratch = Base64Decode(TrimSpace(auth.substr(6)));
      std::string_view d(*scratch);
      size_t colon = d.find(':');
      if (colon == std::string_view::npos) return d;
      std::string_view pass = d.substr(colon + 1);
      return pass.empty() ? d.substr(0, colon) : pass;
    }
  }
  std::string_view key = req.Header("x-api-key");
  if (!key.empty()) return key;
  // ?p= is InfluxDB v1's password parameter (what influx clients send with
  // -password).
  if (allow_query && (req.QueryParam("token", scratch) || req.QueryParam("api_key", scratch) ||
                      req.QueryParam("p", scratch))) {
    return *scratch;
  }
  return {};
}

// Per-route state: the immutable Route plus its cached self-metric children.
struct RouteState {
  Route route;
  metrics::Family<metrics::Counter>* requests = nullptr;
  metrics::Histogram* latency = nullptr;
  metrics::Counter* bytes_in = nullptr;
  metrics::Counter* bytes_out = nullptr;
  std::array<std::atomic<metrics::Counter*>, 600> by_code{};

  metrics::Counter* CodeCounter(int code) {
    if (code < 100 || code >= 600) code = 599;
    metrics::Counter* c = by_code[code].load(std::memory_order_acquire);
    if (!c) {
      c = requests->With({route.metric_name, std::to_string(code)});
      by_code[code].store(c, std::memory_order_release);
    }
    return c;
  }
};

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void AppendDecimal(std::string& out, uint64_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out.append(p, static_cast<size_t>(end - p));
}

// "Name: value\r\n"; CR and LF inside either become spaces (no header injection
// by a handler).
void AppendHeaderField(std::string& out, std::string_view name, std::string_view value) {
  size_t start = out.size();
  out += name;
  out += ": ";
  out += value;
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out += "\r\n";
}

// Framing headers the server writes itself; a handler's copy is ignored.
bool IsFramingHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "connection") ||
         EqualsIgnoreCase(name, "transfer-encoding");
}

// Bodies up to this size are copied behind the header so the response is one
// buffer.
constexpr size_t kCopyBodyBelow = 16 * 1024;

// Asks for transparent huge pages on the 2 MiB-aligned part of a fresh body buffer (its pages
// not touched yet), so reading a body of tens of MB faults a few huge pages instead of one page
// per 4 KiB: on bench/tsdb's import (~25 MB bodies, too large for the BodyPool) the 4 KiB
// faults under Beast's body append were ~14 % of the server's CPU (perf). A no-op where THP is
// off ("never"); with "madvise" (Debian's default) this is what enables it.
void AdviseHugePages(char* p, size_t n) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto b = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = (b + kHuge - 1) & ~(kHuge - 1), hi = (b + n) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}
constexpr size_t kHugePageBodyBytes = size_t{4} << 20;  // bodies from this size get THP

}  // namespace

// Large request bodies answered on one io thread, kept for the next large body read there
// instead of being freed: a fresh buffer of several MiB is a fresh mmap (kansoku server sets the
// mmap threshold to 1 MiB), and every page of it faulted in and zeroed by the kernel cost more
// than the parse of its JSON lines. At most kMaxBuffers buffers and kMaxBytes of capacity per io
// thread; the sweeper drops them all once none was taken for kIdleMs, so an idle server holds
// none. One io thread only: no lock.
class BodyPool {
 public:
  static constexpr size_t kMaxBuffers = 2;
  // Two logs bodies of 8 MiB (with the 1/16 spare) fit; a metrics import body of ~25 MB does
  // not and is freed: kept (32 MiB), it raised bench/tsdb's peak RSS from ~203 to 236 MB.
  static constexpr size_t kMaxBytes = 20 << 20;
  static constexpr int64_t kIdleMs = 10000;

  // A buffer with capacity for at least n bytes (empty), or an empty string when none fits.
  std::string Take(size_t n, int64_t now_ms) {
    for (size_t i = 0; i < buffers_.size(); ++i) {
      if (buffers_[i].capacity() < n) continue;
      std::string s = std::move(buffers_[i]);
      buffers_.erase(buffers_.begin() + static_cast<long>(i));
      bytes_ -= s.capacity();
      last_take_ms_ = now_ms;
      s.clear();
      return s;
    }
    return {};
  }
  // Keeps s (when there is room) for a later Take; else frees it.
  void Give(std::string&& s, int64_t now_ms) {
    if (buffers_.empty()) last_take_ms_ = now_ms;
    if (buffers_.size() >= kMaxBuffers || bytes_ + s.capacity() > kMaxBytes) {
      std::string().swap(s);
      return;
    }
    bytes_ += s.capacity();
    buffers_.push_back(std::move(s));
    s = std::string();
  }
  // Frees every buffer once none was taken for kIdleMs.
  void Trim(int64_t now_ms) {
    if (!buffers_.empty() && now_ms - last_take_ms_ >= kIdleMs) {
      buffers_.clear();
      bytes_ = 0;
    }
  }

 private:
  std::vector<std::string> buffers_;
  size_t bytes_ = 0;
  int64_t last_take_ms_ = 0;
};

class SessionBase {
 public:
  explicit SessionBase(size_t io_index) : io_index_(io_index) {}
  virtual ~SessionBase() = default;
  // Called on shutdown (from any thread): close now if waiting for a request.
  virtual void CloseIfIdle() = 0;
  // Called on the session's io thread by its sweeper: close if the current
  // deadline passed.
  virtual void CheckDeadline(int64_t now_ms) = 0;
  size_t io_index() const { return io_index_; }

 private:
  const size_t io_index_;  // which IoThread runs this session
};

// One io thread: its own io_context, run by this thread only (so a session
// needs no strand), and the sweeper timer that closes the connections on it
// whose deadline passed. Deadlines are plain integers set per phase (header,
// body, write, lingering close), so a request arms no timer.
struct IoThread {
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::steady_timer sweeper{ioc};
  std::thread thread;
  BodyPool body_pool;  // used by this thread only
};

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions o) : opts_(std::move(o)) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (opts_.io_threads <= 0) opts_.io_threads = cores;
    if (opts_.worker_threads <= 0) opts_.worker_threads = cores;
    for (int i = 0; i < opts_.io_threads; ++i) io_.push_back(std::make_unique<IoThread>());
    int64_t shortest = std::min({opts_.header_timeout_ms, opts_.body_timeout_ms,
                                 opts_.idle_timeout_ms, opts_.write_timeout_ms});
    sweep_interval_ms_ = std::clamp<int64_t>(shortest / 4, 10, 250);
    auto& reg = *opts_.metrics;
    requests_ = &reg.Counter("kansoku_http_requests_total",
                             "HTTP requests by route and status code.", {"route", "code"});
    latency_ = &reg.Histogram("kansoku_http_request_duration_seconds",
                              "Time from a request's header to its response "
                              "being ready to send, by route.",
                              {"route"});
    bytes_in_ = &reg.Counter("kansoku_http_request_bytes_total",
                             "Request body bytes received on the wire, by route.", {"route"});
    bytes_out_ = &reg.Counter("kansoku_http_response_bytes_total",
                              "Response body bytes sent, by route.", {"route"});
    auto& errs =
        reg.Counter("kansoku_http_errors_total",
                    "Requests or connections ended by a protocol error, by reason.", {"reason"});
    for (const char* r : {"bad_request", "header_too_large", "body_too_large", "bad_encoding",
                          "timeout", "tls_handshake", "too_many_connections", "overloaded",
                          "unauthenticated", "forbidden", "not_found"}) {
      errors_[r] = errs.With({r});
    }
    connections_ = reg.Gauge("kansoku_http_connections", "Open HTTP connections.").With({});
    connections_total_ =
        reg.Counter("kansoku_http_connections_total", "HTTP connections accepted.").With({});
    queued_ = reg.Gauge("kansoku_http_queued_requests", "Offloaded requests waiting for a worker.")
                  .With({});
    other_route_.route.metric_name = "other";
    InitRouteMetrics(other_route_);
  }

  ~Impl() {
    // Sessions still queued in an io_context are destroyed with it and
    // unregister themselves: tear the io threads down while the registry and
    // the metrics are still alive.
    acceptors_.clear();
    io_.clear();
  }

  void InitRouteMetrics(RouteState& rs) {
    rs.requests = requests_;
    rs.latency = latency_->With({rs.route.metric_name});
    rs.bytes_in = bytes_in_->With({rs.route.metric_name});
    rs.bytes_out = bytes_out_->With({rs.route.metric_name});
  }

  void AddRoute(Route r) {
    if (r.metric_name.empty()) r.metric_name = r.path + (r.prefix ? "*" : "");
    auto rs = std::make_unique<RouteState>();
    rs->route = std::move(r);
    InitRouteMetrics(*rs);
    if (rs->route.prefix) {
      // Longest prefix first; among equal lengths the first registered stays
      // first.
      auto at = std::find_if(prefix_routes_.begin(), prefix_routes_.end(), [&](RouteState* o) {
        return o->route.path.size() < rs->route.path.size();
      });
      prefix_routes_.insert(at, rs.get());
    } else {
      exact_routes_[rs->route.path].push_back(rs.get());
    }
    routes_.push_back(std::move(rs));
  }

  static bool MethodMatches(const Route& r, std::string_view method) {
    return r.method.empty() || r.method == method || (method == "HEAD" && r.method == "GET");
  }

  // The route for path+method: an exact path first, else the longest prefix
  // (the first registered among equals). *method_mismatch when the path exists
  // only for other methods.
  RouteState* Find(std::string_view path, std::string_view method, bool* method_mismatch) {
    *method_mismatch = false;
    auto it = exact_routes_.find(path);
    if (it != exact_routes_.end()) {
      for (RouteState* rs : it->second) {
        if (MethodMatches(rs->route, method)) return rs;
      }
      *method_mismatch = true;
    }
    for (RouteState* rs : prefix_routes_) {
      if (!StartsWith(path, rs->route.path)) continue;
      if (MethodMatches(rs->route, method)) {
        *method_mismatch = false;
        return rs;
      }
      *method_mismatch = true;
    }
    return nullptr;
  }

  Status Start();
  void Stop();
  std::vector<std::string> Bound() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bound_;
  }

  void Accept(size_t i);
  void Sweep(size_t io_index);

  void Register(SessionBase* s, std::weak_ptr<SessionBase> w) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_[s] = std::move(w);
  }
  void Unregister(SessionBase* s) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(s);
    if (sessions_.empty()) sessions_cv_.notify_all();
  }

  HttpServerOptions opts_;
  std::unique_ptr<asio::thread_pool> workers_;
  std::optional<ssl::context> ssl_ctx_;
  std::vector<std::unique_ptr<RouteState>> routes_;
  std::map<std::string, std::vector<RouteState*>, std::less<>> exact_routes_;
  std::vector<RouteState*> prefix_routes_;
  RouteState other_route_;
  mutable std::mutex mu_;
  std::vector<std::string> bound_;
  int64_t sweep_interval_ms_ = 250;
  size_t next_io_ = 0;  // round-robin over io_ for accepted connections (acceptor thread only)

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  std::atomic<int> open_connections_{0};
  std::atomic<int> queued_requests_{0};
  std::atomic<bool> draining_{false};

  // max_body_bytes_in_flight, which counts the bodies being read or handled and the large
  // buffers kept for later bodies (the shared pool below). Admits n bytes now (true), handing
  // over in *buf a kept buffer with capacity for n when there is one (*ticket is then its
  // capacity, else n); otherwise `resume(buf, ticket)` runs, on some thread, once, when they are
  // admitted. FIFO, so a large body is not starved by small ones.
  using ResumeFn = std::function<void(std::string buf, int64_t ticket)>;
  bool AcquireBodyBytes(int64_t n, std::string* buf, int64_t* ticket, ResumeFn resume) {
    std::vector<std::string> evicted;  // freed outside the lock
    std::lock_guard<std::mutex> l(body_mu_);
    if (body_waiters_.empty() && AdmitLocked(n, buf, ticket, &evicted)) return true;
    body_waiters_.emplace_back(n, std::move(resume));
    return false;
  }
  // Gives a request's n bytes back. A large body's buffer (*buf, when given) is kept in the
  // shared pool when it fits within the budget next to the bodies in flight, so the next large
  // body is read into pages that are mapped already: bench/tsdb's ~25 MB import bodies, each a
  // fresh mmap, had the kernel zeroing 2 MiB pages for 6.5-7.7 % of the server's CPU.
  void ReleaseBodyBytes(int64_t n, std::string* buf = nullptr) {
    std::vector<std::pair<ResumeFn, std::pair<std::string, int64_t>>> admitted;
    std::vector<std::string> evicted;
    {
      std::lock_guard<std::mutex> l(body_mu_);
      body_bytes_ -= n;
      if (buf != nullptr && buf->capacity() > 0) {
        const auto c = static_cast<int64_t>(buf->capacity());
        if (shared_pool_.size() < kSharedPoolBuffers &&
            body_bytes_ + pooled_bytes_ + c <= opts_.max_body_bytes_in_flight) {
          buf->clear();
          shared_pool_.push_back(std::move(*buf));
          pooled_bytes_ += c;
        } else {
          evicted.push_back(std::move(*buf));
        }
        *buf = std::string();
      }
      while (!body_waiters_.empty()) {
        std::string b;
        int64_t t = 0;
        if (!AdmitLocked(body_waiters_.front().first, &b, &t, &evicted)) break;
        admitted.emplace_back(std::move(body_waiters_.front().second),
                              std::make_pair(std::move(b), t));
        body_waiters_.pop_front();
      }
    }
    for (auto& [f, bt] : admitted) f(std::move(bt.first), bt.second);
  }
  // Frees the shared pool's buffers when none was taken for BodyPool::kIdleMs.
  void TrimSharedPool(int64_t now_ms) {
    std::vector<std::string> evicted;
    std::lock_guard<std::mutex> l(body_mu_);
    if (!shared_pool_.empty() && now_ms - pool_last_take_ms_ >= kSharedPoolIdleMs) {
      evicted = std::move(shared_pool_);
      shared_pool_.clear();
      pooled_bytes_ = 0;
    }
  }
  // Admits n bytes if they fit, taking a kept buffer of capacity >= n when there is one, and
  // freeing (into *evicted) kept buffers that stand in the way of a body that fits without them.
  // The smallest kept buffer that fits is taken, and none more than 1.5 times n (a 40 MiB buffer
  // would hold the budget of two 20 MiB bodies).
  bool AdmitLocked(int64_t n, std::string* buf, int64_t* ticket,
                   std::vector<std::string>* evicted) {
    size_t best = shared_pool_.size();
    for (size_t i = 0; i < shared_pool_.size(); ++i) {
      const auto c = static_cast<int64_t>(shared_pool_[i].capacity());
      if (c >= n && c <= n + n / 2 &&
          (best == shared_pool_.size() ||
           c < static_cast<int64_t>(shared_pool_[best].capacity()))) {
        best = i;
      }
    }
    if (best < shared_pool_.size()) {
      const auto c = static_cast<int64_t>(shared_pool_[best].capacity());
      *buf = std::move(shared_pool_[best]);
      shared_pool_.erase(shared_pool_.begin() + static_cast<long>(best));
      pooled_bytes_ -= c;
      body_bytes_ += c;
      *ticket = c;
      pool_last_take_ms_ = SteadyNowMs();
      return true;
    }
    while (!FitsLocked(n) && !shared_pool_.empty()) {
      pooled_bytes_ -= static_cast<int64_t>(shared_pool_.back().capacity());
      evicted->push_back(std::move(shared_pool_.back()));
      shared_pool_.pop_back();
    }
    if (!FitsLocked(n)) return false;
    body_bytes_ += n;
    *ticket = n;
    return true;
  }
  bool FitsLocked(int64_t n) const {
    return (body_bytes_ == 0 && pooled_bytes_ == 0) ||
           body_bytes_ + pooled_bytes_ + n <= opts_.max_body_bytes_in_flight;
  }
  static constexpr size_t kSharedPoolBuffers = 4;
  static constexpr int64_t kSharedPoolIdleMs = 10000;
  std::mutex body_mu_;
  int64_t body_bytes_ = 0;                                 // GUARDED_BY(body_mu_)
  int64_t pooled_bytes_ = 0;                               // GUARDED_BY(body_mu_)
  int64_t pool_last_take_ms_ = 0;                          // GUARDED_BY(body_mu_)
  std::vector<std::string> shared_pool_;                   // GUARDED_BY(body_mu_)
  std::deque<std::pair<int64_t, ResumeFn>> body_waiters_;  // GUARDED_BY(body_mu_)
  bool started_ = false, stopped_ = false;

  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Histogram>* latency_;
  metrics::Family<metrics::Counter>* bytes_in_;
  metrics::Family<metrics::Counter>* bytes_out_;
  std::map<std::string, metrics::Counter*> errors_;
  metrics::Gauge* connections_;
  metrics::Counter* connections_total_;
  metrics::Gauge* queued_;

  // Last: destroyed first (see ~Impl), acceptors before the io_contexts they
  // use.
  std::vector<std::unique_ptr<IoThread>> io_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
};

namespace {

using TlsStream = ssl::stream<tcp::socket>;

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(HttpServer::Impl* srv, tcp::socket&& sock, std::string remote,
          size_t io_index) requires(!kTls)
      : SessionBase(io_index), srv_(srv), stream_(std::move(sock)), remote_(std::move(remote)) {}
  Session(HttpServer::Impl* srv, tcp::socket&& sock, ssl::context& ctx, std::string remote,
          size_t io_index) requires(kTls)
      : SessionBase(io_index),
        srv_(srv),
        stream_(std::move(sock), ctx),
        remote_(std::move(remote)) {}

  ~Session() override {
    if (body_ticket_ > 0) srv_->ReleaseBodyBytes(body_ticket_);
    srv_->open_connections_.fetch_sub(1);
    srv_->connections_->Add(-1);
    srv_->Unregister(this);
  }

  // On the session's io thread.
  void Run() {
    srv_->Register(this, this->weak_from_this());
    req_.remote_addr = remote_;
    if constexpr (kTls) {
      SetDeadline(srv_->opts_.header_timeout_ms);
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](
                                                            beast::error_code ec) {
        if (ec) {
          self->srv_->errors_["tls_handshake"]->Inc();
          log::Debug("tls handshake failed", {{"remote", self->remote_}, {"err", ec.message()}});
          return self->CloseSocket();
        }
        self->ReadHeader();
      });
    } else {
      ReadHeader();
    }
  }

  void CloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->CloseSocket();
    });
  }

  void CheckDeadline(int64_t now_ms) override {
    int64_t d = deadline_ms_.load(std::memory_order_relaxed);
    if (d == 0 || now_ms < d) return;
    deadline_ms_.store(0, std::memory_order_relaxed);
    timed_out_ = true;
    CloseSocket();  // the pending operation completes with an error and sees
                    // timed_out_
  }

 private:
  tcp::socket& Socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void CloseSocket() {
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  void SetDeadline(int64_t timeout_ms) {
    deadline_ms_.store(SteadyNowMs() + timeout_ms, std::memory_order_relaxed);
  }

  void ReadHeader() {
    if (srv_->draining_.load()) return DoClose();
    idle_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_->opts_.max_header_bytes));
    parser_->body_limit(UINT64_MAX);  // the route's limit is set once the header is known
    SetDeadline(requests_served_ == 0 ? srv_->opts_.header_timeout_ms
                                      : srv_->opts_.idle_timeout_ms);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    start_ = std::chrono::steady_clock::now();
    if (timed_out_) {
      if (buffer_.size() > 0) srv_->errors_["timeout"]->Inc();
      return DoClose();
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == asio::error::bad_descriptor) {
      return ClosePeerGone();
    }
    route_ = &srv_->other_route_;
    if (ec == http::error::header_limit) {
      srv_->errors_["header_too_large"]->Inc();
      return Fail(431, "request header exceeds the limit of " +
                           FormatByteSize(srv_->opts_.max_header_bytes));
    }
    if (ec) {
      srv_->errors_["bad_request"]->Inc();
      return Fail(400, "malformed HTTP request: " + ec.message());
    }
    auto& hdr = parser_->get();
    FillRequest(hdr, &req_);
    req_.body.clear();
    req_.wire_body_bytes = 0;
    req_.wire_body.clear();
    req_.principal.token_id = 0;
    req_.principal.token_name.clear();
    req_.principal.scopes = 0;
    keep_alive_ = hdr.keep_alive();
    version_ = hdr.version();

    bool method_mismatch = false;
    RouteState* rs = srv_->Find(req_.path, req_.method, &method_mismatch);
    if (!rs) {
      srv_->errors_[method_mismatch ? "bad_request" : "not_found"]->Inc();
      if (method_mismatch)
        return Fail(405, "method " + req_.method + " not allowed on " + req_.path);
      return Fail(404, "no route for " + req_.path);
    }
    route_ = rs;
    const Route& r = rs->route;

    if (r.scope != kScopeNone) {
      Status st = Authenticate(r);
      if (!st.ok()) {
        bool unauth = st.code() == Status::Code::kUnauthenticated;
        srv_->errors_[unauth ? "unauthenticated" : "forbidden"]->Inc();
        ResetResponse();
        resp_.Error(unauth ? 401 : 403, st.message());
        // Basic first: clients that negotiate (libcurl in collectd) then send
        // user:token.
        if (unauth)
          resp_.SetHeader("WWW-Authenticate", "Basic realm=\"kansoku\", Bearer realm=\"kansoku\"");
        keep_alive_ = false;  // the body (if any) was not read
        return Write();
      }
    }

    auto len = parser_->content_length();
    if (len && static_cast<int64_t>(*len) > r.max_body_bytes) {
      srv_->errors_["body_too_large"]->Inc();
      return Fail(413, BodyLimitMessage(r));
    }
    parser_->body_limit(static_cast<uint64_t>(r.max_body_bytes));

    if (parser_->is_done()) return OnBody({});
    if (beast::iequals(hdr[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      SetDeadline(srv_->opts_.write_timeout_ms);
      return asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->DoClose();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  std::string BodyLimitMessage(const Route& r) {
    return "request body exceeds the limit of " + FormatByteSize(r.max_body_bytes) + " (" +
           std::to_string(r.max_body_bytes) + " bytes) for " + r.path;
  }

  Status Authenticate(const Route& r) {
    std::string scratch;
    std::string_view token = ExtractToken(req_, r.allow_query_token, &scratch);
    if (token.empty()) {
      return Status::Unauthenticated(
          "missing API token: send it as 'Authorization: Bearer <token>', as "
          "the Basic auth "
          "password, or in the X-Api-Key header");
    }
    if (!srv_->opts_.authenticator) return Status::Unauthenticated("no authenticator configured");
    auto p = srv_->opts_.authenticator->Authenticate(token);
    if (!p.ok()) return p.status();
    if (!p->Has(r.scope)) {
      return Status::PermissionDenied("token \"" + p->token_name + "\" lacks the '" +
                                      std::string(ScopeName(r.scope)) + "' scope needed for " +
                                      req_.method + " " + r.path);
    }
    req_.principal = std::move(p).value();
    return Status::Ok();
  }

  void ReadBody() {
    auto cl = parser_->content_length();
    if (body_ticket_ == 0 && route_->route.offload && srv_->opts_.max_body_bytes_in_flight > 0 &&
        cl && *cl > kKeepBodyBytes) {
      const auto n = static_cast<int64_t>(*cl);
      auto self = this->shared_from_this();
      int64_t ticket = 0;
      if (!srv_->AcquireBodyBytes(n, &shared_buf_, &ticket, [self](std::string buf, int64_t t) {
            asio::post(self->stream_.get_executor(),
                       [self, t, b = std::make_shared<std::string>(std::move(buf))] {
                         self->body_ticket_ = t;
                         self->shared_buf_ = std::move(*b);
                         self->ReadBody();
                       });
          })) {
        deadline_ms_.store(0, std::memory_order_relaxed);  // waiting for memory, not the client
        return;
      }
      body_ticket_ = ticket;
    }
    SetDeadline(srv_->opts_.body_timeout_ms);
    // A large body is read into a buffer an earlier request on this io thread left (its pages
    // are mapped already); Beast's reserve at the header found none and allocated (untouched).
    std::string& body = parser_->get().body();
    if (cl && *cl > kKeepBodyBytes && body.empty()) {
      std::string pooled =
          shared_buf_.capacity() >= *cl
              ? std::move(shared_buf_)
              : srv_->io_[io_index()]->body_pool.Take(static_cast<size_t>(*cl), SteadyNowMs());
      shared_buf_ = std::string();
      if (pooled.capacity() >= *cl) {
        body.swap(pooled);
      } else {
        // A fresh buffer, with room for a slightly larger body next time (clients cut bodies
        // of about the same size, not of exactly the same).
        body.reserve(static_cast<size_t>(*cl + *cl / 16));
        if (*cl >= kHugePageBodyBytes) AdviseHugePages(body.data(), body.capacity());
      }
    }
    // Beast reads at most capacity - size bytes per recv(2), and a flat_buffer that was never
    // asked for more stays at 512 bytes: a 4 KB body took 8 recv calls. Room for the whole
    // body (up to kMaxReadChunk) makes it one; the buffer keeps that capacity for the next
    // request on this connection, whose header read then usually takes the whole request.
    auto len = parser_->content_length();
    size_t want =
        len ? static_cast<size_t>(std::min<uint64_t>(*len, kMaxReadChunk)) : kMaxReadChunk;
    if (buffer_.capacity() < buffer_.size() + want) buffer_.reserve(buffer_.size() + want);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    const Route& r = route_->route;
    if (timed_out_) {
      srv_->errors_["timeout"]->Inc();
      return DoClose();  // the socket is closed: no 408 can reach the client
    }
    if (ec == http::error::body_limit) {
      srv_->errors_["body_too_large"]->Inc();
      return Fail(413, BodyLimitMessage(r));
    }
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
          ec == asio::error::bad_descriptor) {
        return ClosePeerGone();
      }
      srv_->errors_["bad_request"]->Inc();
      return Fail(400, "malformed request body: " + ec.message());
    }
    std::string raw = std::move(parser_->get().body());
    req_.wire_body_bytes = raw.size();
    route_->bytes_in->Inc(static_cast<double>(raw.size()));
    std::string_view enc = req_.Header("content-encoding");
    if (!enc.empty() && !EqualsIgnoreCase(enc, "identity")) {
      auto dec = DecodeContent(enc, raw, static_cast<size_t>(r.max_decoded_body_bytes));
      if (!dec.ok()) {
        bool big = dec.status().code() == Status::Code::kResourceExhausted;
        srv_->errors_[big ? "body_too_large" : "bad_encoding"]->Inc();
        int code = big ? 413 : (dec.status().message().rfind("unsupported", 0) == 0 ? 415 : 400);
        return Fail(code, dec.status().message() + " (route " + r.path + ")");
      }
      req_.body = std::move(dec).value();
      if (r.keep_wire_body) {
        req_.wire_body = std::move(raw);
      } else if (raw.capacity() > kKeepBodyBytes) {
        srv_->io_[io_index()]->body_pool.Give(std::move(raw), SteadyNowMs());
      }
    } else {
      if (static_cast<int64_t>(raw.size()) > r.max_decoded_body_bytes) {
        srv_->errors_["body_too_large"]->Inc();
        return Fail(413, BodyLimitMessage(r));
      }
      req_.body = std::move(raw);
    }
    Dispatch();
  }

  // Back to a fresh Response, keeping the strings' capacity for the next
  // request.
  void ResetResponse() {
    resp_.status = 200;
    resp_.content_type.assign("text/plain; charset=utf-8");
    resp_.headers.clear();
    resp_.body.clear();
  }

  void Dispatch() {
    const Route& r = route_->route;
    ResetResponse();
    if (!r.offload) {
      RunHandler();
      return Write();
    }
    if (srv_->queued_requests_.fetch_add(1) >= srv_->opts_.max_queued_requests) {
      srv_->queued_requests_.fetch_sub(1);
      srv_->errors_["overloaded"]->Inc();
      resp_.Error(503, "server overloaded: too many requests in progress, retry later");
      resp_.SetHeader("Retry-After", "1");
      return Write();
    }
    srv_->queued_->Add(1);
    // No deadline while the handler runs (it has its own limits), so the sweeper cannot close the
    // socket under the worker. The worker then starts the write itself: the connection has no
    // other operation in flight until the write completes (on the io thread, through the
    // socket's executor), and the answer leaves without waiting for the io thread to wake.
    deadline_ms_.store(0, std::memory_order_relaxed);
    asio::post(*srv_->workers_, [self = this->shared_from_this()] {
      self->srv_->queued_requests_.fetch_sub(1);
      self->srv_->queued_->Add(-1);
      self->RunHandler();
      self->Write();
    });
  }

  void RunHandler() {
    try {
      route_->route.handler(req_, resp_);
    } catch (const std::exception& e) {
      log::Error("BUG: handler threw", {{"route", route_->route.path}, {"err", e.what()}});
      ResetResponse();
      resp_.Error(500, std::string("internal error: ") + e.what());
    }
  }

  void Fail(int code, const std::string& message) {
    ResetResponse();
    resp_.Error(code, message);
    keep_alive_ = false;  // the connection state is unknown after a protocol error
    Write();
  }

  // Serializes the status line and header into out_ (reused per connection) and
  // writes it with the body in one gather write.
  void Write() {
    bool close = !keep_alive_ || srv_->draining_.load();
    int status = resp_.status;
    if (status < 100 || status > 999) status = 500;
    bool send_body = !(status < 200 || status == 204 || status == 304);
    bool head = req_.method == "HEAD";
    out_.clear();
    out_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    AppendDecimal(out_, static_cast<uint64_t>(status));
    out_ += ' ';
    out_ += http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    out_ += "\r\nServer: kansoku\r\n";
    if (!resp_.content_type.empty()) AppendHeaderField(out_, "Content-Type", resp_.content_type);
    for (const auto& [k, v] : resp_.headers) {
      if (!IsFramingHeader(k)) AppendHeaderField(out_, k, v);
    }
    if (send_body) {
      out_ += "Content-Length: ";
      AppendDecimal(out_, resp_.body.size());
      out_ += "\r\n";
    }
    if (close) {
      if (version_ != 10) out_ += "Connection: close\r\n";
    } else if (version_ == 10) {
      out_ += "Connection: keep-alive\r\n";
    }
    out_ += "\r\n";
    std::string_view body;
    if (send_body && !head) {
      if (kTls || resp_.body.size() < kCopyBodyBelow) {
        out_ += resp_.body;
      } else {
        body = resp_.body;
      }
    }
    route_->bytes_out->Inc(static_cast<double>(resp_.body.size()));
    // Counted when the response is ready, so a client that has read it sees it
    // counted.
    route_->CodeCounter(resp_.status)->Inc();
    route_->latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    SetDeadline(srv_->opts_.write_timeout_ms);
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out_),
                                           asio::buffer(body.data(), body.size())};
    asio::async_write(stream_, bufs,
                      [self = this->shared_from_this(), close](beast::error_code ec, size_t) {
                        self->OnWrite(ec, close);
                      });
  }

  void OnWrite(beast::error_code ec, bool close) {
    ++requests_served_;
    ReleaseLargeBodies();
    if (ec || close) return DoClose();
    // A request whose body we did not read leaves the stream unusable: close.
    if (parser_ && !parser_->is_done()) return DoClose();
    ReadHeader();
  }

  // The next request's body is a new string (the parser's), never this one's capacity: a large
  // body leaves the connection as soon as its answer is written, so a connection holds one body
  // at a time (not the previous one while the next is read) and an idle keep-alive connection
  // none. Request bodies go to the io thread's BodyPool (bounded, emptied when idle), or those too
  // large for it to the server's shared pool (within max_body_bytes_in_flight); responses are
  // freed.
  void ReleaseLargeBodies() {
    BodyPool& pool = srv_->io_[io_index()]->body_pool;
    const int64_t now = SteadyNowMs();
    auto release = [&pool, now](std::string& s) {
      if (s.capacity() > kKeepBodyBytes) pool.Give(std::move(s), now);
    };
    if (body_ticket_ > 0) {
      // A body too large for the io thread's pool may stay in the shared one (counted in
      // max_body_bytes_in_flight); the calls below then find it empty.
      std::string* keep = req_.body.capacity() > BodyPool::kMaxBytes ? &req_.body : nullptr;
      srv_->ReleaseBodyBytes(std::exchange(body_ticket_, 0), keep);
    }
    release(req_.body);
    release(req_.wire_body);
    auto drop = [](std::string& s) {
      if (s.capacity() > kKeepBodyBytes) std::string().swap(s);
    };
    drop(resp_.body);
  }

  void DoClose() {
    deadline_ms_.store(0, std::memory_order_relaxed);
    if (timed_out_) return CloseSocket();
    SetDeadline(2000);
    if constexpr (kTls) {
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
    } else {
      // Lingering close: half-close, then read and discard what the client is
      // still sending (up to 2 s), so an early answer such as 413 is not
      // destroyed by a TCP reset.
      beast::error_code ec;
      stream_.shutdown(tcp::socket::shutdown_send, ec);
      Linger();
    }
  }

  // The client closed (or reset) its side and our answers are all written: nothing is left to
  // read or to say, so no lingering close (whose 16 KiB buffer, zeroed, and extra read cost a
  // bench/promql label lookup over a fresh connection ~8 % of its instructions).
  void ClosePeerGone() {
    deadline_ms_.store(0, std::memory_order_relaxed);
    CloseSocket();
  }

  void Linger() {
    if (!discard_) discard_ = std::make_unique_for_overwrite<char[]>(kDiscardSize);
    stream_.async_read_some(asio::buffer(discard_.get(), kDiscardSize),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->CloseSocket();
                              self->Linger();
                            });
  }
  static constexpr size_t kDiscardSize = 16384;
  static constexpr uint64_t kMaxReadChunk = 65536;  // per-connection read buffer bound
  static constexpr size_t kKeepBodyBytes = 65536;   // larger bodies are freed after the answer
  std::unique_ptr<char[]> discard_;
  int64_t body_ticket_ = 0;  // bytes of max_body_bytes_in_flight this request holds
  std::string shared_buf_;   // a buffer from the shared pool, for this request's body

  HttpServer::Impl* srv_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  Response resp_;
  std::string out_;  // the serialized response header (and small bodies)
  RouteState* route_ = nullptr;
  // Steady ms; 0 = none. Checked by the sweeper on the io thread; set on the io thread, and by
  // the worker that writes an offloaded request's answer (while the io thread leaves the
  // connection alone): atomic for that hand-over.
  std::atomic<int64_t> deadline_ms_{0};
  bool timed_out_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool idle_ = true;
  uint64_t requests_served_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

Status HttpServer::Impl::Start() {
  if (opts_.metrics == nullptr) return Status::Internal("BUG: HttpServer needs a metrics registry");
  if (!opts_.tls_cert_file.empty() || !opts_.tls_key_file.empty()) {
    if (opts_.tls_cert_file.empty() || opts_.tls_key_file.empty()) {
      return Status::InvalidArgument("TLS needs both a certificate file and a key file");
    }
    ssl_ctx_.emplace(ssl::context::tls_server);
    ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ssl_ctx_->use_certificate_chain_file(opts_.tls_cert_file, ec);
    if (ec)
      return Status::InvalidArgument("cannot load TLS certificate " + opts_.tls_cert_file + ": " +
                                     ec.message());
    ssl_ctx_->use_private_key_file(opts_.tls_key_file, ssl::context::pem, ec);
    if (ec)
      return Status::InvalidArgument("cannot load TLS key " + opts_.tls_key_file + ": " +
                                     ec.message());
  }
  for (const std::string& addr : opts_.listen) {
    std::string host;
    unsigned short port;
    KANSOKU_RETURN_IF_ERROR(ParseHostPort(addr, &host, &port));
    beast::error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    if (ec)
      return Status::InvalidArgument("cannot listen on \"" + addr + "\": bad IP address \"" + host +
                                     "\"");
    tcp::endpoint ep(ip, port);
    auto acc = std::make_unique<tcp::acceptor>(io_[0]->ioc);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ip.is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("cannot listen on " + addr + ": " + ec.message());
    {
      std::lock_guard<std::mutex> lock(mu_);
      bound_.push_back(EndpointString(acc->local_endpoint()));
    }
    acceptors_.push_back(std::move(acc));
  }
  workers_ = std::make_unique<asio::thread_pool>(static_cast<size_t>(opts_.worker_threads));
  for (size_t i = 0; i < acceptors_.size(); ++i) Accept(i);
  for (size_t i = 0; i < io_.size(); ++i) {
    io_[i]->work.emplace(io_[i]->ioc.get_executor());
    Sweep(i);
    io_[i]->thread = std::thread([this, i] { io_[i]->ioc.run(); });
  }
  started_ = true;
  return Status::Ok();
}

void HttpServer::Impl::Sweep(size_t io_index) {
  IoThread& io = *io_[io_index];
  io.sweeper.expires_after(std::chrono::milliseconds(sweep_interval_ms_));
  io.sweeper.async_wait([this, io_index](beast::error_code ec) {
    if (ec) return;
    std::vector<std::shared_ptr<SessionBase>> mine;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      for (auto& [p, w] : sessions_) {
        if (p->io_index() != io_index) continue;
        if (auto s = w.lock()) mine.push_back(std::move(s));
      }
    }
    int64_t now = SteadyNowMs();
    for (auto& s : mine) s->CheckDeadline(now);
    io_[io_index]->body_pool.Trim(now);
    if (io_index == 0) TrimSharedPool(now);
    mine.clear();  // may destroy sessions, which unregister (outside
                   // sessions_mu_)
    Sweep(io_index);
  });
}

void HttpServer::Impl::Accept(size_t i) {
  size_t io_index = next_io_++ % io_.size();
  acceptors_[i]->async_accept(
      io_[io_index]->ioc, [this, i, io_index](beast::error_code ec, tcp::socket sock) {
        if (ec == asio::error::operation_aborted || draining_.load()) return;
        if (!ec) {
          connections_total_->Inc();
          beast::error_code ec2;
          sock.set_option(tcp::no_delay(true), ec2);
          auto remote_ep = sock.remote_endpoint(ec2);
          std::string remote = ec2 ? "?" : EndpointString(remote_ep);
          if (open_connections_.load() >= opts_.max_connections) {
            errors_["too_many_connections"]->Inc();
            static const std::string kBusy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                "application/json\r\nRetry-After: "
                "1\r\nConnection: close\r\nContent-Length: "
                "72\r\n\r\n{\"status\":\"error\",\"error\":\"too "
                "many open connections, retry later\"}\n";
            asio::write(sock, asio::buffer(kBusy), ec2);
            sock.close(ec2);
          } else {
            open_connections_.fetch_add(1);
            connections_->Add(1);
            // Built here, started on its own io thread (the socket belongs to that
            // io_context).
            if (ssl_ctx_) {
              auto t = std::make_shared<Session<TlsStream>>(this, std::move(sock), *ssl_ctx_,
                                                            std::move(remote), io_index);
              asio::post(io_[io_index]->ioc, [t] { t->Run(); });
            } else {
              auto t = std::make_shared<Session<tcp::socket>>(this, std::move(sock),
                                                              std::move(remote), io_index);
              asio::post(io_[io_index]->ioc, [t] { t->Run(); });
            }
          }
        } else {
          log::Warn("accept failed", {{"err", ec.message()}});
        }
        Accept(i);
      });
}

void HttpServer::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  draining_.store(true);
  for (auto& acc : acceptors_) {
    asio::post(acc->get_executor(), [a = acc.get()] {
      beast::error_code ec;
      a->close(ec);
    });
  }
  {
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      for (auto& [p, w] : sessions_) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->CloseIfIdle();
  }
  {
    std::unique_lock<std::mutex> lock(sessions_mu_);
    if (!sessions_cv_.wait_for(lock, std::chrono::milliseconds(opts_.shutdown_grace_ms),
                               [&] { return sessions_.empty(); })) {
      log::Warn("shutdown grace period over; closing remaining connections",
                {{"connections", static_cast<long>(sessions_.size())}});
    }
  }
  for (auto& io : io_) {
    io->work.reset();
    io->ioc.stop();
  }
  for (auto& io : io_) {
    if (io->thread.joinable()) io->thread.join();
  }
  workers_->join();
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() { Stop(); }
void HttpServer::AddRoute(Route route) { impl_->AddRoute(std::move(route)); }
Status HttpServer::Start() { return impl_->Start(); }
std::vector<std::string> HttpServer::BoundAddresses() const { return impl_->Bound(); }
void HttpServer::Stop() { impl_->Stop(); }

int FuzzHttpRequest(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  beast::error_code ec;
  size_t used = parser.put(asio::buffer(data, size), ec);
  (void)used;
  if (!parser.is_header_done()) return 0;
  Request req;
  FillRequest(parser.get().base(), &req);
  std::string scratch;
  (void)ExtractToken(req, true, &scratch);
  (void)req.FormParams("match[]");
  std::string v;
  (void)req.FormParam("query", &v);
  if (parser.is_done()) {
    req.body = parser.get().body();
    auto dec = DecodeContent(req.Header("content-encoding"), req.body, 1 << 20);
    (void)dec;
  }
  return 0;
}

}  // namespace kansoku::net
