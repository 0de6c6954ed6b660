// The connection drops (the server restarts) and comes back: what was sent before stays
// once, what the operator sent meanwhile waits in sight and goes when the server is back,
// what others sent meanwhile arrives, and a reload shows each message exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT, PATIENCE_MS, apiClient, assertAccessible, eventually, logIn, newPage, screenshot, useRig } from "./support.js";

const rig = useRig();

test("a server restart loses no message and doubles none", async () => {
  const api = await apiClient(rig.server);
  const { contacts } = await api("GET", "/api/contacts?search=Aisha");
  const aisha = contacts[0];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${aisha.id}`);
  const message = page.getByRole("combobox", { name: "Message" });
  const bubble = (text) => page.getByRole("log").locator(".item").filter({ hasText: text });

  await message.fill("Before the restart");
  await message.press("Control+Enter");
  await bubble("Before the restart").locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });

  await rig.server.stop();
  await page.locator(".connection:not([data-status='live'])").waitFor({ timeout: PATIENCE_MS });
  await message.fill("Written while the server was down");
  await message.press("Control+Enter");
  await bubble("Written while the server was down").locator(".status").filter({ hasText: "Waiting for connection" }).waitFor();
  await page.getByText("1 waiting for the connection").waitFor();
  await screenshot(page, "offline-queued");
  await assertAccessible(page);

  await rig.server.restart();
  // Another operator writes as soon as the server is back, maybe before this page has
  // reconnected: it must arrive either way.
  const agent = await apiClient(rig.server, AGENT);
  await agent("POST", "/api/messages/notes", { contact_id: aisha.id, body: "Agent note after the restart" });
  await page.locator(".connection[data-status='live']").waitFor({ timeout: PATIENCE_MS });
  await bubble("Written while the server was down").locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  await bubble("Agent note after the restart").waitFor({ timeout: PATIENCE_MS });
  await screenshot(page, "reconnected");

  const expected = ["Before the restart", "Written while the server was down", "Agent note after the restart"];
  for (const text of expected) assert.equal(await bubble(text).count(), 1, `"${text}" shown once`);
  const ours = async () => (await api("GET", `/api/messages?contact_id=${aisha.id}`)).messages.map((m) => m.body).filter((body) => expected.includes(body));
  // The queued send reaches the server when it is back, after or before the agent's note.
  assert.deepEqual((await ours()).sort(), [...expected].sort(), "the server holds each message once");

  await page.reload();
  await bubble("Agent note after the restart").waitFor();
  for (const text of expected) assert.equal(await bubble(text).count(), 1, `"${text}" shown once after a reload`);
  assert.equal((await ours()).length, 3, "a reload sends nothing again");
  await page.context().close();
});

test("with an undo window, a send can be taken back before it goes, and one left alone goes once", async () => {
  const api = await apiClient(rig.server);
  const { contacts } = await api("GET", "/api/contacts?search=Maria");
  const maria = contacts[0];
  const page = await newPage(rig.browser);
  await logIn(page, rig.server, undefined, `/messaging/${maria.id}`);
  await page.keyboard.press("?");
  await page.getByLabel("Time to undo a send").selectOption({ label: "5 seconds" });
  await page.keyboard.press("Escape");

  const message = page.getByRole("combobox", { name: "Message" });
  const bubble = (text) => page.getByRole("log").locator(".item").filter({ hasText: text });
  await message.fill("Sorry, wrong patient");
  await message.press("Control+Enter");
  await bubble("Sorry, wrong patient").locator(".status").filter({ hasText: "Sending in a moment" }).waitFor();
  await screenshot(page, "undo-window");
  await bubble("Sorry, wrong patient").getByRole("button", { name: "Undo" }).click();
  await bubble("Sorry, wrong patient").waitFor({ state: "detached" });
  // Compose takes the payload back in an effect, a render after the bubble goes.
  await eventually(async () => (await message.inputValue()) === "Sorry, wrong patient", "the draft to come back to fix");

  await message.fill("See you on Friday at 9");
  await message.press("Control+Enter");
  await bubble("See you on Friday at 9").locator(".status").filter({ hasText: "Delivered" }).waitFor({ timeout: PATIENCE_MS });
  const bodies = (await api("GET", `/api/messages?contact_id=${maria.id}`)).messages.map((m) => m.body);
  assert.ok(!bodies.includes("Sorry, wrong patient"), "the message taken back never reached the server");
  assert.equal(bodies.filter((b) => b === "See you on Friday at 9").length, 1);
  await page.context().close();
});
