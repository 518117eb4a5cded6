// Time-series graph on uPlot with a legend table (value at cursor, last, min, max),
// lines or stacked areas, and drag-to-zoom reported to the caller (which puts it in the URL).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { cssVar, h, remPx } from "../dom";
import { formatValue } from "../format";
import { formatDateTime } from "../time";
import { onThemeChange } from "../theme";
import { color, withAlpha } from "./palette";

export interface ChartSeries {
  name: string;
  values: (number | null)[];
}

export interface ChartData {
  /** Unix seconds. */
  xs: number[];
  series: ChartSeries[];
  stacked: boolean;
}

export interface ChartOptions {
  /** Plot height in CSS px. */
  height(): number;
  onZoom(startMs: number, endMs: number): void;
  /** Double click on the plot. */
  onZoomOut?(): void;
}

interface Stats {
  last: number | null;
  min: number | null;
  max: number | null;
}

function stats(values: (number | null)[]): Stats {
  let last: number | null = null;
  let min: number | null = null;
  let max: number | null = null;
  for (const v of values) {
    if (v === null || Number.isNaN(v)) continue;
    last = v;
    if (min === null || v < min) min = v;
    if (max === null || v > max) max = v;
  }
  return { last, min, max };
}

// 24-hour clock and ISO dates on the time axis: [tick step, label, label when the year /
// month / day / hour / minute / second changes, mode]; the date is added where it changes.
const NL_DATE = "\n{YYYY}-{MM}-{DD}";
const TIME_TICKS: uPlot.Axis.Values = [
  [3600 * 24 * 365, "{YYYY}", null, null, null, null, null, null, 1],
  [3600 * 24 * 28, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600 * 24, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600, "{HH}:{mm}", NL_DATE, null, NL_DATE, null, null, null, 1],
  [60, "{HH}:{mm}", NL_DATE, null, NL_DATE, null, null, null, 1],
  [1, "{HH}:{mm}:{ss}", NL_DATE, null, NL_DATE, null, null, null, 1],
  [0.001, "{HH}:{mm}:{ss}.{fff}", NL_DATE, null, NL_DATE, null, null, null, 1],
];

export class TimeSeriesChart {
  readonly el: HTMLElement;
  private plotEl: HTMLElement;
  private legendBody: HTMLTableSectionElement;
  private legendEl: HTMLElement;
  private cursorCells: HTMLElement[] = [];
  private cursorHead = h("th", { class: "num cursor-head", title: "Values under the mouse" }, "Cursor");
  private u: uPlot | null = null;
  private data: ChartData | null = null;
  private hidden = new Set<number>();
  private resizeObs: ResizeObserver;
  private offTheme: () => void;

  constructor(private opts: ChartOptions) {
    this.plotEl = h("div", { class: "plot", "data-testid": "plot" });
    this.legendBody = h("tbody");
    this.legendEl = h("div", { class: "legend", "data-testid": "legend" },
      h("table", { class: "legend-table" },
        h("thead", null, h("tr", null,
          h("th", { class: "sw" }, h("span", { class: "sr-only" }, "Colour")),
          h("th", { class: "name" }, "Series"),
          this.cursorHead,
          h("th", { class: "num" }, "Last"),
          h("th", { class: "num" }, "Min"),
          h("th", { class: "num" }, "Max"))),
        this.legendBody));
    this.el = h("div", { class: "chart" }, this.plotEl, this.legendEl);
    this.reserveHeight();
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(this.plotEl);
    window.addEventListener("resize", this.onWindowResize);
    this.plotEl.addEventListener("dblclick", () => this.opts.onZoomOut?.());
    this.offTheme = onThemeChange(() => this.build());
  }

  /** Width available to the plot, for choosing the query step before data arrives. */
  width(): number {
    return this.plotEl.clientWidth || this.el.clientWidth || 800;
  }

  setData(data: ChartData): void {
    const sameSeries = this.data && this.data.series.length === data.series.length &&
      this.data.series.every((s, i) => s.name === data.series[i]!.name);
    if (!sameSeries) this.hidden.clear();
    this.data = data;
    this.build();
  }

  private build(): void {
    this.u?.destroy();
    this.u = null;
    const d = this.data;
    if (!d) return;
    const rem = remPx();
    const fg = cssVar("--fg-muted") || "#888";
    const grid = cssVar("--grid") || "rgba(128,128,128,0.15)";
    const font = `${Math.round(rem * 0.75)}px ${cssVar("--font-ui") || "system-ui, sans-serif"}`;
    const many = d.series.length > 20;

    // Stacked: each series drawn at the running sum; bands fill only between neighbours.
    let plotted: (number | null)[][] = d.series.map((s) => s.values);
    const bands: uPlot.Band[] = [];
    if (d.stacked) {
      const acc = new Array<number>(d.xs.length).fill(0);
      plotted = d.series.map((s, i) => {
        if (this.hidden.has(i)) return s.values.map(() => null);
        return s.values.map((v, j) => (acc[j]! += v === null || Number.isNaN(v) ? 0 : v));
      });
      let below = -1;
      d.series.forEach((_, i) => {
        if (this.hidden.has(i)) return;
        if (below >= 0) bands.push({ series: [i + 1, below + 1] });
        below = i;
      });
    }

    const series: uPlot.Series[] = [
      {},
      ...d.series.map((s, i): uPlot.Series => ({
        label: s.name,
        stroke: color(i),
        width: many ? 1 : 1.5,
        fill: d.stacked ? withAlpha(color(i), 0.45) : undefined,
        show: !this.hidden.has(i),
        points: { show: d.xs.length < 40, size: 4 },
        spanGaps: false,
      })),
    ];
    const axis = (): uPlot.Axis => ({
      stroke: fg,
      font,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1, size: Math.round(rem * 0.3) },
    });
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.opts.height(),
      series,
      bands,
      legend: { show: false },
      padding: [Math.round(rem * 0.6), Math.round(rem * 0.8), 0, 0],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { size: Math.round(rem * 0.45) },
      },
      scales: {
        x: { time: true },
        y: d.stacked ? { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] } : {},
      },
      axes: [
        { ...axis(), space: rem * 5, values: TIME_TICKS },
        {
          ...axis(),
          values: (_u, splits) => splits.map((v) => formatValue(v)),
          size: (_u, values) => {
            const longest = values ? Math.max(3, ...values.map((v) => String(v).length)) : 4;
            return Math.ceil(longest * rem * 0.5 + rem * 1.2);
          },
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.opts.onZoom(Math.round(a * 1000), Math.round(b * 1000));
          },
        ],
        setCursor: [(u) => this.showCursor(u.cursor.idx ?? null)],
      },
    };
    this.u = new uPlot(opts, [d.xs, ...plotted] as uPlot.AlignedData, this.plotEl);
    this.renderLegend();
    let points = 0;
    for (const s of d.series) for (const v of s.values) if (v !== null) points++;
    this.el.dataset["series"] = String(d.series.length);
    this.el.dataset["points"] = String(points);
    this.el.dataset["mode"] = d.stacked ? "stacked" : "lines";
  }

  private renderLegend(): void {
    const d = this.data!;
    this.cursorCells = [];
    const rows = d.series.map((s, i) => {
      const st = stats(s.values);
      const cur = h("td", { class: "num cursor" }, "");
      this.cursorCells.push(cur);
      const row = h("tr", {
        class: this.hidden.has(i) ? "off" : "", tabindex: 0, title: "Click to hide or show",
        "aria-pressed": this.hidden.has(i) ? "false" : "true",
      },
        h("td", { class: "sw" }, h("span", { class: "swatch", style: `background:${color(i)}` })),
        h("td", { class: "name" }, s.name),
        cur,
        h("td", { class: "num" }, formatValue(st.last)),
        h("td", { class: "num" }, formatValue(st.min)),
        h("td", { class: "num" }, formatValue(st.max)));
      const toggle = () => this.toggleSeries(i);
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
      });
      return row;
    });
    this.legendBody.replaceChildren(...rows);
  }

  private toggleSeries(i: number): void {
    if (this.hidden.has(i)) this.hidden.delete(i);
    else this.hidden.add(i);
    if (this.data?.stacked) {
      this.build();
      return;
    }
    this.u?.setSeries(i + 1, { show: !this.hidden.has(i) });
    const row = this.legendBody.children[i] as HTMLElement | undefined;
    row?.classList.toggle("off", this.hidden.has(i));
    row?.setAttribute("aria-pressed", this.hidden.has(i) ? "false" : "true");
  }

  private showCursor(idx: number | null): void {
    const d = this.data;
    if (!d) return;
    const t = idx === null ? undefined : d.xs[idx];
    this.cursorHead.textContent = t === undefined ? "Cursor" : formatDateTime(t * 1000, true);
    d.series.forEach((s, i) => {
      const cell = this.cursorCells[i];
      if (cell) cell.textContent = idx === null ? "" : formatValue(s.values[idx] ?? null);
    });
  }

  /** The plot keeps its height before data arrives and between queries: no jump on load. */
  private reserveHeight(): void {
    this.plotEl.style.minHeight = `${this.opts.height()}px`;
  }

  resize(): void {
    this.reserveHeight();
    if (!this.u) return;
    const width = this.width();
    const height = this.opts.height();
    if (width !== this.u.width || height !== this.u.height) this.u.setSize({ width, height });
  }

  clear(): void {
    this.u?.destroy();
    this.u = null;
    this.data = null;
    this.legendBody.replaceChildren();
    delete this.el.dataset["series"];
    delete this.el.dataset["points"];
  }

  private onWindowResize = () => this.resize();

  destroy(): void {
    window.removeEventListener("resize", this.onWindowResize);
    this.resizeObs.disconnect();
    this.offTheme();
    this.u?.destroy();
    this.u = null;
  }
}
