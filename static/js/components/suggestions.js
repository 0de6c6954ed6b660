// The suggestions panel: replies to one inbound message (`GET /api/messages/{id}/
// suggestions`), best first, beside the feed. Picking one hands it to the compose box with
// the `ai_origin` that records where the reply came from; Esc or Close puts the panel
// away, and focus goes back to the message it was opened from.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";

/// How much of the message the panel quotes.
const QUOTED_CHARS = 120;

/// Where a reply started (README, "Canned responses and suggestions"):
/// `suggestion:{source}:{id}`, or `suggestion:{source}` for one that is not a saved reply.
export function originOf(suggestion) {
  const id = suggestion.canned_response_id;
  return id ? `suggestion:${suggestion.source}:${id}` : `suggestion:${suggestion.source}`;
}

function quoted(body) {
  const text = body.replace(/\s+/g, " ").trim();
  return text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS - 1)}…` : text;
}

/// `onPick({body, ai_origin})` takes a suggestion; `onClose(refocus)` puts the panel away,
/// `refocus` saying whether focus was in it (and so needs a new place).
export function Suggestions({ message, onPick, onClose }) {
  const [answer, setAnswer] = useState(null);
  const panel = useRef(null);
  const heading = useRef(null);

  useEffect(() => {
    let current = true;
    heading.current.focus();
    api("GET", `/api/messages/${message.id}/suggestions`).then(
      (found) => current && setAnswer({ suggestions: found.suggestions }),
      (error) => current && setAnswer({ error: error.message }),
    );
    return () => {
      current = false;
    };
  }, []);

  function close() {
    const focused = document.activeElement;
    onClose(panel.current.contains(focused) || focused === document.body);
  }

  // Esc closes the panel wherever focus is, unless something nearer took it (the canned
  // list in the compose box, a dialog).
  useEffect(() => {
    function onKey(event) {
      if (event.key !== "Escape" || event.defaultPrevented || event.target.closest?.("dialog")) return;
      close();
    }
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);

  const suggestions = answer?.suggestions ?? [];
  let state = "Finding replies…";
  if (answer?.error) state = `Suggestions could not be loaded: ${answer.error}`;
  else if (answer && !suggestions.length) state = "No saved reply matches this message. Write one below, or type / for the canned responses.";
  else if (answer) state = `${suggestions.length} ${suggestions.length === 1 ? "suggestion" : "suggestions"}, best first.`;
  return html`
    <aside id="suggestions" class="suggestions" ref=${panel} aria-labelledby="suggestions-title" aria-busy=${answer ? "false" : "true"}>
      <header class="suggestions-head">
        <h2 id="suggestions-title" tabindex="-1" ref=${heading}>Suggested replies</h2>
        <button type="button" class="icon-button" aria-label="Close suggestions" aria-keyshortcuts="Escape" onClick=${close}>
          <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
        </button>
      </header>
      <blockquote class="suggestions-to"><span class="sr-only">In reply to: </span>${quoted(message.body)}</blockquote>
      <p class=${answer?.error ? "form-error" : "muted suggestions-state"} role="status">${state}</p>
      ${suggestions.length > 0 &&
      html`<ol class="suggestion-list">
        ${suggestions.map(
          (suggestion, index) => html`
            <li key=${index}>
              <button type="button" class="suggestion" onClick=${() => onPick({ body: suggestion.content, ai_origin: originOf(suggestion) })}>
                ${suggestion.content}
              </button>
            </li>
          `,
        )}
      </ol>`}
      ${suggestions.length > 0 && html`<p class="muted suggestions-foot">Picking one puts it in the message box to edit before you send it.</p>`}
    </aside>
  `;
}
