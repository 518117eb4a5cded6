// Login with an API token (read scope or more). Verified with /api/v1/whoami before it is kept.

import { ApiError, apiGet } from "../api";
import { saveToken } from "../auth";
import { h } from "../dom";
import { describe } from "../ui/states";
import { go, type Loc } from "../url";
import type { Page } from "./page";

const REASONS: Record<string, string> = {
  expired: "The server did not accept your token any more (401). Sign in again.",
  signout: "Signed out.",
};

export function loginPage(loc: Loc): Page {
  const input = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "current-password", required: true,
    spellcheck: "false", placeholder: "API token", "aria-describedby": "login-help",
  });
  const reason = loc.params.get("reason") ?? "";
  const serverMsg = loc.params.get("message") ?? "";
  const notice = h("div", { class: `notice ${reason === "signout" ? "" : "notice-warn"}`, role: "status", hidden: !reason },
    REASONS[reason] ?? reason, serverMsg ? h("div", { class: "small muted" }, `Server said: ${serverMsg}`) : null);
  const error = h("div", { class: "field-error", role: "alert", id: "login-error" });
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Sign in");

  const form = h("form", { class: "login-card", "aria-labelledby": "login-title" },
    h("div", { class: "login-brand" }, h("img", { src: "/favicon.svg", alt: "", width: 32, height: 32 }), h("h1", { id: "login-title" }, "kansoku")),
    notice,
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "login-help", class: "muted small" },
      "A token with the read scope. Create one with ", h("code", null, "kansoku token create --name me --scope read"),
      " or use the admin token that ", h("code", null, "make run"), " printed."),
    error,
    submit);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    submit.textContent = "Checking…";
    error.textContent = "";
    try {
      const r = await apiGet<{ token_id: number; name: string }>("/api/v1/whoami", {}, { token });
      saveToken(token, r.data.name);
      const next = new URL(loc.params.get("next") || "/overview", location.origin);
      const path = next.pathname === "/login" || next.pathname === "/" ? "/overview" : next.pathname;
      go(path, next.searchParams, { replace: true });
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401
        ? `Token rejected: ${e.message}`
        : `${describe(e).title}: ${describe(e).message}`;
      submit.disabled = false;
      submit.textContent = "Sign in";
      input.select();
    }
  });

  const el = h("main", { class: "login-page" }, form);
  queueMicrotask(() => input.focus());
  return { el, title: "Sign in", update() {}, refresh() {}, destroy() {} };
}
