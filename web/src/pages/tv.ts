// TV mode: /tv?d=<id>,<id>&cycle=5m&refresh=1m&from=now-6h
// Full screen, no chrome, large type; the playlist's dashboards one after another. One
// DashboardView at a time: leaving a dashboard destroys its charts and listeners, a refresh
// updates charts in place. F toggles full screen, ←/→ step through the playlist, Esc leaves.

import { ApiError, apiGet, isAbort } from "../api";
import { h } from "../dom";
import type { Dashboard } from "../dash/model";
import { DashboardView } from "../dash/view";
import { parseDuration } from "../time";
import { errorBox } from "../ui/states";
import { globalParams, go, type Loc } from "../url";
import type { Page } from "./page";

export function tvPage(): Page {
  return new TvPage();
}

class TvPage implements Page {
  readonly el: HTMLElement;
  readonly title = "TV";
  private stage: HTMLElement;
  private titleEl: HTMLElement;
  private clock: HTMLElement;
  private position: HTMLElement;
  private progress: HTMLElement;
  private view: DashboardView | null = null;
  private ids: string[] = [];
  private index = 0;
  private cycleMs = 0;
  private cycleTimer = 0;
  private clockTimer = 0;
  private key = "";
  private shownAt = 0;
  private switches = 0;
  private refreshesBefore = 0;
  private ctrl: AbortController | null = null;

  constructor() {
    this.titleEl = h("div", { class: "tv-title" });
    this.clock = h("div", { class: "tv-clock", "aria-hidden": "true" });
    this.position = h("div", { class: "tv-pos" });
    this.progress = h("div", { class: "tv-progress" });
    this.stage = h("div", { class: "tv-stage" });
    this.el = h("main", { class: "tv-page", "data-testid": "tv" },
      h("header", { class: "tv-head" }, this.titleEl, this.position, this.clock,
        h("button", { type: "button", class: "btn btn-ghost tv-btn", id: "tv-fullscreen", title: "Full screen (F)", onclick: () => this.toggleFullscreen() }, "⤢"),
        h("button", { type: "button", class: "btn btn-ghost tv-btn", id: "tv-exit", title: "Leave TV mode (Esc)", onclick: () => this.exit() }, "✕")),
      this.progress,
      this.stage);
    document.documentElement.classList.add("tv-mode");
    document.addEventListener("keydown", this.onKey);
    this.tick();
    this.clockTimer = window.setInterval(() => this.tick(), 1000);
  }

  private tick(): void {
    const d = new Date();
    const pad = (n: number) => String(n).padStart(2, "0");
    this.clock.textContent = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (this.cycleMs && this.ids.length > 1) {
      const f = Math.min(1, (Date.now() - this.shownAt) / this.cycleMs);
      this.progress.style.transform = `scaleX(${f.toFixed(3)})`;
    }
  }

  private onKey = (ev: KeyboardEvent): void => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "f" || ev.key === "F") this.toggleFullscreen();
    else if (ev.key === "ArrowRight") this.show(this.index + 1);
    else if (ev.key === "ArrowLeft") this.show(this.index - 1);
    else if (ev.key === "Escape" && !document.fullscreenElement) this.exit();
  };

  private toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void document.documentElement.requestFullscreen?.().catch(() => {});
  }

  private exit(): void {
    const id = this.ids[this.index];
    go(id ? `/d/${id}` : "/dashboards", globalParams());
  }

  update(loc: Loc): void {
    const ids = (loc.params.get("d") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const cycle = parseDuration(loc.params.get("cycle") ?? "") ?? 0;
    const key = `${ids.join(",")}|${cycle}`;
    if (key === this.key) {
      // Range or variables changed: the same dashboard, new data.
      void this.view?.refresh(true);
      return;
    }
    this.key = key;
    this.ids = ids;
    this.cycleMs = cycle >= 1000 ? cycle : 0;
    if (!ids.length) {
      this.stage.replaceChildren(h("div", { class: "state state-empty" },
        h("div", { class: "state-title" }, "No dashboards in the playlist"),
        h("div", { class: "state-detail" }, "Open TV mode from a dashboard, or pick several on the Dashboards page.")));
      return;
    }
    this.show(0);
  }

  /** Shows playlist entry i (wrapping), and schedules the next one. */
  private show(i: number): void {
    const n = this.ids.length;
    if (!n) return;
    this.index = ((i % n) + n) % n;
    clearTimeout(this.cycleTimer);
    if (this.cycleMs && n > 1) this.cycleTimer = window.setTimeout(() => this.show(this.index + 1), this.cycleMs);
    this.shownAt = Date.now();
    this.progress.hidden = !(this.cycleMs && n > 1);
    this.position.textContent = n > 1 ? `${this.index + 1} / ${n}` : "";
    void this.load(this.ids[this.index]!);
  }

  private async load(id: string): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    let doc: Dashboard;
    try {
      doc = (await apiGet<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(id)}`, {}, { signal: ctrl.signal })).data;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.view?.destroy();
      this.view = null;
      this.titleEl.textContent = id;
      // Shown where the dashboard would be; the playlist moves on at the next cycle.
      this.stage.replaceChildren(errorBox(e, () => this.show(this.index)));
      return;
    }
    if (ctrl.signal.aborted) return;
    this.refreshesBefore += this.view?.refreshCount ?? 0;
    this.view?.destroy();
    this.view = new DashboardView(doc, { edit: false, tv: true });
    this.titleEl.textContent = doc.title;
    this.stage.replaceChildren(this.view.el);
    this.switches++;
    this.el.dataset["switches"] = String(this.switches);
    this.el.dataset["dashboard"] = id;
    void this.view.refresh(true);
  }

  refresh(): void {
    const view = this.view;
    void view?.refresh().then(() => {
      if (view === this.view) this.el.dataset["refreshes"] = String(this.refreshesBefore + view.refreshCount);
    });
  }

  destroy(): void {
    this.ctrl?.abort();
    clearTimeout(this.cycleTimer);
    clearInterval(this.clockTimer);
    document.removeEventListener("keydown", this.onKey);
    document.documentElement.classList.remove("tv-mode");
    this.view?.destroy();
    this.view = null;
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
  }
}
