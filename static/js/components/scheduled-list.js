// The conversation's scheduled messages in the SMS queue: the next few waiting (each can
// be edited or canceled) and the ones that failed, with a badge and the reason.
import { html } from "../html.js";
import { zonedLabel } from "../time.js";

export function ScheduledList({ rows, zone, onEdit, onCancel }) {
  return html`
    <section class="card side-card scheduled" aria-labelledby="scheduled-title">
      <h2 id="scheduled-title">Scheduled messages</h2>
      ${rows.length === 0 && html`<p class="muted">Nothing scheduled for this number.</p>`}
      <ul class="scheduled-rows">
        ${rows.map(
          (row) => html`
            <li key=${row.id} class=${`scheduled-row ${row.status}`} data-id=${row.id}>
              <p class="scheduled-body">${row.body}</p>
              <p class="scheduled-meta">
                <time datetime=${row.send_at}>${zonedLabel(row.send_at, zone)}</time>
                ${row.status === "failed"
                  ? html`<span class="state-badge failed">Failed</span> <span class="reason">${row.error_message ?? row.error_code}</span>`
                  : html`<span class="state-badge">${row.status === "firing" ? "Sending now" : "Pending"}</span>`}
              </p>
              ${row.status === "pending" &&
              html`<p class="scheduled-actions">
                <button type="button" class="link" onClick=${() => onEdit(row)} aria-label=${`Edit the message scheduled for ${zonedLabel(row.send_at, zone)}`}>Edit</button>
                <button type="button" class="link danger" onClick=${() => onCancel(row)} aria-label=${`Cancel the message scheduled for ${zonedLabel(row.send_at, zone)}`}>Cancel</button>
              </p>`}
            </li>
          `,
        )}
      </ul>
    </section>
  `;
}
