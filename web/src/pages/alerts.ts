// Alerts: firing and pending alerts (firing first), each with a link to its graph (Explore with
// the rule's expression over the time it has been active) and a silence made from its labels;
// the rules with their health; silences (create, expire); the notification history and the
// receivers' health. URL: /alerts?tab=alerts|rules|silences|history.
// API: /api/v1/{alerts,rules,silences,notifications} (docs/design/alerting.md §6).

import { ApiError, apiGet, apiSend, isAbort } from "../api";
import { h, setChildren } from "../dom";
import { formatDateTime, parseDuration } from "../time";
import { describe, empty, errorBox, loading, setBusy } from "../ui/states";
import { current, globalParams, href, setParams, type Loc } from "../url";
import { matcherMatches } from "../alert/matchers";
import type { Page } from "./page";

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "firing" | "pending" | "inactive";
  activeAt: string;
  value: string;
  flapping?: boolean;
  keepFiringSince?: string;
}

export interface Rule {
  name: string;
  query: string;
  type: "alerting" | "recording";
  state?: string;
  duration?: number;
  keepFiringFor?: number;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: Alert[];
  health: string;
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
}

export interface RuleGroup {
  name: string;
  file: string;
  rules: Rule[];
  interval: number;
  lastEvaluation: string;
}

export interface Silence {
  id: string;
  matchers: string[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: string };
}

interface Notification {
  time: string;
  groupKey: string;
  receiver: string;
  integration: string;
  target: string;
  status: string;
  firing: number;
  resolved: number;
  alertnames: string[];
  result: string;
  attempts: number;
  error?: string;
}

interface Receiver {
  receiver: string;
  integration: string;
  target: string;
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
  consecutiveFailures: number;
  lastSuccess: string;
  lastFailure: string;
  lastError?: string;
}

const TABS: [string, string][] = [
  ["alerts", "Alerts"],
  ["rules", "Rules"],
  ["silences", "Silences"],
  ["history", "Notifications"],
];

function ms(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) && t > 0 ? t : NaN;
}

function ago(t: number): string {
  if (!Number.isFinite(t)) return "–";
  const s = Math.round((Date.now() - t) / 1000);
  const a = Math.abs(s);
  const txt = a < 90 ? `${a}s` : a < 5400 ? `${Math.round(a / 60)}m` : a < 172800 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86400)}d`;
  return s >= 0 ? `${txt} ago` : `in ${txt}`;
}

function labelKey(l: Record<string, string>): string {
  return JSON.stringify(Object.entries(l).sort(([a], [b]) => a.localeCompare(b)));
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}


export function silencedBy(labels: Record<string, string>, silences: Silence[]): Silence | undefined {
  return silences.find((s) => s.status.state === "active" && s.matchers.length > 0 && s.matchers.every((m) => matcherMatches(m, labels)));
}

/** Explore over the alert's expression, from a while before it became active until now. */
export function graphLink(expr: string, activeAt: number): string {
  const now = Date.now();
  const since = Number.isFinite(activeAt) ? activeAt : now - 3_600_000;
  const from = Math.min(now - 900_000, since - Math.max(900_000, (now - since) / 2));
  return href("/explore", { q: expr, from: String(Math.floor(from)), to: "now" });
}

function stateBadge(s: string): HTMLElement {
  const cls = s === "firing" ? "badge-bad" : s === "pending" ? "badge-warn" : s === "ok" || s === "inactive" ? "badge-ok" : "badge-muted";
  return h("span", { class: `badge ${cls}`, "data-state": s }, s);
}

function labelChips(l: Record<string, string>, skip: string[] = []): HTMLElement {
  return h("span", { class: "label-chips" }, Object.entries(l).filter(([k]) => !skip.includes(k)).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => h("span", { class: "tag mono" }, `${k}=${v}`)));
}

export function alertsPage(): Page {
  return new AlertsPage();
}

class AlertsPage implements Page {
  readonly el: HTMLElement;
  readonly title = "Alerts";
  private summary = h("div", { class: "alerts-summary", "aria-live": "polite" });
  private tabs = h("nav", { class: "seg tabs", "aria-label": "Alert views" });
  private content = h("div", { class: "alerts-content" }, loading("Loading alerts…"));
  private ctrl: AbortController | null = null;
  private tab = "";
  private loadedOnce = false;
  private alerts: Alert[] = [];
  private groups: RuleGroup[] = [];
  private silences: Silence[] = [];

  constructor() {
    this.el = h("main", { class: "page page-alerts" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Alerts"), this.summary, h("div", { class: "page-actions" }, this.tabs)),
      this.content);
  }

  update(loc: Loc): void {
    const tab = TABS.some(([k]) => k === loc.params.get("tab")) ? loc.params.get("tab")! : "alerts";
    setChildren(this.tabs, TABS.map(([k, l]) => h("button", { type: "button", class: "seg-btn", "data-tab": k, "aria-pressed": k === tab ? "true" : "false",
      onclick: () => setParams({ tab: k === "alerts" ? null : k, matchers: null }) }, l)));
    const key = `${tab}|${loc.params.get("matchers") ?? ""}`;
    if (key === this.tab) return;
    this.loadedOnce = this.loadedOnce && tab === this.tab.split("|")[0];
    this.tab = key;
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
    const tab = this.tab.split("|")[0];
    if (this.loadedOnce) setBusy(this.el, true);
    else this.content.replaceChildren(loading("Loading…"));
    try {
      const [al, ru, si] = await Promise.all([
        apiGet<{ alerts: Alert[] }>("/api/v1/alerts", {}, { signal: ctrl.signal }),
        apiGet<{ groups: RuleGroup[] }>("/api/v1/rules", {}, { signal: ctrl.signal }),
        apiGet<Silence[]>("/api/v1/silences", {}, { signal: ctrl.signal }),
      ]);
      this.alerts = al.data.alerts ?? [];
      this.groups = ru.data.groups ?? [];
      this.silences = si.data ?? [];
      this.renderSummary();
      if (tab === "rules") this.renderRules();
      else if (tab === "silences") this.renderSilences();
      else if (tab === "history") await this.renderHistory(ctrl.signal);
      else this.renderAlerts();
      this.loadedOnce = true;
    } catch (e) {
      if (isAbort(e) || (e instanceof ApiError && e.status === 401)) return;
      this.content.replaceChildren(errorBox(e, () => this.refresh()));
    } finally {
      if (this.ctrl === ctrl) setBusy(this.el, false);
    }
  }

  private renderSummary(): void {
    const firing = this.alerts.filter((a) => a.state === "firing").length;
    const pending = this.alerts.filter((a) => a.state === "pending").length;
    const silenced = this.silences.filter((s) => s.status.state === "active").length;
    const rules = this.groups.reduce((n, g) => n + g.rules.length, 0);
    const bad = this.groups.reduce((n, g) => n + g.rules.filter((r) => r.health === "err").length, 0);
    setChildren(this.summary,
      h("span", { class: `count-pill ${firing ? "pill-bad" : "pill-ok"}`, "data-count": "firing" }, h("strong", null, String(firing)), " firing"),
      h("span", { class: `count-pill ${pending ? "pill-warn" : ""}`, "data-count": "pending" }, h("strong", null, String(pending)), " pending"),
      h("span", { class: "count-pill" }, h("strong", null, String(silenced)), " silences"),
      h("span", { class: `count-pill ${bad ? "pill-bad" : ""}` }, h("strong", null, String(rules)), ` rules${bad ? `, ${bad} failing` : ""}`));
  }

  /** The rule an alert came from (its alerts hold the same labels), if it came from a rule file. */
  private ruleOf(a: Alert): Rule | undefined {
    const key = labelKey(a.labels);
    for (const g of this.groups) for (const r of g.rules) if (r.type === "alerting" && (r.alerts ?? []).some((x) => labelKey(x.labels) === key)) return r;
    for (const g of this.groups) for (const r of g.rules) if (r.type === "alerting" && r.name === a.labels["alertname"]) return r;
    return undefined;
  }

  private renderAlerts(): void {
    const list = this.alerts.filter((a) => a.state !== "inactive")
      .sort((a, b) => (a.state === b.state ? ms(a.activeAt) - ms(b.activeAt) : a.state === "firing" ? -1 : 1));
    if (!list.length) {
      this.content.replaceChildren(empty("No alert is firing or pending",
        this.groups.length ? `${this.groups.reduce((n, g) => n + g.rules.length, 0)} rules are evaluated; none has a condition that holds now.`
          : h("span", null, "No alerting rules are loaded. Add Prometheus rule files with --rules or alerting.rule_files, or PUT them to /api/v1/rules/files/NAME.yml.")));
      return;
    }
    const rows = list.map((a) => {
      const rule = this.ruleOf(a);
      const sil = silencedBy(a.labels, this.silences);
      const since = ms(a.activeAt);
      const host = a.labels["host"];
      const graph = rule
        ? h("a", { class: "btn btn-small graph-link", href: graphLink(rule.query, since), title: rule.query }, "Graph")
        : host ? h("a", { class: "btn btn-small graph-link", href: href("/hosts", globalParams()), title: "A built-in monitor: the host list" }, "Hosts") : null;
      const silenceBtn = h("button", { class: "btn btn-small", type: "button", "data-action": "silence", onclick: () => setParams({ tab: "silences", matchers: this.defaultMatchers(a).join("\n") }) }, "Silence…");
      return h("tr", { class: `alert-row state-${a.state}${sil ? " silenced" : ""}`, "data-alertname": a.labels["alertname"] ?? "" },
        h("td", null, stateBadge(a.state), a.flapping ? h("span", { class: "badge badge-warn" }, "flapping") : null,
          sil ? h("span", { class: "badge badge-muted", title: `Silence ${sil.id} until ${sil.endsAt}` }, "silenced") : null),
        h("td", null, h("div", { class: "alert-name" }, a.labels["alertname"] ?? "(no name)"),
          a.annotations["summary"] ? h("div", { class: "small" }, a.annotations["summary"]) : null,
          a.annotations["description"] ? h("div", { class: "small muted" }, a.annotations["description"]) : null,
          labelChips(a.labels, ["alertname"])),
        h("td", { class: "num mono" }, fmtValue(a.value)),
        h("td", { class: "small", title: a.activeAt }, `${a.state === "firing" ? "active" : "pending"} since ${ago(since)}`),
        h("td", { class: "num actions" }, graph, " ", silenceBtn));
    });
    this.content.replaceChildren(h("div", { class: "panel table-panel" }, h("table", { class: "data-table alerts-table" },
      h("thead", null, h("tr", null, h("th", null, "State"), h("th", null, "Alert"), h("th", { class: "num" }, "Value"), h("th", null, "Since"), h("th", null, ""))),
      h("tbody", null, rows))));
  }

  private defaultMatchers(a: Alert): string[] {
    return Object.entries(a.labels).filter(([k]) => k !== "severity").sort(([x], [y]) => (x === "alertname" ? -1 : y === "alertname" ? 1 : x.localeCompare(y)))
      .map(([k, v]) => `${k}=${quote(v)}`);
  }

  private renderRules(): void {
    if (!this.groups.length) {
      this.content.replaceChildren(empty("No rules loaded", "Add Prometheus rule files with --rules or alerting.rule_files, or PUT them to /api/v1/rules/files/NAME.yml."));
      return;
    }
    this.content.replaceChildren(...this.groups.map((g) => h("section", { class: "panel rule-group", "data-group": g.name },
      h("div", { class: "job-head" }, h("h2", null, g.name), h("span", { class: "muted small mono" }, g.file),
        h("span", { class: "muted small" }, `every ${g.interval}s · evaluated ${ago(ms(g.lastEvaluation))}`)),
      h("table", { class: "data-table rules-table" },
        h("thead", null, h("tr", null, h("th", null, "Rule"), h("th", null, "Expression"), h("th", null, "State"), h("th", null, "Health"), h("th", { class: "num" }, "Eval"))),
        h("tbody", null, g.rules.map((r) => h("tr", { "data-rule": r.name },
          h("td", null, h("div", { class: "alert-name" }, r.name), h("div", { class: "small muted" }, r.type === "alerting" ? `alert${r.duration ? `, for ${r.duration}s` : ""}` : "recording"),
            Object.keys(r.labels ?? {}).length ? labelChips(r.labels) : null),
          h("td", { class: "mono" }, h("a", { href: graphLink(r.query, NaN), title: "Graph in Explore" }, r.query)),
          h("td", null, r.type === "alerting" ? stateBadge(r.state ?? "inactive") : h("span", { class: "muted small" }, "–"),
            (r.alerts ?? []).length ? h("span", { class: "small muted" }, ` ${(r.alerts ?? []).length} alert${(r.alerts ?? []).length === 1 ? "" : "s"}`) : null),
          h("td", null, h("span", { class: `badge ${r.health === "ok" ? "badge-ok" : r.health === "err" ? "badge-bad" : "badge-muted"}` }, r.health),
            r.lastError ? h("div", { class: "small field-error" }, r.lastError) : null),
          h("td", { class: "num small muted" }, `${(r.evaluationTime * 1000).toFixed(1)} ms`))))))));
  }

  private renderSilences(): void {
    const p = current().params;
    const prefill = p.get("matchers") ?? "";
    const form = this.silenceForm(prefill);
    const order = { active: 0, pending: 1, expired: 2 } as Record<string, number>;
    const list = [...this.silences].sort((a, b) => (order[a.status.state] ?? 3) - (order[b.status.state] ?? 3) || ms(b.endsAt) - ms(a.endsAt));
    const affected = (s: Silence) => this.alerts.filter((a) => a.state !== "inactive" && s.matchers.every((m) => matcherMatches(m, a.labels))).length;
    this.content.replaceChildren(form,
      list.length ? h("div", { class: "panel table-panel" }, h("table", { class: "data-table silences-table" },
        h("thead", null, h("tr", null, h("th", null, "State"), h("th", null, "Matchers"), h("th", null, "Ends"), h("th", null, "By / why"), h("th", { class: "num" }, "Alerts"), h("th", null, ""))),
        h("tbody", null, list.map((s) => h("tr", { "data-silence": s.id, class: `silence-${s.status.state}` },
          h("td", null, h("span", { class: `badge ${s.status.state === "active" ? "badge-ok" : s.status.state === "pending" ? "badge-warn" : "badge-muted"}` }, s.status.state)),
          h("td", null, h("span", { class: "label-chips" }, s.matchers.map((m) => h("span", { class: "tag mono" }, m)))),
          h("td", { class: "small", title: s.endsAt }, `${formatDateTime(ms(s.endsAt))} (${ago(ms(s.endsAt))})`),
          h("td", { class: "small" }, h("div", null, s.createdBy || "–"), h("div", { class: "muted" }, s.comment)),
          h("td", { class: "num" }, s.status.state === "expired" ? "–" : String(affected(s))),
          h("td", { class: "num" }, s.status.state !== "expired"
            ? h("button", { class: "btn btn-small", type: "button", "data-action": "expire", onclick: (ev: Event) => void this.expire(s, ev.currentTarget as HTMLButtonElement) }, "Expire")
            : null))))))
        : empty("No silences", "A silence mutes the notifications of the alerts it matches for a while; the alerts still show here."));
  }

  private silenceForm(prefill: string): HTMLElement {
    const matchers = h("textarea", { class: "query-input silence-matchers", name: "matchers", rows: "3", spellcheck: "false", placeholder: 'alertname="HighLoad"\ninstance="web-1:9100"' }) as HTMLTextAreaElement;
    matchers.value = prefill;
    const dur = h("select", { class: "select", name: "duration" }, ["1h", "2h", "4h", "1d", "3d", "7d"].map((d) => h("option", { value: d }, d)));
    dur.value = "2h";
    const by = h("input", { type: "text", name: "createdBy", placeholder: "your name", value: localStorage.getItem("kansoku.silence.by") ?? "" });
    const why = h("input", { type: "text", name: "comment", class: "silence-comment", placeholder: "why (shown to others)" });
    const msg = h("div", { class: "small", role: "status", "aria-live": "polite" });
    const preview = h("div", { class: "small muted silence-preview" });
    const updatePreview = () => {
      const ms_ = matchers.value.split("\n").map((x) => x.trim()).filter(Boolean);
      const n = ms_.length ? this.alerts.filter((a) => a.state !== "inactive" && ms_.every((m) => matcherMatches(m, a.labels))).length : 0;
      preview.textContent = ms_.length ? `Matches ${n} of the ${this.alerts.length} current alerts.` : "";
    };
    matchers.addEventListener("input", updatePreview);
    updatePreview();
    const form = h("form", { class: `panel silence-form${prefill ? " highlight" : ""}` },
      h("h2", null, prefill ? "New silence for this alert" : "New silence"),
      h("div", { class: "form-grid" },
        h("label", { class: "small muted" }, "Matchers (one per line, all must match)"), matchers,
        h("label", { class: "small muted" }, "Duration"), dur,
        h("label", { class: "small muted" }, "Created by"), by,
        h("label", { class: "small muted" }, "Comment"), why),
      preview,
      h("div", { class: "form-actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Create silence"), msg));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const list = matchers.value.split("\n").map((x) => x.trim()).filter(Boolean);
      if (!list.length) {
        msg.className = "small field-error";
        msg.textContent = "Give at least one matcher, like alertname=\"HighLoad\".";
        return;
      }
      const d = parseDuration(dur.value) ?? 7_200_000;
      const btn = form.querySelector("button[type=submit]") as HTMLButtonElement;
      btn.disabled = true;
      msg.className = "small muted";
      msg.textContent = "Creating…";
      try {
        const r = await apiSend<{ silenceID?: string; id?: string }>("POST", "/api/v1/silences", {
          matchers: list, duration: `${Math.round(d / 1000)}s`,
          createdBy: by.value.trim() || "kansoku UI", comment: why.value.trim(),
        });
        if (by.value.trim()) localStorage.setItem("kansoku.silence.by", by.value.trim());
        msg.textContent = `Created silence ${r.data.silenceID ?? r.data.id ?? ""}.`;
        // Dropping the prefill from the URL reloads the tab; without one, reload it here.
        if (current().params.get("matchers")) setParams({ matchers: null });
        else void this.load();
      } catch (e) {
        btn.disabled = false;
        msg.className = "small field-error";
        msg.textContent = describe(e).message;
      }
    });
    return form;
  }

  private async expire(s: Silence, btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      await apiSend("DELETE", `/api/v1/silences/${encodeURIComponent(s.id)}`);
      void this.load();
    } catch (e) {
      btn.disabled = false;
      btn.textContent = `Expire (failed: ${describe(e).message})`;
    }
  }

  private async renderHistory(signal: AbortSignal): Promise<void> {
    const [hist, recv] = await Promise.all([
      apiGet<Notification[]>("/api/v1/notifications", { limit: 200 }, { signal }),
      apiGet<Receiver[]>("/api/v1/notifications/receivers", {}, { signal }),
    ]);
    const list = hist.data ?? [];
    const receivers = recv.data ?? [];
    this.content.replaceChildren(
      receivers.length ? h("section", { class: "panel table-panel" }, h("h2", { class: "small" }, "Receivers"),
        h("table", { class: "data-table receivers-table" },
          h("thead", null, h("tr", null, h("th", null, "Receiver"), h("th", null, "Integration"), h("th", { class: "num" }, "Sent"), h("th", { class: "num" }, "Failed"),
            h("th", { class: "num" }, "Dropped"), h("th", { class: "num" }, "Queued"), h("th", null, "Last success"), h("th", null, "Last error"))),
          h("tbody", null, receivers.map((r) => h("tr", { class: r.consecutiveFailures ? "row-bad" : "" },
            h("td", null, r.receiver), h("td", { class: "small" }, r.integration, h("div", { class: "muted mono" }, r.target)),
            h("td", { class: "num" }, String(r.sent)), h("td", { class: "num" }, String(r.failed)), h("td", { class: "num" }, String(r.dropped)),
            h("td", { class: "num" }, String(r.queued)), h("td", { class: "small" }, ago(ms(r.lastSuccess))),
            h("td", { class: "small field-error" }, r.lastError ?? "")))))) : "",
      list.length ? h("section", { class: "panel table-panel" }, h("h2", { class: "small" }, `Notifications (newest first, ${list.length})`),
        h("table", { class: "data-table history-table" },
          h("thead", null, h("tr", null, h("th", null, "Time"), h("th", null, "Alerts"), h("th", null, "Status"), h("th", null, "Receiver"), h("th", null, "Result"))),
          h("tbody", null, list.map((n) => h("tr", { class: n.result === "ok" ? "" : "row-bad" },
            h("td", { class: "small", title: n.time }, formatDateTime(ms(n.time))),
            h("td", null, n.alertnames.join(", "), h("div", { class: "small muted mono" }, n.groupKey)),
            h("td", null, stateBadge(n.status), h("span", { class: "small muted" }, ` ${n.firing} firing, ${n.resolved} resolved`)),
            h("td", { class: "small" }, `${n.receiver} · ${n.integration}`, h("div", { class: "muted mono" }, n.target)),
            h("td", { class: "small" }, h("span", { class: `badge ${n.result === "ok" ? "badge-ok" : "badge-bad"}` }, n.result),
              n.attempts > 1 ? ` after ${n.attempts} attempts` : "", n.error ? h("div", { class: "field-error" }, n.error) : null))))))
        : empty("No notifications sent yet", "Each notification attempt (firing or resolved, ok or failed) appears here, newest first."));
  }
}

function fmtValue(v: string): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return v;
  return Math.abs(n) >= 1e6 || (Math.abs(n) < 1e-3 && n !== 0) ? n.toExponential(3) : String(+n.toPrecision(6));
}
