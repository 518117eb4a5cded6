// The app frame: login gate, top bar, router (history API, all state in the URL), auto-refresh.

import "./styles.css";
import { onUnauthorized } from "./api";
import { clearToken, getToken } from "./auth";
import { h } from "./dom";
import { alertsPage } from "./pages/alerts";
import { dashboardPage } from "./pages/dashboard";
import { dashboardsPage } from "./pages/dashboards";
import { explorePage } from "./pages/explore";
import { hostPage, hostsPage } from "./pages/hosts";
import { issuePage, issuesPage } from "./pages/issues";
import { loginPage } from "./pages/login";
import { logsPage } from "./pages/logs";
import { overviewPage } from "./pages/overview";
import type { Page } from "./pages/page";
import { tvPage } from "./pages/tv";
import { targetsPage } from "./pages/targets";
import { usagePage } from "./pages/usage";
import { installShortcuts } from "./shortcuts";
import { parseDuration } from "./time";
import { TopBar, type NavItem } from "./ui/topbar";
import { current, go, globalParams, interceptLinks, onChange, type Loc } from "./url";

const NAV: NavItem[] = [
  { path: "/overview", label: "Overview" },
  { path: "/hosts", label: "Hosts" },
  { path: "/explore", label: "Explore" },
  { path: "/dashboards", label: "Dashboards" },
  { path: "/issues", label: "Issues" },
  { path: "/logs", label: "Logs" },
  { path: "/alerts", label: "Alerts" },
  { path: "/usage", label: "Usage" },
  { path: "/targets", label: "Targets" },
];

function pageFor(path: string): Page | null {
  if (path === "/overview") return overviewPage();
  if (path === "/explore") return explorePage();
  if (path === "/dashboards") return dashboardsPage();
  if (path === "/hosts") return hostsPage();
  const hp = /^\/hosts\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (hp) return hostPage(hp[1]!);
  if (path === "/issues") return issuesPage();
  if (path === "/logs") return logsPage();
  if (path === "/alerts") return alertsPage();
  if (path === "/usage") return usagePage();
  if (path === "/targets") return targetsPage();
  const ip = /^\/issues\/(\d{1,18})$/.exec(path);
  if (ip) return issuePage(ip[1]!);
  const d = /^\/d\/([a-z0-9][a-z0-9_-]{0,63})$/.exec(path);
  if (d) return dashboardPage(d[1]!);
  if (path === "/tv") return tvPage();
  return null;
}

class App {
  private root = document.getElementById("app")!;
  private topbar: TopBar;
  private outlet = h("div", { class: "outlet" });
  private page: Page | null = null;
  private pagePath = "";
  private refreshTimer = 0;
  private refreshEvery = "";

  constructor() {
    this.topbar = new TopBar(NAV, { refresh: () => this.refresh(), logout: () => this.logout() });
    interceptLinks(this.root);
    onChange((loc) => this.route(loc));
    onUnauthorized((message) => {
      const loc = current();
      if (loc.path === "/login") return;
      go("/login", { reason: "expired", message, next: loc.path + location.search }, { replace: true });
    });
    installShortcuts({
      focusSearch: () => {
        if (this.page?.focusSearch?.()) return;
        go("/explore", globalParams());
        this.page?.focusSearch?.();
      },
      refresh: () => this.refresh(),
    });
    this.route(current());
  }

  private route(loc: Loc): void {
    if (loc.path === "/login") {
      this.mount("/login", loginPage(loc), false);
      return;
    }
    if (!getToken()) {
      go("/login", { next: loc.path + location.search }, { replace: true });
      return;
    }
    if (loc.path === "/" || loc.path === "/index.html") {
      go("/overview", loc.params, { replace: true });
      return;
    }
    if (loc.path !== this.pagePath) {
      const page = pageFor(loc.path) ?? notFound(loc.path);
      // TV mode has no chrome: no top bar, the page fills the screen.
      this.mount(loc.path, page, loc.path !== "/tv");
    }
    this.topbar.update(loc);
    this.page?.update(loc);
    this.setAutoRefresh(loc.params.get("refresh") ?? "");
  }

  private mount(path: string, page: Page, framed: boolean): void {
    this.page?.destroy();
    this.page = page;
    this.pagePath = path;
    document.title = `${page.title} · kansoku`;
    if (framed) {
      this.outlet.replaceChildren(page.el);
      if (this.root.firstChild !== this.topbar.el) this.root.replaceChildren(this.topbar.el, this.outlet);
    } else {
      this.setAutoRefresh("");
      this.root.replaceChildren(page.el);
    }
  }

  private setAutoRefresh(every: string): void {
    if (every === this.refreshEvery) return;
    this.refreshEvery = every;
    clearInterval(this.refreshTimer);
    const ms = every ? parseDuration(every) : null;
    // Under a second is accepted from the URL (TV soak tests); the menu offers 10s and up.
    if (ms && ms >= 100) this.refreshTimer = window.setInterval(() => {
      if (!document.hidden) this.refresh();
    }, ms);
  }

  private refresh(): void {
    this.page?.refresh();
  }

  private logout(): void {
    clearToken();
    go("/login", { reason: "signout" });
  }
}

function notFound(path: string): Page {
  const el = h("main", { class: "page" },
    h("h1", { class: "page-title" }, "Not found"),
    h("div", { class: "state state-empty" }, h("div", { class: "state-title" }, `No page at ${path}`),
      h("a", { href: "/overview" }, "Go to the overview")));
  return { el, title: "Not found", update() {}, refresh() {}, destroy() {} };
}

new App();
