// Time-series graph on uPlot with a legend table (value at cursor, last, min, max),
// lines or stacked areas, and drag-to-zoom reported to the caller (which puts it in the URL).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { cssVar, h, remPx } from "../dom";
import { formatUnit, formatValue } from "../format";
import { formatDateTime } from "../time";
import { onThemeChange } from "../theme";
import { blend, color } from "./palette";

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
  onZoom?(startMs: number, endMs: number): void;
  /** Double click on the plot. */
  onZoomOut?(): void;
  /** Value unit for the axis and legend (dashboards: percent, bytes, s...). */
  unit?: string;
  /** Legend: a table with cursor/last/min/max (default), a compact list, or none. */
  legend?: "table" | "list" | "none";
  /** Fixed y range ends (dashboards). */
  min?: number;
  max?: number;
  /** Another element whose size changes resize the plot (a dashboard panel's body). */
  observe?: HTMLElement;
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
    const mode = opts.legend ?? "table";
    this.legendEl.hidden = mode === "none";
    this.legendEl.classList.toggle("legend-list", mode === "list");
    this.el = h("div", { class: "chart" }, this.plotEl, this.legendEl);
    this.reserveHeight();
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(this.plotEl);
    if (opts.observe) this.resizeObs.observe(opts.observe);
    window.addEventListener("resize", this.onWindowResize);
    this.plotEl.addEventListener("dblclick", () => this.opts.onZoomOut?.());
    this.offTheme = onThemeChange(() => this.build());
  }

  /** Width available to the plot, for choosing the query step before data arrives. */
  width(): number {
    return this.plotEl.clientWidth || this.el.clientWidth || 800;
  }

  /**
   * New data. With the same series (names, order) and mode the uPlot instance is kept and only
   * its data and the legend's numbers change: no new canvas, no layout change (dashboards and
   * TV mode refresh this way for days).
   */
  setData(data: ChartData): void {
    const sameSeries = !!this.data && this.data.series.length === data.series.length &&
      this.data.series.every((s, i) => s.name === data.series[i]!.name);
    if (!sameSeries) this.hidden.clear();
    const inPlace = sameSeries && !!this.u && this.data!.stacked === data.stacked;
    this.data = data;
    if (inPlace) this.updateInPlace();
    else this.build();
  }

  /** How many times a uPlot instance was created (tests check that refreshes reuse it). */
  builds = 0;

  private plotted(d: ChartData): (number | null)[][] {
    if (!d.stacked) return d.series.map((s) => s.values);
    const acc = new Array<number>(d.xs.length).fill(0);
    return d.series.map((s, i) => {
      if (this.hidden.has(i)) return s.values.map(() => null);
      return s.values.map((v, j) => (acc[j]! += v === null || Number.isNaN(v) ? 0 : v));
    });
  }

  /** uPlot series order: as given for lines, topmost first when stacked. */
  private drawOrder(d: ChartData): number[] {
    const idx = d.series.map((_, i) => i);
    return d.stacked ? idx.reverse() : idx;
  }

  private updateInPlace(): void {
    const d = this.data!;
    const plotted = this.plotted(d);
    this.u!.setData([d.xs, ...this.drawOrder(d).map((i) => plotted[i]!)] as uPlot.AlignedData);
    this.updateLegendNumbers();
    this.setDataset();
  }

  private setDataset(): void {
    const d = this.data!;
    let points = 0;
    for (const s of d.series) for (const v of s.values) if (v !== null) points++;
    this.el.dataset["series"] = String(d.series.length);
    this.el.dataset["points"] = String(points);
    this.el.dataset["mode"] = d.stacked ? "stacked" : "lines";
    this.el.dataset["builds"] = String(this.builds);
  }

  private fmt(v: number | null): string {
    return this.opts.unit ? formatUnit(v, this.opts.unit) : formatValue(v);
  }

  private build(): void {
    this.u?.destroy();
    this.u = null;
    const d = this.data;
    if (!d) return;
    this.renderLegend();
    const rem = remPx();
    const fg = cssVar("--fg-muted") || "#888";
    const grid = cssVar("--grid") || "rgba(128,128,128,0.15)";
    const font = `${Math.round(rem * 0.75)}px ${cssVar("--font-ui") || "system-ui, sans-serif"}`;
    const many = d.series.length > 20;

    // Stacked: each series drawn at the running sum, filled down to zero with an opaque colour
    // (the series colour blended into the background), topmost first, so each lower area paints
    // over the part of the one above that is not its own. No bands, no clipping: with 100
    // series this is several times cheaper to draw.
    const plotted = this.plotted(d);
    const order = this.drawOrder(d);
    const bg = cssVar("--bg-elev") || "#161b22";
    const series: uPlot.Series[] = [
      {},
      ...order.map((i): uPlot.Series => ({
        label: d.series[i]!.name,
        stroke: color(i),
        width: many ? 1 : 1.5,
        fill: d.stacked ? blend(color(i), bg, 0.45) : undefined,
        fillTo: 0,
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
      legend: { show: false },
      padding: [Math.round(rem * 0.6), Math.round(rem * 0.8), 0, 0],
      cursor: {
        drag: { x: !!this.opts.onZoom, y: false, setScale: false },
        points: { size: Math.round(rem * 0.45) },
      },
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max): uPlot.Range.MinMax => {
            let lo = d.stacked ? Math.min(0, min) : min;
            let hi = d.stacked ? (max > 0 ? max * 1.05 : 1) : max;
            if (!d.stacked) {
              if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
              const pad = (hi - lo) * 0.05;
              lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
              hi += pad;
            }
            return [this.opts.min ?? lo, this.opts.max ?? hi];
          },
        },
      },
      axes: [
        { ...axis(), space: rem * 5, values: TIME_TICKS },
        {
          ...axis(),
          values: (_u, splits) => splits.map((v) => this.fmt(v)),
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
            this.opts.onZoom?.(Math.round(a * 1000), Math.round(b * 1000));
          },
        ],
        setCursor: [(u) => this.showCursor(u.cursor.idx ?? null)],
      },
    };
    this.u = new uPlot(opts, [d.xs, ...order.map((i) => plotted[i]!)] as uPlot.AlignedData, this.plotEl);
    this.builds++;
    this.setDataset();
  }

  private updateLegendNumbers(): void {
    const d = this.data!;
    d.series.forEach((s, i) => {
      const cells = this.statCells[i];
      if (!cells) return;
      const st = stats(s.values);
      cells[0].textContent = this.fmt(st.last);
      cells[1].textContent = this.fmt(st.min);
      cells[2].textContent = this.fmt(st.max);
    });
  }

  private statCells: [HTMLElement, HTMLElement, HTMLElement][] = [];

  private renderLegend(): void {
    const d = this.data!;
    this.cursorCells = [];
    this.statCells = [];
    if (this.opts.legend === "none") return;
    const rows = d.series.map((s, i) => {
      const st = stats(s.values);
      const cur = h("td", { class: "num cursor" }, "");
      this.cursorCells.push(cur);
      const cells: [HTMLElement, HTMLElement, HTMLElement] = [
        h("td", { class: "num" }, this.fmt(st.last)),
        h("td", { class: "num" }, this.fmt(st.min)),
        h("td", { class: "num" }, this.fmt(st.max)),
      ];
      this.statCells.push(cells);
      const row = h("tr", {
        class: this.hidden.has(i) ? "off" : "", tabindex: 0, title: "Click to hide or show",
        "aria-pressed": this.hidden.has(i) ? "false" : "true",
      },
        h("td", { class: "sw" }, h("span", { class: "swatch", style: `background:${color(i)}` })),
        h("td", { class: "name" }, s.name),
        cur,
        ...cells);
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
      if (cell) cell.textContent = idx === null ? "" : this.fmt(s.values[idx] ?? null);
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
    this.cursorCells = [];
    this.statCells = [];
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
    this.data = null;
    this.cursorCells = [];
    this.statCells = [];
    this.legendBody.replaceChildren();
  }
}
