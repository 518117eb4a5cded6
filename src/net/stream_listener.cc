#include "net/stream_listener.h"

#include <boost/asio.hpp>
#include <cctype>
#include <deque>
#include <thread>

#include "base/bounded_queue.h"
#include "base/cidr.h"
#include "base/log.h"
#include "net/http_server.h"

namespace kansoku::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

// ---- Framer ----

void Framer::Feed(std::string_view bytes, const std::function<void(std::string&&)>& emit,
                  const std::function<void(const char*)>& drop) {
  buf_.append(bytes);
  size_t pos = 0;
  while (pos < buf_.size()) {
    if (skip_ > 0) {
      size_t n = std::min(skip_, buf_.size() - pos);
      pos += n;
      skip_ -= n;
      continue;
    }
    if (skip_line_) {
      size_t p = buf_.find('\n', pos);
      if (p == std::string::npos) {
        pos = buf_.size();
        break;
      }
      pos = p + 1;
      skip_line_ = false;
      continue;
    }
    Framing mode = framing_;
    if (mode != Framing::kLine) {
      // Separators some senders put between octet-counted frames.
      while (pos < buf_.size() && (buf_[pos] == '\n' || buf_[pos] == '\r')) ++pos;
      if (pos >= buf_.size()) break;
    }
    if (mode == Framing::kAuto) {
      mode = std::isdigit(static_cast<unsigned char>(buf_[pos])) ? Framing::kOctetCounted
                                                                 : Framing::kLine;
    }
    if (mode == Framing::kOctetCounted) {
      size_t sp = buf_.find(' ', pos);
      size_t digits_end = pos;
      while (digits_end < buf_.size() && std::isdigit(static_cast<unsigned char>(buf_[digits_end])))
        ++digits_end;
      if (sp == std::string::npos || sp != digits_end) {
        if (digits_end < buf_.size() || digits_end - pos > 9) {
          // Not "LEN SP": a malformed frame; resynchronise at the next LF.
          drop("bad_frame");
          skip_line_ = true;
          continue;
        }
        break;  // need more bytes
      }
      if (sp - pos > 9) {
        drop("bad_frame");
        skip_line_ = true;
        continue;
      }
      size_t len = std::stoul(buf_.substr(pos, sp - pos));
      size_t start = sp + 1;
      if (len > max_) {
        drop("too_large");
        pos = start;
        skip_ = len;
        continue;
      }
      if (buf_.size() - start < len) break;  // need more bytes
      std::string frame = buf_.substr(start, len);
      pos = start + len;
      if (!frame.empty() && frame.back() == '\n') frame.pop_back();
      if (!frame.empty() && frame.back() == '\r') frame.pop_back();
      emit(std::move(frame));
      continue;
    }
    // LF framing.
    size_t p = buf_.find('\n', pos);
    if (p == std::string::npos) {
      if (buf_.size() - pos > max_) {
        drop("too_large");
        skip_line_ = true;
        pos = buf_.size();
      }
      break;
    }
    size_t end = p;
    if (end > pos && buf_[end - 1] == '\r') --end;
    if (end - pos > max_) {
      drop("too_large");
    } else if (end > pos) {
      emit(buf_.substr(pos, end - pos));
    }
    pos = p + 1;
  }
  buf_.erase(0, pos);
}

void Framer::Finish(const std::function<void(std::string&&)>& emit) {
  if (skip_ > 0 || skip_line_) return;
  std::string rest = std::move(buf_);
  buf_.clear();
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n')) rest.pop_back();
  if (!rest.empty() && rest.size() <= max_ && framing_ != Framing::kOctetCounted)
    emit(std::move(rest));
}

// ---- shared machinery ----

namespace {

std::string PeerString(const asio::ip::address& a, unsigned short port) {
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(port);
  return a.to_string() + ":" + std::to_string(port);
}

struct Common {
  Common(ListenerOptions o, const char* transport_name)
      : opts(std::move(o)), queue(opts.queue_capacity), transport_(transport_name) {
    auto& reg = *opts.metrics;
    frames = reg.Counter("kansoku_listener_frames_total", "Frames received by UDP/TCP listeners.",
                         {"listener", "transport"})
                 .With({opts.name, transport()});
    bytes = reg.Counter("kansoku_listener_bytes_total", "Bytes received by UDP/TCP listeners.",
                        {"listener", "transport"})
                .With({opts.name, transport()});
    auto& d = reg.Counter("kansoku_listener_dropped_total",
                          "Frames or connections dropped by UDP/TCP listeners, by reason.",
                          {"listener", "transport", "reason"});
    for (const char* r :
         {"queue_full", "too_large", "bad_frame", "denied", "too_many_connections"}) {
      dropped[r] = d.With({opts.name, transport(), r});
    }
    connections = reg.Gauge("kansoku_listener_connections", "Open TCP connections per listener.",
                            {"listener"})
                      .With({opts.name});
  }
  virtual ~Common() = default;
  const char* transport() const { return transport_; }

  Status Init() {
    for (const auto& c : opts.allow_cidrs) {
      auto r = ParseCidr(c);
      if (!r.ok()) return r.status().WithContext(opts.name + " listener allow_cidrs");
      allow.push_back(*r);
    }
    if (!opts.sink) return Status::Internal("BUG: listener without a sink");
    return Status::Ok();
  }

  bool Allowed(const asio::ip::address& a) const {
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      for (const auto& c : allow)
        if (c.Contains(b.data(), false)) return true;
    } else {
      auto b = a.to_v6().to_bytes();
      for (const auto& c : allow)
        if (c.Contains(b.data(), true)) return true;
    }
    return false;
  }

  void Drop(const char* reason) {
    dropped[reason]->Inc();
    if (drop_log.Allow()) {
      log::Warn("listener dropped input", {{"listener", opts.name},
                                           {"transport", transport()},
                                           {"reason", reason},
                                           {"suppressed_since_last", drop_log.TakeSuppressed()}});
    }
  }

  void StartConsumer() {
    consumer = std::thread([this] {
      std::deque<Frame> q;
      std::vector<Frame> batch;
      while (queue.PopBatch(&q, opts.max_batch)) {
        batch.clear();
        for (auto& f : q) batch.push_back(std::move(f));
        q.clear();
        opts.sink(batch);
      }
    });
  }

  Status Bind(std::string* host, unsigned short* port, asio::ip::address* addr) {
    KANSOKU_RETURN_IF_ERROR(ParseHostPort(opts.address, host, port));
    boost::system::error_code ec;
    *addr = asio::ip::make_address(*host, ec);
    if (ec)
      return Status::InvalidArgument("cannot listen on \"" + opts.address + "\": bad IP address");
    return Status::Ok();
  }

  ListenerOptions opts;
  std::vector<Cidr> allow;
  BoundedQueue<Frame> queue;
  asio::io_context ioc;
  std::thread io_thread, consumer;
  std::string bound;
  metrics::Counter* frames;
  metrics::Counter* bytes;
  std::map<std::string, metrics::Counter*> dropped;
  metrics::Gauge* connections;
  log::RateLimited drop_log{10000};
  bool started = false, stopped = false;
  const char* transport_;
};

}  // namespace

// ---- UDP ----

class UdpListener::Impl : public Common {
 public:
  explicit Impl(ListenerOptions o) : Common(std::move(o), "udp"), socket(ioc), buf(65536) {}

  Status Start() {
    KANSOKU_RETURN_IF_ERROR(Init());
    std::string host;
    unsigned short port;
    asio::ip::address addr;
    KANSOKU_RETURN_IF_ERROR(Bind(&host, &port, &addr));
    boost::system::error_code ec;
    udp::endpoint ep(addr, port);
    socket.open(ep.protocol(), ec);
    if (!ec) socket.set_option(asio::socket_base::receive_buffer_size(8 << 20), ec);
    ec.clear();
    if (!ec) socket.bind(ep, ec);
    if (ec) return Status::IOError("cannot listen on udp " + opts.address + ": " + ec.message());
    auto local = socket.local_endpoint();
    bound = PeerString(local.address(), local.port());
    StartConsumer();
    Receive();
    io_thread = std::thread([this] { ioc.run(); });
    started = true;
    return Status::Ok();
  }

  void Receive() {
    socket.async_receive_from(
        asio::buffer(buf), peer, [this](boost::system::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) {
            bytes->Inc(static_cast<double>(n));
            if (!Allowed(peer.address())) {
              Drop("denied");
            } else if (n > opts.max_frame_bytes) {
              Drop("too_large");
            } else {
              Frame f{std::string(buf.data(), n), PeerString(peer.address(), peer.port())};
              if (queue.TryPush(std::move(f)))
                frames->Inc();
              else
                Drop("queue_full");
            }
          }
          Receive();
        });
  }

  void Stop() {
    if (!started || stopped) return;
    stopped = true;
    asio::post(ioc, [this] {
      boost::system::error_code ec;
      socket.close(ec);
    });
    io_thread.join();
    queue.Close();
    consumer.join();
  }

  udp::socket socket;
  udp::endpoint peer;
  std::vector<char> buf;
};

UdpListener::UdpListener(ListenerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
UdpListener::~UdpListener() { impl_->Stop(); }
Status UdpListener::Start() { return impl_->Start(); }
void UdpListener::Stop() { impl_->Stop(); }
std::string UdpListener::BoundAddress() const { return impl_->bound; }

// ---- TCP ----

namespace {
class TcpConn : public std::enable_shared_from_this<TcpConn> {
 public:
  TcpConn(TcpStreamListener::Impl* l, tcp::socket s, std::string peer);
  ~TcpConn();
  void Read();
  void Close() {
    boost::system::error_code e;
    sock_.close(e);
    timer_.cancel();
  }

 private:
  void OnRead(boost::system::error_code ec, size_t n);
  void PushPending();

  TcpStreamListener::Impl* l_;
  tcp::socket sock_;
  std::string peer_;
  Framer framer_;
  std::array<char, 65536> buf_;
  std::deque<std::string> pending_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point last_data_;
  bool eof_ = false;
};
}  // namespace

class TcpStreamListener::Impl : public Common {
 public:
  explicit Impl(ListenerOptions o) : Common(std::move(o), "tcp"), acceptor(ioc) {}

  Status Start() {
    KANSOKU_RETURN_IF_ERROR(Init());
    std::string host;
    unsigned short port;
    asio::ip::address addr;
    KANSOKU_RETURN_IF_ERROR(Bind(&host, &port, &addr));
    boost::system::error_code ec;
    tcp::endpoint ep(addr, port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("cannot listen on tcp " + opts.address + ": " + ec.message());
    auto local = acceptor.local_endpoint();
    bound = PeerString(local.address(), local.port());
    StartConsumer();
    Accept();
    io_thread = std::thread([this] { ioc.run(); });
    started = true;
    return Status::Ok();
  }

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        boost::system::error_code e2;
        auto ep = s.remote_endpoint(e2);
        if (e2) {
        } else if (!Allowed(ep.address())) {
          Drop("denied");
          s.close(e2);
        } else if (open >= opts.max_connections) {
          Drop("too_many_connections");
          s.close(e2);
        } else {
          auto c =
              std::make_shared<TcpConn>(this, std::move(s), PeerString(ep.address(), ep.port()));
          std::erase_if(conns, [](const std::weak_ptr<TcpConn>& w) { return w.expired(); });
          conns.push_back(c);
          c->Read();
        }
      }
      Accept();
    });
  }

  void Stop() {
    if (!started || stopped) return;
    stopped = true;
    // Close everything; run() returns once the last handler (and connection) is gone, after
    // frames already read have been queued.
    asio::post(ioc, [this] {
      boost::system::error_code ec;
      acceptor.close(ec);
      for (auto& w : conns) {
        if (auto c = w.lock()) c->Close();
      }
    });
    io_thread.join();
    queue.Close();
    consumer.join();
  }

  tcp::acceptor acceptor;
  std::vector<std::weak_ptr<TcpConn>> conns;  // io thread only
  int open = 0;                               // io thread only
};

namespace {
TcpConn::TcpConn(TcpStreamListener::Impl* l, tcp::socket s, std::string peer)
    : l_(l),
      sock_(std::move(s)),
      peer_(std::move(peer)),
      framer_(l->opts.framing, l->opts.max_frame_bytes),
      timer_(l->ioc) {
  ++l_->open;
  l_->connections->Add(1);
  last_data_ = std::chrono::steady_clock::now();
}

TcpConn::~TcpConn() {
  --l_->open;
  l_->connections->Add(-1);
}

void TcpConn::Read() {
  // Idle guard: a connection silent for idle_timeout_ms is closed.
  timer_.expires_after(std::chrono::milliseconds(l_->opts.idle_timeout_ms));
  timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = w.lock()) {
      boost::system::error_code e;
      self->sock_.close(e);
    }
  });
  sock_.async_read_some(
      asio::buffer(buf_),
      [self = shared_from_this()](boost::system::error_code ec, size_t n) { self->OnRead(ec, n); });
}

void TcpConn::OnRead(boost::system::error_code ec, size_t n) {
  timer_.cancel();
  auto emit = [this](std::string&& f) { pending_.push_back(std::move(f)); };
  if (ec) {
    eof_ = true;
    framer_.Finish(emit);
    if (!pending_.empty()) PushPending();  // retries keep this connection alive until delivered
    return;
  }
  l_->bytes->Inc(static_cast<double>(n));
  framer_.Feed(std::string_view(buf_.data(), n), emit, [this](const char* r) { l_->Drop(r); });
  PushPending();
}

void TcpConn::PushPending() {
  while (!pending_.empty()) {
    Frame f{std::move(pending_.front()), peer_};
    if (!l_->queue.TryPush(std::move(f))) {
      // Backpressure: stop reading until the consumer catches up. TryPush moves from its
      // argument only when it succeeds, so f still holds the frame.
      pending_.front() = std::move(f.data);  // NOLINT(bugprone-use-after-move): see above
      timer_.expires_after(std::chrono::milliseconds(5));
      timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e || e == asio::error::operation_aborted) self->PushPending();
      });
      return;
    }
    l_->frames->Inc();
    pending_.pop_front();
  }
  if (!eof_ && sock_.is_open()) Read();
}
}  // namespace

TcpStreamListener::TcpStreamListener(ListenerOptions opts)
    : impl_(std::make_unique<Impl>(std::move(opts))) {}
TcpStreamListener::~TcpStreamListener() { impl_->Stop(); }
Status TcpStreamListener::Start() { return impl_->Start(); }
void TcpStreamListener::Stop() { impl_->Stop(); }
std::string TcpStreamListener::BoundAddress() const { return impl_->bound; }

}  // namespace kansoku::net
