// DashboardView: a dashboard's variables bar and panel grid. Used by the dashboard page (view and
// edit) and by TV mode. Refreshes fetch every panel's data in parallel, then draw them all in one
// go (dataset data-render-ms on the grid: the time from the last answer to the drawn frame).
// A refresh while one is running is skipped, never queued; destroy() aborts requests and frees
// every chart, timer and listener the view made.

import { ApiError, apiGet, isAbort } from "../api";
import { h } from "../dom";
import { resolveRange } from "../time";
import { describe } from "../ui/states";
import { current, rangeOf, setParamValues } from "../url";
import { COLUMNS, compact, clampGrid, substitute, type Dashboard, type Panel, type Variable, type VarValue } from "./model";
import { isNoQuery, makePanelView, type PanelView } from "./panels";

export interface ViewOptions {
  edit: boolean;
  tv: boolean;
  onEditPanel?(p: Panel): void;
  onDuplicatePanel?(p: Panel): void;
  onRemovePanel?(p: Panel): void;
  /** A panel was moved or resized (edit mode). */
  onLayout?(): void;
  /** Seconds between samples (for $__rate_interval); 15 when unknown. */
  scrapeInterval?: number;
}

class PanelFrame {
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  private titleEl: HTMLElement;
  private errorEl: HTMLElement;
  private spinner: HTMLElement;
  view: PanelView;

  constructor(readonly panel: Panel, opts: ViewOptions, startDrag: (f: PanelFrame, ev: PointerEvent, mode: "move" | "resize") => void) {
    this.titleEl = h("h2", { class: "panel-title", title: panel.title }, panel.title || "\u00a0");
    // A static marker, not an animated spinner: a wall screen should not repaint 60 times a
    // second while it waits for data.
    this.spinner = h("span", { class: "panel-loading", hidden: true, title: "Loading", "aria-hidden": "true" });
    const tools = opts.edit
      ? h("div", { class: "panel-tools" },
        h("button", { type: "button", class: "btn btn-ghost btn-xs", "data-action": "edit", onclick: () => opts.onEditPanel?.(panel) }, "Edit"),
        h("button", { type: "button", class: "btn btn-ghost btn-xs", "data-action": "duplicate", title: "Duplicate", onclick: () => opts.onDuplicatePanel?.(panel) }, "⧉"),
        h("button", { type: "button", class: "btn btn-ghost btn-xs", "data-action": "remove", title: "Remove", onclick: () => opts.onRemovePanel?.(panel) }, "✕"))
      : null;
    const head = h("div", { class: "panel-head" }, this.titleEl, this.spinner, tools);
    this.body = h("div", { class: "panel-body" });
    this.errorEl = h("div", { class: "panel-error", role: "alert", hidden: true });
    this.el = h("section", {
      class: `dash-panel panel-type-${panel.type}`, "data-panel-id": panel.id, "data-type": panel.type,
      "aria-label": panel.title || panel.type,
    }, head, this.body, this.errorEl);
    this.view = makePanelView(panel, this.body);
    this.body.append(this.view.el);
    if (opts.edit) {
      this.el.classList.add("editing");
      head.addEventListener("pointerdown", (ev) => {
        if ((ev.target as Element).closest("button")) return;
        startDrag(this, ev, "move");
      });
      const handle = h("div", { class: "resize-handle", title: "Drag to resize", "aria-hidden": "true" });
      handle.addEventListener("pointerdown", (ev) => startDrag(this, ev, "resize"));
      this.el.append(handle);
    }
    this.place();
  }

  place(): void {
    const g = this.panel.grid;
    this.el.style.gridColumn = `${g.x + 1} / span ${g.w}`;
    this.el.style.gridRow = `${g.y + 1} / span ${g.h}`;
  }

  busy(on: boolean): void {
    this.spinner.hidden = !on;
  }

  showError(e: unknown | null): void {
    this.errorEl.hidden = e === null;
    this.el.classList.toggle("has-error", e !== null);
    if (e === null) return;
    if (isNoQuery(e)) {
      this.errorEl.className = "panel-error panel-hint";
      this.errorEl.textContent = (e as Error).message;
      return;
    }
    this.errorEl.className = "panel-error";
    const { title, message } = describe(e);
    this.errorEl.replaceChildren(h("strong", null, title), " ", message);
  }

  destroy(): void {
    this.view.destroy();
  }
}

export class DashboardView {
  readonly el: HTMLElement;
  private grid: HTMLElement;
  private varsBar: HTMLElement;
  private frames: PanelFrame[] = [];
  private ctrl: AbortController | null = null;
  private running: Promise<void> | null = null;
  private varValues = new Map<string, VarValue>();
  private varOptions = new Map<string, string[]>();
  private varsKey = "";
  private refreshes = 0;
  private drag: { frame: PanelFrame; mode: "move" | "resize"; x0: number; y0: number; g0: Panel["grid"] } | null = null;

  constructor(private doc: Dashboard, private opts: ViewOptions) {
    this.varsBar = h("div", { class: "vars-bar", hidden: !(doc.variables ?? []).length });
    this.grid = h("div", { class: "dash-grid", "data-testid": "dash-grid" });
    this.grid.style.setProperty("--columns", String(COLUMNS));
    this.el = h("div", { class: `dash-view${opts.tv ? " tv" : ""}${opts.edit ? " edit" : ""}` }, this.varsBar, this.grid);
    this.buildFrames();
    if (!doc.panels.length) this.grid.append(h("div", { class: "state state-empty dash-empty" },
      h("div", { class: "state-title" }, "This dashboard has no panels"),
      h("div", { class: "state-detail" }, opts.edit ? "Add one with “Add panel”." : "Edit the dashboard to add panels.")));
    window.addEventListener("pointermove", this.onPointerMove);
    window.addEventListener("pointerup", this.onPointerUp);
  }

  get dashboard(): Dashboard {
    return this.doc;
  }

  /** Completed refreshes of this view. */
  get refreshCount(): number {
    return this.refreshes;
  }

  private buildFrames(): void {
    for (const f of this.frames) f.destroy();
    this.frames = this.doc.panels.map((p) => new PanelFrame(p, this.opts, (f, ev, mode) => this.startDrag(f, ev, mode)));
    this.grid.replaceChildren(...this.frames.map((f) => f.el));
    const rows = this.doc.panels.reduce((m, p) => Math.max(m, p.grid.y + p.grid.h), 0);
    this.grid.dataset["rows"] = String(rows);
  }

  /** Replaces one panel (after the editor changed it) and redraws it. */
  replacePanel(p: Panel): void {
    const i = this.frames.findIndex((f) => f.panel.id === p.id);
    if (i < 0) {
      this.buildFrames();
    } else {
      const old = this.frames[i]!;
      const f = new PanelFrame(p, this.opts, (fr, ev, mode) => this.startDrag(fr, ev, mode));
      old.el.replaceWith(f.el);
      old.destroy();
      this.frames[i] = f;
    }
    void this.refresh(true);
  }

  /** Rebuilds every panel (panels added/removed, layout compacted). */
  rebuild(): void {
    this.buildFrames();
    void this.refresh(true);
  }

  /**
   * Loads variable choices (when the range or choices changed) and then every panel. A refresh
   * asked for while one runs is remembered once (never queued): one more runs after it.
   */
  refresh(force = false): Promise<void> {
    if (this.running && !force) {
      this.again = true;
      return this.running;
    }
    this.again = false;
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const run = this.load(ctrl).finally(() => {
      if (this.running !== run) return;
      this.running = null;
      if (this.again && !ctrl.signal.aborted) void this.refresh();
    });
    this.running = run;
    return run;
  }

  private again = false;

  private async load(ctrl: AbortController): Promise<void> {
    const { start, end } = resolveRange(rangeOf(current().params));
    try {
      await this.loadVariables(start, end, ctrl.signal);
    } catch (e) {
      if (isAbort(e)) return;
    }
    if (ctrl.signal.aborted) return;
    const ctx = { start, end, vars: this.varValues, signal: ctrl.signal, scrapeInterval: this.opts.scrapeInterval ?? 15 };
    const frames = this.frames;
    const spin = window.setTimeout(() => frames.forEach((f) => f.busy(true)), 200);
    const results = await Promise.all(frames.map((f) => f.view.fetch(ctx).then(
      (data) => ({ ok: true as const, data }),
      (err: unknown) => ({ ok: false as const, err }))));
    clearTimeout(spin);
    frames.forEach((f) => f.busy(false));
    if (ctrl.signal.aborted) return;
    // All answers are in: draw every panel, then wait for the frame that shows them.
    const t0 = performance.now();
    results.forEach((r, i) => {
      const f = frames[i]!;
      if (r.ok) {
        f.showError(null);
        try {
          f.view.render(r.data);
        } catch (e) {
          f.showError(e);
        }
      } else if (!isAbort(r.err) && !(r.err instanceof ApiError && r.err.status === 401)) {
        f.showError(r.err);
      }
    });
    const drawn = performance.now();
    // uPlot draws its canvases in microtasks queued by render(): this one runs after them.
    await Promise.resolve();
    const painted = performance.now();
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    this.refreshes++;
    this.grid.dataset["renderMs"] = (drawn - t0).toFixed(1);
    this.grid.dataset["drawMs"] = (painted - t0).toFixed(1);
    this.grid.dataset["frameMs"] = (performance.now() - t0).toFixed(1);
    this.grid.dataset["refreshes"] = String(this.refreshes);
    this.grid.dataset["loaded"] = "1";
  }

  // ---- variables ----

  private async loadVariables(start: number, end: number, signal: AbortSignal): Promise<void> {
    const vars = this.doc.variables ?? [];
    if (!vars.length) return;
    const params = current().params;
    const resolved = new Map<string, VarValue>();
    let changed = false;
    for (const v of vars) {
      const match = v.match ? substitute(v.match, resolved) : "";
      const key = `${v.label}|${match}|${Math.round(start / 60000)}`;
      let options = this.varOptions.get(v.name);
      if (!options || this.varsKey.indexOf(`[${v.name}:${key}]`) < 0) {
        try {
          const r = await apiGet<string[]>(`/api/v1/label/${encodeURIComponent(v.label)}/values`,
            { "match[]": match ? [match] : undefined, start: Math.floor(start / 1000), end: Math.ceil(end / 1000) }, { signal });
          options = r.data ?? [];
        } catch (e) {
          if (isAbort(e)) throw e;
          options = [];
        }
        this.varOptions.set(v.name, options);
        changed = true;
      }
      resolved.set(v.name, this.chosen(v, params, options));
    }
    this.varsKey = vars.map((v) => {
      const match = v.match ? substitute(v.match, resolved) : "";
      return `[${v.name}:${v.label}|${match}|${Math.round(start / 60000)}]`;
    }).join("");
    this.varValues = resolved;
    if (changed || !this.varsBar.childElementCount) this.renderVarsBar();
    else this.syncVarsBar();
  }

  private chosen(v: Variable, params: URLSearchParams, options: string[]): VarValue {
    const picked = params.getAll(`var-${v.name}`);
    if (picked.length === 1 && picked[0] === "$__all") return { values: options, all: true };
    if (picked.length) return { values: v.multi ? picked : [picked[0]!], all: false };
    if (v.all !== false && (v.all || v.multi)) return { values: options, all: true };
    return { values: options.length ? [options[0]!] : [], all: false };
  }

  private renderVarsBar(): void {
    const vars = this.doc.variables ?? [];
    this.varsBar.hidden = !vars.length;
    this.varsBar.replaceChildren(...vars.map((v) => {
      const options = this.varOptions.get(v.name) ?? [];
      const cur = this.varValues.get(v.name) ?? { values: [], all: false };
      const id = `var-${v.name}`;
      const allowAll = v.all !== false && (v.all || v.multi);
      const sel = h("select", {
        id, class: "select select-small var-select", "data-var": v.name, multiple: !!v.multi,
        size: v.multi ? Math.min(6, options.length + (allowAll ? 1 : 0)) || 1 : null,
        onchange: () => {
          const vals = [...sel.selectedOptions].map((o) => o.value);
          const all = vals.includes("$__all") || !vals.length;
          setParamValues(id, all ? (allowAll ? ["$__all"] : []) : vals);
        },
      },
      allowAll ? h("option", { value: "$__all", selected: cur.all }, "All") : null,
      options.map((o) => h("option", { value: o, selected: !cur.all && cur.values.includes(o) }, o)));
      return h("label", { class: "var-field", for: id }, h("span", { class: "var-name" }, v.name), sel,
        !options.length ? h("span", { class: "muted small" }, "no values") : null);
    }));
  }

  private syncVarsBar(): void {
    for (const sel of this.varsBar.querySelectorAll<HTMLSelectElement>("select[data-var]")) {
      const cur = this.varValues.get(sel.dataset["var"]!);
      if (!cur) continue;
      for (const o of sel.options) o.selected = o.value === "$__all" ? cur.all : !cur.all && cur.values.includes(o.value);
    }
  }

  /** The variables part of the URL changed: choices may depend on each other, reload all. */
  variablesKeyOf(params: URLSearchParams): string {
    return (this.doc.variables ?? []).map((v) => `${v.name}=${params.getAll(`var-${v.name}`).join(",")}`).join("&");
  }

  // ---- edit mode: drag to move, drag the corner to resize ----

  private cell(): { cw: number; rh: number } {
    const cs = getComputedStyle(this.grid);
    const gap = parseFloat(cs.columnGap) || 0;
    const rowH = parseFloat(cs.gridAutoRows) || 36;
    const cw = (this.grid.clientWidth + gap) / COLUMNS;
    return { cw, rh: rowH + (parseFloat(cs.rowGap) || 0) };
  }

  private startDrag(frame: PanelFrame, ev: PointerEvent, mode: "move" | "resize"): void {
    if (ev.button !== 0) return;
    ev.preventDefault();
    this.drag = { frame, mode, x0: ev.clientX, y0: ev.clientY, g0: { ...frame.panel.grid } };
    frame.el.classList.add("dragging");
  }

  private onPointerMove = (ev: PointerEvent): void => {
    const d = this.drag;
    if (!d) return;
    const { cw, rh } = this.cell();
    const dx = Math.round((ev.clientX - d.x0) / cw);
    const dy = Math.round((ev.clientY - d.y0) / rh);
    const g = d.mode === "move"
      ? clampGrid({ ...d.g0, x: d.g0.x + dx, y: d.g0.y + dy })
      : clampGrid({ ...d.g0, w: Math.min(COLUMNS - d.g0.x, d.g0.w + dx), h: d.g0.h + dy });
    const p = d.frame.panel;
    if (g.x === p.grid.x && g.y === p.grid.y && g.w === p.grid.w && g.h === p.grid.h) return;
    p.grid = g;
    compact(this.doc.panels, p.id);
    for (const f of this.frames) f.place();
  };

  private onPointerUp = (): void => {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    d.frame.el.classList.remove("dragging");
    compact(this.doc.panels);
    for (const f of this.frames) f.place();
    const g = d.frame.panel.grid;
    if (g.x !== d.g0.x || g.y !== d.g0.y || g.w !== d.g0.w || g.h !== d.g0.h) this.opts.onLayout?.();
  };

  destroy(): void {
    this.ctrl?.abort();
    this.ctrl = null;
    window.removeEventListener("pointermove", this.onPointerMove);
    window.removeEventListener("pointerup", this.onPointerUp);
    for (const f of this.frames) f.destroy();
    this.frames = [];
    this.grid.replaceChildren();
    this.varsBar.replaceChildren();
  }
}
