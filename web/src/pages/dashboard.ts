// One dashboard: /d/<id>?from=..&to=..&refresh=..&var-<name>=..&edit=1
// View mode shows the panels; edit mode adds panel tools, drag/resize, settings, Save.

import { ApiError, apiGet, apiSend, isAbort } from "../api";
import { h } from "../dom";
import { editPanel, editSettings } from "../dash/editor";
import { compact, freeSpot, newPanel, nextPanelId, PANEL_TYPES, type Dashboard, type Panel, type PanelType } from "../dash/model";
import { DashboardView } from "../dash/view";
import { errorBox, loading } from "../ui/states";
import { current, globalParams, go, href, setParams, type Loc } from "../url";
import type { Page } from "./page";

export function dashboardPage(id: string): Page {
  return new DashboardPage(id);
}

class DashboardPage implements Page {
  readonly el: HTMLElement;
  title = "Dashboard";
  private head: HTMLElement;
  private titleEl: HTMLElement;
  private actions: HTMLElement;
  private status: HTMLElement;
  private content: HTMLElement;
  private view: DashboardView | null = null;
  private doc: Dashboard | null = null;
  private saved = "";
  private edit = false;
  private key = "";
  private ctrl: AbortController | null = null;

  constructor(private id: string) {
    this.titleEl = h("h1", { class: "page-title" }, "Dashboard");
    this.actions = h("div", { class: "page-actions" });
    this.status = h("div", { class: "save-status small", role: "status", "aria-live": "polite" });
    this.head = h("div", { class: "page-head dash-head" }, this.titleEl, this.status, this.actions);
    this.content = h("div", { class: "dash-content" }, loading("Loading dashboard…"));
    this.el = h("main", { class: "page page-dashboard" }, this.head, this.content);
    window.addEventListener("beforeunload", this.onBeforeUnload);
  }

  private onBeforeUnload = (ev: BeforeUnloadEvent): void => {
    if (this.dirty()) ev.preventDefault();
  };

  private dirty(): boolean {
    return this.edit && !!this.doc && JSON.stringify(this.doc) !== this.saved;
  }

  update(loc: Loc): void {
    const edit = loc.params.get("edit") === "1";
    if (!this.doc) {
      this.edit = edit;
      void this.load();
      return;
    }
    if (edit !== this.edit) {
      this.edit = edit;
      this.mountView();
      return;
    }
    const p = loc.params;
    const key = [p.get("from"), p.get("to"), this.view?.variablesKeyOf(p)].join("|");
    if (key !== this.key) {
      this.key = key;
      void this.view?.refresh(true);
    }
  }

  refresh(): void {
    void this.view?.refresh();
  }

  destroy(): void {
    this.ctrl?.abort();
    this.view?.destroy();
    this.view = null;
    window.removeEventListener("beforeunload", this.onBeforeUnload);
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    try {
      const r = await apiGet<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(this.id)}`, {}, { signal: ctrl.signal });
      this.doc = r.data;
      this.saved = JSON.stringify(this.doc);
      // The dashboard's own default range and refresh, unless the link says otherwise.
      const p = current().params;
      const patch: Record<string, string> = {};
      if (!p.get("from") && this.doc.time?.from) patch["from"] = this.doc.time.from;
      if (!p.get("to") && this.doc.time?.to) patch["to"] = this.doc.time.to;
      if (!p.has("refresh") && this.doc.refresh) patch["refresh"] = this.doc.refresh;
      if (Object.keys(patch).length) setParams(patch, { replace: true });
      this.mountView();
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.titleEl.textContent = e instanceof ApiError && e.status === 404 ? "Dashboard not found" : "Dashboard";
      this.content.replaceChildren(e instanceof ApiError && e.status === 404
        ? h("div", { class: "state state-empty" }, h("div", { class: "state-title" }, `No dashboard “${this.id}”`),
          h("a", { href: href("/dashboards", globalParams()) }, "All dashboards"))
        : errorBox(e, () => void this.load()));
    }
  }

  private mountView(): void {
    const doc = this.doc!;
    this.view?.destroy();
    this.title = doc.title;
    document.title = `${doc.title} · kansoku`;
    this.titleEl.textContent = doc.title;
    this.renderActions();
    this.view = new DashboardView(doc, {
      edit: this.edit,
      tv: false,
      onEditPanel: (p) => editPanel(p, (np) => this.applyPanel(np)),
      onDuplicatePanel: (p) => {
        const copy: Panel = structuredClone(p);
        copy.id = nextPanelId(doc);
        copy.grid = freeSpot(doc.panels, p.grid.w, p.grid.h);
        doc.panels.push(copy);
        this.changed(true);
      },
      onRemovePanel: (p) => {
        doc.panels = doc.panels.filter((x) => x.id !== p.id);
        compact(doc.panels);
        this.changed(true);
      },
      onLayout: () => this.changed(false),
    });
    this.content.replaceChildren(this.view.el);
    const p = current().params;
    this.key = [p.get("from"), p.get("to"), this.view.variablesKeyOf(p)].join("|");
    void this.view.refresh(true);
  }

  private applyPanel(np: Panel): void {
    const doc = this.doc!;
    const i = doc.panels.findIndex((x) => x.id === np.id);
    const moved = i < 0 || JSON.stringify(doc.panels[i]!.grid) !== JSON.stringify(np.grid);
    if (i < 0) doc.panels.push(np);
    else doc.panels[i] = np;
    if (moved) {
      compact(doc.panels, np.id);
      this.changed(true);
    } else {
      this.view?.replacePanel(np);
      this.changed(false);
    }
  }

  /** The document changed in edit mode. */
  private changed(rebuild: boolean): void {
    if (rebuild) this.view?.rebuild();
    this.setStatus(this.dirty() ? "Unsaved changes" : "", "");
  }

  private setStatus(text: string, cls: string, extra?: HTMLElement): void {
    this.status.className = `save-status small ${cls}`;
    this.status.replaceChildren(text, extra ?? "");
  }

  private renderActions(): void {
    const doc = this.doc!;
    const carry = (extra: Record<string, string> = {}) => {
      const p = globalParams(extra);
      for (const [k, v] of current().params) if (k.startsWith("var-")) p.append(k, v);
      return p;
    };
    if (!this.edit) {
      this.actions.replaceChildren(
        h("span", { class: "tags" }, (doc.tags ?? []).map((t) => h("span", { class: "tag" }, t))),
        h("a", { class: "btn", id: "dash-tv-mode", href: href("/tv", carry({ d: this.id })), title: "Full screen, no chrome, for a wall screen" }, "TV mode"),
        h("button", { type: "button", class: "btn", id: "dash-export", onclick: () => this.export() }, "Export JSON"),
        h("button", { type: "button", class: "btn btn-primary", id: "dash-edit", onclick: () => setParams({ edit: "1" }) }, "Edit"));
      return;
    }
    const addMenu = h("select", { class: "select", id: "dash-add-panel", "aria-label": "Add panel",
      onchange: () => {
        const t = addMenu.value as PanelType;
        addMenu.value = "";
        if (t) this.addPanel(t);
      } },
    h("option", { value: "" }, "+ Add panel…"),
    PANEL_TYPES.map((t) => h("option", { value: t.type }, t.label)));
    this.actions.replaceChildren(
      addMenu,
      h("button", { type: "button", class: "btn", id: "dash-settings", onclick: () => editSettings(doc, (d) => {
        Object.assign(doc, d);
        this.titleEl.textContent = doc.title;
        this.changed(true);
        this.mountView();
      }) }, "Settings"),
      h("button", { type: "button", class: "btn", id: "dash-delete", onclick: () => void this.remove() }, "Delete"),
      h("button", { type: "button", class: "btn", id: "dash-cancel", onclick: () => this.cancel() }, "Cancel"),
      h("button", { type: "button", class: "btn btn-primary", id: "dash-save", onclick: () => void this.save() }, "Save"));
  }

  private addPanel(type: PanelType): void {
    const doc = this.doc!;
    const w = type === "stat" ? 6 : type === "markdown" ? 8 : 12;
    const hh = type === "stat" ? 5 : 8;
    const p = newPanel(type, nextPanelId(doc), freeSpot(doc.panels, w, hh));
    p.title = PANEL_TYPES.find((t) => t.type === type)!.label;
    doc.panels.push(p);
    this.changed(true);
    if (type !== "alerts" && type !== "issues") editPanel(p, (np) => this.applyPanel(np));
  }

  private cancel(): void {
    if (this.dirty() && !confirm("Discard unsaved changes?")) return;
    this.doc = JSON.parse(this.saved) as Dashboard;
    this.setStatus("", "");
    setParams({ edit: null });
  }

  private async save(): Promise<void> {
    const doc = this.doc!;
    this.setStatus("Saving…", "");
    try {
      const r = await apiSend<Dashboard>("PUT", `/api/v1/dashboards/${encodeURIComponent(this.id)}`, doc);
      this.doc = r.data;
      this.saved = JSON.stringify(this.doc);
      this.setStatus(`Saved version ${r.data.version}`, "ok");
      setParams({ edit: null });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      if (e instanceof ApiError && e.status === 409) {
        this.setStatus(`Not saved: ${e.message}. `, "bad",
          h("button", { type: "button", class: "btn btn-small", onclick: () => { this.doc = null; setParams({ edit: null }); } }, "Load theirs (drops your edits)"));
        return;
      }
      this.setStatus(e instanceof ApiError && e.status === 403
        ? "Not saved: your token cannot change dashboards (it needs the edit or admin scope)."
        : `Not saved: ${e instanceof Error ? e.message : String(e)}`, "bad");
    }
  }

  private async remove(): Promise<void> {
    if (!confirm(`Delete the dashboard “${this.doc!.title}”? This cannot be undone.`)) return;
    try {
      await apiSend("DELETE", `/api/v1/dashboards/${encodeURIComponent(this.id)}`);
      this.saved = JSON.stringify(this.doc);
      go("/dashboards", globalParams());
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      this.setStatus(`Not deleted: ${e instanceof Error ? e.message : String(e)}`, "bad");
    }
  }

  private export(): void {
    const doc = { ...this.doc! };
    delete doc.updated_at_ms;
    delete doc.updated_by;
    delete doc["created_at_ms"];
    const blob = new Blob([JSON.stringify(doc, null, 2) + "\n"], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: `${this.id}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
