// Logs: a query box with syntax help (docs/logs-query.md), the hits histogram over the range,
// rows newest first with field facets, a row's fields and the lines around it (context), and
// live tail (server-sent events). URL: /logs?q=<query>&from=&to=[&live=1].
// API: /api/v1/logs/{query,hits,context,tail} (docs/logs-api.md).

import { ApiError, apiGet, isAbort } from "../api";
import { getToken } from "../auth";
import { h, setChildren } from "../dom";
import { formatDateTime, resolveRange } from "../time";
import { barsSvg } from "../ui/bars";
import { describe, empty, errorBox, loading, setBusy } from "../ui/states";
import { current, rangeOf, setParams, type Loc } from "../url";
import { addTerm, fieldFilter, filterPart, streamLabels } from "../logs/terms";
import type { Page } from "./page";

export type LogRow = Record<string, string> & { _time: string; _time_ns: string; _stream: string; _msg: string };

interface RowsAnswer {
  type: "rows";
  rows: LogRow[];
  next_cursor: string;
  stats?: { rows_examined: number; seconds: number };
}
interface TableAnswer {
  type: "table";
  columns: string[];
  rows: string[][];
  stats?: { rows_examined: number; seconds: number };
}
interface HitsAnswer {
  step_ns: string;
  buckets: { _time: string; _time_ns: string; hits: number }[];
  total: number;
}

const PAGE = 200;
const TAIL_MAX = 1000;
const FACET_FIELDS = 6;
const HIDDEN = new Set(["_time", "_time_ns", "_stream", "_msg"]);




function levelClass(l: string | undefined): string {
  const v = (l ?? "").toLowerCase();
  if (/^(err|error|crit|critical|alert|emerg|fatal|panic)/.test(v)) return "lvl-bad";
  if (/^warn/.test(v)) return "lvl-warn";
  return "";
}

function rowTime(r: LogRow): string {
  const ms = Number(BigInt(r._time_ns) / 1000000n);
  const frac = r._time_ns.slice(-9, -6);
  return `${formatDateTime(ms)}.${frac}`;
}

const SYNTAX: [string, string][] = [
  ["error timeout", "lines whose message has both words"],
  ['"payment failed"', "a phrase"],
  ["conn*", "a word starting with conn"],
  ["level:error", "a field or label contains a word"],
  ['trace_id:="4bf9…"', "a field equals the whole value"],
  ['service:~"api|web"', "a regular expression on a field"],
  ["-level:debug", "not (also not, !)"],
  ["a or b", "either; and binds tighter; ( ) group"],
  ['{service="api", level=~"error|warn"}', "stream label matchers"],
  ["status:>=500", "numeric comparison"],
  ["field:*", "the field is present"],
  ["_time:5m", "the last 5 minutes (inside the range)"],
  ["… | stats count() by (level)", "a table instead of lines (also sum, avg, min, max, count_uniq)"],
  ["… | sort by (_time) | limit 10", "sort, limit, offset, fields"],
];

export function logsPage(): Page {
  return new LogsPage();
}

class LogsPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Logs";
  private input = h("input", { class: "query-input logs-query", type: "search", name: "q", spellcheck: "false", autocomplete: "off", placeholder: "*   (press / to focus; Enter runs)", "aria-label": "Log query" });
  private liveBtn = h("button", { class: "btn live-btn", type: "button", "aria-pressed": "false", title: "Follow new lines as they arrive" }, "▶ Live");
  private help = h("div", { class: "panel syntax-help", hidden: true });
  private hist = h("div", { class: "panel hits" });
  private facets = h("aside", { class: "panel facets", "aria-label": "Fields" });
  private results = h("div", { class: "panel log-results" });
  private meta = h("div", { class: "muted small result-meta", "aria-live": "polite" });
  private ctrl: AbortController | null = null;
  private key = "";
  private rows: LogRow[] = [];
  private cursor = "";
  private table: HTMLTableSectionElement | null = null;
  private tail: EventSource | null = null;
  private tailCount = 0;
  private tailSince = 0;
  private loadedOnce = false;

  constructor() {
    const form = h("form", { class: "editor-row logs-form", role: "search" }, this.input,
      h("button", { class: "btn btn-primary", type: "submit" }, "Run"),
      h("button", { class: "btn syntax-btn", type: "button", "aria-expanded": "false", onclick: (ev: Event) => {
        this.help.hidden = !this.help.hidden;
        (ev.currentTarget as HTMLElement).setAttribute("aria-expanded", String(!this.help.hidden));
      } }, "Syntax"), this.liveBtn);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.run();
    });
    this.liveBtn.addEventListener("click", () => setParams({ live: this.tail ? null : "1" }));
    this.help.append(h("div", { class: "help-head" }, h("strong", null, "Log query syntax"), h("span", { class: "muted small" }, "docs/logs-query.md has all of it")),
      h("table", { class: "data-table syntax-table" }, h("tbody", null, SYNTAX.map(([ex, what]) => h("tr", null,
        h("td", { class: "mono" }, h("a", { href: "#", onclick: (ev: Event) => {
          ev.preventDefault();
          this.input.value = ex.replace(/^… /, `${filterPart(this.input.value)} `);
          this.input.focus();
        } }, ex)), h("td", null, what))))));
    this.el = h("main", { class: "page page-logs" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Logs"), this.meta),
      form, this.help, this.hist,
      h("div", { class: "logs-main" }, this.facets, this.results));
  }

  focusSearch(): boolean {
    this.input.focus();
    this.input.select();
    return true;
  }

  private run(): void {
    const q = this.input.value.trim() || "*";
    if (q === (current().params.get("q") || "*")) {
      this.key = "";
      void this.load();
    } else {
      setParams({ q });
    }
  }

  update(loc: Loc): void {
    const p = loc.params;
    const q = p.get("q") || "*";
    if (document.activeElement !== this.input) this.input.value = q === "*" ? "" : q;
    const live = p.get("live") === "1";
    const key = [q, p.get("from"), p.get("to"), live].join("|");
    if (key === this.key) return;
    this.key = key;
    void this.load();
  }

  refresh(): void {
    if (this.tail) return; // live already
    void this.load();
  }

  destroy(): void {
    this.ctrl?.abort();
    this.stopTail();
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    this.stopTail();
    const p = current().params;
    const q = p.get("q") || "*";
    const live = p.get("live") === "1";
    const { start, end } = resolveRange(rangeOf(p));
    if (this.loadedOnce) setBusy(this.el, true);
    else {
      this.results.replaceChildren(loading("Searching…"));
      this.hist.replaceChildren(loading("Counting…"));
    }
    const range = { start: String(start), end: String(end) };
    // Settled into a value at once: when the histogram's answer (a 400 for a bad query, say)
    // comes before the rows', its rejection must not sit unhandled until it is awaited below.
    const hitsP = apiGet<HitsAnswer>("/api/v1/logs/hits", { query: filterPart(q), ...range, step: `${Math.max(1, Math.ceil((end - start) / 1000 / 60))}s` }, { signal: ctrl.signal })
      .then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err }));
    try {
      const r = await apiGet<RowsAnswer | TableAnswer>("/api/v1/logs/query", { query: q, ...range, limit: PAGE }, { signal: ctrl.signal });
      this.loadedOnce = true;
      if (r.data.type === "table") {
        this.renderTable(r.data);
        this.facets.hidden = true;
      } else {
        this.rows = r.data.rows;
        this.cursor = r.data.next_cursor;
        this.facets.hidden = false;
        this.renderRows(r.data);
        void this.loadFacets(q, range, ctrl.signal);
      }
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.meta.textContent = "";
      this.facets.replaceChildren();
      this.results.replaceChildren(errorBox(e, () => void this.load()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
    try {
      const hits = await hitsP;
      if (!hits.ok) throw hits.err;
      this.renderHits(hits.r.data, start, end);
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.hist.replaceChildren(h("div", { class: "muted small" }, `Histogram unavailable: ${describe(e).message}`));
    }
    if (live && !ctrl.signal.aborted) this.startTail(q);
  }

  private renderHits(d: HitsAnswer, start: number, end: number): void {
    const stepMs = Number(BigInt(d.step_ns) / 1000000n);
    const b = d.buckets;
    const svg = barsSvg(b.map((x) => x.hits), {
      cls: "bars hits-bars",
      title: (i, v) => `${v} line${v === 1 ? "" : "s"} from ${formatDateTime(Number(BigInt(b[i]!._time_ns) / 1000000n))}`,
      onClick: (i) => {
        const t0 = Number(BigInt(b[i]!._time_ns) / 1000000n);
        setParams({ from: String(t0), to: String(t0 + stepMs), live: null });
      },
      label: `${d.total} matching lines`,
    });
    setChildren(this.hist, h("div", { class: "hits-head small muted" },
      h("strong", { class: "hits-total" }, String(d.total)), ` matching lines from ${formatDateTime(start)} to ${formatDateTime(end)} · a bar is ${fmtStep(stepMs)}; click one to zoom`), svg);
  }

  private renderTable(d: TableAnswer): void {
    this.meta.textContent = `${d.rows.length} rows${d.stats ? ` · ${d.stats.rows_examined} lines examined in ${(d.stats.seconds * 1000).toFixed(1)} ms` : ""}`;
    if (!d.rows.length) {
      this.results.replaceChildren(empty("No rows", "Nothing matched in this time range."));
      return;
    }
    this.results.replaceChildren(h("div", { class: "table-scroll" }, h("table", { class: "data-table stats-table" },
      h("thead", null, h("tr", null, d.columns.map((c) => h("th", null, c)))),
      h("tbody", null, d.rows.map((r) => h("tr", null, r.map((v) => h("td", { class: /^-?\d+(\.\d+)?$/.test(v) ? "num" : "mono" }, v))))))));
  }

  private renderRows(d: RowsAnswer): void {
    this.meta.textContent = `${this.rows.length}${this.cursor ? "+" : ""} lines, newest first${d.stats ? ` · ${d.stats.rows_examined} examined in ${(d.stats.seconds * 1000).toFixed(1)} ms` : ""}`;
    if (!this.rows.length) {
      this.table = null;
      this.results.replaceChildren(empty("No log lines match", h("span", null, "Widen the time range or the query. Lines arrive from syslog, OTLP, Loki push, Elasticsearch bulk and JSON lines (docs/logs-api.md).")));
      return;
    }
    this.table = h("tbody", null, this.rows.map((r) => this.rowEl(r)));
    const more = this.cursor
      ? h("button", { class: "btn more-btn", type: "button", onclick: (ev: Event) => void this.more(ev.currentTarget as HTMLButtonElement) }, `Older lines`)
      : h("div", { class: "muted small end-note" }, "No older lines in the range.");
    this.results.replaceChildren(h("table", { class: "data-table log-lines" },
      h("colgroup", null, h("col", { class: "c-time" }), h("col", { class: "c-level" }), h("col", { class: "c-svc" }), h("col", null)),
      h("thead", null, h("tr", null, h("th", null, "Time"), h("th", null, "Level"), h("th", null, "Service / host"), h("th", null, "Message"))),
      this.table), more);
  }

  private async more(btn: HTMLButtonElement): Promise<void> {
    const p = current().params;
    const { start, end } = resolveRange(rangeOf(p));
    btn.disabled = true;
    btn.textContent = "Loading…";
    try {
      const r = await apiGet<RowsAnswer>("/api/v1/logs/query", { query: p.get("q") || "*", start: String(start), end: String(end), limit: PAGE, cursor: this.cursor });
      this.cursor = r.data.next_cursor;
      for (const row of r.data.rows) {
        this.rows.push(row);
        this.table?.append(this.rowEl(row));
      }
      this.meta.textContent = `${this.rows.length}${this.cursor ? "+" : ""} lines, newest first`;
      if (this.cursor) {
        btn.disabled = false;
        btn.textContent = "Older lines";
      } else {
        btn.replaceWith(h("div", { class: "muted small end-note" }, "No older lines in the range."));
      }
    } catch (e) {
      btn.disabled = false;
      btn.textContent = `Older lines (failed: ${describe(e).message})`;
    }
  }

  private rowEl(r: LogRow): HTMLTableRowElement {
    const labels = streamLabels(r._stream);
    const level = r["level"] ?? labels["level"] ?? "";
    const who = [r["service"] ?? labels["service"], r["host"] ?? labels["host"]].filter(Boolean).join(" · ");
    const tr = h("tr", { class: `log-line ${levelClass(level)}`, "data-ns": r._time_ns, tabindex: "0" },
      h("td", { class: "mono small log-time", title: r._time }, rowTime(r)),
      h("td", { class: "log-level" }, level),
      h("td", { class: "small log-who" }, who),
      h("td", { class: "mono log-msg" }, r._msg));
    const toggle = () => this.toggleDetail(tr, r);
    tr.addEventListener("click", (ev) => {
      if ((ev.target as Element).closest("a,button")) return;
      toggle();
    });
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") toggle();
    });
    return tr;
  }

  private toggleDetail(tr: HTMLTableRowElement, r: LogRow): void {
    const next = tr.nextElementSibling;
    if (next?.classList.contains("log-detail")) {
      next.remove();
      tr.classList.remove("open");
      return;
    }
    tr.classList.add("open");
    const labels = streamLabels(r._stream);
    const q = current().params.get("q") || "*";
    const fields = Object.entries(r).filter(([k]) => !HIDDEN.has(k));
    const ctxBox = h("div", { class: "log-context" });
    const detail = h("tr", { class: "log-detail" }, h("td", { colspan: "4" },
      h("div", { class: "detail-actions" },
        h("button", { class: "btn btn-small", type: "button", "data-action": "context", onclick: () => void this.showContext(r, ctxBox) }, "Show context (lines around it)"),
        h("span", { class: "muted small mono" }, r._stream)),
      h("table", { class: "data-table kv-table log-fields" }, h("tbody", null, fields.map(([k, v]) => h("tr", null,
        h("td", { class: "mono muted" }, k, k in labels ? h("span", { class: "badge badge-muted" }, "label") : null),
        h("td", { class: "mono" }, v),
        h("td", { class: "num" },
          h("a", { href: "#", title: "Only lines with this value", onclick: (ev: Event) => {
            ev.preventDefault();
            setParams({ q: addTerm(q, fieldFilter(k, v)) });
          } }, "+ filter"), " ",
          h("a", { href: "#", title: "Exclude lines with this value", onclick: (ev: Event) => {
            ev.preventDefault();
            setParams({ q: addTerm(q, fieldFilter(k, v, true)) });
          } }, "− exclude")))))),
      h("pre", { class: "log-full" }, r._msg), ctxBox));
    tr.after(detail);
  }

  private async showContext(r: LogRow, box: HTMLElement): Promise<void> {
    box.replaceChildren(loading("Loading the lines around it…"));
    try {
      const c = await apiGet<{ rows: LogRow[] }>("/api/v1/logs/context", { stream: r._stream, ts: r._time_ns, before: 10, after: 10 });
      box.replaceChildren(h("div", { class: "small muted" }, `${c.data.rows.length} lines of the same stream around it, oldest first`),
        h("table", { class: "data-table log-lines context-lines" }, h("tbody", null, c.data.rows.map((x) =>
          h("tr", { class: `${x._time_ns === r._time_ns && x._msg === r._msg ? "hit" : ""} ${levelClass(x["level"])}` },
            h("td", { class: "mono small log-time" }, rowTime(x)), h("td", { class: "mono log-msg" }, x._msg))))));
    } catch (e) {
      box.replaceChildren(errorBox(e));
    }
  }

  private async loadFacets(q: string, range: { start: string; end: string }, signal: AbortSignal): Promise<void> {
    // Fields seen in the rows shown, labels first, then by how often they occur.
    const seen = new Map<string, number>();
    const labelNames = new Set<string>();
    for (const r of this.rows) {
      for (const k of Object.keys(streamLabels(r._stream))) labelNames.add(k);
      for (const k of Object.keys(r)) if (!HIDDEN.has(k)) seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    const fields = [...seen.entries()]
      .filter(([k]) => !/^(sd_ids|tzKnown|isSynced)$/.test(k))
      .sort((a, b) => Number(labelNames.has(b[0])) - Number(labelNames.has(a[0])) || b[1] - a[1])
      .slice(0, FACET_FIELDS).map(([k]) => k);
    if (!fields.length) {
      this.facets.replaceChildren(h("div", { class: "muted small" }, "No fields."));
      return;
    }
    this.facets.replaceChildren(h("h2", { class: "small" }, "Fields"), loading("Counting values…"));
    const base = filterPart(q);
    const answers = await Promise.all(fields.map((f) =>
      apiGet<TableAnswer>("/api/v1/logs/query", { query: `${base} | stats count() as n by (${f}) | sort by (n desc) | limit 8`, ...range }, { signal })
        .then((r) => ({ f, rows: r.data.rows ?? [], err: null as unknown }))
        .catch((err) => ({ f, rows: [] as string[][], err }))));
    if (signal.aborted) return;
    this.facets.replaceChildren(h("h2", { class: "small" }, "Fields"), ...answers.map(({ f, rows, err }) => {
      const total = rows.reduce((a, r) => a + Number(r[1] ?? 0), 0);
      return h("div", { class: "facet", "data-field": f },
        h("div", { class: "facet-name mono" }, f, labelNames.has(f) ? h("span", { class: "muted small" }, " label") : null),
        err && !isAbort(err) ? h("div", { class: "muted small" }, describe(err).message) : null,
        h("ul", { class: "facet-values" }, rows.map(([v, n]) => {
          const pct = total ? Math.round((Number(n) / total) * 100) : 0;
          return h("li", null, h("a", { href: "#", class: "facet-value", "data-value": v ?? "", title: `${n} lines`, onclick: (ev: Event) => {
            ev.preventDefault();
            setParams({ q: addTerm(q, fieldFilter(f, v ?? "")) });
          } }, h("span", { class: "facet-bar", style: `width:${pct}%` }), h("span", { class: "facet-label" }, v || "(empty)"), h("span", { class: "facet-n" }, n)));
        })));
    }));
  }

  // ---- live tail ----

  private startTail(q: string): void {
    this.stopTail();
    this.liveBtn.setAttribute("aria-pressed", "true");
    this.liveBtn.textContent = "❚❚ Live";
    this.liveBtn.classList.add("live-on");
    this.tailCount = 0;
    this.tailSince = Date.now();
    if (!this.table) {
      this.table = h("tbody");
      this.results.replaceChildren(h("table", { class: "data-table log-lines" },
        h("colgroup", null, h("col", { class: "c-time" }), h("col", { class: "c-level" }), h("col", { class: "c-svc" }), h("col", null)),
        h("thead", null, h("tr", null, h("th", null, "Time"), h("th", null, "Level"), h("th", null, "Service / host"), h("th", null, "Message"))), this.table));
    }
    const url = `/api/v1/logs/tail?${new URLSearchParams({ query: filterPart(q), wait: "5s", token: getToken() ?? "" })}`;
    const es = new EventSource(url);
    this.tail = es;
    this.meta.textContent = "Live: following new lines…";
    es.addEventListener("log", (ev) => {
      let row: LogRow;
      try {
        row = JSON.parse((ev as MessageEvent).data) as LogRow;
      } catch {
        return;
      }
      this.tailCount++;
      const tr = this.rowEl(row);
      tr.classList.add("fresh");
      this.table?.prepend(tr);
      while (this.table && this.table.childElementCount > TAIL_MAX) this.table.lastElementChild?.remove();
      this.meta.textContent = `Live: ${this.tailCount} new line${this.tailCount === 1 ? "" : "s"} since ${formatDateTime(this.tailSince, true)}`;
    });
  }

  private stopTail(): void {
    if (!this.tail) return;
    this.tail.close();
    this.tail = null;
    this.liveBtn.setAttribute("aria-pressed", "false");
    this.liveBtn.textContent = "▶ Live";
    this.liveBtn.classList.remove("live-on");
  }
}

function fmtStep(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${+(s / 60).toFixed(1)}m`;
  if (s < 86400) return `${+(s / 3600).toFixed(1)}h`;
  return `${+(s / 86400).toFixed(1)}d`;
}
