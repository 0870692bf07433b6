/**
 * Direct chats and blocks over the real protocol. The cast: alice (owner of the Hillside School
 * community and its #year5 group), bob (a parent in #year5), carol (a parent in the community
 * only), erin (on the server, sharing nothing with anyone).
 */
import t from "tap";
import sharp from "sharp";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { authorize } from "../server/rooms/authorize.ts";
import { directSettings, type RoomState } from "../server/rooms/types.ts";
import { eventFor, nextFrame, ok, rawSocket, record, refusal, refusalOf, schemaErrors, openSchool as openSchoolCast } from "./helpers.ts";
import type { ConfigOverrides } from "../server/config/load.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


/** The school with bob and carol in the community, only bob in Year 5 (dave stays outside). */
const openSchool = (t: Test, overrides: ConfigOverrides = {}) => openSchoolCast(t, { overrides, community: ["bob", "carol"], year5: ["bob"], year5Admins: [] });

/** Waits until every push sent to these clients before now has arrived. */
async function settle(...clients: ParleyClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.request("ping", {})));
}

let txn = 0;
async function say(client: ParleyClient, roomId: string, body: string, extra: { replyTo?: number } = {}): Promise<number> {
  const r = await client.request("message.send", { roomId, body, txnId: `d${++txn}`, ...extra });
  return r.event.seq;
}

t.test("alice opens a direct chat with bob, a fellow parent: one room for the pair, reopened from either side", async (t) => {
  const { server, alice, bob } = await openSchool(t);
  const bobSees = new Promise<any>((resolve) => bob.on("room.event", (e) => e.type === "member.join" && (e.content as any).via === "direct" && resolve(e)));
  const opened = await ok(t, alice, "direct.open", { userId: bob.userId });
  t.equal(opened.created, true);
  t.match(opened.roomId, /^!.+:school\.test$/, "the room id names the opener's server, its home");
  t.same(opened.peer, { userId: bob.userId, displayName: "Bob", avatar: null });
  const pushed = await bobSees;
  t.equal(pushed.roomId, opened.roomId, "bob learns of the chat from his join");
  t.equal(pushed.sender, alice.userId);

  const fromBob = await ok(t, bob, "direct.open", { userId: alice.userId });
  t.same({ roomId: fromBob.roomId, created: fromBob.created }, { roomId: opened.roomId, created: false }, "bob reopens the same room");
  t.equal(fromBob.peer.userId, alice.userId);
  const again = await ok(t, alice, "direct.open", { userId: bob.userId });
  t.equal(again.roomId, opened.roomId);

  const room = await ok(t, alice, "room.get", { roomId: opened.roomId });
  t.equal(room.kind, "direct");
  t.equal(room.communityId, null);
  t.same(room.admins, [], "no admins in a direct chat");
  const members = await ok(t, bob, "room.members", { roomId: opened.roomId });
  t.same(members.members, [alice.userId, bob.userId].sort().map((userId) => ({ userId, role: "member" })), "two plain members");

  const listed = (await ok(t, alice, "room.list", {})).rooms.find((r: any) => r.roomId === opened.roomId);
  t.match(listed, { kind: "direct", name: "Bob", role: "member", peer: { userId: bob.userId, displayName: "Bob" } }, "room.list shows the other person");
  const bobsList = (await ok(t, bob, "room.list", {})).rooms.find((r: any) => r.roomId === opened.roomId);
  t.match(bobsList, { kind: "direct", name: "Alice", peer: { userId: alice.userId } });
  const rows = server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM direct_chats").get() as { n: number };
  t.equal(rows.n, 1, "one row for the pair");
});

t.test("bob and carol open a chat with each other at the same moment: one room", async (t) => {
  const { server, bob, carol } = await openSchool(t);
  const [a, b] = await Promise.all([bob.request("direct.open", { userId: carol.userId }), carol.request("direct.open", { userId: bob.userId })]);
  t.equal(a.roomId, b.roomId);
  t.same([a.created, b.created].sort(), [false, true], "one of them made it");
  const rooms = server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM rooms WHERE kind = 'direct'").get() as { n: number };
  t.equal(rooms.n, 1);
});

t.test("the pair keeps one direct room: of a second one recorded for them, the room whose id sorts first", async (t) => {
  const { server, alice, bob } = await openSchool(t);
  const { roomId } = await alice.request("direct.open", { userId: bob.userId });
  const store = server.app.parley.rooms.storeView().store;
  // "~" sorts after every room id's characters, " " before them.
  store.insertDirect(bob.userId, alice.userId, "!~later:elsewhere.test", 1);
  t.equal(store.findDirect(alice.userId, bob.userId), roomId, "a room sorting later changes nothing, in either order of the pair");
  store.insertDirect(bob.userId, alice.userId, "! first:elsewhere.test", 1);
  t.equal(store.findDirect(bob.userId, alice.userId), "! first:elsewhere.test", "a room sorting first becomes the pair's (both servers agree: docs/architecture.md)");
  const listed = async () => (await alice.request("room.list", {})).rooms.filter((r) => r.kind === "direct").map((r) => r.roomId);
  t.same(await listed(), [], "the room that is no longer the pair's is not listed while nothing was said in it");
  await alice.request("message.send", { roomId, txnId: "a1", body: "Said before the other room came" });
  t.same(await listed(), [roomId], "once something was said in it, it stays listed: words are never hidden");
});

t.test("every message feature works in a direct chat: replies, reactions, edits, deletions, files, receipts, typing", async (t) => {
  const { server, alice, bob } = await openSchool(t);
  const { roomId } = await alice.request("direct.open", { userId: bob.userId });
  const incoming = eventFor(bob, roomId, "message");
  const first = await say(alice, roomId, "Hello Bob, about Friday");
  t.equal((await incoming).sender, alice.userId, "bob gets alice's message live");
  const reply = await say(bob, roomId, "Hi! Yes?", { replyTo: first });
  await ok(t, alice, "message.react", { roomId, seq: reply, emoji: "👍" });
  await ok(t, bob, "message.edit", { roomId, seq: reply, body: "Hi Alice! Yes?" });
  const oops = await say(alice, roomId, "wrong chat");
  await ok(t, alice, "message.delete", { roomId, seq: oops, forEveryone: true });
  const mine = await say(bob, roomId, "note to self");
  await ok(t, bob, "message.delete", { roomId, seq: mine, forEveryone: false });

  const bytes = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#00ff00" } }).png().toBuffer();
  const up = await fetch(`${server.baseUrl}/api/v1/media?name=dot.png`, { method: "POST", headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream" }, body: bytes });
  const file = (await up.json()) as { mediaId: string };
  await ok(t, alice, "message.send", { roomId, txnId: "file1", file: { mediaId: file.mediaId, name: "dot.png" }, body: "the map" });
  const fetched = await fetch(`${server.baseUrl}/api/v1/media/${file.mediaId}`, { headers: { authorization: `Bearer ${bob.session.accessToken}` } });
  t.equal(fetched.status, 200, "bob may fetch the file shared with him");

  const history = await ok(t, bob, "message.history", { roomId });
  const bySeq = new Map(history.messages.map((m: any) => [m.seq, m]));
  t.match(bySeq.get(reply), { replyTo: first, body: "Hi Alice! Yes?", edited: true, reactions: [{ emoji: "👍", count: 1 }] });
  t.match(bySeq.get(oops), { deleted: true, body: null });
  t.notOk(bySeq.has(mine), "deleted for bob only");
  t.equal(history.messages.at(-1).kind, "file");

  const read = await ok(t, bob, "receipt.read", { roomId, seq: first });
  t.equal(read.seq, first);
  const receipts = await ok(t, alice, "receipt.get", { roomId, seq: first });
  t.match(receipts, { readBy: 1, of: 1 });
  t.same(receipts.readers.map((r: any) => r.userId), [bob.userId], "in a direct chat the sender sees who read it");

  const typing = record(alice, "room.typing");
  await ok(t, bob, "typing.set", { roomId, typing: true });
  await settle(alice);
  t.same(typing, [{ roomId, userId: bob.userId, typing: true }]);
});

t.test("a direct chat takes no admin actions, no third person and no leaving", async (t) => {
  const { alice, bob, carol } = await openSchool(t);
  const { roomId } = await alice.request("direct.open", { userId: bob.userId });
  t.equal(await refusalOf(carol, "message.send", { roomId, body: "hi", txnId: "x" }), "room.not_found", "an outsider cannot post");
  t.equal(await refusalOf(carol, "message.history", { roomId }), "room.not_found", "nor read");
  t.equal(await refusalOf(carol, "room.get", { roomId }), "room.not_found");
  t.equal(await refusalOf(alice, "member.invite", { roomId, userId: carol.userId }), "room.invalid", "no third person");
  t.equal(await refusalOf(alice, "member.remove", { roomId, userId: bob.userId }), "room.invalid");
  t.equal(await refusalOf(alice, "member.role", { roomId, userId: bob.userId, role: "admin" }), "room.invalid");
  t.equal(await refusalOf(alice, "room.update", { roomId, name: "Secret" }), "room.invalid");
  t.equal(await refusalOf(alice, "room.settings.update", { roomId, sendPolicy: "admins" }), "room.invalid");
  t.equal(await refusalOf(alice, "member.ban", { roomId, userId: bob.userId }), "room.invalid");
  t.equal(await refusalOf(alice, "member.unban", { roomId, userId: bob.userId }), "room.invalid");
  const seq = await say(alice, roomId, "pin me?");
  t.equal(await refusalOf(alice, "message.pin", { roomId, seq }), "room.invalid", "no pinned messages");
  t.equal(await refusalOf(alice, "message.unpin", { roomId, seq }), "room.invalid");
  t.equal(await refusalOf(alice, "room.leave", { roomId }), "room.invalid", "the chat stays; it is reopened, not rejoined");
  t.equal(await refusalOf(alice, "link.create", { roomId }), "room.forbidden", "no invite links");
  t.equal(await refusalOf(alice, "message.send", { roomId, body: "x", txnId: "t1", threadRoot: 1 }), "room.invalid", "no announcement threads");
});

t.test("direct.open refusals: yourself, nobody, someone you share nothing with, malformed, unauthenticated", async (t) => {
  const { server, alice, bob, erin } = await openSchool(t);
  t.equal(await refusalOf(alice, "direct.open", { userId: alice.userId }), "user.self");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@nobody:school.test" }), "user.not_found");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@bob:elsewhere.test" }), "federation.unreachable", "a user of a server that cannot be reached (test/federation/direct.test.ts: other servers)");
  t.equal(await refusalOf(erin, "direct.open", { userId: alice.userId }), "direct.not_allowed", "erin shares no community with alice");
  t.equal(await refusalOf(alice, "direct.open", { userId: erin.userId }), "direct.not_allowed", "nor the other way");
  t.equal(await refusalOf(alice, "direct.open", {} as never), "invalid_params");
  t.equal(await refusalOf(alice, "direct.open", { userId: "bob" }), "invalid_params");
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, body: "hi", txnId: "x" } as never), "invalid_params", "a body needs replyTo");
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, replyTo: { roomId: "!x:school.test", seq: 1 } } as never), "invalid_params", "replyTo needs a body and a txnId");
  const n = server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM rooms WHERE kind = 'direct'").get() as { n: number };
  t.equal(n.n, 0, "no refusal left a room behind");

  const ws = await rawSocket(server);
  t.teardown(() => ws.close());
  ws.send(JSON.stringify({ id: "1", op: "direct.open", params: { userId: bob.userId } }));
  const reply = await nextFrame(ws);
  t.equal(reply.error.code, "auth.required");
});

t.test("where the server's policy opens direct chats to everyone on it, erin may write to alice", async (t) => {
  const { alice, erin } = await openSchool(t, { direct: { open_to: "server" } });
  const opened = await ok(t, erin, "direct.open", { userId: alice.userId });
  t.equal(opened.created, true);
  t.equal(await refusalOf(erin, "direct.open", { userId: "@bob:elsewhere.test" }), "federation.unreachable", "a user of another server is asked of their server, whatever the policy");
});

t.test("alice replies privately to bob's message in #year5 and carol, not in #year5, sees the quote", async (t) => {
  const { alice, bob, carol, year5 } = await openSchool(t);
  const asked = await say(bob, year5, "Who can drive for the trip?");

  const r = await ok(t, alice, "direct.open", { userId: bob.userId, replyTo: { roomId: year5, seq: asked }, body: "I can, on Friday.", txnId: "rp1" });
  t.equal(r.created, true, "the chat is opened by the reply");
  t.equal(r.duplicate, false);
  t.same(schemaErrors("event/message", r.event.content), []);
  t.match(r.event.content, { kind: "text", body: "I can, on Friday.", quote: { roomId: year5, seq: asked, sender: bob.userId, kind: "text", body: "Who can drive for the trip?" } });
  const retry = await ok(t, alice, "direct.open", { userId: bob.userId, replyTo: { roomId: year5, seq: asked }, body: "I can, on Friday.", txnId: "rp1" });
  t.same({ duplicate: retry.duplicate, seq: retry.event.seq }, { duplicate: true, seq: r.event.seq }, "a retry is stored once");

  // Carol is in the community but not in #year5: the quote is a snapshot she may read.
  const toCarol = await ok(t, alice, "direct.open", { userId: carol.userId, replyTo: { roomId: year5, seq: asked }, body: "Bob asks for drivers", txnId: "rp2" });
  await bob.request("message.edit", { roomId: year5, seq: asked, body: "Drivers, anyone?" });
  const carolReads = await ok(t, carol, "message.history", { roomId: toCarol.roomId });
  const quoted = carolReads.messages.find((m: any) => m.seq === toCarol.event.seq);
  t.same(quoted.quote, { roomId: year5, seq: asked, sender: bob.userId, kind: "text", body: "Who can drive for the trip?", ts: quoted.quote.ts }, "as it was when quoted");
  t.equal(await refusalOf(carol, "message.get", { roomId: year5, seq: asked }), "room.not_found", "carol still cannot read #year5 itself");

  // Deleting the private reply for everyone takes its quote with it.
  await alice.request("message.delete", { roomId: toCarol.roomId, seq: toCarol.event.seq, forEveryone: true });
  const after = await carol.request("message.get", { roomId: toCarol.roomId, seq: toCarol.event.seq });
  t.equal(after.message.deleted, true);
  t.notOk("quote" in after.message, "no quote left");

  // Refusals: a room alice cannot read, a message that is not there or was deleted.
  const secret = await bob.request("group.create", { name: "Bob's own" });
  const hidden = await say(bob, secret.roomId, "private");
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, replyTo: { roomId: secret.roomId, seq: hidden }, body: "?", txnId: "rp3" }), "room.not_found");
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, replyTo: { roomId: year5, seq: 999 }, body: "?", txnId: "rp4" }), "message.not_found");
  const gone = await say(bob, year5, "gone soon");
  await bob.request("message.delete", { roomId: year5, seq: gone, forEveryone: true });
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, replyTo: { roomId: year5, seq: gone }, body: "?", txnId: "rp5" }), "message.not_found");
  t.equal(await refusalOf(alice, "direct.open", { userId: bob.userId, replyTo: { roomId: year5, seq: asked }, body: "x".repeat(5000), txnId: "rp6" }), "message.too_long");
});

t.test("blocking: private to the blocker; the blocked person cannot open a chat nor send, react or type there", async (t) => {
  const { alice, bob, carol } = await openSchool(t);
  const { roomId } = await alice.request("direct.open", { userId: bob.userId });
  const bobsWords = await say(bob, roomId, "Hello Alice");
  const bobPushes = record(bob, "room.event");
  const blocked = await ok(t, alice, "user.block", { userId: bob.userId });
  t.same(blocked, { userId: bob.userId, blocked: true });
  t.same(await ok(t, alice, "user.block", { userId: bob.userId }), blocked, "blocking twice is blocking once");
  t.same((await ok(t, alice, "user.blocks", {})).blocks.map((b: any) => b.userId), [bob.userId]);
  t.same((await ok(t, bob, "user.blocks", {})).blocks, [], "bob's own list says nothing about alice's block");

  t.equal(await refusalOf(bob, "message.send", { roomId, body: "Are you there?", txnId: "b1" }), "direct.not_allowed", "bob is refused, with the code of anyone one may not write to");
  t.equal(await refusalOf(bob, "message.react", { roomId, seq: 1, emoji: "❤️" }), "direct.not_allowed");
  t.equal(await refusalOf(bob, "poll.create", { roomId, txnId: "bp", question: "Friday?", options: ["yes", "no"] }), "direct.not_allowed", "every path into the room");
  t.equal(await refusalOf(bob, "direct.open", { userId: alice.userId }), "direct.not_allowed", "nor reopen it");
  t.equal(await refusalOf(alice, "message.send", { roomId, body: "hm", txnId: "a1" }), "user.blocked", "alice is told to unblock first");
  t.equal((await ok(t, alice, "direct.open", { userId: bob.userId })).created, false, "alice may still open it to read");
  t.ok(await ok(t, bob, "message.delete", { roomId, seq: bobsWords, forEveryone: true }), "bob may still delete his own words");

  // Typing and receipts: what bob does while blocked never reaches alice; the first she gets is
  // what he does after the unblock.
  const typing = record(alice, "room.typing");
  const receipts = record(alice, "room.receipt");
  await ok(t, bob, "typing.set", { roomId, typing: true });
  await ok(t, bob, "receipt.read", { roomId, seq: 1 });
  await settle(bob);
  t.same(bobPushes.filter((e) => e.type !== "message.delete"), [], "bob received nothing about the block");

  // A new chat: carol blocks bob before they ever talked.
  await ok(t, carol, "user.block", { userId: bob.userId });
  t.equal(await refusalOf(bob, "direct.open", { userId: carol.userId }), "direct.not_allowed", "as if they shared nothing");
  t.equal(await refusalOf(carol, "direct.open", { userId: bob.userId }), "user.blocked");

  t.same(await ok(t, alice, "user.unblock", { userId: bob.userId }), { userId: bob.userId, blocked: false });
  t.same(await ok(t, alice, "user.unblock", { userId: bob.userId }), { userId: bob.userId, blocked: false }, "unblocking twice is harmless");
  await ok(t, bob, "typing.set", { roomId, typing: false });
  const last = (await ok(t, bob, "message.history", { roomId })).messages.at(-1).seq;
  await ok(t, bob, "receipt.read", { roomId, seq: last });
  await settle(alice);
  t.same(typing, [{ roomId, userId: bob.userId, typing: false }], "only what bob did after the unblock");
  t.same(receipts.map((r: any) => [r.userId, r.seq]), [[bob.userId, last]], "nor his reading");
  t.ok(await say(bob, roomId, "Sorry!"), "bob writes again");
  t.ok(await say(alice, roomId, "Fine."), "and alice");
});

t.test("a block stops polls, calendar events, edits and reactions in the chat too, for the blocked person and for the blocker", async (t) => {
  const { server, alice, bob } = await openSchool(t);
  const { roomId } = await alice.request("direct.open", { userId: bob.userId });
  const start = Date.UTC(2031, 5, 1, 9);
  // Before the block each of them wrote there, asked something and planned something.
  const own = new Map<ParleyClient, { words: number; poll: number; plan: number }>();
  for (const c of [alice, bob]) {
    const words = await say(c, roomId, "Before the block");
    const poll = (await c.request("poll.create", { roomId, txnId: `d${++txn}`, question: "Lunch?", options: ["yes", "no"] })).event.seq;
    const plan = (await c.request("event.create", { roomId, txnId: `d${++txn}`, title: "Coffee", start, timeZone: "Europe/London" })).event.seq;
    own.set(c, { words, poll, plan });
  }
  await ok(t, alice, "user.block", { userId: bob.userId });
  const seqBefore = server.app.parley.rooms.state(roomId)!.seq;

  const cases: [string, ParleyClient, string][] = [
    ["bob, who is blocked", bob, "direct.not_allowed"],
    ["alice, who blocked him", alice, "user.blocked"],
  ];
  for (const [who, c, code] of cases) {
    const mine = own.get(c)!;
    const attempts: [string, () => Promise<unknown>][] = [
      ["message.edit", () => c.request("message.edit", { roomId, seq: mine.words, body: "Edited" })],
      ["message.react", () => c.request("message.react", { roomId, seq: mine.words, emoji: "👍" })],
      ["poll.create", () => c.request("poll.create", { roomId, txnId: `d${++txn}`, question: "Dinner?", options: ["yes", "no"] })],
      ["poll.vote", () => c.request("poll.vote", { roomId, seq: mine.poll, options: [0] })],
      ["poll.close", () => c.request("poll.close", { roomId, seq: mine.poll })],
      ["event.create", () => c.request("event.create", { roomId, txnId: `d${++txn}`, title: "Tea", start, timeZone: "Europe/London" })],
      ["event.update", () => c.request("event.update", { roomId, seq: mine.plan, title: "Tea instead" })],
      ["event.rsvp", () => c.request("event.rsvp", { roomId, seq: mine.plan, answer: "going" })],
      ["event.cancel", () => c.request("event.cancel", { roomId, seq: mine.plan })],
    ];
    for (const [op, attempt] of attempts) t.equal(await refusal(attempt()), code, `${who}: ${op}`);
  }
  t.equal(server.app.parley.rooms.state(roomId)!.seq, seqBefore, "no refusal wrote anything to the room");

  await ok(t, alice, "user.unblock", { userId: bob.userId });
  const voted = await ok(t, bob, "poll.vote", { roomId, seq: own.get(alice)!.poll, options: [0] });
  t.same(voted.counts, [1, 0], "after the unblock bob votes on alice's poll");
  await ok(t, alice, "event.rsvp", { roomId, seq: own.get(bob)!.plan, answer: "going" });
});

t.test("block refusals and the blocks list's pages", async (t) => {
  const { alice, bob, carol, erin } = await openSchool(t);
  t.equal(await refusalOf(alice, "user.block", { userId: alice.userId }), "user.self");
  t.equal(await refusalOf(alice, "user.block", { userId: "@nobody:school.test" }), "user.not_found");
  t.equal(await refusalOf(alice, "user.block", {} as never), "invalid_params");
  t.equal(await refusalOf(alice, "user.unblock", { userId: 5 } as never), "invalid_params");
  t.equal(await refusalOf(alice, "user.blocks", { limit: 0 }), "invalid_params");
  for (const c of [bob, carol, erin]) await alice.request("user.block", { userId: c.userId });
  const first = await ok(t, alice, "user.blocks", { limit: 2 });
  t.same(first.blocks.map((b: any) => b.userId), [bob.userId, carol.userId]);
  t.equal(first.next, carol.userId);
  const second = await ok(t, alice, "user.blocks", { after: first.next, limit: 2 });
  t.same(second.blocks.map((b: any) => b.userId), [erin.userId]);
  t.equal(second.next, null);
});

t.test("the rules of a direct room, as a pure function", async (t) => {
  const limits = { groupsPerCommunity: 10, membersPerGroup: 10, membersPerCommunity: 10, adminsPerCommunity: 2, messageChars: 100, deleteWindowMs: 1000 };
  const state = (members: string[]): RoomState => ({
    id: "!d:s", kind: "direct", name: "", description: "", picture: null, rules: "", communityId: null, groups: new Set(), settings: directSettings,
    members: new Map(members.map((m) => [m, "member"])), bans: new Set(), requests: new Set(), invites: new Set(), seq: 2, deactivated: false, createdBy: "@a:s", createdAt: 0, adminCount: 0, pinned: [], head: null,
  });
  const join = (sender: string, userId: string, via = "direct") => ({ roomId: "!d:s", type: "member.join" as const, sender, content: { userId, via } });
  t.same(authorize(state(["@a:s"]), join("@a:s", "@b:s"), { limits, now: 0 }), { ok: true }, "the opener adds the other person");
  t.same(authorize(state(["@a:s", "@b:s"]), join("@a:s", "@c:s"), { limits, now: 0 }), { ok: false, code: "room.full" }, "never a third");
  t.same(authorize(state(["@a:s"]), join("@a:s", "@a:s"), { limits, now: 0 }), { ok: false, code: "room.invalid" });
  t.same(authorize(state(["@a:s"]), join("@a:s", "@b:s", "link"), { limits, now: 0 }), { ok: false, code: "room.invalid" }, "only via direct");
  t.same(authorize(state(["@a:s"]), join("@c:s", "@c:s"), { limits, now: 0 }), { ok: false, code: "room.not_found" }, "no one joins by themselves");
  const msg = { roomId: "!d:s", type: "message" as const, sender: "@b:s", content: { kind: "text", body: "hi" } };
  t.same(authorize(state(["@a:s", "@b:s"]), msg, { limits, now: 0 }), { ok: true });
  t.same(authorize(state(["@a:s", "@b:s"]), msg, { limits, now: 0, blocked: "by_other" }), { ok: false, code: "direct.not_allowed" });
  t.same(authorize(state(["@a:s", "@b:s"]), msg, { limits, now: 0, blocked: "by_sender" }), { ok: false, code: "user.blocked" });
  const del = { roomId: "!d:s", type: "message.delete" as const, sender: "@b:s", content: { target: 3 } };
  t.same(authorize(state(["@a:s", "@b:s"]), del, { limits, now: 0, blocked: "by_other", target: { sender: "@b:s", ts: 0, deleted: false, threadRoot: null } }), { ok: true }, "deleting one's own words is always allowed");
});
