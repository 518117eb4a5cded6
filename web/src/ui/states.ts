// Loading, empty and error states: one look everywhere, placed where the thing happens.

import { ApiError } from "../api";
import { h } from "../dom";

export function loading(text = "Loading…"): HTMLElement {
  return h("div", { class: "state state-loading", role: "status", "aria-live": "polite" },
    h("span", { class: "spinner", "aria-hidden": "true" }), h("span", null, text));
}

export function empty(title: string, detail?: string | Node): HTMLElement {
  return h("div", { class: "state state-empty" },
    h("div", { class: "state-title" }, title), detail ? h("div", { class: "state-detail" }, detail) : null);
}

export function errorBox(err: unknown, retry?: () => void): HTMLElement {
  const { title, message } = describe(err);
  return h("div", { class: "state state-error", role: "alert" },
    h("div", { class: "state-title" }, title),
    h("pre", { class: "state-message" }, message),
    retry ? h("button", { class: "btn", type: "button", onclick: retry }, "Retry") : null);
}

export function describe(err: unknown): { title: string; message: string } {
  if (err instanceof ApiError) {
    if (err.status === 0) return { title: "Server unreachable", message: err.message };
    if (err.status === 400 || err.status === 422) return { title: "Query error", message: err.message };
    if (err.status === 403) return { title: "Not allowed", message: err.message };
    if (err.status === 503) return { title: "Server busy", message: err.message };
    return { title: `Server error (${err.status})`, message: err.message };
  }
  return { title: "Unexpected error", message: err instanceof Error ? err.message : String(err) };
}

/** A busy overlay over existing content, so a refresh keeps the layout where it is. */
export function setBusy(el: HTMLElement, busy: boolean): void {
  el.classList.toggle("is-busy", busy);
  el.setAttribute("aria-busy", busy ? "true" : "false");
}
