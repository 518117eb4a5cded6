// JSON API client: Bearer token, Prometheus envelope, errors with the server's own message.

import { clearToken, getToken } from "./auth";
import type { Labels } from "./format";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorType = "",
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

export interface Envelope<T> {
  status: "success" | "error";
  data: T;
  warnings?: string[];
  infos?: string[];
  error?: string;
  errorType?: string;
}

export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}
export interface VectorSample {
  metric: Labels;
  value: [number, string];
}
export type QueryData =
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };

let unauthorizedHandler: (message: string) => void = () => {};

/** Called when the server answers 401: the app sends the user back to the login page. */
export function onUnauthorized(fn: (message: string) => void): void {
  unauthorizedHandler = fn;
}

export type Params = Record<string, string | string[] | number | undefined>;

export interface CallOptions {
  signal?: AbortSignal;
  /** Use this token instead of the stored one, and do not treat 401 as a logout (login check). */
  token?: string;
}

export async function apiGet<T>(path: string, params: Params = {}, opts: CallOptions = {}): Promise<Envelope<T>> {
  return apiCall<T>("GET", path, params, undefined, opts);
}

/** PUT/POST/DELETE with a JSON body (kansoku's own APIs: dashboards). */
export async function apiSend<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown, opts: CallOptions = {}): Promise<Envelope<T>> {
  return apiCall<T>(method, path, {}, body === undefined ? undefined : JSON.stringify(body), opts);
}

async function apiCall<T>(method: string, path: string, params: Params, body: string | undefined, opts: CallOptions): Promise<Envelope<T>> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) qs.append(k, x);
    else qs.append(k, String(v));
  }
  const url = qs.toString() ? `${path}?${qs}` : path;
  const token = opts.token ?? getToken();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    // credentials "omit": the server's 401 offers Basic auth (for collectd and friends); with
    // credentials the browser would answer that challenge with its own login prompt.
    resp = await fetch(url, { method, headers, body: body ?? null, signal: opts.signal ?? null, cache: "no-store", credentials: "omit" });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, `Cannot reach the kansoku server (${e instanceof Error ? e.message : String(e)}).`);
  }
  const text = await resp.text();
  let parsed: Envelope<T> | null = null;
  try {
    parsed = JSON.parse(text) as Envelope<T>;
  } catch {
    parsed = null;
  }
  if (resp.status === 401) {
    const msg = parsed?.error || "The API token was not accepted.";
    if (opts.token === undefined) {
      clearToken();
      unauthorizedHandler(msg);
    }
    throw new ApiError(401, msg, parsed?.errorType ?? "unauthorized");
  }
  if (!resp.ok || !parsed || parsed.status !== "success") {
    const msg = parsed?.error || `${resp.status} ${resp.statusText}: ${text.slice(0, 200) || "empty answer"}`;
    throw new ApiError(resp.status, msg, parsed?.errorType ?? "");
  }
  return parsed;
}
