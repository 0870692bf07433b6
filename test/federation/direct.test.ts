/**
 * Direct chats, blocks and people search across servers, over the real protocol between two
 * servers on loopback:
 *
 *   a.test: alice (owner of the group Maths), carol (shares nothing with bob)
 *   b.test: bob (a member of Maths through his server), dave (shares nothing with alice)
 */
import t from "tap";
import { startCluster, startClusterFor } from "./cluster.ts";
import { ok, refusalOf, nextEvent, schemaErrors, startServer, type TestServer, until } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import type { ConfigOverrides } from "../../server/config/load.ts";
import { startFakePeer } from "./peer.ts";
import { setServerPolicy } from "../../federation/policy.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


const directOf = (s: TestServer, x: string, y: string) => {
  const [a, b] = x < y ? [x, y] : [y, x];
  return (s.app.parley.storage.sqlite.prepare("SELECT room_id AS roomId FROM direct_chats WHERE user_a = ? AND user_b = ?").get(a, b) as { roomId: string } | undefined)?.roomId;
};
const blockKnown = (s: TestServer, blocker: string, blocked: string) =>
  s.app.parley.storage.sqlite.prepare("SELECT 1 FROM user_blocks WHERE blocker = ? AND blocked = ?").get(blocker, blocked) !== undefined;
const seqOf = (s: TestServer, roomId: string) => s.app.parley.rooms.state(roomId)?.seq ?? 0;

async function twoServers(t: Test, overrides: (name: string) => ConfigOverrides = () => ({})) {
  const servers = await startClusterFor(t, ["a.test", "b.test"], overrides);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const carol = await a.user("carol");
  const bob = await b.user("bob");
  const dave = await b.user("dave");
  const { roomId: maths } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId: maths });
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b holds Maths with bob in it", () => b.app.parley.rooms.state(maths)?.members.has("@bob:b.test") === true);
  return { a, b, alice, bob, carol, dave, maths };
}

/** Waits until both servers hold the same log of a room. */
async function caughtUp(t: Test, home: TestServer, other: TestServer, roomId: string) {
  await until(t, `both servers hold ${roomId} to its end`, () => seqOf(other, roomId) === seqOf(home, roomId) && seqOf(home, roomId) > 0);
}

t.test("alice of a opens a direct chat with bob of b: it is hosted at a, bob receives it and finds the same room from his side", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const opened = await ok(t, alice, "direct.open", { userId: "@bob:b.test" });
  t.equal(opened.created, true);
  t.match(opened.roomId, /:a\.test$/, "the opener's server is the home");
  t.same(opened.peer, { userId: "@bob:b.test", displayName: "Bob", avatar: null }, "bob's profile, as his server answers");
  const roomId = opened.roomId as string;
  await caughtUp(t, a, b, roomId);
  t.same([...b.app.parley.rooms.state(roomId)!.members.keys()].sort(), ["@alice:a.test", "@bob:b.test"], "bob joined by the join that names him");
  t.equal(directOf(b, "@alice:a.test", "@bob:b.test"), roomId, "b knows the pair's room from its replica");

  const list = (await bob.request("room.list", {})) as { rooms: { roomId: string; kind: string; peer?: { userId: string; displayName: string } | null }[] };
  const listed = list.rooms.find((r) => r.roomId === roomId);
  t.equal(listed?.kind, "direct", "bob sees the chat in room.list");
  t.equal(listed?.peer?.userId, "@alice:a.test", "with alice as the other person");
  t.equal(listed?.peer?.displayName, "Alice", "named as her server answers");

  const synced = (await bob.request("sync", { since: 0 })) as { events: { roomId: string; type: string; sender: string; content: Record<string, unknown> }[] };
  const joins = synced.events.filter((e) => e.roomId === roomId && e.type === "member.join").map((e) => [e.sender, e.content.userId, e.content.via]);
  t.same(joins, [["@alice:a.test", "@bob:b.test", "direct"]], "bob's sync stream carries the chat from his join, made by alice (as for a local chat)");

  const fromBob = await ok(t, bob, "direct.open", { userId: "@alice:a.test" });
  t.same([fromBob.roomId, fromBob.created], [roomId, false], "bob opening a chat with alice gets the existing room hosted at a");
  t.equal(fromBob.peer.displayName, "Alice");
  const again = await ok(t, alice, "direct.open", { userId: "@bob:b.test" });
  t.same([again.roomId, again.created], [roomId, false], "and so does alice, again");
});

t.test("a group hosted on a third server counts: alice of a and bob of b, both in c's group, may open a chat", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"]);
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const carol = await c.user("carol");
  const { roomId: choir } = await carol.request("group.create", { name: "Choir" });
  const { token } = await carol.request("link.create", { roomId: choir });
  await alice.request("link.join", { token, server: "c.test" });
  t.equal(await refusalOf(alice, "direct.open", { userId: "@bob:b.test" }), "direct.not_allowed", "before bob joins the choir, they share nothing");
  await bob.request("link.join", { token, server: "c.test" });
  await until(t, "a's copy of the choir has bob in it", () => a.app.parley.rooms.state(choir)?.members.has("@bob:b.test") === true);
  const opened = await ok(t, alice, "direct.open", { userId: "@bob:b.test" });
  t.match(opened.roomId, /:a\.test$/, "hosted at a, the opener's server");
  await caughtUp(t, a, b, opened.roomId);
  t.equal(directOf(b, "@alice:a.test", "@bob:b.test"), opened.roomId, "b holds it");
  t.equal(seqOf(c, opened.roomId), 0, "c, which has no one in it, is not sent the chat");
  const found = await ok(t, bob, "user.search", { query: "alice" });
  t.same(found.users.map((u: { userId: string; commonGroups: { name: string }[] }) => [u.userId, u.commonGroups.map((g) => g.name)]), [["@alice:a.test", ["Choir"]]], "bob finds alice through c's group");
});

t.test("every message feature works in a chat across servers, from both sides", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("direct.open", { userId: "@bob:b.test" });
  await caughtUp(t, a, b, roomId);

  const atAlice = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message", 30_000);
  const sent = await bob.request("message.send", { roomId, txnId: "b1", body: "Hi Alice, from b" });
  t.equal((await atAlice).eventId, sent.event.eventId, "bob's message, sequenced at a, reaches alice");
  const atBob = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message" && e.sender === "@alice:a.test", 30_000);
  const reply = await alice.request("message.send", { roomId, txnId: "a1", body: "Hi Bob", replyTo: sent.event.seq });
  t.equal((await atBob).seq, reply.event.seq, "alice's reply reaches bob");

  const reacted = nextEvent(alice, (e) => e.roomId === roomId && e.type === "reaction", 30_000);
  await bob.request("message.react", { roomId, seq: reply.event.seq, emoji: "👍" });
  t.equal((await reacted).sender, "@bob:b.test", "bob reacts");
  const edited = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message.edit", 30_000);
  await bob.request("message.edit", { roomId, seq: sent.event.seq, body: "Hi Alice, from b (edited)" });
  t.equal((await edited).sender, "@bob:b.test", "bob edits");
  const deleted = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message.delete", 30_000);
  await alice.request("message.delete", { roomId, seq: reply.event.seq, forEveryone: true });
  t.equal((await deleted).sender, "@alice:a.test", "alice deletes for everyone; bob's copy hears it");

  const typing = new Promise<{ userId: string; typing: boolean }>((resolve) => {
    const off = alice.on("room.typing", (d: { roomId: string; userId: string; typing: boolean }) => {
      if (d.roomId === roomId) {
        off();
        resolve(d);
      }
    });
  });
  await bob.request("typing.set", { roomId, typing: true });
  t.same(await typing, { roomId, userId: "@bob:b.test", typing: true }, "bob's typing reaches alice");
  await caughtUp(t, a, b, roomId);
  const receipt = new Promise<{ userId: string; seq: number }>((resolve) => {
    const off = alice.on("room.receipt", (d: { roomId: string; userId: string; seq: number }) => {
      if (d.roomId === roomId && d.userId === "@bob:b.test") {
        off();
        resolve(d);
      }
    });
  });
  await bob.request("receipt.read", { roomId, seq: seqOf(b, roomId) });
  t.equal((await receipt).userId, "@bob:b.test", "bob's read receipt reaches alice");

  const history = (await bob.request("message.history", { roomId })) as { messages: { seq: number; body: string | null; deleted?: boolean }[] };
  t.equal(history.messages.find((m) => m.seq === sent.event.seq)?.body, "Hi Alice, from b (edited)", "bob's copy holds the edit");

  // The other way round: alice reacts and edits, bob deletes his own words, alice's typing and
  // reading reach bob.
  const bobReacted = nextEvent(bob, (e) => e.roomId === roomId && e.type === "reaction", 30_000);
  await alice.request("message.react", { roomId, seq: sent.event.seq, emoji: "🎉" });
  t.equal((await bobReacted).sender, "@alice:a.test", "alice's reaction reaches bob");
  const second = await alice.request("message.send", { roomId, txnId: "a2", body: "See you Friday" });
  const bobEdited = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message.edit", 30_000);
  await alice.request("message.edit", { roomId, seq: second.event.seq, body: "See you on Friday" });
  t.equal((await bobEdited).sender, "@alice:a.test", "alice's edit reaches bob");
  const aliceDeleted = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message.delete", 30_000);
  await bob.request("message.delete", { roomId, seq: sent.event.seq, forEveryone: true });
  t.equal((await aliceDeleted).sender, "@bob:b.test", "bob deletes his message for everyone, at the home");
  const bobTyping = new Promise<{ userId: string }>((resolve) => {
    const off = bob.on("room.typing", (d: { roomId: string; userId: string }) => {
      if (d.roomId === roomId && d.userId === "@alice:a.test") {
        off();
        resolve(d);
      }
    });
  });
  await alice.request("typing.set", { roomId, typing: true });
  t.equal((await bobTyping).userId, "@alice:a.test", "alice's typing reaches bob");
  const bobReceipt = new Promise<{ userId: string }>((resolve) => {
    const off = bob.on("room.receipt", (d: { roomId: string; userId: string }) => {
      if (d.roomId === roomId && d.userId === "@alice:a.test") {
        off();
        resolve(d);
      }
    });
  });
  await caughtUp(t, a, b, roomId);
  await alice.request("receipt.read", { roomId, seq: seqOf(a, roomId) });
  t.equal((await bobReceipt).userId, "@alice:a.test", "alice's read receipt reaches bob");
});

t.test("replying privately works to a message of a group hosted on the other server, and in a chat hosted on the other server", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  // Trips is hosted at b; alice joins it through her server.
  const { roomId: trips } = await bob.request("group.create", { name: "Trips" });
  const { token } = await bob.request("link.create", { roomId: trips });
  await alice.request("link.join", { token, server: "b.test" });
  const question = await bob.request("message.send", { roomId: trips, txnId: "q", body: "Who can drive on Friday?" });
  await caughtUp(t, b, a, trips);

  const res = await ok(t, alice, "direct.open", { userId: "@bob:b.test", replyTo: { roomId: trips, seq: question.event.seq }, body: "I can.", txnId: "pr1" });
  t.equal(res.created, true, "the chat is opened at a by the private reply");
  t.same((res.event.content as { quote: { body: string; roomId: string } }).quote.body, "Who can drive on Friday?", "quoting bob's message of the group hosted at b");
  const atBob = nextEvent(bob, (e) => e.roomId === res.roomId && e.type === "message", 30_000);
  await caughtUp(t, a, b, res.roomId);
  const seen = (await bob.request("message.history", { roomId: res.roomId })) as { messages: { body: string; quote?: { body: string } }[] };
  t.equal(seen.messages.at(-1)?.quote?.body, "Who can drive on Friday?", "bob sees the quote in his copy");
  await atBob.catch(() => undefined);

  // Bob replies privately to alice's message of Trips: the pair's chat is hosted at a, so his
  // server proposes the reply there with the quote it holds.
  const answer = await alice.request("message.send", { roomId: trips, txnId: "a-q", body: "Shall we take two cars?" });
  await until(t, "b sequenced alice's message", () => seqOf(b, trips) >= answer.event.seq);
  const back = await ok(t, bob, "direct.open", { userId: "@alice:a.test", replyTo: { roomId: trips, seq: answer.event.seq }, body: "Yes, two cars.", txnId: "pr2" });
  t.same([back.roomId, back.created, back.duplicate], [res.roomId, false, false], "the reply lands in the existing chat hosted at a");
  t.equal((back.event.content as { quote: { sender: string } }).quote.sender, "@alice:a.test");
  const retry = await ok(t, bob, "direct.open", { userId: "@alice:a.test", replyTo: { roomId: trips, seq: answer.event.seq }, body: "Yes, two cars.", txnId: "pr2" });
  t.same([retry.duplicate, retry.event.seq], [true, back.event.seq], "a retry with the same txnId is the same message");
  t.equal(await refusalOf(bob, "direct.open", { userId: "@alice:a.test", replyTo: { roomId: trips, seq: 9999 }, body: "?", txnId: "pr3" }), "message.not_found", "a message bob cannot read");
});

t.test("direct.open with a user of another server is refused as locally: self, malformed, unknown, sharing nothing", async (t) => {
  const { a, alice, carol, dave } = await twoServers(t);
  t.equal(await refusalOf(alice, "direct.open", { userId: "@alice:a.test" }), "user.self");
  t.equal(await refusalOf(alice, "direct.open", { userId: "bob" }), "invalid_params", "a malformed user id");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@nobody:b.test" }), "user.not_found", "b has no such user");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@zed:c.test" }), "federation.unreachable", "a user of a server a cannot reach");
  t.equal(await refusalOf(carol, "direct.open", { userId: "@bob:b.test" }), "direct.not_allowed", "carol shares no community or group with bob");
  t.equal(await refusalOf(dave, "direct.open", { userId: "@alice:a.test" }), "direct.not_allowed", "nor dave with alice");
  setServerPolicy(a.app.parley.storage, "b.test", "deny");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@bob:b.test" }), "federation.unreachable", "a server a's policy denies is out of reach");
  t.equal(directOf(a, "@alice:a.test", "@bob:b.test"), undefined, "no room was made");
});

t.test("the server's open_to = server policy never opens a chat with a user of another server", async (t) => {
  const { a, alice, carol } = await twoServers(t, () => ({ direct: { open_to: "server" } }));
  t.equal((await ok(t, carol, "direct.open", { userId: alice.userId! })).created, true, "carol and alice, both of a, may talk");
  t.equal(await refusalOf(carol, "direct.open", { userId: "@bob:b.test" }), "direct.not_allowed", "but carol and bob share nothing");
  t.equal(directOf(a, "@bob:b.test", "@carol:a.test"), undefined, "no room was made");
});

t.test("a chat opened from both sides at once ends as one room on both servers", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const [fromA, fromB] = await Promise.all([
    alice.request("direct.open", { userId: "@bob:b.test" }),
    bob.request("direct.open", { userId: "@alice:a.test" }),
  ]);
  const first = [fromA.roomId, fromB.roomId].sort()[0];
  await until(t, "both servers hold both rooms", () => [fromA.roomId, fromB.roomId].every((r) => seqOf(a, r) === seqOf(b, r) && seqOf(a, r) >= 3));
  t.equal(directOf(a, "@alice:a.test", "@bob:b.test"), first, "a keeps the room whose id sorts first");
  t.equal(directOf(b, "@alice:a.test", "@bob:b.test"), first, "so does b");
  t.equal((await alice.request("direct.open", { userId: "@bob:b.test" })).roomId, first, "alice is given that room");
  t.equal((await bob.request("direct.open", { userId: "@alice:a.test" })).roomId, first, "so is bob");
  for (const [name, c] of [["alice", alice], ["bob", bob]] as [string, ParleyClient][]) {
    const rooms = ((await c.request("room.list", {})) as { rooms: { roomId: string; kind: string }[] }).rooms.filter((r) => r.kind === "direct");
    t.same(rooms.map((r) => r.roomId), [first], `${name}'s room list shows one chat with the other`);
  }
});

t.test("bob of b blocks alice of a: his server tells hers, and she is refused as a local blocked person would be", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("direct.open", { userId: "@bob:b.test" });
  await caughtUp(t, a, b, roomId);
  t.same(await ok(t, bob, "user.block", { userId: "@alice:a.test" }), { userId: "@alice:a.test", blocked: true }, "alice is known to b from Maths");
  t.same((await bob.request("user.blocks", {})).blocks.map((x: { userId: string }) => x.userId), ["@alice:a.test"], "kept at bob's server");
  await until(t, "a learns of the block", () => blockKnown(a, "@bob:b.test", "@alice:a.test"));
  const before = seqOf(a, roomId);
  t.equal(await refusalOf(alice, "message.send", { roomId, txnId: "x1", body: "Are you there?" }), "direct.not_allowed", "alice cannot write in the chat hosted at her server");
  t.equal(await refusalOf(alice, "direct.open", { userId: "@bob:b.test" }), "direct.not_allowed", "nor reopen it");
  t.equal(seqOf(a, roomId), before, "nothing was added");
  t.equal(await refusalOf(bob, "message.send", { roomId, txnId: "y1", body: "hm" }), "user.blocked", "bob is told to unblock first, by the home");
  const blocks = (await alice.request("user.blocks", {})).blocks;
  t.same(blocks, [], "alice's own block list says nothing of it");

  t.same(await ok(t, bob, "user.unblock", { userId: "@alice:a.test" }), { userId: "@alice:a.test", blocked: false });
  await until(t, "a learns of the end of the block", () => !blockKnown(a, "@bob:b.test", "@alice:a.test"));
  t.ok((await alice.request("message.send", { roomId, txnId: "x2", body: "Hello again" })).event, "alice writes again");
});

t.test("alice of a blocks bob of b in a chat hosted at b: b refuses bob, and alice is told why", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await bob.request("direct.open", { userId: "@alice:a.test" });
  t.match(roomId, /:b\.test$/);
  await caughtUp(t, b, a, roomId);
  await ok(t, alice, "user.block", { userId: "@bob:b.test" });
  await until(t, "b learns of the block", () => blockKnown(b, "@alice:a.test", "@bob:b.test"));
  t.equal(await refusalOf(bob, "message.send", { roomId, txnId: "b1", body: "Hi?" }), "direct.not_allowed", "bob, blocked, cannot write");
  t.equal(await refusalOf(bob, "message.react", { roomId, seq: 1, emoji: "👍" }), "direct.not_allowed", "nor react");
  t.equal(await refusalOf(alice, "message.send", { roomId, txnId: "a1", body: "hm" }), "user.blocked", "alice is told to unblock first");
  t.equal((await ok(t, alice, "direct.open", { userId: "@bob:b.test" })).roomId, roomId, "alice may still open the chat to read");
  t.equal(await refusalOf(bob, "direct.open", { userId: "@alice:a.test" }), "direct.not_allowed", "bob cannot reopen it");
  // a does not host this chat: a private reply proposed to a for it is refused, never relayed.
  const quote = { roomId, seq: 1, sender: "@bob:b.test", kind: "text", body: "x", ts: 1 };
  const relayed = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: "@bob:b.test", op: "direct.open", params: { userId: "@alice:a.test", replyTo: { roomId, seq: 1 }, body: "hi", txnId: "r1" }, quote });
  t.equal(relayed.body?.error?.code, "direct.not_allowed", "a proposed private reply for a chat hosted elsewhere");
});

t.test("a block made while the blocked person's server is down reaches it when it is back", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("direct.open", { userId: "@bob:b.test" });
  await caughtUp(t, a, b, roomId);
  await a.stop();
  t.same(await bob.request("user.block", { userId: "@alice:a.test" }), { userId: "@alice:a.test", blocked: true }, "bob blocks alice while a is down");
  const notices = () => b.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM federation_block_notices").get() as { n: number };
  await until(t, "b tried and kept the notice", () => notices().n === 1 && b.logs.some((l) => l.msg === "block notice waits: the server is unreachable"));
  // a again, on its data directory and port.
  const a2 = await startServer(
    { server: { name: "a.test" }, listen: { port: Number(new URL(a.baseUrl).port) }, federation: { allow_plain_http: true, peers: a.config.federation.peers } },
    { dataDir: a.dataDir },
  );
  t.teardown(() => a2.stop(true).catch(() => undefined));
  await until(t, "a learns of the block once it is back", () => blockKnown(a2, "@bob:b.test", "@alice:a.test"));
  await until(t, "b drops the delivered notice", () => notices().n === 0);
  const alice2 = await a2.login("alice");
  t.equal(await refusalOf(alice2, "message.send", { roomId, txnId: "x", body: "Bob?" }), "direct.not_allowed", "alice is refused in the chat hosted at a");
});

t.test("user.block of a user of another server: known ones only, and a new chat is refused to the blocked one", async (t) => {
  const { a, b, alice, carol, dave } = await twoServers(t);
  t.equal(await refusalOf(alice, "user.block", { userId: "@nobody:b.test" }), "user.not_found", "b has no such user");
  t.equal(await refusalOf(alice, "user.block", { userId: "@alice:a.test" }), "user.self");
  t.equal(await refusalOf(alice, "user.block", { userId: "@zed:c.test" }), "federation.unreachable", "a user a knows from no room, of a server it cannot reach");
  t.equal(await refusalOf(alice, "user.block", { userId: "zed" }), "invalid_params", "a malformed user id");
  // Dave shares nothing with carol, but his server answers his profile: he may be blocked.
  t.same(await ok(t, carol, "user.block", { userId: "@dave:b.test" }), { userId: "@dave:b.test", blocked: true });
  await until(t, "b learns of carol's block", () => blockKnown(b, "@carol:a.test", "@dave:b.test"));
  t.equal(await refusalOf(carol, "direct.open", { userId: "@dave:b.test" }), "user.blocked", "carol is told she blocked him");
  t.equal(await refusalOf(dave, "direct.open", { userId: "@carol:a.test" }), "direct.not_allowed", "dave is refused as anyone one may not write to");
  t.notOk(blockKnown(a, "@dave:b.test", "@carol:a.test"), "a holds only its own user's block");
});

t.test("a block notice is refused for a user the receiver does not have, or from a server that is not the blocker's", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const servers = await startCluster(["a.test"], () => ({ federation: { peers: { "evil.test": evil.baseUrl } } }));
  const a = servers["a.test"];
  t.teardown(() => a.stop(true));
  await a.user("alice");
  const target = { baseUrl: a.baseUrl, name: "a.test" };
  const notOrigin = await evil.call(target, "/block", { blocker: "@bob:b.test", userId: "@alice:a.test", blocked: true, at: 1 });
  t.same([notOrigin.status, notOrigin.body.error?.code], [401, "federation.sender_not_of_origin"], "evil.test cannot speak for bob of b");
  const nobody = await evil.call(target, "/block", { blocker: "@mallory:evil.test", userId: "@nobody:a.test", blocked: true, at: 1 });
  t.same([nobody.status, nobody.body.error?.code], [404, "user.not_found"], "a has no such user");
  const elsewhere = await evil.call(target, "/block", { blocker: "@mallory:evil.test", userId: "@bob:b.test", blocked: true, at: 1 });
  t.equal(elsewhere.body.error?.code, "user.not_found", "nor one of another server");
  const malformed = await evil.call(target, "/block", { blocker: "@mallory:evil.test", userId: "@alice:a.test" });
  t.equal(malformed.body.error?.code, "bad_request", "a malformed notice");
  const fine = await evil.call(target, "/block", { blocker: "@mallory:evil.test", userId: "@alice:a.test", blocked: true, at: 1 });
  t.same([fine.status, fine.body], [200, {}], "a notice for alice");
  t.ok(blockKnown(a, "@mallory:evil.test", "@alice:a.test"), "kept at a");
  const proposed = await evil.call(target, "/propose", { sender: "@mallory:evil.test", op: "direct.open", params: { userId: "@alice:a.test" } });
  t.equal(proposed.body.error?.code, "direct.not_allowed", "a proposed direct.open that is not a private reply in a chat hosted here");
});

t.test("people search finds users of other servers one shares a group with, with the groups in common", async (t) => {
  const { a, alice, bob, maths } = await twoServers(t);
  const found = await ok(t, alice, "user.search", { query: "bo" });
  t.same(found.users, [{ userId: "@bob:b.test", displayName: "Bob", avatar: null, commonGroups: [{ roomId: maths, kind: "group", name: "Maths", communityId: null }] }], "bob, named by his server, with Maths");
  t.same((await ok(t, alice, "user.search", { query: "dave" })).users, [], "dave shares nothing with alice");
  const fromB = await ok(t, bob, "user.search", { query: "ali" });
  t.same(fromB.users.map((u: { userId: string; displayName: string }) => [u.userId, u.displayName]), [["@alice:a.test", "Alice"]], "and alice from b, through its replica of Maths");
  // Paging runs over both kinds in user id order: bob of b, then bobby of a.
  const bobby = await a.user("bobby");
  await bobby.request("link.join", { token: (await alice.request("link.create", { roomId: maths })).token });
  const page1 = await ok(t, alice, "user.search", { query: "bob", limit: 1 });
  t.same([page1.users.map((u: { userId: string }) => u.userId), page1.next], [["@bob:b.test"], "@bob:b.test"], "the first page: bob of b");
  const page2 = await ok(t, alice, "user.search", { query: "bob", limit: 1, after: page1.next });
  t.same([page2.users.map((u: { userId: string }) => u.userId), page2.next], [["@bobby:a.test"], null], "the second and last: bobby of a");

  const common = await ok(t, bob, "user.common_groups", { userId: "@alice:a.test" });
  t.same(common.groups.map((g: { name: string }) => g.name), ["Maths"], "common groups with a remote user");
  t.same(schemaErrors("op/user.common_groups#/$defs/result", common), []);
});
