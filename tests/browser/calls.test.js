// Calls a telephony integration records over the API while an operator has the
// conversation open: the card appears live, an update (the call ending, its
// transcription) changes that card without a reload, never doubling it, and the filter
// tabs show calls where they belong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PATIENCE_MS, apiClient, assertAccessible, eventually, logIn, newPage, screenshot, useRig } from "./support.js";

const FRONT_DESK = "+14155550100";

let contacts;
let api;
const rig = useRig({
  async setup(rig) {
    api = await apiClient(rig.server);
    const list = await api("GET", "/api/contacts?limit=100");
    contacts = Object.fromEntries(list.contacts.map((contact) => [contact.name, contact]));
  },
});

function callFrom(contact, fields = {}) {
  return api("POST", "/api/calls", {
    contact_id: contact.id,
    direction: "inbound",
    from_number: contact.phones[0].phone_number,
    to_number: FRONT_DESK,
    status: "ringing",
    ...fields,
  });
}

test("a call recorded while the conversation is open appears live, and its transcription shows on the same card", async () => {
  const aisha = contacts["Aisha Patel"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${aisha.id}`);
  const log = page.getByRole("log", { name: "Conversation with Aisha Patel" });
  await log.getByText("Her mobile seems to be off.").waitFor();
  const cards = log.locator(".call-card");
  assert.equal(await cards.count(), 0, "Aisha has not called yet");

  const call = await callFrom(aisha);
  // Another contact's call is not this conversation's.
  await callFrom(contacts["Tom O'Brien"]);
  await cards.filter({ hasText: "Inbound call · ringing" }).waitFor({ timeout: PATIENCE_MS });
  assert.ok(await log.locator(".item").last().locator(".call-card").count(), "the newest item, at the bottom");
  await screenshot(page, "call-live");

  await page.getByRole("tab", { name: "Calls" }).click();
  await api("PATCH", `/api/calls/${call.id}`, {
    status: "completed",
    duration_seconds: 95,
    transcription: "**Aisha Patel:** My phone was off, I will bring the referral letter tomorrow.",
  });
  const card = cards.filter({ hasText: "Inbound call · 1 min 35 s · completed" });
  await card.waitFor({ timeout: PATIENCE_MS });
  assert.equal(await cards.count(), 1, "the update changed the card, it did not add one");
  assert.equal(await log.locator(".item").count(), 1, "the Calls tab shows the call alone");
  await card.getByText("Transcription").click();
  await card.getByText("I will bring the referral letter tomorrow.").waitFor();
  await assertAccessible(page);
  await screenshot(page, "call-transcribed");

  // On the Messages tab a new call waits out of sight; back on All, both calls are there.
  await page.getByRole("tab", { name: "Messages" }).click();
  const second = await callFrom(aisha, { status: "in-progress" });
  await api("PATCH", `/api/calls/${second.id}`, { analysis: "- **Intent:** confirm the referral" });
  await page.getByRole("tab", { name: "All", exact: true }).click();
  await cards.filter({ hasText: "in progress" }).getByText("Analysis").waitFor({ timeout: PATIENCE_MS });
  await eventually(async () => (await cards.count()) === 2, "two call cards");
  assert.equal(await log.locator(`[data-id="${call.id}"]`).count(), 1);
  assert.equal(await log.locator(`[data-id="${second.id}"]`).count(), 1);

  // What was shown live is what the feed holds.
  await page.reload();
  await cards.filter({ hasText: "1 min 35 s · completed" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await cards.count(), 2);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a tab pages through its own kind: a call behind sixty notes is on the Calls tab at once", async () => {
  const lena = contacts["Lena Novak"];
  const call = await callFrom(lena, { status: "completed", duration_seconds: 42 });
  for (let i = 1; i <= 60; i += 1) {
    await api("POST", "/api/messages/notes", { contact_id: lena.id, body: `Chart note ${i}` });
  }
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${lena.id}`);
  const log = page.getByRole("log", { name: "Conversation with Lena Novak" });
  await log.getByText("Chart note 60").waitFor({ timeout: PATIENCE_MS });
  const card = log.locator(`[data-id="${call.id}"]`);
  assert.equal(await card.count(), 0, "All opens on its newest page, which the call is not on");

  await page.getByRole("tab", { name: "Calls" }).click();
  await card.getByText("42 s · completed").waitFor({ timeout: PATIENCE_MS });
  assert.equal(await log.locator(".item").count(), 1, "the Calls tab shows the call alone");
  await page.getByText("The beginning of the conversation").waitFor();
  await screenshot(page, "calls-tab-paged");

  // Back on All the call stays out until scrolling back reaches it: never shown above
  // notes that are not loaded yet.
  await page.getByRole("tab", { name: "All", exact: true }).click();
  await log.getByText("Chart note 60").waitFor();
  assert.equal(await card.count(), 0, "the call is older than what All has loaded");
  assert.equal(await log.getByText("Chart note 10", { exact: true }).count(), 0);
  await eventually(async () => {
    await page.locator("#feed").evaluate((feed) => (feed.scrollTop = 0));
    return (await card.count()) === 1;
  }, "scrolling back reaches the call");
  await log.getByText("Chart note 1", { exact: true }).waitFor();
  await assertAccessible(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
