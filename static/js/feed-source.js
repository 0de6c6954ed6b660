// Where a conversation's history comes from, in one place: the feed API
// (`GET /api/contacts/{id}/feed`), messages and calls in one timeline, each page oldest
// first. A call becomes an item of kind "call" placed at its `at`; a message is itself.
import { api } from "./api.js";

export const PAGE_SIZE = 50;

const early = new Map();

/// A call as a feed item: kind "call", placed at `at` (the feed's key; a call's
/// `created_at`, which is what a live event of it carries).
export function callItem(call, at = call.created_at) {
  return { ...call, kind: "call", created_at: at, attachments: [] };
}

function asItem(entry) {
  return entry.kind === "call" ? callItem(entry.call, entry.at) : entry.message;
}

async function fetchPage(contactId, before, filter = "all") {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), filter });
  if (before) params.set("before", before);
  const page = await api("GET", `/api/contacts/${contactId}/feed?${params}`);
  return { items: page.items.map(asItem), before: page.next_before };
}

/// Starts fetching a conversation's newest page at once: a link to a conversation then
/// has it on the way while the app's modules and the operator's details still load.
export function prefetch(contactId) {
  const page = fetchPage(contactId, null);
  // A failure is met again, and reported, by the load that uses it.
  page.catch(() => {});
  early.set(contactId, page);
}

/// One page of the conversation, oldest first; `before` is the cursor of the page
/// older than this one (null when this is the oldest). `filter` is the feed API's
/// (`all`, `calls`, `messages`, `emails`), so a tab's history pages through its own kind.
export async function loadPage(contactId, before = null, filter = "all") {
  if (filter !== "all") return fetchPage(contactId, before, filter);
  const prefetched = !before && early.get(contactId);
  early.delete(contactId);
  if (prefetched) {
    try {
      return await prefetched;
    } catch {
      // Fetched again below.
    }
  }
  return fetchPage(contactId, before);
}
