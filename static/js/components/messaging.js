// /messaging and /messaging/{contact_id}: the contact list on the left, the open
// conversation (or a prompt) on the right, and the page-wide keyboard shortcuts.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { useLines, useOperator } from "../operator.js";
import { navigate } from "../router.js";
import { ContactList } from "./contact-list.js";
import { Conversation } from "./conversation.js";
import { Shortcuts } from "./shortcuts.js";
import { TopBar } from "./top-bar.js";

function isTextField(target) {
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

export function Messaging({ contactId }) {
  const me = useOperator();
  const lines = useLines(me);
  const [helpOpen, setHelpOpen] = useState(false);
  const order = useRef([]);

  useEffect(() => {
    function onKey(event) {
      if (event.altKey && (event.code === "KeyJ" || event.code === "KeyK")) {
        event.preventDefault();
        const ids = order.current;
        if (!ids.length) return;
        const at = ids.indexOf(contactId);
        const step = event.code === "KeyJ" ? 1 : -1;
        const next = at === -1 ? 0 : Math.min(ids.length - 1, Math.max(0, at + step));
        navigate(`/messaging/${ids[next]}`);
      } else if (event.key === "?" && !isTextField(event.target)) {
        event.preventDefault();
        setHelpOpen(true);
      }
    }
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [contactId]);

  if (!me) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  return html`
    <div class="shell">
      <${TopBar} me=${me}>
        <button type="button" class="ghost" onClick=${() => setHelpOpen(true)} aria-keyshortcuts="?">Shortcuts</button>
      <//>
      <div class="workspace">
        <nav class="sidebar" aria-label="Conversations">
          <${ContactList} me=${me} selectedId=${contactId} onOrder=${(ids) => (order.current = ids)} />
        </nav>
        <main class="pane">
          ${contactId
            ? html`<${Conversation} key=${contactId} contactId=${contactId} me=${me} lines=${lines} />`
            : html`<div class="empty-state">
                <h1>Pick a conversation</h1>
                <p class="muted">Choose a contact on the left, or press <kbd>Alt</kbd>+<kbd>J</kbd> to open the most recent one.</p>
              </div>`}
        </main>
      </div>
      ${helpOpen && html`<${Shortcuts} onClose=${() => setHelpOpen(false)} />`}
    </div>
  `;
}
