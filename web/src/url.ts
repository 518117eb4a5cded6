// All view state lives in the URL (history API): path = page, query string = state.
// Any view can be shared as a link; back/forward walk through query and range changes.

import { DEFAULT_RANGE, type TimeRange } from "./time";

export interface Loc {
  path: string;
  params: URLSearchParams;
}

/** Parameters that follow the user from page to page. */
export const GLOBAL_PARAMS = ["from", "to", "refresh"] as const;

type Listener = (loc: Loc) => void;
const listeners = new Set<Listener>();

export function current(): Loc {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

export function onChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(): void {
  const loc = current();
  for (const fn of [...listeners]) fn(loc);
}

window.addEventListener("popstate", notify);

export function href(path: string, params: URLSearchParams | Record<string, string>): string {
  const p = params instanceof URLSearchParams ? params : new URLSearchParams(params);
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface NavOptions {
  replace?: boolean;
}

/** Goes to `path` with exactly `params`. */
export function go(path: string, params: URLSearchParams | Record<string, string> = {}, opts: NavOptions = {}): void {
  const url = href(path, params);
  if (url === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  notify();
}

/** Changes some query parameters of the current page (null removes one). */
export function setParams(patch: Record<string, string | null>, opts: NavOptions = {}): void {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === "") p.delete(k);
    else p.set(k, v);
  }
  go(location.pathname, p, opts);
}

/** The global parameters of the current URL, to carry into a link to another page. */
export function globalParams(extra: Record<string, string> = {}): URLSearchParams {
  const cur = new URLSearchParams(location.search);
  const p = new URLSearchParams();
  for (const k of GLOBAL_PARAMS) {
    const v = cur.get(k);
    if (v) p.set(k, v);
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p;
}

export function rangeOf(params: URLSearchParams): TimeRange {
  return { from: params.get("from") || DEFAULT_RANGE.from, to: params.get("to") || DEFAULT_RANGE.to };
}

/** In-app navigation for plain <a href> clicks (keeps new-tab and modifier clicks native). */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element).closest("a");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    ev.preventDefault();
    go(url.pathname, url.searchParams);
  });
}

/** Sets a repeated query parameter (var-host=a&var-host=b); an empty list removes it. */
export function setParamValues(name: string, values: string[], opts: NavOptions = {}): void {
  const p = new URLSearchParams(location.search);
  p.delete(name);
  for (const v of values) p.append(name, v);
  go(location.pathname, p, opts);
}
