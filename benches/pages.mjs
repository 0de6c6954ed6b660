// Page-load benchmark of /messaging/{id} in headless Chromium: a conversation of N items
// (default 5,000), then time to the first bubble, time until the newest page is on
// screen, scrolling back through 1,000 older items, the main thread's long tasks
// (over 50 ms) in each phase, including while 50 new items a second arrive, and the bytes
// the page transferred. Starts its own server (the debug build unless SWITCHBOARD_BIN
// names another) with a fresh database, like the browser tests.
//
//   node benches/pages.mjs [--items 5000] [--rate 50] [--seconds 10]
import { parseArgs } from "node:util";
import { apiClient, launchBrowser, logIn, newPage, startServer } from "../tests/browser/support.js";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "5000" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "10" },
  },
});
const items = Number(values.items);
const rate = Number(values.rate);
const seconds = Number(values.seconds);

/// Runs `count` calls of `make(i)` with at most `width` at a time.
async function pool(count, width, make) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await make(next++);
    }),
  );
}

const server = await startServer();
const browser = await launchBrowser();
try {
  const api = await apiClient(server);
  const contact = await api("POST", "/api/contacts", { name: "Benchmark Patient", phones: [{ phone_number: "+14155550999" }] });
  const seeding = Date.now();
  await pool(items, 16, (i) => api("POST", "/api/messages/notes", { contact_id: contact.id, body: `Item ${i + 1}: **note** with a [link](https://example.com/${i})` }));
  console.log(`seeded ${items} items in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);

  const page = await newPage(browser);
  await logIn(page, server);
  // Watches from the very start of each document: the first bubble, and long tasks.
  await page.addInitScript(() => {
    window.bench = { firstBubble: null, longTasks: [] };
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.bench.longTasks.push({ at: entry.startTime, ms: entry.duration });
    }).observe({ type: "longtask", buffered: true });
    new MutationObserver((_, observer) => {
      if (document.querySelector("[role=log] .bubble")) {
        window.bench.firstBubble = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });

  await page.goto(`${server.url}/messaging/${contact.id}`);
  await page.waitForFunction(() => document.querySelectorAll("[role=log] .item").length >= 50);
  const load = await page.evaluate(() => {
    const navigation = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    const bytes = navigation.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
    return { firstBubble: window.bench.firstBubble, newest: performance.now(), bytes, requests: resources.length + 1, longTasks: window.bench.longTasks.splice(0) };
  });

  const scrollStart = Date.now();
  const target = Math.min(items, 1050);
  while ((await page.locator("[role=log] .item").count()) < target) {
    const shown = await page.locator("[role=log] .item").count();
    await page.locator("#feed").evaluate((feed) => (feed.scrollTop = 0));
    await page.waitForFunction((before) => document.querySelectorAll("[role=log] .item").length > before, shown);
  }
  const scrollMs = Date.now() - scrollStart;
  const scrollTasks = await page.evaluate(() => window.bench.longTasks.splice(0));

  // Back to the newest, then new items arrive at `rate` a second.
  await page.locator("#feed").evaluate((feed) => (feed.scrollTop = feed.scrollHeight));
  const before = await page.locator("[role=log] .item").count();
  const streamStart = Date.now();
  const total = rate * seconds;
  const sends = [];
  for (let i = 0; i < total; i += 1) {
    const due = streamStart + (i * 1000) / rate;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    sends.push(api("POST", "/api/messages/notes", { contact_id: contact.id, body: `Live item ${i + 1}` }));
  }
  await Promise.all(sends);
  await page.waitForFunction((want) => document.querySelectorAll("[role=log] .item").length >= want, before + total, { timeout: 60000 });
  const streamTasks = await page.evaluate(() => window.bench.longTasks.splice(0));

  const summary = (tasks) => (tasks.length ? `${tasks.length} (longest ${Math.max(...tasks.map((t) => t.ms)).toFixed(0)} ms)` : "none");
  console.log(`conversation of ${items} items, Chromium ${browser.version()}`);
  console.log(`  first bubble:              ${load.firstBubble.toFixed(0)} ms after navigation start`);
  console.log(`  newest 50 on screen:       ${load.newest.toFixed(0)} ms`);
  console.log(`  transferred:               ${(load.bytes / 1024).toFixed(1)} KiB in ${load.requests} requests`);
  console.log(`  long tasks while loading:  ${summary(load.longTasks)}`);
  console.log(`  scroll back to ${target} items: ${scrollMs} ms; long tasks: ${summary(scrollTasks)}`);
  console.log(`  ${rate} new items/s for ${seconds} s: long tasks: ${summary(streamTasks)}`);
} finally {
  await browser.close();
  await server.close();
}
