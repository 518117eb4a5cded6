// Dialogs of the dashboard editor: one panel (type, title, queries with completion, options) and
// the dashboard's settings (title, tags, variables). They edit copies and hand them back on Apply.

import { h } from "../dom";
import { QueryEditor } from "../explore/editor";
import { labelApiSource } from "../explore/source";
import { parseAlertFilter } from "../alert/matchers";
import { PANEL_TYPES, UNITS, type Dashboard, type Panel, type PanelType, type Threshold, type Variable } from "./model";

function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hint ? h("div", { class: "muted small" }, hint) : null);
}

function openDialog(cls: string, title: string, body: HTMLElement, onApply: () => string | null): HTMLDialogElement {
  const error = h("div", { class: "field-error", role: "alert" });
  const dialog = h("dialog", { class: `dialog ${cls}`, "aria-labelledby": `${cls}-title` });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const form = h("form", { method: "dialog", class: "dialog-form" },
    h("div", { class: "dialog-head" }, h("h2", { id: `${cls}-title` }, title),
      h("button", { type: "button", class: "btn btn-ghost", "aria-label": "Close", onclick: close }, "✕")),
    h("div", { class: "dialog-body" }, body),
    h("div", { class: "dialog-foot" }, error,
      h("button", { type: "button", class: "btn", onclick: close }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-primary", id: `${cls}-apply` }, "Apply")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const err = onApply();
    if (err) {
      error.textContent = err;
      return;
    }
    close();
  });
  dialog.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    close();
  });
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export function formatThresholds(ts: Threshold[] | undefined): string {
  return (ts ?? []).map((t) => `${t.value}:${t.color}`).join(", ");
}

export function parseThresholds(s: string): Threshold[] | string {
  const out: Threshold[] = [];
  for (const part of s.split(",").map((x) => x.trim()).filter(Boolean)) {
    const m = /^(-?[0-9.eE+-]+)\s*:\s*([#a-zA-Z0-9]+)$/.exec(part);
    if (!m || !Number.isFinite(Number(m[1]))) return `Cannot read threshold "${part}": write value:color, e.g. 80:yellow, 90:red.`;
    out.push({ value: Number(m[1]), color: m[2]! });
  }
  return out;
}

/** Edits a copy of `panel`; calls onApply with the new panel. */
export function editPanel(panel: Panel, onApply: (p: Panel) => void): void {
  const p: Panel = structuredClone(panel);
  const source = labelApiSource();
  const typeSel = h("select", { id: "pe-type", class: "select" },
    PANEL_TYPES.map((t) => h("option", { value: t.type, selected: t.type === p.type }, t.label + (t.needs ? " (no data source yet)" : ""))));
  const title = h("input", { id: "pe-title", type: "text", value: p.title ?? "", placeholder: "Panel title" });
  const queriesBox = h("div", { class: "pe-queries" });
  const editors: { ed: QueryEditor; legend: HTMLInputElement }[] = [];
  const addQuery = (expr = "", legend = "") => {
    const n = editors.length;
    const ed = new QueryEditor(source, () => {}, `pe-query-${n}`);
    ed.value = expr;
    const lg = h("input", { id: `pe-legend-${n}`, type: "text", value: legend, placeholder: "Legend, e.g. {{instance}}", class: "pe-legend" });
    const row = h("div", { class: "pe-query" }, h("span", { class: "pe-query-tag" }, String.fromCharCode(65 + n)), ed.el, lg);
    editors.push({ ed, legend: lg });
    queriesBox.append(row);
  };
  for (const q of p.queries ?? []) addQuery(q.expr, q.legend ?? "");
  if (!editors.length) addQuery();
  const addBtn = h("button", { type: "button", class: "btn btn-small", onclick: () => addQuery() }, "+ Query");
  const o = p.options ?? {};
  const unit = h("select", { id: "pe-unit", class: "select" }, UNITS.map((u) => h("option", { value: u, selected: (o.unit ?? "none") === u }, u)));
  const stacked = h("input", { id: "pe-stacked", type: "checkbox", checked: !!o.stacked });
  const legendMode = h("select", { id: "pe-legend-mode", class: "select" },
    (["table", "list", "none"] as const).map((m) => h("option", { value: m, selected: (o.legend ?? "table") === m }, m)));
  const min = h("input", { id: "pe-min", type: "text", value: o.min ?? "", placeholder: "auto", class: "input-narrow" });
  const max = h("input", { id: "pe-max", type: "text", value: o.max ?? "", placeholder: "auto", class: "input-narrow" });
  const decimals = h("input", { id: "pe-decimals", type: "text", value: o.decimals ?? "", placeholder: "auto", class: "input-narrow" });
  const thresholds = h("input", { id: "pe-thresholds", type: "text", value: formatThresholds(o.thresholds), placeholder: "0:green, 80:yellow, 90:red" });
  const logQuery = h("input", { id: "pe-log-query", type: "text", value: typeof o["query"] === "string" ? o["query"] : "", placeholder: '{service="api"} error  (empty: every record)' });
  const logLimit = h("input", { id: "pe-log-limit", type: "number", class: "input-narrow", value: typeof o["limit"] === "number" ? o["limit"] : 50, min: 1, max: 1000 });
  const alertFilter = h("input", { id: "pe-alert-filter", type: "text", value: typeof o["filter"] === "string" ? o["filter"] : "", placeholder: 'severity="page", team=~"db|web"  (empty: every alert)' });
  const alertPending = h("input", { id: "pe-alert-pending", type: "checkbox", checked: o["pending"] !== false });
  const issueProject = h("input", { id: "pe-issue-project", type: "text", class: "input-narrow", value: o["project"] !== undefined ? String(o["project"]) : "", placeholder: "all" });
  const issueQuery = h("input", { id: "pe-issue-query", type: "text", value: typeof o["query"] === "string" ? o["query"] : "", placeholder: "search, or key:value for tags (environment:production)" });
  const issueLimit = h("input", { id: "pe-issue-limit", type: "number", class: "input-narrow", value: typeof o["limit"] === "number" ? o["limit"] : 10, min: 1, max: 100 });
  const issueSort = h("select", { id: "pe-issue-sort", class: "select" },
    (["last_seen", "first_seen", "events", "users"] as const).map((m) => h("option", { value: m, selected: (o["sort"] ?? "last_seen") === m }, m.replace("_", " "))));
  const text = h("textarea", { id: "pe-text", class: "pe-text", rows: 10, spellcheck: "false" });
  text.value = typeof o.text === "string" ? o.text : "";
  const gridFields = (["x", "y", "w", "h"] as const).map((k) =>
    h("input", { id: `pe-grid-${k}`, type: "number", class: "input-narrow", value: p.grid[k], min: k === "w" || k === "h" ? 1 : 0 }));

  const sections = {
    queries: h("div", { class: "pe-section" }, h("div", { class: "pe-section-head" }, "Queries", addBtn), queriesBox,
      h("div", { class: "muted small" }, "Variables: $name or ${name}. Legend: {{label}} is the series' label value.")),
    ts: h("div", { class: "pe-row" }, field("Stacked", stacked), field("Legend", legendMode), field("Y min", min), field("Y max", max)),
    stat: h("div", { class: "pe-row" }, field("Decimals", decimals), field("Thresholds", thresholds, "value:color, colour of the value from that value up")),
    unit: h("div", { class: "pe-row" }, field("Unit", unit)),
    text: h("div", { class: "pe-section" }, field("Markdown", text, "# heading, **bold**, *italic*, `code`, - lists, [links](https://…)")),
    logs: h("div", { class: "pe-row" }, h("div", { class: "field grow" }, h("label", { for: "pe-log-query" }, "Log query"), logQuery), field("Records", logLimit)),
    alerts: h("div", { class: "pe-row" }, h("div", { class: "field grow" }, h("label", { for: "pe-alert-filter" }, "Alert label filter"), alertFilter), field("Pending too", alertPending)),
    issues: h("div", { class: "pe-row" }, field("Project id", issueProject), h("div", { class: "field grow" }, h("label", { for: "pe-issue-query" }, "Issue search"), issueQuery), field("Sort", issueSort), field("Rows", issueLimit)),
    none: h("div", { class: "notice" }, "This panel type has no data source on this server yet; it renders a notice until the API exists."),
  };
  const sync = () => {
    const t = typeSel.value as PanelType;
    const q = t === "timeseries" || t === "stat" || t === "table";
    sections.queries.hidden = !q;
    sections.unit.hidden = !q;
    sections.ts.hidden = t !== "timeseries";
    sections.stat.hidden = t !== "stat" && t !== "table";
    sections.text.hidden = t !== "markdown";
    sections.logs.hidden = t !== "logs";
    sections.alerts.hidden = t !== "alerts";
    sections.issues.hidden = t !== "issues";
    sections.none.hidden = q || t === "markdown" || t === "logs" || t === "alerts" || t === "issues";
  };
  typeSel.addEventListener("change", sync);
  sync();
  const body = h("div", { class: "pe" },
    h("div", { class: "pe-row" }, field("Type", typeSel), h("div", { class: "field grow" }, h("label", { for: "pe-title" }, "Title"), title)),
    sections.queries, sections.unit, sections.ts, sections.stat, sections.text, sections.logs, sections.alerts, sections.issues, sections.none,
    h("div", { class: "pe-row" }, ...gridFields.map((f, i) => field(["Column (0–23)", "Row", "Width (1–24)", "Height"][i]!, f))));

  openDialog("panel-editor", panel.title ? `Edit panel: ${panel.title}` : "Edit panel", body, () => {
    const t = typeSel.value as PanelType;
    const num = (el: HTMLInputElement, what: string): number | undefined | string => {
      const s = el.value.trim();
      if (!s) return undefined;
      const n = Number(s);
      return Number.isFinite(n) ? n : `${what}: "${s}" is not a number.`;
    };
    const out: Panel = { ...p, type: t, title: title.value.trim() };
    const opts: Record<string, unknown> = { ...(p.options ?? {}) };
    if (t === "timeseries" || t === "stat" || t === "table") {
      out.queries = editors.map((e) => ({ expr: e.ed.value.trim(), legend: e.legend.value.trim() })).filter((q, i) => q.expr || i === 0);
      opts["unit"] = unit.value;
    } else {
      delete out.queries;
    }
    if (t === "timeseries") {
      opts["stacked"] = stacked.checked;
      opts["legend"] = legendMode.value;
      for (const [k, el] of [["min", min], ["max", max]] as const) {
        const v = num(el, `Y ${k}`);
        if (typeof v === "string") return v;
        if (v === undefined) delete opts[k];
        else opts[k] = v;
      }
    }
    if (t === "stat" || t === "table") {
      const d = num(decimals, "Decimals");
      if (typeof d === "string") return d;
      if (d === undefined) delete opts["decimals"];
      else opts["decimals"] = Math.max(0, Math.min(10, Math.round(d)));
      const th = parseThresholds(thresholds.value);
      if (typeof th === "string") return th;
      opts["thresholds"] = th;
    }
    if (t === "markdown") opts["text"] = text.value;
    if (t === "logs") {
      opts["query"] = logQuery.value.trim();
      const n = Math.round(Number(logLimit.value));
      if (!Number.isFinite(n) || n < 1 || n > 1000) return "Records: a number 1–1000.";
      opts["limit"] = n;
    }
    if (t === "alerts") {
      const f = alertFilter.value.trim();
      const parsed = parseAlertFilter(f);
      if (typeof parsed === "string") return parsed;
      opts["filter"] = f;
      opts["pending"] = alertPending.checked;
    }
    if (t === "issues") {
      const pr = issueProject.value.trim();
      if (pr && !/^\d+$/.test(pr)) return "Project id: a number (see Issues → project), or empty for all.";
      if (pr) opts["project"] = Number(pr);
      else delete opts["project"];
      opts["query"] = issueQuery.value.trim();
      opts["sort"] = issueSort.value;
      const n = Math.round(Number(issueLimit.value));
      if (!Number.isFinite(n) || n < 1 || n > 100) return "Rows: a number 1–100.";
      opts["limit"] = n;
    }
    out.options = opts;
    const [x, y, w, hh] = gridFields.map((f) => Math.round(Number(f.value)));
    if (![x, y, w, hh].every((v) => Number.isFinite(v))) return "Position and size must be numbers.";
    if (w! < 1 || w! > 24 || x! < 0 || x! + w! > 24) return "Column + width must fit in 24 columns (width 1–24).";
    if (hh! < 1 || hh! > 100 || y! < 0) return "Height must be 1–100 rows, row 0 or more.";
    out.grid = { x: x!, y: y!, w: w!, h: hh! };
    onApply(out);
    return null;
  });
}

/** Title, description, tags, default range/refresh and variables. */
export function editSettings(doc: Dashboard, onApply: (d: Partial<Dashboard>) => void): void {
  const title = h("input", { id: "ds-title", type: "text", value: doc.title });
  const desc = h("input", { id: "ds-desc", type: "text", value: doc.description ?? "" });
  const tags = h("input", { id: "ds-tags", type: "text", value: (doc.tags ?? []).join(", "), placeholder: "web, prod" });
  const from = h("input", { id: "ds-from", type: "text", value: doc.time?.from ?? "now-6h", class: "input-narrow" });
  const refresh = h("input", { id: "ds-refresh", type: "text", value: doc.refresh ?? "", placeholder: "off", class: "input-narrow" });
  const rows = h("tbody");
  const addVar = (v: Variable = { name: "", label: "", match: "", multi: false, all: true }) => {
    const name = h("input", { type: "text", value: v.name, placeholder: "host", class: "var-name-in" });
    const label = h("input", { type: "text", value: v.label, placeholder: "host", class: "var-label-in" });
    const match = h("input", { type: "text", value: v.match ?? "", placeholder: 'up{service=~"$service"}', class: "var-match-in" });
    const multi = h("input", { type: "checkbox", checked: !!v.multi, class: "var-multi-in" });
    const all = h("input", { type: "checkbox", checked: v.all !== false, class: "var-all-in" });
    const tr = h("tr", { class: "var-row" }, h("td", null, name), h("td", null, label), h("td", null, match), h("td", null, multi), h("td", null, all),
      h("td", null, h("button", { type: "button", class: "btn btn-ghost btn-xs", onclick: () => tr.remove() }, "✕")));
    rows.append(tr);
  };
  for (const v of doc.variables ?? []) addVar(v);
  const body = h("div", { class: "pe" },
    h("div", { class: "pe-row" }, h("div", { class: "field grow" }, h("label", { for: "ds-title" }, "Title"), title)),
    h("div", { class: "pe-row" }, h("div", { class: "field grow" }, h("label", { for: "ds-desc" }, "Description"), desc)),
    h("div", { class: "pe-row" }, h("div", { class: "field grow" }, h("label", { for: "ds-tags" }, "Tags (comma separated)"), tags),
      field("Default range from", from), field("Auto-refresh", refresh)),
    h("div", { class: "pe-section" },
      h("div", { class: "pe-section-head" }, "Variables",
        h("button", { type: "button", class: "btn btn-small", id: "ds-add-var", onclick: () => addVar() }, "+ Variable")),
      h("table", { class: "data-table vars-table" },
        h("thead", null, h("tr", null, ["Name", "Label", "Series selector (optional)", "Multi", "All", ""].map((c) => h("th", null, c)))), rows),
      h("div", { class: "muted small" }, "Choices are the values of the label on series matching the selector; earlier variables can be used in it. Use them in queries as $name (with =~ when Multi or All).")));
  openDialog("settings-editor", "Dashboard settings", body, () => {
    const t = title.value.trim();
    if (!t) return "The title cannot be empty.";
    const vars: Variable[] = [];
    const seen = new Set<string>();
    for (const tr of rows.querySelectorAll<HTMLTableRowElement>("tr.var-row")) {
      const get = (c: string) => tr.querySelector<HTMLInputElement>(`.${c}`)!;
      const v: Variable = { name: get("var-name-in").value.trim(), label: get("var-label-in").value.trim(), match: get("var-match-in").value.trim(),
        multi: get("var-multi-in").checked, all: get("var-all-in").checked };
      if (!v.name && !v.label) continue;
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v.name)) return `Variable name "${v.name}": letters, digits and _ (not first).`;
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v.label)) return `Variable ${v.name}: "${v.label}" is not a label name.`;
      if (seen.has(v.name)) return `Variable ${v.name} is defined twice.`;
      seen.add(v.name);
      vars.push(v);
    }
    onApply({
      title: t, description: desc.value.trim(),
      tags: tags.value.split(",").map((x) => x.trim()).filter(Boolean),
      time: { from: from.value.trim() || "now-6h", to: "now" }, refresh: refresh.value.trim(), variables: vars,
    });
    return null;
  });
}
