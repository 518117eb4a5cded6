#include "alert/integrations.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "base/log.h"
#include "net/http.h"
#include "net/http_client.h"

namespace kansoku::alert {

size_t Notification::NumFiring() const {
  size_t n = 0;
  for (const auto& a : alerts) n += !a.Resolved(now_ms);
  return n;
}

std::string Notification::StatusText() const { return NumFiring() ? "firing" : "resolved"; }

namespace {

void AppendLabelsJson(std::string& j, const tsdb::Labels& ls) {
  j += '{';
  bool first = true;
  for (const auto& l : ls) {
    if (!first) j += ',';
    first = false;
    j += net::JsonString(l.name) + ":" + net::JsonString(l.value);
  }
  j += '}';
}

void AppendMapJson(std::string& j, const Annotations& m) {
  j += '{';
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) j += ',';
    first = false;
    j += net::JsonString(k) + ":" + net::JsonString(v);
  }
  j += '}';
}

tsdb::Labels CommonLabels(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return {};
  std::vector<tsdb::Label> common(alerts[0].labels.begin(), alerts[0].labels.end());
  for (size_t i = 1; i < alerts.size(); ++i) {
    std::erase_if(common,
                  [&](const tsdb::Label& l) { return alerts[i].labels.Get(l.name) != l.value; });
  }
  return tsdb::Labels::FromSortedUnchecked(std::move(common));
}

Annotations CommonAnnotations(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return {};
  Annotations common = alerts[0].annotations;
  for (size_t i = 1; i < alerts.size(); ++i) {
    std::erase_if(common, [&](const auto& kv) {
      auto it = alerts[i].annotations.find(kv.first);
      return it == alerts[i].annotations.end() || it->second != kv.second;
    });
  }
  return common;
}

// URL for display: drops user:password@ and the query string (Slack URLs carry secrets in the
// path; show only scheme://host/...).
std::string Redact(const std::string& url) {
  std::string u = url;
  auto scheme = u.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  auto at = u.find('@', host_start);
  auto slash = u.find('/', host_start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    u.erase(host_start, at + 1 - host_start);
  }
  auto q = u.find('?');
  if (q != std::string::npos) u.erase(q);
  return u;
}

Status PostJson(const std::string& url, const std::string& body, int64_t timeout_ms,
                const char* what) {
  net::ClientOptions o;
  o.timeout_ms = timeout_ms;
  auto r = net::HttpCall("POST", url,
                         {{"Content-Type", "application/json"}, {"User-Agent", "kansoku-alerting"}},
                         body, o);
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) {
    std::string b = r->body.substr(0, 200);
    return Status::Unavailable(std::string(what) + " answered HTTP " + std::to_string(r->status) +
                               (b.empty() ? "" : ": " + b));
  }
  return Status::Ok();
}

class Webhook : public Integration {
 public:
  explicit Webhook(WebhookConfig c) : c_(std::move(c)) {}
  std::string kind() const override { return "webhook"; }
  std::string target() const override { return Redact(c_.url); }
  bool send_resolved() const override { return c_.send_resolved; }
  Status Notify(const Notification& n, int64_t timeout_ms) override {
    return PostJson(c_.url, WebhookPayload(n, c_.max_alerts), timeout_ms, "webhook");
  }

 private:
  WebhookConfig c_;
};

class Slack : public Integration {
 public:
  explicit Slack(SlackConfig c) : c_(std::move(c)) {}
  std::string kind() const override { return "slack"; }
  std::string target() const override { return Redact(c_.api_url).substr(0, 40) + "..."; }
  bool send_resolved() const override { return c_.send_resolved; }
  Status Notify(const Notification& n, int64_t timeout_ms) override {
    return PostJson(c_.api_url, SlackPayload(n, c_), timeout_ms, "slack");
  }

 private:
  SlackConfig c_;
};

class Email : public Integration {
 public:
  explicit Email(EmailConfig c) : c_(std::move(c)) {}
  std::string kind() const override { return "email"; }
  std::string target() const override { return c_.to; }
  bool send_resolved() const override { return c_.send_resolved; }
  Status Notify(const Notification& n, int64_t timeout_ms) override {
    return SendSmtp(c_, EmailMessage(n, c_), timeout_ms);
  }

 private:
  EmailConfig c_;
};

std::string AlertLine(const Alert& a) {
  auto it = a.annotations.find("summary");
  std::string s = it != a.annotations.end() ? it->second : a.labels.ToString();
  return s;
}

}  // namespace

std::unique_ptr<Integration> MakeWebhook(const WebhookConfig& c) {
  return std::make_unique<Webhook>(c);
}
std::unique_ptr<Integration> MakeSlack(const SlackConfig& c) { return std::make_unique<Slack>(c); }
std::unique_ptr<Integration> MakeEmail(const EmailConfig& c) { return std::make_unique<Email>(c); }

std::vector<std::unique_ptr<Integration>> MakeIntegrations(const ReceiverConfig& r) {
  std::vector<std::unique_ptr<Integration>> out;
  for (const auto& w : r.webhooks) out.push_back(MakeWebhook(w));
  for (const auto& s : r.slacks) out.push_back(MakeSlack(s));
  for (const auto& e : r.emails) out.push_back(MakeEmail(e));
  return out;
}

std::string WebhookPayload(const Notification& n, size_t max_alerts) {
  size_t total = n.alerts.size();
  size_t shown = max_alerts && max_alerts < total ? max_alerts : total;
  std::string j = "{\"version\":\"4\",\"groupKey\":" + net::JsonString(n.group_key) +
                  ",\"truncatedAlerts\":" + std::to_string(total - shown) + ",\"status\":\"" +
                  n.StatusText() + "\",\"receiver\":" + net::JsonString(n.receiver) +
                  ",\"groupLabels\":";
  AppendLabelsJson(j, n.group_labels);
  j += ",\"commonLabels\":";
  AppendLabelsJson(j, CommonLabels(n.alerts));
  j += ",\"commonAnnotations\":";
  AppendMapJson(j, CommonAnnotations(n.alerts));
  j += ",\"externalURL\":" + net::JsonString(n.external_url) + ",\"alerts\":[";
  for (size_t i = 0; i < shown; ++i) {
    const Alert& a = n.alerts[i];
    if (i) j += ',';
    bool resolved = a.Resolved(n.now_ms);
    j += "{\"status\":\"" + std::string(resolved ? "resolved" : "firing") + "\",\"labels\":";
    AppendLabelsJson(j, a.labels);
    j += ",\"annotations\":";
    AppendMapJson(j, a.annotations);
    j += ",\"startsAt\":\"" + FormatRfc3339(a.starts_at_ms) + "\",\"endsAt\":\"" +
         FormatRfc3339(resolved ? a.ends_at_ms : 0) +
         "\",\"generatorURL\":" + net::JsonString(a.generator_url) + ",\"fingerprint\":\"" +
         FingerprintHex(Fingerprint(a.labels)) + "\"}";
  }
  j += "]}";
  return j;
}

std::string SlackPayload(const Notification& n, const SlackConfig& c) {
  size_t firing = n.NumFiring();
  std::string title = "[" + std::string(firing ? "FIRING:" + std::to_string(firing) : "RESOLVED") +
                      "] " +
                      std::string(n.group_labels.empty() ? n.receiver : n.group_labels.ToString());
  std::string text;
  for (const auto& a : n.alerts) {
    text += (a.Resolved(n.now_ms) ? "resolved: " : "firing: ") + AlertLine(a) + "\n";
  }
  std::string j = "{";
  if (!c.channel.empty()) j += "\"channel\":" + net::JsonString(c.channel) + ",";
  j += "\"username\":" + net::JsonString(c.username) + ",\"text\":" + net::JsonString(title) +
       ",\"attachments\":[{\"color\":\"" + std::string(firing ? "danger" : "good") +
       "\",\"title\":" + net::JsonString(title) + ",\"text\":" + net::JsonString(text) +
       ",\"fallback\":" + net::JsonString(title) + "}]}";
  return j;
}

std::string EmailMessage(const Notification& n, const EmailConfig& c) {
  size_t firing = n.NumFiring();
  std::string subject =
      "[" + std::string(firing ? "FIRING:" + std::to_string(firing) : "RESOLVED") + "] " +
      std::string(n.group_labels.empty() ? n.receiver : n.group_labels.ToString());
  std::string body;
  for (int pass = 0; pass < 2; ++pass) {
    bool want_resolved = pass == 1;
    bool header = false;
    for (const auto& a : n.alerts) {
      if (a.Resolved(n.now_ms) != want_resolved) continue;
      if (!header) {
        body += want_resolved ? "Resolved:\n" : "Firing:\n";
        header = true;
      }
      body += "- " + AlertLine(a) + "\n  labels: " + a.labels.ToString() + "\n";
      for (const auto& [k, v] : a.annotations) body += "  " + k + ": " + v + "\n";
      body += "  since: " + FormatRfc3339(a.starts_at_ms) + "\n";
    }
    if (header) body += "\n";
  }
  if (!n.external_url.empty()) body += "Source: " + n.external_url + "\n";
  // Dot-stuffing and CRLF line ends for DATA.
  std::string crlf;
  size_t start = 0;
  while (start <= body.size()) {
    size_t e = body.find('\n', start);
    std::string line = body.substr(start, e == std::string::npos ? std::string::npos : e - start);
    if (!line.empty() && line[0] == '.') line = "." + line;
    crlf += line + "\r\n";
    if (e == std::string::npos) break;
    start = e + 1;
  }
  std::string msg = "From: " + c.from + "\r\nTo: " + c.to + "\r\nSubject: " + subject +
                    "\r\nDate: " + FormatRfc3339(n.now_ms) +
                    "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                    "X-Kansoku-Group-Key: " +
                    n.group_key + "\r\n\r\n" + crlf;
  return msg;
}

std::string AlertmanagerPayload(const std::vector<Alert>& alerts) {
  std::string j = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = alerts[i];
    if (i) j += ',';
    j += "{\"labels\":";
    AppendLabelsJson(j, a.labels);
    j += ",\"annotations\":";
    AppendMapJson(j, a.annotations);
    j += ",\"startsAt\":\"" + FormatRfc3339(a.starts_at_ms) + "\"";
    if (a.ends_at_ms) j += ",\"endsAt\":\"" + FormatRfc3339(a.ends_at_ms) + "\"";
    j += ",\"generatorURL\":" + net::JsonString(a.generator_url) + "}";
  }
  return j + "]";
}

// ---- SMTP ----
namespace {

class SmtpConn {
 public:
  ~SmtpConn() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  Status Connect(const std::string& hostport, int64_t deadline_ms) {
    deadline_ = deadline_ms;
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos)
      return Status::InvalidArgument("smarthost must be host:port, got \"" + hostport + "\"");
    host_ = hostport.substr(0, colon);
    if (host_.size() > 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
    std::string port = hostport.substr(colon + 1);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) return Status::Unavailable("cannot resolve " + host_ + ": " + gai_strerror(rc));
    Status last = Status::Unavailable("no address for " + hostport);
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int left = Left();
        rc = left > 0 ? ::poll(&p, 1, left) : 0;
        int err = 0;
        socklen_t len = sizeof err;
        if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
          rc = 0;
        } else {
          last = rc == 0 ? Status::DeadlineExceeded("connect to " + hostport + " timed out")
                         : Status::Unavailable("cannot connect to " + hostport + ": " +
                                               std::strerror(err ? err : errno));
          ::close(fd);
          continue;
        }
      } else if (rc != 0) {
        last = Status::FromErrno("cannot connect to " + hostport, errno);
        ::close(fd);
        continue;
      }
      fd_ = fd;
      break;
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return last;
    return Status::Ok();
  }

  Status StartTls(bool verify) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Status::Internal("cannot create TLS context");
    if (verify) {
      SSL_CTX_set_default_verify_paths(ctx_);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host_.c_str());
    if (verify) SSL_set1_host(ssl_, host_.c_str());
    for (;;) {
      int rc = SSL_connect(ssl_);
      if (rc == 1) return Status::Ok();
      int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        KANSOKU_RETURN_IF_ERROR(Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT));
        continue;
      }
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      return Status::Unavailable(std::string("STARTTLS handshake failed: ") + buf);
    }
  }

  Status WriteAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n;
      if (ssl_) {
        int rc = SSL_write(ssl_, s.data() + off, static_cast<int>(s.size() - off));
        if (rc <= 0) {
          int e = SSL_get_error(ssl_, rc);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            KANSOKU_RETURN_IF_ERROR(Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT));
            continue;
          }
          return Status::Unavailable("TLS write failed");
        }
        n = rc;
      } else {
        n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            KANSOKU_RETURN_IF_ERROR(Wait(POLLOUT));
            continue;
          }
          return Status::FromErrno("smtp write", errno);
        }
      }
      off += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  // Reads one (possibly multi-line) reply; returns its code and text.
  Status Reply(int* code, std::string* text) {
    text->clear();
    for (;;) {
      std::string line;
      KANSOKU_RETURN_IF_ERROR(ReadLine(&line));
      if (line.size() < 3) return Status::Unavailable("bad SMTP reply \"" + line + "\"");
      *code = std::atoi(line.substr(0, 3).c_str());
      *text += line.substr(std::min<size_t>(4, line.size())) + "\n";
      if (line.size() == 3 || line[3] != '-') return Status::Ok();
    }
  }

  Status Cmd(const std::string& cmd, int want, std::string* text = nullptr,
             const char* shown = nullptr) {
    if (!cmd.empty()) KANSOKU_RETURN_IF_ERROR(WriteAll(cmd + "\r\n"));
    int code = 0;
    std::string t;
    KANSOKU_RETURN_IF_ERROR(Reply(&code, &t));
    if (text) *text = t;
    if (code / 100 != want / 100) {
      std::string c = shown ? shown : cmd.substr(0, cmd.find(' '));
      while (!t.empty() && t.back() == '\n') t.pop_back();
      return Status::Unavailable("SMTP " + (c.empty() ? std::string("greeting") : c) + ": " +
                                 std::to_string(code) + " " + t);
    }
    return Status::Ok();
  }

 private:
  int Left() const {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    return static_cast<int>(std::max<int64_t>(0, deadline_ - now));
  }
  Status Wait(short events) {
    pollfd p{fd_, events, 0};
    int left = Left();
    int rc = left > 0 ? ::poll(&p, 1, left) : 0;
    if (rc == 0) return Status::DeadlineExceeded("SMTP server did not answer in time");
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    return Status::Ok();
  }
  Status ReadLine(std::string* line) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        buf_.erase(0, nl + 1);
        return Status::Ok();
      }
      if (buf_.size() > 64 * 1024) return Status::Unavailable("SMTP reply line too long");
      char tmp[4096];
      ssize_t n;
      if (ssl_) {
        int rc = SSL_read(ssl_, tmp, sizeof tmp);
        if (rc <= 0) {
          int e = SSL_get_error(ssl_, rc);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            KANSOKU_RETURN_IF_ERROR(Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT));
            continue;
          }
          return Status::Unavailable("SMTP connection closed");
        }
        n = rc;
      } else {
        n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          KANSOKU_RETURN_IF_ERROR(Wait(POLLIN));
          continue;
        }
        if (n <= 0) return Status::Unavailable("SMTP connection closed");
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string host_;
  std::string buf_;
  int64_t deadline_ = 0;
};

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string AddrOf(const std::string& s) {
  auto lt = s.find('<');
  auto gt = s.find('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt)
    return s.substr(lt + 1, gt - lt - 1);
  std::string t(s);
  while (!t.empty() && t.front() == ' ') t.erase(0, 1);
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

}  // namespace

Status SendSmtp(const EmailConfig& c, const std::string& message, int64_t timeout_ms) {
  int64_t deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count() +
                     timeout_ms;
  SmtpConn conn;
  KANSOKU_RETURN_IF_ERROR(conn.Connect(c.smarthost, deadline));
  KANSOKU_RETURN_IF_ERROR(conn.Cmd("", 220));
  std::string ehlo;
  KANSOKU_RETURN_IF_ERROR(conn.Cmd("EHLO " + c.hello, 250, &ehlo));
  bool starttls = ehlo.find("STARTTLS") != std::string::npos;
  if (starttls) {
    KANSOKU_RETURN_IF_ERROR(conn.Cmd("STARTTLS", 220));
    KANSOKU_RETURN_IF_ERROR(conn.StartTls(!c.tls_insecure_skip_verify));
    KANSOKU_RETURN_IF_ERROR(conn.Cmd("EHLO " + c.hello, 250, &ehlo));
  } else if (c.require_tls) {
    return Status::Unavailable("SMTP server " + c.smarthost +
                               " does not offer STARTTLS and require_tls is set");
  }
  if (!c.auth_username.empty()) {
    std::string plain =
        std::string(1, '\0') + c.auth_username + std::string(1, '\0') + c.auth_password;
    KANSOKU_RETURN_IF_ERROR(conn.Cmd("AUTH PLAIN " + Base64(plain), 235, nullptr, "AUTH"));
  }
  KANSOKU_RETURN_IF_ERROR(conn.Cmd("MAIL FROM:<" + AddrOf(c.from) + ">", 250));
  size_t start = 0;
  while (start <= c.to.size()) {
    size_t comma = c.to.find(',', start);
    std::string rcpt =
        AddrOf(c.to.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!rcpt.empty()) KANSOKU_RETURN_IF_ERROR(conn.Cmd("RCPT TO:<" + rcpt + ">", 250));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  KANSOKU_RETURN_IF_ERROR(conn.Cmd("DATA", 354));
  KANSOKU_RETURN_IF_ERROR(conn.WriteAll(message));
  KANSOKU_RETURN_IF_ERROR(conn.Cmd(".", 250, nullptr, "DATA end"));
  (void)conn.Cmd("QUIT", 221);
  return Status::Ok();
}

// ---- Alertmanager forwarder ----

AlertmanagerForwarder::AlertmanagerForwarder(std::vector<std::string> urls,
                                             metrics::Registry* metrics, int64_t timeout_ms)
    : urls_(std::move(urls)), timeout_ms_(timeout_ms) {
  for (auto& u : urls_) {
    while (!u.empty() && u.back() == '/') u.pop_back();
  }
  if (metrics) {
    sent_ =
        metrics
            ->Counter("kansoku_alert_alertmanager_sent_total", "Alerts forwarded to Alertmanager.")
            .With({});
    errors_ = metrics
                  ->Counter("kansoku_alert_alertmanager_errors_total",
                            "Failed batches to an Alertmanager (after retries).")
                  .With({});
    dropped_ = metrics
                   ->Counter("kansoku_alert_alertmanager_dropped_total",
                             "Alerts dropped because the forward queue was full.")
                   .With({});
  }
}

AlertmanagerForwarder::~AlertmanagerForwarder() { Stop(); }

void AlertmanagerForwarder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AlertmanagerForwarder::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertmanagerForwarder::Send(const std::vector<Alert>& alerts) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& a : alerts) {
    if (queue_.size() >= 10000) {
      queue_.pop_front();
      if (dropped_) dropped_->Inc();
    }
    queue_.push_back(a);
  }
  cv_.notify_one();
}

void AlertmanagerForwarder::Run() {
  log::RateLimited warn(60000);
  for (;;) {
    std::vector<Alert> batch;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      while (!queue_.empty() && batch.size() < 64) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::string body = AlertmanagerPayload(batch);
    for (const auto& u : urls_) {
      Status st;
      for (int attempt = 0; attempt < 3; ++attempt) {
        st = PostJson(u + "/api/v2/alerts", body, timeout_ms_, "alertmanager");
        if (st.ok()) break;
        std::unique_lock<std::mutex> l(mu_);
        if (cv_.wait_for(l, std::chrono::milliseconds(500 << attempt), [&] { return stop_; }))
          return;
      }
      if (st.ok()) {
        if (sent_) sent_->Inc(static_cast<double>(batch.size()));
      } else {
        if (errors_) errors_->Inc();
        if (warn.Allow()) {
          log::Warn("cannot send alerts to Alertmanager",
                    {{"url", Redact(u)},
                     {"alerts", static_cast<unsigned long>(batch.size())},
                     {"err", st.message()}});
        }
      }
    }
  }
}

}  // namespace kansoku::alert
