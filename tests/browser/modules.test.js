// The pages' pure modules, in Node: the rules a browser test could only catch by luck
// (a status arriving late, an exotic character, a hostile link).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support.js";
import { segments } from "../../static/js/sms.js";
import { applyStatus, merge, upsert } from "../../static/js/timeline.js";
import { markdown, safeHref } from "../../static/js/markdown.js";
import { callItem } from "../../static/js/feed-source.js";

test("SMS segments: GSM-7 counts septets (the extension table twice), anything else UCS-2", () => {
  assert.deepEqual(segments(""), { encoding: "GSM-7", segments: 0, characters: 0, remaining: 160 });
  assert.deepEqual(segments("a".repeat(160)), { encoding: "GSM-7", segments: 1, characters: 160, remaining: 0 });
  assert.deepEqual(segments("a".repeat(161)), { encoding: "GSM-7", segments: 2, characters: 161, remaining: 145 });
  assert.equal(segments("Price: 5€").characters, 10, "the euro sign takes two septets");
  assert.deepEqual(segments("Thanks 🙂"), { encoding: "UCS-2", segments: 1, characters: 9, remaining: 61 });
  assert.equal(segments("é".repeat(100) + "ł").segments, 2, "one character outside GSM-7 makes the whole text UCS-2");
});

const sent = { id: "m1", client_id: "c1", created_at: "2026-12-04T10:00:00Z", updated_at: "2026-12-04T10:00:01Z", status: "sent" };

test("a message's status never moves back, whatever order the reports arrive in", () => {
  let items = upsert([], sent);
  items = applyStatus(items, { id: "m1", status: "delivered", updated_at: "2026-12-04T10:00:02Z" });
  items = applyStatus(items, { id: "m1", status: "sent", updated_at: "2026-12-04T10:00:01Z" });
  assert.equal(items[0].status, "delivered");
  // The page fetched the history after the event had already been applied.
  items = merge(items, [sent]);
  assert.equal(items[0].status, "delivered");
  // A retry is newer even though its status ranks lower.
  items = upsert(items, { ...sent, status: "queued", updated_at: "2026-12-04T10:05:00Z" });
  assert.equal(items[0].status, "queued");
});

test("the page's own send is replaced by the server's message with its client_id, and never overrides it", () => {
  const local = { id: "local-c1", local: true, client_id: "c1", created_at: "2026-12-04T10:00:05Z", updated_at: "2026-12-04T10:00:05Z", status: "sending" };
  let items = upsert([], local);
  items = upsert(items, sent);
  assert.deepEqual(items.map((i) => i.id), ["m1"]);
  items = upsert(items, { ...local, status: "waiting" });
  assert.deepEqual(items.map((i) => [i.id, i.status]), [["m1", "sent"]], "a late local state loses to the server's");
});

test("a call's live events keep one card: a replayed event changes nothing, a later update replaces it, an earlier one does not", () => {
  const ringing = { id: "c1", status: "ringing", transcription: null, created_at: "2026-12-04T10:00:00Z", updated_at: "2026-12-04T10:00:00Z" };
  const completed = { ...ringing, status: "completed", transcription: "**Caller:** Hello", updated_at: "2026-12-04T10:03:00Z" };
  let items = upsert([sent], callItem(ringing));
  assert.deepEqual(items.map((i) => [i.id, i.kind]), [["c1", "call"], ["m1", undefined]], "placed by its time");
  items = upsert(items, callItem(ringing));
  items = upsert(items, callItem(completed));
  items = upsert(items, callItem(ringing));
  assert.equal(items.length, 2);
  assert.equal(items[0].status, "completed");
  assert.equal(items[0].transcription, "**Caller:** Hello");
  // The feed's page, fetched meanwhile, holds the call as it was first recorded.
  items = merge(items, [callItem(ringing, ringing.created_at)]);
  assert.equal(items[0].transcription, "**Caller:** Hello");
});

function collect(node, found = []) {
  if (Array.isArray(node)) node.forEach((child) => collect(child, found));
  else if (node && typeof node === "object") {
    found.push(node);
    collect(node.props?.children, found);
  } else if (typeof node === "string") found.push(node);
  return found;
}

test("markdown: raw HTML stays text and only safe links become links", () => {
  const nodes = collect(markdown('**Hi** <img src=x onerror=alert(1)> [click](javascript:alert(1)) https://clinic.example/map'));
  const links = nodes.filter((n) => n.type === "a");
  assert.deepEqual(links.map((a) => a.props.href), ["https://clinic.example/map"]);
  assert.equal(links[0].props.rel, "noopener noreferrer");
  assert.ok(nodes.includes("<img src=x onerror=alert(1)>"), "the HTML is shown as written");
  assert.ok(!nodes.some((n) => n.type === "img"));
  assert.equal(safeHref("JAVASCRIPT:alert(1)"), null);
  assert.equal(safeHref("data:text/html,<script>"), null);
  assert.equal(safeHref("tel:+14155550100"), "tel:+14155550100");
});

test("the shell preloads every module of the app", () => {
  const shell = readFileSync(join(ROOT, "static", "app.html"), "utf8");
  const modules = readdirSync(join(ROOT, "static", "js"), { recursive: true })
    .filter((file) => file.endsWith(".js") && file !== "main.js")
    .map((file) => `/js/${file}`);
  const missing = modules.filter((module) => !shell.includes(`<link rel="modulepreload" href="${module}">`));
  assert.deepEqual(missing, [], "add them to static/app.html");
});
