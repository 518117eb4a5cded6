// Explore: PromQL editor with completion, graph (query_range) or table (instant query).
// URL: /explore?q=<expr>&view=graph|table&stack=1&from=now-1h&to=now

import { ApiError, apiGet, isAbort, type QueryData } from "../api";
import { TimeSeriesChart, type ChartSeries } from "../chart/timeseries";
import { h, remPx, setChildren } from "../dom";
import { QueryEditor } from "../explore/editor";
import { labelApiSource } from "../explore/source";
import { parseSampleValue, seriesName } from "../format";
import { chooseStep, formatDateTime, formatDuration, parseDuration, resolveRange } from "../time";
import { describe, empty, errorBox, setBusy } from "../ui/states";
import { zoomOutRange } from "../ui/timepicker";
import { current, rangeOf, setParams, type Loc } from "../url";
import type { Page } from "./page";

const MAX_GRAPH_SERIES = 500;
const MIN_STEPS = ["", "15s", "30s", "1m", "5m", "15m", "1h"];

type View = "graph" | "table";

export function explorePage(): Page {
  return new ExplorePage();
}

class ExplorePage implements Page {
  readonly el: HTMLElement;
  readonly title = "Explore";
  private editor: QueryEditor;
  private queryError: HTMLElement;
  private warnings: HTMLElement;
  private meta: HTMLElement;
  private body: HTMLElement;
  private graphBox: HTMLElement;
  private tableBox: HTMLElement;
  private stateBox: HTMLElement;
  private chart: TimeSeriesChart;
  private viewButtons: Record<View, HTMLButtonElement>;
  private stackButtons: Record<"lines" | "stacked", HTMLButtonElement>;
  private ctrl: AbortController | null = null;
  private fetchedKey = "";
  private lastGraph: { xs: number[]; series: ChartSeries[] } | null = null;
  private busyTimer = 0;
  private stepSelect: HTMLSelectElement;

  constructor() {
    const source = labelApiSource();
    this.editor = new QueryEditor(source, () => this.run());
    this.queryError = h("div", { class: "query-error", role: "alert", "data-testid": "query-error", hidden: true });
    const seg = (label: string, pressed: boolean, onclick: () => void) =>
      h("button", { type: "button", class: "seg-btn", "aria-pressed": pressed ? "true" : "false", onclick }, label);
    this.viewButtons = {
      graph: seg("Graph", true, () => setParams({ view: null })),
      table: seg("Table", false, () => setParams({ view: "table" })),
    };
    this.stackButtons = {
      lines: seg("Lines", true, () => setParams({ stack: null }, { replace: true })),
      stacked: seg("Stacked", false, () => setParams({ stack: "1" }, { replace: true })),
    };
    this.stackButtons.lines.id = "mode-lines";
    this.stackButtons.stacked.id = "mode-stacked";
    this.viewButtons.graph.id = "view-graph";
    this.viewButtons.table.id = "view-table";
    this.stepSelect = h("select", {
      id: "min-step", class: "select select-small", title: "Smallest step between points (auto: from the graph's width)",
      onchange: () => setParams({ step: this.stepSelect.value || null }),
    }, MIN_STEPS.map((v) => h("option", { value: v }, v || "auto")));
    const runButton = h("button", { class: "btn btn-primary", type: "button", id: "run", title: "Run (Ctrl+Enter)", onclick: () => this.run() }, "Run");

    this.meta = h("div", { class: "result-meta muted small", "aria-live": "polite" });
    this.warnings = h("div", { class: "warnings", hidden: true });
    this.chart = new TimeSeriesChart({
      height: () => {
        const px = this.plotHeight();
        // The empty/error state takes the graph's place at the graph's height.
        if (this.stateBox) this.stateBox.style.minHeight = `${px}px`;
        return px;
      },
      onZoom: (a, b) => setParams({ from: String(a), to: String(b) }),
      onZoomOut: () => zoomOutRange(),
    });
    this.graphBox = h("div", { class: "graph-box" }, this.chart.el);
    this.tableBox = h("div", { class: "table-box", hidden: true });
    this.stateBox = h("div", { class: "state-box", hidden: true });
    this.stateBox.style.minHeight = `${this.plotHeight()}px`;
    this.body = h("section", { class: "result panel", "aria-label": "Result" },
      h("div", { class: "result-head" },
        h("div", { class: "seg", role: "group", "aria-label": "View" }, this.viewButtons.graph, this.viewButtons.table),
        h("div", { class: "seg", role: "group", "aria-label": "Graph mode" }, this.stackButtons.lines, this.stackButtons.stacked),
        h("label", { class: "small muted", for: "min-step" }, "Min step"),
        this.stepSelect,
        this.meta),
      this.warnings, this.stateBox, this.graphBox, this.tableBox,
      h("div", { class: "busy-overlay", "aria-hidden": "true" }, h("span", { class: "spinner" })));

    this.el = h("main", { class: "page page-explore" },
      h("h1", { class: "sr-only" }, "Explore"),
      h("section", { class: "panel editor-panel", "aria-label": "Query" },
        h("div", { class: "editor-row" }, this.editor.el, runButton),
        this.queryError),
      this.body);
  }

  update(loc: Loc): void {
    const q = loc.params.get("q") ?? "";
    if (document.activeElement !== this.editor.textarea || !this.editor.value) this.editor.value = q;
    const view = this.view(loc);
    const stacked = loc.params.get("stack") === "1";
    this.viewButtons.graph.setAttribute("aria-pressed", String(view === "graph"));
    this.viewButtons.table.setAttribute("aria-pressed", String(view === "table"));
    this.stackButtons.lines.setAttribute("aria-pressed", String(!stacked));
    this.stackButtons.stacked.setAttribute("aria-pressed", String(stacked));
    for (const b of Object.values(this.stackButtons)) b.disabled = view !== "graph";
    const minStep = loc.params.get("step") ?? "";
    this.stepSelect.value = MIN_STEPS.includes(minStep) ? minStep : "";
    this.stepSelect.disabled = view !== "graph";
    this.graphBox.hidden = view !== "graph";
    this.tableBox.hidden = view !== "table";

    const r = rangeOf(loc.params);
    const key = [q, view, r.from, r.to, view === "graph" ? minStep : ""].join("\u0000");
    if (key !== this.fetchedKey) {
      this.fetchedKey = key;
      void this.load();
    } else if (view === "graph" && this.lastGraph) {
      this.chart.setData({ ...this.lastGraph, stacked });
    }
  }

  refresh(): void {
    void this.load();
  }

  focusSearch(): boolean {
    this.editor.focus();
    return true;
  }

  destroy(): void {
    this.ctrl?.abort();
    clearTimeout(this.busyTimer);
    this.chart.destroy();
  }

  /** A laptop keeps the legend in view; a wall screen gives most of its height to the graph. */
  private plotHeight(): number {
    const vh = window.innerHeight;
    return Math.round(Math.max(16 * remPx(), vh * (vh > 1200 ? 0.58 : 0.45)));
  }

  private view(loc: Loc): View {
    return loc.params.get("view") === "table" ? "table" : "graph";
  }

  /** Run: the editor's text goes into the URL; the same text again means refresh. */
  private run(): void {
    const q = this.editor.value.trim();
    if (q === (current().params.get("q") ?? "")) void this.load();
    else setParams({ q: q || null });
  }

  private async load(): Promise<void> {
    const loc = current();
    const q = (loc.params.get("q") ?? "").trim();
    const view = this.view(loc);
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    this.showQueryError(null);
    if (!q) {
      this.lastGraph = null;
      this.chart.clear();
      this.meta.textContent = "";
      this.setWarnings([]);
      this.showState(await this.startHint(ctrl.signal));
      return;
    }
    clearTimeout(this.busyTimer);
    this.busyTimer = window.setTimeout(() => setBusy(this.body, true), 150);
    const t0 = performance.now();
    try {
      if (view === "graph") await this.loadGraph(q, ctrl.signal, t0);
      else await this.loadTable(q, ctrl.signal, t0);
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && (e.status === 400 || e.status === 422)) {
        // The message goes under the editor; the old result is not this query's, so it goes.
        this.showQueryError(e);
        this.lastGraph = null;
        this.chart.clear();
        this.tableBox.replaceChildren();
        this.setWarnings([]);
        this.showState(empty("Nothing to show", "The query has an error, shown under the editor."));
      } else if (!(e instanceof ApiError && e.status === 401)) {
        this.showState(errorBox(e, () => this.refresh()));
      }
      this.meta.textContent = "";
    } finally {
      if (this.ctrl === ctrl) {
        clearTimeout(this.busyTimer);
        setBusy(this.body, false);
      }
    }
  }

  private async loadGraph(q: string, signal: AbortSignal, t0: number): Promise<void> {
    const { start, end } = resolveRange(rangeOf(current().params));
    // Auto step from the width; a chosen minimum (e.g. the scrape interval) only makes it coarser.
    const minMs = parseDuration(current().params.get("step") ?? "") ?? 0;
    const step = Math.max(chooseStep(start, end, this.chart.width()), Math.round(minMs / 1000));
    const s0 = Math.floor(start / 1000 / step) * step;
    const s1 = Math.floor(end / 1000);
    const r = await apiGet<QueryData>("/api/v1/query_range", { query: q, start: s0, end: s1, step }, { signal });
    const d = r.data;
    this.setWarnings([...(r.warnings ?? []), ...(r.infos ?? [])]);
    if (d.resultType !== "matrix") throw new ApiError(0, `query_range answered ${d.resultType}, expected a matrix`);
    const xs: number[] = [];
    for (let t = s0; t <= s1; t += step) xs.push(t);
    const all = d.result;
    const shown = all.slice(0, MAX_GRAPH_SERIES);
    const series: ChartSeries[] = shown.map((m) => {
      const values = new Array<number | null>(xs.length).fill(null);
      for (const [ts, v] of m.values) {
        const i = Math.round((ts - s0) / step);
        if (i >= 0 && i < xs.length) values[i] = parseSampleValue(v);
      }
      return { name: seriesName(m.metric), values };
    });
    const ms = Math.round(performance.now() - t0);
    this.meta.textContent = `${all.length} series · step ${formatDuration(step)} · ${xs.length} points each · ${ms} ms`;
    if (all.length > shown.length) this.setWarnings([`Showing the first ${MAX_GRAPH_SERIES} of ${all.length} series; narrow the query to see the rest.`]);
    if (!series.length) {
      this.lastGraph = null;
      this.chart.clear();
      this.showState(empty("No data", "The query returned no series in this time range. Widen the range or check the selector."));
      return;
    }
    this.showState(null);
    this.lastGraph = { xs, series };
    this.chart.setData({ xs, series, stacked: current().params.get("stack") === "1" });
  }

  private async loadTable(q: string, signal: AbortSignal, t0: number): Promise<void> {
    const { end } = resolveRange(rangeOf(current().params));
    const r = await apiGet<QueryData>("/api/v1/query", { query: q, time: (end / 1000).toFixed(3) }, { signal });
    this.setWarnings([...(r.warnings ?? []), ...(r.infos ?? [])]);
    const ms = Math.round(performance.now() - t0);
    const d = r.data;
    const at = `at ${formatDateTime(end)}`;
    let table: HTMLElement;
    let count = 0;
    if (d.resultType === "vector") {
      count = d.result.length;
      const rows = [...d.result].sort((a, b) => seriesName(a.metric).localeCompare(seriesName(b.metric)));
      table = dataTable(["Series", "Value"], rows.map((s) => [seriesName(s.metric), s.value[1]]));
    } else if (d.resultType === "matrix") {
      count = d.result.length;
      table = dataTable(["Series", "Samples (value @ time)"], d.result.map((s) => [
        seriesName(s.metric),
        s.values.map(([t, v]) => `${v} @${formatDateTime(t * 1000, true)}`).join("\n"),
      ]));
    } else {
      count = 1;
      table = dataTable([d.resultType === "scalar" ? "Scalar" : "String"], [[d.result[1]]]);
    }
    this.meta.textContent = `${d.resultType} · ${count} ${count === 1 ? "result" : "results"} ${at} · ${ms} ms`;
    if (count === 0) {
      this.tableBox.replaceChildren();
      this.showState(empty("No data", `The query returned an empty ${d.resultType} ${at}.`));
      return;
    }
    this.showState(null);
    this.tableBox.replaceChildren(table);
  }

  private showState(el: HTMLElement | null): void {
    this.stateBox.hidden = !el;
    if (el) setChildren(this.stateBox, el);
    const view = this.view(current());
    this.graphBox.hidden = !!el || view !== "graph";
    this.tableBox.hidden = !!el || view !== "table";
  }

  private showQueryError(e: ApiError | null): void {
    this.queryError.hidden = !e;
    this.queryError.replaceChildren();
    if (e) {
      this.queryError.append(h("span", { class: "query-error-type" }, e.errorType || describe(e).title), " ", e.message);
    }
  }

  private setWarnings(list: string[]): void {
    this.warnings.hidden = list.length === 0;
    this.warnings.replaceChildren(...list.map((w) => h("div", { class: "warning" }, "⚠ ", w)));
  }

  /** Empty query: say what to do, and offer metric names the server really has. */
  private async startHint(signal: AbortSignal): Promise<HTMLElement> {
    let names: string[] = [];
    try {
      names = (await apiGet<string[]>("/api/v1/label/__name__/values", {}, { signal })).data ?? [];
    } catch {
      names = [];
    }
    const pick = names.slice(0, 12);
    return empty("Enter a PromQL expression and press Enter",
      pick.length
        ? h("div", null, `The server has ${names.length} metric names. Some of them:`,
          h("div", { class: "chips" }, pick.map((n) =>
            h("button", { type: "button", class: "chip", onclick: () => setParams({ q: n }) }, n))))
        : "No metrics stored yet: send some with remote_write, the text import, Influx line protocol, OTLP or collectd.");
  }
}

function dataTable(head: string[], rows: string[][]): HTMLElement {
  return h("div", { class: "table-scroll" },
    h("table", { class: "data-table", "data-testid": "result-table" },
      h("thead", null, h("tr", null, head.map((c, i) => h("th", { class: i === head.length - 1 && head.length > 1 ? "num" : "" }, c)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((c, i) =>
        h("td", { class: i === r.length - 1 && r.length > 1 ? "num mono" : "mono" }, c)))))));
}
