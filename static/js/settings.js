// The operator's own settings, kept in this browser.

const UNDO_KEY = "switchboard.undoSeconds";

/// Seconds a send waits, with an Undo button, before it goes to the server (0: off).
export function undoSeconds() {
  return Number(localStorage.getItem(UNDO_KEY)) || 0;
}

export function setUndoSeconds(seconds) {
  localStorage.setItem(UNDO_KEY, String(seconds));
}
