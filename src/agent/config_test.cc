#include "agent/config.h"

#include <gtest/gtest.h>

namespace kansoku::agent {
namespace {

TEST(AgentConfig, ParsesEveryKnownKey) {
  AgentOptions o;
  Status st = ParseAgentConfig(R"(
server: http://kansoku:9400
token: ksk_x
service: shop
roles: [web, api]
hostname: web-1
interval: 30s
state_dir: /var/lib/kansoku-agent
stop_status: ""
retire_on_stop: true
root: /host
filesystems:
  ignore_fs_types: [tmpfs]
  ignore_mount_points: ["/boot*"]
interfaces: {ignore: ["lo", "veth*"]}
disks: {ignore: []}
containers: {enabled: false, all_cgroups: true}
shipping:
  spool_max_bytes: 64MiB
  queue_max_batches: 8
  max_samples_per_send: 500
  initial_backoff: 1s
  max_backoff: 1m
  timeout: 5s
)",
                               "agent.yml", &o);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(o.server, "http://kansoku:9400");
  EXPECT_EQ(o.roles, (std::vector<std::string>{"web", "api"}));
  EXPECT_EQ(o.interval_ms, 30000);
  EXPECT_EQ(o.stop_status, "");
  EXPECT_TRUE(o.retire_on_stop);
  EXPECT_EQ(o.host.root, "/host");
  EXPECT_EQ(o.host.ignore_fs_types, (std::vector<std::string>{"tmpfs"}));
  EXPECT_EQ(o.host.ignore_interfaces.size(), 2u);
  EXPECT_TRUE(o.host.ignore_disks.empty());
  EXPECT_FALSE(o.containers);
  EXPECT_TRUE(o.cgroup.all_cgroups);
  EXPECT_EQ(o.shipper.spool_max_bytes, 64 << 20);
  EXPECT_EQ(o.shipper.queue_max_batches, 8u);
  EXPECT_EQ(o.shipper.max_backoff_ms, 60000);
}

TEST(AgentConfig, ErrorsNameFileLineAndKey) {
  AgentOptions o;
  Status st = ParseAgentConfig("service: shop\nshipping:\n  spool_max: 1\n", "a.yml", &o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("a.yml:3: shipping.spool_max: unknown key"), std::string::npos)
      << st.message();
  st = ParseAgentConfig("interval: soon\n", "a.yml", &o);
  EXPECT_NE(st.message().find("a.yml:1: interval:"), std::string::npos) << st.message();
  st = ParseAgentConfig("roles: web\n", "a.yml", &o);
  EXPECT_NE(st.message().find("expected a list"), std::string::npos) << st.message();
  st = ParseAgentConfig("[unclosed\n", "a.yml", &o);
  EXPECT_FALSE(st.ok());
  st = ParseAgentConfig("shipping:\n  queue_max_batches: -3\n", "a.yml", &o);
  EXPECT_NE(st.message().find("positive integer"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace kansoku::agent
