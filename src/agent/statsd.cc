#include "agent/statsd.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "base/log.h"

namespace kansoku::agent {
namespace {

bool ParseNumber(std::string_view s, double* out) {
  if (s.empty() || s.size() > 63) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  double v = std::strtod(buf, &end);
  if (end != buf + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

std::vector<std::string_view> SplitBy(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::string SanitizeLabelName(std::string_view s) {
  std::string out = SanitizeMetricName(s);
  std::replace(out.begin(), out.end(), ':', '_');
  if (out.size() >= 2 && out[0] == '_' && out[1] == '_') out = "tag" + out;  // __ is reserved
  return out;
}

void ParseTags(std::string_view field, LabelSet* tags) {
  for (std::string_view t : SplitBy(field, ',')) {
    if (t.empty()) continue;
    size_t c = t.find(':');
    std::string k = SanitizeLabelName(t.substr(0, c));
    std::string v = c == std::string_view::npos ? "true" : std::string(t.substr(c + 1));
    if (k.empty() || k == "__name__") continue;
    bool replaced = false;
    for (auto& l : *tags) {
      if (l.first == k) {
        l.second = v;  // later tags win (per-call tags after global tags)
        replaced = true;
      }
    }
    if (!replaced) tags->emplace_back(std::move(k), std::move(v));
  }
  std::sort(tags->begin(), tags->end());
}

Status Bad(std::string_view line, const std::string& why) {
  std::string l(line.substr(0, 120));
  return Status::InvalidArgument("cannot parse statsd line \"" + l + "\": " + why);
}

double Quantile(std::vector<double>& v, double q) {
  // Nearest rank on the sorted values.
  size_t n = v.size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

std::string FormatQuantile(double q) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", q);
  return buf;
}

}  // namespace

std::string SanitizeMetricName(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':';
    out.push_back(ok ? c : '_');
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out.insert(out.begin(), '_');
  return out;
}

Result<StatsdLine> ParseStatsdLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  StatsdLine out;
  if (line.substr(0, 3) == "_e{") {
    out.kind = StatsdLine::Kind::kEvent;
    size_t close = line.find("}:");
    if (close == std::string_view::npos) return Bad(line, "event without \"}:\"");
    auto lens = SplitBy(line.substr(3, close - 3), ',');
    double tl, xl;
    if (lens.size() != 2 || !ParseNumber(lens[0], &tl) || !ParseNumber(lens[1], &xl) || tl < 0 ||
        xl < 0) {
      return Bad(line, "event lengths must be {<title length>,<text length>}");
    }
    std::string_view rest = line.substr(close + 2);
    size_t t = static_cast<size_t>(tl), x = static_cast<size_t>(xl);
    if (rest.size() < t + 1 + x || rest[t] != '|')
      return Bad(line, "event shorter than its lengths");
    out.name = std::string(rest.substr(0, t));
    out.text = std::string(rest.substr(t + 1, x));
    std::string alert = "info";
    for (std::string_view f : SplitBy(rest.substr(t + 1 + x), '|')) {
      if (f.substr(0, 2) == "t:") alert = std::string(f.substr(2));
      if (!f.empty() && f[0] == '#') ParseTags(f.substr(1), &out.tags);
    }
    out.tags.emplace_back("alert_type", alert);
    std::sort(out.tags.begin(), out.tags.end());
    return out;
  }
  if (line.substr(0, 4) == "_sc|") {
    out.kind = StatsdLine::Kind::kServiceCheck;
    auto f = SplitBy(line, '|');
    double st;
    if (f.size() < 3 || f[1].empty() || !ParseNumber(f[2], &st) || st < 0 || st > 3) {
      return Bad(line, "service check must be _sc|<name>|<status 0-3>");
    }
    out.name = std::string(f[1]);
    out.status = static_cast<int>(st);
    for (size_t i = 3; i < f.size(); ++i) {
      if (!f[i].empty() && f[i][0] == '#') ParseTags(f[i].substr(1), &out.tags);
      if (f[i].substr(0, 2) == "m:") out.text = std::string(f[i].substr(2));
    }
    return out;
  }
  size_t colon = line.find(':');
  size_t bar = line.find('|');
  if (colon == std::string_view::npos || bar == std::string_view::npos || bar < colon) {
    return Bad(line, "expected <name>:<value>|<type>");
  }
  if (colon == 0) return Bad(line, "empty metric name");
  out.name = SanitizeMetricName(line.substr(0, colon));
  auto fields = SplitBy(line.substr(bar + 1), '|');
  std::string_view type = fields[0];
  if (type == "c" || type == "g" || type == "h" || type == "d" || type == "s") {
    out.type = type[0];
  } else if (type == "ms") {
    out.type = 'm';
  } else {
    return Bad(line, "unknown type \"" + std::string(type) + "\" (c g ms h d s)");
  }
  std::string_view values = line.substr(colon + 1, bar - colon - 1);
  if (out.type == 's') {
    if (values.empty()) return Bad(line, "empty set value");
    out.set_value = std::string(values);
  } else {
    for (std::string_view v : SplitBy(values, ':')) {  // DogStatsD 1.1 packed values
      if (out.type == 'g' &&
          (v.substr(0, 1) == "+" || (v.substr(0, 1) == "-" && out.values.empty()))) {
        out.gauge_delta = true;
      }
      double d;
      if (!ParseNumber(v, &d)) return Bad(line, "value \"" + std::string(v) + "\" is not a number");
      out.values.push_back(d);
    }
  }
  for (size_t i = 1; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    if (f.empty()) continue;
    if (f[0] == '@') {
      double r;
      if (!ParseNumber(f.substr(1), &r) || r <= 0 || r > 1) {
        return Bad(line, "sample rate must be in (0, 1]");
      }
      out.sample_rate = r;
    } else if (f[0] == '#') {
      ParseTags(f.substr(1), &out.tags);
    }
    // c:<container id>, T<timestamp> and future fields are ignored.
  }
  return out;
}

StatsdAggregator::Series* StatsdAggregator::Get(char type, const std::string& name,
                                                const LabelSet& labels) {
  std::string key(1, type);
  key += name;
  for (const auto& l : labels) {
    key += '\xff';
    key += l.first;
    key += '=';
    key += l.second;
  }
  auto it = series_.find(key);
  if (it != series_.end()) return &it->second;
  if (series_.size() >= max_series_) {
    ++dropped_series_;
    return nullptr;
  }
  Series& s = series_[key];
  s.type = type;
  s.name = name;
  s.labels = labels;
  return &s;
}

void StatsdAggregator::AddDatagram(std::string_view datagram) {
  std::vector<StatsdLine> parsed;
  uint64_t lines = 0, rejected = 0;
  std::string err;
  for (std::string_view line : SplitBy(datagram, '\n')) {
    if (line.empty() || line == "\r") continue;
    ++lines;
    auto l = ParseStatsdLine(line);
    if (!l.ok()) {
      ++rejected;
      if (err.empty()) err = l.status().message();
      continue;
    }
    parsed.push_back(std::move(l).value());
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.datagrams++;
    stats_.lines += lines;
    stats_.rejected += rejected;
    if (first_error_.empty()) first_error_ = std::move(err);
  }
  for (const auto& l : parsed) Add(l);
}

void StatsdAggregator::Add(const StatsdLine& l) {
  std::lock_guard<std::mutex> lk(mu_);
  if (l.kind == StatsdLine::Kind::kEvent) {
    stats_.events++;
    if (Series* s = Get('c', "statsd_events", l.tags)) s->total += 1;
    return;
  }
  if (l.kind == StatsdLine::Kind::kServiceCheck) {
    stats_.service_checks++;
    LabelSet tags = l.tags;
    tags.emplace_back("check", l.name);
    std::sort(tags.begin(), tags.end());
    if (Series* s = Get('g', "statsd_service_check_status", tags)) {
      s->gauge = l.status;
      s->gauge_set = true;
    }
    return;
  }
  char type = l.type == 'h' || l.type == 'd' ? 'm' : l.type;
  Series* s = Get(type, l.name, l.tags);
  if (!s) return;
  double weight = 1.0 / l.sample_rate;
  switch (type) {
    case 'c':
      for (double v : l.values) s->total += v * weight;
      break;
    case 'g':
      for (double v : l.values) s->gauge = l.gauge_delta ? s->gauge + v : v;
      s->gauge_set = true;
      break;
    case 'm':
      for (double v : l.values) {
        s->interval_values.push_back(v);
        s->count += weight;
        s->total += v * weight;
      }
      break;
    case 's':
      s->interval_set.push_back(l.set_value);
      break;
  }
}

void StatsdAggregator::Flush(SampleBatch* b) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [key, s] : series_) {
    switch (s.type) {
      case 'c':
        b->Add(s.name + "_total", s.total, s.labels);
        break;
      case 'g':
        if (s.gauge_set) b->Add(s.name, s.gauge, s.labels);
        break;
      case 'm': {
        if (!s.interval_values.empty()) {
          std::sort(s.interval_values.begin(), s.interval_values.end());
          for (double q : quantiles_) {
            LabelSet l = s.labels;
            l.emplace_back("quantile", FormatQuantile(q));
            b->Add(s.name, Quantile(s.interval_values, q), std::move(l));
          }
          s.interval_values.clear();
        }
        b->Add(s.name + "_count", s.count, s.labels);
        b->Add(s.name + "_sum", s.total, s.labels);
        break;
      }
      case 's': {
        std::set<std::string> distinct(s.interval_set.begin(), s.interval_set.end());
        b->Add(s.name, static_cast<double>(distinct.size()), s.labels);
        s.interval_set.clear();
        break;
      }
    }
  }
  b->Add("kansoku_agent_statsd_lines_total", static_cast<double>(stats_.lines));
  b->Add("kansoku_agent_statsd_lines_rejected_total", static_cast<double>(stats_.rejected));
  b->Add("kansoku_agent_statsd_series_dropped_total", static_cast<double>(dropped_series_));
}

StatsdStats StatsdAggregator::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

std::string StatsdAggregator::TakeFirstError() {
  std::lock_guard<std::mutex> lk(mu_);
  std::string e;
  e.swap(first_error_);
  return e;
}

StatsdServer::~StatsdServer() { Stop(); }

Status StatsdServer::Start() {
  size_t colon = listen_.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("statsd listen address \"" + listen_ + "\": want HOST:PORT");
  }
  std::string host = listen_.substr(0, colon), port = listen_.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  struct addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::InvalidArgument("statsd listen address \"" + listen_ +
                                   "\": " + gai_strerror(rc));
  }
  fd_ = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    freeaddrinfo(res);
    return Status::FromErrno("statsd socket", errno);
  }
  int rcvbuf = 4 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (::bind(fd_, res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    freeaddrinfo(res);
    ::close(fd_);
    fd_ = -1;
    return Status::FromErrno("cannot bind statsd " + listen_, err);
  }
  freeaddrinfo(res);
  struct sockaddr_storage ss {};
  socklen_t len = sizeof ss;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void StatsdServer::Loop() {
  std::string buf(65536, '\0');
  while (!stop_) {
    struct pollfd p {
      fd_, POLLIN, 0
    };
    int n = ::poll(&p, 1, 200);
    if (n <= 0) continue;
    ssize_t got = ::recv(fd_, buf.data(), buf.size(), 0);
    if (got <= 0) continue;
    agg_->AddDatagram(std::string_view(buf.data(), static_cast<size_t>(got)));
  }
}

void StatsdServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace kansoku::agent
