#include "scrape/agent_targets.h"

#include <gtest/gtest.h>

namespace kansoku::scrape {
namespace {

TargetStatus Target(const std::string& job, const std::string& target, TargetState state) {
  TargetStatus t;
  t.job = job;
  t.target = target;
  t.url = "http://" + target + "/metrics";
  t.state = state;
  t.health = state == TargetState::kActive ? "up" : "unknown";
  t.reason = state == TargetState::kHeld ? "growth hold" : "";
  t.labels = {{"instance", target}, {"job", job}, {"env", "a\"b\\c\n"}};
  t.last_scrape_ms = 1700000000123;
  t.samples_per_scrape = 42;
  t.interval_ms = 15000;
  return t;
}

TEST(AgentTargets, ReportRoundTrip) {
  JobStatus j;
  j.job = "node";
  j.selector = "env=prod";
  j.active = 1;
  j.held = 1;
  j.held_since_ms = 1700000000000;
  j.hold_base = 1;
  j.hold_limit = 1;
  j.max_growth = 0.5;
  j.sd_errors = {"sd.json: line 3: bad"};
  std::string body = EncodeTargetReport("abc", "web-1",
                                        {Target("node", "10.0.0.1:9100", TargetState::kActive),
                                         Target("node", "10.0.0.2:9100", TargetState::kHeld)},
                                        {j});
  auto r = DecodeTargetReport(body);
  ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << body;
  EXPECT_EQ(r->host_id, "abc");
  EXPECT_EQ(r->host, "web-1");
  ASSERT_EQ(r->jobs.size(), 1u);
  EXPECT_EQ(r->jobs[0].selector, "env=prod");
  EXPECT_EQ(r->jobs[0].held_since_ms, 1700000000000);
  EXPECT_DOUBLE_EQ(r->jobs[0].max_growth, 0.5);
  EXPECT_EQ(r->jobs[0].sd_errors.size(), 1u);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[1].state, TargetState::kHeld);
  EXPECT_EQ(r->targets[1].reason, "growth hold");
  EXPECT_EQ(r->targets[0].last_scrape_ms, 1700000000123);
  EXPECT_EQ(r->targets[0].samples_per_scrape, 42u);
  ASSERT_EQ(r->targets[0].labels.size(), 3u);
  EXPECT_EQ(r->targets[0].labels[2].second, "a\"b\\c\n");
}

TEST(AgentTargets, BadReportsNameTheField) {
  EXPECT_NE(DecodeTargetReport("[").status().message().find("cannot parse"), std::string::npos);
  EXPECT_NE(DecodeTargetReport("{\"host\":\"x\"}").status().message().find("host_id"),
            std::string::npos);
  EXPECT_NE(DecodeTargetReport("{\"host_id\":\"x\",\"targets\":[{\"job\":\"j\",\"target\":\"t\","
                               "\"state\":\"weird\"}]}")
                .status()
                .message()
                .find("targets[0].state"),
            std::string::npos);
  EXPECT_FALSE(DecodeApprovals("{\"data\":{}}").ok());
}

TEST(AgentTargets, ApprovalsStayPendingUntilApplied) {
  AgentTargetRegistry reg(60000);
  auto report = [&](TargetState second, int64_t now) {
    TargetReport r;
    r.host_id = "h1";
    r.host = "web-1";
    JobStatus j;
    j.job = "node";
    r.jobs = {j};
    r.targets = {Target("node", "a:1", TargetState::kActive), Target("node", "b:1", second)};
    return reg.Report(std::move(r), now);
  };
  EXPECT_TRUE(report(TargetState::kHeld, 1000).empty());
  EXPECT_EQ(reg.Approve("nope", "", "", 1000).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(reg.Approve("node", "zz:1", "", 1000).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(reg.Approve("node", "", "other-host", 1000).status().code(), Status::Code::kNotFound);
  auto n = reg.Approve("node", "", "web-1", 1000);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  // Delivered with every report until the agent shows it applied.
  auto a = report(TargetState::kHeld, 2000);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].second, "b:1");
  auto wire = DecodeApprovals(EncodeApprovals(a));
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, a);
  EXPECT_EQ(report(TargetState::kHeld, 3000).size(), 1u);
  EXPECT_TRUE(report(TargetState::kActive, 4000).empty());
  EXPECT_EQ(reg.pending(), 0u);
  EXPECT_EQ(reg.Targets(4000).size(), 2u);
  EXPECT_EQ(reg.Jobs(4000)[0].host, "web-1");
  // A host that stops reporting is forgotten.
  EXPECT_TRUE(reg.Targets(70000).empty());
}

}  // namespace
}  // namespace kansoku::scrape
