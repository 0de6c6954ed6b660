// A conversation's items in time order, and the rules that keep them right whatever
// order the HTTP pages, the API's answers and the live events arrive in: one item per
// message id, an optimistic item replaced by the server's message with its client_id,
// and a status that never moves back (a late "sent" never overwrites "delivered").
// Pure functions over arrays, so the page re-renders by identity and Node can test them.

const RANK = { local: 0, waiting: 0, queued: 1, sending: 2, sent: 3, received: 3, delivered: 4, read: 5, failed: 6, undelivered: 6 };

/// Whether `item` sorts before `boundary` (time, then id).
export function isOlder(item, boundary) {
  return order(item, boundary) < 0;
}

function order(a, b) {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/// Whether `incoming` (a message or a status change of it) is at least as new as `current`.
function isNewer(current, incoming) {
  // The page's own guess never overrides what the server said, and always yields to it.
  if (incoming.local !== current.local) return !incoming.local;
  if (current.local) return true;
  if (incoming.updated_at !== current.updated_at) return incoming.updated_at > current.updated_at;
  return (RANK[incoming.status] ?? 0) >= (RANK[current.status] ?? 0);
}

function indexOf(items, message) {
  return items.findIndex(
    (item) => item.id === message.id || (message.client_id && item.client_id === message.client_id),
  );
}

/// Inserts or replaces one message (from the API, an event, or the page's own send).
export function upsert(items, message) {
  const at = indexOf(items, message);
  if (at === -1) {
    const next = [...items];
    let position = next.length;
    while (position > 0 && order(next[position - 1], message) > 0) position -= 1;
    next.splice(position, 0, message);
    return next;
  }
  if (!isNewer(items[at], message)) return items;
  const next = [...items];
  next[at] = message;
  // A confirmed message takes the server's time: it may sort before a local one.
  if (items[at].local && !message.local) next.sort(order);
  return next;
}

/// Applies `messaging.message.status` data: `{id, status, external_id, error_code,
/// error_message, updated_at}`.
export function applyStatus(items, change) {
  const at = items.findIndex((item) => item.id === change.id);
  if (at === -1 || !isNewer(items[at], change)) return items;
  const next = [...items];
  next[at] = { ...items[at], ...change };
  return next;
}

/// Adds a page of older (or refetched) messages; what is already shown keeps the newer state.
export function merge(items, page) {
  return page.reduce(upsert, items);
}

export function remove(items, id) {
  return items.filter((item) => item.id !== id);
}

/// The line the server would send from (README, "Sending"): the one the contact last
/// wrote to, else none (the organisation's first).
export function lastInboundLine(items) {
  for (let i = items.length - 1; i >= 0; i -= 1) {
    const item = items[i];
    if (item.direction === "inbound" && item.channel === "sms" && item.phone_number_id) return item.phone_number_id;
  }
  return null;
}
