/**
 * Reads a replica begun from a join snapshot cannot answer from its own copy, answered as the home
 * would: the audit log (which begins at the snapshot on the replica) and the reactions and
 * receipts of a message older than what the replica holds are asked of the home on the reader's
 * behalf, and the home applies its rules to the reader (membership, role, reading span).
 *
 * The cast: alice (of a.test) owns the group Maths and made carol (of a.test) an admin; bob (of
 * b.test) joined while a's delivery to b was held back, alice made him an admin and said twenty
 * things; carol reacted to the first and read them all. Then b got the snapshot and the last few
 * events only. dave (of b.test) joins Maths afterwards; erin (of b.test) is in no room.
 */
import t from "tap";
import { startClusterFor } from "./cluster.ts";
import { ok, refusalOf, type TestServer, until } from "../helpers.ts";
import { joinSnapshot } from "../../federation/outbox.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// Short tails keep the tests small: a room longer than 5 events is joined by snapshot.
joinSnapshot.tailEvents = 5;

const heldFrom = (s: TestServer, roomId: string) => (s.app.parley.storage.sqlite.prepare("SELECT min(seq) AS seq FROM room_events WHERE room_id = ?").get(roomId) as { seq: number }).seq;
const heldAudit = (s: TestServer, roomId: string) => (s.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM audit_log WHERE scope_id = ?").get(roomId) as { n: number }).n;

async function mathsBehind(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const [alice, carol, bob] = await Promise.all([a.user("alice"), a.user("carol"), b.user("bob")]);
  const { roomId } = await ok(t, alice, "group.create", { name: "Maths" });
  const { token } = await ok(t, alice, "link.create", { roomId });
  await ok(t, carol, "link.join", { token });
  await ok(t, alice, "member.role", { roomId, userId: carol.userId, role: "admin" });
  for (let i = 1; i <= 3; i++) await ok(t, alice, "message.send", { roomId, txnId: `p${i}`, body: `before bob ${i}` });
  // a's delivery to b held back (as after failures) while bob joins and the room moves on.
  a.app.parley.storage.sqlite.prepare("INSERT INTO federation_peers (server, failures, next_attempt_at) VALUES ('b.test', 1, ?)").run(Date.now() + 3_600_000);
  await ok(t, bob, "link.join", { token, server: "a.test" });
  const joinSeq = a.app.parley.rooms.state(roomId)!.seq;
  await ok(t, alice, "member.role", { roomId, userId: bob.userId, role: "admin" });
  const said: number[] = [];
  for (let i = 1; i <= 20; i++) said.push((await ok(t, alice, "message.send", { roomId, txnId: `m${i}`, body: `after bob ${i}` })).event.seq);
  await ok(t, carol, "message.react", { roomId, seq: said[0], emoji: "👍" });
  await ok(t, carol, "receipt.read", { roomId, seq: said[19] });
  await b.app.parley.federation.request("a.test", "POST", "/wake", {});
  const head = a.app.parley.rooms.state(roomId)!.seq;
  await until(t, "b holds Maths up to a's head", () => b.app.parley.rooms.state(roomId)?.seq === head, 60_000);
  t.ok(heldFrom(b, roomId) > said[0], "b holds Maths only from after alice's first message to bob");
  return { servers, a, b, alice, carol, bob, roomId, joinSeq, said };
}

t.test("bob, an admin of Maths, reads its whole audit log through b: asked of a on his behalf, not the part b holds from the snapshot on", async (t) => {
  const { b, alice, bob, carol, roomId } = await mathsBehind(t);
  t.equal(heldAudit(b, roomId), 0, "b's own audit log of Maths begins after both role changes");
  const home = await ok(t, alice, "audit.list", { roomId });
  const page = await ok(t, bob, "audit.list", { roomId });
  t.same(page, home, "bob's page is the home's");
  t.match(page.entries, [
    { action: "member.role", actor: alice.userId, target: bob.userId },
    { action: "member.role", actor: alice.userId, target: carol.userId },
  ]);
  t.notOk("incomplete" in page, "complete");
});

t.test("bob asks who reacted to and who read alice's first message to him, older than b holds: a answers, as it answers alice", async (t) => {
  const { alice, bob, carol, roomId, said } = await mathsBehind(t);
  const reactions = await ok(t, bob, "message.reactions", { roomId, seq: said[0] });
  t.match(reactions.reactions, [{ userId: carol.userId, emoji: "👍" }], "carol's reaction, which b never held");
  t.same(reactions, await ok(t, alice, "message.reactions", { roomId, seq: said[0] }), "the home's answer");
  const receipts = await ok(t, bob, "receipt.get", { roomId, seq: said[0] });
  t.same(receipts, await ok(t, alice, "receipt.get", { roomId, seq: said[0] }), "receipts as the home counts them");
  t.ok(receipts.readers.some((r: { userId: string }) => r.userId === carol.userId), "carol read it (her marker is a's)");
  // Once bob paged back to it, b holds the message and its reactions and answers them itself.
  await ok(t, bob, "message.history", { roomId, limit: 50 });
  t.same(await ok(t, bob, "message.reactions", { roomId, seq: said[0] }), reactions, "the same, from b's own copy");
});

t.test("refused as at home: erin is not a member, dave is not an admin and reads only from his join, and bob's join is no message", async (t) => {
  const { a, b, alice, bob, roomId, joinSeq, said } = await mathsBehind(t);
  const [dave, erin] = await Promise.all([b.user("dave"), b.user("erin")]);
  const { token } = await ok(t, alice, "link.create", { roomId });
  await ok(t, dave, "link.join", { token, server: "a.test" });
  await until(t, "b holds dave's join", () => b.app.parley.rooms.state(roomId)?.members.has(dave.userId) === true);
  t.equal(await refusalOf(erin, "message.reactions", { roomId, seq: said[0] }), "room.not_found", "erin is in no room");
  t.equal(await refusalOf(erin, "audit.list", { roomId }), "room.not_found");
  t.equal(await refusalOf(dave, "audit.list", { roomId }), "room.forbidden", "dave is a member, not an admin");
  t.equal(await refusalOf(dave, "message.reactions", { roomId, seq: said[0] }), "message.not_found", "said before dave joined");
  t.equal(await refusalOf(dave, "receipt.get", { roomId, seq: said[0] }), "message.not_found");
  t.equal(await refusalOf(bob, "receipt.get", { roomId, seq: joinSeq }), "message.not_found", "a answers that bob's join is no message");
  // The home checks the reader itself, whatever the asking server says.
  const asDave = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: dave.userId, op: "message.reactions", params: { roomId, seq: said[0] } });
  t.equal(asDave.body?.error?.code, "message.not_found", "a refuses dave what was said before his join");
  const asErin = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: erin.userId, op: "audit.list", params: { roomId } });
  t.equal(asErin.body?.error?.code, "room.not_found", "and erin, who is no member, the audit log");
  const asDaveAudit = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: dave.userId, op: "audit.list", params: { roomId } });
  t.equal(asDaveAudit.body?.error?.code, "room.forbidden", "and dave, who is no admin");
  t.ok(a);
});

t.test("with a down, bob's audit log is what b holds, marked incomplete, and an older message's reactions and receipts are federation.unreachable; after a returns they answer", async (t) => {
  const { servers, a, bob, roomId, said } = await mathsBehind(t);
  await a.stop(false);
  const page = await ok(t, bob, "audit.list", { roomId });
  t.equal(page.incomplete, true);
  t.same(page.entries, [], "b holds no entry of Maths");
  t.equal(await refusalOf(bob, "message.reactions", { roomId, seq: said[0] }), "federation.unreachable");
  t.equal(await refusalOf(bob, "receipt.get", { roomId, seq: said[0] }), "federation.unreachable");
  t.equal((await ok(t, bob, "receipt.get", { roomId, seq: said[19] })).seq, said[19], "a message b holds is answered by b");
  const back = await a.restart();
  servers["a.test"] = back;
  const again = await ok(t, bob, "audit.list", { roomId });
  t.notOk("incomplete" in again);
  t.ok(again.entries.some((e: { action: string; target: string }) => e.action === "member.role" && e.target === bob.userId), "the home's entries again");
  t.equal((await ok(t, bob, "message.reactions", { roomId, seq: said[0] })).reactions.length, 1);
});

/**
 * alice's community Hillside on a with the groups Maths and Art, which bob (of b) is in none of:
 * `long` makes its log longer than a join snapshot's tail before bob joins (b begins it from a
 * snapshot); otherwise bob joins first and the groups are made after (b holds the whole log).
 */
async function hillside(t: Test, long: boolean) {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const [alice, bob] = await Promise.all([a.user("alice"), b.user("bob")]);
  const school = (await ok(t, alice, "community.create", { name: "Hillside School" })).roomId as string;
  const { token } = await ok(t, alice, "link.create", { roomId: school });
  if (!long) await ok(t, bob, "link.join", { token, server: "a.test" });
  const maths = (await ok(t, alice, "group.create", { name: "Maths", communityId: school })).roomId as string;
  const art = (await ok(t, alice, "group.create", { name: "Art", communityId: school })).roomId as string;
  if (long) {
    for (let i = 1; i <= 6; i++) await ok(t, alice, "message.send", { roomId: school, txnId: `n${i}`, body: `Notice ${i}` });
    await ok(t, bob, "link.join", { token, server: "a.test" });
  }
  await until(t, "b holds Hillside", () => b.app.parley.rooms.state(school)?.seq === a.app.parley.rooms.state(school)!.seq, 60_000);
  t.equal(b.app.parley.rooms.state(maths), undefined, "b holds no copy of Maths");
  t.equal(b.app.parley.storage.sqlite.prepare("SELECT 1 FROM replica_floors WHERE room_id = ?").get(school) !== undefined, long, long ? "b began Hillside from a snapshot" : "b holds Hillside's whole log");
  return { servers, a, b, alice, bob, school, maths, art };
}

for (const long of [true, false]) {
  t.test(`b keeps a's groups list of Hillside (${long ? "begun from a snapshot" : "its whole log"}): with a down and b restarted, bob still sees Maths and Art`, async (t) => {
    const { servers, a, b, bob, school, maths, art } = await hillside(t, long);
    const list = await ok(t, bob, "community.groups", { roomId: school });
    t.same(list.groups.map((g: { name: string; joined: boolean }) => [g.name, g.joined]), [["Art", false], ["Maths", false]], "a answers");
    await a.stop(false);
    const b2 = await b.restart();
    servers["b.test"] = b2;
    t.same([...b2.app.parley.rooms.state(school)!.groups].sort(), [maths, art].sort(), "b's copy of Hillside still names both groups");
    const bob2 = await b2.login("bob");
    const held = await ok(t, bob2, "community.groups", { roomId: school });
    t.same(held, list, "the list as a last gave it");
  });
}

t.test("with a down, the kept list shows only the groups Hillside's log still names, and groups b holds as they are now", async (t) => {
  const { servers, a, b, alice, bob, school, art } = await hillside(t, false);
  await ok(t, bob, "community.groups", { roomId: school });
  // Art leaves the community, and bob joins a new group.
  const music = (await ok(t, alice, "group.create", { name: "Music", communityId: school })).roomId as string;
  await ok(t, bob, "group.join", { roomId: music });
  await ok(t, alice, "community.unlink", { roomId: school, groupId: art });
  await until(t, "b holds Music", () => b.app.parley.rooms.state(music)?.members.has(bob.userId) === true && b.app.parley.rooms.state(school)?.seq === a.app.parley.rooms.state(school)!.seq);
  await a.stop(false);
  const b2 = await b.restart();
  servers["b.test"] = b2;
  const bob2 = await b2.login("bob");
  const held = await ok(t, bob2, "community.groups", { roomId: school });
  t.match(held.groups.find((g: { name: string }) => g.name === "Music"), { joined: true }, "Music, held by b, as it is now");
  t.same(held.groups.map((g: { name: string }) => g.name), ["Maths", "Music"], "Maths as a last gave it; not Art, which the log says left");
});

t.test("bob searches Maths for what alice said to him before b held it: a searches all he may read, on his behalf; a search across rooms is b's", async (t) => {
  const { b, bob, roomId, said } = await mathsBehind(t);
  const seqs = (page: { results: { seq: number }[] }) => page.results.map((r) => r.seq);
  const found = await ok(t, bob, "message.search", { query: "after bob", roomId, limit: 50 });
  t.same(seqs(found), [...said].reverse(), "all twenty, newest first, also those b does not hold");
  t.notOk("incomplete" in found);
  t.same((await ok(t, bob, "message.search", { query: "before bob", roomId })).results, [], "nothing said before he joined: a applies his reading span");
  const first = await ok(t, bob, "message.search", { query: "after bob", roomId, limit: 5 });
  const second = await ok(t, bob, "message.search", { query: "after bob", roomId, limit: 5, before: first.next });
  t.same([...seqs(first), ...seqs(second)], said.slice(10).reverse(), "paged with a's cursor");
  const across = await ok(t, bob, "message.search", { query: "after bob", limit: 50 });
  t.same(seqs(across), said.filter((s) => s >= heldFrom(b, roomId)).reverse(), "a search across rooms finds what b holds");
  const erin = await b.user("erin");
  t.equal(await refusalOf(erin, "message.search", { query: "after bob", roomId }), "room.not_found", "erin is in no room");
  t.equal(await refusalOf(bob, "message.search", { query: '" "', roomId }), "search.invalid_query", "a query with no word");
  const everywhere = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: bob.userId, op: "message.search", params: { query: "after bob" } });
  t.equal(everywhere.body?.error?.code, "invalid_params", "a refuses a search of every room of bob's: a read names its room");
});

t.test("with a down, bob's search of Maths finds what b holds, marked incomplete", async (t) => {
  const { a, b, bob, roomId, said } = await mathsBehind(t);
  await a.stop(false);
  const page = await ok(t, bob, "message.search", { query: "after bob", roomId, limit: 50 });
  t.equal(page.incomplete, true);
  t.same(page.results.map((r: { seq: number }) => r.seq), said.filter((s) => s >= heldFrom(b, roomId)).reverse());
});
