// End-to-end test of the web UI: the real `kansoku server` (port 0, temp data dir), real data sent
// with curl to the Prometheus text import, then Debian chromium driven by playwright-core.
//
//   KANSOKU_BIN      the server binary (default build/release/kansoku)
//   CHROMIUM_PATH    (default /usr/bin/chromium)
//   UI_SCREENSHOTS   where screenshots go (default build/ui-screenshots)
//   UI_ONLY          run only checks whose name matches this regex, after the login (debugging)
//
// Prints one line per check and closes with "N passed, M failed"; exits 1 on any failure.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "./data.mjs";
import { startServer } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const BIN = process.env.KANSOKU_BIN || join(repo, "build/release/kansoku");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SHOTS = resolve(process.env.UI_SCREENSHOTS || join(repo, "build/ui-screenshots"));
const WEB_DIR = join(repo, "web/dist");
const TOKEN = "ui-test-admin-token-7f3a9c2e41";
const DEADLINE_MS = 240_000;

let passed = 0;
let failed = 0;
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);

function fatal(msg) {
  console.log(`FATAL: ${msg}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}

const watchdog = setTimeout(() => fatal(`test did not finish in ${DEADLINE_MS / 1000}s`), DEADLINE_MS);

if (!existsSync(BIN)) fatal(`no server binary at ${BIN} (set KANSOKU_BIN or build the kansoku target)`);
if (!existsSync(CHROMIUM)) fatal(`no chromium at ${CHROMIUM}: run scripts/install-deps`);
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  fatal(`playwright-core is not installed in tests/ui (run scripts/install-deps): ${e.message}`);
}

// The UI build is part of the test's inputs: build it if web/ changed (no-op when unchanged).
try {
  execFileSync(join(repo, "scripts/build-web"), { stdio: "inherit" });
} catch (e) {
  fatal(`scripts/build-web failed: ${e.message}`);
}
if (!existsSync(join(WEB_DIR, "index.html"))) fatal(`no ${WEB_DIR}/index.html after scripts/build-web`);

mkdirSync(SHOTS, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), "kansoku-ui-"));
const server = await startServer({ bin: BIN, dataDir: join(tmp, "data"), webDir: WEB_DIR, token: TOKEN }).catch((e) => fatal(e.message));
log(`server at ${server.url}, data in ${tmp}, screenshots in ${SHOTS}`);

// ---- data from a real client: curl POSTs Prometheus text (ms timestamps over the last hour) ----
const data = generate();
writeFileSync(join(tmp, "import.prom"), data.body);
const code = execFileSync("curl", [
  "-sS", "-o", join(tmp, "import.out"), "-w", "%{http_code}", "-H", `Authorization: Bearer ${TOKEN}`,
  "-H", "Content-Type: text/plain; version=0.0.4", "--data-binary", `@${join(tmp, "import.prom")}`,
  `${server.url}/api/v1/import/prometheus`,
]).toString();
if (code !== "204") fatal(`import answered ${code}, want 204`);
log(`curl imported ${data.samples} samples`);

// ---- the browser ----
const profile = mkdtempSync(join(tmpdir(), "kansoku-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  timeout: 30000,
  viewport: { width: 1280, height: 800 },
  colorScheme: "dark", // the UI follows the system's scheme until the user picks one
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] || (await context.newPage());
page.setDefaultTimeout(20000); // generous: CI shares 2 cores with C++ builds

// Console errors: every check must leave none behind, except the ones it expects
// (Chromium logs a 400 or 401 response as "Failed to load resource").
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
function takeErrors(allowed = []) {
  const bad = consoleErrors.filter((e) => !allowed.some((re) => re.test(e)));
  consoleErrors.length = 0;
  return bad;
}

const base = server.url;
const q = (s) => encodeURIComponent(s);

async function check(name, fn, { allow = [], always = false } = {}) {
  const only = process.env.UI_ONLY;
  if (only && !always && !new RegExp(only).test(name)) return;
  const t0 = Date.now();
  try {
    await fn();
    const bad = takeErrors(allow);
    if (bad.length) throw new Error(`console errors:\n    ${bad.join("\n    ")}`);
    passed++;
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    takeErrors();
    log(`FAIL ${name}: ${e.message.split("\n").slice(0, 6).join("\n    ")}`);
    await page.screenshot({ path: join(SHOTS, `FAIL-${name.replace(/\W+/g, "_")}.png`) }).catch(() => {});
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** The graph's state as the page shows it, plus pixels of the first series' colour in the plot area. */
async function chartState() {
  return page.evaluate(() => {
    const chart = document.querySelector(".chart");
    const canvas = chart?.querySelector("canvas");
    const over = chart?.querySelector(".u-over");
    if (!chart || !canvas || !over) return { ready: false };
    const rows = chart.querySelectorAll(".legend-table tbody tr").length;
    const swatch = chart.querySelector(".swatch");
    const [R, G, B] = getComputedStyle(swatch).backgroundColor.match(/\d+/g).map(Number);
    const cr = canvas.getBoundingClientRect();
    const or = over.getBoundingClientRect();
    const sx = canvas.width / cr.width;
    const ctx = canvas.getContext("2d");
    const x = Math.round((or.left - cr.left) * sx);
    const y = Math.round((or.top - cr.top) * sx);
    const img = ctx.getImageData(x, y, Math.round(or.width * sx), Math.round(or.height * sx)).data;
    let colored = 0;
    for (let i = 0; i < img.length; i += 4) {
      if (img[i + 3] > 150 && Math.abs(img[i] - R) + Math.abs(img[i + 1] - G) + Math.abs(img[i + 2] - B) < 60) colored++;
    }
    return {
      ready: true,
      series: Number(chart.dataset.series),
      points: Number(chart.dataset.points),
      mode: chart.dataset.mode,
      rows,
      colored,
    };
  });
}

async function waitChart(series) {
  await page.waitForFunction((n) => {
    const c = document.querySelector(".chart");
    return c && c.dataset.series === String(n) && c.querySelector("canvas") && !document.querySelector(".result.is-busy");
  }, series);
  return chartState();
}

const param = (name) => new URL(page.url()).searchParams.get(name);

// ---------------------------------------------------------------------------------------------
const LOAD_Q = "node_load1";
const CPU_Q = 'sum by (instance, mode) (rate(node_cpu_seconds_total{job="node"}[5m]))';

await check("unauthenticated visit goes to login", async () => {
  await page.goto(`${base}/explore?q=${q(LOAD_Q)}&from=now-1h&to=now`, { waitUntil: "load" });
  await page.waitForURL(/\/login\?/);
  expect(param("next")?.startsWith("/explore?"), `next=${param("next")}`);
  await page.waitForSelector("#token");
  await shot("01-login");
}, { always: true });

await check("wrong token is rejected on the login page", async () => {
  await page.fill("#token", "not-a-real-token-123456");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#login-error")?.textContent.includes("Token rejected"));
  expect(new URL(page.url()).pathname === "/login", "left the login page");
}, { allow: [/status of 401/] });

await check("login lands on the Explore link with its query and range", async () => {
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/explore\?/);
  expect(param("q") === LOAD_Q, `q=${param("q")}`);
  expect(param("from") === "now-1h", `from=${param("from")}`);
  const st = await waitChart(2);
  expect(st.rows === 2, `legend rows ${st.rows}, want 2`);
  expect(st.points > 100, `only ${st.points} points`);
  expect(st.colored > 50, `plot area has ${st.colored} pixels of the first series' colour`);
  const value = await page.inputValue("#query");
  expect(value === LOAD_Q, `editor holds ${JSON.stringify(value)}`);
  await shot("02-explore-graph-dark");
}, { always: true });

await check("graph of a rate() over 6 series with legend values", async () => {
  await page.goto(`${base}/explore?q=${q(CPU_Q)}&from=now-1h&to=now`);
  const st = await waitChart(6);
  expect(st.rows === 6 && st.colored > 50, JSON.stringify(st));
  const meta = await page.textContent(".result-meta");
  expect(/6 series · step \d+s/.test(meta), `meta: ${meta}`);
  const lastCells = await page.$$eval(".legend-table tbody tr td:nth-child(4)", (tds) => tds.map((t) => t.textContent));
  expect(lastCells.every((t) => t && t !== "–"), `legend last values: ${lastCells}`);
  // Hover shows values at the cursor in the legend.
  const box = await page.locator(".u-over").boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.waitForFunction(() => document.querySelector(".legend-table td.cursor")?.textContent !== "");
  await shot("03-explore-cpu-lines");
  // A minimum step (e.g. the scrape interval) coarsens the auto step; it is in the URL.
  await page.selectOption("#min-step", "1m");
  await page.waitForFunction(() => /step 1m · 6\d points each/.test(document.querySelector(".result-meta")?.textContent ?? ""));
  expect(param("step") === "1m", `step=${param("step")}`);
  expect((await waitChart(6)).colored > 50, "no lines at step 1m");
  await page.selectOption("#min-step", "");
  await page.waitForFunction(() => !/step 1m/.test(document.querySelector(".result-meta")?.textContent ?? ""));
  expect(param("step") === null, `step=${param("step")}`);
});

await check("stacked mode", async () => {
  await page.click("#mode-stacked");
  await page.waitForFunction(() => document.querySelector(".chart")?.dataset.mode === "stacked");
  expect(param("stack") === "1", `stack=${param("stack")}`);
  const st = await chartState();
  expect(st.series === 6 && st.colored > 50, JSON.stringify(st));
  await shot("04-explore-cpu-stacked");
  await page.click("#mode-lines");
  await page.waitForFunction(() => document.querySelector(".chart")?.dataset.mode === "lines");
});

await check("drag on the graph zooms and puts the range in the URL", async () => {
  const box = await page.locator(".u-over").boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.3, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, y, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => /^\d+$/.test(new URL(location.href).searchParams.get("from") ?? ""));
  const from = Number(param("from"));
  const to = Number(param("to"));
  const span = to - from;
  expect(span > 10 * 60e3 && span < 25 * 60e3, `zoomed span ${span / 60e3} min, want about 18`);
  const st = await waitChart(6);
  expect(st.colored > 50, JSON.stringify(st));
  await shot("05-explore-zoomed");
  // Double click zooms out to twice the range.
  const box2 = await page.locator(".u-over").boundingBox();
  await page.mouse.dblclick(box2.x + box2.width / 2, box2.y + box2.height / 2);
  await page.waitForFunction((f) => new URL(location.href).searchParams.get("from") !== f, String(from));
  const span2 = (param("to") === "now" ? Date.now() : Number(param("to"))) - Number(param("from"));
  expect(Math.abs(span2 / span - 2) < 0.1, `zoom out: span ${span2 / 60e3} min after ${span / 60e3}`);
  await waitChart(6);
  await page.goBack();
  await page.goBack();
  await page.waitForFunction(() => new URL(location.href).searchParams.get("from") === "now-1h");
});

await check("table view from an instant query", async () => {
  await page.click("#view-table");
  await page.waitForSelector("[data-testid=result-table]");
  expect(param("view") === "table", `view=${param("view")}`);
  const rows = await page.$$eval("[data-testid=result-table] tbody tr", (r) => r.map((x) => x.textContent));
  expect(rows.length === 6, `${rows.length} rows`);
  expect(rows.some((r) => r.includes('instance="web-2:9100"') && r.includes('mode="idle"')), rows.join(" | "));
  await shot("06-explore-table");
  // A range selector answers a matrix: one row per series with its samples.
  await page.fill("#query", 'up{job="node"}[1m]');
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector(".result-meta")?.textContent.startsWith("matrix"));
  const mrows = await page.$$eval("[data-testid=result-table] tbody tr", (r) => r.map((x) => x.textContent));
  expect(mrows.length === 2 && mrows.every((r) => / @\d\d:\d\d:\d\d/.test(r)), mrows.join(" | "));
  await page.goBack();
  await page.waitForSelector("[data-testid=result-table]");
  await page.click("#view-graph");
  await waitChart(6);
});

await check("completion of metric names, label names and label values", async () => {
  await page.goto(`${base}/explore?from=now-1h&to=now`);
  await page.waitForSelector(".state-empty .chip");
  await page.click("#query");
  await page.keyboard.type("node_lo");
  await page.waitForSelector(".completions:not([hidden]) .completion");
  const first = await page.textContent(".completion[aria-selected=true] .completion-text");
  expect(first === "node_load1", `first completion ${first}`);
  await page.keyboard.press("Tab");
  expect((await page.inputValue("#query")) === "node_load1", await page.inputValue("#query"));
  await page.keyboard.type("{");
  await page.waitForSelector(".completions:not([hidden]) .completion");
  const labels = await page.$$eval(".completion .completion-text", (e) => e.map((x) => x.textContent));
  expect(labels.includes("instance") && labels.includes("job"), `labels: ${labels}`);
  await page.keyboard.type('instance="web-');
  await page.waitForFunction(() => document.querySelectorAll(".completions:not([hidden]) .kind-value").length === 2);
  await shot("07-explore-completion");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  const value = await page.inputValue("#query");
  expect(value === 'node_load1{instance="web-2:9100"', `editor: ${value}`);
  await page.keyboard.type("}");
  await page.keyboard.press("Control+Enter");
  await page.waitForURL((u) => u.searchParams.get("q") === 'node_load1{instance="web-2:9100"}');
  const st = await waitChart(1);
  expect(st.colored > 50, JSON.stringify(st));
});

await check("a parse error is shown under the editor", async () => {
  await page.fill("#query", "sum(rate(node_load1[5m])");
  await page.click("#run");
  await page.waitForSelector("[data-testid=query-error]:not([hidden])");
  const text = await page.textContent("[data-testid=query-error]");
  expect(/parse error/i.test(text), `error text: ${text}`);
  expect(await page.isVisible(".state-box .state-empty"), "the previous graph is still shown");
  await shot("08-explore-parse-error");
}, { allow: [/status of 400/] });

await check("an empty result says so", async () => {
  await page.fill("#query", 'node_load1{instance="nowhere"}');
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector(".state-box:not([hidden]) .state-empty");
  const t = await page.textContent(".state-box");
  expect(t.includes("No data"), t);
  const err = await page.isVisible("[data-testid=query-error]");
  expect(!err, "the old parse error is still shown");
});

await check("keyboard: t cycles presets, / focuses the query, ? shows help, r refreshes", async () => {
  await page.goto(`${base}/explore?q=${q(LOAD_Q)}&from=now-1h&to=now`);
  await waitChart(2);
  await page.locator("body").click({ position: { x: 5, y: 300 } });
  await page.keyboard.press("t");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("from") === "now-6h");
  await waitChart(2);
  expect((await page.textContent(".time-button")).includes("Last 6 hours"), await page.textContent(".time-button"));
  await page.keyboard.press("/");
  expect(await page.evaluate(() => document.activeElement?.id === "query"), "query box not focused");
  await page.keyboard.press("Escape");
  await page.keyboard.press("?");
  await page.waitForSelector("dialog.help[open]");
  await shot("09-help-overlay");
  await page.keyboard.press("Escape");
  await page.waitForSelector("dialog.help:not([open])", { state: "attached" });
  const req = page.waitForRequest((r) => r.url().includes("/api/v1/query_range"));
  await page.keyboard.press("r");
  await req;
});

await check("time picker: presets and a custom range", async () => {
  await page.click(".time-button");
  await page.click("[data-preset='15m']");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("from") === "now-15m");
  await page.click(".time-button");
  await page.fill("#tp-from", "now-45m");
  await page.fill("#tp-to", "now-5m");
  await shot("10-time-picker");
  await page.click(".tp-custom button[type=submit]");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("to") === "now-5m");
  expect(param("from") === "now-45m", `from=${param("from")}`);
  await waitChart(2);
});

await check("auto-refresh is in the URL and re-queries", async () => {
  await page.selectOption("#auto-refresh", "10s");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("refresh") === "10s");
  await page.waitForRequest((r) => r.url().includes("/api/v1/query_range"), { timeout: 25000 });
  await page.selectOption("#auto-refresh", "");
});

await check("theme toggle to light, kept after reload", async () => {
  const before = await page.getAttribute("html", "data-theme");
  expect(before === "dark", `started in ${before}, the browser prefers dark`);
  await page.click("#theme-toggle");
  const after = await page.getAttribute("html", "data-theme");
  expect(before !== after, `theme stayed ${after}`);
  await page.goto(`${base}/explore?q=${q(CPU_Q)}&from=now-1h&to=now&stack=1`);
  await waitChart(6);
  expect((await page.getAttribute("html", "data-theme")) === after, "theme not kept");
  await shot(`11-explore-stacked-${after}`);
  await page.goto(`${base}/explore?q=${q(CPU_Q)}&from=now-1h&to=now`);
  await waitChart(6);
  await shot(`12-explore-lines-${after}`);
  await page.click("#theme-toggle");
  expect((await page.getAttribute("html", "data-theme")) === before, "theme did not switch back");
  await waitChart(6);
});

await check("overview lists `up` targets by job with state and history", async () => {
  await page.click("a.nav-link[data-path='/overview']");
  await page.waitForURL(/\/overview/);
  await page.waitForSelector("section.job");
  const jobs = await page.$$eval("section.job h2", (e) => e.map((x) => x.textContent));
  expect(JSON.stringify(jobs) === JSON.stringify(["kansoku", "node"]), `jobs ${jobs}`);
  const rows = await page.$$eval("table.targets tbody tr", (r) => r.map((x) => x.dataset.instance));
  expect(rows.length === 3, `instances ${rows}`);
  const downCells = await page.$$eval("tr[data-instance='web-2:9100'] rect.h-down", (r) => r.length);
  expect(downCells > 0, "web-2's down period is not in its history");
  await shot("13-overview");
  // A range before any data: an empty state that says why, not an empty table.
  await page.goto(`${base}/overview?from=now-7d&to=now-3d`);
  await page.waitForSelector(".state-empty");
  const t = await page.textContent(".state-empty");
  expect(t.includes("No targets report `up`"), t);
});

await check("every page of the top bar opens (empty states where there is no data)", async () => {
  for (const [path, title] of [["/hosts", "Hosts"], ["/issues", "Issues"],
    ["/logs", "Logs"], ["/alerts", "Alerts"], ["/usage", "Usage"]]) {
    await page.click(`a.nav-link[data-path='${path}']`);
    await page.waitForURL((u) => u.pathname === path);
    const h1 = await page.textContent("h1.page-title");
    expect(h1 === title, `${path}: h1 ${h1}`);
    await page.waitForFunction(() => !document.querySelector(".state-loading"));
    const err = await page.$(".state-error");
    expect(!err, `${path}: ${err ? await err.textContent() : ""}`);
  }
  await shot("14-pages-empty");
});

await check("wall screen 3840x2160", async () => {
  await page.setViewportSize({ width: 3840, height: 2160 });
  await page.goto(`${base}/explore?q=${q(CPU_Q)}&from=now-1h&to=now`);
  const st = await waitChart(6);
  expect(st.colored > 100, JSON.stringify(st));
  const fontPx = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  expect(fontPx >= 20, `root font ${fontPx}px on 4K`);
  await shot("15-explore-4k");
  await page.goto(`${base}/overview`);
  await page.waitForSelector("section.job");
  await shot("16-overview-4k");
  await page.setViewportSize({ width: 1280, height: 800 });
});

await check("no layout jump on refresh", async () => {
  await page.goto(`${base}/explore?q=${q(LOAD_Q)}&from=now-1h&to=now`);
  await waitChart(2);
  const before = await page.locator(".chart").boundingBox();
  await page.keyboard.press("r");
  await page.waitForTimeout(400);
  await waitChart(2);
  const after = await page.locator(".chart").boundingBox();
  expect(Math.abs(before.y - after.y) < 1 && Math.abs(before.height - after.height) < 1,
    `chart moved: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  // A full reload: the browser's own layout-shift score (Layout Instability API) stays near 0.
  await page.reload();
  await waitChart(2);
  await page.waitForTimeout(300);
  const cls = await page.evaluate(() => new Promise((resolve) => {
    let sum = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) sum += e.value;
    }).observe({ type: "layout-shift", buffered: true });
    setTimeout(() => resolve(sum), 200);
  }));
  expect(cls < 0.05, `cumulative layout shift ${cls.toFixed(3)} after a reload`);
  log(`     layout shift after reload: ${cls.toFixed(4)}`);
});

await check("a 401 from the API sends you back to login with a message", async () => {
  await page.evaluate(() => localStorage.setItem("kansoku.token", "revoked-token-0000000000"));
  await page.goto(`${base}/explore?q=${q(LOAD_Q)}`);
  await page.waitForURL(/\/login\?/);
  expect(param("reason") === "expired", `reason=${param("reason")}`);
  const notice = await page.textContent(".notice");
  expect(/Sign in again/.test(notice), notice);
  await shot("17-login-after-401");
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/explore\?/);
  await waitChart(2);
}, { allow: [/status of 401/] });

let exitCode = null;
await check("server gone: the error shows where the graph was, with Retry", async () => {
  await page.goto(`${base}/explore?q=${q(LOAD_Q)}&from=now-1h&to=now`);
  await waitChart(2);
  exitCode = await server.stop();
  await page.keyboard.press("r");
  await page.waitForSelector(".state-box:not([hidden]) .state-error");
  const t = await page.textContent(".state-error");
  expect(t.includes("Server unreachable") && t.includes("Retry"), t);
  await shot("18-explore-server-gone");
}, { allow: [/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/] });

// ---------------------------------------------------------------------------------------------
await context.close();
rmSync(profile, { recursive: true, force: true });
if (exitCode === null) exitCode = await server.stop();
if (exitCode !== 0) {
  failed++;
  log(`FAIL server exit code ${exitCode}; log tail:\n${server.log().split("\n").slice(-15).join("\n")}`);
}
clearTimeout(watchdog);
if (!failed) rmSync(tmp, { recursive: true, force: true });
else log(`kept ${tmp} for inspection`);
log(`screenshots: ${SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
