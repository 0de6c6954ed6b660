// The contact list: searched (debounced), most recently contacted first, kept live from
// the organisation's stream (a contact who writes in moves to the top), loaded page by
// page as it scrolls, and walked with the arrow keys (one row in the tab order).
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { connection } from "../connection.js";
import { followLink } from "../router.js";
import { ago, ageClass } from "../time.js";
import { Toasts, useToasts } from "./toasts.js";

const SEARCH_DEBOUNCE_MS = 300;
const PAGE = 50;

/// Moves a contact to where its (new) last contact puts it: the server's order stands for
/// everyone else.
function placed(contacts, contact) {
  const rest = contacts.filter((c) => c.id !== contact.id);
  const at = rest.findIndex((c) => !c.last_contacted_at || c.last_contacted_at < contact.last_contacted_at);
  rest.splice(at === -1 ? rest.length : at, 0, contact);
  return rest;
}

function primary(contact) {
  const phone = contact.phones.find((p) => p.is_preferred) ?? contact.phones[0];
  const email = contact.emails.find((e) => e.is_preferred) ?? contact.emails[0];
  return phone?.phone_number ?? email?.email ?? "No phone or email";
}

export function ContactList({ me, selectedId, onOrder }) {
  const [query, setQuery] = useState("");
  const [contacts, setContacts] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(true);
  const [focusedId, setFocusedId] = useState(null);
  const toasts = useToasts();
  const generation = useRef(0);
  const sentinel = useRef(null);
  const list = useRef(null);
  const selected = useRef(selectedId);
  selected.current = selectedId;
  const contactsNow = useRef(contacts);
  contactsNow.current = contacts;

  async function load(search, after) {
    const mine = after ? generation.current : ++generation.current;
    setLoading(true);
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (search) params.set("search", search);
    if (after) params.set("cursor", after);
    try {
      const page = await api("GET", `/api/contacts?${params}`);
      if (mine !== generation.current) return;
      // The open conversation is being read: its count is already out of date.
      const fresh = page.contacts.map((c) => (c.id === selected.current ? { ...c, unread_count: 0 } : c));
      setContacts((shown) => (after ? [...shown, ...fresh.filter((c) => !shown.some((s) => s.id === c.id))] : fresh));
      setCursor(page.next_cursor);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }

  useEffect(() => {
    const timer = setTimeout(() => load(query.trim(), null), query ? SEARCH_DEBOUNCE_MS : 0);
    return () => clearTimeout(timer);
  }, [query]);

  useEffect(() => onOrder(contacts.map((c) => c.id)), [contacts]);

  // Live: a contact's new message or read mark; one not listed yet is fetched.
  useEffect(() => {
    const offUpdated = connection.on("messaging.contact.updated", ({ data }) => {
      setContacts((shown) => {
        const at = shown.findIndex((c) => c.id === data.contact_id);
        if (at === -1) {
          if (!query.trim()) {
            api("GET", `/api/contacts/${data.contact_id}`)
              .then((contact) => setContacts((now) => (now.some((c) => c.id === contact.id) ? now : placed(now, contact))))
              .catch(() => {});
          }
          return shown;
        }
        const contact = { ...shown[at] };
        if (data.last_message) {
          contact.last_message = data.last_message;
          if (data.last_message.direction === "inbound" && data.contact_id !== selectedId) contact.unread_count += 1;
        }
        if (data.read?.user_id === me.user.id) contact.unread_count = 0;
        if (data.last_contacted_at && data.last_contacted_at !== contact.last_contacted_at) {
          contact.last_contacted_at = data.last_contacted_at;
          return placed(shown, contact);
        }
        const next = [...shown];
        next[at] = contact;
        return next;
      });
    });
    const offResync = connection.on("resync", (frame) => {
      if (!frame.contact_id) load(query.trim(), null);
    });
    // Said aloud (role=status) unless the conversation is open, whose log says it itself.
    const offInbound = connection.on("messaging.inbound", ({ contact_id, data }) => {
      if (contact_id === selectedId) return;
      const title = contactsNow.current.find((c) => c.id === contact_id)?.name ?? data.from;
      toasts.push({ href: `/messaging/${contact_id}`, title, text: data.preview });
    });
    return () => {
      offUpdated();
      offResync();
      offInbound();
    };
  }, [query, selectedId]);

  // Opening a conversation reads it.
  useEffect(() => {
    setContacts((shown) => shown.map((c) => (c.id === selectedId && c.unread_count ? { ...c, unread_count: 0 } : c)));
    if (selectedId) setFocusedId(selectedId);
  }, [selectedId]);

  // Infinite scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    if (!cursor || !sentinel.current) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) load(query.trim(), cursor);
    });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, [cursor]);

  function onKeyDown(event) {
    const keys = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (!(event.key in keys) || !contacts.length) return;
    event.preventDefault();
    const at = contacts.findIndex((c) => c.id === (focusedId ?? selectedId));
    const step = keys[event.key];
    const next = Number.isFinite(step) ? Math.min(contacts.length - 1, Math.max(0, at + step)) : step < 0 ? 0 : contacts.length - 1;
    setFocusedId(contacts[next].id);
    list.current.querySelector(`[data-id="${contacts[next].id}"]`)?.focus();
  }

  const tabStop = contacts.some((c) => c.id === focusedId) ? focusedId : contacts[0]?.id;
  return html`
    <div class="contact-list">
      <div class="search">
        <label for="contact-search" class="sr-only">Search contacts</label>
        <input
          id="contact-search"
          type="search"
          placeholder="Search name, phone or email"
          value=${query}
          onInput=${(event) => setQuery(event.currentTarget.value)}
          autocomplete="off"
        />
      </div>
      <ul class="contacts" ref=${list} onKeyDown=${onKeyDown} aria-busy=${loading ? "true" : "false"}>
        ${contacts.map(
          (contact) => html`
            <li key=${contact.id}>
              <a
                href=${`/messaging/${contact.id}`}
                data-id=${contact.id}
                class="contact-row"
                tabindex=${contact.id === tabStop ? 0 : -1}
                aria-current=${contact.id === selectedId ? "page" : undefined}
                onClick=${followLink}
                onFocus=${() => setFocusedId(contact.id)}
              >
                <span class=${`age-dot ${ageClass(contact.last_contacted_at)}`} aria-hidden="true"></span>
                <span class="contact-main">
                  <span class="contact-name">${contact.name}</span>
                  <span class="contact-sub">${primary(contact)}</span>
                </span>
                <span class="contact-side">
                  <span class="contact-age">
                    ${contact.last_contacted_at ? ago(contact.last_contacted_at) : "never"}
                    <span class="sr-only">${contact.last_contacted_at ? " since last contact" : " contacted"}</span>
                  </span>
                  ${contact.unread_count > 0 &&
                  html`<span class="badge">${contact.unread_count}<span class="sr-only"> unread</span></span>`}
                </span>
              </a>
            </li>
          `,
        )}
        ${cursor && html`<li ref=${sentinel} class="sentinel" aria-hidden="true"></li>`}
      </ul>
      ${!loading && !contacts.length && html`<p class="muted list-empty">${query.trim() ? "No contact matches." : "No contacts yet."}</p>`}
      <${Toasts} ...${toasts} />
    </div>
  `;
}
