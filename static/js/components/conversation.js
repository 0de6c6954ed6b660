// One contact's conversation: the feed (history page by page, live messages and calls,
// the page's own sends shown at once and matched to the server's message by client_id),
// suggested replies to an inbound message, and the compose box.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { connection } from "../connection.js";
import { loadPage } from "../feed-source.js";
import { followCalls, followMessages } from "../live-items.js";
import { holds, SMS_ADMIN } from "../operator.js";
import { followLink } from "../router.js";
import { retryMessage, sendMessage, takeBack, undoSend, useOwnSends } from "../sending.js";
import { isOlder, lastInboundLine, merge } from "../timeline.js";
import { useConnectionStatus } from "./connection-indicator.js";
import { Compose } from "./compose.js";
import { Lightbox } from "./lightbox.js";
import { Suggestions } from "./suggestions.js";
import { ThreadItems } from "./thread-items.js";

const FILTERS = [
  ["all", "All"],
  ["calls", "Calls"],
  ["messages", "Messages"],
  ["emails", "Emails"],
];
const TYPING_SHOWN_MS = 6000;
/// How near the bottom (px) still counts as following the conversation.
const FOLLOW_SLACK = 48;

function shownIn(filter, item) {
  if (filter === "calls") return item.kind === "call";
  // As the feed API's filters: Messages are texts and chats, notes only under All.
  if (filter === "messages") return item.kind !== "call" && item.channel !== "email" && item.channel !== "note";
  if (filter === "emails") return item.channel === "email";
  return true;
}

/// The subject of an email reply to `message`.
function replySubject(message) {
  const subject = message.subject ?? "";
  return /^re:/i.test(subject) ? subject : `Re: ${subject}`;
}

/// How far a page takes a tab's history back: the next older page's cursor, and the
/// oldest item loaded (the page's first, or the one before when the page is empty).
function reached(page, earlier) {
  return { before: page.before, oldest: page.items[0] ?? earlier?.oldest ?? null };
}

/// Whether the All tab must leave `item` out: it is older than All has loaded, so it was
/// loaded by another tab and texts or calls between it and All's oldest are not here
/// yet. Another tab shows every item of its kind loaded: each tab's pages and All's
/// cover, between them, all of that kind from their older end to now.
function beyond(all, filter, item) {
  return filter === "all" && Boolean(all?.before) && Boolean(all.oldest) && isOlder(item, all.oldest);
}

/// Where the unread divider goes: before the oldest of the last `count` inbound messages.
function firstUnread(items, count) {
  let left = count;
  for (let i = items.length - 1; i >= 0 && left > 0; i -= 1) {
    if (items[i].direction === "inbound") {
      left -= 1;
      if (left === 0) return items[i].id;
    }
  }
  return null;
}

export function Conversation({ contactId, me, lines }) {
  const [contact, setContact] = useState(null);
  const [missing, setMissing] = useState(false);
  const [items, setItems] = useState([]);
  // How far back each tab's history is loaded: per filter, the cursor of its next older
  // page (null once it reached the beginning) and its oldest item so far. A tab pages
  // through its own kind, so a call behind a thousand texts is one page away on Calls.
  const [sources, setSources] = useState({});
  const [loaded, setLoaded] = useState(false);
  const [optOuts, setOptOuts] = useState([]);
  const [filter, setFilter] = useState("all");
  const [typers, setTypers] = useState({});
  const [unreadFrom, setUnreadFrom] = useState(null);
  const [pill, setPill] = useState(false);
  const [inboundWhileWriting, setInboundWhileWriting] = useState(false);
  const [restored, setRestored] = useState(null);
  const [lightbox, setLightbox] = useState(null);
  // The inbound message suggested replies are open for, and the control that opened them.
  const [suggesting, setSuggesting] = useState(null);
  const status = useConnectionStatus();
  const feed = useRef(null);
  const following = useRef(true);
  const anchor = useRef(null);
  const loadingOlder = useRef(false);
  const writing = useRef(false);
  const shownCount = useRef(0);

  function markRead() {
    if (document.visibilityState === "visible") api("POST", `/api/contacts/${contactId}/read`).catch(() => {});
  }

  async function refresh() {
    const page = await loadPage(contactId);
    setItems((shown) => merge(shown, page.items));
    setSources((known) => (known.all ? known : { ...known, all: reached(page) }));
  }

  useEffect(() => {
    let current = true;
    const forThis = (handler) => (frame) => frame.contact_id === contactId && handler(frame);
    const typingTimers = new Map();
    const offs = [
      followMessages(
        (frame) => frame.contact_id === contactId,
        setItems,
        (message) => {
          if (message.direction === "inbound") {
            if (writing.current) setInboundWhileWriting(true);
            markRead();
          }
        },
      ),
      connection.on(
        "messaging.typing",
        forThis(({ data }) => {
          clearTimeout(typingTimers.get(data.user_id));
          const drop = () =>
            setTypers((now) => {
              const { [data.user_id]: _, ...rest } = now;
              return rest;
            });
          if (!data.on) return drop();
          setTypers((now) => ({ ...now, [data.user_id]: data.user_name }));
          typingTimers.set(data.user_id, setTimeout(drop, TYPING_SHOWN_MS));
        }),
      ),
      followCalls((frame) => frame.contact_id === contactId, setItems),
      connection.on("resync", forThis(() => refresh())),
    ];
    // Subscribed before the history is fetched, so nothing falls between the two; the
    // timeline's merge makes the order they land in irrelevant.
    const unsubscribe = connection.subscribeContact(contactId);
    Promise.all([api("GET", `/api/contacts/${contactId}`), loadPage(contactId), api("GET", `/api/contacts/${contactId}/opt-outs`)])
      .then(([found, page, stops]) => {
        if (!current) return;
        document.title = `${found.name} · Switchboard`;
        setContact(found);
        setOptOuts(stops.opt_outs);
        setItems((shown) => merge(shown, page.items));
        setSources({ all: reached(page) });
        setUnreadFrom(firstUnread(page.items, found.unread_count));
        setLoaded(true);
        markRead();
      })
      .catch((error) => {
        if (!current) return;
        if (error.status === 404 || error.status === 400) setMissing(true);
      });
    return () => {
      current = false;
      unsubscribe();
      offs.forEach((off) => off());
      typingTimers.forEach(clearTimeout);
    };
  }, [contactId]);

  // The page's own sends, as the outbox moves them along.
  useOwnSends(contactId, setItems);

  function send(payload, attachments) {
    following.current = true;
    setInboundWhileWriting(false);
    sendMessage(contactId, payload, attachments);
  }

  const retry = (item) => retryMessage(item, setItems);

  const edit = (item) => takeBack(item, setItems, setRestored);
  const undo = (item) => undoSend(item, setItems, setRestored);

  // The same message again closes the panel, as its expanded button says.
  const suggest = (message, opener) => setSuggesting((open) => (open?.message.id === message.id ? null : { message, opener }));

  /// Focus that was in the panel goes back to the message it was opened from (or, when
  /// the tab shown hides it, to the feed).
  function closeSuggestions(refocus) {
    const { opener } = suggesting;
    setSuggesting(null);
    if (refocus) (opener?.isConnected ? opener : feed.current).focus();
  }

  /// A picked suggestion goes to the compose box, on the message's channel, with its origin.
  function pickSuggestion({ body, ai_origin }) {
    const { message } = suggesting;
    setSuggesting(null);
    const subject = message.channel === "email" ? replySubject(message) : undefined;
    setRestored({ channel: message.channel, body, subject, ai_origin, nonce: crypto.randomUUID() });
  }

  // A tab opened for the first time loads its own newest page.
  useEffect(() => {
    if (!loaded || sources[filter]) return;
    let current = true;
    loadPage(contactId, null, filter).then((page) => {
      if (!current) return;
      setItems((shown) => merge(shown, page.items));
      setSources((known) => ({ ...known, [filter]: reached(page) }));
    });
    return () => {
      current = false;
    };
  }, [contactId, filter, loaded, sources]);

  async function loadOlder() {
    const shown = filter;
    const before = sources[shown]?.before;
    if (!before || loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      const page = await loadPage(contactId, before, shown);
      anchor.current = feed.current.scrollHeight - feed.current.scrollTop;
      setItems((items) => merge(items, page.items));
      setSources((known) => ({ ...known, [shown]: reached(page, known[shown]) }));
    } finally {
      loadingOlder.current = false;
    }
  }

  function onScroll() {
    const element = feed.current;
    following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_SLACK;
    if (following.current) setPill(false);
    if (element.scrollTop < 200) loadOlder();
  }

  function toBottom() {
    feed.current.scrollTop = feed.current.scrollHeight;
    following.current = true;
    setPill(false);
  }

  // Older items keep the view where it was; new ones are followed unless the operator
  // has scrolled up, who gets the "new messages" pill instead. The suggestions panel
  // narrows the feed as it opens and closes: a feed that follows stays at the bottom.
  useLayoutEffect(() => {
    const element = feed.current;
    if (!element) return;
    const added = items.length > shownCount.current;
    shownCount.current = items.length;
    if (anchor.current !== null) {
      element.scrollTop = element.scrollHeight - anchor.current;
      anchor.current = null;
    } else if (following.current) {
      element.scrollTop = element.scrollHeight;
    } else if (added) {
      setPill(true);
    }
  }, [items, filter, loaded, suggesting]);

  if (missing) {
    return html`<div class="empty-state"><h1>Conversation not found</h1><p class="muted">This contact does not exist, or belongs to another organisation.</p></div>`;
  }
  if (!contact) return html`<div class="loading" aria-busy="true">Loading conversation…</div>`;

  const source = sources[filter];
  const visible = items.filter((item) => shownIn(filter, item) && !beyond(sources.all, filter, item));
  const openImage = (attachment) => setLightbox(attachment.id);
  const images = items.flatMap((item) => item.attachments.filter((a) => a.content_type.startsWith("image/")));
  const names = Object.values(typers);
  return html`
    <section class="conversation" aria-labelledby="conversation-title">
      <header class="conversation-head">
        <div>
          <h1 id="conversation-title">${contact.name}</h1>
          <p class="muted contact-methods">
            ${[...contact.phones.map((p) => `${p.phone_number} (${p.label})`), ...contact.emails.map((e) => e.email)].join(" · ")}
          </p>
        </div>
        ${holds(me, SMS_ADMIN) &&
        contact.phones.length > 0 &&
        html`<a class="queue-link" href=${`/sms/conversations?contactId=${contact.id}`} onClick=${followLink}>Open in the SMS queue</a>`}
        <p class="typing" aria-live="polite">${names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : ""}</p>
      </header>
      <div class="filters" role="tablist" aria-label="Show">
        ${FILTERS.map(
          ([key, label], index) => html`
            <button
              type="button"
              role="tab"
              id=${`tab-${key}`}
              aria-selected=${filter === key ? "true" : "false"}
              aria-controls="feed"
              tabindex=${filter === key ? 0 : -1}
              onClick=${() => setFilter(key)}
              onKeyDown=${(event) => {
                const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
                if (!step) return;
                const next = FILTERS[(index + step + FILTERS.length) % FILTERS.length][0];
                setFilter(next);
                event.currentTarget.parentElement.querySelector(`#tab-${next}`).focus();
              }}
            >
              ${label}
            </button>
          `,
        )}
      </div>
      <div class="feed-wrap">
        <div id="feed" class="feed" ref=${feed} onScroll=${onScroll} role="tabpanel" aria-labelledby=${`tab-${filter}`} tabindex="0">
          ${source?.before && html`<p class="muted feed-start">Scroll up for older messages</p>`}
          ${source && !source.before && html`<p class="muted feed-start">The beginning of the conversation</p>`}
          <div role="log" aria-label=${`Conversation with ${contact.name}`}>
          <${ThreadItems}
            items=${visible}
            unreadFrom=${unreadFrom}
            onRetry=${retry}
            onEdit=${edit}
            onUndo=${undo}
            onOpenImage=${openImage}
            onSuggest=${suggest}
            suggestingId=${suggesting?.message.id}
          />
          </div>
          ${source && !visible.length && html`<p class="muted feed-empty">${filter === "all" ? "No messages yet. Say hello below." : "Nothing of this kind yet."}</p>`}
        </div>
        ${pill && html`<button type="button" class="pill" onClick=${toBottom}>New messages ↓</button>`}
        ${suggesting &&
        html`<${Suggestions}
          key=${suggesting.message.id}
          message=${suggesting.message}
          onPick=${pickSuggestion}
          onClose=${closeSuggestions}
        />`}
      </div>
      <${Compose}
        contact=${contact}
        me=${me}
        lines=${lines}
        lastInboundLine=${lastInboundLine(items)}
        lastChannel=${items.findLast((item) => item.kind !== "call" && !item.private)?.channel}
        optOuts=${optOuts}
        live=${status === "live"}
        waiting=${items.filter((item) => item.status === "waiting").length}
        inboundWhileWriting=${inboundWhileWriting}
        restored=${restored}
        onTyping=${(on) => connection.typing(contactId, on)}
        onDraft=${(hasDraft) => {
          writing.current = hasDraft;
          if (!hasDraft) setInboundWhileWriting(false);
        }}
        onSend=${send}
      />
      ${lightbox &&
      html`<${Lightbox} images=${images} startId=${lightbox} onClose=${() => setLightbox(null)} />`}
    </section>
  `;
}
