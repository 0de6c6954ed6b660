// Live / reconnecting / offline, in words as well as colour; announced when it changes.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { connection } from "../connection.js";

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

export function useConnectionStatus() {
  const [status, setStatus] = useState(connection.status);
  useEffect(() => {
    setStatus(connection.status);
    return connection.onStatus(setStatus);
  }, []);
  return status;
}

export function ConnectionIndicator() {
  const status = useConnectionStatus();
  return html`
    <span class="connection" data-status=${status} role="status">
      <span class="dot" aria-hidden="true"></span>
      <span class="connection-label">${LABELS[status]}</span>
    </span>
  `;
}
