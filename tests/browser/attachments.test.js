// Attachments as an operator uses them: images picked with the paperclip (thumbnails,
// upload progress, sent as MMS, opened in the lightbox and stepped through with the
// arrow keys) and a voice note recorded from the microphone (Chromium's fake device).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PATIENCE_MS, apiClient, assertAccessible, logIn, newPage, screenshot, useRig } from "./support.js";

let contacts;
const rig = useRig({
  browser: { media: true },
  async setup(rig) {
    const api = await apiClient(rig.server);
    contacts = Object.fromEntries((await api("GET", "/api/contacts?limit=100")).contacts.map((c) => [c.name, c]));
  },
});

test("images go out with a text and open in the lightbox, arrow keys stepping through them", async () => {
  const maria = contacts["Maria Garcia"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${maria.id}`);
  // Two real PNGs: the page itself, at two sizes.
  const first = await page.screenshot({ clip: { x: 0, y: 0, width: 320, height: 200 } });
  const second = await page.screenshot({ clip: { x: 320, y: 0, width: 400, height: 300 } });
  await page.locator("input[type=file]").setInputFiles([
    { name: "front-entrance.png", mimeType: "image/png", buffer: first },
    { name: "parking.png", mimeType: "image/png", buffer: second },
  ]);
  const chips = page.getByRole("list", { name: "Attachments" }).locator(".chip");
  await chips.filter({ hasText: "parking.png" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".chip progress").length === 0, null, { timeout: PATIENCE_MS });
  assert.equal(await chips.locator("img").count(), 2, "each image shows a thumbnail");

  await page.getByRole("combobox", { name: "Message" }).fill("Here is how to find us");
  // An image may be a full-face photo: each is flagged for a look, and Send stays open.
  const findings = page.locator("#phi-findings");
  await findings.filter({ hasText: "parking.png" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await findings.locator("li").filter({ hasText: "photo" }).filter({ hasText: "(warning)" }).count(), 2);
  assert.match(await findings.textContent(), /look at it before sending/);
  await screenshot(page, "mms-photo-review");
  await assertAccessible(page);
  await page.getByRole("button", { name: "Send" }).click();
  const bubble = page.getByRole("log").locator(".item").filter({ hasText: "Here is how to find us" });
  await bubble.locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  assert.equal(await bubble.locator(".thumb img").count(), 2);
  await page.waitForFunction(() => [...document.querySelectorAll(".thumb img")].every((img) => img.complete && img.naturalWidth > 0));
  await screenshot(page, "mms-sent");

  await bubble.getByRole("button", { name: "Open image front-entrance.png" }).click();
  const lightbox = page.getByRole("dialog", { name: "Images in this conversation" });
  await lightbox.waitFor();
  // The lightbox steps through the whole conversation's images: the demo's map came
  // before these two.
  await lightbox.getByText("front-entrance.png · 2 of 3").waitFor();
  await page.keyboard.press("ArrowRight");
  await lightbox.getByText("parking.png · 3 of 3").waitFor();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await lightbox.getByText("directions.png · 1 of 3").waitFor();
  // The demo's map is served, whole.
  await page.waitForFunction(() => {
    const img = document.querySelector("dialog.lightbox img");
    return img?.complete && img.naturalWidth === 640;
  });
  await screenshot(page, "lightbox");
  await assertAccessible(page);
  await page.keyboard.press("Escape");
  await lightbox.waitFor({ state: "hidden" });
  await page.context().close();
});

test("a voice note recorded from the microphone is attached, sent and plays inline", async () => {
  const james = contacts["James Chen"];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${james.id}`);
  // James's thread is by email; a voice note goes by MMS.
  await page.getByRole("radio", { name: "SMS" }).check();
  await page.getByRole("button", { name: "Record a voice note" }).click();
  await page.getByRole("button", { name: "Stop recording the voice note" }).waitFor();
  // The operator speaks for a moment.
  await page.waitForTimeout(1200);
  await page.getByRole("button", { name: "Stop recording the voice note" }).click();
  const chip = page.getByRole("list", { name: "Attachments" }).locator(".chip").filter({ hasText: /voice-note-.*\.webm/ });
  await chip.waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".chip progress").length === 0, null, { timeout: PATIENCE_MS });

  await page.getByRole("button", { name: "Send" }).click();
  const bubble = page.getByRole("log").locator(".item.out").last();
  await bubble.locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  const audio = bubble.locator("audio");
  await audio.waitFor();
  await page.waitForFunction(() => document.querySelector(".item.out audio")?.readyState >= 1, null, { timeout: PATIENCE_MS });
  await screenshot(page, "voice-note");
  await assertAccessible(page);
  await page.context().close();
});
