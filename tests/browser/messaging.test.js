// /messaging and /messaging/{id}, acted out as operators would: finding a contact,
// opening a link to a conversation, sending and watching the carrier's statuses arrive,
// a second operator seeing it all live, PHI holding Send back (and sent anyway by who may),
// and the keyboard alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT, PASSWORD, PATIENCE_MS, apiClient, assertAccessible, hasFocus, logIn, newPage, screenshot, tabTo, useRig } from "./support.js";

let contacts;
const rig = useRig({
  async setup(rig) {
    const api = await apiClient(rig.server);
    const list = await api("GET", "/api/contacts?limit=100");
    contacts = Object.fromEntries(list.contacts.map((contact) => [contact.name, contact]));
  },
});

function rows(page) {
  return page.getByRole("navigation", { name: "Conversations" }).locator(".contact-row");
}

function bubble(page, text) {
  return page.getByRole("log").locator(".item").filter({ hasText: text });
}

async function statusOf(page, text, status) {
  await bubble(page, text).locator(".status").filter({ hasText: status }).waitFor({ timeout: PATIENCE_MS });
}

test("the demo opens with conversations to explore", async () => {
  const page = await newPage(rig.browser);
  await logIn(page, rig.server);
  // Maria wrote last, 40 minutes ago, and nobody has read her three texts.
  const top = rows(page).first();
  await top.filter({ hasText: "Maria Garcia" }).waitFor();
  await top.locator(".badge").filter({ hasText: "3 unread" }).waitFor();
  await screenshot(page, "demo-list");

  // Maria's feed holds her call among the texts; the Calls tab shows it alone.
  await top.click();
  const call = page.getByRole("log").locator(".call-card");
  await call.filter({ hasText: "Inbound call · 1 min 34 s" }).waitFor();
  await call.getByText("Transcription").click();
  await call.getByText("I need to move Thursday's appointment").waitFor();
  await page.getByRole("tab", { name: "Calls" }).click();
  assert.equal(await page.getByRole("log").locator(".item").count(), 1, "the Calls tab shows the call alone");
  await screenshot(page, "demo-call");
  await page.getByRole("tab", { name: "All", exact: true }).click();

  await rows(page).filter({ hasText: "James Chen" }).click();
  const email = page.getByRole("log").locator(".bubble.email").first();
  await email.locator(".subject").filter({ hasText: "Your visit summary" }).waitFor();
  assert.equal(await email.locator("ol li").count(), 2, "the email's markdown list is rendered");
  await page.getByRole("log").locator(".bubble.note").filter({ hasText: "Gave him the booking link" }).waitFor();
  await page.getByRole("tab", { name: "Emails" }).click();
  assert.equal(await page.getByRole("log").locator(".bubble.note").count(), 0, "the Emails tab shows emails only");
  await screenshot(page, "demo-email");

  await rows(page).filter({ hasText: "Aisha Patel" }).click();
  const failed = page.getByRole("log").locator(".item").filter({ hasText: "referral letter" });
  await failed.locator(".status").filter({ hasText: "Failed" }).waitFor();
  await failed.getByText("Unreachable destination handset").waitFor();
  await failed.getByRole("button", { name: "Retry" }).waitFor();
  await screenshot(page, "demo-failed");

  await rows(page).filter({ hasText: "Tom O'Brien" }).click();
  await page.locator("#send-reason").filter({ hasText: "opted out" }).waitFor();
  await page.getByRole("combobox", { name: "Message" }).fill("Hello again");
  assert.equal(await page.getByRole("button", { name: "Send" }).getAttribute("aria-disabled"), "true");
  await assertAccessible(page);
  await screenshot(page, "demo-opted-out");
  await page.context().close();
});

test("search finds a contact by name or by phone however it is written", async () => {
  const page = await newPage(rig.browser);
  await logIn(page, rig.server);
  await page.getByLabel("Search contacts").fill("chen");
  await page.waitForFunction(() => document.querySelectorAll(".contact-row").length === 1);
  assert.equal(await rows(page).first().locator(".contact-name").textContent(), "James Chen");
  await screenshot(page, "search-by-name");

  await page.getByLabel("Search contacts").fill("(415) 555-0133");
  await rows(page).filter({ hasText: "Aisha Patel" }).waitFor();
  assert.equal(await rows(page).count(), 1);

  await page.getByLabel("Search contacts").fill("nobody-by-this-name");
  await page.getByText("No contact matches.").waitFor();
  await assertAccessible(page);
  await page.context().close();
});

test("a link to a conversation opens it, and a reload keeps it open", async () => {
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${maria.id}`);
  await page.waitForURL(`${rig.server.url}/messaging/${maria.id}`);
  await page.getByRole("heading", { name: "Maria Garcia" }).waitFor();
  assert.equal(await rows(page).filter({ hasText: "Maria Garcia" }).getAttribute("aria-current"), "page");
  await page.reload();
  await page.getByRole("heading", { name: "Maria Garcia" }).waitFor();
  await page.getByRole("log").getByText("Is there parking near the clinic?").waitFor();
  await assertAccessible(page);
  await screenshot(page, "deep-link");

  await page.goto(`${rig.server.url}/messaging/00000000-0000-4000-8000-000000000000`);
  await page.getByRole("heading", { name: "Conversation not found" }).waitFor();
  await page.context().close();
});

test("a sent SMS shows Sending…, Sent and Delivered as they happen, once, and a second operator sees it and sees typing", async () => {
  const james = contacts["James Chen"];
  const admin = await newPage(rig.browser);
  const agent = await newPage(rig.browser);
  await logIn(admin, rig.server, undefined, `/messaging/${james.id}`);
  await logIn(agent, rig.server, AGENT, `/messaging/${james.id}`);
  await admin.getByRole("heading", { name: "James Chen" }).waitFor();
  await agent.getByRole("heading", { name: "James Chen" }).waitFor();

  const text = "Your appointment is confirmed for Tuesday at 10:30.";
  // James's thread is by email: the operator switches to a text.
  await admin.getByRole("radio", { name: "SMS" }).check();
  const message = admin.getByRole("combobox", { name: "Message" });
  await message.fill(text);
  await admin.getByText("GSM-7 · 1 segment · 109 left").waitFor();
  await message.press("Control+Enter");
  await statusOf(admin, text, "Sending…");
  assert.equal(await message.inputValue(), "", "the compose box empties once sent");
  await statusOf(admin, text, "Sent");
  await statusOf(admin, text, "Delivered");
  await screenshot(admin, "sms-delivered");
  // In the demo the contact answers a moment later, live: James's second inbound message
  // (his first was an email).
  const inbound = admin.getByRole("log").locator(".item.in");
  await inbound.nth(1).locator(".bubble.sms").waitFor({ timeout: PATIENCE_MS });
  assert.equal(await bubble(admin, text).count(), 1, "one bubble for one send");

  await statusOf(agent, text, "Delivered");
  assert.equal(await bubble(agent, text).count(), 1);
  // The contact moved up for both: it was contacted last.
  await rows(agent).first().filter({ hasText: "James Chen" }).waitFor();

  await agent.getByRole("combobox", { name: "Message" }).pressSequentially("On my way", { delay: 20 });
  await admin.getByText("Sam Agent is typing…").waitFor({ timeout: PATIENCE_MS });
  await screenshot(admin, "second-operator-typing");
  await assertAccessible(admin);

  const stored = await (await apiClient(rig.server))("GET", `/api/messages?contact_id=${james.id}`);
  assert.equal(stored.messages.filter((m) => m.body === text).length, 1, "the server holds the message once");
  assert.deepEqual(admin.problems, []);
  await admin.context().close();
  await agent.context().close();
});

test("PHI in the draft holds Send back and says why", async () => {
  const aisha = contacts["Aisha Patel"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${aisha.id}`);
  const message = page.getByRole("combobox", { name: "Message" });
  await message.fill("We have your SSN as 145-13-6462, reply YES to confirm");
  const send = page.getByRole("button", { name: "Send" });
  await page.locator("#send-reason").filter({ hasText: "Protected health information (SSN)" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await send.getAttribute("aria-disabled"), "true");
  assert.equal(await send.getAttribute("aria-describedby"), "send-reason");
  await page.locator(".backdrop mark.block").filter({ hasText: "145-13-6462" }).waitFor();
  assert.match(await page.locator("#phi-findings li").first().textContent(), /SSN.*\(blocks sending\).+\./, "the finding says why");
  await message.press("Control+Enter");
  // Clicked as an operator would: the button stays focusable, so force past Playwright's own
  // refusal to click an aria-disabled button.
  await send.click({ force: true });
  await screenshot(page, "phi-blocked");
  await assertAccessible(page);
  assert.equal(await page.getByRole("log").locator(".item").filter({ hasText: "145-13-6462" }).count(), 0, "nothing was sent");

  await message.fill("We have your details on file, reply YES to confirm");
  await page.locator("#send-reason").waitFor({ state: "detached", timeout: PATIENCE_MS });
  assert.equal(await send.getAttribute("aria-disabled"), "false");
  await page.context().close();
});

test("an admin sends PHI anyway, with a reason the audit log keeps; an operator needs phi.override to be offered that", async () => {
  const aisha = contacts["Aisha Patel"];
  const text = "Confirming the SSN 145-13-6462 on your referral";
  const reason = "The patient asked us to read it back";
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${aisha.id}`);
  await page.getByRole("combobox", { name: "Message" }).fill(text);
  const send = page.getByRole("button", { name: "Send" });
  const findings = page.locator("#phi-findings");
  await findings.getByRole("checkbox", { name: "Send anyway" }).check({ timeout: PATIENCE_MS });
  assert.equal(await send.getAttribute("aria-disabled"), "true", "not without a reason");
  await findings.getByRole("textbox", { name: "Reason for sending anyway" }).fill(reason);
  await page.locator("#send-reason").waitFor({ state: "detached" });
  assert.equal(await send.getAttribute("aria-disabled"), "false");
  await screenshot(page, "phi-override");
  await assertAccessible(page);
  await send.click();
  await statusOf(page, text, "Delivered");
  assert.deepEqual(page.problems, []);
  await page.context().close();

  const api = await apiClient(rig.server);
  const me = await api("GET", "/api/me");
  const sent = (await api("GET", `/api/messages?contact_id=${aisha.id}`)).messages.filter((m) => m.body === text);
  assert.equal(sent.length, 1, "the server holds the message once");
  const { entries } = await api("GET", "/api/audit-log?action=phi.override");
  const entry = entries.find((e) => e.subject_id === sent[0].id);
  assert.ok(entry, "the override is in the audit log");
  assert.equal(entry.user_id, me.user.id);
  assert.equal(entry.details.reason, reason);
  assert.deepEqual(entry.details.findings.map((f) => f.kind), ["ssn"]);

  // The demo's agent holds sms.admin only; an operator granted phi.override is offered it.
  const granted = "phi@demo.switchboard.local";
  rig.server.cli(["user", "create", "--org", me.organization.id, "--email", granted, "--password", PASSWORD, "--name", "Privacy Lead", "--permission", "phi.override"]);
  for (const [email, offered] of [
    [AGENT, false],
    [granted, true],
  ]) {
    const operator = await newPage(rig.browser);
    await logIn(operator, rig.server, email, `/messaging/${aisha.id}`);
    await operator.getByRole("combobox", { name: "Message" }).fill(text);
    await operator.locator("#phi-findings").getByText("(blocks sending)").waitFor({ timeout: PATIENCE_MS });
    assert.equal(await operator.getByRole("checkbox", { name: "Send anyway" }).count(), offered ? 1 : 0, `${email} is offered the override: ${offered}`);
    await operator.context().close();
  }
});

test("the keyboard alone walks the conversations, sends, and shows the shortcuts", async () => {
  const page = await newPage(rig.browser);
  await logIn(page, rig.server);
  await rows(page).first().waitFor();
  // The list's order is whatever the earlier tests left: the keys follow it, as read here.
  const names = await rows(page).locator(".contact-name").allTextContents();
  const opened = (name) => page.getByRole("heading", { level: 1, name, exact: true }).waitFor();
  // Alt+J opens the most recently contacted conversation, then the next; Alt+K goes back.
  await page.keyboard.press("Alt+J");
  await opened(names[0]);
  await page.keyboard.press("Alt+J");
  await opened(names[1]);
  await page.keyboard.press("Alt+K");
  await opened(names[0]);
  assert.equal(page.url(), `${rig.server.url}/messaging/${contacts[names[0]].id}`);

  // The list is one Tab stop after the search, walked with the arrows, Home and End.
  const search = page.getByLabel("Search contacts");
  await tabTo(page, search);
  await page.keyboard.press("Tab");
  const focused = () => page.evaluate(() => document.activeElement.closest(".contact-row")?.querySelector(".contact-name").textContent ?? null);
  assert.equal(await focused(), names[0], "Tab moves from the search into the list");
  await page.keyboard.press("End");
  assert.equal(await focused(), names.at(-1));
  await page.keyboard.press("ArrowUp");
  assert.equal(await focused(), names.at(-2));
  await page.keyboard.press("Home");
  const target = "Lena Novak";
  for (let step = 0; step < names.indexOf(target); step += 1) await page.keyboard.press("ArrowDown");
  assert.equal(await focused(), target);
  await page.keyboard.press("Shift+Tab");
  assert.ok(await hasFocus(search), "Shift+Tab leaves the list for the search");
  await page.keyboard.press("Tab");
  assert.equal(await focused(), target, "back in the list, the row last walked to has the focus");
  await page.keyboard.press("Enter");
  await opened(target);

  // Tab on to the compose box, write, send with Ctrl+Enter.
  const message = page.getByRole("combobox", { name: "Message" });
  await tabTo(page, message);
  await page.keyboard.type("Sent from the keyboard");
  await page.keyboard.press("Control+Enter");
  await statusOf(page, "Sent from the keyboard", "Delivered");
  assert.ok(await hasFocus(message), "the compose box keeps the focus for the next message");

  // `?` outside a text field shows the shortcuts; Esc closes them, back where it was.
  const attach = page.getByRole("button", { name: "Attach files" });
  await tabTo(page, attach);
  await page.keyboard.press("?");
  const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await dialog.waitFor();
  // It opens on Close, its last control; Tab goes round to its first, Shift+Tab back.
  const close = dialog.getByRole("button", { name: "Close" });
  assert.ok(await hasFocus(close));
  await page.keyboard.press("Tab");
  assert.ok(await hasFocus(dialog.getByLabel("Time to undo a send")), "Tab past the last control comes back to the first");
  await page.keyboard.press("Shift+Tab");
  assert.ok(await hasFocus(close), "Shift+Tab from the first control goes to the last");
  await screenshot(page, "shortcuts");
  await assertAccessible(page);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.ok(await hasFocus(attach), "the focus goes back to where it was");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("older messages load on scrolling up without moving what is on screen; a new one while scrolled up shows a pill", async () => {
  const tom = contacts["Tom O'Brien"];
  const agent = await apiClient(rig.server, AGENT);
  for (let n = 1; n <= 120; n += 1) await agent("POST", "/api/messages/notes", { contact_id: tom.id, body: `Call log entry ${n}` });
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${tom.id}`);
  const items = page.getByRole("log").locator(".item");
  await items.filter({ hasText: "Call log entry 120" }).waitFor();
  // It opens at the newest item.
  assert.ok(await items.filter({ hasText: "Call log entry 120" }).isVisible());
  assert.equal(await items.count(), 50, "one page at first");

  const oldest = items.filter({ has: page.getByText("Call log entry 71", { exact: true }) });
  const feed = page.locator("#feed");
  await feed.evaluate((element) => (element.scrollTop = 0));
  await page.waitForFunction(() => document.querySelectorAll("[role=log] .item").length === 100, null, { timeout: PATIENCE_MS });
  const top = await oldest.boundingBox();
  const feedTop = (await feed.boundingBox()).y;
  assert.ok(top.y >= feedTop - 1, `the item that was at the top is still in view (${top.y} vs ${feedTop})`);
  assert.ok(top.y < feedTop + 120, `and has not been pushed down by the page loaded above it (${top.y} vs ${feedTop})`);
  await screenshot(page, "scrolled-back");

  await agent("POST", "/api/messages/notes", { contact_id: tom.id, body: "A note while you read back" });
  await page.getByRole("button", { name: "New messages ↓" }).click({ timeout: PATIENCE_MS });
  await items.filter({ hasText: "A note while you read back" }).waitFor();
  await page.waitForFunction(() => {
    const element = document.querySelector("#feed");
    return element.scrollHeight - element.scrollTop - element.clientHeight < 2;
  });
  assert.equal(await page.getByRole("button", { name: "New messages ↓" }).count(), 0);
  await page.context().close();
});

test("the contact list loads its next page as it scrolls", async () => {
  const api = await apiClient(rig.server);
  for (let n = 1; n <= 60; n += 1) {
    await api("POST", "/api/contacts", { name: `Walk-in ${String(n).padStart(2, "0")}`, phones: [{ phone_number: `+1415556${String(n).padStart(4, "0")}` }] });
  }
  const page = await newPage(rig.browser);
  await logIn(page, rig.server);
  await page.waitForFunction(() => document.querySelectorAll(".contact-row").length === 50);
  await page.locator(".contacts").evaluate((list) => (list.scrollTop = list.scrollHeight));
  await page.waitForFunction(() => document.querySelectorAll(".contact-row").length > 50, null, { timeout: PATIENCE_MS });
  const total = (await api("GET", "/api/contacts?limit=100")).contacts.length;
  await page.waitForFunction((want) => document.querySelectorAll(".contact-row").length === want, total, { timeout: PATIENCE_MS });
  await page.context().close();
});

test("a draft is kept by the server: it survives a reload", async () => {
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${maria.id}`);
  const message = page.getByRole("combobox", { name: "Message" });
  const saved = page.waitForResponse((r) => r.url().endsWith(`/api/contacts/${maria.id}/draft`) && r.request().method() === "PUT");
  await message.fill("There is free parking behind the building");
  assert.equal((await saved).status(), 200);
  await page.reload();
  await page.waitForFunction(() => document.querySelector("textarea")?.value === "There is free parking behind the building", null, { timeout: PATIENCE_MS });
  await message.press("Control+Enter");
  await page.getByRole("log").locator(".item").filter({ hasText: "free parking behind" }).waitFor();
  const fetched = page.waitForResponse((r) => r.url().endsWith(`/api/contacts/${maria.id}/draft`) && r.request().method() === "GET");
  await page.reload();
  assert.equal((await fetched).status(), 404, "a sent draft is spent");
  await page.getByRole("log").locator(".item").filter({ hasText: "free parking behind" }).waitFor();
  assert.equal(await message.inputValue(), "");
  await page.context().close();
});

test("`/` in the draft offers the canned responses and inserts the chosen one, filled in, at the cursor", async () => {
  const aisha = contacts["Aisha Patel"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${aisha.id}`);
  const message = page.getByRole("combobox", { name: "Message" });
  await message.fill("Thanks for asking! ");
  await message.press("End");
  await message.pressSequentially("/ho");
  const list = page.getByRole("listbox", { name: "Canned responses" });
  await list.getByRole("option").filter({ hasText: "/hours" }).waitFor({ timeout: PATIENCE_MS });
  await screenshot(page, "canned-responses");
  await assertAccessible(page);
  await message.press("Enter");
  await page.waitForFunction(() => document.querySelector("textarea").value.startsWith("Thanks for asking! Hi Aisha, Demo Clinic is open Monday to Friday"), null, { timeout: PATIENCE_MS });
  await list.waitFor({ state: "detached" });
  await page.context().close();
});
