/**
 * A direct chat across servers in the web client, in real Chromium: two servers on loopback,
 * alice of a.test (through the SDK) owns the group Maths that bob of b.test is in; bob, in a
 * browser signed into b.test, finds alice with the people search, opens a chat with her and talks
 * with her there, reopens it from her profile (reached from her message in Maths) and blocks her there. Every check
 * reads back what the servers acknowledged.
 */
import t from "tap";
import type { RoomEvent } from "../clients/sdk/index.ts";
import { record, refusal, unthrottled } from "./helpers.ts";
import { startCluster } from "./federation/cluster.ts";
import { acked, axe, chromiumPath, chromiumThere, eventually, launch, person, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else await story();

async function waitFor(events: RoomEvent[], match: (e: RoomEvent) => boolean): Promise<RoomEvent> {
  return eventually(async () => events.find(match), (e) => e !== undefined) as Promise<RoomEvent>;
}

async function story(): Promise<void> {
  const servers = await startCluster(["a.test", "b.test"], () => ({ ...unthrottled }));
  const { "a.test": a, "b.test": b } = servers;
  const browser = await launch();
  t.teardown(async () => {
    await browser.close();
    for (const s of [a, b]) await s.stop(true).catch(() => undefined);
  });
  const alice = await a.user("alice");
  const bobSdk = await b.user("bob");
  const { roomId: maths } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId: maths });
  await bobSdk.request("link.join", { token, server: "a.test" });
  await eventually(async () => b.app.parley.rooms.state(maths)?.members.has("@bob:b.test") ?? false, (v) => v);
  const aliceEvents = record(alice);

  const bob = await person(browser);
  const page = bob.page;
  await page.goto(b.baseUrl);
  await signIn(page, "bob");

  await t.test("bob of b finds alice of a in the people search and opens a chat with her", async (t) => {
    await page.getByRole("link", { name: "Search people" }).click();
    await page.getByLabel("Search for").fill("ali");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const card = page.locator(`[data-person="@alice:a.test"]`);
    await card.getByText("Maths").waitFor();
    await axe(t, page, "the people search with a user of another server");
    await card.getByRole("button", { name: "Message privately: Alice" }).click();
    await page.getByRole("heading", { name: "Alice" }).waitFor();
    const direct = (await bobSdk.request("room.list", {})).rooms.find((r) => r.kind === "direct");
    t.match(direct?.roomId, /:b\.test$/, "the chat is hosted at bob's server, its opener's");
    t.equal(direct?.peer?.userId, "@alice:a.test");

    await page.getByLabel("Message", { exact: true }).fill("Hi Alice, from b");
    await page.keyboard.press("Enter");
    await acked(page, "Hi Alice, from b").waitFor();
    const hi = await waitFor(aliceEvents, (e) => e.roomId === direct!.roomId && e.type === "message");
    t.equal(hi.sender, "@bob:b.test", "alice, on a, received bob's message");
    await alice.request("message.send", { roomId: direct!.roomId, txnId: "a1", body: "Hello Bob, from a" });
    await acked(page, "Hello Bob, from a").waitFor();
    t.pass("bob sees alice's answer, proposed by a and sequenced at b");
    await page.getByRole("navigation", { name: "Communities and groups" }).getByRole("link", { name: /Alice/ }).waitFor();
    await axe(t, page, "a direct chat with a user of another server");
  });

  await t.test("from alice's message in Maths (hosted at a), her profile's Message privately button opens the same chat", async (t) => {
    await alice.request("message.send", { roomId: maths, txnId: "m1", body: "Homework is on page 12" });
    await page.goto(`${b.baseUrl}/r/${encodeURIComponent(maths)}`);
    const said = acked(page, "Homework is on page 12");
    await said.waitFor();
    await said.locator("a.sender").click();
    await page.getByRole("button", { name: "Message privately", exact: true }).click();
    await acked(page, "Hi Alice, from b").waitFor();
    const directs = (await bobSdk.request("room.list", {})).rooms.filter((r) => r.kind === "direct");
    t.equal(directs.length, 1, "still one chat with alice");
  });

  await t.test("bob blocks alice from her profile page: b tells a, and alice can no longer write to him", async (t) => {
    await page.goto(`${b.baseUrl}/u/${encodeURIComponent("@alice:a.test")}`);
    await page.getByRole("button", { name: "Block", exact: true }).click();
    await page.locator("[data-blocked=true]").waitFor();
    t.same((await bobSdk.request("user.blocks", {})).blocks.map((x) => x.userId), ["@alice:a.test"], "b has the block");
    const roomId = (await bobSdk.request("room.list", {})).rooms.find((r) => r.kind === "direct")!.roomId;
    const code = await eventually(
      () => refusal(alice.request("message.send", { roomId, txnId: `a-${Date.now()}`, body: "Bob?" })),
      (c) => c === "direct.not_allowed",
    );
    t.equal(code, "direct.not_allowed", "alice is refused as a blocked person, once b has told a");
  });
}
