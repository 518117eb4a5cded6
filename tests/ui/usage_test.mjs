// Browser test of the usage guard (issue #9) on data real clients sent, one server and browser:
//   Explosion (#9.6) — Debian `prometheus` scrapes a target whose `req_total` gets a `user` label
//     fed by a counter (ten new users per scrape) next to five steady series and remote-writes
//     it with the token "exploder" (limit: 60 active series). Shown: the limit holds exactly,
//     prometheus logs kansoku's answer naming the limit, the current value and the offending
//     series, the steady series keep flowing (PromQL: a sample in every window after the
//     refusals began), `kansoku usage` and the Usage page name the token, metric and label, and
//     the implicit budget (80 % of the limit) reaches a webhook sink as UsageBudget.
//   Targets (#9.4, #10) — a real `kansoku agent` scrapes Debian prometheus-node-exporter from a
//     file_sd file; the file grows past max_growth, the agent holds the new target and reports it;
//     the Targets page shows it and its Approve button enrolls it on the agent (series arrive).
// Every page is checked for console errors; screenshots go to UI_SCREENSHOTS.

import { execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync, renameSync, rmSync, writeFileSync, mkdtempSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, expect, setup, TOKEN } from "./lib.mjs";

const LIMIT = 60;
const hooks = [];
const sink = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => { hooks.push(body); res.writeHead(200).end("ok"); });
});
await new Promise((r) => sink.listen(0, "127.0.0.1", r));
const tmpConf = mkdtempSync(join(tmpdir(), "kansoku-usage-conf-"));
const NOTIFY = join(tmpConf, "notify.yml");
// Removed at exit too, so a failing run does not leave it behind.
process.on("exit", () => rmSync(tmpConf, { recursive: true, force: true }));
writeFileSync(NOTIFY, `route:
  receiver: team
  group_by: [alertname, budget]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: "http://127.0.0.1:${sink.address().port}/hook"
`);
const CONFIG = `
limits:
  tokens:
    exploder:
      max_active_series: ${LIMIT}
usage:
  self_scrape_interval: 1s
alerting:
  evaluation_interval: 1s
  notifications_file: "${NOTIFY}"
monitors:
  interval: 1s
  limit_warn_at: 0.8
`;

const t = await setup({ name: "usage", deadlineMs: 400_000, config: CONFIG });
const { page, base, log } = t;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
process.on("exit", () => { for (const c of children) { try { c.kill("SIGKILL"); } catch { /* gone */ } } });

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) t.fatal(`timed out waiting for ${what}`);
    await sleep(400);
  }
}
const freePort = () => new Promise((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
const query = (q, extra = "") => t.api("GET", `/api/v1/query?query=${encodeURIComponent(q)}${extra}`).json?.data?.result ?? [];
const tenant = () => (t.api("GET", "/api/v1/usage").json?.data?.tenants ?? []).find((x) => x.name === "exploder");

// ---- the exploding application and Debian prometheus remote-writing it ----
const created = t.api("POST", "/api/v1/tokens", { name: "exploder", scopes: ["ingest"] });
if (created.status !== 201) t.fatal(`token: ${created.status} ${JSON.stringify(created.json)}`);
let scrapes = 0;
const app = createServer((req, res) => {
  const n = ++scrapes;
  const lines = ["# TYPE steady gauge", ...[0, 1, 2, 3, 4].map((i) => `steady{i="${i}"} ${n}`), "# TYPE req_total counter"];
  for (let u = 0; u < n * 10; u++) lines.push(`req_total{user="u${u}"} 1`);  // the label fed by a counter
  res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(lines.join("\n") + "\n");
});
await new Promise((r) => app.listen(0, "127.0.0.1", r));
const promDir = join(t.tmp, "prometheus");
mkdirSync(promDir);
writeFileSync(join(promDir, "prometheus.yml"), `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs: [{targets: ["127.0.0.1:${app.address().port}"]}]
remote_write:
  - url: ${base}/api/v1/write
    authorization: {type: Bearer, credentials: "${created.json.data.token}"}
    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 2000}
`);
const promLog = join(promDir, "prometheus.log");
const promOut = openSync(promLog, "w");
children.push(spawn("/usr/bin/prometheus", ["--config.file", join(promDir, "prometheus.yml"), "--storage.tsdb.path", join(promDir, "data"),
  "--web.listen-address", `127.0.0.1:${await freePort()}`], { stdio: ["ignore", promOut, promOut] }));

await t.login();

let refusedAt = 0;
await t.check("explosion: the limit holds and prometheus is told limit, current value and offender", async () => {
  const tn = await until("refusals by max_active_series", () => { const x = tenant(); return x && (x.refusals.max_active_series ?? 0) >= 30 && x; }, 150000);
  refusedAt = Date.now() / 1000;
  expect(tn.active_series === LIMIT, `active series ${tn.active_series}, want exactly ${LIMIT}`);
  const n = Number(query('count({__name__=~"req_total|steady|up|scrape_.*"})')[0]?.value?.[1]);
  expect(n === LIMIT, `series in the TSDB ${n}, want ${LIMIT}`);
  const told = await until("prometheus to log the refusal", () => {
    const l = readFileSync(promLog, "utf8");
    return l.includes(`limit max_active_series=${LIMIT} reached for token`) && l;
  }, 60000);
  // e.g. limit max_active_series=60 reached for token "exploder" (60 active series): new series req_total{...} refused
  expect(new RegExp(`\\(${LIMIT} active series\\): new series req_total\\{`).test(told.replace(/\\"/g, '"')),
    `the answer does not name the current value and the offending series:\n${told.split("\n").filter((x) => x.includes("limit max_active")).slice(0, 2).join("\n")}`);
});

await t.check("explosion: the existing series keep flowing (a sample in every 5 s window since the refusals)", async () => {
  await sleep(16000);
  const end = Date.now() / 1000;
  const r = t.api("GET", `/api/v1/query_range?query=${encodeURIComponent("count_over_time(steady[5s])")}&start=${(refusedAt + 5).toFixed(3)}&end=${end.toFixed(3)}&step=5`).json?.data?.result ?? [];
  expect(r.length === 5, `steady series ${r.length}, want 5`);
  for (const s of r) {
    const pts = s.values.length;
    expect(pts >= 2 && s.values.every(([, v]) => Number(v) >= 1), `gap in steady{i="${s.metric.i}"}: ${JSON.stringify(s.values)}`);
  }
  const last = Number(query("min(timestamp(steady))")[0]?.value?.[1]);
  expect(last > refusedAt + 10, `steady stopped at ${last}, refusals began ${refusedAt}`);
});

await t.check("explosion: kansoku usage names the token, the metric and the label", async () => {
  const out = execFileSync(BIN, ["usage", "--server", base, "--token", TOKEN, "--top", "3"], { timeout: 30000 }).toString();
  const row = out.split("\n").find((l) => l.startsWith("exploder"));
  expect(row && row.split(/\s+/).slice(1, 3).join(" ") === `${LIMIT} ${LIMIT}` && row.includes("max_active_series="), `token row: ${row}`);
  expect(out.split("\n").some((l) => l.split(/\s+/)[0] === "req_total"), `no req_total row:\n${out}`);
  expect(/recent values of user: u\d+/.test(out), `no recent values of user:\n${out}`);
});

await t.check("explosion: the Usage page shows the offender and its refusals", async () => {
  await page.goto(`${base}/usage?tenant=exploder&from=now-5m&to=now`);
  await page.waitForSelector(".tenants-table tr[data-tenant='exploder'] .badge[data-limit='max_active_series']");
  const gauge = await page.textContent(".tenants-table tr[data-tenant='exploder'] td:nth-child(2) .gauge-text");
  expect(gauge.replace(/\s/g, "") === `${LIMIT}/${LIMIT}`, `active series gauge ${gauge}`);
  const top = await page.$$eval(".usage-card .panel:nth-child(1) .rank-list li", (l) => l.map((x) => x.dataset.name));
  expect(top[0] === "req_total", `top metrics ${top}`);
  const labels = await page.$$eval(".usage-card .panel:nth-child(2) .rank-list li", (l) => l.map((x) => x.dataset.name));
  expect(labels[0] === "user", `top labels ${labels}`);
  expect(/recent values: u\d+/.test(await page.textContent(".recent-values")), "no recent values of user");
  await page.waitForFunction(() => Number(document.querySelector("[data-count='refused'] strong")?.textContent?.replace(/\D/g, "")) > 0);
  await t.shot("u1-usage-explosion");
});

await t.check("explosion: the budget alert (80 % of the limit) reached the webhook sink", async () => {
  const hook = await until("UsageBudget at the webhook", () => hooks.map((b) => JSON.parse(b)).find((b) =>
    b.alerts?.some((a) => a.labels.alertname === "UsageBudget" && a.labels.budget === "limit:exploder:max_active_series")), 60000);
  const a = hook.alerts.find((x) => x.labels.alertname === "UsageBudget");
  expect(a.status === "firing" && a.labels.token === "exploder" && a.labels.kind === "max_active_series", JSON.stringify(a.labels));
  expect(/of 60 \(/.test(a.annotations.summary), `summary ${a.annotations.summary}`);
});

// ---- an agent's held scrape target, approved from the Targets page ----
const nePorts = [await freePort(), await freePort()];
for (const p of nePorts) {
  children.push(spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${p}`, "--no-collector.systemd", "--log.level=warn"], { stdio: "ignore" }));
}
const sd = join(t.tmp, "fleet.json");
const writeSd = (ports) => {
  writeFileSync(`${sd}.tmp`, JSON.stringify([{ targets: ports.map((p) => `127.0.0.1:${p}`), labels: { env: "prod" } }]));
  renameSync(`${sd}.tmp`, sd);
};
writeSd(nePorts.slice(0, 1));
const agentCfg = join(t.tmp, "agent.yml");
writeFileSync(agentCfg, `scrape:
  - job: fleet
    file_sd: ["${sd}"]
    max_growth: 0.5
    min_targets: 1
    metric_keep: "node_(load1|boot_time_seconds)"
`);
const agentState = join(t.tmp, "agent");
children.push(spawn(BIN, ["agent", "--server", base, "--token", TOKEN, "--state-dir", agentState, "--hostname", "ui-targets-1",
  "--interval", "1s", "--config", agentCfg], { stdio: "ignore" }));
const second = `127.0.0.1:${nePorts[1]}`;

await t.check("targets: an agent's held target is shown and approved from the UI", async () => {
  await until("the agent's first target up", () => query(`up{job="fleet",instance="127.0.0.1:${nePorts[0]}"} == 1`).length, 60000);
  writeSd(nePorts);
  await until("the held target reported", () => t.api("GET", "/api/v1/targets?state=held").json?.data?.heldTargets?.length, 60000);
  await page.goto(`${base}/targets`);
  await page.waitForSelector(".held-job[data-host='ui-targets-1'][data-job='fleet'] .approve-job");
  await page.waitForSelector(`.targets-table tr[data-state='held'][data-host='ui-targets-1'][data-url='http://${second}/metrics']`);
  expect((await page.textContent("[data-count='held'] strong")) === "1", "held count");
  expect(query(`up{job="fleet",instance="${second}"}`).length === 0, "a held target was scraped");
  await t.shot("u2-targets-held");
  await page.click(".held-job[data-host='ui-targets-1'] .approve-job");
  await page.waitForSelector(".approve-note.approve-ok");
  expect(/1 approved; the agent enrolls them/.test(await page.textContent(".approve-note")), await page.textContent(".approve-note"));
  await until("the approved target's series", () => query(`node_load1{job="fleet",instance="${second}"}`).length, 60000);
  await until("the page without held targets", async () => {
    await page.goto(`${base}/targets`);
    await page.waitForSelector(".targets-table");
    return !(await page.$(".held-job")) && await page.$(`.targets-table tr[data-state='active'][data-url='http://${second}/metrics']`);
  }, 60000);
  await t.shot("u3-targets-approved");
});

await t.check("usage sources list the agent's scrape targets", async () => {
  await page.goto(`${base}/usage?kind=scrape_target`);
  await page.waitForSelector(`.sources-table tr[data-source='http://${second}/metrics on ui-targets-1']`);
});

for (const c of children) c.kill("SIGTERM");
app.close();
sink.close();
rmSync(tmpConf, { recursive: true, force: true });
await t.finish();
