// Dark and light themes: CSS variables keyed by <html data-theme>, choice kept in localStorage.

export type Theme = "dark" | "light";
const KEY = "kansoku.theme";
const listeners = new Set<(t: Theme) => void>();

export function theme(): Theme {
  return document.documentElement.dataset["theme"] === "light" ? "light" : "dark";
}

export function setTheme(t: Theme): void {
  document.documentElement.dataset["theme"] = t;
  try {
    localStorage.setItem(KEY, t);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  for (const fn of listeners) fn(t);
}

export function toggleTheme(): void {
  setTheme(theme() === "dark" ? "light" : "dark");
}

export function onThemeChange(fn: (t: Theme) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
