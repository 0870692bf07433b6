/**
 * Joining by snapshot and history on demand. A server that begins a long room gets the room's
 * signed state and its last events instead of the whole log, answers the room's reads from it, and
 * fetches older history from the home when its reader pages back (only what that reader may read),
 * refusing a page that does not link to its chain, and saying so when the home is down.
 */
import t from "tap";
import { generateKeyPairSync } from "node:crypto";
import { startClusterFor } from "./cluster.ts";
import { startServer, nextEvent, type TestServer, until } from "../helpers.ts";
import { startFakePeer } from "./peer.ts";
import { joinSnapshot, type WireEvent } from "../../federation/outbox.ts";
import { contentHashOf, eventHashOf } from "../../server/rooms/hash.ts";
import { signCheckpoint, signSnapshot } from "../../federation/events.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import type { SnapshotState } from "../../server/rooms/core.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// Short tails keep the tests small: a room longer than 5 events is joined by snapshot.
joinSnapshot.tailEvents = 5;


const seqsOf = (server: TestServer, roomId: string) =>
  (server.app.parley.storage.sqlite.prepare("SELECT seq FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as { seq: number }[]).map((r) => r.seq);

async function refusalOf(client: ParleyClient, op: string, params: Record<string, unknown>): Promise<string> {
  try {
    await client.request(op as never, params as never);
    return "accepted";
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

async function twoServers(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  return { a, b, alice, bob };
}

/**
 * Alice's group on a with three messages before bob joins; a's delivery to b held back (as after
 * failures) while bob joins from b and alice says 20 more; then b wakes a and gets the snapshot.
 * Bob's join is then below what b holds: his history is fetched on demand.
 */
async function joinedWhileBehind(t: Test, beforeWake?: (alice: ParleyClient, roomId: string, said: number[]) => Promise<void>) {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  for (let i = 1; i <= 3; i++) await alice.request("message.send", { roomId, txnId: `p${i}`, body: `before bob ${i}` });
  const { token } = await alice.request("link.create", { roomId });
  a.app.parley.storage.sqlite.prepare("INSERT INTO federation_peers (server, failures, next_attempt_at) VALUES ('b.test', 1, ?)").run(Date.now() + 3_600_000);
  const joined = await bob.request("link.join", { token, server: "a.test" });
  t.equal(joined.status, "joined");
  const joinSeq = a.app.parley.rooms.state(roomId)!.seq;
  const said: number[] = [];
  for (let i = 1; i <= 20; i++) said.push((await alice.request("message.send", { roomId, txnId: `m${i}`, body: `after bob ${i}` })).event.seq);
  await beforeWake?.(alice, roomId, said);
  await b.app.parley.federation.request("a.test", "POST", "/wake", {});
  const head = a.app.parley.rooms.state(roomId)!.seq;
  await until(t, "b holds the room up to a's head", () => b.app.parley.rooms.state(roomId)?.seq === head);
  return { a, b, alice, bob, roomId, joinSeq, said, head };
}

t.test("bob of b joins a long group of a: b stores a signed snapshot and the last events, not the whole log, and answers the room's reads from it", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const sent: number[] = [];
  for (let i = 1; i <= 12; i++) sent.push((await alice.request("message.send", { roomId, txnId: `m${i}`, body: `message ${i}` })).event.seq);
  await alice.request("message.pin", { roomId, seq: sent[1] });
  await alice.request("room.update", { roomId, name: "Maths 4B", description: "Homework and notices" });
  await alice.request("room.settings.update", { roomId, sendPolicy: "admins" });
  const { token } = await alice.request("link.create", { roomId });
  const joined = await bob.request("link.join", { token, server: "a.test" });
  t.equal(joined.status, "joined");
  const head = a.app.parley.rooms.state(roomId)!.seq;
  await until(t, "b holds the room", () => b.app.parley.rooms.state(roomId)?.seq === head);
  // Bob's sync stream has the room from his join (one of the snapshot's last events), not before.
  const sync = await bob.request("sync", { since: 0, limit: 500 });
  const synced = sync.events.filter((e) => e.roomId === roomId);
  t.ok(synced.some((e) => e.type === "member.join" && e.seq === head), "bob's join");
  t.notOk(synced.some((e) => e.seq < head), "nothing from before it");
  const held = seqsOf(b, roomId);
  t.ok(held[0] > 1, `b does not hold the room's first events (holds from seq ${held[0]})`);
  t.same(held, Array.from({ length: head - held[0] + 1 }, (_, i) => held[0] + i), "b holds an unbroken run up to the head");
  t.ok(held.length <= joinSnapshot.tailEvents + 1, `b stored ${held.length} events of ${head}`);
  const floor = b.app.parley.storage.sqlite.prepare("SELECT snapshot_seq AS s, low_seq AS low FROM replica_floors WHERE room_id = ?").get(roomId) as { s: number; low: number };
  t.equal(floor.low, held[0], "b records the lowest event it holds");

  // The replica's state is the home's.
  const home = a.app.parley.rooms.state(roomId)!;
  const copy = b.app.parley.rooms.state(roomId)!;
  t.same([...copy.members], [...home.members], "the members with their roles");
  t.same(copy.settings, home.settings);
  t.same(copy.pinned, home.pinned);
  t.equal(copy.head, home.head, "the chain's head");
  const atHome = await alice.request("room.get", { roomId });
  const onB = await bob.request("room.get", { roomId });
  t.equal(onB.name, "Maths 4B");
  t.equal(onB.description, atHome.description);
  t.same(onB.pinnedMessages, [sent[1]]);
  t.same(onB.admins, atHome.admins);
  const members = await bob.request("room.members", { roomId });
  t.equal(members.count, 2);
  // Bob reads from his join, as at home: nothing before it, and what follows reaches him.
  const before = await bob.request("message.history", { roomId });
  t.same(before.messages, [], "nothing said before bob joined");
  const pushed = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message", 30_000);
  const hello = await alice.request("message.send", { roomId, txnId: "hello", body: "welcome bob" });
  t.equal((await pushed).seq, hello.event.seq, "bob got alice's message live");
  const after = await bob.request("message.history", { roomId });
  t.same(after.messages.map((m) => m.body), ["welcome bob"]);
  // Bob's own send goes home and comes back on the replica's chain.
  await alice.request("room.settings.update", { roomId, sendPolicy: "all" });
  const mine = await bob.request("message.send", { roomId, txnId: "b1", body: "thanks" });
  await until(t, "b holds bob's message", () => (b.app.parley.rooms.state(roomId)?.seq ?? 0) >= mine.event.seq);
  t.equal(b.app.parley.rooms.state(roomId)!.head, a.app.parley.rooms.state(roomId)!.head, "the copy did not fork");
});

t.test("bob pages back below what b holds: b fetches it from a's backfill on his behalf, keeps it, and never gets what was said before he joined", async (t) => {
  const { a, b, bob, roomId, joinSeq, said, head } = await joinedWhileBehind(t);
  const held = seqsOf(b, roomId);
  t.ok(held[0] > joinSeq, `b's replica begins after bob's join (${held[0]} > ${joinSeq})`);
  const page = await bob.request("message.history", { roomId, limit: 50 });
  t.same(page.messages.map((m) => m.body), said.map((_, i) => `after bob ${i + 1}`), "every message since bob joined, in order");
  t.equal(page.more, false);
  t.notOk("incomplete" in page, "the page is complete");
  const now = seqsOf(b, roomId);
  t.equal(now[0], joinSeq, "b now holds the room from bob's join, and nothing before it");
  t.same(now, Array.from({ length: head - joinSeq + 1 }, (_, i) => joinSeq + i));
  const old = await bob.request("message.get", { roomId, seq: said[0] });
  t.equal(old.message.body, "after bob 1");
  t.equal(await refusalOf(bob, "message.get", { roomId, seq: joinSeq - 1 }), "message.not_found", "a message from before bob's join stays hidden");
  // Fetched history is history: it is not handed out again as news by the sync stream.
  const sync = await bob.request("sync", { since: 0, limit: 500 });
  const synced = sync.events.filter((e: { roomId: string }) => e.roomId === roomId).map((e: { seq: number }) => e.seq);
  t.ok(synced.every((s: number) => s >= held[0]), "sync streams only what b received as news");
  // The home applies the same visibility to a direct request for the early log on bob's behalf.
  const res = await b.app.parley.federation.request("a.test", "POST", "/backfill", { roomId, from: 1, to: joinSeq, requester: "@bob:b.test" });
  t.same(res.body.events.map((e: WireEvent) => e.seq), [joinSeq], "cut at bob's join");
  // What was fetched is kept: with a down and b restarted, bob reads it all from b alone.
  await a.stop(false);
  const b2 = await b.restart();
  t.teardown(() => b2.stop(true).catch(() => undefined));
  const bob2 = await b2.login("bob");
  const kept = await bob2.request("message.history", { roomId, limit: 50 });
  t.equal(kept.messages.length, said.length);
  t.notOk("incomplete" in kept, "nothing had to be fetched again");
  t.equal(b2.app.parley.rooms.state(roomId)!.seq, head, "the replica's state reloads from its tables");
  t.same([...b2.app.parley.rooms.state(roomId)!.members.keys()].sort(), ["@alice:a.test", "@bob:b.test"]);
});

t.test("a page of history that does not link to what b holds is refused: nothing is stored and the page says it is incomplete", async (t) => {
  const { a, b, bob, roomId, said } = await joinedWhileBehind(t);
  const low = seqsOf(b, roomId)[0];
  // The home's copy of the event just below b's floor is tampered with: its content no longer
  // matches the hash the chain holds.
  a.app.parley.storage.sqlite.prepare("UPDATE room_events SET content = json_set(content, '$.body', 'forged') WHERE room_id = ? AND seq = ?").run(roomId, low - 1);
  const page = await bob.request("message.history", { roomId, limit: 50 });
  t.equal(page.incomplete, true);
  t.notOk(page.messages.some((m) => m.body === "forged"), "the forged text is not shown");
  t.equal(seqsOf(b, roomId)[0], low, "nothing was stored below the floor");
  t.equal(await refusalOf(bob, "message.get", { roomId, seq: said[0] }), "federation.unreachable");
});

t.test("with a down, bob's paging back answers what b holds, marked incomplete, and an older message is federation.unreachable; after a returns it completes", async (t) => {
  const { a, b, bob, roomId, said, head } = await joinedWhileBehind(t);
  const low = seqsOf(b, roomId)[0];
  await a.stop(false);
  const page = await bob.request("message.history", { roomId, limit: 50 });
  t.equal(page.incomplete, true);
  t.same(page.messages.map((m) => m.seq), said.filter((s) => s >= low), "what b holds");
  t.equal(await refusalOf(bob, "message.get", { roomId, seq: said[0] }), "federation.unreachable");
  t.equal(await refusalOf(bob, "message.thread", { roomId, root: said[0] }), "federation.unreachable");
  const back = await a.restart();
  t.teardown(() => back.stop(true).catch(() => undefined));
  const again = await bob.request("message.history", { roomId, limit: 50 });
  t.notOk("incomplete" in again);
  t.equal(again.messages.length, said.length);
  t.equal(b.app.parley.rooms.state(roomId)!.seq, head);
});

t.test("the backfill endpoint on a reader's behalf: a reader of another server, or one who is not a member, is refused", async (t) => {
  const { a, b, bob, roomId } = await joinedWhileBehind(t);
  const carol = await b.user("carol");
  t.ok(carol && bob);
  const foreign = await b.app.parley.federation.request("a.test", "POST", "/backfill", { roomId, from: 1, to: 10, requester: "@alice:a.test" });
  t.equal(foreign.status, 401);
  t.equal(foreign.body.error.code, "federation.sender_not_of_origin");
  const outsider = await b.app.parley.federation.request("a.test", "POST", "/backfill", { roomId, from: 1, to: 10, requester: "@carol:b.test" });
  t.equal(outsider.status, 404);
  t.equal(outsider.body.error.code, "room.not_found");
  t.ok(a);
});

t.test("a join snapshot that is not the home's, or that names no event of its batch, is refused and begins no replica", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  await server.user("bob");
  const roomId = "!longroom:evil.test";
  const owner = "@mallory:evil.test";
  // The last three events of a 40-event room that bob (of school.test) joined.
  let prev: string | null = "x".repeat(43);
  const events: WireEvent[] = [38, 39, 40].map((seq) => {
    const content = seq === 40 ? { userId: "@bob:school.test", role: "member", via: "link" } : { kind: "text", body: `m${seq}` };
    const type = seq === 40 ? "member.join" : "message";
    const skeleton = { roomId, seq, eventId: `$ev${seq}x`, type, sender: seq === 40 ? "@bob:school.test" : owner, origin: seq === 40 ? "school.test" : "evil.test", ts: 1_796_000_000_000 + seq, contentHash: contentHashOf(content), prev };
    const e: WireEvent = { ...skeleton, content, hash: eventHashOf(skeleton) };
    prev = e.hash;
    return e;
  });
  // bob's join would be proposed by his own server: the inbox checks the origin of each sender.
  const state: SnapshotState = {
    kind: "group", name: "Long", description: "", picture: null, rules: "", communityId: null, groups: [],
    settings: { sendPolicy: "all", editInfoPolicy: "admins", addMembersPolicy: "admins", joinApproval: false, announcementReplies: true },
    members: [{ userId: owner, role: "owner", since: 2 }, { userId: "@bob:school.test", role: "member", since: 40 }],
    bans: [], invites: [], requests: [], pinned: [], deactivated: false, createdBy: owner, createdAt: 1_796_000_000_000, serverAcl: null,
  };
  const checkpoints = [signCheckpoint({ server: "evil.test", roomId, seq: 40, hash: events[2].hash, ts: Date.now() }, evil.keys[0])];
  const target = { baseUrl: server.baseUrl, name: "school.test" };
  const other = generateKeyPairSync("ed25519").privateKey;
  const forged = signSnapshot({ server: "evil.test", roomId, seq: 40, hash: events[2].hash, ts: Date.now(), state }, { keyId: evil.keys[0].keyId, privateKey: other });
  const r1 = await evil.call(target, "/send", { events, checkpoints, snapshots: [forged] });
  t.equal(r1.status, 200);
  t.same(r1.body.results.map((r: { code?: string }) => r.code), ["federation.bad_checkpoint", "federation.bad_checkpoint", "federation.bad_checkpoint"], "a snapshot signed by another key");
  const elsewhere = signSnapshot({ server: "evil.test", roomId, seq: 39, hash: events[2].hash, ts: Date.now(), state }, evil.keys[0]);
  const r2 = await evil.call(target, "/send", { events, checkpoints, snapshots: [elsewhere] });
  t.same(r2.body.results.map((r: { code?: string }) => r.code), ["federation.bad_checkpoint", "federation.bad_checkpoint", "federation.bad_checkpoint"], "a snapshot whose hash is not its event's");
  t.equal(server.app.parley.rooms.state(roomId), undefined, "no replica began");
  // The same snapshot, signed by the home and naming its event, begins the replica.
  const good = signSnapshot({ server: "evil.test", roomId, seq: 40, hash: events[2].hash, ts: Date.now(), state }, evil.keys[0]);
  const r3 = await evil.call(target, "/send", { events, checkpoints, snapshots: [good] });
  t.same(r3.body.results.map((r: { status: string }) => r.status), ["ok", "ok", "ok"]);
  t.same([...server.app.parley.rooms.state(roomId)!.members.keys()], [owner, "@bob:school.test"]);
  t.same(seqsOf(server, roomId), [38, 39, 40]);
});

t.test("bob of b, in a community of a but in none of its groups, sees every group of its list; with a down, the groups b holds and those a last listed", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const school = await alice.request("community.create", { name: "Hillside School" });
  const maths = await alice.request("group.create", { name: "Maths", communityId: school.roomId });
  const art = await alice.request("group.create", { name: "Art", communityId: school.roomId });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b holds the community", () => b.app.parley.rooms.state(school.roomId)?.seq === a.app.parley.rooms.state(school.roomId)!.seq);
  t.equal(b.app.parley.rooms.state(maths.roomId), undefined, "b replicates neither group");
  const list = await bob.request("community.groups", { roomId: school.roomId });
  t.same(list.groups.map((g) => g.name).sort(), ["Art", "Maths"]);
  t.same(list.groups.map((g) => g.joined), [false, false]);
  await bob.request("group.join", { roomId: art.roomId });
  await until(t, "b holds Art", () => b.app.parley.rooms.state(art.roomId)?.seq === a.app.parley.rooms.state(art.roomId)!.seq);
  await a.stop(false);
  const held = await bob.request("community.groups", { roomId: school.roomId });
  t.same(held.groups.map((g) => [g.name, g.joined]), [["Art", true], ["Maths", false]], "Art as b holds it, Maths as a last described it");
});

t.test("an edit, a deletion and a newer reaction that b held before their messages arrive by backfill are applied to them", async (t) => {
  const { b, bob, roomId, said } = await joinedWhileBehind(t, async (alice, roomId, said) => {
    await alice.request("message.react", { roomId, seq: said[2], emoji: "👍" });
    await alice.request("message.send", { roomId, txnId: "r1", body: "a reply", replyTo: said[2] });
    await alice.request("message.edit", { roomId, seq: said[0], body: "after bob 1, edited" });
    await alice.request("message.delete", { roomId, seq: said[1], forEveryone: true });
    await alice.request("message.react", { roomId, seq: said[2], emoji: "🎉" });
    await alice.request("message.send", { roomId, txnId: "r2", body: "last" });
  });
  const low = seqsOf(b, roomId)[0];
  t.ok(low > said[1], "the edit and the deletion are held, their messages are not");
  const page = await bob.request("message.history", { roomId, limit: 50 });
  const bySeq = new Map(page.messages.map((m) => [m.seq, m]));
  t.equal(bySeq.get(said[0])?.body, "after bob 1, edited");
  t.equal(bySeq.get(said[0])?.edited, true);
  t.equal(bySeq.get(said[1])?.deleted, true);
  t.equal(bySeq.get(said[1])?.body, null);
  t.equal(bySeq.get(said[2])?.body, "after bob 3");
  t.same(bySeq.get(said[2])?.reactions, [{ emoji: "🎉", count: 1 }], "alice's newer reaction stands over the older one fetched later");
  t.ok(page.messages.some((m) => m.replyTo === said[2] && m.body === "a reply"), "the reply to a fetched message points at it");
});

t.test("alice invites bob of b into a long group: b begins it from a snapshot, bob sees the invitation, accepts, and reads from his join", async (t) => {
  const { a, b, alice, bob } = await twoServers(t);
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  for (let i = 1; i <= 8; i++) await alice.request("message.send", { roomId, txnId: `m${i}`, body: `message ${i}` });
  const invited = nextEvent(bob, (e) => e.roomId === roomId && e.type === "member.invite", 30_000);
  await alice.request("member.invite", { roomId, userId: "@bob:b.test" });
  t.equal(((await invited).content as { userId?: string }).userId, "@bob:b.test", "bob is told of the invitation");
  t.ok(seqsOf(b, roomId)[0] > 1, "b began the room from a snapshot");
  t.ok(b.app.parley.rooms.state(roomId)!.invites.has("@bob:b.test"));
  const joinedPush = nextEvent(bob, (e) => e.roomId === roomId && e.type === "member.join", 30_000);
  await bob.request("invite.accept", { roomId });
  const join = await joinedPush;
  t.equal((join.content as { userId?: string }).userId, "@bob:b.test");
  const hi = await alice.request("message.send", { roomId, txnId: "hi", body: "hello bob" });
  await until(t, "b holds alice's hello", () => (b.app.parley.rooms.state(roomId)?.seq ?? 0) >= hi.event.seq);
  const page = await bob.request("message.history", { roomId });
  t.same(page.messages.map((m) => m.body), ["hello bob"], "only what was said since he joined");
  t.equal(b.app.parley.rooms.state(roomId)!.head, a.app.parley.rooms.state(roomId)!.head);
});

t.test("a snapshot of a 5,000-member community is stored whole from one batch of three events, and bob's server answers its member count", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  const bob = await server.user("bob");
  const roomId = "!bigcommunity:evil.test";
  const owner = "@mallory:evil.test";
  let prev: string | null = "y".repeat(43);
  const events: WireEvent[] = [5003, 5004, 5005].map((seq) => {
    const last = seq === 5005;
    const content = last ? { userId: "@bob:school.test", role: "member", via: "link" } : { userId: `@user${seq}:evil.test`, role: "member", via: "link" };
    const sender = last ? "@bob:school.test" : `@user${seq}:evil.test`;
    const skeleton = { roomId, seq, eventId: `$big${seq}x`, type: "member.join", sender, origin: last ? "school.test" : "evil.test", ts: 1_796_000_000_000 + seq, contentHash: contentHashOf(content), prev };
    const e: WireEvent = { ...skeleton, content, hash: eventHashOf(skeleton) };
    prev = e.hash;
    return e;
  });
  const members: SnapshotState["members"] = [{ userId: owner, role: "owner", since: 2 }];
  for (let i = 3; i <= 5004; i++) members.push({ userId: `@user${i}:evil.test`, role: "member", since: i });
  members.push({ userId: "@bob:school.test", role: "member", since: 5005 });
  const state: SnapshotState = {
    kind: "community", name: "Big School", description: "", picture: null, rules: "", communityId: null, groups: [],
    settings: { sendPolicy: "admins", editInfoPolicy: "admins", addMembersPolicy: "admins", joinApproval: false, announcementReplies: true },
    members, bans: [], invites: [], requests: [], pinned: [], deactivated: false, createdBy: owner, createdAt: 1_796_000_000_000, serverAcl: { deny: ["spam.example"] },
  };
  const snapshot = signSnapshot({ server: "evil.test", roomId, seq: 5005, hash: events[2].hash, ts: Date.now(), state }, evil.keys[0]);
  const checkpoints = [signCheckpoint({ server: "evil.test", roomId, seq: 5005, hash: events[2].hash, ts: Date.now() }, evil.keys[0])];
  const res = await evil.call({ baseUrl: server.baseUrl, name: "school.test" }, "/send", { events, checkpoints, snapshots: [snapshot] });
  t.equal(res.status, 200);
  t.same(res.body.results.map((r: { status: string }) => r.status), ["ok", "ok", "ok"]);
  t.same(seqsOf(server, roomId), [5003, 5004, 5005], "three events stored, not 5,005");
  const st = server.app.parley.rooms.state(roomId)!;
  t.equal(st.members.size, 5004);
  t.same(st.serverAcl, { deny: ["spam.example"] }, "the community's server access list");
  const list = await bob.request("room.members", { roomId });
  t.equal(list.count, 5004);
  t.equal(list.members, null, "a member of the announcement group does not get the list");
});
