// Panel views: each turns its queries into data (fetch) and data into pixels (render), and keeps
// its DOM and chart between refreshes so a refresh changes numbers, not layout.

import { ApiError, apiGet, type QueryData } from "../api";
import { TimeSeriesChart, type ChartSeries } from "../chart/timeseries";
import { color as paletteColor } from "../chart/palette";
import { h } from "../dom";
import { formatUnit, parseSampleValue, seriesName, type Labels } from "../format";
import { matchAll, parseAlertFilter } from "../alert/matchers";
import { chooseStep } from "../time";
import { empty } from "../ui/states";
import { markdownToHtml } from "./markdown";
import { legendText, PANEL_TYPES, rateInterval, substitute, type Panel, type VarValue } from "./model";

const MAX_SERIES = 500;

export interface PanelContext {
  start: number; // ms
  end: number; // ms
  vars: Map<string, VarValue>;
  signal: AbortSignal;
  /** Seconds between samples of the data (for $__rate_interval); 15 when unknown. */
  scrapeInterval?: number;
}


function withBuiltins(expr: string, stepSec: number, ctx: PanelContext): string {
  return expr.includes("$__rate_interval") ? expr.replace(/\$__rate_interval\b|\$\{__rate_interval\}/g, rateInterval(stepSec, ctx.scrapeInterval)) : expr;
}

export interface PanelView {
  /** The panel's body content. */
  readonly el: HTMLElement;
  /** Fetches what the panel shows; null when it has nothing to fetch. */
  fetch(ctx: PanelContext): Promise<unknown>;
  /** Draws fetched data (synchronous; the dashboard measures it). */
  render(data: unknown): void;
  destroy(): void;
}

export function makePanelView(p: Panel, body: HTMLElement): PanelView {
  switch (p.type) {
    case "timeseries":
      return new TimeSeriesPanel(p, body);
    case "stat":
      return new StatPanel(p);
    case "table":
      return new TablePanel(p);
    case "markdown":
      return new MarkdownPanel(p);
    case "logs":
      return new LogsPanel(p);
    case "alerts":
      return new AlertsPanel(p);
    case "issues":
      return new IssuesPanel(p);
    default:
      return new NoSourcePanel(p);
  }
}

function activeQueries(p: Panel, vars: Map<string, VarValue>): { expr: string; legend?: string }[] {
  return (p.queries ?? [])
    .filter((q) => q.expr && q.expr.trim())
    .map((q) => ({ expr: substitute(q.expr, vars), legend: q.legend ?? "" }));
}

class NoQueryError extends Error {}

interface RangeResult {
  xs: number[];
  series: { name: string; labels: Labels; values: (number | null)[] }[];
  total: number;
}

async function fetchRange(p: Panel, ctx: PanelContext, widthPx: number): Promise<RangeResult> {
  const qs = activeQueries(p, ctx.vars);
  if (!qs.length) throw new NoQueryError("This panel has no query yet. Edit it to add one.");
  const step = chooseStep(ctx.start, ctx.end, widthPx);
  const s0 = Math.floor(ctx.start / 1000 / step) * step;
  const s1 = Math.floor(ctx.end / 1000);
  const answers = await Promise.all(qs.map((q) =>
    apiGet<QueryData>("/api/v1/query_range", { query: withBuiltins(q.expr, step, ctx), start: s0, end: s1, step }, { signal: ctx.signal })));
  const xs: number[] = [];
  for (let t = s0; t <= s1; t += step) xs.push(t);
  const out: RangeResult = { xs, series: [], total: 0 };
  answers.forEach((r, qi) => {
    const d = r.data;
    if (d.resultType !== "matrix") throw new ApiError(0, `query_range answered ${d.resultType}, expected a matrix`);
    out.total += d.result.length;
    for (const m of d.result) {
      if (out.series.length >= MAX_SERIES) break;
      const values = new Array<number | null>(xs.length).fill(null);
      for (const [ts, v] of m.values) {
        const i = Math.round((ts - s0) / step);
        if (i >= 0 && i < xs.length) values[i] = parseSampleValue(v);
      }
      out.series.push({ name: legendText(qs[qi]!.legend, m.metric, seriesName(m.metric)), labels: m.metric, values });
    }
  });
  return out;
}

/** A message inside the panel body (no data, no query, no source). */
function message(title: string, detail?: string): HTMLElement {
  const el = empty(title, detail);
  el.classList.add("panel-message");
  return el;
}

class TimeSeriesPanel implements PanelView {
  readonly el: HTMLElement;
  private chart: TimeSeriesChart;
  private msg = h("div", { class: "panel-msg-box", hidden: true });

  constructor(private p: Panel, body: HTMLElement) {
    const o = p.options ?? {};
    this.chart = new TimeSeriesChart({
      height: () => this.plotHeight(body),
      unit: o.unit,
      legend: o.legend ?? "table",
      ...(typeof o.min === "number" ? { min: o.min } : {}),
      ...(typeof o.max === "number" ? { max: o.max } : {}),
      observe: body,
    });
    this.chart.el.classList.add("chart-panel");
    this.el = h("div", { class: "panel-ts" }, this.chart.el, this.msg);
  }

  private plotHeight(body: HTMLElement): number {
    const total = body.clientHeight || 200;
    const legend = this.chart?.el.querySelector<HTMLElement>(".legend");
    const lh = legend && !legend.hidden ? legend.offsetHeight + 6 : 0;
    return Math.max(60, total - lh);
  }

  fetch(ctx: PanelContext): Promise<unknown> {
    return fetchRange(this.p, ctx, this.chart.width());
  }

  render(data: unknown): void {
    const r = data as RangeResult;
    if (!r.series.length) {
      this.chart.clear();
      this.chart.el.hidden = true;
      this.msg.hidden = false;
      this.msg.replaceChildren(message("No data", "The query returned no series in this time range."));
      return;
    }
    this.msg.hidden = true;
    this.chart.el.hidden = false;
    const series: ChartSeries[] = r.series.map((s) => ({ name: s.name, values: s.values }));
    this.chart.setData({ xs: r.xs, series, stacked: !!this.p.options?.stacked });
  }

  destroy(): void {
    this.chart.destroy();
  }
}

const NAMED_COLORS: Record<string, string> = {
  green: "var(--ok)", red: "var(--danger)", yellow: "var(--warn)", orange: "#ff7a30",
  blue: "var(--accent)", gray: "var(--fg-muted)", grey: "var(--fg-muted)",
};

export function thresholdColor(v: number | null, p: Panel): string | null {
  const ts = [...(p.options?.thresholds ?? [])].sort((a, b) => a.value - b.value);
  if (v === null || !ts.length) return null;
  let c: string | null = null;
  for (const t of ts) if (v >= t.value) c = t.color;
  if (c === null) return null;
  return NAMED_COLORS[c] ?? c;
}

interface StatTile {
  el: HTMLElement;
  value: HTMLElement;
  label: HTMLElement;
  path: SVGPathElement;
}

const SVG = "http://www.w3.org/2000/svg";

class StatPanel implements PanelView {
  readonly el: HTMLElement;
  private tiles: StatTile[] = [];

  constructor(private p: Panel) {
    this.el = h("div", { class: "panel-stat" });
  }

  fetch(ctx: PanelContext): Promise<unknown> {
    return fetchRange(this.p, ctx, 120);
  }

  private tile(): StatTile {
    const value = h("div", { class: "stat-value" });
    const label = h("div", { class: "stat-label" });
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "stat-spark");
    svg.setAttribute("viewBox", "0 0 100 30");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    svg.appendChild(path);
    const el = h("div", { class: "stat-tile" }, svg, value, label);
    return { el, value, label, path };
  }

  render(data: unknown): void {
    const r = data as RangeResult;
    if (!r.series.length) {
      this.tiles = [];
      this.el.replaceChildren(message("No data"));
      return;
    }
    const n = Math.min(r.series.length, 24);
    if (this.tiles.length !== n) {
      this.tiles = Array.from({ length: n }, () => this.tile());
      this.el.replaceChildren(...this.tiles.map((t) => t.el));
    }
    this.el.dataset["tiles"] = String(n);
    const o = this.p.options ?? {};
    const spark = o.sparkline !== false;
    r.series.slice(0, n).forEach((s, i) => {
      const t = this.tiles[i]!;
      let last: number | null = null;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of s.values) {
        if (v === null || !Number.isFinite(v)) continue;
        last = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      t.value.textContent = formatUnit(last, o.unit, o.decimals);
      t.label.textContent = n > 1 ? s.name : "";
      t.label.hidden = n === 1;
      const c = thresholdColor(last, this.p) ?? (n > 1 ? paletteColor(i) : "var(--fg)");
      t.value.style.color = c;
      t.el.style.setProperty("--stat-color", c);
      let d = "";
      if (spark && hi >= lo) {
        const span = hi - lo || 1;
        const len = s.values.length;
        let pen = false;
        s.values.forEach((v, j) => {
          if (v === null || !Number.isFinite(v)) {
            pen = false;
            return;
          }
          const x = len > 1 ? (j / (len - 1)) * 100 : 50;
          const y = 28 - ((v - lo) / span) * 26;
          d += `${pen ? "L" : "M"}${x.toFixed(2)},${y.toFixed(2)}`;
          pen = true;
        });
      }
      t.path.setAttribute("d", d);
    });
  }

  destroy(): void {
    this.tiles = [];
    this.el.replaceChildren();
  }
}

interface TableData {
  rows: { labels: Labels; value: string }[];
}

class TablePanel implements PanelView {
  readonly el: HTMLElement;
  private thead = h("thead");
  private tbody = h("tbody");
  private table: HTMLElement;

  constructor(private p: Panel) {
    this.table = h("table", { class: "data-table panel-table" }, this.thead, this.tbody);
    this.el = h("div", { class: "table-scroll panel-table-box" }, this.table);
  }

  async fetch(ctx: PanelContext): Promise<unknown> {
    const qs = activeQueries(this.p, ctx.vars);
    if (!qs.length) throw new NoQueryError("This panel has no query yet. Edit it to add one.");
    const answers = await Promise.all(qs.map((q) =>
      apiGet<QueryData>("/api/v1/query", { query: withBuiltins(q.expr, Math.max(1, (ctx.end - ctx.start) / 1000 / 100), ctx), time: (ctx.end / 1000).toFixed(3) }, { signal: ctx.signal })));
    const rows: TableData["rows"] = [];
    for (const r of answers) {
      const d = r.data;
      if (d.resultType === "vector") for (const s of d.result) rows.push({ labels: s.metric, value: s.value[1] });
      else if (d.resultType === "scalar") rows.push({ labels: {}, value: d.result[1] });
      else throw new ApiError(0, `A table panel shows instant vectors; the query answered a ${d.resultType}.`);
    }
    return { rows } satisfies TableData;
  }

  render(data: unknown): void {
    const { rows } = data as TableData;
    if (!rows.length) {
      this.thead.replaceChildren();
      this.tbody.replaceChildren(h("tr", null, h("td", { class: "muted" }, "No data")));
      return;
    }
    const keys = new Set<string>();
    const names = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r.labels)) (k === "__name__" ? names : keys).add(k);
    const cols = [...(names.size > 1 || (names.size === 1 && rows.some((r) => !r.labels["__name__"])) ? ["__name__"] : []), ...[...keys].sort()];
    const unit = this.p.options?.unit;
    const dec = this.p.options?.decimals;
    this.thead.replaceChildren(h("tr", null, cols.map((c) => h("th", null, c === "__name__" ? "name" : c)), h("th", { class: "num" }, "Value")));
    const sorted = [...rows].sort((a, b) => parseSampleValue(b.value) - parseSampleValue(a.value));
    this.tbody.replaceChildren(...sorted.slice(0, 1000).map((r) => {
      const v = parseSampleValue(r.value);
      const c = thresholdColor(v, this.p);
      return h("tr", null, cols.map((k) => h("td", { class: "mono" }, r.labels[k] ?? "")),
        h("td", { class: "num mono", style: c ? `color:${c}` : null }, formatUnit(v, unit, dec)));
    }));
  }

  destroy(): void {
    this.tbody.replaceChildren();
  }
}

class MarkdownPanel implements PanelView {
  readonly el: HTMLElement;
  constructor(p: Panel) {
    this.el = h("div", { class: "panel-markdown" });
    const text = typeof p.options?.text === "string" ? p.options.text : "";
    if (text.trim()) this.el.innerHTML = markdownToHtml(text); // escaped by markdownToHtml
    else this.el.append(message("Empty text", "Edit the panel to write Markdown."));
  }
  fetch(): Promise<unknown> {
    return Promise.resolve(null);
  }
  render(): void {}
  destroy(): void {}
}

interface LogRow {
  _time: string;
  _msg: string;
  [k: string]: unknown;
}

interface LogAnswer {
  type: "rows" | "table";
  rows: LogRow[];
}

const LEVELS: Record<string, string> = {
  error: "bad", err: "bad", fatal: "bad", critical: "bad", crit: "bad", panic: "bad", emerg: "bad", alert: "bad",
  warn: "warn", warning: "warn",
};

/** Newest log records matching the panel's log query in the range (GET /api/v1/logs/query). */
class LogsPanel implements PanelView {
  readonly el: HTMLElement;
  private tbody = h("tbody");

  constructor(private p: Panel) {
    this.el = h("div", { class: "table-scroll panel-logs" }, h("table", { class: "data-table log-table" }, this.tbody));
  }

  async fetch(ctx: PanelContext): Promise<unknown> {
    const o = this.p.options ?? {};
    const q = typeof o["query"] === "string" && o["query"].trim() ? substitute(o["query"], ctx.vars) : "*";
    const limit = typeof o["limit"] === "number" ? Math.max(1, Math.min(1000, o["limit"])) : 50;
    const r = await apiGet<LogAnswer>("/api/v1/logs/query",
      { query: q, start: Math.floor(ctx.start), end: Math.ceil(ctx.end), limit }, { signal: ctx.signal });
    if (r.data.type !== "rows") throw new ApiError(0, "A log stream panel shows records; this query ends in | stats (use a table in Logs).");
    return r.data.rows ?? [];
  }

  render(data: unknown): void {
    const rows = data as LogRow[];
    this.el.dataset["rows"] = String(rows.length);
    if (!rows.length) {
      this.tbody.replaceChildren(h("tr", null, h("td", { class: "muted" }, "No log records in this time range.")));
      return;
    }
    this.tbody.replaceChildren(...rows.map((r) => {
      const t = new Date(r._time);
      const pad = (n: number) => String(n).padStart(2, "0");
      const time = Number.isNaN(t.getTime()) ? r._time : `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
      const level = typeof r["level"] === "string" ? (r["level"] as string) : "";
      const who = [r["service"], r["host"]].filter((x) => typeof x === "string" && x).join(" · ");
      return h("tr", { class: `log-row ${LEVELS[level.toLowerCase()] ? `lvl-${LEVELS[level.toLowerCase()]}` : ""}` },
        h("td", { class: "mono muted log-time", title: r._time }, time),
        h("td", { class: "log-level" }, level),
        h("td", { class: "muted small log-who" }, who),
        h("td", { class: "mono log-msg", title: r._msg }, r._msg));
    }));
  }

  destroy(): void {
    this.tbody.replaceChildren();
  }
}

interface PanelAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt: string;
  value: string;
}

function sinceText(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 90 ? `${s}s` : s < 5400 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}



/** Firing and pending alerts (GET /api/v1/alerts), firing first; option `filter` narrows by labels. */
class AlertsPanel implements PanelView {
  readonly el: HTMLElement;

  constructor(private p: Panel) {
    this.el = h("div", { class: "panel-alerts" });
  }

  async fetch(ctx: PanelContext): Promise<unknown> {
    const o = this.p.options ?? {};
    const f = typeof o["filter"] === "string" ? substitute(o["filter"], ctx.vars) : "";
    const ms = parseAlertFilter(f);
    if (typeof ms === "string") throw new ApiError(0, ms);
    const r = await apiGet<{ alerts: PanelAlert[] }>("/api/v1/alerts", {}, { signal: ctx.signal });
    const pendingToo = o["pending"] !== false;
    return (r.data.alerts ?? []).filter((a) => (a.state === "firing" || (pendingToo && a.state === "pending")) && matchAll(ms, a.labels))
      .sort((a, b) => (a.state === b.state ? Date.parse(a.activeAt) - Date.parse(b.activeAt) : a.state === "firing" ? -1 : 1));
  }

  render(data: unknown): void {
    const list = data as PanelAlert[];
    const firing = list.filter((a) => a.state === "firing").length;
    this.el.dataset["firing"] = String(firing);
    this.el.dataset["alerts"] = String(list.length);
    this.el.classList.toggle("all-clear", !firing);
    if (!list.length) {
      this.el.replaceChildren(h("div", { class: "alerts-clear" }, h("span", { class: "alerts-clear-mark" }, "✓"), h("span", null, "No alert firing")));
      return;
    }
    this.el.replaceChildren(h("ul", { class: "panel-alert-list" }, list.map((a) => h("li", { class: `panel-alert state-${a.state}`, "data-alertname": a.labels["alertname"] ?? "" },
      h("span", { class: `badge ${a.state === "firing" ? "badge-bad" : "badge-warn"}` }, a.state),
      h("a", { class: "panel-alert-name", href: "/alerts" }, a.labels["alertname"] ?? "(no name)"),
      h("span", { class: "muted small panel-alert-what" }, a.annotations["summary"] ?? Object.entries(a.labels).filter(([k]) => k !== "alertname").map(([k, v]) => `${k}=${v}`).join(" ")),
      h("span", { class: "muted small panel-alert-since" }, sinceText(a.activeAt))))));
  }

  destroy(): void {
    this.el.replaceChildren();
  }
}

interface PanelIssue {
  id: number;
  title: string;
  culprit: string;
  level: string;
  count: number;
  users: number;
  last_seen: string;
}

/** Unresolved issues (GET /api/v1/issues); options `project` (id), `query`, `limit`, `sort`. */
class IssuesPanel implements PanelView {
  readonly el: HTMLElement;
  private tbody = h("tbody");

  constructor(private p: Panel) {
    this.el = h("div", { class: "table-scroll panel-issues" }, h("table", { class: "data-table issue-list-table" }, this.tbody));
  }

  async fetch(ctx: PanelContext): Promise<unknown> {
    const o = this.p.options ?? {};
    const limit = typeof o["limit"] === "number" ? Math.max(1, Math.min(100, o["limit"])) : 10;
    const project = o["project"] !== undefined && o["project"] !== "" ? String(o["project"]) : undefined;
    const query = typeof o["query"] === "string" && o["query"].trim() ? substitute(o["query"], ctx.vars) : undefined;
    const sort = typeof o["sort"] === "string" && o["sort"] ? o["sort"] : "last_seen";
    const r = await apiGet<PanelIssue[]>("/api/v1/issues", { status: "unresolved", project, query, sort, limit }, { signal: ctx.signal });
    return r.data ?? [];
  }

  render(data: unknown): void {
    const list = data as PanelIssue[];
    this.el.dataset["rows"] = String(list.length);
    if (!list.length) {
      this.tbody.replaceChildren(h("tr", null, h("td", { class: "muted" }, "No unresolved issues.")));
      return;
    }
    this.tbody.replaceChildren(...list.map((i) => h("tr", { class: `panel-issue lvl-${i.level}`, "data-issue": String(i.id) },
      h("td", { class: "panel-issue-title" }, h("a", { href: `/issues/${i.id}` }, i.title || "(no title)"), h("div", { class: "muted small mono" }, i.culprit)),
      h("td", { class: "num" }, String(i.count)),
      h("td", { class: "num muted small" }, sinceText(i.last_seen)))));
  }

  destroy(): void {
    this.tbody.replaceChildren();
  }
}

class NoSourcePanel implements PanelView {
  readonly el: HTMLElement;
  constructor(p: Panel) {
    const t = PANEL_TYPES.find((x) => x.type === p.type);
    this.el = h("div", { class: "panel-nosource" },
      message("No data source yet", `${t?.label ?? p.type} panels show data once the server has ${t?.needs ?? "its API"}.`));
  }
  fetch(): Promise<unknown> {
    return Promise.resolve(null);
  }
  render(): void {}
  destroy(): void {}
}

export function isNoQuery(e: unknown): boolean {
  return e instanceof NoQueryError;
}
