// A contact writes in (a webhook signed as Twilio signs it): the message appears live in
// the open conversation and in the list, the contact moves to the top, and an operator
// mid-draft is asked once before sending over it. This organisation has Twilio
// credentials, so its sends go to a carrier that cannot be reached and fail for real.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PATIENCE_MS, apiClient, assertAccessible, logIn, newPage, postInboundSms, screenshot, useRig } from "./support.js";

const ACCOUNT_SID = `AC${"0123456789abcdef".repeat(2)}`;
const AUTH_TOKEN = "browser-test-auth-token";
const FRONT_DESK = "+14155550100";

let contacts;
const rig = useRig({
  server: { env: { SWITCHBOARD_DELIVERY_ATTEMPTS: "2", SWITCHBOARD_DELIVERY_RETRY_BASE_MS: "50" } },
  async setup(rig) {
    const api = await apiClient(rig.server);
    await api("PATCH", "/api/organization/settings", { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN });
    const list = await api("GET", "/api/contacts?limit=100");
    contacts = Object.fromEntries(list.contacts.map((contact) => [contact.name, contact]));
  },
});

function inbound(from, body) {
  return postInboundSms(rig.server, { authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, from, to: FRONT_DESK, body });
}

test("an inbound text appears live, moves its contact to the top with an unread count, and is in the log", async () => {
  const page = await newPage(rig.browser);
  await logIn(page, rig.server);
  const rows = page.getByRole("navigation", { name: "Conversations" }).locator(".contact-row");
  await rows.first().waitFor();
  assert.notEqual(await rows.first().locator(".contact-name").textContent(), "James Chen");
  const james = rows.filter({ hasText: "James Chen" });
  const unread = (await james.locator(".badge").count()) ? parseInt(await james.locator(".badge").textContent(), 10) : 0;

  await inbound(contacts["James Chen"].phones[0].phone_number, "Can I move my appointment to Friday?");
  await rows.first().filter({ hasText: "James Chen" }).waitFor({ timeout: PATIENCE_MS });
  await rows.first().locator(".badge").filter({ hasText: `${unread + 1} unread` }).waitFor();
  await page.getByRole("status").filter({ hasText: "James Chen: Can I move my appointment to Friday?" }).waitFor();
  await screenshot(page, "inbound-moves-to-top");

  await rows.first().click();
  const log = page.getByRole("log", { name: "Conversation with James Chen" });
  await log.getByText("Can I move my appointment to Friday?").waitFor();
  await page.locator(".divider.unread").waitFor();
  assert.equal(await rows.first().locator(".badge").count(), 0, "opening the conversation reads it");

  await inbound(contacts["James Chen"].phones[0].phone_number, "Morning is better for me.");
  await log.locator(".item.in").filter({ hasText: "Morning is better for me." }).waitFor({ timeout: PATIENCE_MS });
  await assertAccessible(page);
  await screenshot(page, "inbound-live");
  await page.context().close();
});

test("a message that arrives while the operator writes makes Send ask once; a carrier failure shows its reason and Retry", async () => {
  const lena = contacts["Lena Novak"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${lena.id}`);
  await page.getByRole("heading", { name: "Lena Novak" }).waitFor();
  const message = page.getByRole("combobox", { name: "Message" });
  await message.fill("The clinic opens at 9 tomorrow.");
  await inbound(lena.phones.find((p) => p.is_preferred).phone_number, "Are you open tomorrow?");
  await page.getByRole("log").getByText("Are you open tomorrow?").waitFor({ timeout: PATIENCE_MS });

  await message.press("Control+Enter");
  await page.getByRole("alert").filter({ hasText: "Lena Novak wrote while you were typing." }).waitFor();
  assert.equal(await page.locator(".item.out").count(), 0, "nothing sent before the operator confirms");
  await screenshot(page, "collision-guard");
  await page.getByRole("button", { name: "Send anyway" }).click();

  const bubble = page.locator(".item.out").filter({ hasText: "The clinic opens at 9 tomorrow." });
  await bubble.locator(".status").filter({ hasText: "Failed" }).waitFor({ timeout: PATIENCE_MS });
  assert.ok((await bubble.locator(".reason").textContent()).length > 0, "the carrier's reason is shown");
  await screenshot(page, "send-failed");
  await assertAccessible(page);

  await bubble.getByRole("button", { name: "Retry" }).click();
  await bubble.locator(".status").filter({ hasText: "Sending…" }).waitFor({ timeout: PATIENCE_MS });
  await bubble.locator(".status").filter({ hasText: "Failed" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await page.locator(".item.out").count(), 1, "a retry is the same message, not another");
  await page.context().close();
});
