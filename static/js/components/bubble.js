// One message in the feed: outbound on the right, inbound on the left, a private note
// set apart, an email with its subject, and on outbound its delivery state in words.
import { Component } from "preact";
import { html } from "../html.js";
import { markdown } from "../markdown.js";
import { retryable } from "../sending.js";
import { clock } from "../time.js";

const STATUS = {
  holding: "Sending in a moment",
  waiting: "Waiting for connection",
  queued: "Sending…",
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Failed",
  undelivered: "Failed",
};

function duration(seconds) {
  return seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
}

/// A call: compact, on the side of whoever called, its transcription and analysis folded.
function callCard(call) {
  const outbound = call.direction === "outbound";
  return html`
    <li class=${`item ${outbound ? "out" : "in"}`} data-id=${call.id}>
      <article class=${`call-card ${outbound ? "outbound" : "inbound"}`}>
        <p class="call-title">
          <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>
          ${outbound ? "Outbound call" : "Inbound call"}${call.duration_seconds != null ? ` · ${duration(call.duration_seconds)}` : ""} · ${call.status.replaceAll("-", " ")}
        </p>
        ${call.transcription && html`<details><summary>Transcription</summary><div class="prose">${markdown(call.transcription)}</div></details>`}
        ${call.analysis && html`<details><summary>Analysis</summary><div class="prose">${markdown(call.analysis)}</div></details>`}
        <footer class="meta"><time datetime=${call.created_at}>${clock(call.created_at)}</time></footer>
      </article>
    </li>
  `;
}

function MailIcon() {
  return html`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path d="M3 6h18v12H3z M3 6l9 7 9-7" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round" />
  </svg>`;
}

function Attachment({ attachment, onOpenImage }) {
  if (attachment.content_type.startsWith("image/")) {
    return html`<button type="button" class="thumb" onClick=${() => onOpenImage(attachment)} aria-label=${`Open image ${attachment.file_name}`}>
      <img src=${attachment.url} alt="" loading="lazy" />
    </button>`;
  }
  if (attachment.content_type.startsWith("audio/")) {
    return html`<audio controls preload="metadata" src=${attachment.url} aria-label=${`Voice note ${attachment.file_name}`}></audio>`;
  }
  return html`<a class="file-chip" href=${attachment.url} target="_blank" rel="noopener noreferrer">${attachment.file_name}</a>`;
}

/// A click on an inbound message asks for suggested replies, unless it was meant for a
/// link, a button or a player inside it, or it ended a text selection.
function suggestFrom(event, item, onSuggest) {
  if (event.target.closest("a, button, audio, video, summary") || getSelection().toString()) return;
  onSuggest(item, event.currentTarget.querySelector(".suggest"));
}

function view({ item, onRetry, onEdit, onUndo, onOpenImage, onSuggest, suggesting }) {
  const outbound = item.direction === "outbound";
  const failed = item.status === "failed" || item.status === "undelivered";
  const kind = item.private ? "note" : outbound ? "outbound" : "inbound";
  const suggestable = kind === "inbound" && onSuggest;
  return html`
    <li class=${`item ${outbound || item.private ? "out" : "in"}`} data-id=${item.id} data-client-id=${item.client_id ?? undefined}>
      <article
        class=${`bubble ${kind} ${item.channel}${failed ? " failed" : ""}${suggestable ? " suggestable" : ""}${suggesting ? " suggesting" : ""}`}
        onClick=${suggestable ? (event) => suggestFrom(event, item, onSuggest) : undefined}
      >
        ${item.private && html`<p class="note-label">Private note</p>`}
        ${item.channel === "email" &&
        html`<p class="subject"><${MailIcon} /><span class="sr-only">Email: </span>${item.subject}</p>`}
        <div class="body">${markdown(item.body)}</div>
        ${item.attachments.length > 0 &&
        html`<div class="attachments">${item.attachments.map((a) => html`<${Attachment} key=${a.id} attachment=${a} onOpenImage=${onOpenImage} />`)}</div>`}
        <footer class="meta">
          ${suggestable &&
          html`<button type="button" class="link suggest" aria-expanded=${suggesting ? "true" : "false"} aria-controls=${suggesting ? "suggestions" : undefined} onClick=${(event) => onSuggest(item, event.currentTarget)}>
            Suggest replies
          </button>`}
          <time datetime=${item.created_at}>${clock(item.created_at)}</time>
          ${outbound && (!item.private || item.local) && html`<span class="status" data-status=${item.status}>${STATUS[item.status] ?? item.status}</span>`}
          ${item.status === "holding" && html`<button type="button" class="link" onClick=${() => onUndo(item)}>Undo</button>`}
        </footer>
        ${failed &&
        html`<div class="failure">
          <span class="reason">${item.error_message ?? "The carrier did not take this message."}</span>
          ${item.rejected
            ? html`<button type="button" class="link" onClick=${() => onEdit(item)}>Edit</button>`
            : retryable(item) && html`<button type="button" class="link" onClick=${() => onRetry(item)}>Retry</button>`}
        </div>`}
      </article>
    </li>
  `;
}

/// A bubble re-renders only when its message changes, or the suggestions panel opens or
/// closes on it: a conversation of thousands of items then costs one bubble per live
/// event, not thousands. (The handlers it is given are new functions on each render of
/// the feed, but always do the same thing.) `onSuggest(item, opener)`, where given, makes
/// inbound messages ask for suggested replies.
export class Bubble extends Component {
  shouldComponentUpdate(next) {
    return next.item !== this.props.item || next.suggesting !== this.props.suggesting;
  }

  render(props) {
    return props.item.kind === "call" ? callCard(props.item) : view(props);
  }
}
