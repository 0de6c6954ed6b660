// The contacts dashboard: log in, search and browse the organisation's contacts.
// Talks to the JSON API with the session cookie; writes echo the CSRF cookie.

const $ = (selector) => document.querySelector(selector);

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )sb_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw Object.assign(new Error(data?.error?.message ?? response.statusText), { status: response.status });
  return data;
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content ?? "";
  if (className) element.className = className;
  return element;
}

let nextCursor = null;

async function loadContacts(append = false) {
  const params = new URLSearchParams({ limit: "50" });
  const search = $("#search").value.trim();
  if (search) params.set("search", search);
  if (append && nextCursor) params.set("cursor", nextCursor);
  const page = await api("GET", `/api/contacts?${params}`);
  const list = $("#contact-list");
  if (!append) list.replaceChildren();
  for (const contact of page.contacts) {
    const item = text("li", contact.name);
    item.dataset.id = contact.id;
    const preferred = contact.phones.find((p) => p.is_preferred) ?? contact.emails.find((e) => e.is_preferred);
    item.append(text("small", preferred?.phone_number ?? preferred?.email ?? "no phone or email"));
    item.addEventListener("click", () => showContact(contact, item));
    list.append(item);
  }
  if (!list.children.length) list.append(text("li", search ? "No contact matches." : "No contacts yet.", "muted"));
  nextCursor = page.next_cursor;
  $("#more").hidden = !nextCursor;
}

function showContact(contact, item) {
  for (const other of document.querySelectorAll("#contact-list li")) other.removeAttribute("aria-selected");
  item.setAttribute("aria-selected", "true");
  const detail = $("#contact-detail");
  const facts = document.createElement("dl");
  const row = (label, value, preferred) => {
    facts.append(text("dt", label), text("dd", value, preferred ? "preferred" : ""));
  };
  for (const phone of contact.phones) row(`Phone (${phone.label})`, phone.phone_number, phone.is_preferred);
  for (const email of contact.emails) row(`Email (${email.label})`, email.email, email.is_preferred);
  if (contact.lead_id) row("Lead id", contact.lead_id);
  row("Last contacted", contact.last_contacted_at ? new Date(contact.last_contacted_at).toLocaleString() : "never");
  detail.replaceChildren(text("h2", contact.name), facts);
}

async function showApp() {
  try {
    const me = await api("GET", "/api/me");
    $("#whoami").textContent = `${me.user.name} · ${me.organization.name}`;
    $("#login").hidden = true;
    $("#contacts").hidden = false;
    $("#logout").hidden = false;
    await loadContacts();
  } catch (error) {
    if (error.status !== 401) throw error;
    $("#login").hidden = false;
    $("#contacts").hidden = true;
    $("#logout").hidden = true;
    $("#whoami").textContent = "";
  }
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") });
    $("#login-error").textContent = "";
    await showApp();
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/auth/logout");
  await showApp();
});

let searchTimer;
$("#search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadContacts(), 200);
});
$("#more").addEventListener("click", () => loadContacts(true));

showApp();
