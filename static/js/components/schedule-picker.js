// When a message should go: a modal dialog (focus stays inside it while it is open, going
// round from its last control to its first; Esc closes it) with the date and time on the
// organisation's clock, its time zone said, and the quiet hours explained when the time
// chosen falls inside them.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { insideWindow, wallClock, zonedInstant } from "../time.js";
import { FocusGuard } from "./focus-guard.js";

/// `initial`: an ISO instant to start from (editing a scheduled message), else an hour
/// from now; `body`, when given, is editable too. `onPick(iso, body)` answers a promise
/// of an error message (or null when done).
export function SchedulePicker({ settings, initial, body, title = "Schedule the message", onPick, onClose }) {
  const dialog = useRef(null);
  const zone = settings.timezone;
  const start = wallClock(initial ? new Date(initial) : new Date(Date.now() + 3600_000), zone);
  const [date, setDate] = useState(start.date);
  const [time, setTime] = useState(start.time.slice(0, 5));
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const [text, setText] = useState(body ?? "");

  useEffect(() => {
    const opener = document.activeElement;
    dialog.current.showModal();
    return () => opener?.focus?.();
  }, []);

  const quiet = settings.quiet_hours;
  const inQuiet = quiet && time && insideWindow(time, quiet.start, quiet.end);
  const today = wallClock(new Date(), zone).date;

  async function submit(event) {
    event.preventDefault();
    if (!date || !time) {
      setProblem("Choose a date and a time.");
      return;
    }
    const at = zonedInstant(date, time, zone);
    if (at.getTime() < Date.now()) {
      setProblem("That time has passed: choose a later one.");
      return;
    }
    if (body !== undefined && !text.trim()) {
      setProblem("The message is empty.");
      return;
    }
    setBusy(true);
    const error = await onPick(at.toISOString(), body === undefined ? undefined : text);
    setBusy(false);
    if (error) setProblem(error);
    else dialog.current.close();
  }

  return html`
    <dialog ref=${dialog} class="schedule-picker" aria-labelledby="schedule-title" aria-describedby="schedule-zone" onClose=${onClose}>
      <${FocusGuard} at="start" />
      <h2 id="schedule-title">${title}</h2>
      <p id="schedule-zone" class="muted">Times are on the organisation's clock: <strong>${zone}</strong> (now ${wallClock(new Date(), zone).time.slice(0, 5)} there).</p>
      <form onSubmit=${submit}>
        ${body !== undefined &&
        html`<p class="field picker-body">
          <label class="field-label" for="schedule-body">Message</label>
          <textarea id="schedule-body" rows="3" value=${text} onInput=${(event) => (setText(event.currentTarget.value), setProblem(""))}></textarea>
        </p>`}
        <div class="picker-fields">
          <span class="field">
            <label class="field-label" for="schedule-date">Date</label>
            <input id="schedule-date" type="date" required min=${today} value=${date} onInput=${(event) => (setDate(event.currentTarget.value), setProblem(""))} />
          </span>
          <span class="field">
            <label class="field-label" for="schedule-time">Time</label>
            <input id="schedule-time" type="time" step="1" required value=${time} onInput=${(event) => (setTime(event.currentTarget.value), setProblem(""))} />
          </span>
        </div>
        ${inQuiet &&
        html`<p class="quiet-note" role="note">
          ${time.slice(0, 5)} is inside the quiet hours (${quiet.start}–${quiet.end}, ${quiet.timezone}): the message waits and goes
          when they end, at ${quiet.end}.
        </p>`}
        ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
        <div class="dialog-actions">
          <button type="button" onClick=${() => dialog.current.close()}>Cancel</button>
          <button type="submit" class="primary" aria-disabled=${busy ? "true" : "false"}>${body === undefined ? "Schedule" : "Save"}</button>
        </div>
      </form>
      <${FocusGuard} at="end" />
    </dialog>
  `;
}
