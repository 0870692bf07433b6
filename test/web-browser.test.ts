/**
 * The web client in real Chromium (Debian's /usr/bin/chromium, driven by playwright-core): one
 * story with several people. Alice (admin of the Hillside School community) and Bob (a parent)
 * each use a browser context; Carol and Dave act through the SDK. Every check waits for what
 * the server acknowledged (an element carrying the event's data-seq) and reads the server's
 * state back through the SDK. axe runs on every screen; with PARLEY_SCREENSHOTS=1, screenshots go to docs/images/.
 */
import t from "tap";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import sharp from "sharp";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { startServer, unthrottled, password, refusal, type TestServer } from "./helpers.ts";

const chromiumPath = "/usr/bin/chromium";
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const images = join(import.meta.dirname, "..", "docs", "images");

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// One story in one browser: longer than the suite's default per-file timeout on a busy machine.
t.setTimeout(300_000);

if (!existsSync(chromiumPath)) {
  t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
} else {
  await story();
}

/** axe-core evaluated in the page (not an inline script: the CSP forbids those). */
async function axe(t: Test, page: Page, screen: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } };
    const r = await w.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  });
  t.same(violations, [], `axe finds no violations on ${screen}`);
}

/**
 * The README's screenshots: written only when PARLEY_SCREENSHOTS=1, so that an ordinary test run
 * leaves docs/images/ (and the working tree) as committed.
 */
async function shot(page: Page, name: string): Promise<void> {
  if (process.env.PARLEY_SCREENSHOTS !== "1") return;
  mkdirSync(images, { recursive: true });
  await page.screenshot({ path: join(images, `${name}.png`) });
}

/** The message element the server acknowledged (it carries data-seq), by its text. */
function acked(page: Page, text: string) {
  return page.locator(`[role=log] li.message[data-seq]:has(p.body:text-is("${text}"))`).first();
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("navigation", { name: "Communities and groups" }).waitFor();
}

async function story(): Promise<void> {
  const server: TestServer = await startServer({ ...unthrottled, registration: { policy: "open" } });
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath, args: flags });
  t.teardown(async () => {
    await browser.close();
    await server.stop(true);
  });
  const newPerson = async (viewport = { width: 1200, height: 800 }): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "Europe/London" });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    page.on("pageerror", (err) => t.fail(`page error: ${err.message}`));
    return { context, page };
  };
  const alice = await newPerson();
  const bob = await newPerson();
  let carol!: ParleyClient;
  let dave!: ParleyClient;
  let bobSdk!: ParleyClient;
  let aliceSdk!: ParleyClient;
  let school = "";
  let year5 = "";

  await t.test("alice signs up, creates her community and a group; errors are in words", async (t) => {
    const { page } = alice;
    await page.goto(server.baseUrl);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await axe(t, page, "the sign-in screen");
    await shot(page, "web-sign-in");
    // A wrong password is answered in the catalogue's words, not a code.
    await server.user("zed", { connect: false });
    await page.getByLabel("Username").fill("zed");
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "The username or password is wrong." }).waitFor();

    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Display name").fill("Alice");
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await page.getByRole("navigation", { name: "Communities and groups" }).waitFor();
    aliceSdk = await server.login("alice");

    await page.getByRole("link", { name: "+ New community or group" }).click();
    await page.getByLabel("Name").fill("Hillside School");
    await page.getByLabel("Description").fill("Parents and staff of Hillside");
    await page.getByLabel("Rules").fill("Be kind.");
    const crest = await sharp({ create: { width: 80, height: 80, channels: 3, background: "#224488" } }).png().toBuffer();
    await page.getByLabel("Picture").setInputFiles({ name: "crest.png", mimeType: "image/png", buffer: crest });
    await axe(t, page, "the create screen");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Hillside School" }).waitFor();
    const rooms = (await aliceSdk.request("room.list", {})).rooms;
    t.same(rooms.map((r) => [r.name, r.kind, r.role]), [["Hillside School", "community", "owner"]], "the server has the community, alice its owner");
    school = rooms[0].roomId;
    const summary = await aliceSdk.request("room.get", { roomId: school });
    t.equal(summary.rules, "Be kind.");
    t.ok(summary.picture, "with its picture");

    await page.getByRole("link", { name: "+ New group in this community" }).click();
    await page.getByLabel("Name").fill("Year 5");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Year 5" }).waitFor();
    const groups = (await aliceSdk.request("community.groups", { roomId: school })).groups;
    t.same(groups.map((g) => g.name), ["Year 5"]);
    year5 = groups[0].roomId;
  });

  await t.test("bob joins by the invite link, then joins a group from the community's home", async (t) => {
    const link = await aliceSdk.request("link.create", { roomId: school });
    bobSdk = await server.user("bob");
    carol = await server.user("carol");
    dave = await server.user("dave");
    await carol.request("link.join", { token: link.token });
    await carol.request("group.join", { roomId: year5 });
    await dave.request("link.join", { token: link.token });
    const { page } = bob;
    // The landing page a shared link opens leads into the app.
    await page.goto(`${server.baseUrl}/join/${link.token}`);
    await page.getByRole("link", { name: /Open in Parley/ }).click();
    await page.getByRole("heading", { name: "You are invited" }).waitFor();
    await signIn(page, "bob");
    await page.getByRole("button", { name: "Join", exact: true }).click();
    // The community's own page (its h2), where the client goes once link.join is answered; the
    // invitation's preview names it too, as an h3, before the click.
    await page.getByRole("heading", { name: "Hillside School", level: 2 }).waitFor();
    t.equal((await bobSdk.request("room.get", { roomId: school })).myRole, "member", "bob is a member of the community");
    await page.getByText("Groups you can join").waitFor();
    await page.getByText("2 members").first().waitFor();
    await axe(t, page, "the community home");
    await page.getByRole("button", { name: "Join: Year 5" }).click();
    await page.getByRole("heading", { name: "Year 5" }).waitFor();
    t.equal((await bobSdk.request("room.get", { roomId: year5 })).myRole, "member", "and of Year 5");
  });

  await t.test("a conversation: send, live delivery, reply with quote, reactions, edit, delete, typing, seen by", async (t) => {
    const a = alice.page;
    const b = bob.page;
    await a.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await a.getByRole("heading", { name: "Year 5" }).waitFor();
    await b.getByLabel("Message", { exact: true }).fill("Hello from Bob");
    await b.keyboard.press("Enter");
    const mine = acked(b, "Hello from Bob");
    await mine.waitFor();
    const seq = Number(await mine.getAttribute("data-seq"));
    const stored = await carol.request("message.get", { roomId: year5, seq });
    t.equal(stored.message.body, "Hello from Bob", "the element's data-seq is the server's message");
    await acked(a, "Hello from Bob").waitFor();

    // Alice replies quoting it.
    await acked(a, "Hello from Bob").getByRole("button", { name: /More actions/ }).click();
    await a.getByRole("button", { name: "Reply", exact: true }).click();
    await a.getByLabel("Message", { exact: true }).fill("Welcome, Bob!");
    await a.getByRole("button", { name: "Send" }).click();
    const reply = acked(b, "Welcome, Bob!");
    await reply.waitFor();
    t.match(await reply.locator("blockquote").textContent(), /Hello from Bob/, "the reply quotes the message");
    const replySeq = Number(await reply.getAttribute("data-seq"));
    t.equal((await carol.request("message.get", { roomId: year5, seq: replySeq })).message.replyTo, seq);

    // Bob reacts to the reply.
    await reply.getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "React 👍" }).click();
    await acked(a, "Welcome, Bob!").getByRole("button", { name: "👍 1" }).waitFor();
    t.same((await carol.request("message.reactions", { roomId: year5, seq: replySeq })).reactions, [{ userId: bobSdk.userId, emoji: "👍" }]);

    // Bob edits his message; Alice sees the edit.
    await mine.getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Edit", exact: true }).click();
    await b.getByLabel("Edit", { exact: true }).fill("Hello from Bob (edited)");
    await b.getByRole("button", { name: "Save" }).click();
    await acked(a, "Hello from Bob (edited)").waitFor();
    t.equal((await carol.request("message.get", { roomId: year5, seq })).message.edited, true);

    // Carol types: Bob sees it.
    await carol.request("typing.set", { roomId: year5, typing: true });
    await b.getByText("Carol is typing…").waitFor();
    await carol.request("typing.set", { roomId: year5, typing: false });

    // Seen by: Carol reads Bob's newest message.
    const bobsLast = await carol.request("message.send", { roomId: year5, body: "noted", txnId: "c1" });
    await acked(b, "noted").waitFor();
    await b.getByLabel("Message", { exact: true }).fill("See you Friday");
    await b.keyboard.press("Enter");
    const friday = acked(b, "See you Friday");
    await friday.waitFor();
    const fridaySeq = Number(await friday.getAttribute("data-seq"));
    t.ok(fridaySeq > bobsLast.event.seq);
    await carol.request("receipt.read", { roomId: year5, seq: fridaySeq });
    const receipts = await bobSdk.request("receipt.get", { roomId: year5, seq: fridaySeq });
    t.ok(receipts.readBy >= 1, "the server counts carol's read");
    // Alice's open tab may read it too, so the count can still grow: wait for one that includes
    // carol's read, then open the list (whatever the count is by the time of the click).
    await b.waitForFunction((min) => {
      const m = /^Seen by (\d+) of (\d+)$/.exec(document.querySelector(".seen button")?.textContent ?? "");
      return m !== null && Number(m[1]) >= min;
    }, receipts.readBy);
    await b.getByRole("button", { name: /^Seen by \d+ of \d+$/ }).click();
    await b.getByRole("list", { name: "Seen by" }).getByText("Carol").waitFor();
    await axe(t, b, "a conversation");
    await shot(b, "web-conversation");

    // Delete for everyone (Bob's own), and delete for me (only hidden for Alice).
    await friday.getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Delete for everyone" }).click();
    await a.locator(`li[data-seq="${fridaySeq}"]`).getByText("This message was deleted").waitFor();
    t.equal((await carol.request("message.get", { roomId: year5, seq: fridaySeq })).message.deleted, true);
    await acked(a, "noted").getByRole("button", { name: /More actions/ }).click();
    await a.getByRole("button", { name: "Delete for me" }).click();
    await a.locator(`li[data-seq="${bobsLast.event.seq}"]`).waitFor({ state: "detached" });
    t.equal((await carol.request("message.get", { roomId: year5, seq: bobsLast.event.seq })).message.deleted, false, "still there for everyone else");

    // An admin deletes anyone's message for everyone.
    const spam = await carol.request("message.send", { roomId: year5, body: "buy cheap stuff", txnId: "c-spam" });
    await acked(a, "buy cheap stuff").getByRole("button", { name: /More actions/ }).click();
    await a.getByRole("button", { name: "Delete for everyone" }).click();
    await b.locator(`li[data-seq="${spam.event.seq}"]`).getByText("This message was deleted").waitFor();
    t.equal((await carol.request("message.get", { roomId: year5, seq: spam.event.seq })).message.deleted, true, "alice, an admin, deleted carol's message");
  });

  await t.test("offline: a send waits as pending and goes once when the connection returns; a reload keeps what was typed", async (t) => {
    const { page, context } = bob;
    t.teardown(() => context.setOffline(false));
    await page.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await page.getByLabel("Message", { exact: true }).waitFor();
    await context.setOffline(true);
    await page.getByText("Offline: messages wait").waitFor();
    await page.getByLabel("Message", { exact: true }).fill("Sent while offline");
    await page.keyboard.press("Enter");
    await page.locator("li.pending[data-pending]", { hasText: "Sent while offline" }).waitFor();
    t.equal(await acked(page, "Sent while offline").count(), 0, "not shown as sent");
    // Carol writes meanwhile: the sync stream brings it on reconnect.
    await carol.request("message.send", { roomId: year5, body: "While you were away", txnId: "c2" });
    await context.setOffline(false);
    await acked(page, "Sent while offline").waitFor();
    await acked(page, "While you were away").waitFor();
    await page.locator("li.pending").waitFor({ state: "detached" });
    const history = await carol.request("message.history", { roomId: year5, limit: 50 });
    t.equal(history.messages.filter((m) => m.body === "Sent while offline").length, 1, "stored once");

    // A draft survives a reload, and so does the session.
    await page.getByLabel("Message", { exact: true }).fill("half a thought");
    await page.reload();
    await page.getByRole("heading", { name: "Year 5" }).waitFor();
    t.equal(await page.getByLabel("Message", { exact: true }).inputValue(), "half a thought", "the draft is back");
    await page.getByLabel("Message", { exact: true }).fill("");
  });

  await t.test("the connection drops while a screen is loading: it stays, composer and all, and loads once back", async (t) => {
    // A tab whose first socket holds back the answers to `ops` and then drops; later sockets pass
    // everything. (Going offline at that moment did the same, by chance.)
    async function droppingTab(ops: string[]): Promise<{ tab: Page; sockets: () => number }> {
      const tab = await bob.context.newPage();
      t.teardown(() => tab.close());
      let sockets = 0;
      await tab.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
        const first = ++sockets === 1;
        const upstream = ws.connectToServer();
        const held = new Set<number>();
        ws.onMessage((m) => {
          const frame = JSON.parse(String(m)) as { id?: number; op?: string };
          if (first && ops.includes(frame.op ?? "") && typeof frame.id === "number") {
            held.add(frame.id);
            if (held.size === ops.length) setTimeout(() => void ws.close({ code: 4000, reason: "dropped" }), 100);
          }
          upstream.send(m);
        });
        upstream.onMessage((m) => {
          const id = (JSON.parse(String(m)) as { id?: number }).id;
          if (!(typeof id === "number" && held.has(id))) ws.send(m);
        });
      });
      return { tab, sockets: () => sockets };
    }

    const room = await droppingTab(["room.get", "message.history"]);
    await room.tab.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await room.tab.getByRole("heading", { name: "Year 5" }).waitFor();
    t.ok(room.sockets() >= 2, "the first socket dropped and the app connected again");
    await acked(room.tab, "Sent while offline").waitFor();
    t.equal(await room.tab.getByLabel("Message", { exact: true }).count(), 1, "the conversation's composer is there");
    t.equal(await room.tab.locator("main p.error[role=alert]").count(), 0, "no error in place of the conversation");

    const home = await droppingTab(["room.get"]);
    await home.tab.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    await home.tab.getByRole("heading", { name: "Hillside School", level: 2 }).waitFor();
    t.ok(home.sockets() >= 2, "the community home's first socket dropped too");
    t.equal(await home.tab.locator("main p.error[role=alert]").count(), 0, "no error in place of the community home");
  });

  await t.test("an input method's Enter picks a candidate and does not send", async (t) => {
    const { page, context } = bob;
    await page.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    const box = page.getByLabel("Message", { exact: true });
    await box.click();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Input.imeSetComposition", { text: "ni hao", selectionStart: 6, selectionEnd: 6 });
    // The Enter an IME uses to confirm: keydown with isComposing and keyCode 229.
    const notSent = await page.evaluate(() => {
      const el = document.querySelector("textarea")!;
      const ev = new KeyboardEvent("keydown", { key: "Enter", keyCode: 229, isComposing: true, bubbles: true, cancelable: true });
      el.dispatchEvent(ev);
      return !ev.defaultPrevented;
    });
    t.ok(notSent, "the composing Enter is left to the input method");
    await cdp.send("Input.insertText", { text: "你好" });
    t.equal(await page.locator("li.pending").count(), 0, "nothing was queued");
    t.equal(await box.inputValue(), "你好", "the composed text is in the box");
    await page.keyboard.press("Enter");
    await acked(page, "你好").waitFor();
    await cdp.detach();
  });

  await t.test("history pages in as bob scrolls up, and he can jump to his first unread", async (t) => {
    const { page } = bob;
    const readUpTo = (await bobSdk.request("room.list", {})).rooms.find((r) => r.roomId === year5)!.readSeq;
    await page.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    for (let i = 1; i <= 120; i++) await carol.request("message.send", { roomId: year5, body: `news ${i}`, txnId: `bulk${i}` });
    const list = (await bobSdk.request("room.list", {})).rooms;
    t.ok(list.find((r) => r.roomId === year5)!.unread >= 120, "the server counts bob's unread messages");
    // The rail's community counts its announcements and bob's groups in it.
    const unread = list.filter((r) => r.roomId === school || r.communityId === school).reduce((n, r) => n + r.unread, 0);
    await page.getByRole("navigation").getByLabel(`${unread} unread messages`).waitFor();
    await page.getByRole("link", { name: /Year 5/ }).first().click();
    await acked(page, "news 120").waitFor();
    const before = await page.locator("[role=log] li[data-seq]").count();
    t.ok(before <= 60, `the newest page only (${before})`);
    await page.getByRole("button", { name: "Jump to first unread" }).click();
    const first = page.locator(`li[data-seq="${readUpTo + 1}"]`);
    await first.waitFor();
    await page.waitForFunction((s) => document.activeElement?.getAttribute("data-seq") === String(s), readUpTo + 1);
    t.ok((await page.locator("[role=log] li[data-seq]").count()) > before, "older pages were loaded to reach it");
    await page.locator("[role=log]").evaluate((el) => (el.scrollTop = 0));
    await acked(page, "Hello from Bob (edited)").waitFor();
  });

  await t.test("files: pick a picture, see the upload land with a preview, view and download it", async (t) => {
    const { page } = bob;
    await page.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await page.getByLabel("Message", { exact: true }).waitFor();
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#33aa77" } }).png().toBuffer();
    await page.locator("input[type=file]").setInputFiles({ name: "class-photo.png", mimeType: "image/png", buffer: png });
    const item = page.locator("[role=log] li.message[data-seq]", { hasText: "class-photo.png" });
    await item.waitFor();
    await item.getByRole("button", { name: "View picture: class-photo.png" }).waitFor();
    const seq = Number(await item.getAttribute("data-seq"));
    const stored = (await carol.request("message.get", { roomId: year5, seq })).message;
    t.equal(stored.kind, "file");
    t.equal(stored.file?.mime, "image/png");
    await item.getByRole("button", { name: "View picture: class-photo.png" }).click();
    await page.getByRole("dialog", { name: "class-photo.png" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    const [download] = await Promise.all([page.waitForEvent("download"), item.getByRole("button", { name: "Download" }).click()]);
    t.equal(download.suggestedFilename(), "class-photo.png");

    // A larger file over a slow uplink: the progress bar shows while it goes.
    const cdp = await bob.context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    await page.locator("input[type=file]").setInputFiles({ name: "minutes.txt", mimeType: "text/plain", buffer: Buffer.alloc(1024 * 1024, "minutes of the meeting\n") });
    const bar = page.getByRole("progressbar", { name: "Uploading minutes.txt" });
    await bar.waitFor();
    t.ok(Number(await bar.getAttribute("value")) < 1, "the bar shows a part done");
    await page.locator("[role=log] li.message[data-seq]", { hasText: "minutes.txt" }).waitFor({ timeout: 60_000 });
    await bar.waitFor({ state: "detached" });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();

    // A file dropped on the composer is sent too.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["see you there"], "dropped-note.txt", { type: "text/plain" }));
      document.querySelector(".composer")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    const dropped = page.locator("[role=log] li.message[data-seq]", { hasText: "dropped-note.txt" });
    await dropped.waitFor();
    const droppedView = (await carol.request("message.get", { roomId: year5, seq: Number(await dropped.getAttribute("data-seq")) })).message;
    t.equal(droppedView.file?.name, "dropped-note.txt", "the dropped file reached the server");
    t.equal(droppedView.file?.size, 13);
  });

  await t.test("polls: alice asks, bob votes and changes his vote, alice sees the counts live, then closes it", async (t) => {
    const a = alice.page;
    const b = bob.page;
    await a.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await b.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await a.getByRole("button", { name: "Poll", exact: true }).click();
    await a.getByLabel("Question").fill("Trip day?");
    await a.getByLabel("Options, one a line").fill("Monday\nFriday");
    await a.getByRole("button", { name: "Create poll" }).click();
    const poll = b.locator("li.message[data-seq] form.poll", { hasText: "Trip day?" });
    await poll.waitFor();
    await poll.getByRole("radio", { name: "Friday" }).check();
    await poll.getByRole("button", { name: "Vote", exact: true }).click();
    const seq = Number(await poll.getAttribute("data-poll"));
    await a.locator(`form[data-poll="${seq}"] meter[aria-label="Friday: 1"]`).waitFor();
    await poll.getByRole("radio", { name: "Monday" }).check();
    await poll.getByRole("button", { name: "Vote", exact: true }).click();
    await a.locator(`form[data-poll="${seq}"] meter[aria-label="Monday: 1"]`).waitFor();
    t.same((await carol.request("poll.get", { roomId: year5, seq })).counts, [1, 0], "the server counts bob's changed vote");
    await poll.getByRole("button", { name: "Withdraw my vote" }).click();
    await a.locator(`form[data-poll="${seq}"] meter[aria-label="Monday: 0"]`).waitFor();
    await a.locator(`form[data-poll="${seq}"]`).getByRole("button", { name: "Close poll" }).click();
    await poll.getByText("(Closed)").waitFor();
    t.equal((await carol.request("poll.get", { roomId: year5, seq })).closed, true);

    // A named poll shows who chose what; an anonymous one only counts.
    const named = await aliceSdk.request("poll.create", { roomId: year5, txnId: "p-named", question: "Bring cake?", options: ["Yes", "No"] });
    const secret = await aliceSdk.request("poll.create", { roomId: year5, txnId: "p-anon", question: "Rate the trip", options: ["Good", "Bad"], anonymous: true });
    await carol.request("poll.vote", { roomId: year5, seq: named.event.seq, options: [0] });
    await carol.request("poll.vote", { roomId: year5, seq: secret.event.seq, options: [0] });
    await b.locator(`form[data-poll="${named.event.seq}"] .voters`).filter({ hasText: "Carol" }).waitFor();
    await b.locator(`form[data-poll="${secret.event.seq}"] meter[aria-label="Good: 1"]`).waitFor();
    t.equal(await b.locator(`form[data-poll="${secret.event.seq}"] .voters`).count(), 0, "no names under an anonymous poll");
    t.equal((await bobSdk.request("poll.get", { roomId: year5, seq: secret.event.seq })).votes, null, "the server gives no names either");
  });

  await t.test("calendar events: alice creates one in a time zone, bob answers, downloads the .ics; alice cancels", async (t) => {
    const a = alice.page;
    const b = bob.page;
    await a.getByRole("button", { name: "Event", exact: true }).click();
    await a.getByLabel("Title").fill("Sports day");
    await a.getByLabel("Starts").fill("2030-06-14T10:00");
    await a.getByLabel("Time zone").selectOption("Asia/Shanghai");
    await a.getByLabel("Place").fill("Field");
    await a.getByRole("button", { name: "Create event" }).click();
    const card = b.locator("li.message[data-seq] .event", { hasText: "Sports day" });
    await card.waitFor();
    const seq = Number(await card.getAttribute("data-event"));
    const ev = await carol.request("event.get", { roomId: year5, seq });
    t.equal(ev.start, Date.UTC(2030, 5, 14, 2, 0), "10:00 in Shanghai is 02:00 UTC");
    t.equal(ev.timeZone, "Asia/Shanghai");
    await card.getByRole("button", { name: /^Going/ }).click();
    await card.getByRole("button", { name: "Going (1)" }).waitFor();
    t.equal((await carol.request("event.get", { roomId: year5, seq })).myAnswer, null);
    t.equal((await carol.request("event.get", { roomId: year5, seq })).counts.going, 1, "the server has bob's answer");
    const [download] = await Promise.all([b.waitForEvent("download"), card.getByRole("button", { name: "Add to calendar (.ics)" }).click()]);
    const ics = readFileSync((await download.path())!, "utf8");
    t.match(ics, /BEGIN:VCALENDAR/);
    t.match(ics, /DTSTART:20300614T020000Z/);
    t.match(ics, /SUMMARY:Sports day/);
    await a.locator(`.event[data-event="${seq}"]`).getByText("Who answered").click();
    await a.locator(`.event[data-event="${seq}"]`).getByText("Bob: Going").waitFor();
    await a.locator(`.event[data-event="${seq}"]`).getByRole("button", { name: "Edit event" }).click();
    await a.locator(`.event[data-event="${seq}"]`).getByLabel("Title").fill("Sports day (bring water)");
    await a.locator(`.event[data-event="${seq}"]`).getByRole("button", { name: "Save" }).click();
    await b.locator(`.event[data-event="${seq}"]`).getByText("Sports day (bring water)").waitFor();
    t.equal((await carol.request("event.get", { roomId: year5, seq })).title, "Sports day (bring water)", "the edit reached the server");
    t.equal((await carol.request("event.get", { roomId: year5, seq })).start, Date.UTC(2030, 5, 14, 2, 0), "in its own time zone, unchanged");
    await a.locator(`.event[data-event="${seq}"]`).getByRole("button", { name: "Cancel event" }).click();
    await card.getByText("(Cancelled)").waitFor();
    t.equal((await carol.request("event.get", { roomId: year5, seq })).status, "cancelled");
  });

  await t.test("announcements: alice posts, bob replies in its thread", async (t) => {
    const a = alice.page;
    const b = bob.page;
    await a.goto(`${server.baseUrl}/r/${encodeURIComponent(school)}`);
    await a.getByLabel("Message", { exact: true }).fill("School closes at noon on Friday");
    await a.keyboard.press("Enter");
    await acked(a, "School closes at noon on Friday").waitFor();
    await b.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    await b.locator(`[data-announcements]`).click();
    const ann = acked(b, "School closes at noon on Friday");
    await ann.waitFor();
    t.equal(await b.getByLabel("Message", { exact: true }).count(), 0, "members do not post announcements");
    await ann.getByRole("button", { name: "Replies" }).click();
    const thread = b.getByRole("complementary", { name: "Replies" });
    await thread.getByLabel("Message").fill("Thanks for letting us know");
    await thread.getByLabel("Message").press("Enter");
    await thread.locator("li.message[data-seq]", { hasText: "Thanks for letting us know" }).waitFor();
    const seq = Number(await ann.getAttribute("data-seq"));
    const server_thread = await carol.request("message.thread", { roomId: school, root: seq });
    t.same(server_thread.replies.map((m) => m.body), ["Thanks for letting us know"]);
    await acked(a, "School closes at noon on Friday").getByRole("button", { name: "1 reply" }).waitFor();
    await axe(t, b, "an announcement thread");
  });

  await t.test("the admin panel: join requests, members and roles, invite links, settings, audit log", async (t) => {
    const a = alice.page;
    await aliceSdk.request("room.settings.update", { roomId: year5, joinApproval: true });
    await dave.request("group.join", { roomId: year5 });
    const frank = await server.user("frank");
    const gina = await server.user("gina");
    const schoolLink = await aliceSdk.request("link.create", { roomId: school });
    for (const c of [frank, gina]) {
      await c.request("link.join", { token: schoolLink.token });
      await c.request("group.join", { roomId: year5 });
    }
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(year5)}`);
    await a.getByRole("heading", { name: "Admin: Year 5" }).waitFor();
    await a.locator(`li[data-request="${dave.userId}"]`).waitFor();
    await axe(t, a, "the admin panel");
    await shot(a, "web-admin");
    await a.getByRole("button", { name: "Approve: Dave" }).click();
    await a.locator(`li[data-request="${dave.userId}"]`).waitFor({ state: "detached" });
    t.equal((await dave.request("room.get", { roomId: year5 })).myRole, "member", "dave was approved");
    await a.getByRole("button", { name: "Approve all" }).click();
    await a.getByText("No pending join requests.").waitFor();
    t.same([(await frank.request("room.get", { roomId: year5 })).myRole, (await gina.request("room.get", { roomId: year5 })).myRole], ["member", "member"], "frank and gina, approved together");

    await a.getByRole("tab", { name: "Members" }).click();
    await a.getByLabel("Search members").fill("bo");
    // The members tab loads its list, then filters it: wait for bob's row, then count.
    await a.getByRole("button", { name: "Make admin: Bob" }).waitFor();
    t.equal(await a.locator("li[data-member]").count(), 1, "search narrows the list");
    await a.getByRole("button", { name: "Make admin: Bob" }).click();
    await a.getByRole("button", { name: "Remove admin: Bob" }).waitFor();
    t.equal((await aliceSdk.request("room.members", { roomId: year5 })).members!.find((m) => m.userId === bobSdk.userId)!.role, "admin");
    await a.getByRole("button", { name: "Remove admin: Bob" }).click();
    await a.getByRole("button", { name: "Make admin: Bob" }).waitFor();
    t.equal((await aliceSdk.request("room.members", { roomId: year5 })).members!.find((m) => m.userId === bobSdk.userId)!.role, "member", "and demoted again");
    await a.getByLabel("Search members").fill("");
    await a.getByRole("button", { name: "Ban: Dave" }).click();
    await a.locator(`li[data-member="${dave.userId}"]`).waitFor({ state: "detached" });
    await a.getByLabel("Unban a user (their id)").fill(dave.userId);
    await a.getByRole("button", { name: "Unban", exact: true }).click();
    await axe(t, a, "the members tab");

    await a.getByRole("tab", { name: "Invite links" }).click();
    await a.getByLabel("Use limit (empty for none)").fill("30");
    await a.getByRole("button", { name: "Create link" }).click();
    const row = a.locator("li[data-link]").first();
    await row.getByText("0 uses / 30").waitFor();
    await row.getByRole("button", { name: "QR code" }).click();
    await a.getByRole("dialog", { name: "QR code" }).locator("img").waitFor();
    await axe(t, a, "the invite QR code");
    await a.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    const first = (await aliceSdk.request("link.list", { roomId: year5 })).links[0].token;
    await row.getByRole("button", { name: "Reset" }).click();
    await a.locator("li[data-link] code").filter({ hasNotText: first }).waitFor();
    t.equal(await refusal(carol.request("link.preview", { token: first })), "invite.invalid", "a reset link's old token stops working");
    const token = (await aliceSdk.request("link.list", { roomId: year5 })).links[0].token;
    t.not(token, first);
    await row.getByRole("button", { name: "Revoke" }).click();
    await a.locator("li[data-link]").first().waitFor({ state: "detached" });
    t.equal(await refusal(carol.request("link.preview", { token })), "invite.invalid", "the server revoked it");

    await a.getByRole("tab", { name: "Settings" }).click();
    await a.getByLabel("Who may send").selectOption("admins");
    await a.getByLabel("Admins approve new members").uncheck();
    await a.getByRole("button", { name: "Save" }).first().click();
    await a.getByRole("alert").filter({ hasText: "Saved" }).waitFor();
    const settings = (await aliceSdk.request("room.get", { roomId: year5 })).settings;
    t.equal(settings.sendPolicy, "admins");
    t.equal(settings.joinApproval, false);
    await axe(t, a, "the settings tab");

    await a.getByRole("tab", { name: "Audit log" }).click();
    await a.locator("tr[data-audit]").first().waitFor();
    await a.getByLabel("Action").selectOption("member.ban");
    t.equal(await a.locator("tr[data-audit]").count(), 1, "filtered to the one ban");
    await axe(t, a, "the audit log");
  });

  await t.test("the community's admins: the cap shown, ownership transferred", async (t) => {
    const a = alice.page;
    a.once("dialog", (d) => void d.accept());
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(school)}`);
    await a.getByRole("tab", { name: "Members" }).click();
    await a.getByText("1 of 20 admins").waitFor();
    await a.getByRole("button", { name: "Make admin: Dave" }).click();
    await a.getByText("2 of 20 admins").waitFor();
    await a.getByRole("button", { name: "Make owner: Dave" }).click();
    await a.locator(`li[data-member="${dave.userId}"]`).getByText("owner").waitFor();
    t.equal((await aliceSdk.request("room.get", { roomId: school })).myRole, "admin", "alice is an admin now");
    t.equal((await dave.request("room.get", { roomId: school })).myRole, "owner", "dave owns the community");
  });

  await t.test("invitations received are accepted or declined; leaving a group", async (t) => {
    const { page } = bob;
    const choir = await aliceSdk.request("group.create", { name: "Choir" });
    const chess = await aliceSdk.request("group.create", { name: "Chess club" });
    await page.goto(server.baseUrl);
    await page.getByRole("navigation").waitFor();
    await aliceSdk.request("member.invite", { roomId: choir.roomId, userId: bobSdk.userId });
    await aliceSdk.request("member.invite", { roomId: chess.roomId, userId: bobSdk.userId });
    await page.getByRole("button", { name: "Accept: Choir" }).waitFor();
    await page.getByRole("button", { name: "Decline: Chess club" }).waitFor();
    await axe(t, page, "the invitations");
    await page.getByRole("button", { name: "Decline: Chess club" }).click();
    await page.locator(`[data-invitation="${chess.roomId}"]`).waitFor({ state: "detached" });
    t.equal(await refusal(aliceSdk.request("member.invite", { roomId: chess.roomId, userId: bobSdk.userId })), "(accepted)", "declined: alice may invite him again");
    await page.getByRole("button", { name: "Accept: Choir" }).click();
    await page.getByRole("heading", { name: "Choir" }).waitFor();
    t.equal((await bobSdk.request("room.get", { roomId: choir.roomId })).myRole, "member", "accepted: bob is a member");
    // A reload still knows the invitation that is left.
    await page.goto(server.baseUrl);
    await page.getByRole("button", { name: "Accept: Chess club" }).waitFor();
    await page.goto(`${server.baseUrl}/r/${encodeURIComponent(choir.roomId)}`);
    await page.getByRole("button", { name: "Leave" }).click();
    // The client goes home once the server has answered room.leave (the rail's navigation is on
    // every page: waiting for it would not wait for the leave).
    await page.waitForURL(`${server.baseUrl}/`);
    t.notOk((await aliceSdk.request("room.members", { roomId: choir.roomId })).members!.some((m) => m.userId === bobSdk.userId), "bob left the choir");
  });

  await t.test("community settings: a group linked and unlinked, replies under announcements turned off", async (t) => {
    const a = alice.page;
    const chess = (await aliceSdk.request("room.list", {})).rooms.find((r) => r.name === "Chess club")!;
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(school)}`);
    await a.getByRole("tab", { name: "Settings" }).click();
    await a.getByLabel("Link one of your groups").selectOption({ label: "Chess club" });
    await a.getByRole("button", { name: "Link", exact: true }).click();
    await a.locator("li", { hasText: "Chess club" }).getByRole("button", { name: "Unlink" }).waitFor();
    t.ok((await aliceSdk.request("room.get", { roomId: school })).groups!.includes(chess.roomId), "the server linked it");
    await a.locator("li", { hasText: "Chess club" }).getByRole("button", { name: "Unlink" }).click();
    await a.locator("li", { hasText: "Chess club" }).waitFor({ state: "detached" });
    t.notOk((await aliceSdk.request("room.get", { roomId: school })).groups!.includes(chess.roomId), "and unlinked it");
    await a.getByLabel("Members may reply under announcements").uncheck();
    await a.getByRole("button", { name: "Save" }).first().click();
    await a.getByRole("alert").filter({ hasText: "Saved" }).waitFor();
    t.equal((await aliceSdk.request("room.get", { roomId: school })).settings.announcementReplies, false);
    const b = bob.page;
    await b.goto(`${server.baseUrl}/r/${encodeURIComponent(school)}`);
    await acked(b, "School closes at noon on Friday").getByRole("button", { name: "1 reply" }).click();
    await b.getByRole("complementary", { name: "Replies" }).getByText("Thanks for letting us know").waitFor();
    t.equal(await b.getByRole("complementary", { name: "Replies" }).getByLabel("Message").count(), 0, "no composer under the announcement any more");

    // A group that needs approval: bob asks to join from the community's home.
    const staff = await dave.request("group.create", { name: "Staff room", communityId: school, settings: { joinApproval: true } });
    await b.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    await b.getByRole("button", { name: "Ask to join: Staff room" }).click();
    await b.locator("li", { hasText: "Staff room" }).getByText("Request sent").waitFor();
    t.same((await dave.request("join.requests", { roomId: staff.roomId })).requests.map((r) => r.userId), [bobSdk.userId], "the server has bob's request");
  });

  await t.test("profile, devices and common groups", async (t) => {
    const { page } = bob;
    const phone = await server.login("bob", { deviceName: "Bob's old phone", connect: false });
    await page.goto(`${server.baseUrl}/me`);
    await page.getByLabel("Display name").fill("Bob Parent");
    await page.getByLabel("About").fill("Dad of Sam, Year 5");
    const avatar = await sharp({ create: { width: 96, height: 96, channels: 3, background: "#aa3355" } }).png().toBuffer();
    await page.getByLabel("Avatar").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: avatar });
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
    const profile = await carol.request("profile.get", { userId: bobSdk.userId });
    t.equal(profile.displayName, "Bob Parent");
    t.equal(profile.about, "Dad of Sam, Year 5");
    t.ok(profile.avatar, "the avatar was uploaded and set");
    await page.locator("img.avatar").waitFor();
    await page.getByRole("button", { name: "Revoke: Bob's old phone" }).click();
    await page.locator(`li[data-device="${phone.deviceId}"]`).waitFor({ state: "detached" });
    t.notOk((await bobSdk.request("device.list", {})).devices.some((d) => d.deviceId === phone.deviceId), "the device is revoked");
    await axe(t, page, "profile and devices");
    await page.goto(`${server.baseUrl}/u/${encodeURIComponent(carol.userId)}`);
    await page.getByRole("heading", { name: "Carol" }).waitFor();
    await page.locator("ul.common").getByText("Year 5").waitFor();
    await axe(t, page, "someone's profile");
  });

  await t.test("the service worker shows a Web Push message as a notification that leads to the room", async (t) => {
    const { page, context } = alice;
    await context.grantPermissions(["notifications"], { origin: server.baseUrl });
    await page.goto(`${server.baseUrl}/me`);
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    const cdp = await context.newCDPSession(page);
    const registered = new Promise<string>((resolve) =>
      cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
        const r = registrations.find((x) => x.scopeURL === `${server.baseUrl}/` && !x.isDeleted);
        if (r) resolve(r.registrationId);
      }),
    );
    // `ready` resolves while the worker is still activating; a push is delivered once it is activated.
    const activated = new Promise<void>((resolve) =>
      cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) => versions.some((v) => v.status === "activated" && v.runningStatus === "running") && resolve()),
    );
    await cdp.send("ServiceWorker.enable");
    await page.evaluate(() => navigator.serviceWorker.register("/sw.js").then(() => navigator.serviceWorker.ready).then(() => true));
    const registrationId = await registered;
    // What the server's push sending encrypts for the subscription (docs/protocol.md).
    const payload = { type: "message", reason: "message", roomId: year5, roomName: "Year 5", seq: 1, sender: carol.userId, senderName: "Carol", kind: "text", body: "Sports kit tomorrow", ts: Date.now() };
    await activated;
    // A push delivered into a worker that has only just been activated is sometimes lost by
    // the DevTools protocol (seen here about one run in three); deliver again if none showed.
    let shown: { title: string; body: string; url: string }[] = [];
    for (let attempt = 0; attempt < 3 && !shown.length; attempt++) {
      await cdp.send("ServiceWorker.deliverPushMessage", { origin: server.baseUrl, registrationId, data: JSON.stringify(payload) });
      for (let i = 0; i < 40 && !shown.length; i++) {
        shown = await page.evaluate(() =>
          navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({ title: n.title, body: n.body, url: (n.data as { url: string }).url }))),
        );
        if (!shown.length) await page.waitForTimeout(100);
      }
    }
    t.same(shown, [{ title: "Carol · Year 5", body: "Sports kit tomorrow", url: `/r/${encodeURIComponent(year5)}` }], "the notification names the sender, the room and the text");
    await cdp.detach();
  });

  await t.test("Simplified Chinese, with Intl plurals and dates", async (t) => {
    const { page } = bob;
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.getByRole("button", { name: "退出登录" }).waitFor();
    t.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
    await page.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    const count = (await bobSdk.request("room.get", { roomId: school })).memberCount;
    await page.getByText(`${count} 位成员`).first().waitFor();
    await axe(t, page, "the community home in Chinese");
    await shot(page, "web-community-zh");
    await page.getByLabel("语言").selectOption("en");
  });

  await t.test("at phone width: one column, nothing wider than the screen", async (t) => {
    const phone = await newPerson({ width: 390, height: 844 });
    const { page } = phone;
    await page.goto(server.baseUrl);
    await signIn(page, "bob");
    t.ok(await page.getByRole("navigation").isVisible(), "the rail is the home screen");
    await page.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await acked(page, "news 120").waitFor();
    t.notOk(await page.getByRole("navigation").isVisible(), "a room takes the whole width");
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no sideways scrolling");
    await axe(t, page, "a conversation at phone width");
    await shot(page, "web-phone");
    await phone.context.close();
  });

  await t.test("where registration is invite-only, signing up takes a registration token", async (t) => {
    const closed = await startServer({ registration: { policy: "invite-only" } });
    t.teardown(() => closed.stop(true));
    const token = closed.app.parley.accounts.createRegistrationToken({ uses: 1, expiresAt: null });
    const { page, context } = await newPerson();
    await page.goto(closed.baseUrl);
    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByLabel("Username").fill("erin");
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Registration token").fill("not-a-token");
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "The registration token is invalid, expired or used up." }).waitFor();
    await page.getByLabel("Registration token").fill(token);
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await page.getByRole("navigation", { name: "Communities and groups" }).waitFor();
    await axe(t, page, "the home screen");
    t.ok(await page.evaluate(() => !!localStorage.getItem("parley.session")), "erin is signed in");
    await context.close();
  });

  await t.test("signing out forgets the session", async (t) => {
    const { page } = bob;
    await page.goto(server.baseUrl);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    t.equal(await page.evaluate(() => localStorage.getItem("parley.session")), null);
  });
}
