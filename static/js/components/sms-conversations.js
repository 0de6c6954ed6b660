// /sms/conversations: the SMS operator queue (sms.admin). One phone number's text thread,
// opened by the number (`?phone=`) or by a contact, lead or partner (`?contactId=`,
// `?leadId=`, `?partnerId=`): the Conversation Filter card above, the live thread on the
// left, and on the right the compose card (SMS only, PHI checked as the operator types,
// Send Message and Schedule…), the conversation's scheduled messages and a prompt to
// retry the latest text that failed. Every inbound text of the organisation raises a toast.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { connection } from "../connection.js";
import { followMessages } from "../live-items.js";
import { holds, SMS_ADMIN, useLines, useOperator } from "../operator.js";
import { readPhone, showPhone } from "../phone.js";
import { followLink, navigate } from "../router.js";
import { retryable, retryMessage, sendMessage, takeBack, undoSend, useOwnSends } from "../sending.js";
import { zonedLabel } from "../time.js";
import { lastInboundLine, merge } from "../timeline.js";
import { ConnectionIndicator, useConnectionStatus } from "./connection-indicator.js";
import { Compose } from "./compose.js";
import { Lightbox } from "./lightbox.js";
import { SchedulePicker } from "./schedule-picker.js";
import { ScheduledList } from "./scheduled-list.js";
import { ThreadItems } from "./thread-items.js";
import { Toasts, useToasts } from "./toasts.js";
import { TopBar } from "./top-bar.js";

export const PATH = "/sms/conversations";
/// The URL's parameters and the API's, in the order a link is read.
const TARGETS = [
  ["phone", "phone"],
  ["contactId", "contact_id"],
  ["leadId", "lead_id"],
  ["partnerId", "partner_id"],
];
const PAGE_SIZE = 50;
/// Scheduled messages shown beside the conversation.
const SCHEDULED_SHOWN = 5;
const FOLLOW_SLACK = 48;

/// What the URL asks for: `{param, value, query}`, or null.
function targetOf(search) {
  const params = new URLSearchParams(search);
  for (const [param, apiName] of TARGETS) {
    const value = params.get(param)?.trim();
    if (value) return { param, value, query: `${apiName}=${encodeURIComponent(value)}` };
  }
  return null;
}

/// The other party's number of a text.
function counterpart(message) {
  return message.direction === "inbound" ? message.from_address : message.to_address;
}

export function SmsConversations({ search }) {
  const me = useOperator();
  const lines = useLines(me);
  const toasts = useToasts();
  const [settings, setSettings] = useState(null);
  const [refused, setRefused] = useState(false);
  const [generation, setGeneration] = useState(0);
  const [loadedPhone, setLoadedPhone] = useState(null);
  const target = targetOf(search);

  useEffect(() => {
    if (!me) return;
    document.title = "SMS queue · Switchboard";
    if (!holds(me, SMS_ADMIN)) return;
    api("GET", "/api/sms/settings")
      .then(setSettings)
      .catch((error) => error.status === 403 && setRefused(true));
    // Each text that comes in from now on, on any of the organisation's numbers.
    return connection.on("messaging.inbound", ({ contact_id, data }) => {
      if (data.channel !== "sms") return;
      api("GET", `/api/contacts/${contact_id}`)
        .then((contact) => contact.name)
        .catch(() => showPhone(data.from))
        .then((title) => toasts.push({ href: `${PATH}?contactId=${contact_id}`, title, text: data.preview }));
    });
  }, [me]);

  if (!me) return html`<div class="loading" aria-busy="true">Loading…</div>`;
  if (refused || !holds(me, SMS_ADMIN)) {
    return html`
      <div class="shell">
        <${TopBar} me=${me} />
        <main class="empty-state not-allowed">
          <h1>Not allowed</h1>
          <p>The SMS operator queue is for operators with the <code>${SMS_ADMIN}</code> permission. Ask an administrator of ${me.organization.name} to grant it.</p>
          <p><a href="/messaging">Back to messaging</a></p>
        </main>
      </div>
    `;
  }
  return html`
    <div class="shell">
      <${TopBar} me=${me} indicator=${false} />
      <main class="sms-queue">
        <h1 class="sr-only">SMS operator queue</h1>
        <${FilterCard} key=${search} target=${target} loadedPhone=${loadedPhone} />
        ${target && settings
          ? html`<${SmsConversation}
              key=${`${target.query}:${generation}`}
              target=${target}
              me=${me}
              lines=${lines}
              settings=${settings}
              onRefused=${() => setRefused(true)}
              onReload=${() => setGeneration((n) => n + 1)}
              onLoaded=${setLoadedPhone}
            />`
          : !target &&
            html`<div class="empty-state">
              <h2>Which conversation?</h2>
              <p class="muted">Type a phone number above and choose <strong>Load Conversation</strong>, or open this queue from a contact in Messaging.</p>
            </div>`}
      </main>
      <${Toasts} ...${toasts} />
    </div>
  `;
}

/// The phone field (formatted and checked as the operator types) and Load Conversation.
function FilterCard({ target, loadedPhone }) {
  const start = target?.param === "phone" ? readPhone(target.value).display : "";
  const [typed, setTyped] = useState(start);
  const [tried, setTried] = useState(false);
  const input = useRef(null);
  const touched = useRef(false);

  // A conversation opened by contact, lead or partner shows its number here.
  useEffect(() => {
    if (loadedPhone && !touched.current) setTyped(showPhone(loadedPhone));
  }, [loadedPhone]);
  const read = readPhone(typed);
  const invalid = typed.trim() !== "" && !read.valid;

  function load(event) {
    event.preventDefault();
    setTried(true);
    if (!read.valid) {
      input.current.focus();
      return;
    }
    navigate(`${PATH}?phone=${encodeURIComponent(read.e164)}`);
  }

  let hint = "Any common format: (415) 555-0111, 415.555.0111 or +44 20 7946 0958.";
  if (read.valid) hint = `Loads the texts with ${read.e164}.`;
  else if (tried && !typed.trim()) hint = "Type a phone number first.";
  else if (invalid) hint = tried ? "This is not a valid phone number: check the digits and the country code." : "Not a complete phone number yet.";
  return html`
    <section class="card filter-card" aria-labelledby="filter-title">
      <h2 id="filter-title">Conversation Filter</h2>
      <form class="filter-form" onSubmit=${load} novalidate>
        <span class="filter-field">
          <label for="filter-phone">Phone number</label>
          <input
            ref=${input}
            id="filter-phone"
            type="tel"
            inputmode="tel"
            autocomplete="off"
            value=${typed}
            aria-invalid=${tried && (invalid || !typed.trim()) ? "true" : "false"}
            aria-describedby="filter-phone-hint"
            onInput=${(event) => ((touched.current = true), setTyped(readPhone(event.currentTarget.value).display), setTried(false))}
          />
        </span>
        <button type="submit" class="primary">Load Conversation</button>
        <p id="filter-phone-hint" class=${`filter-hint${tried && !read.valid ? " form-error" : ""}`}>${hint}</p>
      </form>
    </section>
  `;
}

/// A problem loading the thread, in words.
function loadProblem(error, target) {
  if (error.status === 404) return { title: "Not found", text: `No ${target.param === "phone" ? "number" : target.param.replace("Id", "")} “${target.value}” in your organisation.` };
  if (error.code === "no_phone") return { title: "No phone number", text: "This contact has no phone number, so there are no texts to show." };
  if (error.status === 400) return { title: "Check the number", text: error.message };
  return { title: "The conversation could not be loaded", text: error.message };
}

function SmsConversation({ target, me, lines, settings, onRefused, onReload, onLoaded }) {
  const [phone, setPhone] = useState(null);
  const [contact, setContact] = useState(null);
  const [items, setItems] = useState([]);
  const [before, setBefore] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [problem, setProblem] = useState(null);
  const [optOuts, setOptOuts] = useState([]);
  const [scheduled, setScheduled] = useState([]);
  const [picker, setPicker] = useState(null);
  const [notice, setNotice] = useState("");
  const status = useConnectionStatus();
  const feed = useRef(null);
  const following = useRef(true);
  const anchor = useRef(null);
  // Contacts whose texts make up the thread: their events are followed.
  const watched = useRef(new Map());
  const phoneRef = useRef(null);
  const contactRef = useRef(null);
  const [restored, setRestored] = useState(null);
  const [lightbox, setLightbox] = useState(null);

  function watch(contactId) {
    if (!contactId || watched.current.has(contactId)) return;
    watched.current.set(contactId, connection.subscribeContact(contactId));
  }

  async function fetchPage(cursor) {
    const params = `${target.query}&limit=${PAGE_SIZE}${cursor ? `&before=${encodeURIComponent(cursor)}` : ""}`;
    const page = await api("GET", `/api/sms/thread?${params}`);
    const messages = page.items.map((entry) => entry.message);
    messages.forEach((message) => watch(message.contact_id));
    return { ...page, messages };
  }

  async function loadNewest() {
    const page = await fetchPage(null);
    setItems((shown) => merge(shown, page.messages));
    return page;
  }

  async function loadScheduled(contactId) {
    const rows = await api("GET", `/api/scheduled-messages?contact_id=${contactId}&limit=50`);
    setScheduled(rows.scheduled_messages);
  }

  useEffect(() => {
    let current = true;
    const isOurs = (frame) => watched.current.has(frame.contact_id);
    const offs = [
      followMessages(
        (frame) => isOurs(frame) && (!frame.type.endsWith(".new") && !frame.type.endsWith(".updated") ? true : frame.data.channel === "sms" && counterpart(frame.data) === phoneRef.current),
        setItems,
      ),
      // Another contact holding the number wrote in: its texts are this thread's too.
      connection.on("messaging.inbound", ({ contact_id, data }) => {
        if (data.from !== phoneRef.current || watched.current.has(contact_id)) return;
        watch(contact_id);
        loadNewest().catch(() => {});
      }),
      connection.on("resync", (frame) => frame.contact_id && isOurs(frame) && loadNewest().catch(() => {})),
      ...["created", "updated", "canceled", "fired", "failed"].map((change) =>
        connection.on(`messaging.scheduled.${change}`, (frame) => {
          if (frame.contact_id !== contactRef.current) return;
          setScheduled((rows) => [frame.data, ...rows.filter((row) => row.id !== frame.data.id)]);
        }),
      ),
    ];
    fetchPage(null)
      .then(async (page) => {
        if (!current) return;
        phoneRef.current = page.phone;
        contactRef.current = page.contact?.id ?? null;
        setPhone(page.phone);
        onLoaded(page.phone);
        setContact(page.contact);
        watch(page.contact?.id);
        setItems((shown) => merge(shown, page.messages));
        setBefore(page.next_before);
        setLoaded(true);
        document.title = `${page.contact?.name ?? showPhone(page.phone)} · SMS queue · Switchboard`;
        if (page.contact) {
          const [stops] = await Promise.all([api("GET", `/api/contacts/${page.contact.id}/opt-outs`), loadScheduled(page.contact.id)]);
          if (current) setOptOuts(stops.opt_outs);
        }
      })
      .catch((error) => {
        if (!current) return;
        if (error.status === 403) onRefused();
        else setProblem(loadProblem(error, target));
      });
    return () => {
      current = false;
      offs.forEach((off) => off());
      watched.current.forEach((unsubscribe) => unsubscribe());
      watched.current.clear();
    };
  }, []);

  useOwnSends(contact?.id, setItems);

  async function loadOlder() {
    if (!before) return;
    const page = await fetchPage(before);
    anchor.current = feed.current.scrollHeight - feed.current.scrollTop;
    setItems((shown) => merge(shown, page.messages));
    setBefore(page.next_before);
  }

  useLayoutEffect(() => {
    const element = feed.current;
    if (!element) return;
    if (anchor.current !== null) {
      element.scrollTop = element.scrollHeight - anchor.current;
      anchor.current = null;
    } else if (following.current) {
      element.scrollTop = element.scrollHeight;
    }
  }, [items, loaded]);

  function onScroll() {
    const element = feed.current;
    following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_SLACK;
  }

  async function addContact() {
    try {
      await api("POST", "/api/contacts", { name: showPhone(phone), phones: [{ phone_number: phone }] });
      onReload();
    } catch (error) {
      setNotice(error.message);
    }
  }

  async function schedule(payload, sendAt, row) {
    try {
      if (row) {
        await api("PATCH", `/api/scheduled-messages/${row.id}`, { send_at: sendAt, body: payload.body });
        setNotice("The scheduled message was changed.");
      } else {
        await api("POST", "/api/scheduled-messages", { ...payload, contact_id: contact.id, send_at: sendAt, client_id: crypto.randomUUID() });
        setNotice("The message is scheduled.");
      }
      await loadScheduled(contact.id);
      return null;
    } catch (error) {
      return error.message;
    }
  }

  async function cancel(row) {
    try {
      await api("POST", `/api/scheduled-messages/${row.id}/cancel`);
      setScheduled((rows) => rows.filter((r) => r.id !== row.id));
      setNotice("The scheduled message was canceled.");
    } catch (error) {
      setNotice(error.message);
    }
  }

  if (problem) {
    return html`<div class="empty-state"><h2>${problem.title}</h2><p class="muted">${problem.text}</p></div>`;
  }
  if (!loaded) return html`<div class="loading" aria-busy="true">Loading conversation…</div>`;

  const texts = items.filter((item) => item.channel === "sms");
  const toPhone = contact?.phones.find((p) => p.phone_number === phone);
  const shownRows = [
    ...scheduled.filter((row) => row.status === "pending" || row.status === "firing").sort((a, b) => (a.send_at < b.send_at ? -1 : 1)),
    ...scheduled.filter((row) => row.status === "failed").sort((a, b) => (a.updated_at > b.updated_at ? -1 : 1)),
  ]
    .filter((row) => row.channel === "sms" && (!row.contact_phone_id || row.contact_phone_id === toPhone?.id))
    .slice(0, SCHEDULED_SHOWN);
  const lastFailed = texts.findLast((item) => item.direction === "outbound" && retryable(item));
  const name = contact?.name ?? showPhone(phone);
  return html`
    <div class="sms-columns">
      <section class="card thread-card" aria-labelledby="thread-title">
        <header class="thread-head">
          <div>
            <h2 id="thread-title">${name}</h2>
            <p class="muted contact-methods">${showPhone(phone)} · texts with all of the organisation's numbers</p>
          </div>
          <span class="thread-side">
            <${ConnectionIndicator} />
            ${contact && html`<a href=${`/messaging/${contact.id}`} class="queue-link" onClick=${followLink}>Open in Messaging</a>`}
          </span>
        </header>
        <div class="feed sms-feed" ref=${feed} onScroll=${onScroll} tabindex="0" aria-label=${`Texts with ${name}`}>
          ${before
            ? html`<p class="feed-start"><button type="button" class="link" onClick=${loadOlder}>Load older messages</button></p>`
            : html`<p class="muted feed-start">The beginning of the conversation</p>`}
          <div role="log" aria-label=${`SMS conversation with ${name}`}>
            <${ThreadItems}
              items=${texts}
              onRetry=${(item) => retryMessage(item, setItems)}
              onEdit=${(item) => takeBack(item, setItems, setRestored)}
              onUndo=${(item) => undoSend(item, setItems, setRestored)}
              onOpenImage=${(attachment) => setLightbox(attachment.id)}
            />
          </div>
          ${!texts.length && html`<p class="muted feed-empty">No texts with this number yet.</p>`}
        </div>
      </section>
      <div class="side">
        ${contact
          ? html`<section class="card side-card compose-card" aria-label="Compose a text">
              <${Compose}
                key=${contact.id}
                contact=${contact}
                me=${me}
                lines=${lines}
                lastInboundLine=${lastInboundLine(texts)}
                lastChannel="sms"
                optOuts=${optOuts}
                live=${status === "live"}
                waiting=${texts.filter((item) => item.status === "waiting").length}
                inboundWhileWriting=${false}
                restored=${restored}
                onTyping=${(on) => connection.typing(contact.id, on)}
                onDraft=${() => {}}
                onSend=${(payload, attachments) => ((following.current = true), sendMessage(contact.id, payload, attachments))}
                channels=${["sms"]}
                toPhoneId=${toPhone?.id}
                sendLabel="Send Message"
                onSchedule=${(payload) =>
                  new Promise((resolve) =>
                    setPicker({ payload, onDone: resolve }),
                  )}
              />
            </section>`
          : html`<section class="card side-card" aria-labelledby="no-contact-title">
              <h2 id="no-contact-title">No contact has this number</h2>
              <p class="muted">Texts go to a contact. Add one for ${showPhone(phone)} to write to it.</p>
              <button type="button" class="primary" onClick=${addContact}>Add a contact for this number</button>
            </section>`}
        ${contact && html`<${ScheduledList} rows=${shownRows} zone=${settings.timezone} onEdit=${(row) => setPicker({ row })} onCancel=${cancel} />`}
        ${lastFailed &&
        html`<section class="card side-card retry-card" aria-labelledby="retry-title">
          <h2 id="retry-title">Latest failed text</h2>
          <p class="retry-body">“${lastFailed.body}”</p>
          <p class="muted retry-when">Sent <time datetime=${lastFailed.created_at}>${zonedLabel(lastFailed.created_at, settings.timezone)}</time></p>
          <p class="reason">${lastFailed.error_message ?? "The carrier did not take this message."}</p>
          <button type="button" class="primary" onClick=${() => retryMessage(lastFailed, setItems)}>Retry sending</button>
        </section>`}
        <p class="sr-only" role="status">${notice}</p>
      </div>
      ${lightbox &&
      html`<${Lightbox} images=${texts.flatMap((item) => item.attachments.filter((a) => a.content_type.startsWith("image/")))} startId=${lightbox} onClose=${() => setLightbox(null)} />`}
      ${picker &&
      html`<${SchedulePicker}
        settings=${settings}
        initial=${picker.row?.send_at}
        body=${picker.row ? picker.row.body : undefined}
        title=${picker.row ? "Change the scheduled message" : "Schedule the message"}
        onPick=${async (sendAt, body) => {
          const error = await schedule(picker.row ? { body } : picker.payload, sendAt, picker.row);
          if (!error) picker.onDone?.(true);
          return error;
        }}
        onClose=${() => (picker.onDone?.(false), setPicker(null))}
      />`}
    </div>
  `;
}
