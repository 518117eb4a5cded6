// Prometheus text exposition with explicit millisecond timestamps over the last hour:
// what a node exporter and a scraper would have produced, sent by curl to the import API.

const STEP_S = 15;

export function generate(nowMs = Date.now()) {
  const end = Math.floor(nowMs / 1000 / STEP_S) * STEP_S;
  const start = end - 3600;
  const ts = [];
  for (let t = start; t <= end; t += STEP_S) ts.push(t);
  const lines = [];
  const instances = ["web-1:9100", "web-2:9100"];

  lines.push("# TYPE node_load1 gauge");
  instances.forEach((inst, k) => {
    for (const t of ts) {
      const v = 0.5 + k * 0.8 + 0.4 * Math.sin((t - start) / 600 + k);
      lines.push(`node_load1{instance="${inst}",job="node"} ${v.toFixed(4)} ${t * 1000}`);
    }
  });

  lines.push("# TYPE node_cpu_seconds_total counter");
  instances.forEach((inst, k) => {
    for (const cpu of ["0", "1"]) {
      for (const [mode, base] of [["idle", 0.8], ["user", 0.15], ["system", 0.05]]) {
        const rate = mode === "idle" ? base - k * 0.2 : base * (1 + k * 1.5);
        let acc = 1000;
        for (const t of ts) {
          acc += rate * STEP_S * (0.9 + 0.2 * Math.abs(Math.sin(t / 300)));
          lines.push(`node_cpu_seconds_total{cpu="${cpu}",instance="${inst}",job="node",mode="${mode}"} ${acc.toFixed(3)} ${t * 1000}`);
        }
      }
    }
  });

  // up: web-2 was down for ten minutes twenty minutes ago; the kansoku self-scrape is always up.
  lines.push("# TYPE up gauge");
  for (const t of ts) {
    const ago = end - t;
    lines.push(`up{instance="web-1:9100",job="node"} 1 ${t * 1000}`);
    lines.push(`up{instance="web-2:9100",job="node"} ${ago <= 1800 && ago > 1200 ? 0 : 1} ${t * 1000}`);
    lines.push(`up{instance="127.0.0.1:9400",job="kansoku"} 1 ${t * 1000}`);
  }
  return { body: lines.join("\n") + "\n", samples: lines.filter((l) => !l.startsWith("#")).length, start, end };
}
