// The "?" overlay: every keyboard shortcut in one place.

import { h } from "../dom";

export const SHORTCUTS: [string, string][] = [
  ["/", "Focus the query box (opens Explore from other pages)"],
  ["t", "Next time range preset (15m → 1h → 6h → 24h → 7d)"],
  ["Shift+T", "Previous time range preset"],
  ["r", "Refresh the page's data"],
  ["Ctrl+Enter / Enter", "Run the query (in the editor; Shift+Enter adds a line)"],
  ["Ctrl+Space", "Show completions (in the editor)"],
  ["↑ ↓  Tab  Esc", "Pick, accept, close completions"],
  ["Drag on a graph", "Zoom into that time range"],
  ["Double click a graph", "Zoom out (twice the range; also the ⤢ button)"],
  ["?", "Show this help"],
  ["Esc", "Close this help or a menu"],
];

let dialog: HTMLDialogElement | null = null;

export function showHelp(): void {
  if (!dialog) {
    dialog = h("dialog", { class: "help", "aria-labelledby": "help-title" },
      h("div", { class: "help-head" },
        h("h2", { id: "help-title" }, "Keyboard shortcuts"),
        h("button", { class: "btn btn-ghost", type: "button", "aria-label": "Close", onclick: () => dialog?.close() }, "✕")),
      h("table", { class: "help-table" },
        h("tbody", null, SHORTCUTS.map(([k, d]) => h("tr", null, h("td", null, h("kbd", null, k)), h("td", null, d))))),
      h("p", { class: "muted" }, "Shortcuts are off while you type in a text box, except Esc."));
    dialog.addEventListener("click", (ev) => {
      if (ev.target === dialog) dialog?.close();
    });
    document.body.appendChild(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

export function helpOpen(): boolean {
  return !!dialog?.open;
}
