// A conversation's items kept live from the tab's WebSocket: new and edited messages,
// status changes and deletions, and calls recorded or updated, for the frames `matches`
// picks (the page's contact, or the texts of one number).
import { connection } from "./connection.js";
import { callItem } from "./feed-source.js";
import { applyStatus, remove, upsert } from "./timeline.js";

/// Applies matching message events to `setItems`' list, calling `onNew(message)` after a
/// new one; returns the removal.
export function followMessages(matches, setItems, onNew = () => {}) {
  const offs = [
    connection.on("messaging.message.new", (frame) => {
      if (!matches(frame)) return;
      setItems((shown) => upsert(shown, frame.data));
      onNew(frame.data);
    }),
    connection.on("messaging.message.updated", (frame) => matches(frame) && setItems((shown) => upsert(shown, frame.data))),
    connection.on("messaging.message.status", (frame) => matches(frame) && setItems((shown) => applyStatus(shown, frame.data))),
    connection.on("messaging.message.deleted", (frame) => matches(frame) && setItems((shown) => remove(shown, frame.data.id))),
  ];
  return () => offs.forEach((off) => off());
}

/// Applies matching call events to `setItems`' list: a new call appears, an updated one
/// (its status, transcription or analysis) replaces what is shown, never twice. Returns
/// the removal.
export function followCalls(matches, setItems) {
  const apply = (frame) => matches(frame) && setItems((shown) => upsert(shown, callItem(frame.data)));
  const offs = [connection.on("messaging.call.new", apply), connection.on("messaging.call.updated", apply)];
  return () => offs.forEach((off) => off());
}
