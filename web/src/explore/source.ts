// Completion data from the Prometheus label APIs, cached for a minute.

import { apiGet } from "../api";
import type { CompletionSource } from "./editor";

const TTL_MS = 60_000;
const SERIES_LIMIT = 2000;

export function labelApiSource(): CompletionSource {
  const cache = new Map<string, { at: number; p: Promise<string[]> }>();
  const get = (key: string, path: string, params: Record<string, string | string[]>) => {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.p;
    const p = apiGet<string[]>(path, params).then((r) => r.data ?? []);
    p.catch(() => cache.delete(key));
    cache.set(key, { at: Date.now(), p });
    return p;
  };
  const match = (selector?: string): Record<string, string[]> => (selector ? { "match[]": [selector] } : {});
  const counts = new Map<string, { at: number; p: Promise<Map<string, number> | null> }>();
  return {
    metricNames: () => get("names", "/api/v1/label/__name__/values", {}),
    labelNames: (selector) => get(`labels:${selector ?? ""}`, "/api/v1/labels", match(selector)),
    labelValues: (label, selector) =>
      get(`values:${label}:${selector ?? ""}`, `/api/v1/label/${encodeURIComponent(label)}/values`, match(selector)),
    // Series per value from /api/v1/series (bounded: beyond SERIES_LIMIT the counts are left out).
    valueCounts: (label, selector) => {
      if (!selector) return Promise.resolve(null);
      const key = `${label}:${selector}`;
      const hit = counts.get(key);
      if (hit && Date.now() - hit.at < TTL_MS) return hit.p;
      const p = apiGet<Record<string, string>[]>("/api/v1/series", { "match[]": [selector], limit: SERIES_LIMIT + 1 })
        .then((r) => {
          const series = r.data ?? [];
          if (series.length > SERIES_LIMIT) return null;
          const m = new Map<string, number>();
          for (const s of series) {
            const v = s[label];
            if (v !== undefined) m.set(v, (m.get(v) ?? 0) + 1);
          }
          return m;
        })
        .catch(() => null);
      counts.set(key, { at: Date.now(), p });
      return p;
    },
  };
}
