#pragma once
// Receivers' integrations: how one notification reaches one webhook URL, Slack-compatible
// incoming webhook, or mailbox, plus the Alertmanager forwarder (alerting.md §5.3-5.4).
//
// Integration::Notify makes one delivery attempt within timeout_ms and returns its Status
// (Unavailable for connection errors, DeadlineExceeded on timeout, Internal/InvalidArgument for
// a non-2xx answer or an SMTP error reply); retries are the caller's (Dispatcher) business.
// Thread safety: an Integration is used by one delivery thread at a time.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alert/alert.h"
#include "alert/notify_config.h"
#include "base/metrics.h"
#include "base/status.h"

namespace kansoku::alert {

struct Notification {
  std::string receiver;
  std::string group_key;
  tsdb::Labels group_labels;
  std::vector<Alert> alerts;  // firing first, then resolved
  int64_t now_ms = 0;
  std::string external_url;
  size_t NumFiring() const;
  // "firing" if any alert fires, else "resolved".
  std::string StatusText() const;
};

class Integration {
 public:
  virtual ~Integration() = default;
  virtual std::string kind() const = 0;    // "webhook", "slack", "email"
  virtual std::string target() const = 0;  // URL without credentials, or the To address
  virtual bool send_resolved() const = 0;
  virtual Status Notify(const Notification& n, int64_t timeout_ms) = 0;
};

std::unique_ptr<Integration> MakeWebhook(const WebhookConfig& c);
std::unique_ptr<Integration> MakeSlack(const SlackConfig& c);
std::unique_ptr<Integration> MakeEmail(const EmailConfig& c);
std::vector<std::unique_ptr<Integration>> MakeIntegrations(const ReceiverConfig& r);

// Payloads, exposed for tests.
std::string WebhookPayload(const Notification& n, size_t max_alerts);
std::string SlackPayload(const Notification& n, const SlackConfig& c);
std::string EmailMessage(const Notification& n, const EmailConfig& c);
// Alertmanager API v2 postable alerts: [{"labels":{},"annotations":{},"startsAt","endsAt",
// "generatorURL"}].
std::string AlertmanagerPayload(const std::vector<Alert>& alerts);

// One SMTP transaction: EHLO, STARTTLS when offered (required if c.require_tls), AUTH PLAIN when
// credentials are set, MAIL FROM, RCPT TO (comma-separated c.to), DATA.
Status SendSmtp(const EmailConfig& c, const std::string& message, int64_t timeout_ms);

// Forwards alerts to Alertmanager instances (POST <url>/api/v2/alerts), as Prometheus' notifier
// does: a bounded queue (10000 alerts, oldest dropped and counted), batches of up to 64, one
// thread, each URL tried with 3 attempts and backoff. Thread-safe; Send never blocks.
class AlertmanagerForwarder : public AlertSink {
 public:
  AlertmanagerForwarder(std::vector<std::string> urls, metrics::Registry* metrics,
                        int64_t timeout_ms = 10000);
  ~AlertmanagerForwarder() override;
  void Start();
  void Stop();
  void Send(const std::vector<Alert>& alerts) override;

 private:
  void Run();
  std::vector<std::string> urls_;
  int64_t timeout_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Alert> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;        // GUARDED_BY(mu_)
  std::thread thread_;
  metrics::Counter* sent_ = nullptr;
  metrics::Counter* errors_ = nullptr;
  metrics::Counter* dropped_ = nullptr;
};

}  // namespace kansoku::alert
