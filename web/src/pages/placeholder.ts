// Pages whose APIs do not exist yet: say plainly what is coming, show nothing made up.

import { h } from "../dom";
import { globalParams, href } from "../url";
import type { Page } from "./page";

export interface Coming {
  title: string;
  what: string;
  needs: string;
}

export const COMING: Record<string, Coming> = {
  "/alerts": {
    title: "Alerts",
    what: "Prometheus alerting rules and host monitors: firing and pending alerts, silences, and the notification history.",
    needs: "the rule evaluator and the alerts API",
  },
  "/usage": {
    title: "Usage",
    what: "What each source sends: series, samples, log bytes and events per token and protocol, and how the disk is used.",
    needs: "the usage accounting API",
  },
};

export function placeholderPage(path: string): Page {
  const c = COMING[path]!;
  const el = h("main", { class: "page page-placeholder" },
    h("h1", { class: "page-title" }, c.title),
    h("div", { class: "state state-empty coming" },
      h("div", { class: "state-title" }, "Not built yet"),
      h("p", null, c.what),
      h("p", { class: "muted" }, `This page arrives with ${c.needs}. Until then, the metrics are in `,
        h("a", { href: href("/explore", globalParams()) }, "Explore"), ".")));
  return { el, title: c.title, update() {}, refresh() {}, destroy() {} };
}
