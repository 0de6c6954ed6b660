// The browser tests' rig: the real server binary on a free port with a fresh database
// (dropped afterwards) and the sandbox carrier, Debian's Chromium driven by
// playwright-core, axe on every page, and a screenshot of each scenario under
// target/screenshots/.
import { execFileSync, spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// The debug build, built first; `SWITCHBOARD_BIN` names another (the page bench runs the
// release build) and is used as it is.
const BINARY = process.env.SWITCHBOARD_BIN ?? join(ROOT, "target", "debug", "switchboard");
const SCREENSHOTS = join(ROOT, "target", "screenshots");
const ADMIN_DATABASE_URL =
  process.env.SWITCHBOARD_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const PASSWORD = "switchboard-demo";
export const ADMIN = "admin@demo.switchboard.local";
export const AGENT = "agent@demo.switchboard.local";
/// How long a test waits for what a user would wait for (a status, a live event).
export const PATIENCE_MS = 15000;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function databaseUrl(name) {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

function dropDatabase(name) {
  execFileSync("psql", [ADMIN_DATABASE_URL, "-qc", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`], { stdio: "ignore" });
}

/// Builds the server once per test file (a no-op when `cargo test` already did).
function buildServer() {
  if (process.env.SWITCHBOARD_BIN) return;
  execFileSync("cargo", ["build", "--quiet", "--bin", "switchboard"], { cwd: ROOT, stdio: "inherit" });
}

/// The server with the demo organisation (its admin and agent, its contacts, one
/// sending number, no carrier: the sandbox moves statuses every `sandboxDelayMs`).
export async function startServer({ sandboxDelayMs = 600, env = {} } = {}) {
  buildServer();
  const port = await freePort();
  const database = `switchboard_browser_${randomUUID().replaceAll("-", "")}`;
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-browser-"));
  const url = `http://127.0.0.1:${port}`;
  const environment = {
    ...process.env,
    DATABASE_URL: databaseUrl(database),
    SWITCHBOARD_ADDR: `127.0.0.1:${port}`,
    SWITCHBOARD_DATA_DIR: dataDir,
    SWITCHBOARD_STATIC_DIR: join(ROOT, "static"),
    SWITCHBOARD_SANDBOX_DELAY_MS: String(sandboxDelayMs),
    // A few connections are plenty for one browser, and leave PostgreSQL's to the rest.
    SWITCHBOARD_DB_POOL_SIZE: "4",
    // Nothing here may reach the real Twilio.
    SWITCHBOARD_TWILIO_API_BASE: "http://127.0.0.1:9",
    RUST_LOG: process.env.RUST_LOG ?? "warn",
    ...env,
  };
  let child = null;
  let output = "";

  async function start(args) {
    child = spawn(BINARY, ["serve", ...args], { cwd: ROOT, env: environment, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const deadline = Date.now() + 60000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
      const answer = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
        async (r) => (r.ok ? null : `${r.status} ${await r.text()}`),
        (error) => error.message,
      );
      if (answer === null) return;
      if (Date.now() > deadline) throw new Error(`the server did not become ready (${answer}):\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function stop() {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  await start(["--demo"]);
  return {
    url,
    port,
    stop,
    /// Runs the server binary's command line (`user create ...`) against this server's
    /// database; answers what it printed.
    cli(args) {
      return execFileSync(BINARY, args, { cwd: ROOT, env: environment, encoding: "utf8" });
    },
    /// Stops the server and starts it again on the same port and database.
    async restart({ downMs = 0 } = {}) {
      await stop();
      if (downMs) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start([]);
    },
    async close() {
      await stop();
      dropDatabase(database);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/// Headless Chromium from Debian's package (Playwright's own download is not used).
export function launchBrowser({ media = false } = {}) {
  const args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
  if (media) args.push("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream");
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args });
}

/// A test file's server and browser: started (then `setup(rig)` run) before its tests,
/// stopped (and the database dropped) after them. Read `rig.server` and `rig.browser`
/// inside the tests.
export function useRig({ server: serverOptions, browser: browserOptions, setup } = {}) {
  const rig = {};
  before(async () => {
    rig.server = await startServer(serverOptions);
    rig.browser = await launchBrowser(browserOptions);
    await setup?.(rig);
  });
  after(async () => {
    await rig.browser?.close();
    await rig.server?.close();
  });
  return rig;
}

/// A fresh browser context (an operator's own cookies and storage) with a page.
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource|WebSocket connection/.test(message.text())) problems.push(message.text());
  });
  page.problems = problems;
  return page;
}

/// Signs in through the login form, as an operator would.
export async function logIn(page, server, email = ADMIN, path = "/messaging") {
  await page.goto(`${server.url}${path}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("navigation", { name: "Conversations" }).waitFor();
  await page.locator(".connection[data-status='live']").waitFor({ timeout: PATIENCE_MS });
}

/// Whether the element `control` (a locator) finds has the keyboard focus.
export function hasFocus(control) {
  return control.evaluate((element) => element === document.activeElement);
}

/// Presses `key` (Tab, or Shift+Tab to go back) until `target` has the focus, as an
/// operator tabs to a control; fails after `most` presses.
export async function tabTo(page, target, { key = "Tab", most = 40 } = {}) {
  for (let presses = 1; presses <= most; presses += 1) {
    await page.keyboard.press(key);
    if (await hasFocus(target)) return;
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  throw new Error(`${key} did not reach the control in ${most} presses (focus is on ${at})`);
}

/// No serious or critical accessibility violation on the page as it stands.
export async function assertAccessible(page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    "axe found serious or critical violations",
  );
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/// The JSON API with a bearer token, for set-up a test does not act out in the page.
export async function apiClient(server, email = ADMIN) {
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  }).then((r) => r.json());
  return async (method, path, body) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${login.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = response.status === 204 ? null : await response.json();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
    return data;
  };
}

/// Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, over the URL
/// followed by each POST parameter's name and value, sorted by name.
export function twilioSignature(authToken, url, params) {
  const signed = Object.keys(params)
    .sort()
    .reduce((text, key) => text + key + params[key], url);
  return createHmac("sha1", authToken).update(signed, "utf8").digest("base64");
}

/// Posts `params` to the webhook at `path` the way Twilio would, signed with the organisation's token.
async function postTwilioWebhook(server, path, authToken, params) {
  const url = `${server.url}${path}`;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilioSignature(authToken, url, params) },
    body: new URLSearchParams(params),
  });
  assert.ok(response.ok, `${path} answered ${response.status}`);
}

/// Posts an inbound SMS the way Twilio would.
export function postInboundSms(server, { authToken, accountSid, from, to, body }) {
  const params = { AccountSid: accountSid, MessageSid: `SM${randomUUID().replaceAll("-", "")}`, From: from, To: to, Body: body, NumMedia: "0" };
  return postTwilioWebhook(server, "/webhooks/twilio/inbound", authToken, params);
}

/// Posts Twilio's status callback for the message it knows as `sid` (`errorCode`, when
/// given, says why it was not delivered).
export function postSmsStatus(server, { authToken, accountSid, sid, status, errorCode }) {
  const params = { AccountSid: accountSid, MessageSid: sid, MessageStatus: status, ...(errorCode ? { ErrorCode: errorCode } : {}) };
  return postTwilioWebhook(server, "/webhooks/twilio/status", authToken, params);
}

/// A stand-in for Twilio's Messages API on a free port: it records each message posted
/// and accepts it with a fresh SID, or refuses the next `refuse` of them as Twilio refuses
/// a send (400 with Twilio's error code and message). Start it before the server, whose
/// `SWITCHBOARD_TWILIO_API_BASE` is its `url`.
export async function startTwilioStandIn() {
  const standIn = { sent: [], refuse: 0, refusal: { code: 30007, message: "The carrier filtered this message." } };
  const server = createHttpServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      response.setHeader("Content-Type", "application/json");
      if (request.method !== "POST" || !request.url.endsWith("/Messages.json")) {
        response.statusCode = 404;
        response.end(JSON.stringify({ code: 20404, message: "not found" }));
        return;
      }
      const form = Object.fromEntries(new URLSearchParams(body));
      standIn.sent.push(form);
      if (standIn.refuse > 0) {
        standIn.refuse -= 1;
        response.statusCode = 400;
        response.end(JSON.stringify({ ...standIn.refusal, status: 400 }));
        return;
      }
      response.statusCode = 201;
      response.end(JSON.stringify({ sid: `SM${randomUUID().replaceAll("-", "")}`, status: "queued", to: form.To, from: form.From, body: form.Body }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  standIn.url = `http://127.0.0.1:${server.address().port}`;
  standIn.close = () => new Promise((resolve) => server.close(resolve));
  return standIn;
}

/// Waits until `condition()` holds, polling, or fails after `PATIENCE_MS` saying `what`.
export async function eventually(condition, what) {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
