/**
 * Notification settings, pinned and archived rooms, and the notification policy. The cast: alice
 * (owner of the Hillside School community and of #year5, #year6, #choir, #chess), bob (a parent in
 * all of them), erin (outsider).
 */
import t from "tap";
import { shouldNotify, type NotifySettings } from "../server/notify/policy.ts";
import { nextFrame, ok, rawSocket, refusal, startServer, unthrottled } from "./helpers.ts";

const bob = "@bob:school.test";
const alice = "@alice:school.test";
const now = 1_795_000_000_000;
const message = (content: Record<string, unknown>, sender = alice) => ({ type: "message", sender, content: { kind: "text", body: "hi", ...content } });
const at = (level: NotifySettings["level"], mutedUntil: number | null = null): NotifySettings => ({ level, mutedUntil });

t.test("the policy: every message at level all, nothing of one's own, nothing but messages", async (t) => {
  t.equal(shouldNotify(undefined, message({}), bob, now), "message", "the default is all");
  t.equal(shouldNotify(at("all"), message({}), bob, now), "message");
  t.equal(shouldNotify(at("all"), message({}, bob), bob, now), null, "one's own message");
  t.equal(shouldNotify(at("all"), { type: "reaction", sender: alice, content: { target: 1, emoji: "x" } }, bob, now), null, "not a message");
  t.equal(shouldNotify(at("all"), message({ redacted: true }), bob, now), null, "a deleted message");
});

t.test("the policy: mentions-only rooms notify personal mentions and an admin's @all", async (t) => {
  t.equal(shouldNotify(at("mentions"), message({}), bob, now), null);
  t.equal(shouldNotify(at("mentions"), message({ mentions: [bob] }), bob, now), "mention");
  t.equal(shouldNotify(at("mentions"), message({ mentions: ["@carol:school.test"] }), bob, now), null, "someone else's mention");
  t.equal(shouldNotify(at("mentions"), message({ mentionAll: true }), bob, now), "mention_all");
});

t.test("the policy: a muted room notifies only a personal mention, whether muted always or for a time", async (t) => {
  for (const muted of [at("none"), at("all", now + 60_000), at("mentions", now + 60_000)]) {
    t.equal(shouldNotify(muted, message({}), bob, now), null);
    t.equal(shouldNotify(muted, message({ mentionAll: true }), bob, now), null, "@all does not break a mute");
    t.equal(shouldNotify(muted, message({ mentions: [bob] }), bob, now), "mention", "being named does");
  }
  t.equal(shouldNotify(at("all", now - 1), message({}), bob, now), "message", "a mute that has ended no longer holds");
});

t.test("the policy: a reply under an announcement notifies its author and the people it mentions only", async (t) => {
  const reply = { ...message({ threadRoot: 3 }, "@carol:school.test"), threadRootSender: alice };
  t.equal(shouldNotify(at("all"), reply, alice, now), "thread_reply");
  t.equal(shouldNotify(at("all"), reply, bob, now), null);
  t.equal(shouldNotify(at("all"), { ...reply, content: { ...reply.content, mentions: [bob] } }, bob, now), "mention");
  t.equal(shouldNotify(at("mentions"), reply, alice, now), null, "at mentions-only the author is not told of replies");
});

t.test("room.notify.set, room.pin and room.archive are private settings shown in the room list", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const [aliceC, bobC, erinC] = await Promise.all(["alice", "bob", "erin"].map((n) => server.user(n)));
  const school = (await aliceC.request("community.create", { name: "Hillside School" })).roomId;
  const groups: Record<string, string> = {};
  for (const name of ["Year 5", "Year 6", "Choir", "Chess"]) groups[name] = (await aliceC.request("group.create", { name, communityId: school })).roomId;
  const link = await aliceC.request("link.create", { roomId: school });
  await bobC.request("link.join", { token: link.token });
  for (const id of Object.values(groups)) await bobC.request("group.join", { roomId: id });

  const list0 = await ok(t, bobC, "room.list", {});
  t.same(list0.rooms.map((r: any) => r.name), ["Hillside School", "Chess", "Choir", "Year 5", "Year 6"], "the usual order: community first, then groups by name");
  t.same(list0.rooms[0].notify, { level: "all", mutedUntil: null }, "the default settings");
  t.equal(list0.rooms[0].pinned, false);
  t.equal(list0.rooms[0].archived, false);

  const until = Date.now() + 8 * 3600_000;
  t.same(await ok(t, bobC, "room.notify.set", { roomId: groups["Choir"], level: "all", mutedUntil: until }), { roomId: groups["Choir"], notify: { level: "all", mutedUntil: until } });
  await ok(t, bobC, "room.notify.set", { roomId: groups["Chess"], level: "mentions" });
  await ok(t, bobC, "room.pin", { roomId: groups["Year 6"], pinned: true });
  await ok(t, bobC, "room.pin", { roomId: groups["Year 5"], pinned: true });
  await ok(t, bobC, "room.pin", { roomId: groups["Year 6"], pinned: true });
  t.same(await ok(t, bobC, "room.archive", { roomId: groups["Chess"], archived: true }), { roomId: groups["Chess"], archived: true });

  const list = await ok(t, bobC, "room.list", {});
  t.same(list.rooms.map((r: any) => r.name), ["Year 6", "Year 5", "Hillside School", "Chess", "Choir"], "pinned rooms first, in the order pinned (pinning again keeps the place)");
  const by = (name: string) => list.rooms.find((r: any) => r.name === name);
  t.same(by("Choir").notify, { level: "all", mutedUntil: until });
  t.same(by("Chess").notify, { level: "mentions", mutedUntil: null });
  t.equal(by("Chess").archived, true);
  t.equal(by("Year 6").pinned, true);

  const aliceSees = await ok(t, aliceC, "room.list", {});
  t.ok(aliceSees.rooms.every((r: any) => !r.pinned && !r.archived && r.notify.level === "all"), "bob's settings are his alone");

  await ok(t, bobC, "room.pin", { roomId: school, pinned: true });
  t.equal(await refusal(bobC.request("room.pin", { roomId: groups["Choir"], pinned: true })), "room.pin_limit", "three pinned rooms at most");
  await ok(t, bobC, "room.pin", { roomId: groups["Year 6"], pinned: false });
  await ok(t, bobC, "room.pin", { roomId: groups["Choir"], pinned: true });
  await ok(t, bobC, "room.archive", { roomId: groups["Chess"], archived: false });
  await ok(t, bobC, "room.notify.set", { roomId: groups["Choir"], level: "none", mutedUntil: null });
  const after = await ok(t, bobC, "room.list", {});
  t.same(after.rooms.map((r: any) => r.name), ["Year 5", "Hillside School", "Choir", "Chess", "Year 6"]);
  t.same(after.rooms.find((r: any) => r.name === "Choir").notify, { level: "none", mutedUntil: null }, "muted always; the timed mute is cleared");
  t.equal(after.rooms.find((r: any) => r.name === "Chess").archived, false, "brought back from the archive");

  for (const op of ["room.notify.set", "room.pin", "room.archive"] as const) {
    const params = { "room.notify.set": { roomId: groups["Choir"], level: "all" }, "room.pin": { roomId: groups["Choir"], pinned: true }, "room.archive": { roomId: groups["Choir"], archived: true } }[op];
    t.equal(await refusal(erinC.request(op, params as never)), "room.not_found", `${op}: not a member`);
    t.equal(await refusal(bobC.request(op, { ...params, roomId: "!Nx0Nx0Nx0Nx0:school.test" } as never)), "room.not_found", `${op}: no such room`);
  }
  t.equal(await refusal(bobC.request("room.notify.set", { roomId: groups["Choir"], level: "loud" } as never)), "invalid_params");
  t.equal(await refusal(bobC.request("room.notify.set", { roomId: groups["Choir"], level: "all", mutedUntil: -5 } as never)), "invalid_params");
  t.equal(await refusal(bobC.request("room.pin", { roomId: groups["Choir"] } as never)), "invalid_params");
  for (const op of ["room.notify.set", "room.pin", "room.archive"]) {
    const ws = await rawSocket(server);
    const answer = nextFrame(ws);
    ws.send(JSON.stringify({ id: "1", op, params: { roomId: groups["Choir"], level: "all", pinned: true, archived: true } }));
    t.equal((await answer).error.code, "auth.required", `${op}: unauthenticated`);
    ws.close();
  }
});
