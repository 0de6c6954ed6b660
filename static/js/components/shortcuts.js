// The keyboard shortcuts, shown on `?`, and the operator's settings: a modal dialog
// (Esc closes it).
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { setUndoSeconds, undoSeconds } from "../settings.js";
import { FocusGuard } from "./focus-guard.js";

const SHORTCUTS = [
  [["Alt", "J"], "Next conversation"],
  [["Alt", "K"], "Previous conversation"],
  [["↑", "↓"], "Move through the contact list", " / "],
  [["Ctrl", "Enter"], "Send (⌘+Enter on a Mac)"],
  [["/"], "In the message: canned responses"],
  [["Esc"], "Close a panel or dialog"],
  [["?"], "Show these shortcuts"],
];

export function Shortcuts({ onClose }) {
  const dialog = useRef(null);
  const [undo, setUndo] = useState(undoSeconds());
  useEffect(() => {
    const opener = document.activeElement;
    dialog.current.showModal();
    return () => opener?.focus?.();
  }, []);
  return html`
    <dialog ref=${dialog} class="shortcuts" aria-labelledby="shortcuts-title" onClose=${onClose}>
      <${FocusGuard} at="start" />
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl>
        ${SHORTCUTS.map(
          ([keys, what, joiner = " + "]) =>
            html`<div class="shortcut"><dt>${keys.map((k, i) => html`${i > 0 && joiner}<kbd>${k}</kbd>`)}</dt><dd>${what}</dd></div>`,
        )}
      </dl>
      <h3>Settings</h3>
      <p class="setting">
        <label for="undo-window">Time to undo a send</label>
        <select id="undo-window" value=${undo} onChange=${(event) => (setUndoSeconds(event.currentTarget.value), setUndo(Number(event.currentTarget.value)))}>
          ${[0, 5, 10, 20].map((seconds) => html`<option value=${seconds}>${seconds ? `${seconds} seconds` : "Off"}</option>`)}
        </select>
      </p>
      <form method="dialog"><button class="primary" autofocus>Close</button></form>
      <${FocusGuard} at="end" />
    </dialog>
  `;
}
