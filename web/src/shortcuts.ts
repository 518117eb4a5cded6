// Global keys: "/" query box, "t"/"T" time presets, "r" refresh, "?" help.

import { helpOpen, showHelp } from "./ui/help";
import { cyclePreset } from "./ui/timepicker";

export interface ShortcutActions {
  focusSearch(): void;
  refresh(): void;
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
}

export function installShortcuts(actions: ShortcutActions): void {
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (typing(ev.target)) {
      if (ev.key === "Escape") (ev.target as HTMLElement).blur();
      return;
    }
    if (helpOpen() && ev.key !== "Escape") return;
    switch (ev.key) {
      case "/":
        ev.preventDefault();
        actions.focusSearch();
        break;
      case "t":
        cyclePreset(1);
        break;
      case "T":
        cyclePreset(-1);
        break;
      case "r":
        actions.refresh();
        break;
      case "?":
        ev.preventDefault();
        showHelp();
        break;
      default:
        return;
    }
  });
}
