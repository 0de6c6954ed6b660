// The app's entry: picks the page for the address.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";
import { Login } from "./components/login.js";
import { Messaging } from "./components/messaging.js";
import { PATH as SMS_QUEUE, SmsConversations } from "./components/sms-conversations.js";
import { prefetch } from "./feed-source.js";

/// Where the app is: `{path, search}`, kept as the operator navigates.
function useLocation() {
  const [where, setWhere] = useState({ path: location.pathname, search: location.search });
  useEffect(() => {
    const update = () => setWhere({ path: location.pathname, search: location.search });
    addEventListener("popstate", update);
    addEventListener("navigate", update);
    return () => {
      removeEventListener("popstate", update);
      removeEventListener("navigate", update);
    };
  }, []);
  return where;
}

function App() {
  const { path, search } = useLocation();
  if (path === "/login") return html`<${Login} />`;
  if (path === SMS_QUEUE) return html`<${SmsConversations} search=${search} />`;
  const match = path.match(/^\/messaging(?:\/([^/]+))?\/?$/);
  return html`<${Messaging} contactId=${match?.[1] ?? null} />`;
}

const link = location.pathname.match(/^\/messaging\/([0-9a-f-]{36})$/);
if (link) prefetch(link[1]);
render(html`<${App} />`, document.getElementById("app"));
