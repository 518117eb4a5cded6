// The frame's top bar: name, navigation, time range, auto-refresh, theme, help, sign out.

import { tokenName } from "../auth";
import { h } from "../dom";
import { theme, toggleTheme } from "../theme";
import { globalParams, href, rangeOf, setParams, type Loc } from "../url";
import { showHelp } from "./help";
import { TimePicker } from "./timepicker";

export interface NavItem {
  path: string;
  label: string;
}

export const REFRESH_CHOICES = [
  { value: "", label: "Off" },
  { value: "10s", label: "10s" },
  { value: "30s", label: "30s" },
  { value: "1m", label: "1m" },
];

export interface TopBarActions {
  refresh(): void;
  logout(): void;
}

export class TopBar {
  readonly el: HTMLElement;
  private links: HTMLAnchorElement[] = [];
  private picker = new TimePicker();
  private refreshSelect: HTMLSelectElement;
  private themeButton: HTMLButtonElement;
  private who: HTMLElement;

  constructor(nav: NavItem[], actions: TopBarActions) {
    this.links = nav.map((n) => h("a", { href: n.path, class: "nav-link", "data-path": n.path }, n.label));
    this.refreshSelect = h("select", {
      id: "auto-refresh", class: "select", title: "Auto-refresh",
      onchange: () => setParams({ refresh: this.refreshSelect.value || null }, { replace: true }),
    }, REFRESH_CHOICES.map((c) => h("option", { value: c.value }, c.label)));
    this.themeButton = h("button", { class: "btn btn-icon", type: "button", id: "theme-toggle", onclick: () => { toggleTheme(); this.syncTheme(); } });
    this.who = h("span", { class: "who muted small" });
    this.el = h("header", { class: "topbar" },
      h("a", { class: "brand", href: "/overview", "aria-label": "kansoku home" },
        h("img", { src: "/favicon.svg", alt: "", width: 20, height: 20 }), h("span", null, "kansoku")),
      h("nav", { class: "nav", "aria-label": "Pages" }, this.links),
      h("div", { class: "topbar-tools" },
        this.picker.el,
        h("div", { class: "refresh-group" },
          h("button", { class: "btn btn-icon", type: "button", id: "refresh-now", title: "Refresh (r)", "aria-label": "Refresh", onclick: () => actions.refresh() }, "↻"),
          h("label", { class: "sr-only", for: "auto-refresh" }, "Auto-refresh"),
          this.refreshSelect),
        this.themeButton,
        h("button", { class: "btn btn-icon", type: "button", title: "Keyboard shortcuts (?)", "aria-label": "Keyboard shortcuts", onclick: () => showHelp() }, "?"),
        this.who,
        h("button", { class: "btn btn-ghost small", type: "button", onclick: () => actions.logout() }, "Sign out")));
    this.syncTheme();
  }

  update(loc: Loc): void {
    const carry = globalParams();
    for (const a of this.links) {
      const path = a.dataset["path"]!;
      a.href = href(path, carry);
      const active = loc.path === path || loc.path.startsWith(path + "/") || (path === "/dashboards" && loc.path.startsWith("/d/"));
      a.classList.toggle("active", active);
      if (active) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    this.picker.update(rangeOf(loc.params));
    const refresh = loc.params.get("refresh") ?? "";
    this.refreshSelect.value = REFRESH_CHOICES.some((c) => c.value === refresh) ? refresh : "";
    const name = tokenName();
    this.who.textContent = name ? `token: ${name}` : "";
  }

  syncTheme(): void {
    const t = theme();
    this.themeButton.textContent = t === "dark" ? "☀" : "☾";
    const label = t === "dark" ? "Switch to light theme" : "Switch to dark theme";
    this.themeButton.title = label;
    this.themeButton.setAttribute("aria-label", label);
  }
}
