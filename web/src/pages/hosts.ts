// Hosts (the agent's registry, Mackerel's model): services → roles → hosts with status, key
// metrics and a CPU sparkline; one host's graphs; one role's graphs (a line per host).
// URLs: /hosts, /hosts?service=S&role=R (role graphs), /hosts/<id>.
// The graph pages are built-in dashboards (DashboardView) over the agent's host_* series.

import { ApiError, apiGet, isAbort, type QueryData } from "../api";
import { h } from "../dom";
import { formatUnit, parseSampleValue } from "../format";
import type { Dashboard, Panel } from "../dash/model";
import { rateInterval } from "../dash/model";
import { DashboardView } from "../dash/view";
import { formatDateTime, resolveRange } from "../time";
import { empty, errorBox, loading, setBusy } from "../ui/states";
import { current, globalParams, href, rangeOf, type Loc } from "../url";
import type { Page } from "./page";

export interface Host {
  id: string;
  name: string;
  service: string;
  roles: string[];
  status: string;
  unreachable: boolean;
  retired: boolean;
  last_heartbeat_ms: number;
  interval_seconds: number;
  meta: Record<string, unknown>;
  metrics: Record<string, number>;
  checks: { name: string; status: string; message: string; occurred_at_ms: number }[];
}

/** A PromQL string literal. */
function lit(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const CPU_BUSY = (sel: string) =>
  `sum by (host) (rate(host_cpu_seconds_total{${sel},mode!="idle"}[$__rate_interval])) / on (host) sum by (host) (host_cpu_count{${sel}})`;

function statusBadge(host: Host): HTMLElement {
  if (host.retired) return h("span", { class: "badge badge-muted" }, "retired");
  if (host.unreachable) return h("span", { class: "badge badge-bad", title: `No heartbeat since ${formatDateTime(host.last_heartbeat_ms)}` }, "unreachable");
  const cls = host.status === "working" ? "badge-ok" : host.status === "poweroff" ? "badge-muted" : "badge-warn";
  return h("span", { class: `badge ${cls}` }, host.status);
}

/** The longest heartbeat interval of these hosts: their metrics come at that pace. */
function scrapeOf(hosts: Host[]): number {
  return Math.max(1, ...hosts.map((x) => x.interval_seconds || 15));
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

const SVG = "http://www.w3.org/2000/svg";

function sparkline(values: (number | null)[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("preserveAspectRatio", "none");
  const path = document.createElementNS(SVG, "path");
  let d = "";
  let pen = false;
  const n = values.length;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = n > 1 ? (i / (n - 1)) * 100 : 50;
    const y = 19 - Math.max(0, Math.min(1, v)) * 18; // a ratio 0..1
    const next = values[i + 1];
    const alone = !pen && (next === null || next === undefined || !Number.isFinite(next));
    // A point with no neighbour is drawn as a short dash, so a fresh host shows its first value.
    d += alone ? `M${Math.max(0, x - 2).toFixed(1)},${y.toFixed(1)}L${Math.min(100, x + 2).toFixed(1)},${y.toFixed(1)}`
      : `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

/**
 * Services -> roles -> hosts with status, key metrics and a CPU sparkline over the URL's range
 * (one query for all hosts; the list stands without sparklines if it fails).
 */
export async function hostSections(hosts: Host[], signal: AbortSignal): Promise<HTMLElement[]> {
  // CPU busy ratio per host over the range, for the sparklines (one query for all hosts).
  const spark = new Map<string, (number | null)[]>();
  try {
    const { start, end } = resolveRange(rangeOf(current().params));
    // About 100 points across the cell whatever the range (a 5-minute range steps 3 s, so a
    // host that started a minute ago already has a line).
    const step = Math.max(1, Math.ceil((end - start) / 1000 / 100));
    const s0 = Math.floor(start / 1000 / step) * step;
    const r = await apiGet<QueryData>("/api/v1/query_range", { query: CPU_BUSY('host!=""').replaceAll("$__rate_interval", rateInterval(step, scrapeOf(hosts))), start: s0, end: Math.floor(end / 1000), step }, { signal });
    if (r.data.resultType === "matrix") {
      const n = Math.floor((end / 1000 - s0) / step) + 1;
      for (const m of r.data.result) {
        const vals = new Array<number | null>(n).fill(null);
        for (const [t, v] of m.values) vals[Math.round((t - s0) / step)] = parseSampleValue(v);
        spark.set(m.metric["host"] ?? "", vals);
      }
    }
  } catch (e) {
    if (isAbort(e)) throw e;
    // Sparklines are extra: the list stands without them.
  }
  const byService = new Map<string, Map<string, Host[]>>();
  for (const host of hosts) {
    const svc = host.service || "(no service)";
    if (!byService.has(svc)) byService.set(svc, new Map());
    const roles = host.roles.length ? host.roles : ["(no role)"];
    for (const r of roles) {
      const m = byService.get(svc)!;
      if (!m.has(r)) m.set(r, []);
      m.get(r)!.push(host);
    }
  }
  const carry = globalParams();
  const sections = [...byService.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([svc, roles]) =>
    h("section", { class: "panel service", "data-service": svc },
      h("h2", { class: "service-name" }, svc),
      [...roles.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([role, list]) => {
        const bad = list.filter((x) => x.unreachable && !x.retired).length;
        return h("div", { class: "role", "data-role": role },
          h("div", { class: "role-head" },
            h("h3", null, role),
            h("span", { class: "muted small" }, `${list.length} host${list.length === 1 ? "" : "s"}`),
            bad ? h("span", { class: "badge badge-bad" }, `${bad} unreachable`) : null,
            role !== "(no role)" && svc !== "(no service)"
              ? h("a", { class: "small role-link", href: href("/hosts", globalParams({ service: svc, role })) }, "Role graphs →") : null),
          h("table", { class: "data-table hosts-table" },
            h("thead", null, h("tr", null, ["Host", "Status", "CPU", "", "Memory", "Disk (fullest)", "Load", "Checks", "Heartbeat"].map((c, i) =>
              h("th", { class: i >= 2 && i !== 3 && i < 7 ? "num" : "" }, c)))),
            h("tbody", null, [...list].sort((a, b) => a.name.localeCompare(b.name)).map((x) => {
              const m = x.metrics ?? {};
              const crit = (x.checks ?? []).filter((c) => c.status === "CRITICAL").length;
              const warn = (x.checks ?? []).filter((c) => c.status === "WARNING").length;
              return h("tr", { class: x.unreachable && !x.retired ? "host-down" : "", "data-host": x.name },
                h("td", null, h("a", { href: href(`/hosts/${x.id}`, carry) }, x.name)),
                h("td", null, statusBadge(x)),
                h("td", { class: "num" }, formatUnit(m["cpu_used_ratio"], "percentunit")),
                h("td", { class: "spark-cell" }, sparkline(spark.get(x.name) ?? [])),
                h("td", { class: "num" }, formatUnit(m["memory_used_ratio"], "percentunit")),
                h("td", { class: "num" }, formatUnit(m["fs_max_used_ratio"], "percentunit")),
                h("td", { class: "num" }, formatUnit(m["load1"], "none")),
                h("td", null, crit ? h("span", { class: "badge badge-bad" }, `${crit} critical`) : warn ? h("span", { class: "badge badge-warn" }, `${warn} warning`)
                  : (x.checks ?? []).length ? h("span", { class: "badge badge-ok" }, "OK") : h("span", { class: "muted small" }, "–")),
                h("td", { class: "muted small", title: formatDateTime(x.last_heartbeat_ms) }, ago(x.last_heartbeat_ms)));
            }))));
      })));
  return sections;
}

export function hostsPage(): Page {
  return new HostsPage();
}

class HostsPage implements Page {
  readonly el: HTMLElement;
  title = "Hosts";
  private head = h("h1", { class: "page-title" }, "Hosts");
  private summary = h("div", { class: "muted small", "aria-live": "polite" });
  private content = h("div", { class: "hosts-content" }, loading("Loading hosts…"));
  private ctrl: AbortController | null = null;
  private view: DashboardView | null = null;
  private key = "";
  private loadedOnce = false;

  constructor() {
    this.el = h("main", { class: "page page-hosts" }, h("div", { class: "page-head" }, this.head, this.summary), this.content);
  }

  update(loc: Loc): void {
    const p = loc.params;
    const key = [p.get("service"), p.get("role"), p.get("all"), p.get("from"), p.get("to")].join("|");
    if (key === this.key) return;
    const sameRole = this.view && this.key.split("|").slice(0, 3).join("|") === key.split("|").slice(0, 3).join("|");
    this.key = key;
    if (sameRole) void this.view!.refresh(true);
    else void this.load();
  }

  refresh(): void {
    if (this.view) void this.view.refresh();
    else void this.load();
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
    if (this.loadedOnce) setBusy(this.el, true);
    try {
      const r = await apiGet<Host[]>("/api/v1/hosts", { all: p.get("all") === "1" ? "1" : undefined }, { signal: ctrl.signal });
      const hosts = r.data ?? [];
      const service = p.get("service");
      const role = p.get("role");
      if (service && role) this.showRole(hosts, service, role);
      else await this.showList(hosts, ctrl.signal);
      this.loadedOnce = true;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.content.replaceChildren(errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  private async showList(hosts: Host[], signal: AbortSignal): Promise<void> {
    this.view?.destroy();
    this.view = null;
    this.head.textContent = "Hosts";
    document.title = "Hosts · kansoku";
    const down = hosts.filter((x) => x.unreachable && !x.retired).length;
    this.summary.textContent = hosts.length ? `${hosts.length} hosts${down ? ` · ${down} unreachable` : ""}` : "";
    if (!hosts.length) {
      this.content.replaceChildren(empty("No hosts registered",
        "Hosts appear here when a kansoku agent registers: kansoku agent --server URL --token TOKEN --service SERVICE --role ROLE."));
      return;
    }
    this.content.replaceChildren(...(await hostSections(hosts, signal)));
  }

  private showRole(hosts: Host[], service: string, role: string): void {
    const list = hosts.filter((x) => x.service === service && x.roles.includes(role));
    this.head.textContent = `${service} / ${role}`;
    document.title = `${service} / ${role} · kansoku`;
    this.summary.replaceChildren(h("a", { href: href("/hosts", globalParams()) }, "← All hosts"), ` · ${list.length} hosts, one line per host`);
    if (!list.length) {
      this.view?.destroy();
      this.view = null;
      this.content.replaceChildren(empty("No hosts in this role", `No registered host of service “${service}” has the role “${role}”.`));
      return;
    }
    const sel = `host=~${lit(list.map((x) => reEscape(x.name)).join("|"))}`;
    this.mount(roleDashboard(`${service} / ${role}`, sel), scrapeOf(list));
  }

  private mount(doc: Dashboard, scrapeInterval: number): void {
    this.view?.destroy();
    this.view = new DashboardView(doc, { edit: false, tv: false, scrapeInterval });
    this.content.replaceChildren(this.view.el);
    void this.view.refresh(true);
  }
}

const g = (x: number, y: number, w: number, hh: number) => ({ x, y, w, h: hh });

function roleDashboard(title: string, sel: string): Dashboard {
  const panels: Panel[] = [
    { id: 1, type: "timeseries", title: "CPU busy", grid: g(0, 0, 12, 8), queries: [{ expr: CPU_BUSY(sel), legend: "{{host}}" }], options: { unit: "percentunit", legend: "table", min: 0 } },
    { id: 2, type: "timeseries", title: "Memory used", grid: g(12, 0, 12, 8), queries: [{ expr: `host_memory_used_bytes{${sel}} / host_memory_total_bytes{${sel}}`, legend: "{{host}}" }], options: { unit: "percentunit", legend: "table", min: 0 } },
    { id: 3, type: "timeseries", title: "Load (1m)", grid: g(0, 8, 8, 7), queries: [{ expr: `host_load1{${sel}}`, legend: "{{host}}" }], options: { legend: "list" } },
    { id: 4, type: "timeseries", title: "Network received + sent", grid: g(8, 8, 8, 7), queries: [{ expr: `sum by (host) (rate(host_network_receive_bytes_total{${sel}}[$__rate_interval]) + rate(host_network_transmit_bytes_total{${sel}}[$__rate_interval]))`, legend: "{{host}}" }], options: { unit: "bytes/s", legend: "list" } },
    { id: 5, type: "timeseries", title: "Disk read + written", grid: g(16, 8, 8, 7), queries: [{ expr: `sum by (host) (rate(host_disk_read_bytes_total{${sel}}[$__rate_interval]) + rate(host_disk_written_bytes_total{${sel}}[$__rate_interval]))`, legend: "{{host}}" }], options: { unit: "bytes/s", legend: "list" } },
  ];
  return { title, panels };
}

export function hostDashboard(host: Host): Dashboard {
  const sel = `host=${lit(host.name)}`;
  const panels: Panel[] = [
    { id: 1, type: "timeseries", title: "CPU", grid: g(0, 0, 12, 8), queries: [{ expr: `sum by (mode) (rate(host_cpu_seconds_total{${sel},mode!="idle"}[$__rate_interval])) / scalar(sum(host_cpu_count{${sel}}))`, legend: "{{mode}}" }], options: { unit: "percentunit", stacked: true, legend: "list", min: 0 } },
    { id: 2, type: "timeseries", title: "Memory", grid: g(12, 0, 12, 8), queries: [
      { expr: `host_memory_used_bytes{${sel}}`, legend: "used" }, { expr: `host_memory_buffers_bytes{${sel}}`, legend: "buffers" },
      { expr: `host_memory_cached_bytes{${sel}}`, legend: "cached" }, { expr: `host_memory_free_bytes{${sel}}`, legend: "free" },
      { expr: `host_swap_used_bytes{${sel}}`, legend: "swap used" }], options: { unit: "bytes", stacked: false, legend: "list", min: 0 } },
    { id: 3, type: "timeseries", title: "Load average", grid: g(0, 8, 8, 7), queries: [
      { expr: `host_load1{${sel}}`, legend: "1m" }, { expr: `host_load5{${sel}}`, legend: "5m" }, { expr: `host_load15{${sel}}`, legend: "15m" }], options: { legend: "list", min: 0 } },
    { id: 4, type: "timeseries", title: "Network", grid: g(8, 8, 8, 7), queries: [
      { expr: `rate(host_network_receive_bytes_total{${sel}}[$__rate_interval])`, legend: "{{device}} in" }, { expr: `rate(host_network_transmit_bytes_total{${sel}}[$__rate_interval])`, legend: "{{device}} out" }], options: { unit: "bytes/s", legend: "list" } },
    { id: 5, type: "timeseries", title: "Disk I/O", grid: g(16, 8, 8, 7), queries: [
      { expr: `rate(host_disk_read_bytes_total{${sel}}[$__rate_interval])`, legend: "{{device}} read" }, { expr: `rate(host_disk_written_bytes_total{${sel}}[$__rate_interval])`, legend: "{{device}} write" }], options: { unit: "bytes/s", legend: "list" } },
    { id: 6, type: "table", title: "Filesystems (used)", grid: g(0, 15, 12, 6), queries: [{ expr: `host_filesystem_used_bytes{${sel}} / host_filesystem_size_bytes{${sel}}` }], options: { unit: "percentunit", thresholds: [{ value: 0, color: "green" }, { value: 0.8, color: "yellow" }, { value: 0.9, color: "red" }] } },
    { id: 7, type: "table", title: "Containers (memory)", grid: g(12, 15, 12, 6), queries: [{ expr: `container_memory_usage_bytes{${sel}}` }], options: { unit: "bytes" } },
    { id: 8, type: "timeseries", title: "Containers (CPU)", grid: g(0, 21, 24, 7), queries: [{ expr: `sum by (container_id, unit, pod_uid) (rate(container_cpu_usage_seconds_total{${sel}}[$__rate_interval]))`, legend: "{{unit}}{{container_id}}" }], options: { legend: "list", min: 0 } },
  ];
  return { title: host.name, panels };
}

export function hostPage(id: string): Page {
  return new HostPage(id);
}

class HostPage implements Page {
  readonly el: HTMLElement;
  title = "Host";
  private head = h("h1", { class: "page-title" }, "Host");
  private facts = h("div", { class: "host-facts" });
  private content = h("div", { class: "host-content" }, loading("Loading host…"));
  private view: DashboardView | null = null;
  private ctrl: AbortController | null = null;
  private range = "";

  constructor(private id: string) {
    this.el = h("main", { class: "page page-host" },
      h("div", { class: "page-head" }, h("a", { href: href("/hosts", globalParams()), class: "small" }, "← Hosts"), this.head),
      this.facts, this.content);
  }

  update(loc: Loc): void {
    const r = `${loc.params.get("from")}|${loc.params.get("to")}`;
    if (!this.view) {
      this.range = r;
      void this.load();
    } else if (r !== this.range) {
      this.range = r;
      void this.view.refresh(true);
    }
  }

  refresh(): void {
    void this.loadFacts();
    void this.view?.refresh();
  }

  destroy(): void {
    this.ctrl?.abort();
    this.view?.destroy();
    this.view = null;
  }

  private async load(): Promise<void> {
    const host = await this.loadFacts();
    if (!host) return;
    this.view?.destroy();
    this.view = new DashboardView(hostDashboard(host), { edit: false, tv: false, scrapeInterval: scrapeOf([host]) });
    this.content.replaceChildren(this.view.el);
    void this.view.refresh(true);
  }

  private async loadFacts(): Promise<Host | null> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    try {
      const host = (await apiGet<Host>(`/api/v1/hosts/${encodeURIComponent(this.id)}`, {}, { signal: ctrl.signal })).data;
      this.renderFacts(host);
      return host;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return null;
      if (!this.view) {
        this.head.textContent = e instanceof ApiError && e.status === 404 ? "Host not found" : "Host";
        this.content.replaceChildren(e instanceof ApiError && e.status === 404
          ? empty(`No host with id “${this.id}”`, h("a", { href: href("/hosts", globalParams()) }, "All hosts"))
          : errorBox(e, () => void this.load()));
      } else {
        this.facts.prepend(errorBox(e));
      }
      return null;
    }
  }

  private renderFacts(host: Host): void {
    this.title = host.name;
    document.title = `${host.name} · kansoku`;
    this.head.replaceChildren(host.name, " ", statusBadge(host));
    const m = host.meta ?? {};
    const fact = (k: string, v: unknown) => (v === undefined || v === null || v === "" ? null : h("div", { class: "fact" }, h("span", { class: "fact-k" }, k), h("span", { class: "fact-v" }, String(v))));
    const mem = typeof m["memory_bytes"] === "number" ? formatUnit(m["memory_bytes"] as number, "bytes") : undefined;
    const ips = Array.isArray(m["ips"]) ? (m["ips"] as string[]).join(", ") : undefined;
    const checks = host.checks ?? [];
    this.facts.replaceChildren(
      h("div", { class: "facts panel" },
        fact("service", host.service), fact("roles", host.roles.join(", ")), fact("os", m["os"]), fact("kernel", m["kernel"]),
        fact("arch", m["arch"]), fact("cpus", m["cpus"]), fact("memory", mem), fact("ips", ips),
        fact("agent", m["agent_version"]), fact("heartbeat", `${ago(host.last_heartbeat_ms)} (every ${host.interval_seconds}s)`)),
      checks.length
        ? h("div", { class: "checks panel" }, h("h2", { class: "small" }, "Check results"),
          h("table", { class: "data-table" }, h("tbody", null, checks.map((c) => h("tr", null,
            h("td", null, h("span", { class: `badge ${c.status === "OK" ? "badge-ok" : c.status === "CRITICAL" ? "badge-bad" : "badge-warn"}` }, c.status)),
            h("td", { class: "mono" }, c.name), h("td", null, c.message), h("td", { class: "muted small" }, ago(c.occurred_at_ms)))))))
        : "");
  }
}
