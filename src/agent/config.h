#pragma once
// Agent configuration file (YAML), `kansoku agent --config agent.yml`. Flags given on the
// command line override it. Every key is optional; defaults are those of AgentOptions.
//
//   server: http://127.0.0.1:9400      token: ksk_...            insecure_tls: false
//   service: shop                       roles: [web, api]         hostname: web-1
//   interval: 15s                       state_dir: /var/lib/kansoku-agent
//   start_status: working               stop_status: poweroff     retire_on_stop: false
//   root: /                             # prefix of /proc and /sys (e.g. /host in a container)
//   filesystems: {ignore_fs_types: [...], ignore_mount_points: [...]}   # replace the defaults
//   interfaces: {ignore: [lo]}          disks: {ignore: [loop*, ram*]}
//   containers: {enabled: true, all_cgroups: false, cgroup_root: ""}
//   statsd: {listen: "127.0.0.1:8125", quantiles: [0.5, 0.9, 0.99]}   # off unless listen is set
//   scrape:   # Prometheus targets, every interval
//     - {job: node, targets: ["127.0.0.1:9100"], labels: {}, file_sd: ["/etc/sd/*.json"],
//        metrics_path: /metrics, scheme: http, timeout: 10s, honor_labels: false,
//        metric_keep: "", metric_drop: "go_.*", max_samples: 200000}
//   plugins:
//     metrics: {<name>: {command: "...", interval: 60s, timeout: 30s}}
//     checks:  {<name>: {command: "...", interval: 60s, timeout: 30s}}
//   shipping: {spool_max_bytes: 256MiB, queue_max_batches: 64, max_samples_per_send: 2000,
//              initial_backoff: 500ms, max_backoff: 30s, timeout: 10s}
//
// Errors: InvalidArgument "<file>:<line>: <key>: why" for unknown keys and bad values.
#include <string>

#include "agent/agent.h"
#include "base/status.h"

namespace kansoku::agent {

Status LoadAgentConfig(const std::string& path, AgentOptions* opts);
// Same, from YAML text (tests).
Status ParseAgentConfig(const std::string& text, const std::string& name, AgentOptions* opts);

}  // namespace kansoku::agent
