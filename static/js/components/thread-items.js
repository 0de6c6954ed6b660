// A conversation's items as one list: a divider for each day (and, where given, before
// the first unread item), then a bubble per message or call. Shared by /messaging and the
// SMS operator queue.
import { html } from "../html.js";
import { dayKey, dayLabel } from "../time.js";
import { Bubble } from "./bubble.js";

/// `onSuggest(item, opener)` (optional) opens suggested replies to an inbound message;
/// `suggestingId` is the message they are open for.
export function ThreadItems({ items, unreadFrom = null, onRetry, onEdit, onUndo, onOpenImage, onSuggest, suggestingId = null }) {
  let lastDay = null;
  return html`
    <ol class="items">
      ${items.flatMap((item) => {
        // One flat list of keyed rows: a nested array per item would be matched by
        // position, and loading older items would then rebuild every bubble.
        const rows = [];
        const day = dayKey(item.created_at);
        if (day !== lastDay) rows.push(html`<li class="divider" key=${`day-${day}`}><span>${dayLabel(item.created_at)}</span></li>`);
        lastDay = day;
        if (item.id === unreadFrom) rows.push(html`<li class="divider unread" key="unread"><span>New since your last visit</span></li>`);
        rows.push(html`<${Bubble} key=${item.id} item=${item} onRetry=${onRetry} onEdit=${onEdit} onUndo=${onUndo} onOpenImage=${onOpenImage} onSuggest=${onSuggest} suggesting=${item.id === suggestingId} />`);
        return rows;
      })}
    </ol>
  `;
}
