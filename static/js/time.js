// Times as operators read them: "5 min", "3 h", "Yesterday", and the colour band of how
// long ago a contact was last reached.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function ago(iso, now = Date.now()) {
  const elapsed = Math.max(0, now - Date.parse(iso));
  if (elapsed < MINUTE) return "now";
  if (elapsed < HOUR) return `${Math.floor(elapsed / MINUTE)} min`;
  if (elapsed < DAY) return `${Math.floor(elapsed / HOUR)} h`;
  if (elapsed < 30 * DAY) return `${Math.floor(elapsed / DAY)} d`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/// fresh: within the hour; recent: the day; waiting: the week; stale: longer or never.
export function ageClass(iso, now = Date.now()) {
  if (!iso) return "stale";
  const elapsed = now - Date.parse(iso);
  return elapsed < HOUR ? "fresh" : elapsed < DAY ? "recent" : elapsed < 7 * DAY ? "waiting" : "stale";
}

export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function dayLabel(iso, now = new Date()) {
  const date = new Date(iso);
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const days = Math.round((today - new Date(date.getFullYear(), date.getMonth(), date.getDate())) / DAY);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return date.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/// `{date: "YYYY-MM-DD", time: "HH:MM:SS"}`: the wall clock in `zone` at `instant`.
export function wallClock(instant, zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}:${parts.second}` };
}

function wallMillis({ date, time }) {
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute, second = 0] = time.split(":").map(Number);
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/// The instant the wall clock in `zone` reads `date` `time` (in a repeated hour, the
/// first; in a skipped one, an hour on, as the clock reads after the change).
export function zonedInstant(date, time, zone) {
  const wall = wallMillis({ date, time });
  const offset = (at) => wallMillis(wallClock(new Date(at), zone)) - at;
  const guess = wall - offset(wall);
  return new Date(wall - offset(guess));
}

/// Whether the time of day `time` ("HH:MM" or "HH:MM:SS") is inside the window from
/// `start` to `end` (which may pass midnight).
export function insideWindow(time, start, end) {
  const seconds = (text) => text.split(":").reduce((total, part, index) => total + Number(part) * [3600, 60, 1][index], 0);
  const [at, from, to] = [seconds(time), seconds(start), seconds(end)];
  return from < to ? from <= at && at < to : at >= from || at < to;
}

/// An instant as the wall clock in `zone` shows it: "Fri 4 Dec, 14:05".
export function zonedLabel(iso, zone) {
  return new Date(iso).toLocaleString(undefined, { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}
