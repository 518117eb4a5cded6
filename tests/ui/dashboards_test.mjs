// Browser test of dashboards: created, edited and saved through the UI against the real server
// (data sent by curl), reloaded from the server, exported and imported, variables, every page
// without console errors, TV mode, and the render time of 12 panels x 100 series x 24 h.
// Prints one line per check, the measured figures, and "N passed, M failed".

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { generate } from "./data.mjs";
import { browserCpuMs, drawnChart, expect, panelChart, setup } from "./lib.mjs";

const t = await setup({ name: "dashboards", deadlineMs: 280_000 });
const { page, base, log } = t;
const param = (name) => new URL(page.url()).searchParams.get(name);

// ---- data from a real client: the hour of node data, and 100 series over 24 h ----
const data = generate();
t.importProm(data.body, "node");
const PERF_SERIES = 100;
{
  const end = Math.floor(Date.now() / 60000) * 60;
  const lines = ["# TYPE perf_load gauge"];
  for (let i = 0; i < PERF_SERIES; i++) {
    const inst = `i-${String(i).padStart(3, "0")}`;
    for (let s = end - 86400; s <= end; s += 60) {
      const v = 50 + 30 * Math.sin(s / 3600 + i * 0.3) + (i % 7);
      lines.push(`perf_load{instance="${inst}",zone="z${i % 4}"} ${v.toFixed(2)} ${s * 1000}`);
    }
  }
  t.importProm(lines.join("\n") + "\n", "perf");
  // Logs, sent as JSON lines by curl (a real client) to the jsonline endpoint.
  const now = Date.now();
  const logLines = [];
  for (let i = 0; i < 30; i++) {
    logLines.push(JSON.stringify({ _time: new Date(now - (30 - i) * 20000).toISOString(), service: "web", host: "web-1",
      level: i % 10 === 0 ? "error" : "info", _msg: i % 10 === 0 ? `payment failed for order ${i}` : `GET /item/${i} 200` }));
  }
  t.postLogs(logLines.join("\n") + "\n");
  log(`curl imported ${data.samples} node samples and ${lines.length - 1} perf samples (${PERF_SERIES} series x 24 h)`);
}

await t.check("login", () => t.login(), { always: true });

let dashId = "";

await t.check("dashboards list: empty state, then New creates one in edit mode", async () => {
  await page.click("a.nav-link[data-path='/dashboards']");
  await page.waitForSelector(".state-empty");
  expect((await page.textContent(".state-empty")).includes("No dashboards yet"), "no empty state");
  await t.shot("d01-dashboards-empty");
  await page.click("#dash-new");
  await page.waitForURL(/\/d\/[a-z0-9-]+\?.*edit=1/);
  dashId = new URL(page.url()).pathname.split("/")[2];
  await page.waitForSelector(".dash-empty");
});

await t.check("edit: settings with a variable, a time series, a stat and a markdown panel; Save", async () => {
  // Settings: title, tags, variable $instance from node_load1's instance label.
  await page.click("#dash-settings");
  await page.fill("#ds-title", "Node overview");
  await page.fill("#ds-tags", "node, test");
  await page.click("#ds-add-var");
  await page.fill(".var-row .var-name-in", "instance");
  await page.fill(".var-row .var-label-in", "instance");
  await page.fill(".var-row .var-match-in", "node_load1");
  await page.check(".var-row .var-multi-in");
  await page.click("#settings-editor-apply");
  await page.waitForSelector("select[data-var=instance] option[value='web-2:9100']", { state: "attached" });

  // A time series panel, with completion in the query box.
  await page.selectOption("#dash-add-panel", "timeseries");
  await page.waitForSelector("dialog.panel-editor[open]");
  await page.fill("#pe-title", "Load by instance");
  await page.click("#pe-query-0");
  await page.keyboard.type("node_lo");
  await page.waitForSelector(".completions:not([hidden]) .completion");
  await page.keyboard.press("Tab");
  await page.keyboard.type('{instance=~"$instance"}');
  await page.fill("#pe-legend-0", "{{instance}}");
  await t.shot("d02-panel-editor");
  await page.click("#panel-editor-apply");
  await page.waitForSelector("dialog.panel-editor", { state: "detached" });
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=timeseries] .chart")?.dataset.series === "2");

  await page.selectOption("#dash-add-panel", "stat");
  await page.fill("#pe-title", "Targets up");
  await page.fill("#pe-query-0", "sum(up)");
  await page.fill("#pe-thresholds", "0:red, 3:green");
  await page.click("#panel-editor-apply");
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=stat] .stat-value")?.textContent === "3");

  await page.selectOption("#dash-add-panel", "markdown");
  await page.fill("#pe-title", "Notes");
  await page.fill("#pe-text", "## On call\n**Runbook:** see `ops/README`\n- one\n- two\n<script>alert(1)</script>");
  await page.click("#panel-editor-apply");
  await page.waitForSelector(".dash-panel[data-type=markdown] strong");
  expect(await page.$(".panel-markdown script") === null, "markdown let a <script> through");

  // A log stream panel on the logs curl sent.
  await page.selectOption("#dash-add-panel", "logs");
  await page.fill("#pe-log-query", '{service="web"} level:error');
  await page.click("#panel-editor-apply");
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=logs] .panel-logs")?.dataset.rows === "3");
  const msgs = await page.$$eval(".dash-panel[data-type=logs] .log-msg", (e) => e.map((x) => x.textContent));
  expect(msgs[0] === "payment failed for order 20", `newest first: ${msgs}`);

  // A panel type whose API is not on this server yet renders a clean notice.
  await page.selectOption("#dash-add-panel", "alerts");
  // No alerting rules on this server: the alert status panel says all is clear.
  await page.waitForSelector(".dash-panel[data-type=alerts] .alerts-clear");
  expect((await page.textContent(".dash-panel[data-type=alerts]")).includes("No alert firing"), "no all-clear");

  expect((await page.textContent(".save-status")).includes("Unsaved"), "no unsaved marker");
  await t.shot("d03-dashboard-editing");
  await page.click("#dash-save");
  await page.waitForFunction(() => !new URL(location.href).searchParams.get("edit"));
  await page.waitForFunction(() => document.querySelector(".save-status")?.textContent.includes("Saved version"));
});

await t.check("a dashboard graph has drawn points of the data curl sent", async () => {
  await page.waitForFunction(() => document.querySelector(".dash-grid")?.dataset.loaded === "1");
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=timeseries] .chart")?.dataset.series === "2");
  const st = await drawnChart(page, ".dash-panel[data-type=timeseries]", (c) => c.ready && c.series === 2 && c.points > 100 && c.colored > 50);
  expect(st.ready && st.series === 2 && st.points > 100 && st.colored > 50, JSON.stringify(st));
  await t.shot("d04-dashboard-view");
});

await t.check("save/reload round trip: the server has what the UI showed", async () => {
  const stored = t.api("GET", `/api/v1/dashboards/${dashId}`);
  expect(stored.status === 200, `GET answered ${stored.status}`);
  const d = stored.json.data;
  expect(d.title === "Node overview" && d.version === 2, `title ${d.title} version ${d.version}`);
  expect(JSON.stringify(d.tags) === '["node","test"]', `tags ${JSON.stringify(d.tags)}`);
  expect(d.variables.length === 1 && d.variables[0].name === "instance" && d.variables[0].multi === true, JSON.stringify(d.variables));
  const types = d.panels.map((p) => p.type).join(",");
  expect(types === "timeseries,stat,markdown,logs,alerts", `panel types ${types}`);
  expect(d.panels[3].options.query === '{service="web"} level:error', JSON.stringify(d.panels[3].options));
  expect(d.panels[0].queries[0].expr === 'node_load1{instance=~"$instance"}', `expr ${d.panels[0].queries[0].expr}`);
  expect(d.panels[1].options.thresholds.length === 2, JSON.stringify(d.panels[1].options));
  await page.reload();
  await page.waitForFunction(() => document.querySelector(".dash-grid")?.dataset.loaded === "1");
  const titles = await page.$$eval(".dash-panel .panel-title", (e) => e.map((x) => x.textContent));
  expect(titles.join("|") === "Load by instance|Targets up|Notes|Log stream|Alert status", `titles ${titles}`);
  expect((await page.textContent("h1.page-title")) === "Node overview", "title not shown");
  const st = await drawnChart(page, ".dash-panel[data-type=timeseries]", (c) => c.series === 2 && c.colored > 50);
  expect(st.series === 2 && st.colored > 50, JSON.stringify(st));
});

await t.check("a variable narrows the panels and lives in the URL", async () => {
  await page.selectOption("select[data-var=instance]", ["web-2:9100"]);
  await page.waitForFunction(() => new URL(location.href).searchParams.get("var-instance") === "web-2:9100");
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=timeseries] .chart")?.dataset.series === "1");
  const names = await page.$$eval(".dash-panel[data-type=timeseries] .legend-table td.name", (e) => e.map((x) => x.textContent));
  expect(names.join() === "web-2:9100", `legend ${names}`);
  await t.shot("d05-dashboard-variable");
  await page.goBack();
  await page.waitForFunction(() => document.querySelector(".dash-panel[data-type=timeseries] .chart")?.dataset.series === "2");
});

await t.check("a refresh updates the chart in place (same uPlot instance)", async () => {
  const before = await panelChart(page, ".dash-panel[data-type=timeseries]");
  const n = Number(await page.getAttribute(".dash-grid", "data-refreshes"));
  await page.click("#refresh-now");
  await page.waitForFunction((k) => Number(document.querySelector(".dash-grid")?.dataset.refreshes) > k, n);
  const after = await panelChart(page, ".dash-panel[data-type=timeseries]");
  expect(after.builds === before.builds, `a refresh rebuilt the chart: builds ${before.builds} -> ${after.builds}`);
});

await t.check("edit conflict: a save over someone else's newer version is refused with a message", async () => {
  const cur = t.api("GET", `/api/v1/dashboards/${dashId}`).json.data;
  await page.click("#dash-edit");
  await page.waitForSelector("#dash-save");
  const other = t.api("PUT", `/api/v1/dashboards/${dashId}`, { ...cur, title: "Changed elsewhere" });
  expect(other.status === 200 && other.json.data.version === cur.version + 1, `other save ${other.status}`);
  await page.click("#dash-save");
  await page.waitForFunction(() => document.querySelector(".save-status.bad")?.textContent.includes("someone else"));
  await t.shot("d06-save-conflict");
  await page.click(".save-status.bad button");
  await page.waitForFunction(() => document.querySelector("h1.page-title")?.textContent === "Changed elsewhere");
}, { allow: [/status of 409/] });

await t.check("export JSON and import it back (as a copy when the id exists)", async () => {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#dash-export")]);
  const file = await download.path();
  const exported = JSON.parse(readFileSync(file, "utf8"));
  expect(exported.id === dashId && exported.panels.length === 5, `exported ${JSON.stringify(exported).slice(0, 200)}`);
  await page.goto(`${base}/dashboards`);
  await page.waitForSelector(`tr[data-id='${dashId}']`);
  await page.click("#dash-paste");
  await page.fill("#dash-paste-text", JSON.stringify(exported));
  await page.click("#dash-paste-import");
  await page.waitForSelector("#dash-import-copy");
  await page.click("#dash-import-copy");
  await page.waitForURL((u) => u.pathname.startsWith("/d/") && u.pathname !== `/d/${dashId}`);
  await page.waitForFunction(() => document.querySelector(".dash-grid")?.dataset.loaded === "1");
  const copyId = new URL(page.url()).pathname.split("/")[2];
  const copy = t.api("GET", `/api/v1/dashboards/${copyId}`).json.data;
  expect(copy.panels.length === 5 && copy.title === "Changed elsewhere" && copy.version === 1, JSON.stringify(copy).slice(0, 300));
  // Bad JSON is refused where it was pasted, with the reason.
  await page.goto(`${base}/dashboards`);
  await page.click("#dash-paste");
  await page.fill("#dash-paste-text", '{"title": "x", "panels": [{"id": 1, "type": "pie", "grid": {"x":0,"y":0,"w":1,"h":1}}]}');
  await page.click("#dash-paste-import");
  await page.waitForFunction(() => document.querySelector("dialog .field-error")?.textContent.includes("unknown panel type"));
  await page.keyboard.press("Escape");
  await t.shot("d07-dashboards-list");
}, { allow: [/status of 409/] });

// ---- performance: 12 panels x 100 series x 24 h ----
let perfId = "";
await t.check("12 panels x 100 series x 24 h render in under 1 s after the data arrives", async () => {
  const panels = [];
  for (let i = 0; i < 12; i++) {
    panels.push({
      id: i + 1, type: "timeseries", title: `Load x${i + 1}`, grid: { x: (i % 3) * 8, y: Math.floor(i / 3) * 7, w: 8, h: 7 },
      queries: [{ expr: `perf_load * ${i + 1}`, legend: "{{instance}}" }], options: { legend: "none", stacked: i % 2 === 1 },
    });
  }
  const r = t.api("POST", "/api/v1/dashboards", { title: "Perf 12x100", time: { from: "now-24h", to: "now" }, panels });
  expect(r.status === 201, `create answered ${r.status} ${JSON.stringify(r.json)}`);
  perfId = r.json.data.id;
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${base}/dashboards?from=now-24h&to=now`);
  await page.waitForSelector(`a.dash-link[href^='/d/${perfId}']`);
  const runs = [];
  for (let k = 0; k < 5; k++) {
    const cpu0 = browserCpuMs();
    const t0 = Date.now();
    if (k === 0) await page.click(`a.dash-link[href^='/d/${perfId}']`); // first draw: 12 new charts
    else await page.click("#refresh-now"); // refresh: the same charts, new data
    await page.waitForFunction((n) => Number(document.querySelector(".dash-grid")?.dataset.refreshes) >= n, k + 1, { timeout: 60000 });
    const cpu = browserCpuMs() - cpu0;
    const m = await page.evaluate(() => {
      const g = document.querySelector(".dash-grid");
      const charts = [...document.querySelectorAll(".dash-panel .chart")];
      return {
        render: Number(g.dataset.renderMs), draw: Number(g.dataset.drawMs), frame: Number(g.dataset.frameMs),
        series: charts.map((c) => Number(c.dataset.series)), points: charts.reduce((s, c) => s + Number(c.dataset.points), 0),
      };
    });
    runs.push({ ...m, cpu, wall: Date.now() - t0 });
  }
  log(`     machine load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${(await import("node:os")).cpus().length} cores`);
  for (const [k, m] of runs.entries()) {
    log(`     perf ${k ? "refresh" : "first draw"}: ${m.series.length} panels x ${Math.min(...m.series)}-${Math.max(...m.series)} series, ${m.points} points; ` +
      `wall: ${m.render.toFixed(0)} ms to hand the data to the charts, ${m.draw.toFixed(0)} ms to draw the canvases, ${m.frame.toFixed(0)} ms to the painted frame after the data arrived, ${m.wall} ms with the queries; ` +
      `browser CPU for the whole refresh (queries, JSON, drawing, paint): ${m.cpu.toFixed(0)} ms`);
  }
  const first = runs[0];
  expect(first.series.length === 12 && first.series.every((n) => n === PERF_SERIES), `series per panel ${first.series}`);
  // The bar: 1 s from the last answer to the painted frame, measured in the page. The median of
  // five runs (a first draw and four refreshes), so one scheduling hiccup of a CI machine shared
  // with C++ builds does not decide it; every figure is printed above.
  const frames = runs.map((m) => m.frame).sort((x, y) => x - y);
  const med = frames[Math.floor(frames.length / 2)];
  log(`     data-to-pixels median ${med.toFixed(0)} ms`);
  expect(med < 1000, `data-to-pixels median ${med.toFixed(0)} ms of ${frames.map((x) => x.toFixed(0)).join(", ")} (want < 1000)`);
  const st = await panelChart(page, ".dash-panel[data-panel-id='1']");
  expect(st.ready && st.series === PERF_SERIES, JSON.stringify(st));
  await t.shot("d08-perf-12x100x24h");
  await page.setViewportSize({ width: 1280, height: 800 });
});

await t.check("TV mode: no chrome, large type, cycles the playlist", async () => {
  await page.goto(`${base}/tv?d=${dashId},${perfId}&cycle=3s&from=now-1h&to=now`);
  await page.waitForSelector(".tv-page .dash-grid[data-loaded='1']");
  expect(await page.$(".topbar") === null, "the top bar is shown in TV mode");
  const fontPx = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  expect(fontPx >= 16, `root font ${fontPx}px`);
  expect((await page.textContent(".tv-title")) === "Changed elsewhere", await page.textContent(".tv-title"));
  await t.shot("d09-tv-1");
  await page.waitForFunction((id) => document.querySelector(".tv-page")?.dataset.dashboard === id, perfId, { timeout: 15000 });
  await page.waitForSelector(".tv-page .dash-grid[data-loaded='1']", { timeout: 30000 });
  await t.shot("d10-tv-2");
  await page.setViewportSize({ width: 3840, height: 2160 });
  await page.waitForTimeout(300);
  const font4k = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  expect(font4k >= 28, `root font on 4K ${font4k}px`);
  await t.shot("d11-tv-4k");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.keyboard.press("Escape");
  await page.waitForURL((u) => u.pathname.startsWith("/d/"));
  await page.waitForSelector(".topbar");
});

await t.check("every page loads without console errors", async () => {
  const pages = ["/overview", "/explore?q=up", "/dashboards", `/d/${dashId}`, `/d/${dashId}?edit=1`, `/tv?d=${dashId}`,
    "/hosts", "/issues", "/logs", "/alerts", "/usage", "/d/no-such-dashboard"];
  for (const p of pages) {
    await page.goto(`${base}${p}`);
    await page.waitForSelector("main");
    await page.waitForLoadState("networkidle");
    const bad = t.takeErrors([/status of 404/]);
    expect(!bad.length, `${p}: ${bad.join(" | ")}`);
  }
  expect((await page.textContent("main")).includes("No dashboard “no-such-dashboard”"), "no not-found state");
});

await t.finish();
