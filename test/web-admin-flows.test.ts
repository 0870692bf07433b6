/**
 * The web client in real Chromium, the flows test/web-browser.test.ts leaves out: the admin cap
 * the server is configured with, invite links with an expiry and a use limit (copied, their QR
 * code printed, refused once used up or expired), a calendar reminder arriving in an open tab,
 * turning Web Push on and off, a refusal in Simplified Chinese words, and a community deactivated
 * by its owner. Alice (the owner) and Bob (a member) each use a browser context; Carol, Dave,
 * Erin and Frank act through the SDK. Every check reads back what the server acknowledged.
 *
 * The server's clock is the real one plus an offset the test moves forward (buildApp's `now`),
 * so that a link can expire and a reminder fall due without waiting.
 */
import t from "tap";
import { createECDH, randomBytes } from "node:crypto";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { startServer, unthrottled, password, refusal, type TestServer } from "./helpers.ts";
import { axe, chromiumPath, chromiumThere, launch } from "./web-helpers.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;

t.setTimeout(300_000);

if (!chromiumThere) {
  t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
} else {
  await story();
}

async function signIn(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("navigation", { name: "Communities and groups" }).waitFor();
}

async function story(): Promise<void> {
  let offset = 0;
  const server: TestServer = await startServer(
    // Access tokens outlive the clock's jumps below, so that no session ends because of them.
    { ...unthrottled, registration: { policy: "open" }, rooms: { admins_per_community: 3 }, tokens: { access_ttl_seconds: 86400 } },
    { now: () => Date.now() + offset },
  );
  const browser: Browser = await launch();
  t.teardown(async () => {
    await browser.close();
    await server.stop(true);
  });
  const newPerson = async (): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, locale: "en-US", timezoneId: "Europe/London" });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    page.on("pageerror", (err) => t.fail(`page error: ${err.message}`));
    return { context, page };
  };

  const aliceSdk = await server.user("alice");
  const bobSdk = await server.user("bob");
  const carol = await server.user("carol");
  const dave = await server.user("dave");
  const erin = await server.user("erin");
  const frank = await server.user("frank");
  const school = (await aliceSdk.request("community.create", { name: "Hillside School" })).roomId;
  const year5 = (await aliceSdk.request("group.create", { name: "Year 5", communityId: school })).roomId;
  const entry = await aliceSdk.request("link.create", { roomId: school });
  for (const c of [bobSdk, carol, dave, erin] as ParleyClient[]) await c.request("link.join", { token: entry.token });
  await bobSdk.request("group.join", { roomId: year5 });

  const alice = await newPerson();
  // Print is stubbed: the test records whether the QR code was on screen, and loaded, when it was called.
  const printed: { qrShown: boolean; url: string | null }[] = [];
  let onPrint = (): void => undefined;
  await alice.page.exposeFunction("parleyTestPrinted", (r: { qrShown: boolean; url: string | null }) => {
    printed.push(r);
    onPrint();
  });
  await alice.context.addInitScript(() => {
    window.print = () => {
      const img = document.querySelector<HTMLImageElement>(".qr[role=dialog] img");
      (window as unknown as { parleyTestPrinted: (r: unknown) => void }).parleyTestPrinted({
        qrShown: !!img && img.complete && img.naturalWidth > 0,
        url: document.querySelector(".qr[role=dialog] code")?.textContent ?? null,
      });
    };
  });
  await alice.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.baseUrl });
  await signIn(alice.page, server.baseUrl, "alice");

  const bob = await newPerson();
  // Notifications shown by the page are recorded (a headless browser shows none on screen).
  // (Init scripts are strings here: tsx would wrap named functions in a helper the page lacks.)
  await bob.context.addInitScript({
    content: `
      window.parleyTestNotes = [];
      window.Notification = function (title, opts) { window.parleyTestNotes.push({ title: title, body: opts && opts.body }); };
      window.Notification.permission = "granted";
      window.Notification.requestPermission = async function () { return "granted"; };
    `,
  });
  await signIn(bob.page, server.baseUrl, "bob");

  await t.test("the admin cap shown is the one the server is configured with, and promotions stop there", async (t) => {
    const discovery = await (await fetch(`${server.baseUrl}/.well-known/parley`)).json();
    t.equal(discovery.limits.adminsPerCommunity, 3, "the discovery document publishes rooms.admins_per_community");
    const a = alice.page;
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(school)}`);
    await a.getByRole("tab", { name: "Members" }).click();
    await a.getByText("1 of 3 admins").waitFor();
    await a.getByRole("button", { name: "Make admin: Carol" }).click();
    await a.getByText("2 of 3 admins").waitFor();
    await a.getByRole("button", { name: "Make admin: Dave" }).click();
    await a.getByText("3 of 3 admins").waitFor();
    await a.getByText("The admin limit is reached").waitFor();
    t.ok(await a.getByRole("button", { name: "Make admin: Erin" }).isDisabled(), "no more promotions offered at the cap");
    const members = (await aliceSdk.request("room.members", { roomId: school })).members!;
    t.same(members.filter((m) => m.role !== "member").map((m) => m.userId).sort(), [aliceSdk.userId, carol.userId, dave.userId].sort(), "the server has three admins");
    t.equal(await refusal(aliceSdk.request("member.role", { roomId: school, userId: erin.userId, role: "admin" })), "room.admin_limit", "and refuses a fourth, as the panel said");
    await axe(t, a, "the members tab at the cap");
  });

  let limited = "";
  await t.test("an invite link with an expiry and a use limit: shown, copied, its QR code printed, refused once used up", async (t) => {
    const a = alice.page;
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(year5)}`);
    await a.getByRole("tab", { name: "Invite links" }).click();
    await a.getByLabel("Expires after (hours, empty for never)").fill("2");
    await a.getByLabel("Use limit (empty for none)").fill("1");
    const before = Date.now() + offset;
    await a.getByRole("button", { name: "Create link" }).click();
    const row = a.locator("li[data-link]").first();
    await row.getByText(/0 uses \/ 1 · expires/).waitFor();
    const link = (await aliceSdk.request("link.list", { roomId: year5 })).links[0];
    limited = link.token;
    t.equal(link.maxUses, 1, "the server has the use limit");
    t.ok(link.expiresAt! >= before + 2 * HOUR && link.expiresAt! <= Date.now() + offset + 2 * HOUR, "and an expiry two hours on");
    t.match(await row.textContent(), link.url, "the row shows the link's address");

    await row.getByRole("button", { name: "Copy" }).click();
    await a.getByText("Link copied").waitFor();
    t.equal(await a.evaluate(() => navigator.clipboard.readText()), link.url, "the clipboard holds the link");

    await row.getByRole("button", { name: "QR code" }).click();
    const dialog = a.getByRole("dialog", { name: "QR code" });
    await dialog.locator("img").waitFor();
    await a.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>(".qr[role=dialog] img");
      return !!img && img.complete && img.naturalWidth > 0;
    });
    const called = new Promise<void>((resolve) => (onPrint = resolve));
    await dialog.getByRole("button", { name: "Print" }).click();
    await called;
    t.same(printed, [{ qrShown: true, url: link.url }], "print was called with the QR code of this link on screen");
    await axe(t, a, "the QR code dialog");
    await dialog.getByRole("button", { name: "Close" }).click();

    const qr = await fetch(`${server.baseUrl}/api/v1/invites/${encodeURIComponent(link.token)}/qr.svg`);
    t.equal(qr.status, 200, "the QR code the dialog shows is served");
    t.match(await qr.text(), /<svg/);

    await erin.request("link.join", { token: link.token });
    t.equal((await erin.request("room.get", { roomId: year5 })).myRole, "member", "erin joined by the link's one use");
    t.equal(await refusal(carol.request("link.join", { token: link.token })), "invite.invalid", "a second use is refused");
    t.equal(await refusal(frank.request("link.preview", { token: link.token })), "invite.invalid", "and the used-up link no longer previews");
    await a.reload();
    await a.getByRole("tab", { name: "Invite links" }).click();
    await a.locator("li[data-link]").first().getByText(/1 use \/ 1/).waitFor();
    t.equal((await aliceSdk.request("link.list", { roomId: year5 })).links[0].uses, 1);
  });


  await t.test("a calendar reminder arrives in bob's open tab", async (t) => {
    const b = bob.page;
    await b.goto(`${server.baseUrl}/r/${encodeURIComponent(year5)}`);
    await b.getByRole("heading", { name: "Year 5" }).waitFor();
    const start = Date.now() + offset + 30 * MINUTE;
    const created = await aliceSdk.request("event.create", { roomId: year5, txnId: "ev-parents", title: "Parents' evening", start, timeZone: "Europe/London", reminders: [20 * 60] });
    const seq = created.event.seq;
    await bobSdk.request("event.rsvp", { roomId: year5, seq, answer: "going" });
    await b.locator(`.event[data-event="${seq}"]`).waitFor();
    // Eleven minutes on, the reminder (twenty minutes before the start) is due.
    offset += 11 * MINUTE;
    server.app.parley.reminders.runDue();
    await b.locator(".toast").filter({ hasText: "Parents' evening:" }).first().waitFor({ timeout: 60_000 });
    const notes = await b.evaluate(() => (window as unknown as { parleyTestNotes: { title: string; body?: string }[] }).parleyTestNotes);
    t.equal(notes.length, 1, "one notification");
    t.equal(notes[0].title, "Parents' evening", "titled with the event");
    t.match(notes[0].body, /^Parents' evening: /, "and saying when it starts");
    const rows = server.app.parley.storage.sqlite.prepare("SELECT outcome FROM reminders WHERE room_id = ? AND event_seq = ?").all(year5, seq) as { outcome: string | null }[];
    t.same(rows.map((r) => r.outcome !== null), [true], "the server marked the reminder done");
  });

  await t.test("notifications on: the client subscribes with the server's VAPID key and posts the subscription; off removes it", async (t) => {
    // NOT covered here: a real push service. Headless Chromium has none, so PushManager's
    // subscribe and getSubscription are replaced by a fake that records the key it is given and
    // returns a subscription with a made-up https endpoint. What IS covered: the client's switch
    // asks push.vapid_key, hands that key to PushManager, sends push.subscribe with what
    // PushManager returned, and push.unsubscribe on the way off; the server stores and drops it.
    // The server's sending to a push endpoint is tested in test/push.test.ts, and the service
    // worker's notification in test/web-browser.test.ts.
    const ecdh = createECDH("prime256v1");
    const fake = { endpoint: "https://push.example.test/send/alice-browser", p256dh: ecdh.generateKeys().toString("base64url"), auth: randomBytes(16).toString("base64url") };
    const { context, page } = await newPerson();
    await context.grantPermissions(["notifications"], { origin: server.baseUrl });
    await context.addInitScript({
      content: `
        const sub = ${JSON.stringify(fake)};
        window.parleyTestKeys = [];
        window.parleyTestSub = null;
        PushManager.prototype.getSubscription = async function () { return window.parleyTestSub; };
        PushManager.prototype.subscribe = async function (opts) {
          const key = new Uint8Array(opts.applicationServerKey);
          window.parleyTestKeys.push(btoa(String.fromCharCode(...key)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""));
          window.parleyTestSub = {
            endpoint: sub.endpoint,
            expirationTime: null,
            toJSON: function () { return { endpoint: sub.endpoint, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } }; },
            unsubscribe: async function () { window.parleyTestSub = null; return true; },
          };
          return window.parleyTestSub;
        };
      `,
    });
    await signIn(page, server.baseUrl, "alice");
    await page.goto(`${server.baseUrl}/me`);
    await page.locator("[data-push=off]").waitFor();
    await page.getByRole("button", { name: "Turn on notifications" }).click();
    await page.locator("[data-push=on]").waitFor();
    const { publicKey } = await aliceSdk.request("push.vapid_key", {});
    t.same(await page.evaluate(() => (window as unknown as { parleyTestKeys: string[] }).parleyTestKeys), [publicKey], "PushManager was given the server's VAPID key");
    const db = server.app.parley.storage.sqlite;
    const stored = db.prepare("SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = ?").all(aliceSdk.userId);
    t.same(stored, [{ endpoint: fake.endpoint, p256dh: fake.p256dh, auth: fake.auth }], "the server stored the subscription PushManager returned");
    await axe(t, page, "the notifications switch");
    await page.getByRole("button", { name: "Turn off notifications" }).click();
    await page.locator("[data-push=off]").waitFor();
    t.same(db.prepare("SELECT endpoint FROM push_subscriptions WHERE user_id = ?").all(aliceSdk.userId), [], "and removed it when turned off");
    await context.close();
  });

  await t.test("in Chinese, an expired link's refusal is in Chinese words, never a code", async (t) => {
    const a = alice.page;
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(year5)}`);
    await a.getByRole("tab", { name: "Invite links" }).click();
    await a.getByLabel("Expires after (hours, empty for never)").fill("1");
    await a.getByRole("button", { name: "Create link" }).click();
    await a.locator("li[data-link]", { hasNotText: limited }).filter({ hasText: "expires" }).waitFor();
    const hourly = (await aliceSdk.request("link.list", { roomId: year5 })).links.find((l) => l.token !== limited && l.expiresAt)!;
    t.ok((await carol.request("link.preview", { token: hourly.token })).roomId, "valid now");
    offset += 2 * HOUR;
    t.equal(await refusal(carol.request("link.preview", { token: hourly.token })), "invite.invalid", "the server refuses it once expired");

    const b = bob.page;
    await b.goto(server.baseUrl);
    await b.getByLabel("Language").selectOption("zh-CN");
    await b.getByRole("button", { name: "退出登录" }).waitFor();
    await b.goto(`${server.baseUrl}/i/${encodeURIComponent(hourly.token)}`);
    const alert = b.getByRole("alert").filter({ hasText: "邀请链接无效、已过期、已撤销或已用完。" });
    await alert.waitFor();
    t.notMatch(await alert.textContent(), /invite\.invalid|[a-z]+\.[a-z_]+/, "no raw code shown");
    await axe(t, b, "a refused invite in Chinese");
    await b.getByLabel("语言").selectOption("en");
  });

  await t.test("alice deactivates the community: its groups go on alone, members see it read-only", async (t) => {
    const a = alice.page;
    a.once("dialog", (d) => void d.accept());
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(school)}`);
    await a.getByRole("tab", { name: "Settings" }).click();
    await a.getByRole("button", { name: "Deactivate community" }).click();
    await a.getByRole("navigation", { name: "Communities and groups" }).waitFor();
    const after = await aliceSdk.request("room.get", { roomId: school });
    t.equal(after.deactivated, true, "the server deactivated it");
    t.same(after.groups, [], "and unlinked its groups");
    t.equal((await bobSdk.request("room.get", { roomId: year5 })).communityId, null, "Year 5 goes on by itself");
    t.equal(await refusal(aliceSdk.request("message.send", { roomId: school, body: "still here?", txnId: "late" })), "room.deactivated", "announcements are refused");

    const b = bob.page;
    await b.goto(`${server.baseUrl}/c/${encodeURIComponent(school)}`);
    await b.locator("[data-deactivated]").getByText("This community was deactivated").waitFor();
    await axe(t, b, "a deactivated community's home");
    await a.goto(`${server.baseUrl}/r/${encodeURIComponent(school)}`);
    await a.getByText("This community was deactivated").waitFor();
    t.equal(await a.getByLabel("Message", { exact: true }).count(), 0, "not even its owner is offered a composer");
    await b.getByLabel("Language").selectOption("zh-CN");
    await b.locator("[data-deactivated]").getByText("此社区已停用").waitFor();
    await b.getByLabel("语言").selectOption("en");
  });
}
