// Shared harness of the browser tests: the real server on port 0 (temp data dir), data sent by
// curl, Debian chromium via playwright-core, named checks that fail on console errors, and
// screenshots for review.
//
//   KANSOKU_BIN      the server binary (default build/release/kansoku)
//   CHROMIUM_PATH    (default /usr/bin/chromium)
//   UI_SCREENSHOTS   where screenshots go (default build/ui-screenshots)
//   UI_ONLY          run only checks whose name matches this regex (debugging)

import { execFileSync } from "node:child_process";
import * as fsMod from "node:fs";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const BIN = process.env.KANSOKU_BIN || join(repo, "build/release/kansoku");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const SHOTS = resolve(process.env.UI_SCREENSHOTS || join(repo, "build/ui-screenshots"));
const WEB_DIR = join(repo, "web/dist");
export const TOKEN = "ui-test-admin-token-7f3a9c2e41";

export function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Starts server + browser; returns the harness. */
export async function setup({ name, deadlineMs = 240_000, viewport = { width: 1280, height: 800 }, config }) {
  const started = Date.now();
  const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);
  const t = { passed: 0, failed: 0, log };
  const fatal = (msg) => {
    console.log(`FATAL: ${msg}`);
    console.log(`${t.passed} passed, ${t.failed + 1} failed`);
    process.exit(1);
  };
  t.fatal = fatal;
  t.watchdog = setTimeout(() => fatal(`${name} did not finish in ${deadlineMs / 1000}s`), deadlineMs);
  if (!existsSync(BIN)) fatal(`no server binary at ${BIN} (set KANSOKU_BIN or build the kansoku target)`);
  if (!existsSync(CHROMIUM)) fatal(`no chromium at ${CHROMIUM}: run scripts/install-deps`);
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    fatal(`playwright-core is not installed in tests/ui (run scripts/install-deps): ${e.message}`);
  }
  try {
    execFileSync(join(repo, "scripts/build-web"), { stdio: "inherit" });
  } catch (e) {
    fatal(`scripts/build-web failed: ${e.message}`);
  }
  if (!existsSync(join(WEB_DIR, "index.html"))) fatal(`no ${WEB_DIR}/index.html after scripts/build-web`);
  mkdirSync(SHOTS, { recursive: true });
  t.tmp = mkdtempSync(join(tmpdir(), `kansoku-${name}-`));
  let configPath;
  if (config) {
    configPath = join(t.tmp, "kansoku.yml");
    writeFileSync(configPath, config);
  }
  t.server = await startServer({ bin: BIN, dataDir: join(t.tmp, "data"), webDir: WEB_DIR, token: TOKEN, config: configPath }).catch((e) => fatal(e.message));
  t.base = t.server.url;
  log(`server at ${t.base}, data in ${t.tmp}, screenshots in ${SHOTS}`);

  /** POSTs Prometheus text with curl (a real client) to the import API. */
  t.importProm = (body, label) => {
    const file = join(t.tmp, `${label}.prom`);
    writeFileSync(file, body);
    const code = execFileSync("curl", [
      "-sS", "-o", join(t.tmp, `${label}.out`), "-w", "%{http_code}", "-H", `Authorization: Bearer ${TOKEN}`,
      "-H", "Content-Type: text/plain; version=0.0.4", "--data-binary", `@${file}`,
      `${t.base}/api/v1/import/prometheus`,
    ]).toString();
    if (code !== "204") fatal(`import ${label} answered ${code}, want 204`);
  };

  /** POSTs JSON lines with curl to the logs ingest endpoint. */
  t.postLogs = (body) => {
    const file = join(t.tmp, "logs.jsonl");
    writeFileSync(file, body);
    const code = execFileSync("curl", [
      "-sS", "-o", join(t.tmp, "logs.out"), "-w", "%{http_code}", "-H", `Authorization: Bearer ${TOKEN}`,
      "-H", "Content-Type: application/x-ndjson", "--data-binary", `@${file}`, `${t.base}/insert/jsonline`,
    ]).toString();
    if (code !== "200") fatal(`log ingest answered ${code}, want 200`);
  };

  /** The API with curl, for set-up and for checking what the UI stored. */
  t.api = (method, path, body) => {
    const args = ["-sS", "-X", method, "-w", "\n%{http_code}", "-H", `Authorization: Bearer ${TOKEN}`];
    if (body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", JSON.stringify(body));
    const out = execFileSync("curl", [...args, `${t.base}${path}`]).toString();
    const nl = out.lastIndexOf("\n");
    const status = Number(out.slice(nl + 1));
    let json = null;
    try { json = JSON.parse(out.slice(0, nl)); } catch { json = null; }
    return { status, json };
  };

  t.profile = mkdtempSync(join(tmpdir(), "kansoku-chromium-"));
  t.context = await chromium.launchPersistentContext(t.profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    viewport,
    colorScheme: "dark",
    acceptDownloads: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--enable-precise-memory-info", "--js-flags=--expose-gc"],
  });
  const page = t.context.pages()[0] || (await t.context.newPage());
  page.setDefaultTimeout(20000);
  t.page = page;
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  t.takeErrors = (allowed = []) => {
    const bad = consoleErrors.filter((e) => !allowed.some((re) => re.test(e)));
    consoleErrors.length = 0;
    return bad;
  };
  t.shot = (n) => page.screenshot({ path: join(SHOTS, `${n}.png`) });
  t.check = async (checkName, fn, { allow = [], always = false } = {}) => {
    const only = process.env.UI_ONLY;
    if (only && !always && !new RegExp(only).test(checkName)) return;
    const t0 = Date.now();
    try {
      await fn();
      const bad = t.takeErrors(allow);
      if (bad.length) throw new Error(`console errors:\n    ${bad.join("\n    ")}`);
      t.passed++;
      log(`ok   ${checkName} (${Date.now() - t0} ms)`);
    } catch (e) {
      t.failed++;
      t.takeErrors();
      log(`FAIL ${checkName}: ${e.message.split("\n").slice(0, 8).join("\n    ")}`);
      await page.screenshot({ path: join(SHOTS, `FAIL-${name}-${checkName.replace(/\W+/g, "_")}.png`) }).catch(() => {});
    }
  };
  t.login = async () => {
    await page.goto(`${t.base}/login`);
    await page.fill("#token", TOKEN);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/overview/);
  };
  t.finish = async () => {
    await t.context.close();
    rmSync(t.profile, { recursive: true, force: true });
    const code = await t.server.stop();
    if (code !== 0) {
      t.failed++;
      log(`FAIL server exit code ${code}; log tail:\n${t.server.log().split("\n").slice(-15).join("\n")}`);
    }
    clearTimeout(t.watchdog);
    if (!t.failed) rmSync(t.tmp, { recursive: true, force: true });
    else log(`kept ${t.tmp} for inspection`);
    log(`screenshots: ${SHOTS}`);
    console.log(`${t.passed} passed, ${t.failed} failed`);
    process.exit(t.failed ? 1 : 0);
  };
  return t;
}

/**
 * Pixels of series colours inside a panel's plot area (the canvas really has lines), plus the
 * chart's own counters.
 */
export async function panelChart(page, panelSelector) {
  return page.evaluate((sel) => {
    const panel = document.querySelector(sel);
    const chart = panel?.querySelector(".chart");
    const canvas = chart?.querySelector("canvas");
    const over = chart?.querySelector(".u-over");
    if (!chart || !canvas || !over) return { ready: false };
    const cr = canvas.getBoundingClientRect();
    const or = over.getBoundingClientRect();
    const sx = canvas.width / cr.width;
    const ctx = canvas.getContext("2d");
    const img = ctx.getImageData(Math.round((or.left - cr.left) * sx), Math.round((or.top - cr.top) * sx),
      Math.max(1, Math.round(or.width * sx)), Math.max(1, Math.round(or.height * sx))).data;
    const swatches = [...chart.querySelectorAll(".swatch")].slice(0, 12)
      .map((s) => getComputedStyle(s).backgroundColor.match(/\d+/g).map(Number));
    let colored = 0;
    for (let i = 0; i < img.length; i += 4) {
      if (img[i + 3] < 150) continue;
      for (const [R, G, B] of swatches) {
        if (Math.abs(img[i] - R) + Math.abs(img[i + 1] - G) + Math.abs(img[i + 2] - B) < 60) { colored++; break; }
      }
    }
    return {
      ready: true, colored, series: Number(chart.dataset.series), points: Number(chart.dataset.points),
      builds: Number(chart.dataset.builds), legendRows: chart.querySelectorAll(".legend-table tbody tr").length,
    };
  }, panelSelector);
}

/**
 * panelChart() polled until ok(state) holds or ms pass; returns the last state either way. The
 * chart's data attributes are set when its data arrive, its canvas when uPlot next draws (a
 * rebuild or a resize clears it first), so one look right after the data can see a half-drawn
 * canvas.
 */
export async function drawnChart(page, panelSelector, ok, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const st = await panelChart(page, panelSelector);
    if (ok(st) || Date.now() > end) return st;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * CPU time (ms) used so far by the browser: every descendant process of this test except the
 * kansoku server (renderer, GPU/raster and browser processes). On a CI machine shared with
 * builds, wall time measures the machine's load; CPU time measures the UI's own work.
 */
export function browserCpuMs() {
  const { readdirSync, readFileSync } = fsMod;
  const parent = new Map();
  const info = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    parent.set(Number(d), Number(f[1]));
    info.set(Number(d), { comm, ticks: Number(f[11]) + Number(f[12]) });
  }
  let ticks = 0;
  for (const [pid, { comm, ticks: t }] of info) {
    if (comm.startsWith("kansoku")) continue;
    let p = parent.get(pid);
    while (p && p !== process.pid && p !== 1) p = parent.get(p);
    if (p === process.pid) ticks += t;
  }
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
