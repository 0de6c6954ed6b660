// Toasts for inbound messages: each one said aloud by its role="status" region (never
// taking focus), a link to where the message can be read, gone after a while.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { followLink } from "../router.js";

const TOAST_MS = 8000;
/// At most this many are shown at once (the oldest goes first).
const SHOWN = 3;

/// The list of toasts and `push({href, title, text})` to add one.
export function useToasts() {
  const [toasts, setToasts] = useState([]);
  useEffect(() => {
    if (!toasts.length) return;
    const oldest = Math.min(...toasts.map((toast) => toast.at));
    const timer = setTimeout(() => setToasts((now) => now.filter((toast) => Date.now() - toast.at < TOAST_MS)), oldest + TOAST_MS - Date.now());
    return () => clearTimeout(timer);
  }, [toasts]);
  const push = (toast) => setToasts((now) => [...now, { ...toast, key: crypto.randomUUID(), at: Date.now() }].slice(-SHOWN));
  const dismiss = (key) => setToasts((now) => now.filter((toast) => toast.key !== key));
  return { toasts, push, dismiss };
}

export function Toasts({ toasts, dismiss }) {
  return html`
    <div class="toast-region" role="status">
      ${toasts.map(
        (toast) => html`<a key=${toast.key} class="toast" href=${toast.href} onClick=${(event) => (dismiss(toast.key), followLink(event))}>
          <strong>${toast.title}</strong>: ${toast.text}
        </a>`,
      )}
    </div>
  `;
}
