// The bar above every operator page: the brand (back to /messaging), the organisation,
// the connection indicator, what the page adds, the operator and Log out.
import { html } from "../html.js";
import { api } from "../api.js";
import { followLink } from "../router.js";
import { ConnectionIndicator } from "./connection-indicator.js";

async function logout() {
  await api("POST", "/api/auth/logout").catch(() => {});
  location.assign("/login");
}

/// `indicator={false}` when the page shows the connection beside what it concerns.
export function TopBar({ me, indicator = true, children }) {
  return html`
    <header class="topbar">
      <a class="brand" href="/messaging" onClick=${followLink}>Switchboard</a>
      <span class="org">${me.organization.name}</span>
      ${indicator && html`<${ConnectionIndicator} />`}
      <span class="spacer"></span>
      ${children}
      <span class="who">${me.user.name}</span>
      <button type="button" class="ghost" onClick=${logout}>Log out</button>
    </header>
  `;
}
