/**
 * The everyday features of the web client in real Chromium: mentions (the picker, highlights,
 * counts, @all for admins), a room's notification level, timed mute, pin and archive, pinned,
 * saved and forwarded messages, reports and the community's moderation queue. Alice runs the
 * Hillside community and Bob is a parent, each in a browser; Carol acts through the SDK. Every
 * check reads back what the server acknowledged; axe runs on each new screen.
 */
import t from "tap";
import type { RoomEvent, ParleyClient } from "../clients/sdk/index.ts";
import { startServer, unthrottled, record, refusal, type TestServer } from "./helpers.ts";
import { acked, axe, chromiumPath, chromiumThere, eventually, launch, person, shot, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else await story();

async function story(): Promise<void> {
  const server: TestServer = await startServer({ ...unthrottled, registration: { policy: "open" } });
  const browser = await launch();
  t.teardown(async () => {
    await browser.close();
    await server.stop(true);
  });
  const aliceSdk = await server.user("alice");
  const bobSdk = await server.user("bob");
  const carol: ParleyClient = await server.user("carol");
  await aliceSdk.request("profile.update", { displayName: "Alice" });
  await bobSdk.request("profile.update", { displayName: "Bob" });
  await carol.request("profile.update", { displayName: "Carol" });
  const hillside = (await aliceSdk.request("community.create", { name: "Hillside" })).roomId;
  const year5 = (await aliceSdk.request("group.create", { name: "Year 5", communityId: hillside })).roomId;
  const parents = (await aliceSdk.request("group.create", { name: "Parents", communityId: hillside })).roomId;
  const link = await aliceSdk.request("link.create", { roomId: hillside });
  for (const c of [bobSdk, carol]) {
    await c.request("link.join", { token: link.token });
    await c.request("group.join", { roomId: year5 });
    await c.request("group.join", { roomId: parents });
  }
  const carolEvents: RoomEvent[] = record(carol);

  const alice = await person(browser);
  const bob = await person(browser);
  const room = (id: string) => `${server.baseUrl}/r/${encodeURIComponent(id)}`;
  await alice.page.goto(server.baseUrl);
  await signIn(alice.page, "alice");
  await bob.page.goto(server.baseUrl);
  await signIn(bob.page, "bob");

  await t.test("bob mentions alice with the picker; she sees the count and the highlight; alice's @all reaches everyone", async (t) => {
    const b = bob.page;
    await b.goto(room(year5));
    await b.getByRole("heading", { name: "Year 5" }).waitFor();
    const box = b.getByLabel("Message", { exact: true });
    await box.pressSequentially("Hello @Ali");
    const picker = b.getByRole("listbox", { name: "People to mention" });
    await picker.getByRole("option", { name: /Alice · @alice/ }).waitFor();
    await axe(t, b, "the mention picker");
    await b.keyboard.press("Enter"); // picks (does not send)
    t.equal(await box.inputValue(), "Hello @alice ", "Enter picks the person: @username is inserted");
    await box.pressSequentially("can you help?");
    await b.keyboard.press("Enter");
    const sent = acked(b, "Hello @alice can you help?");
    await sent.waitFor();
    const seq = Number(await sent.getAttribute("data-seq"));
    const event = await waitFor(carolEvents, (e) => e.type === "message" && e.seq === seq && e.roomId === year5);
    t.same((event.content as { mentions?: string[] }).mentions, [aliceSdk.userId], "the server kept alice as mentioned");
    t.equal((await aliceSdk.request("room.list", {})).rooms.find((r) => r.roomId === year5)?.mentions, 1, "alice has one unread mention");

    const a = alice.page;
    await a.getByRole("navigation", { name: "Communities and groups" }).getByLabel("1 mention of you").first().waitFor();
    await a.goto(`${server.baseUrl}/c/${encodeURIComponent(hillside)}`);
    await a.getByRole("link", { name: /Year 5/ }).getByLabel("1 mention of you").waitFor();
    t.pass("the community's home shows the mention beside Year 5's unread count");
    await a.goto(room(year5));
    const shown = acked(a, "Hello @alice can you help?");
    await shown.locator("mark.x-mention", { hasText: "@alice" }).waitFor();
    t.pass("the mention of alice is highlighted in her conversation");
    await a.reload();
    await acked(a, "Hello @alice can you help?").locator("mark.x-mention", { hasText: "@alice" }).waitFor();
    t.pass("after a reload, history (the server's mentions) highlights it too");
    // Reading the message drops the count.
    const left = await eventually(async () => (await aliceSdk.request("room.list", {})).rooms.find((r) => r.roomId === year5)?.mentions, (n) => n === 0);
    t.equal(left, 0, "read, the mention is no longer counted");

    // @all is offered to admins only.
    const abox = a.getByLabel("Message", { exact: true });
    await abox.pressSequentially("@al");
    await a.getByRole("option", { name: /@all · everyone in this room/ }).click();
    // Type on only once the picker has put "@all " in the box: on a loaded machine the keys could
    // otherwise arrive before the insertion and land in front of it.
    for (let i = 0; i < 200 && !/^@all\s$/.test(await abox.inputValue()); i++) await a.waitForTimeout(50);
    t.match(await abox.inputValue(), /^@all\s$/, "the picker wrote @all into the box");
    await abox.pressSequentially("the trip is on Friday");
    await a.keyboard.press("Enter");
    const all = acked(a, "@all the trip is on Friday");
    await all.waitFor();
    const allSeq = Number(await all.getAttribute("data-seq"));
    const allEvent = await waitFor(carolEvents, (e) => e.type === "message" && e.roomId === year5 && e.seq === allSeq);
    t.equal((allEvent.content as { mentionAll?: boolean }).mentionAll, true, "alice's @all mentions everyone");
    await box.pressSequentially("@al");
    t.equal(await b.getByRole("option", { name: /@all/ }).count(), 0, "bob, a member, is not offered @all");
    await box.fill("");
    await shot(a, "web-mentions");
  });

  await t.test("bob sets Year 5 to mentions only, mutes it for 8 hours, pins it to the top, archives and unarchives it", async (t) => {
    const b = bob.page;
    await b.goto(room(year5));
    await b.getByRole("button", { name: "Notifications and list" }).click();
    await b.getByLabel("Notify me of").selectOption("mentions");
    await b.getByLabel("Mute for").selectOption("8");
    await axe(t, b, "a room's notification settings");
    const before = Date.now();
    await b.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByRole("alert").filter({ hasText: "Saved" }).waitFor();
    const mine = async () => (await bobSdk.request("room.list", {})).rooms.find((r) => r.roomId === year5)!;
    const r1 = await mine();
    t.equal(r1.notify.level, "mentions", "the server has bob's level");
    t.ok(r1.notify.mutedUntil !== null && r1.notify.mutedUntil >= before + 8 * 3600_000 - 60_000, "and a mute about 8 hours ahead");
    await b.getByText(/Muted until/).waitFor();

    const rail = b.getByRole("navigation", { name: "Communities and groups" });
    await b.getByRole("button", { name: "Pin to the top" }).click();
    await b.getByRole("button", { name: "Unpin from the top" }).waitFor();
    t.equal((await mine()).pinned, true, "the server has Year 5 pinned for bob");

    await b.getByRole("button", { name: "Archive", exact: true }).click();
    await b.getByRole("button", { name: "Unarchive" }).waitFor();
    t.equal((await mine()).archived, true, "archived on the server");
    await rail.getByRole("link", { name: "Archived (1)" }).click();
    await b.getByRole("heading", { name: "Archived rooms" }).waitFor();
    await b.locator(`[data-archived="${year5}"]`).waitFor();
    await axe(t, b, "the archived rooms");
    await b.getByRole("button", { name: "Unarchive: Year 5" }).click();
    await b.getByText("No archived rooms.").waitFor();
    t.equal((await mine()).archived, false, "unarchived on the server");
    await b.goto(room(year5));
    await b.getByRole("button", { name: "Notifications and list" }).click();
    await b.getByRole("button", { name: "Unpin from the top" }).click();
    await b.getByRole("button", { name: "Pin to the top" }).waitFor();
    t.equal((await mine()).pinned, false);
  });

  let tripSeq = 0;
  await t.test("alice pins carol's message for everyone; bob saves it and forwards it to Parents, marked Forwarded", async (t) => {
    tripSeq = (await carol.request("message.send", { roomId: year5, body: "Bring a packed lunch", txnId: "c-lunch" })).event.seq;
    const a = alice.page;
    await a.goto(room(year5));
    await acked(a, "Bring a packed lunch").getByRole("button", { name: /More actions/ }).click();
    await a.getByRole("button", { name: "Pin", exact: true }).click();
    const bar = a.getByRole("region", { name: "Pinned messages" });
    await bar.locator(`[data-pinned="${tripSeq}"]`).waitFor();
    t.same((await carol.request("room.get", { roomId: year5 })).pinnedMessages, [tripSeq], "the server lists the pinned message");
    const b = bob.page;
    await b.goto(room(year5));
    await b.getByRole("region", { name: "Pinned messages" }).getByText("Bring a packed lunch").waitFor();
    t.equal(await b.getByRole("region", { name: "Pinned messages" }).getByRole("button", { name: /Unpin/ }).count(), 0, "a member cannot unpin");
    await axe(t, b, "a conversation with a pinned message");

    await acked(b, "Bring a packed lunch").getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByRole("alert").filter({ hasText: "Saved" }).waitFor();
    const saved = await bobSdk.request("message.saved", {});
    t.same(saved.saved.map((s) => [s.message.roomId, s.message.seq]), [[year5, tripSeq]], "the server has it in bob's saved messages");
    await b.getByRole("link", { name: "Saved messages" }).click();
    await b.locator(`[data-saved="${year5}/${tripSeq}"]`).getByText("Bring a packed lunch").waitFor();
    await axe(t, b, "the saved messages");

    await b.goto(room(year5));
    await acked(b, "Bring a packed lunch").getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Forward", exact: true }).click();
    const dialog = b.getByRole("dialog", { name: "Forward" });
    await dialog.getByLabel("Forward to").selectOption({ label: "Parents" });
    await axe(t, b, "the forward dialog");
    await dialog.getByRole("button", { name: "Forward", exact: true }).click();
    await b.getByRole("alert").filter({ hasText: "Forwarded to Parents" }).waitFor();
    const fwd = await waitFor(carolEvents, (e) => e.roomId === parents && e.type === "message" && (e.content as { body?: string }).body === "Bring a packed lunch");
    t.equal((fwd.content as { forwarded?: boolean }).forwarded, true, "the copy in Parents is marked forwarded");
    t.equal(fwd.sender, bobSdk.userId, "as bob's message");
    await b.goto(room(parents));
    const copy = b.locator(`[role=log] li.message[data-seq="${fwd.seq}"]`);
    await copy.getByText("Forwarded").waitFor();
    t.pass("bob sees the acknowledged copy marked Forwarded");
    await b.reload();
    await b.locator(`[role=log] li.message[data-seq="${fwd.seq}"]`).getByText("Forwarded").waitFor();
    t.equal(await b.evaluate(() => Object.keys(localStorage).filter((k) => k.includes("forwarded")).length), 0, "nothing about forwarding is kept on the device");
    t.pass("after a reload, history (the server's view) shows it Forwarded");
    // A second device of bob's, which never saw the live event.
    const phone = await person(browser);
    try {
      await phone.page.goto(server.baseUrl);
      await signIn(phone.page, "bob");
      await phone.page.goto(room(parents));
      await phone.page.locator(`[role=log] li.message[data-seq="${fwd.seq}"]`).getByText("Forwarded").waitFor();
      t.pass("bob's second device shows it Forwarded from history");
    } finally {
      await phone.context.close();
    }

    // Alice unpins from the bar.
    await a.getByRole("region", { name: "Pinned messages" }).getByRole("button", { name: /Unpin/ }).click();
    await a.getByRole("region", { name: "Pinned messages" }).waitFor({ state: "detached" });
    t.same((await carol.request("room.get", { roomId: year5 })).pinnedMessages, [], "unpinned on the server");
  });

  await t.test("bob reports a message and a person; alice resolves them in the moderation queue; bob sees the outcome", async (t) => {
    const rude = (await carol.request("message.send", { roomId: year5, body: "You are all useless", txnId: "c-rude" })).event.seq;
    const b = bob.page;
    await b.goto(room(year5));
    await acked(b, "You are all useless").getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Report", exact: true }).click();
    const dialog = b.getByRole("dialog", { name: "Report message" });
    await dialog.getByLabel("Reason").fill("Insults the parents");
    await axe(t, b, "the report dialog");
    await dialog.getByRole("button", { name: "Send" }).click();
    await b.getByRole("alert").filter({ hasText: "Report sent to the admins." }).waitFor();
    const mine = (await bobSdk.request("report.mine", {})).reports;
    t.match(mine, [{ roomId: year5, seq: rude, userId: carol.userId, reason: "Insults the parents", status: "open" }], "the server has bob's open report");

    // A person, from their profile.
    await b.goto(`${server.baseUrl}/u/${encodeURIComponent(carol.userId)}`);
    await b.getByRole("button", { name: "Report this person" }).click();
    await b.getByRole("dialog", { name: "Report this person" }).getByLabel("Reason").fill("Keeps messaging my child");
    await b.getByRole("dialog", { name: "Report this person" }).getByRole("button", { name: "Send" }).click();
    await b.getByRole("alert").filter({ hasText: "Report sent to the admins." }).waitFor();
    t.equal((await bobSdk.request("report.mine", {})).reports.length, 2, "two reports on the server");

    const a = alice.page;
    await a.goto(`${server.baseUrl}/admin/${encodeURIComponent(hillside)}`);
    await a.getByRole("tab", { name: "Reports" }).click();
    const first = a.locator("[data-report]").filter({ hasText: "Insults the parents" });
    await first.locator(`[data-reported-seq="${rude}"]`).waitFor();
    await first.getByText("Reported by Bob").waitFor();
    await axe(t, a, "the moderation queue");
    await shot(a, "web-moderation");
    await first.getByRole("button", { name: "Delete message" }).click();
    await first.waitFor({ state: "detached" });
    t.equal((await carol.request("message.get", { roomId: year5, seq: rude })).message.deleted, true, "the message is deleted for everyone");
    await b.getByRole("alert").filter({ hasText: "Your report was resolved: the message was deleted." }).waitFor();

    const second = a.locator("[data-report]").filter({ hasText: "Keeps messaging my child" });
    await second.getByRole("button", { name: "Dismiss" }).click();
    await second.waitFor({ state: "detached" });
    await a.getByText("No open reports.").waitFor();
    await a.getByRole("button", { name: "Resolved", exact: true }).click();
    await a.locator("[data-report] [data-action=delete]").waitFor();
    const resolved = (await aliceSdk.request("report.list", { roomId: hillside, status: "resolved" })).reports;
    t.same(resolved.map((r) => r.action).sort(), ["delete", "dismiss"], "both resolved on the server");

    await b.getByRole("link", { name: "My reports" }).click();
    await b.locator("[data-report][data-status=resolved]").first().waitFor();
    t.equal(await b.locator("[data-report][data-status=resolved]").count(), 2, "bob sees both resolved");
    await b.locator("[data-report] [data-outcome=delete]").getByText("Resolved: the message was deleted").waitFor();
    await b.locator("[data-report] [data-outcome=dismiss]").getByText("Resolved: dismissed, no action taken").waitFor();
    await axe(t, b, "my reports");
  });

  await t.test("bob finds carol, messages her privately, replies privately to her message, blocks and unblocks her", async (t) => {
    const b = bob.page;
    await b.getByRole("link", { name: "Search people" }).click();
    await b.getByLabel("Search for").fill("car");
    await b.getByRole("button", { name: "Search", exact: true }).click();
    const card = b.locator(`[data-person="${carol.userId}"]`);
    await card.getByText("Year 5").waitFor();
    await axe(t, b, "the people search");
    await card.getByRole("button", { name: "Message privately: Carol" }).click();
    await b.getByRole("heading", { name: "Carol" }).waitFor();
    const direct = (await carol.request("room.list", {})).rooms.find((r) => r.kind === "direct");
    t.equal(direct?.peer?.userId, bobSdk.userId, "the server made the direct chat of bob and carol");
    await b.getByLabel("Message", { exact: true }).fill("Hi Carol");
    await b.keyboard.press("Enter");
    await acked(b, "Hi Carol").waitFor();
    const hi = await waitFor(carolEvents, (e) => e.roomId === direct!.roomId && e.type === "message" && (e.content as { body?: string }).body === "Hi Carol");
    t.equal(hi.sender, bobSdk.userId, "carol received bob's private message");
    await b.getByRole("navigation", { name: "Communities and groups" }).getByRole("link", { name: /Carol/ }).waitFor();
    await axe(t, b, "a direct chat");

    // Reply privately to carol's group message: the first message quotes it.
    await b.goto(room(year5));
    await acked(b, "Bring a packed lunch").getByRole("button", { name: /More actions/ }).click();
    await b.getByRole("button", { name: "Reply privately" }).click();
    const dialog = b.getByRole("dialog", { name: "Reply privately: Carol" });
    await dialog.getByLabel("Your private message").fill("Shall I bring yours too?");
    await axe(t, b, "the reply-privately dialog");
    await dialog.getByRole("button", { name: "Send" }).click();
    const reply = acked(b, "Shall I bring yours too?");
    await reply.waitFor();
    await reply.locator("blockquote", { hasText: "Bring a packed lunch" }).waitFor();
    const replyEvent = await waitFor(carolEvents, (e) => e.roomId === direct!.roomId && (e.content as { body?: string }).body === "Shall I bring yours too?");
    t.match((replyEvent.content as { quote?: unknown }).quote, { roomId: year5, seq: tripSeq, sender: carol.userId }, "the server's message quotes carol's");

    // Block from her profile; carol can no longer write to bob; unblock from the people page.
    await b.goto(`${server.baseUrl}/u/${encodeURIComponent(carol.userId)}`);
    await b.getByRole("button", { name: "Block", exact: true }).click();
    await b.locator("[data-blocked=true]").waitFor();
    t.same((await bobSdk.request("user.blocks", {})).blocks.map((x) => x.userId), [carol.userId], "the server has the block");
    t.equal(await refusal(carol.request("message.send", { roomId: direct!.roomId, body: "hello?", txnId: "c-blocked" })), "direct.not_allowed", "carol cannot write to bob");
    await b.getByRole("link", { name: "Search people" }).click();
    await b.getByRole("button", { name: "Unblock: Carol" }).click();
    await b.getByText("You have blocked no one.").waitFor();
    t.same((await bobSdk.request("user.blocks", {})).blocks, [], "unblocked on the server");
  });

  await t.test("bob searches messages: matches marked, filtered by room and sender, leading to the message", async (t) => {
    const b = bob.page;
    await b.getByRole("link", { name: "Search messages" }).click();
    await b.getByLabel("Search for").fill("lunch");
    await b.getByRole("button", { name: "Search", exact: true }).click();
    const hits = b.locator("[data-hit]");
    await b.getByRole("status").filter({ hasText: /results/ }).waitFor();
    const server1 = (await bobSdk.request("message.search", { query: "lunch" })).results.map((r) => `${r.roomId}/${r.seq}`);
    t.same(await hits.evaluateAll((els) => els.map((e) => e.getAttribute("data-hit"))), server1, "the results are the server's");
    t.ok(server1.includes(`${year5}/${tripSeq}`), "carol's message is found");
    t.equal(await b.locator(`[data-hit="${year5}/${tripSeq}"] mark`).first().textContent(), "lunch", "the match is marked");
    await axe(t, b, "the message search");
    await shot(b, "web-search");

    await b.getByRole("search").locator("select").selectOption({ label: "Parents" });
    await b.getByRole("button", { name: "Search", exact: true }).click();
    const inParents = (await bobSdk.request("message.search", { query: "lunch", roomId: parents })).results.map((r) => `${r.roomId}/${r.seq}`);
    // The earlier results stay on screen until the new ones come: wait for the list to be the
    // server's answer to the filtered search, not for one of its entries (already shown before).
    const shown = () => hits.evaluateAll((els) => els.map((e) => e.getAttribute("data-hit")).join(" "));
    const showing = async (want: string[]) => {
      for (let i = 0; i < 200 && (await shown()) !== want.join(" "); i++) await b.waitForTimeout(50);
    };
    await showing(inParents);
    t.same(await hits.evaluateAll((els) => els.map((e) => e.getAttribute("data-hit"))), inParents, "only Parents' messages");
    await b.getByRole("search").locator("select").selectOption("");
    await b.getByLabel("From (user id)").fill(carol.userId);
    await b.getByRole("button", { name: "Search", exact: true }).click();
    const fromCarol = (await bobSdk.request("message.search", { query: "lunch", sender: carol.userId })).results.map((r) => `${r.roomId}/${r.seq}`);
    await showing(fromCarol);
    t.same(await hits.evaluateAll((els) => els.map((e) => e.getAttribute("data-hit"))), fromCarol, "only carol's messages");
    await b.locator(`[data-hit="${year5}/${tripSeq}"]`).getByRole("button", { name: /Show in its room/ }).click();
    await b.getByRole("heading", { name: "Year 5" }).waitFor();
    await b.locator(`[role=log] li.message[data-seq="${tripSeq}"]:focus`).waitFor();
    t.pass("the message is shown (focused) in its room");
  });

  await t.test("at phone width: the room settings, a message's menu and the forward dialog fit the screen", async (t) => {
    const phone = await person(browser, { width: 390, height: 844 });
    const p = phone.page;
    await p.goto(server.baseUrl);
    await signIn(p, "bob");
    await p.goto(room(year5));
    await p.getByRole("button", { name: "Notifications and list" }).click();
    await p.getByLabel("Notify me of").waitFor();
    const fits = () => p.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
    t.ok(await fits(), "the room settings fit");
    await axe(t, p, "the room settings at phone width");
    await p.keyboard.press("Escape");
    await acked(p, "Bring a packed lunch").getByRole("button", { name: /More actions/ }).click();
    await p.getByRole("button", { name: "Forward", exact: true }).click();
    await p.getByRole("dialog", { name: "Forward" }).waitFor();
    t.ok(await fits(), "the forward dialog fits");
    await axe(t, p, "the forward dialog at phone width");
    await shot(p, "web-forward-phone");
    await p.keyboard.press("Escape");
    await p.getByRole("dialog", { name: "Forward" }).waitFor({ state: "detached" });
    await phone.context.close();
  });

  await t.test("in Simplified Chinese, the room settings and saved messages speak Chinese", async (t) => {
    const b = bob.page;
    await b.getByLabel("Language").selectOption("zh-CN");
    await b.goto(room(year5));
    await b.getByRole("button", { name: "通知与列表" }).click();
    await b.getByLabel("通知我").waitFor();
    await axe(t, b, "the room settings in Chinese");
    await b.getByRole("link", { name: "收藏的消息" }).click();
    await b.getByRole("heading", { name: "收藏的消息" }).waitFor();
    await b.getByLabel("语言").selectOption("en");
  });
}

/** The first recorded event that matches, waiting for it to arrive. */
async function waitFor(events: RoomEvent[], match: (e: RoomEvent) => boolean): Promise<RoomEvent> {
  for (let i = 0; i < 200; i++) {
    const e = events.find(match);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the event did not arrive");
}
