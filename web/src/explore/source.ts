// Completion data from the Prometheus label APIs, cached for a minute.

import { apiGet } from "../api";
import type { CompletionSource } from "./editor";

const TTL_MS = 60_000;

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
  const match = (metric?: string): Record<string, string[]> => (metric ? { "match[]": [metric] } : {});
  return {
    metricNames: () => get("names", "/api/v1/label/__name__/values", {}),
    labelNames: (metric) => get(`labels:${metric ?? ""}`, "/api/v1/labels", match(metric)),
    labelValues: (label, metric) =>
      get(`values:${label}:${metric ?? ""}`, `/api/v1/label/${encodeURIComponent(label)}/values`, match(metric)),
  };
}
