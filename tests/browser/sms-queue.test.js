// The SMS operator queue, /sms/conversations, as a front-desk lead with `sms.admin` uses
// it: a conversation opened by number (typed in any format) and from a contact in
// /messaging; an operator without the permission refused by the page and the API; PHI
// holding Send Message back; a message scheduled, seen waiting, canceled, and another
// firing into the thread live; a text the carrier refuses, retried once, and one it could
// not deliver, not offered again; a text coming in raising a toast. This organisation
// sends through a Twilio stand-in the test controls.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  AGENT,
  PASSWORD,
  PATIENCE_MS,
  apiClient,
  assertAccessible,
  eventually,
  hasFocus,
  logIn,
  newPage,
  postInboundSms,
  postSmsStatus,
  screenshot,
  startTwilioStandIn,
  tabTo,
  useRig,
} from "./support.js";

const ACCOUNT_SID = `AC${"0123456789abcdef".repeat(2)}`;
const AUTH_TOKEN = "browser-test-auth-token";
const FRONT_DESK = "+14155550100";
const QUEUE = "/sms/conversations";

const twilio = await startTwilioStandIn();
after(() => twilio.close());

let contacts;
let admin;
const rig = useRig({
  server: { env: { SWITCHBOARD_TWILIO_API_BASE: twilio.url } },
  async setup(rig) {
    admin = await apiClient(rig.server);
    await admin("PATCH", "/api/organization/settings", { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN });
    const list = await admin("GET", "/api/contacts?limit=100");
    contacts = Object.fromEntries(list.contacts.map((contact) => [contact.name, contact]));
  },
});

/// The demo's agent (who holds sms.admin), signed in and on the queue at `path`.
async function openQueue(path) {
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, AGENT);
  await page.goto(`${rig.server.url}${path}`);
  await page.locator(".connection[data-status='live']").waitFor({ timeout: PATIENCE_MS });
  return page;
}

function thread(page) {
  return page.getByRole("log");
}

test("a conversation opens from a contact in /messaging, and by a number typed in any format", async () => {
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, AGENT, `/messaging/${maria.id}`);
  await page.getByRole("link", { name: "Open in the SMS queue" }).click();
  await page.waitForURL(`**${QUEUE}?contactId=${maria.id}`);
  await page.getByRole("heading", { name: "Maria Garcia" }).waitFor();
  await thread(page).getByText("Is there parking near the clinic?").waitFor();
  // Texts only: the thread is the number's SMS, in time order.
  const bodies = await thread(page).locator(".bubble .body").allTextContents();
  assert.equal(bodies[0].trim().startsWith("Hi Maria, this is Demo Clinic."), true, bodies[0]);
  assert.equal(bodies.at(-1).trim(), "Is there parking near the clinic?");
  await page.locator(".connection").filter({ hasText: "Live" }).waitFor();
  await assertAccessible(page);
  await screenshot(page, "sms-queue-by-contact");

  // The filter reads the number as it is typed, and says when it is not one yet.
  const field = page.getByLabel("Phone number");
  await field.fill("415.555.01");
  await page.getByText("Not a complete phone number yet.").waitFor();
  await page.getByRole("button", { name: "Load Conversation" }).click();
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  await page.getByText("This is not a valid phone number").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "filter-phone", "the field is focused to fix it");
  await field.fill("415.555.0122");
  assert.equal(await field.inputValue(), "(415) 555-0122", "formatted as the operator types");
  await page.getByText("Loads the texts with +14155550122.").waitFor();
  await screenshot(page, "sms-queue-filter");
  await field.press("Enter");
  await page.waitForURL(`**${QUEUE}?phone=%2B14155550122`);
  await page.getByRole("heading", { name: "James Chen" }).waitFor();
  await page.getByText("No texts with this number yet.").waitFor();

  // Without a number the page asks for one.
  await page.goto(`${rig.server.url}${QUEUE}`);
  await page.getByRole("heading", { name: "Which conversation?" }).waitFor();
  await assertAccessible(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("an operator without sms.admin is refused by the page and by the API", async () => {
  const me = await admin("GET", "/api/me");
  const email = "desk@demo.switchboard.local";
  rig.server.cli(["user", "create", "--org", me.organization.id, "--email", email, "--password", PASSWORD, "--name", "Front Desk"]);
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, email, `/messaging/${contacts["Maria Garcia"].id}`);
  await page.getByRole("heading", { name: "Maria Garcia" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Open in the SMS queue" }).count(), 0, "no link to a page they may not use");
  await page.goto(`${rig.server.url}${QUEUE}?phone=%2B14155550111`);
  await page.getByRole("heading", { name: "Not allowed" }).waitFor();
  await page.getByText("sms.admin").waitFor();
  assert.equal(await page.getByRole("log").count(), 0, "no conversation is shown");
  await assertAccessible(page);
  await screenshot(page, "sms-queue-not-allowed");
  await page.context().close();

  const login = await fetch(`${rig.server.url}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  }).then((r) => r.json());
  const answer = await fetch(`${rig.server.url}/api/sms/thread?phone=%2B14155550111`, { headers: { Authorization: `Bearer ${login.token}` } });
  assert.equal(answer.status, 403);
  assert.equal((await answer.json()).error.code, "forbidden");
});

test("PHI in the draft disables Send Message and says why", async () => {
  const page = await openQueue(`${QUEUE}?phone=${encodeURIComponent("(415) 555-0122")}`);
  await page.getByRole("heading", { name: "James Chen" }).waitFor();
  const message = page.getByRole("combobox", { name: "Message" });
  const send = page.getByRole("button", { name: "Send Message" });
  await message.fill("We have your SSN as 145-13-6462, reply YES to confirm");
  await page.locator("#send-reason").filter({ hasText: "Protected health information (SSN)" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await send.getAttribute("aria-disabled"), "true");
  assert.equal(await send.getAttribute("aria-describedby"), "send-reason");
  assert.equal(await page.getByRole("button", { name: "Schedule…" }).getAttribute("aria-disabled"), "true", "nor can it be scheduled");
  await page.locator(".backdrop mark.block").filter({ hasText: "145-13-6462" }).waitFor();
  await page.locator("#phi-findings").getByText("(blocks sending)").waitFor();
  await send.click({ force: true });
  await screenshot(page, "sms-queue-phi");
  await assertAccessible(page);
  assert.equal(twilio.sent.filter((sms) => sms.Body.includes("145-13-6462")).length, 0, "nothing went to the carrier");
  assert.equal(await thread(page).locator(".item").filter({ hasText: "145-13-6462" }).count(), 0);

  await message.fill("We have your details on file, reply YES to confirm");
  await page.locator("#send-reason").waitFor({ state: "detached", timeout: PATIENCE_MS });
  assert.equal(await send.getAttribute("aria-disabled"), "false");
  await message.fill("");
  await page.context().close();
});

/// Opens the schedule picker for what is in the draft.
async function openPicker(page) {
  await page.getByRole("button", { name: "Schedule…" }).click();
  const dialog = page.getByRole("dialog", { name: "Schedule the message" });
  await dialog.waitFor();
  return dialog;
}

test("a message is scheduled, waits in the list, is canceled; another fires into the thread live", async () => {
  const aisha = contacts["Aisha Patel"];
  const page = await openQueue(`${QUEUE}?contactId=${aisha.id}`);
  await page.getByRole("heading", { name: "Aisha Patel" }).waitFor();
  const message = page.getByRole("combobox", { name: "Message" });
  const pending = page.getByRole("region", { name: "Scheduled messages" });
  await pending.getByText("Nothing scheduled for this number.").waitFor();

  await message.fill("Reminder: your visit is tomorrow at 10.");
  let dialog = await openPicker(page);
  await dialog.getByText("Times are on the organisation's clock: UTC").waitFor();
  // It opens on its first control, Tab goes round inside it (past the last control back to
  // the first), so does Shift+Tab (from the first to the last), and Esc closes it, giving
  // focus back.
  const first = dialog.getByLabel("Date");
  const last = dialog.getByRole("button", { name: "Schedule" });
  assert.ok(await hasFocus(first), "the dialog opens on its first control");
  await tabTo(page, last);
  await page.keyboard.press("Tab");
  assert.ok(await hasFocus(first), "Tab past the last control comes back to the first");
  await page.keyboard.press("Shift+Tab");
  assert.ok(await hasFocus(last), "Shift+Tab from the first control goes to the last");
  await page.keyboard.press("Shift+Tab");
  assert.ok(await hasFocus(dialog.getByRole("button", { name: "Cancel" })), "and on back through the others");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "Schedule…");
  assert.equal(await message.inputValue(), "Reminder: your visit is tomorrow at 10.", "closing keeps the draft");

  dialog = await openPicker(page);
  await assertAccessible(page);
  await screenshot(page, "sms-queue-schedule-picker");
  await dialog.getByRole("button", { name: "Schedule" }).click();
  await dialog.waitFor({ state: "detached" });
  const row = pending.locator(".scheduled-row").filter({ hasText: "Reminder: your visit is tomorrow at 10." });
  await row.getByText("Pending").waitFor();
  assert.equal(await message.inputValue(), "", "the draft went into the schedule");
  await screenshot(page, "sms-queue-pending");
  // Edited where it waits: its text and its time.
  await row.getByRole("button", { name: /^Edit/ }).click();
  const editor = page.getByRole("dialog", { name: "Change the scheduled message" });
  await editor.getByLabel("Message").fill("Reminder: your visit is tomorrow at 11.");
  const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10);
  await editor.getByLabel("Date").fill(tomorrow);
  await editor.getByLabel("Time").fill("23:45");
  await editor.getByRole("button", { name: "Save" }).click();
  await editor.waitFor({ state: "detached" });
  const edited = pending.locator(".scheduled-row").filter({ hasText: "Reminder: your visit is tomorrow at 11." });
  await edited.getByText("Pending").waitFor();
  assert.equal(await row.count(), 0, "the row shows the new text");
  const [stored] = (await admin("GET", `/api/scheduled-messages?contact_id=${aisha.id}&status=pending`)).scheduled_messages;
  assert.equal(stored.body, "Reminder: your visit is tomorrow at 11.");
  assert.equal(stored.send_at.slice(0, 16), `${tomorrow}T23:45`, "on the organisation's clock (UTC)");
  await edited.getByRole("button", { name: /^Cancel/ }).click();
  await edited.waitFor({ state: "detached" });
  await page.getByRole("status").filter({ hasText: "The scheduled message was canceled." }).waitFor();
  const [canceled] = (await admin("GET", `/api/scheduled-messages?contact_id=${aisha.id}&status=canceled`)).scheduled_messages;
  assert.equal(canceled.body, "Reminder: your visit is tomorrow at 11.");

  // A few seconds ahead, on the organisation's clock (UTC here): it fires into the thread.
  await message.fill("See you soon, Aisha!");
  dialog = await openPicker(page);
  const at = new Date(Date.now() + 6000).toISOString();
  await dialog.getByLabel("Date").fill(at.slice(0, 10));
  await dialog.getByLabel("Time").fill(at.slice(11, 19));
  await dialog.getByRole("button", { name: "Schedule" }).click();
  await dialog.waitFor({ state: "detached" });
  const soon = pending.locator(".scheduled-row").filter({ hasText: "See you soon, Aisha!" });
  await soon.waitFor();
  const fired = thread(page).locator(".item.out").filter({ hasText: "See you soon, Aisha!" });
  await fired.waitFor({ timeout: PATIENCE_MS });
  await soon.waitFor({ state: "detached", timeout: PATIENCE_MS });
  await eventually(() => twilio.sent.some((sms) => sms.Body === "See you soon, Aisha!"), "the scheduled text to reach the carrier");
  await screenshot(page, "sms-queue-fired");

  // A time inside the quiet hours is explained, on the organisation's clock.
  await admin("PATCH", "/api/organization/settings", { quiet_hours: { timezone: "America/New_York", start: "21:00", end: "08:00" } });
  await page.reload();
  await page.getByRole("heading", { name: "Aisha Patel" }).waitFor();
  await message.fill("Good night message");
  dialog = await openPicker(page);
  await dialog.getByText("Times are on the organisation's clock: America/New_York").waitFor();
  await dialog.getByLabel("Time").fill("22:30");
  await dialog.getByRole("note").filter({ hasText: "22:30 is inside the quiet hours (21:00–08:00, America/New_York)" }).waitFor();
  await assertAccessible(page);
  await screenshot(page, "sms-queue-quiet-hours");
  await page.keyboard.press("Escape");
  await admin("PATCH", "/api/organization/settings", { quiet_hours: null });
  await message.fill("");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a text the carrier refuses shows the retry prompt, and Retry sends it once; an undelivered one offers no retry", async () => {
  const lena = contacts["Lena Novak"];
  const page = await openQueue(`${QUEUE}?contactId=${lena.id}`);
  await page.getByRole("heading", { name: "Lena Novak" }).waitFor();
  const body = "Your prescription is ready to collect.";
  twilio.refuse = 1;
  await page.getByRole("combobox", { name: "Message" }).fill(body);
  await page.getByRole("button", { name: "Send Message" }).click();
  const prompt = page.getByRole("region", { name: "Latest failed text" });
  await prompt.getByText(body).waitFor({ timeout: PATIENCE_MS });
  await prompt.getByText(/filtered/).waitFor();
  const bubble = thread(page).locator(".item.out").filter({ hasText: body });
  await bubble.locator(".status").filter({ hasText: "Failed" }).waitFor();
  assert.equal(twilio.sent.filter((sms) => sms.Body === body).length, 1);
  await assertAccessible(page);
  await screenshot(page, "sms-queue-retry-prompt");

  await prompt.getByRole("button", { name: "Retry sending" }).click();
  await prompt.waitFor({ state: "detached", timeout: PATIENCE_MS });
  await bubble.locator(".status").filter({ hasText: "Sending…" }).waitFor({ timeout: PATIENCE_MS });
  const stored = async () => (await admin("GET", `/api/messages?contact_id=${lena.id}&limit=1`)).messages[0];
  await eventually(async () => (await stored()).external_id?.startsWith("SM"), "the carrier's id to be recorded");
  assert.equal((await stored()).body, body);
  assert.equal(twilio.sent.filter((sms) => sms.Body === body).length, 2, "sent once more, not twice");
  assert.equal(await thread(page).locator(".item.out").filter({ hasText: body }).count(), 1, "one message, not a copy");
  await screenshot(page, "sms-queue-retried");

  // The carrier then reports it undelivered: it took the text and could not hand it over.
  // The server does not send such a one again, so nothing offers to.
  await postSmsStatus(rig.server, { authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, sid: (await stored()).external_id, status: "undelivered", errorCode: "30003" });
  await bubble.locator(".status").filter({ hasText: "Failed" }).waitFor({ timeout: PATIENCE_MS });
  await bubble.getByText("the handset is unreachable").waitFor();
  assert.equal(await bubble.getByRole("button", { name: "Retry" }).count(), 0, "no Retry on the text");
  assert.equal(await prompt.count(), 0, "and no retry prompt");
  await screenshot(page, "sms-queue-undelivered");
  await page.context().close();
});

test("a text coming in on any number raises a toast that links to its contact, without taking focus", async () => {
  const maria = contacts["Maria Garcia"];
  const james = contacts["James Chen"];
  const page = await openQueue(`${QUEUE}?contactId=${maria.id}`);
  await page.getByRole("heading", { name: "Maria Garcia" }).waitFor();
  const message = page.getByRole("combobox", { name: "Message" });
  await message.focus();
  await postInboundSms(rig.server, { authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, from: james.phones[0].phone_number, to: FRONT_DESK, body: "Running 10 minutes late" });
  const toast = page.getByRole("status").getByRole("link", { name: "James Chen: Running 10 minutes late" });
  await toast.waitFor({ timeout: PATIENCE_MS });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Message", "focus stays where the operator was");
  // Maria's own text lands in the open thread as well as in a toast.
  await postInboundSms(rig.server, { authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, from: maria.phones[0].phone_number, to: FRONT_DESK, body: "Thanks, see you Friday" });
  await thread(page).locator(".item.in").filter({ hasText: "Thanks, see you Friday" }).waitFor({ timeout: PATIENCE_MS });
  await assertAccessible(page);
  await screenshot(page, "sms-queue-toast");
  await toast.click();
  await page.waitForURL(`**${QUEUE}?contactId=${james.id}`);
  await page.getByRole("heading", { name: "James Chen" }).waitFor();
  await thread(page).getByText("Running 10 minutes late").waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
