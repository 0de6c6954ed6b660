// The page's own sends as items of a conversation, for every page that sends: each goes
// through the tab's outbox (kept until the server answers, never doubled), shows at once
// as a local item, and is replaced by the server's message with its client_id. Retrying
// a failed message asks the server to send it again.
import { useEffect } from "preact/hooks";
import { api } from "./api.js";
import * as outbox from "./outbox.js";
import { undoSeconds } from "./settings.js";
import { remove, upsert } from "./timeline.js";

/// The error code of a message delivery gave up on (`delivery::GAVE_UP` on the server).
const GAVE_UP = "delivery_failed";

/// The optimistic item for a send the server has not answered yet.
export function localItem(entry, status, error = null) {
  const { payload } = entry;
  return {
    id: `local-${payload.client_id}`,
    local: true,
    entry,
    client_id: payload.client_id,
    contact_id: payload.contact_id,
    channel: payload.channel ?? "note",
    private: !payload.channel,
    direction: "outbound",
    status,
    body: payload.body,
    subject: payload.subject ?? null,
    attachments: entry.attachments ?? [],
    error_message: error,
    created_at: entry.created_at,
    updated_at: entry.created_at,
  };
}

/// Keeps the contact's sends from this tab in `setItems`' list as the outbox moves them along.
export function useOwnSends(contactId, setItems) {
  useEffect(() => {
    if (!contactId) return;
    for (const entry of outbox.pendingFor(contactId)) setItems((shown) => upsert(shown, localItem(entry, outbox.stateOf(entry))));
    return outbox.onChange(({ entry, state, message, error }) => {
      if (entry.payload.contact_id !== contactId) return;
      if (state === "sent") setItems((shown) => upsert(shown, message));
      else if (state === "rejected") setItems((shown) => upsert(shown, { ...localItem(entry, "failed", error.message), rejected: true }));
      else setItems((shown) => upsert(shown, localItem(entry, state)));
    });
  }, [contactId]);
}

/// Sends `payload` (a message, or a note without a channel) to the contact, after the
/// operator's undo window.
export function sendMessage(contactId, payload, attachments) {
  const now = Date.now();
  const hold = undoSeconds() * 1000;
  outbox.send({
    path: payload.channel ? "/api/messages/send" : "/api/messages/notes",
    payload: { ...payload, contact_id: contactId, client_id: crypto.randomUUID() },
    created_at: new Date(now).toISOString(),
    send_at: hold ? now + hold : undefined,
    attachments,
  });
}

/// Whether the server takes `item` back to send again, by its rule (`messages::retry` and
/// `contact::RetryMessage`): a `failed` message, but not one delivery gave up on that the
/// carrier turned out to hold. An `undelivered` one reached the carrier, which could not
/// hand it over; the server does not send it twice.
export function retryable(item) {
  return !item.local && item.status === "failed" && !(item.error_code === GAVE_UP && item.external_id);
}

/// Asks the server to send a failed message again (`POST /api/messages/{id}/retry`); the
/// item shows the answer, or the reason it was refused.
export async function retryMessage(item, setItems) {
  try {
    const message = await api("POST", `/api/messages/${item.id}/retry`);
    setItems((shown) => upsert(shown, message));
  } catch (error) {
    setItems((shown) => upsert(shown, { ...item, error_message: error.message, updated_at: new Date().toISOString() }));
  }
}

/// Takes a send back into the compose box (a refused one to fix, or one undone):
/// `setRestored` gives Compose its payload.
export function takeBack(item, setItems, setRestored) {
  setItems((shown) => remove(shown, item.id));
  setRestored({ ...item.entry.payload, nonce: item.id });
}

/// Undoes a send still in its undo window.
export function undoSend(item, setItems, setRestored) {
  if (outbox.undo(item.client_id)) takeBack(item, setItems, setRestored);
}
