// Targets: every scrape target of the server and of the agents (docs/design/scrape.md §4, §6) —
// state (active, held, not selected, dropped), health, last scrape, samples — and the held target
// sets of jobs whose set grew too fast, each with an Approve button (POST
// /api/v1/targets/approve; an agent's job is enrolled at its next report). URL: /targets?state=.

import { ApiError, apiGet, apiSend, isAbort } from "../api";
import { h, setChildren } from "../dom";
import { formatUnit } from "../format";
import { empty, errorBox, loading, setBusy } from "../ui/states";
import { current, setParams, type Loc } from "../url";
import type { Page } from "./page";

interface Target {
  scrapePool: string;
  scrapeUrl: string;
  target?: string;
  state: string;
  health?: string;
  lastError?: string;
  reason?: string;
  lastScrape?: string;
  samplesPerScrape?: number;
  labels: Record<string, string>;
  scope?: string;
  agent?: { hostId: string; host: string; reportedAt: string };
}

interface Job {
  job: string;
  selector: string;
  active: number;
  held: number;
  notSelected: number;
  dropped: number;
  heldSince?: string;
  holdBase?: number;
  holdLimit?: number;
  maxGrowth: number;
  scope?: string;
  agent?: { hostId: string; host: string };
}

interface TargetsData {
  activeTargets: Target[];
  heldTargets: Target[];
  droppedTargets: Target[];
  jobs: Job[];
}

function where(x: { agent?: { host: string } }): string {
  return x.agent ? `agent ${x.agent.host}` : "server";
}

function when(rfc: string | undefined): string {
  if (!rfc || rfc.startsWith("0001-")) return "never";
  const t = Date.parse(rfc);
  if (!Number.isFinite(t)) return rfc;
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : new Date(t).toLocaleString();
}

export function targetsPage(): Page {
  return new TargetsPage();
}

class TargetsPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Targets";
  private summary = h("div", { class: "usage-summary", "aria-live": "polite" });
  private held = h("section", { class: "targets-held" });
  private list = h("section", { class: "panel table-panel targets-list" }, loading("Loading scrape targets…"));
  private ctrl: AbortController | null = null;
  private key: string | null = null;
  private loadedOnce = false;

  constructor() {
    this.el = h("main", { class: "page page-targets" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Scrape targets"), this.summary),
      this.held, this.list);
  }

  update(loc: Loc): void {
    const key = loc.params.get("state") ?? "";
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
    if (this.loadedOnce) setBusy(this.el, true);
    try {
      const r = await apiGet<TargetsData>("/api/v1/targets", { state: "any" }, { signal: ctrl.signal });
      this.render(r.data);
      this.loadedOnce = true;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.list.replaceChildren(errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  private async approve(job: Job, target: string | null, btn: HTMLButtonElement, note: HTMLElement): Promise<void> {
    btn.disabled = true;
    note.textContent = "Approving…";
    note.className = "small muted approve-note";
    try {
      const body: Record<string, string> = { job: job.job };
      if (target) body["target"] = target;
      if (job.agent) body["host"] = job.agent.hostId;
      const r = await apiSend<{ approved: number; agents: number }>("POST", "/api/v1/targets/approve", body);
      note.textContent = r.data.agents > 0
        ? `${r.data.approved} approved; the agent enrolls them at its next report.`
        : `${r.data.approved} approved.`;
      note.className = "small approve-note approve-ok";
      window.setTimeout(() => this.refresh(), 1000);
    } catch (e) {
      btn.disabled = false;
      note.textContent = e instanceof Error ? e.message : String(e);
      note.className = "small approve-note approve-error";
    }
  }

  private render(d: TargetsData): void {
    const all = [...d.activeTargets, ...d.heldTargets, ...d.droppedTargets];
    const down = d.activeTargets.filter((t) => t.health === "down").length;
    setChildren(this.summary,
      h("span", { class: "count-pill" }, h("strong", null, String(d.activeTargets.length)), " active"),
      h("span", { class: `count-pill ${down ? "pill-bad" : "pill-ok"}` }, h("strong", null, String(down)), " down"),
      h("span", { class: `count-pill ${d.heldTargets.length ? "pill-bad" : "pill-ok"}`, "data-count": "held" }, h("strong", null, String(d.heldTargets.length)), " held"),
      h("span", { class: "count-pill" }, h("strong", null, String(d.droppedTargets.length)), " not selected / dropped"));

    const heldJobs = d.jobs.filter((j) => j.held > 0);
    this.held.replaceChildren(...heldJobs.map((j) => {
      const note = h("span", { class: "small muted approve-note" });
      const targets = d.heldTargets.filter((t) => t.scrapePool === j.job && where(t) === where(j));
      const all = h("button", { type: "button", class: "btn btn-primary approve-job", "data-job": j.job, "data-host": j.agent?.host ?? "" },
        `Approve ${j.held} held`);
      all.onclick = () => void this.approve(j, null, all as HTMLButtonElement, note);
      return h("div", { class: "panel held-job", "data-job": j.job, "data-host": j.agent?.host ?? "", role: "alert" },
        h("div", { class: "job-head" },
          h("h2", { class: "section-title" }, `Job ${j.job} on ${where(j)}: ${j.held} new target${j.held === 1 ? "" : "s"} held`),
          all, note),
        h("div", { class: "small muted" },
          `The set grew from ${j.holdBase ?? "?"} beyond its limit of ${j.holdLimit ?? "?"} (max growth ${Math.round(j.maxGrowth * 100)} %) since ${when(j.heldSince)}. Held targets are not scraped until approved.`),
        h("ul", { class: "held-list mono small" }, targets.map((t) => {
          const key = t.target ?? t.labels["instance"] ?? "";
          const b = h("button", { type: "button", class: "btn btn-small approve-target", "data-target": key }, "Approve");
          b.onclick = () => void this.approve(j, key, b as HTMLButtonElement, note);
          return h("li", null, t.scrapeUrl, " ", b);
        })));
    }));

    const state = current().params.get("state") ?? "";
    const states: [string, string][] = [["", "All"], ["active", "Active"], ["held", "Held"], ["dropped", "Not selected / dropped"]];
    const seg = h("div", { class: "seg", role: "group", "aria-label": "Target state" }, states.map(([k, l]) =>
      h("button", { type: "button", class: "seg-btn", "data-state": k, "aria-pressed": k === state ? "true" : "false", onclick: () => setParams({ state: k || null }) }, l)));
    const shown = all.filter((t) => !state || (state === "dropped" ? t.state !== "active" && t.state !== "held" : t.state === state));
    this.list.replaceChildren(h("div", { class: "job-head" }, h("h2", { class: "section-title" }, "Targets"), seg),
      shown.length ? h("div", { class: "table-scroll" }, h("table", { class: "data-table targets-table" },
        h("thead", null, h("tr", null, h("th", null, "Job"), h("th", null, "Scraped by"), h("th", null, "URL"), h("th", null, "State"),
          h("th", null, "Last scrape"), h("th", { class: "num" }, "Samples"), h("th", null, "Error / reason"))),
        h("tbody", null, shown.map((t) => {
          const badge = t.state === "active"
            ? h("span", { class: `badge ${t.health === "up" ? "badge-ok" : t.health === "down" ? "badge-bad" : "badge-muted"}` }, t.health ?? "unknown")
            : h("span", { class: `badge ${t.state === "held" ? "badge-warn" : "badge-muted"}` }, t.state.replace("_", " "));
          return h("tr", { "data-url": t.scrapeUrl, "data-state": t.state, "data-host": t.agent?.host ?? "" },
            h("td", null, t.scrapePool), h("td", null, where(t)), h("td", { class: "mono small" }, t.scrapeUrl), h("td", null, badge),
            h("td", { class: "small" }, t.state === "active" ? when(t.lastScrape) : "–"),
            h("td", { class: "num" }, t.samplesPerScrape !== undefined ? formatUnit(t.samplesPerScrape, "none") : "–"),
            h("td", { class: "small" }, t.state === "active" ? t.lastError ?? "" : t.reason ?? ""));
        }))))
        : empty("No scrape targets", state ? `No ${state} targets.` : "Targets appear when the server's scrape_configs or an agent's scrape jobs discover them."));
  }
}
