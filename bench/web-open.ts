/**
 * "A group with 10,000 messages opens in under a second": a measurement, not a test. Seeds a
 * group with N messages (default 10,000) through the SDK on a real server (port 0, a temporary
 * data directory), then opens the group in Debian's Chromium and times, in the page, from the
 * start of the navigation to the moment the newest message (the element with its data-seq) is
 * in the DOM: loading index.html and the scripts, resuming the session, the WebSocket and its
 * authentication, the newest page of history, the first render. Also times opening the group
 * from inside the running app (a click on the rail, no page load). Prints the figures as JSON.
 *
 *   node --import tsx bench/web-open.ts [--messages 10000] [--runs 7]
 */
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { startServer, unthrottled } from "../test/helpers.ts";

const { values } = parseArgs({ options: { messages: { type: "string", default: "10000" }, runs: { type: "string", default: "7" } } });
const total = Number(values.messages);
const runs = Number(values.runs);

const server = await startServer({ ...unthrottled, log: { level: "warn" } });
const alice = await server.user("alice");
const bob = await server.user("bob");
const group = await alice.request("group.create", { name: "Year 5" });
const link = await alice.request("link.create", { roomId: group.roomId });
await bob.request("link.join", { token: link.token });

const seedStart = performance.now();
const batch = 200;
let newest = 0;
for (let i = 0; i < total; i += batch) {
  const sends = [];
  for (let j = i; j < Math.min(total, i + batch); j++) {
    const who = j % 2 ? alice : bob;
    sends.push(who.request("message.send", { roomId: group.roomId, body: `Message ${j + 1}: ${"lorem ipsum dolor sit amet ".repeat(1 + (j % 4))}`, txnId: `seed${j}` }));
  }
  for (const r of await Promise.all(sends)) newest = Math.max(newest, r.event.seq);
}
const seedMs = performance.now() - seedStart;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
const page = await context.newPage();
// Sign in once through the UI; later loads resume the saved session.
await page.goto(server.baseUrl);
await page.getByLabel("Username").fill("bob");
await page.getByLabel("Password").fill("correct horse battery");
await page.getByRole("button", { name: "Sign in", exact: true }).click();
await page.getByRole("navigation").waitFor();

const roomUrl = `${server.baseUrl}/r/${encodeURIComponent(group.roomId)}`;
const selector = `[role=log] li[data-seq="${newest}"]`;
const coldLoads: number[] = [];
for (let i = 0; i < runs; i++) {
  await page.goto("about:blank");
  await page.goto(roomUrl, { waitUntil: "commit" });
  await page.waitForSelector(selector);
  // performance.now() in the page counts from the start of its navigation.
  coldLoads.push(await page.evaluate(() => performance.now()));
}

const inApp: number[] = [];
for (let i = 0; i < runs; i++) {
  await page.goto(`${server.baseUrl}/me`);
  await page.getByRole("navigation").waitFor();
  // A fresh page has no timeline cached: the click fetches the newest page of history.
  // A string, not a function: tsx's transpiled helpers do not exist in the page.
  const ms = (await page.evaluate(`(async () => {
    const link = document.querySelector("nav a[data-room]");
    const t0 = performance.now();
    link.click();
    while (!document.querySelector(${JSON.stringify(selector)})) await new Promise((r) => requestAnimationFrame(r));
    return performance.now() - t0;
  })()`)) as number;
  inApp.push(ms);
}
const rendered = await page.locator("[role=log] li[data-seq]").count();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify(
    {
      messages: total,
      newestSeq: newest,
      seedSeconds: Math.round(seedMs / 100) / 10,
      renderedMessages: rendered,
      pageLoadToNewestMs: { median: Math.round(median(coldLoads)), min: Math.round(Math.min(...coldLoads)), max: Math.round(Math.max(...coldLoads)), runs: coldLoads.map(Math.round) },
      inAppOpenMs: { median: Math.round(median(inApp)), min: Math.round(Math.min(...inApp)), max: Math.round(Math.max(...inApp)), runs: inApp.map(Math.round) },
      chromium: browser.version(),
      node: process.version,
    },
    null,
    2,
  ),
);
await browser.close();
await server.stop(true);
