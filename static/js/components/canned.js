// Canned responses on `/`: typing `/` and part of a short code anywhere in the draft lists
// the matching responses under the cursor; ↑/↓ choose, Enter or Tab inserts the chosen one
// (its placeholders filled in by the server for this contact), Esc closes the list.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";

const SEARCH_DEBOUNCE_MS = 150;

/// The `/code` being typed just before the cursor, if any: `{start, query}`.
export function cannedQuery(text, cursor) {
  const match = text.slice(0, cursor).match(/(^|\s)\/([a-z0-9_-]*)$/i);
  return match ? { start: cursor - match[2].length - 1, query: match[2] } : null;
}

export function useCanned(contactId, query) {
  const [options, setOptions] = useState([]);
  const [active, setActive] = useState(0);
  useEffect(() => {
    if (!query) {
      setOptions([]);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      api("GET", `/api/canned-responses?search=${encodeURIComponent(query.query)}`)
        .then((found) => current && (setOptions(found.canned_responses.slice(0, 8)), setActive(0)))
        .catch(() => current && setOptions([]));
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query?.start, query?.query]);

  return {
    options,
    active,
    move: (by) => setActive((at) => (options.length ? (at + by + options.length) % options.length : 0)),
    /// The chosen response's text for this contact.
    render: async () => (await api("POST", `/api/canned-responses/${options[active].id}/render`, { contact_id: contactId })).content,
  };
}

export function CannedList({ canned }) {
  return html`
    <ul id="canned-list" class="canned" role="listbox" aria-label="Canned responses">
      ${canned.options.map(
        (option, index) => html`
          <li id=${`canned-${index}`} role="option" aria-selected=${index === canned.active ? "true" : "false"}>
            <strong>/${option.short_code}</strong> ${option.title}
          </li>
        `,
      )}
    </ul>
  `;
}
