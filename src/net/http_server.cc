#include "net/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

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
  req->method = std::string(hdr.method_string());
  req->target = std::string(hdr.target());
  size_t q = req->target.find('?');
  req->path = req->target.substr(0, q);
  req->query.clear();
  if (q != std::string::npos) req->query = req->target.substr(q + 1);
  req->headers.clear();
  req->headers.reserve(16);
  for (const auto& f : hdr) {
    req->headers.emplace_back(ToLower(f.name_string()), std::string(f.value()));
  }
}

// The token a request presents: Bearer, Basic password (or user when no password), X-Api-Key,
// and ?token= / ?api_key= only when allow_query. Empty when none. *scratch backs the view.
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
  // ?p= is InfluxDB v1's password parameter (what influx clients send with -password).
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

}  // namespace

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called on shutdown (from any thread): close now if waiting for a request.
  virtual void CloseIfIdle() = 0;
};

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions o) : opts_(std::move(o)) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (opts_.io_threads <= 0) opts_.io_threads = cores;
    if (opts_.worker_threads <= 0) opts_.worker_threads = cores;
    auto& reg = *opts_.metrics;
    requests_ = &reg.Counter("kansoku_http_requests_total",
                             "HTTP requests by route and status code.", {"route", "code"});
    latency_ = &reg.Histogram(
        "kansoku_http_request_duration_seconds",
        "Time from a request's header to its response being ready to send, by route.", {"route"});
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
    routes_.push_back(std::move(rs));
  }

  // Returns the route for path+method; *method_mismatch when the path exists for other methods.
  RouteState* Find(std::string_view path, std::string_view method, bool* method_mismatch) {
    *method_mismatch = false;
    RouteState* best = nullptr;
    size_t best_len = 0;
    bool best_exact = false;
    for (auto& rs : routes_) {
      const Route& r = rs->route;
      bool match = r.prefix ? StartsWith(path, r.path) : path == r.path;
      if (!match) continue;
      if (!r.method.empty() && r.method != method && !(method == "HEAD" && r.method == "GET")) {
        *method_mismatch = true;
        continue;
      }
      bool exact = !r.prefix;
      if (best == nullptr || (exact && !best_exact) ||
          (exact == best_exact && r.path.size() > best_len)) {
        best = rs.get();
        best_len = r.path.size();
        best_exact = exact;
      }
    }
    if (best) *method_mismatch = false;
    return best;
  }

  Status Start();
  void Stop();
  std::vector<std::string> Bound() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bound_;
  }

  void Accept(size_t i);
  template <class Stream>
  void StartSession(Stream&& stream);

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
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<asio::thread_pool> workers_;
  std::optional<ssl::context> ssl_ctx_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<RouteState>> routes_;
  RouteState other_route_;
  mutable std::mutex mu_;
  std::vector<std::string> bound_;

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  std::atomic<int> open_connections_{0};
  std::atomic<int> queued_requests_{0};
  std::atomic<bool> draining_{false};
  bool started_ = false, stopped_ = false;

  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Histogram>* latency_;
  metrics::Family<metrics::Counter>* bytes_in_;
  metrics::Family<metrics::Counter>* bytes_out_;
  std::map<std::string, metrics::Counter*> errors_;
  metrics::Gauge* connections_;
  metrics::Counter* connections_total_;
  metrics::Gauge* queued_;
};

namespace {

template <class Stream>
auto& Lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl* srv, Stream&& stream, std::string remote)
      : srv_(srv), stream_(std::move(stream)), remote_(std::move(remote)) {}

  ~Session() override {
    srv_->open_connections_.fetch_sub(1);
    srv_->connections_->Add(-1);
    srv_->Unregister(this);
  }

  void Run() {
    srv_->Register(this, this->weak_from_this());
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      Lowest(stream_).expires_after(std::chrono::milliseconds(srv_->opts_.header_timeout_ms));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](
                                                            beast::error_code ec) {
        if (ec) {
          self->srv_->errors_["tls_handshake"]->Inc();
          log::Debug("tls handshake failed", {{"remote", self->remote_}, {"err", ec.message()}});
          return;
        }
        self->ReadHeader();
      });
    } else {
      asio::dispatch(stream_.get_executor(),
                     [self = this->shared_from_this()] { self->ReadHeader(); });
    }
  }

  void CloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) {
        beast::error_code ec;
        Lowest(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
        Lowest(self->stream_).close();
      }
    });
  }

 private:
  void ReadHeader() {
    if (srv_->draining_.load()) return DoClose();
    idle_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_->opts_.max_header_bytes));
    parser_->body_limit(UINT64_MAX);  // the route's limit is set once the header is known
    int64_t t = requests_served_ == 0 ? srv_->opts_.header_timeout_ms : srv_->opts_.idle_timeout_ms;
    Lowest(stream_).expires_after(std::chrono::milliseconds(t));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    start_ = std::chrono::steady_clock::now();
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return DoClose();
    }
    if (ec == beast::error::timeout) {
      if (buffer_.size() > 0) srv_->errors_["timeout"]->Inc();
      return DoClose();
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
    req_ = Request{};
    FillRequest(hdr, &req_);
    req_.remote_addr = remote_;
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
        resp_ = Response{};
        resp_.Error(unauth ? 401 : 403, st.message());
        // Basic first: clients that negotiate (libcurl in collectd) then send user:token.
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
      auto cont =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      Lowest(stream_).expires_after(std::chrono::milliseconds(srv_->opts_.write_timeout_ms));
      return http::async_write(
          stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
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
          "missing API token: send it as 'Authorization: Bearer <token>', as the Basic auth "
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
    Lowest(stream_).expires_after(std::chrono::milliseconds(srv_->opts_.body_timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    const Route& r = route_->route;
    if (ec == http::error::body_limit) {
      srv_->errors_["body_too_large"]->Inc();
      return Fail(413, BodyLimitMessage(r));
    }
    if (ec == beast::error::timeout) {
      srv_->errors_["timeout"]->Inc();
      return Fail(408, "request body not received within " +
                           std::to_string(srv_->opts_.body_timeout_ms) + " ms");
    }
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset) {
        return DoClose();
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
    } else {
      if (static_cast<int64_t>(raw.size()) > r.max_decoded_body_bytes) {
        srv_->errors_["body_too_large"]->Inc();
        return Fail(413, BodyLimitMessage(r));
      }
      req_.body = std::move(raw);
    }
    Dispatch();
  }

  void Dispatch() {
    const Route& r = route_->route;
    resp_ = Response{};
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
    asio::post(*srv_->workers_, [self = this->shared_from_this()] {
      self->srv_->queued_requests_.fetch_sub(1);
      self->srv_->queued_->Add(-1);
      self->RunHandler();
      asio::post(self->stream_.get_executor(), [self] { self->Write(); });
    });
  }

  void RunHandler() {
    try {
      route_->route.handler(req_, resp_);
    } catch (const std::exception& e) {
      log::Error("BUG: handler threw", {{"route", route_->route.path}, {"err", e.what()}});
      resp_ = Response{};
      resp_.Error(500, std::string("internal error: ") + e.what());
    }
  }

  void Fail(int code, const std::string& message) {
    resp_ = Response{};
    resp_.Error(code, message);
    keep_alive_ = false;  // the connection state is unknown after a protocol error
    Write();
  }

  void Write() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_ ? version_ : 11);
    res->result(static_cast<unsigned>(resp_.status));
    res->set(http::field::server, "kansoku");
    if (!resp_.content_type.empty()) res->set(http::field::content_type, resp_.content_type);
    for (auto& [k, v] : resp_.headers) res->set(k, v);
    bool close = !keep_alive_ || srv_->draining_.load();
    res->keep_alive(!close);
    route_->bytes_out->Inc(static_cast<double>(resp_.body.size()));
    if (req_.method == "HEAD") {
      res->content_length(resp_.body.size());
    } else {
      res->body() = std::move(resp_.body);
      res->prepare_payload();
    }
    // Counted when the response is ready, so a client that has read it sees it counted.
    route_->CodeCounter(resp_.status)->Inc();
    route_->latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    Lowest(stream_).expires_after(std::chrono::milliseconds(srv_->opts_.write_timeout_ms));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, close](beast::error_code ec, size_t) {
                        self->OnWrite(ec, close);
                      });
  }

  void OnWrite(beast::error_code ec, bool close) {
    ++requests_served_;
    if (ec || close) return DoClose();
    // A request whose body we did not read leaves the stream unusable: close.
    if (parser_ && !parser_->is_done()) return DoClose();
    ReadHeader();
  }

  void DoClose() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      Lowest(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { Lowest(self->stream_).close(); });
    } else {
      // Lingering close: half-close, then read and discard what the client is still sending
      // (up to 2 s), so an early answer such as 413 is not destroyed by a TCP reset.
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      Lowest(stream_).expires_after(std::chrono::seconds(2));
      Linger();
    }
  }

  void Linger() {
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardSize);
    stream_.async_read_some(asio::buffer(discard_.get(), kDiscardSize),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                beast::error_code ignored;
                                self->stream_.socket().close(ignored);
                                return;
                              }
                              self->Linger();
                            });
  }
  static constexpr size_t kDiscardSize = 16384;
  std::unique_ptr<char[]> discard_;

  HttpServer::Impl* srv_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  Response resp_;
  RouteState* route_ = nullptr;
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
    auto acc = std::make_unique<tcp::acceptor>(asio::make_strand(ioc_));
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
  work_.emplace(ioc_.get_executor());
  for (size_t i = 0; i < acceptors_.size(); ++i) Accept(i);
  for (int i = 0; i < opts_.io_threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  started_ = true;
  return Status::Ok();
}

void HttpServer::Impl::Accept(size_t i) {
  acceptors_[i]->async_accept(asio::make_strand(ioc_), [this, i](beast::error_code ec,
                                                                 tcp::socket sock) {
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
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
            "1\r\nConnection: close\r\nContent-Length: "
            "72\r\n\r\n{\"status\":\"error\",\"error\":\"too "
            "many open connections, retry later\"}\n";
        asio::write(sock, asio::buffer(kBusy), ec2);
        sock.close(ec2);
      } else {
        open_connections_.fetch_add(1);
        connections_->Add(1);
        if (ssl_ctx_) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              this, beast::ssl_stream<beast::tcp_stream>(std::move(sock), *ssl_ctx_), remote)
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(sock)),
                                                       remote)
              ->Run();
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
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
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
