#include "net/http_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "base/strings.h"

namespace kansoku::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string ClientResponse::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

namespace {

struct Url {
  bool tls = false;
  std::string host, port, target;
  std::string authority;  // host[:port] as written in the URL: the Host header (RFC 9110 7.2)
};

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (StartsWith(url, "http://")) {
    rest = url.substr(7);
  } else if (StartsWith(url, "https://")) {
    u.tls = true;
    rest = url.substr(8);
  } else {
    return Status::InvalidArgument("cannot parse URL \"" + url +
                                   "\": must start with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.authority = hostport;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos)
      return Status::InvalidArgument("cannot parse URL \"" + url + "\": bad IPv6 host");
    u.host = hostport.substr(1, close - 1);
    u.port = close + 2 <= hostport.size() ? hostport.substr(close + 2) : "";
  } else {
    size_t colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return Status::InvalidArgument("cannot parse URL \"" + url + "\": no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

template <class Stream>
Result<ClientResponse> Exchange(Stream& stream, const Url& u, const std::string& method,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(u.target);
  req.version(11);
  req.set(http::field::host, u.authority);
  req.set(http::field::user_agent, "kansoku/0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec)
    return Status::Unavailable("cannot send request to " + u.host + ":" + u.port + ": " +
                               ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  http::read(stream, buf, parser, ec);
  if (ec == beast::error::timeout)
    return Status::DeadlineExceeded("no answer from " + u.host + ":" + u.port + " in time");
  if (ec)
    return Status::Unavailable("cannot read answer from " + u.host + ":" + u.port + ": " +
                               ec.message());
  ClientResponse out;
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res)
    out.headers.emplace_back(ToLower(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  return out;
}

}  // namespace

Result<ClientResponse> HttpCall(const std::string& method, const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body, const ClientOptions& opts) {
  KANSOKU_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(u.host, u.port, ec);
  if (ec) return Status::Unavailable("cannot resolve " + u.host + ": " + ec.message());
  auto timeout = std::chrono::milliseconds(opts.timeout_ms);
  if (!u.tls) {
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(results, ec);
    if (ec)
      return Status::Unavailable("cannot connect to " + u.host + ":" + u.port + ": " +
                                 ec.message());
    auto r = Exchange(stream, u, method, headers, body);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return r;
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(opts.insecure_tls ? asio::ssl::verify_none : asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str());
  beast::get_lowest_layer(stream).expires_after(timeout);
  beast::get_lowest_layer(stream).connect(results, ec);
  if (ec)
    return Status::Unavailable("cannot connect to " + u.host + ":" + u.port + ": " + ec.message());
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return Status::Unavailable("TLS handshake with " + u.host + " failed: " + ec.message());
  auto r = Exchange(stream, u, method, headers, body);
  stream.shutdown(ec);
  return r;
}

}  // namespace kansoku::net
