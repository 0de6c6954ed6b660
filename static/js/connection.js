// The tab's one WebSocket (README, "WebSocket protocol"): it keeps the subscriptions the
// pages ask for, resumes from the last event it processed after a drop (so nothing is
// missed), drops an event it has already seen (so nothing is applied twice), and
// reconnects with exponential backoff and jitter (so a restarted server is not met by
// every tab at the same instant).

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
/// Failed attempts in a row after which the indicator says offline rather than reconnecting.
const OFFLINE_AFTER = 4;
/// Seen sequence numbers kept to drop replayed duplicates: far more than one replay holds.
const SEEN_KEPT = 4096;

class Connection {
  constructor() {
    this.status = "connecting";
    this.socket = null;
    this.lastSeq = null;
    /// Which numbering `lastSeq` belongs to (the server's epoch for the organisation).
    this.epoch = null;
    this.seen = new Set();
    this.contacts = new Map(); // contact id -> number of pages holding the subscription
    this.org = false;
    this.failures = 0;
    this.listeners = new Map(); // event type -> Set of handlers
    this.statusListeners = new Set();
    this.started = false;
  }

  start() {
    if (this.started) return;
    this.started = true;
    addEventListener("online", () => this.reconnectNow());
    this.open();
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const epoch = this.epoch === null ? "" : `&epoch=${encodeURIComponent(this.epoch)}`;
    const since = this.lastSeq === null ? "" : `?since=${this.lastSeq}${epoch}`;
    const socket = new WebSocket(`${scheme}//${location.host}/ws${since}`);
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      if (this.org) this.send({ type: "subscribe_org" });
      for (const id of this.contacts.keys()) this.send({ type: "subscribe", contact_id: id });
      this.setStatus("live");
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === 4001) {
        this.emit("unauthenticated", {});
        return;
      }
      this.failures += 1;
      this.setStatus(this.failures >= OFFLINE_AFTER || !navigator.onLine ? "offline" : "reconnecting");
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.failures - 1));
      this.retryTimer = setTimeout(() => this.open(), ceiling / 2 + Math.random() * (ceiling / 2));
    };
  }

  /// Skips the backoff wait (the browser says the network is back).
  reconnectNow() {
    if (this.socket) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  receive(frame) {
    if (typeof frame.seq === "number" && frame.type.startsWith("messaging.")) {
      if (this.seen.has(frame.seq)) return;
      this.seen.add(frame.seq);
      if (this.seen.size > SEEN_KEPT) this.seen.delete(this.seen.values().next().value);
      if (this.lastSeq === null || frame.seq > this.lastSeq) this.lastSeq = frame.seq;
    } else if (frame.type === "subscribed" && this.lastSeq === null) {
      // Nothing processed yet: resume from where the subscription started.
      this.lastSeq = frame.seq;
      this.epoch = frame.epoch ?? null;
    } else if (frame.type === "resync" && frame.epoch !== undefined && frame.epoch !== this.epoch) {
      // A new numbering (the server lost its history): numbers seen so far say nothing
      // about the new ones.
      this.epoch = frame.epoch;
      this.lastSeq = frame.seq;
      this.seen.clear();
    }
    this.emit(frame.type, frame);
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  subscribeOrg() {
    this.org = true;
    this.send({ type: "subscribe_org" });
  }

  /// Returns the matching unsubscribe.
  subscribeContact(id) {
    const holders = this.contacts.get(id) ?? 0;
    this.contacts.set(id, holders + 1);
    if (holders === 0) this.send({ type: "subscribe", contact_id: id });
    return () => {
      const left = (this.contacts.get(id) ?? 1) - 1;
      if (left > 0) {
        this.contacts.set(id, left);
        return;
      }
      this.contacts.delete(id);
      this.send({ type: "unsubscribe", contact_id: id });
    };
  }

  typing(contactId, on) {
    this.send({ type: "typing", contact_id: contactId, on });
  }

  /// Returns the matching removal.
  on(type, handler) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(handler);
    return () => this.listeners.get(type).delete(handler);
  }

  emit(type, frame) {
    for (const handler of this.listeners.get(type) ?? []) handler(frame);
  }

  onStatus(handler) {
    this.statusListeners.add(handler);
    return () => this.statusListeners.delete(handler);
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const handler of this.statusListeners) handler(status);
  }
}

export const connection = new Connection();
