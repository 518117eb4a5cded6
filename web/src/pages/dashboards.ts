// Dashboards list: search, create, import JSON, start a TV playlist.
// URL: /dashboards?q=<filter>

import { ApiError, apiGet, apiSend, isAbort } from "../api";
import { h } from "../dom";
import { emptyDashboard, parseDashboard, type Dashboard, type DashboardSummary } from "../dash/model";
import { formatDateTime } from "../time";
import { empty, errorBox, loading } from "../ui/states";
import { globalParams, go, href, setParams, type Loc } from "../url";
import type { Page } from "./page";

export function dashboardsPage(): Page {
  return new DashboardsPage();
}

class DashboardsPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Dashboards";
  private list: HTMLElement;
  private filter: HTMLInputElement;
  private importError: HTMLElement;
  private items: DashboardSummary[] | null = null;
  private ctrl: AbortController | null = null;
  private selected = new Set<string>();
  private tvButton: HTMLButtonElement;

  constructor() {
    this.filter = h("input", {
      id: "dash-filter", type: "text", placeholder: "Filter by title or tag  (/)", autocomplete: "off",
      oninput: () => setParams({ q: this.filter.value || null }, { replace: true }),
    });
    this.list = h("div", { class: "dash-list" }, loading("Loading dashboards…"));
    this.importError = h("div", { class: "field-error", role: "alert" });
    const file = h("input", { type: "file", accept: "application/json,.json", id: "dash-import-file", class: "sr-only" });
    file.addEventListener("change", async () => {
      const f = file.files?.[0];
      file.value = "";
      if (f) await this.importText(await f.text());
    });
    this.tvButton = h("button", { type: "button", class: "btn", id: "dash-tv", disabled: true, title: "Show the selected dashboards one after another, full screen",
      onclick: () => go("/tv", globalParams({ d: [...this.selected].join(","), cycle: "1m" })) }, "▶ TV playlist");
    this.el = h("main", { class: "page page-dashboards" },
      h("div", { class: "page-head" },
        h("h1", { class: "page-title" }, "Dashboards"),
        h("div", { class: "page-actions" },
          this.filter,
          this.tvButton,
          h("label", { class: "btn", for: "dash-import-file", title: "Import a dashboard exported as JSON" }, "Import JSON"), file,
          h("button", { type: "button", class: "btn", id: "dash-paste", onclick: () => this.pasteDialog() }, "Paste JSON"),
          h("button", { type: "button", class: "btn btn-primary", id: "dash-new", onclick: () => void this.create() }, "New dashboard"))),
      this.importError,
      this.list);
  }

  update(loc: Loc): void {
    const q = loc.params.get("q") ?? "";
    if (document.activeElement !== this.filter) this.filter.value = q;
    if (this.items === null) void this.load();
    else this.render();
  }

  refresh(): void {
    void this.load();
  }

  focusSearch(): boolean {
    this.filter.focus();
    return true;
  }

  destroy(): void {
    this.ctrl?.abort();
  }

  private async load(): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    try {
      const r = await apiGet<DashboardSummary[]>("/api/v1/dashboards", {}, { signal: ctrl.signal });
      this.items = r.data;
      this.render();
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.list.replaceChildren(errorBox(e, () => this.refresh()));
    }
  }

  private render(): void {
    const items = this.items ?? [];
    const q = (new URLSearchParams(location.search).get("q") ?? "").toLowerCase().trim();
    const shown = items.filter((d) => !q || d.title.toLowerCase().includes(q) || d.tags.some((t) => t.toLowerCase().includes(q)) || d.id.includes(q));
    for (const id of [...this.selected]) if (!items.some((d) => d.id === id)) this.selected.delete(id);
    this.syncTv();
    if (!items.length) {
      this.list.replaceChildren(empty("No dashboards yet",
        h("div", null, "Create one, or import a dashboard exported as JSON from another kansoku.",
          h("div", { class: "chips" }, h("button", { type: "button", class: "btn btn-primary", onclick: () => void this.create() }, "New dashboard")))));
      return;
    }
    if (!shown.length) {
      this.list.replaceChildren(empty("No dashboard matches", `Nothing has “${q}” in its title or tags.`));
      return;
    }
    const carry = globalParams();
    this.list.replaceChildren(h("table", { class: "data-table dash-table" },
      h("thead", null, h("tr", null,
        h("th", { class: "sel" }, h("span", { class: "sr-only" }, "Select for TV")),
        h("th", null, "Title"), h("th", null, "Tags"), h("th", { class: "num" }, "Panels"), h("th", null, "Saved"), h("th", null, ""))),
      h("tbody", null, shown.map((d) => {
        const cb = h("input", { type: "checkbox", "aria-label": `Add ${d.title} to the TV playlist`, checked: this.selected.has(d.id),
          onchange: () => { if (cb.checked) this.selected.add(d.id); else this.selected.delete(d.id); this.syncTv(); } });
        return h("tr", { "data-id": d.id },
          h("td", { class: "sel" }, cb),
          h("td", null, h("a", { href: href(`/d/${d.id}`, carry), class: "dash-link" }, d.title)),
          h("td", null, d.tags.map((t) => h("span", { class: "tag" }, t))),
          h("td", { class: "num" }, String(d.panels)),
          h("td", { class: "muted small" }, `${formatDateTime(d.updated_at_ms)} · ${d.updated_by} · v${d.version}`),
          h("td", { class: "num" }, h("a", { href: href("/tv", globalParams({ d: d.id })), class: "small", title: "TV mode" }, "TV")));
      }))));
  }

  private syncTv(): void {
    this.tvButton.disabled = this.selected.size === 0;
    this.tvButton.textContent = this.selected.size ? `▶ TV playlist (${this.selected.size})` : "▶ TV playlist";
  }

  private async create(): Promise<void> {
    try {
      const r = await apiSend<Dashboard>("POST", "/api/v1/dashboards", emptyDashboard());
      go(`/d/${r.data.id}`, globalParams({ edit: "1" }));
    } catch (e) {
      this.showImportError(e);
    }
  }

  /** Imports a document; errors go to `errEl` (the page, or the paste dialog); onDone on success. */
  private async importText(text: string, asCopy = false, errEl = this.importError, onDone = () => {}): Promise<void> {
    errEl.replaceChildren();
    let doc: Dashboard;
    try {
      doc = parseDashboard(text);
    } catch (e) {
      errEl.textContent = `Cannot import: ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    delete doc.version;
    if (asCopy) delete doc.id;
    try {
      const r = await apiSend<Dashboard>("POST", "/api/v1/dashboards", doc);
      onDone();
      go(`/d/${r.data.id}`, globalParams());
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && !asCopy) {
        errEl.replaceChildren(`A dashboard with id “${doc.id}” exists. `,
          h("button", { type: "button", class: "btn btn-small", id: "dash-import-copy", onclick: () => void this.importText(text, true, errEl, onDone) }, "Import as a copy"));
        return;
      }
      this.showImportError(e, errEl);
    }
  }

  private showImportError(e: unknown, errEl = this.importError): void {
    if (e instanceof ApiError && e.status === 401) return;
    errEl.textContent = e instanceof ApiError && e.status === 403
      ? "Your token cannot change dashboards (it needs the edit or admin scope)."
      : `Cannot save: ${e instanceof Error ? e.message : String(e)}`;
  }

  private pasteDialog(): void {
    const ta = h("textarea", { id: "dash-paste-text", rows: 14, class: "pe-text", spellcheck: "false", placeholder: '{"title": "…", "panels": [ … ]}' });
    const err = h("div", { class: "field-error", role: "alert" });
    const dialog = h("dialog", { class: "dialog" });
    const close = () => { dialog.close(); dialog.remove(); };
    dialog.append(h("form", { class: "dialog-form", onsubmit: (ev: Event) => {
      ev.preventDefault();
      void this.importText(ta.value, false, err, close);
    } },
    h("div", { class: "dialog-head" }, h("h2", null, "Import a dashboard"), h("button", { type: "button", class: "btn btn-ghost", onclick: close }, "✕")),
    h("div", { class: "dialog-body" }, h("label", { for: "dash-paste-text" }, "Dashboard JSON"), ta),
    h("div", { class: "dialog-foot" }, err, h("button", { type: "button", class: "btn", onclick: close }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", id: "dash-paste-import" }, "Import"))));
    dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); close(); });
    document.body.append(dialog);
    dialog.showModal();
  }
}
