// What every operator page starts with: who is signed in (a page without a session goes
// to the login), the tab's WebSocket with the organisation's stream, the organisation's
// sending lines, and the outbox sent on as soon as the connection is live.
import { useEffect, useState } from "preact/hooks";
import { api, loginUrl } from "./api.js";
import { connection } from "./connection.js";
import * as outbox from "./outbox.js";
import { useConnectionStatus } from "./components/connection-indicator.js";

/// The operator (`GET /api/me`), or null while it loads.
export function useOperator() {
  const [me, setMe] = useState(null);
  const status = useConnectionStatus();

  // What waited for the connection (or for a reload) goes as soon as it is live.
  useEffect(() => {
    if (status === "live") outbox.flush();
  }, [status]);

  useEffect(() => {
    api("GET", "/api/me")
      .then((who) => {
        setMe(who);
        connection.start();
        connection.subscribeOrg();
      })
      .catch((error) => {
        if (error.status === 401) location.replace(loginUrl());
      });
    return connection.on("unauthenticated", () => location.replace(loginUrl()));
  }, []);
  return me;
}

/// The organisation's phone numbers and email addresses to send from, once `me` is known.
export function useLines(me) {
  const [lines, setLines] = useState({ phones: [], emails: [] });
  useEffect(() => {
    if (!me) return;
    Promise.all([api("GET", "/api/phone-numbers"), api("GET", "/api/email-addresses")])
      .then(([phones, emails]) => setLines({ phones: phones.phone_numbers, emails: emails.email_addresses }))
      .catch(() => {});
  }, [me]);
  return lines;
}

/// Whether the operator holds `permission` (admins hold them all), as the server decides.
export function holds(me, permission) {
  return me.user.role === "admin" || me.user.permissions.includes(permission);
}

export const SMS_ADMIN = "sms.admin";
export const PHI_OVERRIDE = "phi.override";
