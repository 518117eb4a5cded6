// Overview: what needs attention first — firing alerts (red, on top) and unreachable hosts —
// then services -> roles -> hosts with status and sparklines (the agent's registry), then every
// scrape target that reports `up`, grouped by job, with its history over the range.

import { apiGet, isAbort, type QueryData } from "../api";
import type { Alert } from "./alerts";
import { hostSections, type Host } from "./hosts";
import { h, setChildren } from "../dom";
import { parseSampleValue, seriesName, type Labels } from "../format";
import { formatDateTime, formatDuration, resolveRange } from "../time";
import { empty, errorBox, loading, setBusy } from "../ui/states";
import { current, globalParams, href, rangeOf, type Loc } from "../url";
import type { Page } from "./page";

const CELLS = 90;

interface Target {
  labels: Labels;
  up: number | null;
  history: (number | null)[];
}

export function overviewPage(): Page {
  return new OverviewPage();
}

class OverviewPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Overview";
  private content: HTMLElement;
  private summary: HTMLElement;
  private ctrl: AbortController | null = null;
  private key = "";
  private loadedOnce = false;
  private attention = h("section", { class: "attention", "aria-live": "polite" });
  private hosts = h("div", { class: "overview-hosts" });

  constructor() {
    this.summary = h("div", { class: "muted small", "aria-live": "polite" });
    this.content = h("div", { class: "overview-content" }, loading("Loading targets…"));
    this.el = h("main", { class: "page page-overview" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Overview"), this.summary),
      this.attention, this.hosts, this.content);
  }

  update(loc: Loc): void {
    const r = rangeOf(loc.params);
    const key = `${r.from}|${r.to}`;
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
    const { start, end } = resolveRange(rangeOf(current().params));
    const step = Math.max(1, Math.ceil((end - start) / 1000 / CELLS));
    const s0 = Math.floor(start / 1000 / step) * step;
    const s1 = Math.floor(end / 1000);
    if (this.loadedOnce) setBusy(this.el, true);
    void this.loadAttention(ctrl.signal);
    try {
      const [now, range] = await Promise.all([
        apiGet<QueryData>("/api/v1/query", { query: "up", time: s1 }, { signal: ctrl.signal }),
        apiGet<QueryData>("/api/v1/query_range", { query: "up", start: s0, end: s1, step }, { signal: ctrl.signal }),
      ]);
      const targets = new Map<string, Target>();
      const cells = Math.floor((s1 - s0) / step) + 1;
      if (range.data.resultType === "matrix") {
        for (const m of range.data.result) {
          const history = new Array<number | null>(cells).fill(null);
          for (const [t, v] of m.values) {
            const i = Math.round((t - s0) / step);
            if (i >= 0 && i < cells) history[i] = parseSampleValue(v);
          }
          targets.set(seriesName(m.metric), { labels: m.metric, up: null, history });
        }
      }
      if (now.data.resultType === "vector") {
        for (const s of now.data.result) {
          const k = seriesName(s.metric);
          const t = targets.get(k) ?? { labels: s.metric, up: null, history: new Array<number | null>(cells).fill(null) };
          t.up = parseSampleValue(s.value[1]);
          targets.set(k, t);
        }
      }
      this.loadedOnce = true;
      this.render([...targets.values()], step, s0, s1);
    } catch (e) {
      if (isAbort(e)) return;
      setChildren(this.content, errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  /** Firing alerts and unreachable hosts on top, then the hosts tree; each part fails alone. */
  private async loadAttention(signal: AbortSignal): Promise<void> {
    const [al, ho] = await Promise.allSettled([
      apiGet<{ alerts: Alert[] }>("/api/v1/alerts", {}, { signal }),
      apiGet<Host[]>("/api/v1/hosts", {}, { signal }),
    ]);
    if (signal.aborted) return;
    const items: HTMLElement[] = [];
    if (al.status === "fulfilled") {
      const firing = (al.value.data.alerts ?? []).filter((a) => a.state === "firing");
      const pending = (al.value.data.alerts ?? []).filter((a) => a.state === "pending").length;
      if (firing.length) {
        items.push(h("div", { class: "attn attn-bad", "data-kind": "alerts" },
          h("a", { class: "attn-title", href: href("/alerts", globalParams()) }, `${firing.length} alert${firing.length === 1 ? "" : "s"} firing`),
          h("ul", { class: "attn-list" }, firing.slice(0, 8).map((a) => h("li", { "data-alertname": a.labels["alertname"] ?? "" },
            h("strong", null, a.labels["alertname"] ?? "(no name)"), " ",
            h("span", { class: "muted" }, a.annotations["summary"] ?? Object.entries(a.labels).filter(([k]) => k !== "alertname").map(([k, v]) => `${k}=${v}`).join(" "))))),
          firing.length > 8 ? h("a", { class: "small", href: href("/alerts", globalParams()) }, `and ${firing.length - 8} more`) : null));
      } else {
        items.push(h("div", { class: "attn attn-ok", "data-kind": "alerts" }, h("a", { href: href("/alerts", globalParams()) }, "No alert firing"),
          pending ? h("span", { class: "muted small" }, ` · ${pending} pending`) : null));
      }
    } else if (!isAbort(al.reason)) {
      items.push(h("div", { class: "attn attn-warn" }, `Alerts unavailable: ${al.reason instanceof Error ? al.reason.message : String(al.reason)}`));
    }
    let hosts: Host[] = [];
    if (ho.status === "fulfilled") {
      hosts = ho.value.data ?? [];
      const down = hosts.filter((x) => x.unreachable && !x.retired);
      if (down.length) {
        items.push(h("div", { class: "attn attn-bad", "data-kind": "hosts" },
          h("a", { class: "attn-title", href: href("/hosts", globalParams()) }, `${down.length} host${down.length === 1 ? "" : "s"} unreachable`),
          h("ul", { class: "attn-list" }, down.slice(0, 8).map((x) => h("li", { "data-host": x.name },
            h("a", { href: href(`/hosts/${x.id}`, globalParams()) }, x.name), h("span", { class: "muted" }, ` ${x.service}${x.roles.length ? ` / ${x.roles.join(", ")}` : ""}`))))));
      }
    }
    this.attention.replaceChildren(...items);
    if (hosts.length) {
      try {
        this.hosts.replaceChildren(...(await hostSections(hosts, signal)));
      } catch (e) {
        if (!isAbort(e)) this.hosts.replaceChildren(errorBox(e));
      }
    } else {
      this.hosts.replaceChildren();
    }
  }

  private render(targets: Target[], step: number, s0: number, s1: number): void {
    if (!targets.length) {
      this.summary.textContent = "";
      setChildren(this.content, empty("No targets report `up` in this time range",
        h("span", null, "The `up` series comes from scrapes: Prometheus sends it with remote_write, and the kansoku agent will add its own. ",
          "Everything stored is in ", h("a", { href: href("/explore", globalParams()) }, "Explore"), ".")));
      return;
    }
    const jobs = new Map<string, Target[]>();
    for (const t of targets) {
      const job = t.labels["job"] ?? "(no job)";
      if (!jobs.has(job)) jobs.set(job, []);
      jobs.get(job)!.push(t);
    }
    const down = targets.filter((t) => t.up !== 1).length;
    this.summary.textContent = `${targets.length} targets in ${jobs.size} jobs · ${down ? `${down} not up` : "all up"} · history step ${formatDuration(step)}, ${formatDateTime(s0 * 1000)} → ${formatDateTime(s1 * 1000)}`;
    const sections = [...jobs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([job, list]) => {
      list.sort((a, b) => (a.labels["instance"] ?? "").localeCompare(b.labels["instance"] ?? ""));
      const upCount = list.filter((t) => t.up === 1).length;
      const q = `up{job="${job.replace(/"/g, '\\"')}"}`;
      return h("section", { class: "panel job", "aria-label": `Job ${job}` },
        h("div", { class: "job-head" },
          h("h2", null, job),
          h("span", { class: `badge ${upCount === list.length ? "badge-ok" : "badge-bad"}` }, `${upCount}/${list.length} up`),
          h("a", { class: "small", href: href("/explore", globalParams({ q })) }, "Graph in Explore")),
        h("table", { class: "data-table targets" },
          h("colgroup", null, h("col", { class: "c-instance" }), h("col", { class: "c-state" }), h("col", { class: "c-history" }), h("col", { class: "c-other" })),
          h("thead", null, h("tr", null, h("th", null, "Instance"), h("th", null, "State"), h("th", null, "History"), h("th", null, "Other labels"))),
          h("tbody", null, list.map((t) => targetRow(t)))));
    });
    setChildren(this.content, sections);
  }
}

function targetRow(t: Target): HTMLElement {
  const state = t.up === 1 ? ["up", "badge-ok"] : t.up === null ? ["no data", "badge-muted"] : ["down", "badge-bad"];
  const other = Object.entries(t.labels)
    .filter(([k]) => k !== "__name__" && k !== "job" && k !== "instance")
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return h("tr", { "data-instance": t.labels["instance"] ?? "" },
    h("td", { class: "mono" }, t.labels["instance"] ?? "(none)"),
    h("td", null, h("span", { class: `badge ${state[1]}` }, state[0]!)),
    h("td", null, historyBar(t.history)),
    h("td", { class: "mono muted small" }, other));
}

/** One cell per step: green up, red down, empty when no sample. */
function historyBar(history: (number | null)[]): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "history");
  svg.setAttribute("viewBox", `0 0 ${history.length} 1`);
  svg.setAttribute("preserveAspectRatio", "none");
  const ups = history.filter((v) => v === 1).length;
  const known = history.filter((v) => v !== null).length;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", known ? `up in ${ups} of ${known} samples` : "no samples");
  // One rect per run of equal state: no seams between cells.
  const state = (v: number | null) => (v === null ? "" : v === 1 ? "h-up" : "h-down");
  for (let i = 0; i < history.length; ) {
    const cls = state(history[i]!);
    let j = i + 1;
    while (j < history.length && state(history[j]!) === cls) j++;
    if (cls) {
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", String(i));
      r.setAttribute("y", "0");
      r.setAttribute("width", String(j - i));
      r.setAttribute("height", "1");
      r.setAttribute("class", cls);
      svg.appendChild(r);
    }
    i = j;
  }
  return svg;
}
