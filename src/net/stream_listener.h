#pragma once
// UDP and TCP stream listeners: the building block under StatsD, Graphite and syslog.
//
// UdpListener: one datagram = one frame (a decoder may split it further, e.g. StatsD lines).
// TcpStreamListener: frames cut from each connection's byte stream by Framing:
//   kLine          LF-terminated; a trailing CR is stripped (Graphite from collectd sends CRLF)
//   kOctetCounted  RFC 6587 "LEN SP MSG" (rsyslog counts its trailing LF; logger does not)
//   kAuto          per frame: a leading digit means octet-counted, else LF (what syslog servers do)
// Frames go through a bounded queue to one consumer thread that calls the sink with batches.
// Backpressure: a full queue pauses reading from TCP connections (nothing is lost, the sender
// slows down); for UDP, which cannot be paused, the datagram is dropped and counted.
// Limits: frames over max_frame_bytes are dropped and counted (the stream resynchronises at the
// next frame); peers outside allow_cidrs are refused and counted; at most max_connections.
// Self-metrics: kansoku_listener_{frames,bytes,dropped}_total{listener,...},
// kansoku_listener_connections{listener}.
//
// Thread safety: Start/Stop from one thread. The sink runs on the consumer thread only, so it
// needs no locking of its own state. Ownership: the registry must outlive the listener.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"

namespace kansoku::net {

struct Frame {
  std::string data;
  std::string peer;  // "127.0.0.1:5514"
};
using FrameSink = std::function<void(std::vector<Frame>& batch)>;

enum class Framing { kLine, kOctetCounted, kAuto };

struct ListenerOptions {
  std::string name;     // the protocol, e.g. "graphite"; the listener label in self-metrics
  std::string address;  // "127.0.0.1:2003", "[::1]:514"
  std::vector<std::string> allow_cidrs = {"127.0.0.0/8", "::1/128"};
  Framing framing = Framing::kLine;  // TCP only
  size_t max_frame_bytes = 64 * 1024;
  size_t queue_capacity = 65536;     // frames waiting for the consumer
  size_t max_batch = 1024;           // frames per sink call
  int max_connections = 1024;        // TCP only
  int64_t idle_timeout_ms = 600000;  // TCP: a silent connection is closed after this
  FrameSink sink;
  metrics::Registry* metrics = nullptr;
};

class UdpListener {
 public:
  explicit UdpListener(ListenerOptions opts);
  ~UdpListener();
  Status Start();
  void Stop();  // stops receiving, delivers what is queued, joins threads
  std::string BoundAddress() const;
  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

class TcpStreamListener {
 public:
  explicit TcpStreamListener(ListenerOptions opts);
  ~TcpStreamListener();
  Status Start();
  void Stop();
  std::string BoundAddress() const;
  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Cuts frames from a byte stream; exposed for tests and the fuzzer. Feed() appends bytes and
// returns complete frames; Finish() returns a final unterminated line (LF framing) at EOF.
class Framer {
 public:
  Framer(Framing framing, size_t max_frame_bytes) : framing_(framing), max_(max_frame_bytes) {}
  // Calls emit(frame) for each complete frame; drop(reason) for dropped ones.
  void Feed(std::string_view bytes, const std::function<void(std::string&&)>& emit,
            const std::function<void(const char* reason)>& drop);
  void Finish(const std::function<void(std::string&&)>& emit);

 private:
  Framing framing_;
  size_t max_;
  std::string buf_;
  size_t skip_ = 0;         // octet-counted: bytes of an oversized frame still to discard
  bool skip_line_ = false;  // LF: discarding an oversized line up to its LF
};

}  // namespace kansoku::net
