// /login: a refusal is said next to the form; signing in opens the page asked for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, PASSWORD, assertAccessible, newPage, screenshot, useRig } from "./support.js";

const rig = useRig();

test("a wrong password is said inline, and the right one opens the page asked for", async () => {
  const page = await newPage(rig.browser);
  await page.goto(`${rig.server.url}/messaging`);
  await page.waitForURL(/\/login\?next=%2Fmessaging$/);
  await page.getByLabel("Email").fill(ADMIN);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  const error = page.getByRole("alert");
  await error.filter({ hasText: "Wrong email or password." }).waitFor();
  assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
  await assertAccessible(page);
  await screenshot(page, "login-wrong-password");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${rig.server.url}/messaging`);
  await page.getByRole("heading", { name: "Pick a conversation" }).waitFor();
  await page.locator(".connection[data-status='live']").waitFor();
  await assertAccessible(page);
  await screenshot(page, "messaging-empty");
  assert.deepEqual(page.problems, []);
});

test("unknown API paths stay JSON 404s while page routes answer the shell with its policy", async () => {
  const api = await fetch(`${rig.server.url}/api/no-such-thing`);
  assert.equal(api.status, 404);
  assert.equal((await api.json()).error.code, "unknown_route");
  const shell = await fetch(`${rig.server.url}/messaging/00000000-0000-0000-0000-000000000000`);
  assert.equal(shell.status, 200);
  assert.match(shell.headers.get("content-security-policy"), /script-src 'self' 'sha256-[A-Za-z0-9+/=]+';/);
});
