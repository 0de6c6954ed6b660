// Focus that goes round a modal dialog: Tab past its last control comes back to its first,
// and Shift+Tab from its first goes to its last. A native modal <dialog> makes the page
// behind it inert, but Tab still leaves it, for the browser's own controls; a guard at
// each end, reached by Tab like any control, passes the focus on. (Keys are not caught
// instead: Tab and Shift+Tab also step through a date's or a time's own fields.)
import { html } from "../html.js";

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

function passOn(guard, at, from) {
  const dialog = guard.closest("dialog");
  const controls = [...dialog.querySelectorAll(FOCUSABLE)].filter(
    (element) => !element.classList.contains("focus-guard") && element.tabIndex >= 0 && !element.disabled && element.getClientRects().length > 0,
  );
  // Shift+Tab from the first control reaches the start guard; anything else (Tab past
  // the last control, or the dialog opening onto its first focusable element, this
  // guard) starts again at the first control.
  const backwards = at === "start" && dialog.contains(from);
  (backwards ? controls.at(-1) : controls[0])?.focus();
}

/// One goes first in a modal dialog (`at="start"`), one last (`at="end"`).
export function FocusGuard({ at }) {
  return html`<span class="focus-guard" tabindex="0" onFocus=${(event) => passOn(event.currentTarget, at, event.relatedTarget)}></span>`;
}
