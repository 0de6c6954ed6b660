// Sends the server has not confirmed yet. Each is kept in localStorage until the server
// answers, so a reload or a dropped connection loses none, and each carries its
// client_id, so posting one again returns the message the first post made instead of
// sending it twice. A send with `send_at` (the undo window) waits until then and can be
// taken back meanwhile. The outbox belongs to the tab, not to a conversation: what waits
// goes when the connection is back, whichever conversation is open.
import { api, ApiError } from "./api.js";
import { connection } from "./connection.js";

const KEY = "switchboard.outbox";
const listeners = new Set();
const inFlight = new Set();
const holds = new Map(); // client id -> timer

function all() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) ?? [];
  } catch {
    return [];
  }
}

function save(entries) {
  localStorage.setItem(KEY, JSON.stringify(entries));
}

function forget(clientId) {
  save(all().filter((e) => e.payload.client_id !== clientId));
}

/// `handler({entry, state, message?, error?})`, state one of holding, waiting, sending,
/// sent (with the server's message) or rejected (with the ApiError); returns the removal.
export function onChange(handler) {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

function emit(entry, state, extra = {}) {
  for (const handler of listeners) handler({ entry, state, ...extra });
}

/// Where an entry stands, for a page that shows it again.
export function stateOf(entry) {
  const id = entry.payload.client_id;
  return holds.has(id) ? "holding" : inFlight.has(id) ? "sending" : "waiting";
}

export function pendingFor(contactId) {
  return all().filter((e) => e.payload.contact_id === contactId);
}

/// `entry`: `{path, payload (with client_id and contact_id), created_at, send_at?, attachments?}`.
export function send(entry) {
  save([...all().filter((e) => e.payload.client_id !== entry.payload.client_id), entry]);
  deliver(entry);
}

async function deliver(entry) {
  const id = entry.payload.client_id;
  if (inFlight.has(id) || holds.has(id)) return;
  const wait = (entry.send_at ?? 0) - Date.now();
  if (wait > 0) {
    holds.set(id, setTimeout(() => (holds.delete(id), deliver(entry)), wait));
    emit(entry, "holding");
    return;
  }
  if (connection.status !== "live") {
    emit(entry, "waiting");
    return;
  }
  inFlight.add(id);
  emit(entry, "sending");
  try {
    const message = await api("POST", entry.path, entry.payload);
    forget(id);
    emit(entry, "sent", { message });
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) {
      // Refused for good (PHI, an opt-out, a rule): sending it again would not help.
      forget(id);
      emit(entry, "rejected", { error });
    } else {
      emit(entry, "waiting");
    }
  } finally {
    inFlight.delete(id);
  }
}

/// Takes back a send still in its undo window; false when it is already on its way.
export function undo(clientId) {
  if (!holds.has(clientId)) return false;
  clearTimeout(holds.get(clientId));
  holds.delete(clientId);
  forget(clientId);
  return true;
}

/// Sends everything that waits (called when the connection is live).
export function flush() {
  for (const entry of all()) deliver(entry);
}
