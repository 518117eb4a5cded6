// Issues (errors from Sentry SDKs, grouped): a list with counts, events-over-time bars and
// filters; one issue with its stack trace (in-app frames first, context lines), breadcrumbs,
// tags, events, and the triage actions (status, assignee). URLs:
// /issues?project=&status=&release=&environment=&assignee=&q=&sort=
// and /issues/<id>?event=<event id>. Data: /api/v1/issues* (src/api/errors_api.cc) and the
// kansoku_issue_events_total counter the errors store writes to the TSDB.

import { ApiError, apiGet, apiSend, isAbort, type QueryData } from "../api";
import { h, setChildren } from "../dom";
import { parseSampleValue } from "../format";
import { formatDateTime, resolveRange } from "../time";
import { barsSvg, increases } from "../ui/bars";
import { describe, empty, errorBox, loading, setBusy } from "../ui/states";
import { current, globalParams, go, href, rangeOf, setParams, type Loc } from "../url";
import type { Page } from "./page";

export interface Project {
  id: number;
  name: string;
}

export interface Issue {
  id: number;
  project: number;
  title: string;
  culprit: string;
  level: string;
  platform: string;
  status: string;
  first_seen: string;
  last_seen: string;
  count: number;
  users: number;
  assignee?: string | null;
  assigned_at?: string;
  archived_until?: string | null;
  resolved_release?: string;
  releases?: Record<string, number>;
  environments?: Record<string, number>;
  tags?: { key: string; total: number; distinct: number; top_values: { value: string; count: number }[] }[];
}

/** Where the server says an event's logs are (errors API `logs_links`, best first). */
interface LogsLink {
  basis: string;
  query: string;
  start_ns: string;
  end_ns: string;
  trace_id?: string;
  host?: string;
}

interface StoredEvent {
  event_id: string;
  received: string;
  logs_links?: LogsLink[];
  attachments: { filename: string; content_type: string; size: number }[];
  event: SentryEvent;
}

interface Frame {
  filename?: string;
  abs_path?: string;
  module?: string;
  function?: string;
  lineno?: number;
  colno?: number;
  in_app?: boolean;
  context_line?: string;
  pre_context?: string[];
  post_context?: string[];
  vars?: Record<string, unknown>;
}

interface ExceptionValue {
  type?: string;
  value?: string;
  module?: string;
  mechanism?: { type?: string; handled?: boolean };
  stacktrace?: { frames?: Frame[] };
}

interface Crumb {
  timestamp?: string | number;
  category?: string;
  message?: string;
  level?: string;
  type?: string;
  data?: Record<string, unknown>;
}

export interface SentryEvent {
  event_id?: string;
  timestamp?: string | number;
  level?: string;
  platform?: string;
  release?: string;
  environment?: string;
  server_name?: string;
  transaction?: string;
  message?: string | { formatted?: string; message?: string };
  logentry?: { formatted?: string; message?: string };
  exception?: { values?: ExceptionValue[] } | ExceptionValue[];
  breadcrumbs?: { values?: Crumb[] } | Crumb[];
  tags?: Record<string, string> | [string, string][];
  contexts?: Record<string, Record<string, unknown>>;
  user?: Record<string, unknown>;
  request?: { url?: string; method?: string };
  extra?: Record<string, unknown>;
}

const STATUSES: [string, string][] = [
  ["unresolved", "Unresolved"],
  ["resolved", "Resolved"],
  ["resolved_in_next_release", "Next release"],
  ["archived", "Archived"],
  ["all", "All"],
];

const SORTS: [string, string][] = [
  ["last_seen", "Last seen"],
  ["first_seen", "First seen"],
  ["events", "Events"],
  ["users", "Users"],
];

const BUCKETS = 48;

export function isoMs(s: string | number | undefined | null): number {
  if (s === undefined || s === null || s === "") return NaN;
  if (typeof s === "number") return s > 1e11 ? s : s * 1000;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  return Date.parse(s);
}

function levelBadge(level: string): HTMLElement {
  const cls = level === "fatal" || level === "error" ? "badge-bad" : level === "warning" ? "badge-warn" : "badge-muted";
  return h("span", { class: `badge ${cls}` }, level || "error");
}

function statusBadge(s: string): HTMLElement {
  const label = STATUSES.find(([k]) => k === s)?.[1] ?? s;
  const cls = s === "unresolved" ? "badge-bad" : s === "regressed" ? "badge-bad" : s.startsWith("resolved") ? "badge-ok" : "badge-muted";
  return h("span", { class: `badge ${cls}`, "data-status": s }, s === "regressed" ? "Regressed" : label);
}

export function ago(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

let projectsCache: Promise<Project[]> | null = null;
function projects(): Promise<Project[]> {
  projectsCache ??= apiGet<Project[]>("/api/v1/projects").then((r) => r.data ?? []).catch((e) => {
    projectsCache = null;
    throw e;
  });
  return projectsCache;
}

/**
 * Events per bucket for these issues over [start, end] from kansoku_issue_events_total (the
 * store writes it when a count changes, so missing buckets carry the last value).
 */
export async function issueBuckets(issues: Issue[], start: number, end: number, buckets: number, signal: AbortSignal): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  if (!issues.length) return out;
  const step = Math.max(1, Math.ceil((end - start) / 1000 / buckets));
  const s0 = Math.floor(start / 1000 / step) * step;
  const s1 = Math.floor(end / 1000);
  // The last point is at or after now: its lookback window holds the newest samples.
  const n = Math.ceil((s1 - s0) / step) + 1;
  const last = s0 + (n - 1) * step;
  const ids = issues.map((i) => i.id).join("|");
  const r = await apiGet<QueryData>("/api/v1/query_range", {
    query: `max by (issue) (last_over_time(kansoku_issue_events_total{issue=~"${ids}"}[${step}s]))`,
    start: s0, end: last, step,
  }, { signal });
  const byId = new Map(issues.map((i) => [i.id, i]));
  if (r.data.resultType !== "matrix") return out;
  for (const m of r.data.result) {
    const id = Number(m.metric["issue"]);
    const vals = new Array<number | null>(n).fill(null);
    for (const [t, v] of m.values) {
      const i = Math.round((t - s0) / step);
      if (i >= 0 && i < n) vals[i] = parseSampleValue(v);
    }
    const first = isoMs(byId.get(id)?.first_seen);
    // An issue born inside the range counts from zero; an older one from its first sample here.
    out.set(id, increases(vals, Number.isFinite(first) && first >= (s0 - step) * 1000 ? 0 : null));
  }
  return out;
}

export function issuesPage(): Page {
  return new IssuesPage();
}

class IssuesPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Issues";
  private summary = h("div", { class: "muted small", "aria-live": "polite" });
  private filters = h("form", { class: "filters", role: "search" });
  private content = h("div", { class: "issues-content" }, loading("Loading issues…"));
  private search = h("input", { class: "input", type: "search", name: "q", placeholder: "Search title or culprit; key:value for tags", "aria-label": "Search issues" });
  private release = h("input", { class: "input input-narrow", type: "text", name: "release", placeholder: "release", "aria-label": "Release" });
  private env = h("input", { class: "input input-narrow", type: "text", name: "environment", placeholder: "environment", "aria-label": "Environment" });
  private assignee = h("input", { class: "input input-narrow", type: "text", name: "assignee", placeholder: "assignee", "aria-label": "Assignee",
    title: "Issues assigned to this user, e-mail or team; search is:unassigned for the others" });
  private project = h("select", { class: "select", name: "project", "aria-label": "Project" }, h("option", { value: "" }, "All projects"));
  private sort = h("select", { class: "select", name: "sort", "aria-label": "Sort" }, SORTS.map(([k, l]) => h("option", { value: k }, l)));
  private statusSeg = h("div", { class: "seg", role: "group", "aria-label": "Status" });
  private ctrl: AbortController | null = null;
  private key = "";
  private loadedOnce = false;

  constructor() {
    this.filters.append(this.statusSeg, this.project, this.release, this.env, this.assignee, this.search, this.sort,
      h("button", { class: "btn", type: "submit" }, "Apply"));
    this.filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.apply();
    });
    this.project.addEventListener("change", () => this.apply());
    this.sort.addEventListener("change", () => this.apply());
    this.el = h("main", { class: "page page-issues" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Issues"), this.summary),
      this.filters, this.content);
    void projects().then((list) => {
      for (const p of list) this.project.append(h("option", { value: String(p.id) }, p.name));
      this.project.value = current().params.get("project") ?? "";
    }).catch(() => { /* the list shows the error */ });
  }

  focusSearch(): boolean {
    this.search.focus();
    this.search.select();
    return true;
  }

  private apply(): void {
    setParams({
      project: this.project.value || null,
      release: this.release.value.trim() || null,
      environment: this.env.value.trim() || null,
      assignee: this.assignee.value.trim() || null,
      q: this.search.value.trim() || null,
      sort: this.sort.value === "last_seen" ? null : this.sort.value,
    });
  }

  update(loc: Loc): void {
    const p = loc.params;
    const status = p.get("status") || "unresolved";
    this.statusSeg.replaceChildren(...STATUSES.map(([k, l]) => h("button", {
      type: "button", class: `seg-btn${k === status ? " active" : ""}`, "aria-pressed": k === status ? "true" : "false", "data-status": k,
      onclick: () => setParams({ status: k === "unresolved" ? null : k }),
    }, l)));
    if (document.activeElement !== this.search) this.search.value = p.get("q") ?? "";
    if (document.activeElement !== this.release) this.release.value = p.get("release") ?? "";
    if (document.activeElement !== this.env) this.env.value = p.get("environment") ?? "";
    if (document.activeElement !== this.assignee) this.assignee.value = p.get("assignee") ?? "";
    this.project.value = p.get("project") ?? "";
    this.sort.value = p.get("sort") || "last_seen";
    const key = ["project", "status", "release", "environment", "assignee", "q", "sort", "from", "to"].map((k) => p.get(k)).join("|");
    if (key === this.key) return;
    this.key = key;
    void this.load();
  }

  refresh(): void {
    void this.load();
  }

  destroy(): void {
    this.ctrl?.abort();
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const p = current().params;
    if (this.loadedOnce) setBusy(this.el, true);
    try {
      const r = await apiGet<Issue[]>("/api/v1/issues", {
        project: p.get("project") || undefined, status: p.get("status") || "unresolved",
        release: p.get("release") || undefined, environment: p.get("environment") || undefined,
        assignee: p.get("assignee") || undefined, query: p.get("q") || undefined, sort: p.get("sort") || undefined, limit: 100,
      }, { signal: ctrl.signal });
      const list = r.data ?? [];
      const total = (r as unknown as { total?: number }).total ?? list.length;
      const { start, end } = resolveRange(rangeOf(p));
      let buckets = new Map<number, number[]>();
      let sparkError: unknown = null;
      try {
        buckets = await issueBuckets(list, start, end, BUCKETS, ctrl.signal);
      } catch (e) {
        if (isAbort(e)) throw e;
        sparkError = e;
      }
      const names = new Map((await projects().catch(() => [] as Project[])).map((x) => [x.id, x.name]));
      this.render(list, total, buckets, names, start, end, sparkError);
      this.loadedOnce = true;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.content.replaceChildren(errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  private render(list: Issue[], total: number, buckets: Map<number, number[]>, names: Map<number, string>, start: number, end: number, sparkError: unknown): void {
    const p = current().params;
    this.summary.textContent = list.length
      ? `${total} issue${total === 1 ? "" : "s"}${total > list.length ? `, the first ${list.length} shown` : ""} · bars: events from ${formatDateTime(start)} to ${formatDateTime(end)}`
      : "";
    if (!list.length) {
      const filtered = ["project", "release", "environment", "assignee", "q"].some((k) => p.get(k)) || (p.get("status") && p.get("status") !== "unresolved");
      this.content.replaceChildren(empty(filtered ? "No issues match these filters" : "No unresolved issues",
        filtered ? "Change or clear the filters above." : h("span", null, "Errors appear here when a Sentry SDK sends them: point its DSN at kansoku (see ",
          h("code", null, "kansoku projects"), ").")));
      return;
    }
    const carry = globalParams();
    const step = (end - start) / BUCKETS;
    const rows = list.map((i) => {
      const b = buckets.get(i.id) ?? new Array<number>(BUCKETS).fill(0);
      const inRange = b.reduce((a, v) => a + v, 0);
      return h("tr", { "data-issue": String(i.id), class: `issue-row lvl-${i.level}` },
        h("td", { class: "issue-main" },
          h("a", { class: "issue-title", href: href(`/issues/${i.id}`, carry) }, i.title || "(no title)"),
          h("div", { class: "issue-sub muted small" }, levelBadge(i.level), " ", i.culprit ? h("span", { class: "mono" }, i.culprit) : null,
            names.size > 1 || !p.get("project") ? h("span", { class: "tag" }, names.get(i.project) ?? `project ${i.project}`) : null,
            i.status !== "unresolved" ? statusBadge(i.status) : null,
            i.assignee ? h("a", { class: "tag issue-assignee", href: href("/issues", globalParams({ assignee: i.assignee })), title: "Issues assigned to them" }, `→ ${i.assignee}`) : null)),
        h("td", { class: "spark-cell issue-spark" }, barsSvg(b, {
          cls: "bars issue-bars",
          title: (k, v) => `${v} event${v === 1 ? "" : "s"} from ${formatDateTime(start + k * step)}`,
          label: `${inRange} events in the range`,
        })),
        h("td", { class: "num", title: `${inRange} in the time range` }, String(i.count)),
        h("td", { class: "num" }, String(i.users)),
        h("td", { class: "small muted", title: i.last_seen }, ago(isoMs(i.last_seen))),
        h("td", { class: "small muted", title: i.first_seen }, ago(isoMs(i.first_seen))));
    });
    this.content.replaceChildren(
      sparkError ? h("div", { class: "notice notice-warn" }, `Event bars unavailable: ${describe(sparkError).message}`) : "",
      h("div", { class: "panel table-panel" },
        h("table", { class: "data-table issues-table" },
          h("colgroup", null, h("col", null), h("col", { class: "c-spark" }), h("col", { class: "c-num" }), h("col", { class: "c-num" }), h("col", { class: "c-ago" }), h("col", { class: "c-ago" })),
          h("thead", null, h("tr", null, h("th", null, "Issue"), h("th", null, "Events over time"), h("th", { class: "num" }, "Events"),
            h("th", { class: "num" }, "Users"), h("th", null, "Last seen"), h("th", null, "First seen"))),
          h("tbody", null, rows))));
  }
}

// ---- one issue ----

export function issuePage(id: string): Page {
  return new IssuePage(id);
}

function exceptions(ev: SentryEvent): ExceptionValue[] {
  const x = ev.exception;
  if (!x) return [];
  return Array.isArray(x) ? x : x.values ?? [];
}

function crumbs(ev: SentryEvent): Crumb[] {
  const b = ev.breadcrumbs;
  if (!b) return [];
  return Array.isArray(b) ? b : b.values ?? [];
}

function tagsOf(ev: SentryEvent): [string, string][] {
  const t = ev.tags;
  if (!t) return [];
  if (Array.isArray(t)) return t.filter((x) => Array.isArray(x) && x.length === 2).map(([k, v]) => [String(k), String(v)]);
  return Object.entries(t).map(([k, v]) => [k, String(v)]);
}

function messageOf(ev: SentryEvent): string {
  if (typeof ev.message === "string") return ev.message;
  return ev.logentry?.formatted ?? ev.logentry?.message ?? ev.message?.formatted ?? ev.message?.message ?? "";
}

/** The trace id of an event (Sentry puts it in contexts.trace). */
export function traceIdOf(ev: SentryEvent): string {
  const t = ev.contexts?.["trace"]?.["trace_id"];
  return typeof t === "string" && /^[0-9a-fA-F]{16,32}$/.test(t) ? t.toLowerCase() : "";
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The logs of an event: the lines with its trace id, or else its host's lines around the time
 * it happened (docs/logs-query.md). Returns the query and the time range to open.
 */
export function logsLinksFor(sel: { event: SentryEvent; received: string; logs_links?: LogsLink[] }): { q: string; from: number; to: number; why: string }[] {
  const server = (sel.logs_links ?? []).filter((l) => l.query && l.start_ns && l.end_ns).map((l) => ({
    q: l.query,
    from: Math.floor(Number(BigInt(l.start_ns) / 1000000n)),
    to: Math.ceil(Number(BigInt(l.end_ns) / 1000000n)),
    why: l.basis === "trace_id" ? `lines of trace ${(l.trace_id ?? "").slice(0, 12)}…` : l.basis === "host" ? `lines of ${l.host ?? "the host"} around it` : l.basis,
  }));
  return server.length ? server : [logsLinkFor(sel.event ?? {}, isoMs(sel.received))];
}

export function logsLinkFor(ev: SentryEvent, receivedMs: number): { q: string; from: number; to: number; why: string } {
  const at = Number.isFinite(isoMs(ev.timestamp)) ? isoMs(ev.timestamp) : receivedMs;
  const trace = traceIdOf(ev);
  if (trace) return { q: `trace_id:=${quote(trace)}`, from: Math.floor(at - 3_600_000), to: Math.ceil(at + 3_600_000), why: `lines of trace ${trace.slice(0, 12)}…` };
  const host = ev.server_name ?? "";
  if (host) return { q: `host:=${quote(host)}`, from: Math.floor(at - 300_000), to: Math.ceil(at + 300_000), why: `lines of ${host} ±5 min` };
  return { q: "*", from: Math.floor(at - 300_000), to: Math.ceil(at + 300_000), why: "all lines ±5 min" };
}

class IssuePage implements Page {
  readonly el: HTMLElement;
  title = "Issue";
  private head = h("div", { class: "issue-head" }, h("h1", { class: "page-title" }, "Issue"));
  private actions = h("div", { class: "page-actions issue-actions" });
  private actionMsg = h("div", { class: "small", role: "status", "aria-live": "polite" });
  private stats = h("div", { class: "issue-stats" });
  private body = h("div", { class: "issue-body" }, loading("Loading issue…"));
  private ctrl: AbortController | null = null;
  private issue: Issue | null = null;
  private events: StoredEvent[] = [];
  private eventKey = "";
  private rangeKey = "";

  constructor(private id: string) {
    this.el = h("main", { class: "page page-issue" },
      h("div", { class: "page-head" }, h("a", { class: "small", href: href("/issues", globalParams()) }, "← Issues"), this.head, this.actions),
      this.actionMsg, this.stats, this.body);
  }

  update(loc: Loc): void {
    const ev = loc.params.get("event") ?? "";
    const range = `${loc.params.get("from")}|${loc.params.get("to")}`;
    if (!this.issue || range !== this.rangeKey) {
      this.rangeKey = range;
      this.eventKey = ev;
      void this.load();
    } else if (ev !== this.eventKey) {
      this.eventKey = ev;
      this.renderBody();
    }
  }

  refresh(): void {
    void this.load();
  }

  destroy(): void {
    this.ctrl?.abort();
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    if (this.issue) setBusy(this.el, true);
    try {
      const [is, evs] = await Promise.all([
        apiGet<Issue & { latest_event: StoredEvent | null }>(`/api/v1/issues/${encodeURIComponent(this.id)}`, {}, { signal: ctrl.signal }),
        apiGet<StoredEvent[]>(`/api/v1/issues/${encodeURIComponent(this.id)}/events`, { limit: 50 }, { signal: ctrl.signal }),
      ]);
      this.issue = is.data;
      this.events = evs.data ?? [];
      if (!this.events.length && is.data.latest_event) this.events = [is.data.latest_event];
      this.renderHead();
      this.renderStats();
      this.renderBody();
      void this.loadBars(ctrl.signal);
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      if (e instanceof ApiError && e.status === 404) {
        this.body.replaceChildren(empty(`No issue ${this.id}`, h("a", { href: href("/issues", globalParams()) }, "All issues")));
      } else {
        this.body.replaceChildren(errorBox(e, () => this.refresh()));
      }
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  private async loadBars(signal: AbortSignal): Promise<void> {
    const is = this.issue;
    if (!is) return;
    const slot = this.stats.querySelector(".issue-chart");
    if (!slot) return;
    const { start, end } = resolveRange(rangeOf(current().params));
    try {
      const b = (await issueBuckets([is], start, end, 96, signal)).get(is.id) ?? new Array<number>(96).fill(0);
      const step = (end - start) / 96;
      slot.replaceChildren(barsSvg(b, {
        cls: "bars issue-chart-bars",
        title: (k, v) => `${v} event${v === 1 ? "" : "s"} from ${formatDateTime(start + k * step)}`,
        onClick: (k) => setParams({ from: String(Math.floor(start + k * step)), to: String(Math.ceil(start + (k + 1) * step)) }),
      }), h("div", { class: "muted small" }, `${b.reduce((a, v) => a + v, 0)} events from ${formatDateTime(start)} to ${formatDateTime(end)}`));
    } catch (e) {
      if (isAbort(e)) return;
      slot.replaceChildren(h("div", { class: "muted small" }, `Event bars unavailable: ${describe(e).message}`));
    }
  }

  private async setStatus(body: Record<string, unknown>, label: string): Promise<void> {
    return this.send(body, label);
  }

  private async send(body: Record<string, unknown>, label: string): Promise<void> {
    this.actionMsg.className = "small muted";
    this.actionMsg.textContent = `${label}…`;
    this.actions.querySelectorAll("button").forEach((b) => ((b as HTMLButtonElement).disabled = true));
    try {
      const r = await apiSend<Issue>("PUT", `/api/v1/issues/${encodeURIComponent(this.id)}`, body);
      this.issue = { ...this.issue!, ...r.data };
      this.actionMsg.textContent = `${label}: done.`;
      this.renderHead();
    } catch (e) {
      this.actionMsg.className = "small field-error";
      this.actionMsg.textContent = `${label} failed: ${describe(e).message}`;
      this.actions.querySelectorAll("button").forEach((b) => ((b as HTMLButtonElement).disabled = false));
    }
  }

  private renderHead(): void {
    const is = this.issue!;
    this.title = is.title;
    document.title = `${is.title} · kansoku`;
    this.head.replaceChildren(h("h1", { class: "page-title issue-name" }, is.title || "(no title)"),
      h("div", { class: "issue-sub small muted" }, levelBadge(is.level), " ", statusBadge(is.status), " ",
        is.culprit ? h("span", { class: "mono" }, is.culprit) : null,
        is.status === "archived" && is.archived_until ? h("span", null, ` until ${formatDateTime(isoMs(is.archived_until))}`) : null,
        " ", h("span", { class: "issue-assignee", "data-assignee": is.assignee ?? "" }, is.assignee ? `assigned to ${is.assignee}` : "unassigned")));
    const btn = (action: string, label: string, body: Record<string, unknown>, primary = false) =>
      h("button", { class: `btn btn-small${primary ? " btn-primary" : ""}`, type: "button", "data-action": action, onclick: () => void this.setStatus(body, label) }, label);
    const open = is.status === "unresolved" || is.status === "regressed";
    const archive = h("details", { class: "menu-wrap" },
      h("summary", { class: "btn btn-small", "data-action": "archive-menu" }, "Archive ▾"),
      h("div", { class: "menu archive-menu" },
        btn("archive", "Archive", { status: "archived" }),
        btn("archive-1h", "Archive for 1 hour", { status: "archived", for_seconds: 3600 }),
        btn("archive-24h", "Archive for 24 hours", { status: "archived", for_seconds: 86400 }),
        btn("archive-100", "Archive until 100 more events", { status: "archived", until_events: 100 })));
    // Assignee: any user, e-mail or team name; the list filters by it.
    const who = h("input", { class: "input input-narrow", type: "text", name: "assign-to", placeholder: "user, e-mail or team", "aria-label": "Assign to",
      value: is.assignee ?? "" });
    const assign = h("form", { class: "assign-form", "data-action": "assign-form" }, who,
      h("button", { class: "btn btn-small", type: "submit", "data-action": "assign" }, is.assignee ? "Reassign" : "Assign"),
      is.assignee ? h("button", { class: "btn btn-small", type: "button", "data-action": "unassign",
        onclick: () => void this.send({ assignee: null }, "Unassign") }, "Unassign") : null);
    assign.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = who.value.trim();
      if (v) void this.send({ assignee: v }, `Assign to ${v}`);
    });
    setChildren(this.actions,
      open ? btn("resolve", "Resolve", { status: "resolved" }, true) : btn("unresolve", "Unresolve", { status: "unresolved" }),
      open ? btn("resolve-next", "Resolve in next release", { status: "resolved_in_next_release" }) : null,
      open ? archive : null, assign);
  }

  private renderStats(): void {
    const is = this.issue!;
    const kv = (k: string, v: string | Node) => h("div", { class: "fact" }, h("span", { class: "fact-k" }, k), h("span", { class: "fact-v" }, v));
    const top = (m: Record<string, number> | undefined) => Object.entries(m ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]) => `${k || "(none)"} (${n})`).join(", ") || "–";
    this.stats.replaceChildren(
      h("div", { class: "panel issue-facts" },
        h("div", { class: "facts" },
          kv("events", String(is.count)), kv("users", String(is.users)),
          kv("first seen", `${formatDateTime(isoMs(is.first_seen))} (${ago(isoMs(is.first_seen))})`),
          kv("last seen", `${formatDateTime(isoMs(is.last_seen))} (${ago(isoMs(is.last_seen))})`),
          kv("releases", top(is.releases)), kv("environments", top(is.environments))),
        h("div", { class: "issue-chart" }, loading("Loading events over time…"))));
  }

  private renderBody(): void {
    const is = this.issue!;
    if (!this.events.length) {
      this.body.replaceChildren(empty("No stored events", "The issue's events were removed by retention; its counts remain."));
      return;
    }
    const sel = this.events.find((e) => e.event_id === this.eventKey) ?? this.events[0]!;
    const idx = this.events.indexOf(sel);
    const ev = sel.event ?? {};
    const received = isoMs(sel.received);
    const links = logsLinksFor(sel);
    const nav = h("div", { class: "event-nav" },
      h("span", { class: "small muted" }, `Event ${idx + 1} of ${this.events.length} stored · `, h("span", { class: "mono" }, sel.event_id.slice(0, 12)),
        ` · ${formatDateTime(Number.isFinite(isoMs(ev.timestamp)) ? isoMs(ev.timestamp) : received)}`),
      h("button", { class: "btn btn-small", type: "button", disabled: idx >= this.events.length - 1, "data-action": "older",
        onclick: () => setParams({ event: this.events[idx + 1]!.event_id }) }, "← Older"),
      h("button", { class: "btn btn-small", type: "button", disabled: idx <= 0, "data-action": "newer",
        onclick: () => setParams({ event: this.events[idx - 1]!.event_id }) }, "Newer →"),
      links.map((l, i) => h("a", { class: `btn btn-small logs-link${i ? "" : " logs-link-best"}`, href: href("/logs", { q: l.q, from: String(l.from), to: String(l.to) }), title: l.q }, `Logs: ${l.why}`)));
    const parts: Node[] = [nav];
    const msg = messageOf(ev);
    const exs = exceptions(ev);
    if (exs.length) parts.push(h("section", { class: "panel event-section" }, h("h2", null, "Stack trace"), exceptionsView(exs)));
    if (msg) parts.push(h("section", { class: "panel event-section" }, h("h2", null, "Message"), h("pre", { class: "event-message" }, msg)));
    const bc = crumbs(ev);
    if (bc.length) parts.push(h("section", { class: "panel event-section" }, h("h2", null, `Breadcrumbs (${bc.length})`), crumbsView(bc)));
    const tags = tagsOf(ev);
    parts.push(h("section", { class: "panel event-section two-col" },
      h("div", null, h("h2", null, "Event tags"), tags.length
        ? h("table", { class: "data-table kv-table event-tags" }, h("tbody", null, tags.map(([k, v]) => h("tr", null, h("td", { class: "mono muted" }, k),
          h("td", { class: "mono" }, h("a", { href: href("/issues", globalParams({ q: `${k}:${v}` })), title: "Issues with this tag" }, v))))))
        : h("div", { class: "muted small" }, "No tags.")),
      h("div", null, h("h2", null, "Tags across events"), (is.tags ?? []).length ? tagDistribution(is) : h("div", { class: "muted small" }, "No tags."))));
    const ctx = contextRows(ev);
    if (ctx.length) parts.push(h("section", { class: "panel event-section" }, h("h2", null, "Context"),
      h("table", { class: "data-table kv-table" }, h("tbody", null, ctx.map(([k, v]) => h("tr", null, h("td", { class: "mono muted" }, k), h("td", { class: "mono" }, v)))))));
    parts.push(h("section", { class: "panel event-section" }, h("h2", null, "Events"),
      h("table", { class: "data-table events-table" },
        h("thead", null, h("tr", null, h("th", null, "Event"), h("th", null, "Time"), h("th", null, "Release"), h("th", null, "Environment"), h("th", null, "Host"))),
        h("tbody", null, this.events.map((e) => h("tr", { class: e === sel ? "selected" : "", "data-event": e.event_id },
          h("td", { class: "mono" }, h("a", { href: href(`/issues/${is.id}`, globalParams({ event: e.event_id })) }, e.event_id.slice(0, 12))),
          h("td", null, formatDateTime(Number.isFinite(isoMs(e.event?.timestamp)) ? isoMs(e.event?.timestamp) : isoMs(e.received))),
          h("td", { class: "mono small" }, e.event?.release ?? ""), h("td", { class: "small" }, e.event?.environment ?? ""),
          h("td", { class: "small" }, e.event?.server_name ?? "")))))));
    this.body.replaceChildren(...parts);
  }
}

function frameView(f: Frame, open: boolean): HTMLElement {
  const where = f.filename || f.abs_path || f.module || "?";
  const hasCtx = f.context_line !== undefined || (f.pre_context?.length ?? 0) > 0;
  const line = f.lineno ?? 0;
  const ctx = hasCtx
    ? h("ol", { class: "frame-context", start: String(Math.max(1, line - (f.pre_context?.length ?? 0))) },
      (f.pre_context ?? []).map((l) => h("li", null, l)),
      f.context_line !== undefined ? h("li", { class: "ctx-line" }, f.context_line) : null,
      (f.post_context ?? []).map((l) => h("li", null, l)))
    : null;
  const vars = f.vars && Object.keys(f.vars).length
    ? h("table", { class: "data-table kv-table frame-vars" }, h("tbody", null, Object.entries(f.vars).slice(0, 40).map(([k, v]) =>
      h("tr", null, h("td", { class: "mono muted" }, k), h("td", { class: "mono" }, typeof v === "string" ? v : JSON.stringify(v))))))
    : null;
  const d = h("details", { class: `frame${f.in_app ? " in-app" : " system"}`, "data-in-app": f.in_app ? "1" : "0" },
    h("summary", null, h("span", { class: "mono frame-file" }, where), f.function ? h("span", { class: "mono" }, ` in ${f.function}`) : null,
      line ? h("span", { class: "mono muted" }, ` line ${line}`) : null, f.in_app ? h("span", { class: "badge badge-muted" }, "in app") : null),
    ctx ?? h("div", { class: "muted small frame-none" }, "No source context sent."), vars);
  d.open = open;
  return d;
}

/** The exception chain, the innermost (the one raised last) first; frames most recent first. */
function exceptionsView(exs: ExceptionValue[]): HTMLElement {
  const wrap = h("div", { class: "exceptions" });
  const showAll = h("input", { type: "checkbox", class: "show-system" });
  let firstOpen = true;
  [...exs].reverse().forEach((x) => {
    const frames = [...(x.stacktrace?.frames ?? [])].reverse();
    const inApp = frames.filter((f) => f.in_app);
    const system = frames.filter((f) => !f.in_app);
    const list = h("div", { class: "frames" });
    // In-app frames first, the top one open with its context lines; library frames after them,
    // folded, shown with the checkbox (all frames in call order then).
    const inAppViews = inApp.map((f) => {
      const v = frameView(f, firstOpen);
      firstOpen = false;
      return v;
    });
    list.append(...inAppViews);
    const sysBox = h("div", { class: "system-frames", hidden: true }, system.map((f) => frameView(f, false)));
    if (system.length) {
      list.append(h("div", { class: "muted small system-note" }, `${system.length} library frame${system.length === 1 ? "" : "s"} hidden`), sysBox);
    }
    if (!inApp.length && system.length) {
      sysBox.hidden = false;
      list.querySelector(".system-note")?.remove();
    }
    showAll.addEventListener("change", () => {
      sysBox.hidden = !showAll.checked && inApp.length > 0;
      list.querySelector(".system-note")?.toggleAttribute("hidden", showAll.checked);
    });
    wrap.append(h("div", { class: "exception" },
      h("div", { class: "exc-head" }, h("span", { class: "exc-type" }, x.type ?? "Error"), x.value ? h("span", { class: "exc-value" }, `: ${x.value}`) : null,
        x.mechanism?.handled === false ? h("span", { class: "badge badge-bad" }, "unhandled") : null),
      x.module ? h("div", { class: "mono muted small" }, x.module) : null,
      frames.length ? list : h("div", { class: "muted small" }, "No stack trace sent.")));
  });
  wrap.prepend(h("label", { class: "small muted show-system-label" }, showAll, " Show library frames"));
  return wrap;
}

function crumbTime(t: string | number | undefined): string {
  const ms = isoMs(t);
  return Number.isFinite(ms) ? formatDateTime(ms, true) : "";
}

function crumbsView(list: Crumb[]): HTMLElement {
  return h("table", { class: "data-table crumbs" },
    h("thead", null, h("tr", null, h("th", null, "Time"), h("th", null, "Category"), h("th", null, "Level"), h("th", null, "Message / data"))),
    h("tbody", null, [...list].reverse().map((c) => h("tr", { class: `crumb lvl-${c.level ?? "info"}` },
      h("td", { class: "mono small" }, crumbTime(c.timestamp)),
      h("td", { class: "mono" }, c.category ?? c.type ?? ""),
      h("td", { class: "small" }, c.level ?? ""),
      h("td", { class: "mono crumb-msg" }, c.message ?? "", c.data && Object.keys(c.data).length ? h("span", { class: "muted" }, ` ${JSON.stringify(c.data)}`) : null)))));
}

function tagDistribution(is: Issue): HTMLElement {
  return h("div", { class: "tag-dist" }, (is.tags ?? []).map((t) => h("div", { class: "tag-row", "data-tag": t.key },
    h("div", { class: "small" }, h("span", { class: "mono" }, t.key), h("span", { class: "muted" }, ` · ${t.distinct} value${t.distinct === 1 ? "" : "s"}`)),
    h("div", { class: "tag-values" }, t.top_values.slice(0, 3).map((v) => {
      const pct = t.total ? Math.round((v.count / t.total) * 100) : 0;
      return h("div", { class: "tag-value", title: `${v.count} of ${t.total}` },
        h("span", { class: "tag-bar", style: `width:${pct}%` }), h("span", { class: "tag-label mono small" }, `${v.value} ${pct}%`));
    })))));
}

function contextRows(ev: SentryEvent): [string, string][] {
  const rows: [string, string][] = [];
  const add = (k: string, v: unknown) => {
    if (v === undefined || v === null || v === "") return;
    rows.push([k, typeof v === "string" ? v : JSON.stringify(v)]);
  };
  add("release", ev.release);
  add("environment", ev.environment);
  add("server_name", ev.server_name);
  add("transaction", ev.transaction);
  add("platform", ev.platform);
  if (ev.user) for (const [k, v] of Object.entries(ev.user)) add(`user.${k}`, v);
  if (ev.request) add("request", `${ev.request.method ?? ""} ${ev.request.url ?? ""}`.trim());
  for (const [name, c] of Object.entries(ev.contexts ?? {})) {
    for (const [k, v] of Object.entries(c ?? {})) if (k !== "type") add(`${name}.${k}`, v);
  }
  return rows.slice(0, 80);
}

export function goIssue(id: number): void {
  go(`/issues/${id}`, globalParams());
}
