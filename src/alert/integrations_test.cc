#include "alert/integrations.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace kansoku::alert {
namespace {

Notification Sample() {
  Notification n;
  n.receiver = "ops";
  n.group_key = "{0}:{alertname=\"Down\"}";
  n.group_labels = tsdb::Labels{{"alertname", "Down"}};
  n.now_ms = 1700000000000;
  Alert a;
  a.labels = tsdb::Labels{{"alertname", "Down"}, {"instance", "a"}, {"job", "node"}};
  a.annotations["summary"] = "a is down";
  a.starts_at_ms = 1699999990000;
  a.ends_at_ms = 1700000240000;
  Alert b = a;
  b.labels = tsdb::Labels{{"alertname", "Down"}, {"instance", "b"}, {"job", "node"}};
  b.annotations["summary"] = ".b is back";
  b.ends_at_ms = 1699999999000;
  n.alerts = {a, b};
  return n;
}

TEST(IntegrationsTest, WebhookPayloadIsAlertmanagerShaped) {
  std::string j = WebhookPayload(Sample(), 0);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(j).get(doc), simdjson::SUCCESS) << j;
  EXPECT_EQ(std::string_view(doc["version"]), "4");
  EXPECT_EQ(std::string_view(doc["status"]), "firing");
  EXPECT_EQ(std::string_view(doc["receiver"]), "ops");
  EXPECT_EQ(std::string_view(doc["groupLabels"]["alertname"]), "Down");
  EXPECT_EQ(std::string_view(doc["commonLabels"]["job"]), "node");
  simdjson::dom::array alerts = doc["alerts"];
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(std::string_view(alerts.at(0)["status"]), "firing");
  EXPECT_EQ(std::string_view(alerts.at(0)["startsAt"]), "2023-11-14T22:13:10Z");
  EXPECT_EQ(std::string_view(alerts.at(0)["endsAt"]), "0001-01-01T00:00:00Z");
  EXPECT_EQ(std::string_view(alerts.at(1)["status"]), "resolved");
  EXPECT_EQ(std::string_view(alerts.at(1)["endsAt"]), "2023-11-14T22:13:19Z");
  EXPECT_EQ(std::string_view(alerts.at(0)["fingerprint"]).size(), 16u);
  std::string t = WebhookPayload(Sample(), 1);
  EXPECT_NE(t.find("\"truncatedAlerts\":1"), std::string::npos);
}

TEST(IntegrationsTest, SlackAndAlertmanagerPayloads) {
  SlackConfig c;
  c.channel = "#ops";
  std::string s = SlackPayload(Sample(), c);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(s).get(doc), simdjson::SUCCESS) << s;
  EXPECT_EQ(std::string_view(doc["channel"]), "#ops");
  EXPECT_NE(std::string(std::string_view(doc["text"])).find("FIRING:1"), std::string::npos);
  std::string am = AlertmanagerPayload(Sample().alerts);
  simdjson::dom::element arr;
  ASSERT_EQ(p.parse(am).get(arr), simdjson::SUCCESS) << am;
  EXPECT_EQ(std::string_view(arr.at(0)["labels"]["instance"]), "a");
  EXPECT_EQ(std::string_view(arr.at(1)["endsAt"]), "2023-11-14T22:13:19Z");
}

TEST(IntegrationsTest, WebhookToClosedPortFails) {
  WebhookConfig c;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);  // nobody listens there now
  c.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/hook";
  Status st = MakeWebhook(c)->Notify(Sample(), 2000);
  EXPECT_FALSE(st.ok());
}

// A minimal SMTP server on loopback that records the transaction.
TEST(IntegrationsTest, SmtpTransaction) {
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string transcript;
  std::thread srv([&] {
    int c = ::accept(lfd, nullptr, nullptr);
    auto say = [&](const std::string& s) { (void)::send(c, s.data(), s.size(), MSG_NOSIGNAL); };
    say("220 test ESMTP\r\n");
    std::string buf;
    bool data = false;
    char tmp[4096];
    for (;;) {
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      buf.append(tmp, n);
      size_t nl;
      while ((nl = buf.find("\r\n")) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 2);
        transcript += line + "\n";
        if (data) {
          if (line == ".") {
            data = false;
            say("250 queued\r\n");
          }
          continue;
        }
        if (line.rfind("EHLO", 0) == 0) {
          say("250-test\r\n250 AUTH PLAIN\r\n");
        } else if (line == "DATA") {
          data = true;
          say("354 go\r\n");
        } else if (line == "QUIT") {
          say("221 bye\r\n");
          ::close(c);
          return;
        } else if (line.rfind("AUTH", 0) == 0) {
          say("235 ok\r\n");
        } else {
          say("250 ok\r\n");
        }
      }
    }
    ::close(c);
  });
  EmailConfig c;
  c.to = "ops@example.com, Second <two@example.com>";
  c.from = "kansoku@example.com";
  c.smarthost = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  c.auth_username = "u";
  c.auth_password = "p";
  Notification n = Sample();
  Status st = SendSmtp(c, EmailMessage(n, c), 5000);
  srv.join();
  ::close(lfd);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(transcript.find("MAIL FROM:<kansoku@example.com>"), std::string::npos);
  EXPECT_NE(transcript.find("RCPT TO:<two@example.com>"), std::string::npos);
  EXPECT_NE(transcript.find("Subject: [FIRING:1] {alertname=\"Down\"}"), std::string::npos);
  EXPECT_NE(transcript.find("\nResolved:\n- .b is back"), std::string::npos);
  // require_tls against a server without STARTTLS fails clearly.
  c.require_tls = true;
  c.smarthost = "127.0.0.1:1";
  EXPECT_FALSE(SendSmtp(c, "x", 2000).ok());
}

}  // namespace
}  // namespace kansoku::alert
