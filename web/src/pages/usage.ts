// Usage: what each token and source sends and what the limits allow — per-token active series,
// new series, samples/s against their limits and the refusals; volumes over time (the usage
// guard's own series in the TSDB, log lines, error events); cardinality top-N (metrics, labels,
// the biggest label's values); every source. URL: /usage?tenant=&kind=.
// API: /api/v1/usage{,/cardinality,/sources} (src/api/usage_api.cc, docs/design/usage.md).

import { ApiError, apiGet, isAbort } from "../api";
import { h, setChildren } from "../dom";
import type { Dashboard } from "../dash/model";
import { DashboardView } from "../dash/view";
import { formatUnit } from "../format";
import { formatDateTime, resolveRange } from "../time";
import { barsSvg } from "../ui/bars";
import { describe, empty, errorBox, loading, setBusy } from "../ui/states";
import { current, globalParams, href, rangeOf, setParams, type Loc } from "../url";
import type { Page } from "./page";

interface Limits {
  max_active_series: number;
  max_new_series_per_hour: number;
  max_series_per_metric: number;
  max_label_values_per_name: number;
  max_samples_per_second: number;
  max_events_per_minute?: number;
  max_log_bytes_per_second?: number;
}

interface Tenant {
  name: string;
  active_series: number;
  new_series_last_hour: number;
  samples_per_second: number;
  samples_total: number;
  events_total?: number;
  events_per_minute?: number;
  log_bytes_total?: number;
  log_bytes_per_second?: number;
  limits: Limits;
  refusals: Record<string, number>;
}

interface Usage {
  tenants: Tenant[];
  active_series: number;
  sources: Record<string, number>;
}

interface Named {
  name: string;
  count: number;
}

interface Source {
  kind: string;
  name: string;
  detail?: string;
  status?: string;
  events_total?: number;
  events_per_minute?: number;
  log_bytes_total?: number;
  log_bytes_per_second?: number;
  first_seen_ms: number;
  last_seen_ms: number;
  active_series: number;
  samples_per_second: number;
}

interface Cardinality {
  tenant: string;
  active_series: number;
  top_metrics: Named[];
  top_labels: Named[];
  biggest_label: string;
  biggest_label_recent_values: string[];
  top_sources: Source[];
}

const TOP = 15;

function num(n: number): string {
  return formatUnit(n, "none");
}

/** "used of limit" with a bar; a limit of 0 is none. */
function gauge(used: number, limit: number, fmt: (n: number) => string = num): HTMLElement {
  if (!limit) return h("span", { class: "gauge" }, h("span", { class: "gauge-text" }, fmt(used)), h("span", { class: "muted small" }, " no limit"));
  const pct = Math.min(100, (used / limit) * 100);
  const cls = pct >= 90 ? "gauge-bad" : pct >= 75 ? "gauge-warn" : "";
  return h("span", { class: `gauge ${cls}`, title: `${pct.toFixed(1)}% of the limit` },
    h("span", { class: "gauge-bar" }, h("span", { class: "gauge-fill", style: `width:${pct.toFixed(1)}%` })),
    h("span", { class: "gauge-text" }, `${fmt(used)} / ${fmt(limit)}`));
}

function rankList(items: Named[], onPick?: (n: string) => string): HTMLElement {
  const max = Math.max(1, ...items.map((x) => x.count));
  return h("ol", { class: "rank-list" }, items.map((x) => h("li", { "data-name": x.name },
    h("span", { class: "rank-bar", style: `width:${((x.count / max) * 100).toFixed(1)}%` }),
    onPick ? h("a", { class: "rank-name mono", href: onPick(x.name) }, x.name) : h("span", { class: "rank-name mono" }, x.name),
    h("span", { class: "rank-n" }, num(x.count)))));
}

function ago(t: number): string {
  if (!t) return "–";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

const g = (x: number, y: number, w: number, hh: number) => ({ x, y, w, h: hh });

function volumeDashboard(): Dashboard {
  return {
    title: "Usage volumes",
    panels: [
      { id: 1, type: "timeseries", title: "Active series per token", grid: g(0, 0, 8, 7), queries: [{ expr: "sum by (tenant) (kansoku_usage_active_series)", legend: "{{tenant}}" }], options: { legend: "list", min: 0 } },
      { id: 2, type: "timeseries", title: "Samples per second per token", grid: g(8, 0, 8, 7), queries: [{ expr: "sum by (tenant) (kansoku_usage_samples_per_second)", legend: "{{tenant}}" }], options: { legend: "list", min: 0, unit: "none" } },
      { id: 3, type: "timeseries", title: "Refusals by limit", grid: g(16, 0, 8, 7), queries: [{ expr: "sum by (tenant, limit) (increase(kansoku_usage_refusals_total[$__rate_interval]))", legend: "{{tenant}} {{limit}}" }], options: { legend: "list", min: 0 } },
    ],
  };
}

export function usagePage(): Page {
  return new UsagePage();
}

class UsagePage implements Page {
  readonly el: HTMLElement;
  readonly title = "Usage";
  private summary = h("div", { class: "usage-summary", "aria-live": "polite" });
  private tenants = h("section", { class: "panel table-panel usage-tenants" }, loading("Loading usage…"));
  private volumes = h("section", { class: "usage-volumes" });
  private other = h("section", { class: "panel usage-other" });
  private card = h("section", { class: "usage-card" });
  private sources = h("section", { class: "panel table-panel usage-sources" });
  private view: DashboardView | null = null;
  private ctrl: AbortController | null = null;
  private key = "";
  private loadedOnce = false;

  constructor() {
    this.el = h("main", { class: "page page-usage" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Usage"), this.summary),
      this.tenants, this.volumes, this.other, this.card, this.sources);
  }

  update(loc: Loc): void {
    const p = loc.params;
    const key = ["tenant", "kind", "from", "to"].map((k) => p.get(k)).join("|");
    if (key === this.key) return;
    this.key = key;
    void this.load();
  }

  refresh(): void {
    void this.load();
  }

  destroy(): void {
    this.ctrl?.abort();
    this.view?.destroy();
    this.view = null;
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const p = current().params;
    const tenant = p.get("tenant") ?? "";
    const kind = p.get("kind") ?? "";
    if (this.loadedOnce) setBusy(this.el, true);
    try {
      const [u, c, s] = await Promise.all([
        apiGet<Usage>("/api/v1/usage", {}, { signal: ctrl.signal }),
        apiGet<Cardinality>("/api/v1/usage/cardinality", { tenant: tenant || undefined, top: TOP }, { signal: ctrl.signal }),
        apiGet<Source[]>("/api/v1/usage/sources", { kind: kind || undefined, limit: 500 }, { signal: ctrl.signal }),
      ]);
      this.renderSummary(u.data);
      this.renderTenants(u.data, c.data.tenant);
      this.renderCardinality(c.data);
      this.renderSources(s.data ?? [], u.data.sources, kind);
      this.loadedOnce = true;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.tenants.replaceChildren(errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
    if (ctrl.signal.aborted) return;
    if (!this.view) {
      this.view = new DashboardView(volumeDashboard(), { edit: false, tv: false, scrapeInterval: 15 });
      this.volumes.replaceChildren(h("h2", { class: "section-title" }, "Metrics volume over time"), this.view.el);
      void this.view.refresh(true);
    } else {
      void this.view.refresh();
    }
    void this.loadOther(ctrl.signal);
  }

  private renderSummary(u: Usage): void {
    const refused = u.tenants.reduce((n, t) => n + Object.values(t.refusals).reduce((a, b) => a + b, 0), 0);
    const sps = u.tenants.reduce((n, t) => n + t.samples_per_second, 0);
    setChildren(this.summary,
      h("span", { class: "count-pill" }, h("strong", null, num(u.active_series)), " active series"),
      h("span", { class: "count-pill" }, h("strong", null, num(sps)), " samples/s"),
      h("span", { class: "count-pill" }, h("strong", null, String(u.tenants.length)), " tokens"),
      h("span", { class: "count-pill" }, h("strong", null, String(Object.values(u.sources).reduce((a, b) => a + b, 0))), " sources"),
      h("span", { class: `count-pill ${refused ? "pill-bad" : "pill-ok"}`, "data-count": "refused" }, h("strong", null, num(refused)), " refused"));
  }

  private renderTenants(u: Usage, selected: string): void {
    if (!u.tenants.length) {
      this.tenants.replaceChildren(empty("Nothing written yet", "Per-token usage appears when a client writes metrics (remote_write, OTLP, Influx line, Graphite, the agent…)."));
      return;
    }
    const carry = () => globalParams();
    this.tenants.replaceChildren(h("h2", { class: "section-title" }, "Tokens: usage against limits"),
      h("table", { class: "data-table tenants-table" },
        h("thead", null, h("tr", null, h("th", null, "Token"), h("th", null, "Active series"), h("th", null, "New series (last hour)"),
          h("th", { title: "Rates are averaged over the last minute (the guard measures them once a minute)" }, "Samples/s"), h("th", { class: "num" }, "Samples total"),
          h("th", { title: "Averaged over the last minute" }, "Error events/min"), h("th", { title: "Averaged over the last minute" }, "Log bytes/s"), h("th", null, "Refusals"))),
        h("tbody", null, u.tenants.map((t) => {
          const refusals = Object.entries(t.refusals).filter(([, n]) => n > 0);
          const p = carry();
          p.set("tenant", t.name);
          return h("tr", { "data-tenant": t.name, class: `${refusals.length ? "row-bad" : ""}${t.name === selected ? " selected" : ""}` },
            h("td", null, h("a", { href: href("/usage", p), title: "Cardinality of this token" }, t.name || "(default)")),
            h("td", null, gauge(t.active_series, t.limits.max_active_series)),
            h("td", null, gauge(t.new_series_last_hour, t.limits.max_new_series_per_hour)),
            h("td", null, gauge(t.samples_per_second, t.limits.max_samples_per_second)),
            h("td", { class: "num" }, num(t.samples_total)),
            h("td", { title: `${num(t.events_total ?? 0)} events in all` }, gauge(t.events_per_minute ?? 0, t.limits.max_events_per_minute ?? 0)),
            h("td", { title: `${formatUnit(t.log_bytes_total ?? 0, "bytes")} in all` }, gauge(t.log_bytes_per_second ?? 0, t.limits.max_log_bytes_per_second ?? 0, (n) => formatUnit(n, "bytes/s"))),
            h("td", null, refusals.length
              ? refusals.map(([k, n]) => h("span", { class: "badge badge-bad", "data-limit": k, title: `refused by ${k}` }, `${k}: ${num(n)}`))
              : h("span", { class: "muted small" }, "none"),
              h("div", { class: "small muted limits-note" }, `per metric ≤ ${t.limits.max_series_per_metric || "∞"} series · per label ≤ ${t.limits.max_label_values_per_name || "∞"} values`)));
        }))));
  }

  private renderCardinality(c: Cardinality): void {
    const pick = (m: string) => href("/explore", globalParams({ q: `count by (__name__) ({__name__="${m}"})` }));
    const labelPick = (l: string) => href("/explore", globalParams({ q: `count by (${l}) ({${l}!=""})` }));
    setChildren(this.card,
      h("div", { class: "usage-grid" },
        h("div", { class: "panel" }, h("h2", { class: "section-title" }, `Top metrics by series${c.tenant ? ` · token ${c.tenant}` : ""}`),
          c.top_metrics.length ? rankList(c.top_metrics, pick) : h("div", { class: "muted small" }, "No series.")),
        h("div", { class: "panel" }, h("h2", { class: "section-title" }, "Top labels by distinct values"),
          c.top_labels.length ? rankList(c.top_labels, labelPick) : h("div", { class: "muted small" }, "No labels."),
          c.biggest_label ? h("div", { class: "small biggest" }, h("span", { class: "muted" }, "Biggest: "), h("span", { class: "mono" }, c.biggest_label),
            c.biggest_label_recent_values.length ? h("div", { class: "muted mono small recent-values" }, `recent values: ${c.biggest_label_recent_values.slice(0, 8).join(", ")}`) : null) : null),
        h("div", { class: "panel" }, h("h2", { class: "section-title" }, "Biggest sources"),
          c.top_sources.length ? rankList(c.top_sources.map((s) => ({ name: `${s.kind}: ${s.name}`, count: s.active_series }))) : h("div", { class: "muted small" }, "No sources."))));
  }

  private renderSources(list: Source[], kinds: Record<string, number>, kind: string): void {
    const seg = h("div", { class: "seg", role: "group", "aria-label": "Source kind" },
      [["", "All"], ...Object.keys(kinds).sort().map((k) => [k, `${k} (${kinds[k]})`])].map(([k, l]) =>
        h("button", { type: "button", class: "seg-btn", "data-kind": k!, "aria-pressed": k === kind ? "true" : "false", onclick: () => setParams({ kind: k || null }) }, l!)));
    this.sources.replaceChildren(h("div", { class: "job-head" }, h("h2", { class: "section-title" }, "Sources"), seg),
      list.length ? h("div", { class: "table-scroll" }, h("table", { class: "data-table sources-table" },
        h("thead", null, h("tr", null, h("th", null, "Kind"), h("th", null, "Source"), h("th", { class: "num" }, "Active series"), h("th", { class: "num" }, "Samples/s"),
          h("th", { class: "num" }, "Events"), h("th", { class: "num" }, "Log bytes"),
          h("th", null, "First seen"), h("th", null, "Last seen"))),
        h("tbody", null, [...list].sort((a, b) => b.active_series - a.active_series || (b.log_bytes_total ?? 0) - (a.log_bytes_total ?? 0) || (b.events_total ?? 0) - (a.events_total ?? 0)).map((s) => h("tr", { "data-source": s.name },
          h("td", null, h("span", { class: "tag" }, s.kind)),
          h("td", { class: "mono" }, s.name, s.detail ? h("div", { class: "muted small" }, s.detail) : null,
            s.status ? h("span", { class: `badge ${/refus|limit|block/.test(s.status) ? "badge-bad" : s.status === "held" ? "badge-warn" : "badge-muted"}` }, s.status) : null,
            s.kind === "scrape_target" && s.status === "held" ? h("a", { class: "small approve-link", href: href("/targets", globalParams({ state: "held" })) }, " review and approve") : null),
          h("td", { class: "num" }, num(s.active_series)), h("td", { class: "num" }, num(s.samples_per_second)),
          h("td", { class: "num", title: s.events_per_minute ? `${num(s.events_per_minute)}/min` : "" }, s.events_total ? num(s.events_total) : "–"),
          h("td", { class: "num", title: s.log_bytes_per_second ? formatUnit(s.log_bytes_per_second, "bytes/s") : "" }, s.log_bytes_total ? formatUnit(s.log_bytes_total, "bytes") : "–"),
          h("td", { class: "small", title: formatDateTime(s.first_seen_ms) }, ago(s.first_seen_ms)),
          h("td", { class: "small", title: formatDateTime(s.last_seen_ms) }, ago(s.last_seen_ms)))))))
        : empty("No sources", kind ? `No source of kind ${kind}.` : "Sources appear as clients write."));
  }

  /** Log lines and error events over the range: the other two things clients send. */
  private async loadOther(signal: AbortSignal): Promise<void> {
    const { start, end } = resolveRange(rangeOf(current().params));
    if (!this.other.childElementCount) this.other.replaceChildren(loading("Counting log lines and error events…"));
    const step = Math.max(1, Math.ceil((end - start) / 1000 / 60));
    const [hits, byService, issues] = await Promise.allSettled([
      apiGet<{ buckets: { hits: number }[]; total: number }>("/api/v1/logs/hits", { query: "*", start: String(start), end: String(end), step: `${step}s` }, { signal }),
      apiGet<{ type: string; rows: string[][] }>("/api/v1/logs/query", { query: "* | stats count() as n by (service) | sort by (n desc) | limit 10", start: String(start), end: String(end) }, { signal }),
      apiGet<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>("/api/v1/query",
        { query: `sum by (project) (increase(kansoku_issue_events_total[${Math.max(60, Math.round((end - start) / 1000))}s]))`, time: (end / 1000).toFixed(3) }, { signal }),
    ]);
    if (signal.aborted) return;
    const failed = (r: PromiseSettledResult<unknown>) => r.status === "rejected" && !isAbort(r.reason) ? h("div", { class: "muted small" }, describe(r.reason).message) : null;
    const logsBox = hits.status === "fulfilled"
      ? h("div", null, h("div", { class: "small" }, h("strong", { class: "logs-total" }, num(hits.value.data.total)), ` log lines from ${formatDateTime(start)} to ${formatDateTime(end)}`),
        barsSvg(hits.value.data.buckets.map((b) => b.hits), { cls: "bars usage-log-bars" }))
      : failed(hits);
    const svc = byService.status === "fulfilled" && byService.value.data.type === "table"
      ? rankList(byService.value.data.rows.map((r) => ({ name: r[0] || "(no service)", count: Number(r[1]) })), (n) => href("/logs", globalParams({ q: `service:="${n}"` })))
      : failed(byService);
    const ev = issues.status === "fulfilled"
      ? rankList(issues.value.data.result.map((r) => ({ name: `project ${r.metric["project"] ?? "?"}`, count: Math.round(Number(r.value[1])) })).filter((x) => x.count > 0))
      : failed(issues);
    this.other.replaceChildren(h("div", { class: "usage-grid" },
      h("div", null, h("h2", { class: "section-title" }, "Log lines"), logsBox),
      h("div", null, h("h2", { class: "section-title" }, "Log lines by service"), svc),
      h("div", null, h("h2", { class: "section-title" }, "Error events by project (about the range)"), ev)));
  }
}
