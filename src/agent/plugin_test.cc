#include "agent/plugin.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

namespace kansoku::agent {
namespace {

TEST(RunCommand, CapturesStdoutAndExitCode) {
  auto r = RunCommand("echo hello; echo world; exit 3", 10000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "hello\nworld\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(RunCommand, TimeoutKillsTheWholeGroupAndReapsIt) {
  char pidfile[] = "/tmp/kansoku-plugin-test-XXXXXX";
  int fd = mkstemp(pidfile);
  ASSERT_GE(fd, 0);
  close(fd);
  auto start = std::chrono::steady_clock::now();
  // The plugin starts a grandchild that would outlive it, then hangs.
  auto r =
      RunCommand(std::string("sleep 30 & echo $! > ") + pidfile + "; echo partial; sleep 30", 300);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->output, "partial\n");
  EXPECT_LT(took, std::chrono::seconds(5));
  std::ifstream f(pidfile);
  pid_t grandchild = 0;
  f >> grandchild;
  ASSERT_GT(grandchild, 0);
  // The grandchild got the group's signal (it may take a moment to die; it is init's child
  // now, so it may linger as a zombie where PID 1 does not reap).
  auto dead = [&] {
    std::ifstream st("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid, comm, state;
    if (!(st >> pid >> comm >> state)) return true;
    return state == "Z" || state == "X";
  };
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = dead();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone);
  unlink(pidfile);
  // No zombie child of ours is left.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(RunCommand, FloodIsCapped) {
  auto r = RunCommand("head -c 5000000 /dev/zero", 20000, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output.size(), 1000u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(MetricPlugin, MackerelOutput) {
  SampleBatch b(1000);
  uint64_t rejected = 0;
  std::string err;
  ParseMetricPluginOutput("nginx",
                          "# comment\nnginx.requests\t42\t1700000000\n"
                          "nginx.conn-active\t3.5\t1700000000\r\n"
                          "bad name!\t1\t1700000000\nnginx.x\tabc\t1\nonlyname\n",
                          &b, &rejected, &err);
  double v;
  ASSERT_TRUE(b.Find("custom_nginx_requests", {{"plugin", "nginx"}}, &v));
  EXPECT_EQ(v, 42);
  ASSERT_TRUE(b.Find("custom_nginx_conn_active", {}, &v));
  EXPECT_EQ(v, 3.5);
  EXPECT_EQ(rejected, 3u);
  EXPECT_NE(err.find("line 4"), std::string::npos) << err;
}

TEST(CheckPlugin, ExitCodesAndMessage) {
  struct Case {
    const char* cmd;
    int status;
    const char* message;
  } cases[] = {{"echo all good; exit 0", 0, "all good"},
               {"echo disk 85%; echo detail; exit 1", 1, "disk 85%"},
               {"echo down; exit 2", 2, "down"},
               {"exit 7", 3, ""},
               {"echo; kill -9 $$", 3, ""}};
  for (const auto& c : cases) {
    auto r = RunCommand(c.cmd, 10000);
    ASSERT_TRUE(r.ok());
    CheckResult cr = CheckFromCommand("chk", *r);
    EXPECT_EQ(cr.status, c.status) << c.cmd;
    EXPECT_EQ(cr.message, c.message) << c.cmd;
  }
  auto r = RunCommand("sleep 10", 100);
  ASSERT_TRUE(r.ok());
  CheckResult cr = CheckFromCommand("chk", *r);
  EXPECT_EQ(cr.status, 3);
  EXPECT_EQ(cr.message, "check timed out");
}

TEST(PluginRunner, RunsOnScheduleAndCollects) {
  PluginRunner runner({{"m", "printf 'a.b\\t1\\t0\\n'", false, 100, 5000},
                       {"c", "echo ok; exit 1", true, 100, 5000},
                       {"broken", "exit 1", false, 100, 5000}});
  runner.Start();
  SampleBatch b;
  std::vector<CheckResult> checks;
  for (int i = 0; i < 500; ++i) {
    runner.Collect(&b, &checks);
    double v;
    if (b.Find("custom_a_b", {}, &v) && !checks.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  runner.Stop();
  double v;
  EXPECT_TRUE(b.Find("custom_a_b", {{"plugin", "m"}}, &v));
  ASSERT_FALSE(checks.empty());
  EXPECT_EQ(checks[0].status, 1);
  EXPECT_EQ(checks[0].message, "ok");
  SampleBatch b2;
  runner.Collect(&b2, &checks);
  EXPECT_TRUE(b2.Find("kansoku_check_status", {{"check", "c"}}, &v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(b2.Find("kansoku_agent_plugin_failures_total", {{"plugin", "broken"}}, &v));
  EXPECT_GE(v, 1);
}

TEST(PluginMeta, ParseAndApply) {
  auto defs = ParsePluginMeta(
      "# mackerel-agent-plugin\n"
      "{\"graphs\":{\"memcached.connections\":{\"label\":\"Memcached Connections\","
      "\"unit\":\"integer\",\"metrics\":[{\"name\":\"curr_connections\",\"label\":\"Current\"}]},"
      "\"disk.#\":{\"label\":\"Disk\",\"unit\":\"bytes/sec\",\"metrics\":[{\"name\":\"read\","
      "\"label\":\"Read\",\"stacked\":true}]},"
      "\"lat\":{\"label\":\"Latency\",\"unit\":\"milliseconds\",\"metrics\":[{\"name\":\"*\","
      "\"label\":\"%1\"}]}}}\n");
  ASSERT_TRUE(defs.ok()) << defs.status().message();
  ASSERT_EQ(defs->size(), 3u);
  std::string prom;
  LabelSet labels;
  double scale = 0;
  ASSERT_TRUE(
      ApplyGraphDefs(*defs, "memcached.connections.curr_connections", &prom, &labels, &scale));
  EXPECT_EQ(prom, "custom_memcached_connections_curr_connections");
  EXPECT_EQ(labels, (LabelSet{{"graph", "memcached.connections"}}));
  EXPECT_EQ(scale, 1);
  labels.clear();
  ASSERT_TRUE(ApplyGraphDefs(*defs, "disk.sda.read", &prom, &labels, &scale));
  EXPECT_EQ(prom, "custom_disk_read_bytes_per_second");
  EXPECT_EQ(labels, (LabelSet{{"graph", "disk.#"}, {"wildcard", "sda"}}));
  labels.clear();
  ASSERT_TRUE(ApplyGraphDefs(*defs, "lat.p99", &prom, &labels, &scale));
  EXPECT_EQ(prom, "custom_lat_seconds");
  EXPECT_EQ(scale, 0.001);
  EXPECT_EQ(labels, (LabelSet{{"graph", "lat"}, {"metric", "p99"}}));
  EXPECT_FALSE(ApplyGraphDefs(*defs, "other.thing", &prom, &labels, &scale));
  EXPECT_FALSE(ApplyGraphDefs(*defs, "disk.sda.write", &prom, &labels, &scale));
  std::string json = GraphDefsJson(*defs);
  EXPECT_NE(json.find("\"series\":\"custom_disk_read_bytes_per_second\""), std::string::npos);
  EXPECT_NE(json.find("\"stacked\":true"), std::string::npos);
  for (const char* bad : {"memcached.x\t1\t0\n", "# mackerel-agent-plugin\n{\"graphs\":[]}",
                          "# mackerel-agent-plugin\n{{{", "# mackerel-agent-plugin"}) {
    EXPECT_FALSE(ParsePluginMeta(bad).ok()) << bad;
  }
}

TEST(PluginRunner, FetchesGraphDefinitionsAndNamesSeriesFromThem) {
  // A fixture plugin in Mackerel's style: graphs with MACKEREL_AGENT_PLUGIN_META=1, else values.
  char dir[] = "/tmp/kansoku-plugin-meta-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string script = std::string(dir) + "/plugin.sh";
  std::ofstream(script)
      << "#!/bin/sh\n"
         "if [ \"$MACKEREL_AGENT_PLUGIN_META\" = 1 ]; then\n"
         "  echo '# mackerel-agent-plugin'\n"
         "  echo '{\"graphs\":{\"queue.#\":{\"label\":\"Queue\",\"unit\":\"bytes\","
         "\"metrics\":[{\"name\":\"size\",\"label\":\"Size\"}]}}}'\n"
         "  exit 0\n"
         "fi\n"
         "printf 'queue.mail.size\\t42\\t0\\nplain.value\\t1\\t0\\n'\n";
  PluginRunner runner({{"q", "sh " + script, false, 100, 5000}});
  runner.Start();
  SampleBatch b;
  std::vector<CheckResult> checks;
  double v = 0;
  for (int i = 0; i < 500 && !b.Find("custom_queue_size_bytes", {}, &v); ++i) {
    runner.Collect(&b, &checks);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  runner.Stop();
  EXPECT_TRUE(b.Find("custom_queue_size_bytes",
                     {{"plugin", "q"}, {"graph", "queue.#"}, {"wildcard", "mail"}}, &v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(b.Find("custom_plain_value", {{"plugin", "q"}}, &v));  // no definition: as before
  uint64_t version = 0;
  std::string json = runner.GraphsJson(&version);
  EXPECT_EQ(version, 1u);
  EXPECT_NE(json.find("\"q\":{\"queue.#\""), std::string::npos) << json;
  std::remove(script.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace kansoku::agent
