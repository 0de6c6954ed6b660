// Suggested replies, acted out as an operator would: clicking an inbound message (or
// pressing Enter on its "Suggest replies") opens the ranked suggestions beside the feed,
// picking one fills the compose box, and the message sent from it carries its origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PATIENCE_MS, apiClient, assertAccessible, eventually, logIn, newPage, screenshot, useRig } from "./support.js";

let contacts;
let parking;
let api;
const rig = useRig({
  async setup(rig) {
    api = await apiClient(rig.server);
    const list = await api("GET", "/api/contacts?limit=100");
    contacts = Object.fromEntries(list.contacts.map((contact) => [contact.name, contact]));
    parking = await api("POST", "/api/canned-responses", {
      short_code: "parking",
      title: "Parking",
      content: "Hi {{contact.first_name}}, there is free parking right behind the clinic.",
    });
  },
});

function inbound(page, text) {
  return page.getByRole("log").locator(".item.in").filter({ hasText: text });
}

async function sentWith(contact, body) {
  const { messages } = await api("GET", `/api/messages?contact_id=${contact.id}`);
  return messages.filter((message) => message.body === body);
}

test("clicking an inbound message shows suggested replies; the one picked fills the compose box and is sent with its origin", async () => {
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${maria.id}`);
  const question = inbound(page, "Is there parking near the clinic?");
  await question.getByText("Is there parking near the clinic?").click();

  const panel = page.getByRole("complementary", { name: "Suggested replies" });
  const suggestion = panel.getByRole("button", { name: "Hi Maria, there is free parking right behind the clinic." });
  await suggestion.waitFor({ timeout: PATIENCE_MS });
  await panel.getByText("1 suggestion, best first.").waitFor();
  assert.equal(await question.getByRole("button", { name: "Suggest replies" }).getAttribute("aria-expanded"), "true");
  assert.equal(await page.locator(".item.out .suggest").count(), 0, "only inbound messages offer suggestions");
  await assertAccessible(page);
  await screenshot(page, "suggestions-open");

  await suggestion.click();
  await panel.waitFor({ state: "detached" });
  const message = page.getByRole("combobox", { name: "Message" });
  assert.equal(await message.inputValue(), "Hi Maria, there is free parking right behind the clinic.");
  assert.ok(await message.evaluate((element) => element === document.activeElement), "the compose box has focus, to edit or send");
  await page.getByText("From a suggested reply").waitFor();
  await screenshot(page, "suggestion-picked");

  // Edited before sending, the reply still started from the suggestion.
  await message.press("End");
  await message.pressSequentially(" See you Friday!");
  const body = "Hi Maria, there is free parking right behind the clinic. See you Friday!";
  await message.press("Control+Enter");
  const reply = page.getByRole("log").locator(".item.out").filter({ hasText: body });
  await reply.locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await message.inputValue(), "");
  assert.equal(await page.getByText("From a suggested reply").count(), 0, "the next reply starts afresh");

  const stored = await sentWith(maria, body);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].ai_origin, `suggestion:canned:${parking.id}`);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("the keyboard opens the suggestions and picks one; Esc closes them; a message nothing matches says so", async () => {
  const james = contacts["James Chen"];
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${james.id}`);
  const panel = page.getByRole("complementary", { name: "Suggested replies" });
  const focused = () => page.evaluate(() => document.activeElement.closest("[data-id]")?.textContent ?? document.activeElement.textContent);

  // James asked about booking online: no saved reply shares a word with it.
  const opener = inbound(page, "Can I book the follow-up online?").getByRole("button", { name: "Suggest replies" });
  await opener.focus();
  await page.keyboard.press("Enter");
  await panel.getByText("No saved reply matches this message.").waitFor({ timeout: PATIENCE_MS });
  assert.equal(await focused(), "Suggested replies", "focus moves to the panel");
  await assertAccessible(page);
  await screenshot(page, "suggestions-empty");
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });
  assert.ok(await opener.evaluate((element) => element === document.activeElement), "focus returns to the message");
  assert.equal(await opener.getAttribute("aria-expanded"), "false");

  // Maria's "Friday 9:00 works": the panel lists what the API ranks for it, best first.
  await page.goto(`${rig.server.url}/messaging/${maria.id}`);
  const fridayItem = inbound(page, "Friday 9:00 works");
  const friday = fridayItem.getByRole("button", { name: "Suggest replies" });
  const ranked = (await api("GET", `/api/messages/${await fridayItem.getAttribute("data-id")}/suggestions`)).suggestions;
  assert.ok(ranked.length > 0, "the opening hours (Monday to Friday) match");
  await friday.focus();
  await page.keyboard.press("Enter");
  await panel.getByRole("listitem").first().waitFor({ timeout: PATIENCE_MS });
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Close suggestions");
  await page.keyboard.press("Tab");
  const best = ranked[0].content;
  assert.deepEqual(
    await panel.getByRole("listitem").evaluateAll((items) => items.map((item) => item.textContent.trim())),
    ranked.map((suggestion) => suggestion.content),
  );
  assert.ok(await panel.getByRole("button", { name: best }).evaluate((element) => element === document.activeElement), "Tab reaches the best suggestion");
  await page.keyboard.press("Enter");
  const message = page.getByRole("combobox", { name: "Message" });
  await eventually(async () => (await message.inputValue()) === best, "the compose box to hold the suggestion");
  await panel.waitFor({ state: "detached" });
  await page.keyboard.press("Control+Enter");
  await page.getByRole("log").locator(".item.out").filter({ hasText: best }).locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  const stored = await sentWith(maria, best);
  assert.deepEqual(stored.map((m) => m.ai_origin), [`suggestion:canned:${ranked[0].canned_response_id}`]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
