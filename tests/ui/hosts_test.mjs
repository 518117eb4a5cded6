// Browser test of the Hosts pages on data from the real `kansoku agent`: three agents register
// (service shop, roles web and db) and ship host metrics with remote_write; one is killed and
// becomes unreachable. The list groups service -> role -> host and flags it, a host page draws
// CPU/memory graphs, a role page draws one line per host. Screenshots for review.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BIN, expect, drawnChart, setup, TOKEN } from "./lib.mjs";

const t = await setup({ name: "hosts", deadlineMs: 200_000 });
const { page, base, log } = t;

const agents = [];
function agent(name, service, roles) {
  const state = join(t.tmp, `agent-${name}`);
  mkdirSync(state, { recursive: true });
  const args = ["agent", "--server", base, "--token", TOKEN, "--state-dir", state, "--hostname", name,
    "--service", service, "--interval", "1s", ...roles.flatMap((r) => ["--role", r])];
  const child = spawn(BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (b) => { err += b.toString(); });
  child.on("exit", (code, sig) => { if (code && code !== 0) log(`agent ${name} exited ${code ?? sig}: ${err.slice(-400)}`); });
  process.on("exit", () => { try { child.kill("SIGKILL"); } catch { /* gone */ } });
  agents.push(child);
  return child;
}

agent("ui-web-1", "shop", ["web"]);
agent("ui-web-2", "shop", ["web"]);
const doomed = agent("ui-db-1", "shop", ["db"]);

// Registered and a few cycles of metrics shipped.
const deadline = Date.now() + 60000;
for (;;) {
  const r = t.api("GET", "/api/v1/hosts");
  const q = t.api("GET", `/api/v1/query?query=${encodeURIComponent("count(count by (host) (host_cpu_seconds_total))")}`);
  const n = q.json?.data?.result?.[0]?.value?.[1];
  if (r.json?.data?.length === 3 && Number(n) === 3) break;
  if (Date.now() > deadline) t.fatal(`agents did not register and ship in 60 s: ${JSON.stringify(r.json)} ${JSON.stringify(q.json)}`);
  await new Promise((res) => setTimeout(res, 500));
}
await new Promise((res) => setTimeout(res, 6000)); // enough samples for rate() over a few points
doomed.kill("SIGKILL"); // no poweroff status: its heartbeats just stop
log("three agents registered and shipping; ui-db-1 killed");

await t.check("login", () => t.login(), { always: true });

await t.check("hosts list: service -> roles -> hosts, status, key metrics, the dead host flagged", async () => {
  // Unreachable after 3 missed 1 s heartbeats.
  const until = Date.now() + 30000;
  for (;;) {
    const r = t.api("GET", "/api/v1/hosts");
    if (r.json.data.find((x) => x.name === "ui-db-1")?.unreachable) break;
    if (Date.now() > until) throw new Error("ui-db-1 never became unreachable");
    await new Promise((res) => setTimeout(res, 500));
  }
  // A 5-minute range: the agents have run for well under a minute, the sparkline needs points.
  await page.goto(`${base}/hosts?from=now-5m&to=now`);
  await page.waitForSelector("section.service[data-service='shop']");
  const roles = await page.$$eval("section.service[data-service='shop'] .role", (e) => e.map((x) => x.dataset.role));
  expect(JSON.stringify(roles) === '["db","web"]', `roles ${roles}`);
  const web = await page.$$eval(".role[data-role='web'] tbody tr", (e) => e.map((x) => x.dataset.host));
  expect(web.join() === "ui-web-1,ui-web-2", `web hosts ${web}`);
  const down = await page.$$eval("tr.host-down", (e) => e.map((x) => x.dataset.host));
  expect(down.join() === "ui-db-1", `unreachable rows ${down}`);
  expect((await page.textContent("tr[data-host='ui-db-1'] .badge")) === "unreachable", "no unreachable badge");
  expect((await page.textContent("tr[data-host='ui-web-1'] .badge")) === "working", "no working badge");
  const cpu = await page.textContent("tr[data-host='ui-web-1'] td:nth-child(3)");
  expect(/%$/.test(cpu), `cpu cell ${cpu}`);
  await page.waitForFunction(() => document.querySelector("tr[data-host='ui-web-1'] .spark path")?.getAttribute("d")?.includes("L"));
  await t.shot("h01-hosts");
});

await t.check("a host page draws its CPU and memory graphs", async () => {
  await page.click("tr[data-host='ui-web-1'] a");
  await page.waitForURL(/\/hosts\/[0-9a-f]+/);
  await page.waitForFunction(() => document.querySelector(".dash-grid")?.dataset.loaded === "1");
  expect((await page.textContent("h1.page-title")).includes("ui-web-1"), "no host name");
  expect((await page.textContent(".facts")).includes("shop"), "no facts");
  await page.waitForFunction(() => Number(document.querySelector(".dash-panel[data-panel-id='1'] .chart")?.dataset.points) > 0);
  const mem = await drawnChart(page, ".dash-panel[data-panel-id='2']", (m) => m.ready && m.series >= 4 && m.colored > 20);
  expect(mem.ready && mem.series >= 4 && mem.colored > 20, `memory panel ${JSON.stringify(mem)}`);
  const fs = await page.$$eval(".dash-panel[data-panel-id='6'] tbody tr", (e) => e.length);
  expect(fs >= 1, `filesystem rows ${fs}`);
  await t.shot("h02-host");
});

await t.check("role graphs: one line per host of the role", async () => {
  await page.goto(`${base}/hosts?service=shop&role=web&from=now-2m&to=now`);
  await page.waitForFunction(() => document.querySelector(".dash-grid")?.dataset.loaded === "1");
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-panel-id='2'] .chart")?.dataset.series === "2");
  const names = await page.$$eval(".dash-panel[data-panel-id='2'] .legend-table td.name", (e) => e.map((x) => x.textContent).sort());
  expect(names.join() === "ui-web-1,ui-web-2", `legend ${names}`);
  // The agents have run for well under two minutes: the lines cover part of the width.
  const st = await drawnChart(page, ".dash-panel[data-panel-id='2']", (c) => c.colored > 10 && c.points >= 4);
  expect(st.colored > 10 && st.points >= 4, JSON.stringify(st));
  await t.shot("h03-role-web");
});

for (const a of agents) { try { a.kill("SIGTERM"); } catch { /* gone */ } }
await t.finish();
