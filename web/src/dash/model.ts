// The dashboard document (docs/design/dashboards.md) and pure helpers on it: defaults, layout
// (24-column grid, vertical compaction), variable substitution, legend templates.

export type PanelType = "timeseries" | "stat" | "table" | "markdown" | "alerts" | "issues" | "logs";

export const PANEL_TYPES: { type: PanelType; label: string; needs?: string }[] = [
  { type: "timeseries", label: "Time series" },
  { type: "stat", label: "Stat" },
  { type: "table", label: "Table" },
  { type: "markdown", label: "Markdown" },
  { type: "alerts", label: "Alert status" },
  { type: "issues", label: "Issue list" },
  { type: "logs", label: "Log stream" },
];

export const UNITS = ["none", "percent", "percentunit", "bytes", "bytes/s", "s", "ms", "ops/s"] as const;
export type Unit = (typeof UNITS)[number];

export interface Grid {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PanelQuery {
  expr: string;
  legend?: string;
}

export interface Threshold {
  value: number;
  color: string;
}

export interface PanelOptions {
  unit?: Unit;
  stacked?: boolean;
  legend?: "table" | "list" | "none";
  min?: number;
  max?: number;
  decimals?: number;
  thresholds?: Threshold[];
  sparkline?: boolean;
  text?: string;
  [key: string]: unknown;
}

export interface Panel {
  id: number;
  type: PanelType;
  title: string;
  grid: Grid;
  queries?: PanelQuery[];
  options?: PanelOptions;
  [key: string]: unknown;
}

export interface Variable {
  name: string;
  label: string;
  match?: string;
  multi?: boolean;
  all?: boolean;
}

export interface Dashboard {
  id?: string;
  title: string;
  description?: string;
  tags?: string[];
  version?: number;
  time?: { from?: string; to?: string };
  refresh?: string;
  variables?: Variable[];
  panels: Panel[];
  updated_at_ms?: number;
  updated_by?: string;
  [key: string]: unknown;
}

export interface DashboardSummary {
  id: string;
  title: string;
  tags: string[];
  panels: number;
  version: number;
  updated_at_ms: number;
  updated_by: string;
}

export const COLUMNS = 24;

export function emptyDashboard(title = "New dashboard"): Dashboard {
  return { title, tags: [], time: { from: "now-6h", to: "now" }, refresh: "", variables: [], panels: [] };
}

export function newPanel(type: PanelType, id: number, grid: Grid): Panel {
  const p: Panel = { id, type, title: "", grid };
  if (type === "timeseries" || type === "stat" || type === "table") {
    p.queries = [{ expr: "", legend: "" }];
    p.options = type === "timeseries" ? { unit: "none", stacked: false, legend: "table" } : { unit: "none" };
  } else if (type === "markdown") {
    p.options = { text: "" };
  } else {
    p.options = {};
  }
  return p;
}

export function nextPanelId(d: Dashboard): number {
  return d.panels.reduce((m, p) => Math.max(m, p.id), 0) + 1;
}

function overlaps(a: Grid, b: Grid): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Clamps a grid into the 24 columns and sane sizes. */
export function clampGrid(g: Grid): Grid {
  const w = Math.max(1, Math.min(COLUMNS, Math.round(g.w)));
  const h = Math.max(1, Math.min(100, Math.round(g.h)));
  const x = Math.max(0, Math.min(COLUMNS - w, Math.round(g.x)));
  const y = Math.max(0, Math.min(1000, Math.round(g.y)));
  return { x, y, w, h };
}

/**
 * Vertical compaction: panels float up as far as they can without overlapping, in (y, x)
 * order; `pinned` (the panel being dragged) is placed first where it is.
 */
export function compact(panels: Panel[], pinned?: number): void {
  const order = [...panels].sort((a, b) =>
    a.id === pinned ? -1 : b.id === pinned ? 1 : a.grid.y - b.grid.y || a.grid.x - b.grid.x);
  const placed: Grid[] = [];
  for (const p of order) {
    const g = clampGrid(p.grid);
    if (p.id !== pinned) {
      g.y = 0;
      while (placed.some((q) => overlaps(g, q))) g.y++;
    } else {
      // The dragged panel stays; nothing placed yet.
    }
    p.grid = g;
    placed.push(g);
  }
}

/** Where a new panel of w×h goes: the first free place scanning rows from the top. */
export function freeSpot(panels: Panel[], w: number, h: number): Grid {
  for (let y = 0; y < 1000; y++) {
    for (let x = 0; x + w <= COLUMNS; x++) {
      const g = { x, y, w, h };
      if (!panels.some((p) => overlaps(g, p.grid))) return g;
    }
  }
  return { x: 0, y: 0, w, h };
}

// ---- variables ----

/** The value a variable stands for in an expression. */
export interface VarValue {
  values: string[];
  all: boolean;
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The text a variable becomes: one value as is; several or All as a regex alternation. */
export function varText(v: VarValue): string {
  if (v.all) return ".*";
  if (v.values.length === 1) return v.values[0]!;
  if (v.values.length === 0) return "";
  return v.values.map(regexEscape).join("|");
}

/** Replaces $name and ${name} (longest names first; unknown names stay). */
export function substitute(expr: string, vars: Map<string, VarValue>): string {
  if (!vars.size || !expr.includes("$")) return expr;
  return expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (braced !== undefined) {
      const v = vars.get(name);
      return v ? varText(v) : m;
    }
    // Bare: the longest defined name that prefixes the identifier ($host_name vs $host).
    for (let n = name.length; n > 0; n--) {
      const v = vars.get(name.slice(0, n));
      if (v) return varText(v) + name.slice(n);
    }
    return m;
  });
}

/** Legend template: {{label}} -> the series' label value. */
export function legendText(template: string | undefined, labels: Record<string, string>, fallback: string): string {
  if (!template) return fallback;
  return template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_m, k: string) => labels[k] ?? "");
}

/** Checks an imported document enough for the UI to render it (the server checks the rest). */
export function parseDashboard(text: string): Dashboard {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch (e) {
    throw new Error(`Not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!d || typeof d !== "object" || Array.isArray(d)) throw new Error("A dashboard is a JSON object.");
  const o = d as Dashboard;
  if (typeof o.title !== "string" || !o.title) throw new Error("title: a non-empty string is required.");
  if (o.panels === undefined) o.panels = [];
  if (!Array.isArray(o.panels)) throw new Error("panels: must be an array.");
  o.panels.forEach((p, i) => {
    if (!p || typeof p !== "object") throw new Error(`panels[${i}]: must be an object.`);
    if (!PANEL_TYPES.some((t) => t.type === p.type)) throw new Error(`panels[${i}].type: unknown panel type "${String(p.type)}".`);
    if (!p.grid || typeof p.grid !== "object") throw new Error(`panels[${i}].grid: required {x, y, w, h}.`);
  });
  return o;
}

/**
 * The built-in $__rate_interval: a rate() window that always holds several samples, whatever the
 * step (max(step + scrape interval, 4 × scrape interval), as Grafana computes it).
 */
export function rateInterval(stepSec: number, scrapeSec = 15): string {
  return `${Math.ceil(Math.max(stepSec + scrapeSec, 4 * scrapeSec))}s`;
}
