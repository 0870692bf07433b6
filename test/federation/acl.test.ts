/**
 * A community's server access list across three servers on loopback. alice (of a) owns the
 * Hillside community with its Maths group; bob (of b) and carol (of c) joined both through
 * proposals their servers signed. alice denies c: carol is removed everywhere with explicit
 * events that a and b hold alike, c hears of her removal and then nothing more, carol cannot
 * come back (link, group list, invitation) nor send, bob is unaffected, and another community of
 * a still accepts c's users. Then each refusal of `community.servers.set`.
 */
import t from "tap";
import { startClusterFor } from "./cluster.ts";
import { eventFor, nextFrame, ok, rawSocket, refusalOf, type TestServer, until } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


function logOf(server: TestServer, roomId: string) {
  return server.app.parley.storage.sqlite.prepare("SELECT seq, event_id, type, sender, content, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as {
    seq: number; event_id: string; type: string; sender: string; content: string; hash: string;
  }[];
}

const seqOf = (server: TestServer, roomId: string) => server.app.parley.rooms.state(roomId)?.seq ?? 0;

async function hillside(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"]);
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const [alice, dan] = await Promise.all([a.user("alice"), a.user("dan")]);
  const bob = await b.user("bob");
  const carol = await c.user("carol");
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const maths = await ok(t, alice, "group.create", { name: "Maths", communityId: school.roomId });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  for (const user of [bob, carol]) {
    await ok(t, user, "link.join", { token, server: "a.test" });
    await ok(t, user, "group.join", { roomId: maths.roomId });
  }
  await ok(t, dan, "link.join", { token });
  for (const [server, name] of [[b, "b"], [c, "c"]] as const) {
    await until(t, `${name} caught up`, () => seqOf(server, school.roomId) === seqOf(a, school.roomId) && seqOf(server, maths.roomId) === seqOf(a, maths.roomId));
  }
  return { a, b, c, alice, bob, carol, dan, school: school.roomId as string, maths: maths.roomId as string, token: token as string };
}

t.test("when alice denies c, carol is removed from the community and its group with explicit events that a and b hold alike", async (t) => {
  const { a, b, c, alice, bob, carol, school, maths } = await hillside(t);
  const bobSees = eventFor(bob, maths, "member.remove", carol.userId, 30_000);
  const carolHears = eventFor(carol, school, "member.remove", carol.userId, 30_000);
  const set = await ok(t, alice, "community.servers.set", { roomId: school, deny: ["c.test"] });
  t.same(set, { roomId: school, allow: null, deny: ["c.test"], allowIpLiterals: true, removed: [carol.userId] });

  // At home: the list, then one explicit removal per room, in the same transaction.
  const home = logOf(a, school);
  const acl = home.find((e) => e.type === "room.server_acl")!;
  t.same(JSON.parse(acl.content), { deny: ["c.test"] });
  const removal = home.find((e) => e.type === "member.remove")!;
  t.equal(removal.seq, acl.seq + 1, "the removal follows the list");
  t.same(JSON.parse(removal.content), { userId: carol.userId, serverAcl: true });
  const groupRemoval = logOf(a, maths).find((e) => e.type === "member.remove")!;
  t.same(JSON.parse(groupRemoval.content), { userId: carol.userId, cascade: school });
  t.notOk(a.app.parley.rooms.state(school)!.members.has(carol.userId));
  t.notOk(a.app.parley.rooms.state(maths)!.members.has(carol.userId));

  // b's copy agrees event for event; bob's client sees the removal in the group.
  t.equal((await bobSees).seq, groupRemoval.seq);
  await until(t, "b caught up", () => seqOf(b, school) === seqOf(a, school) && seqOf(b, maths) === seqOf(a, maths));
  t.same(logOf(b, school), logOf(a, school), "b holds the community's log as a has it");
  t.same(logOf(b, maths), logOf(a, maths), "and the group's");
  t.same([...b.app.parley.rooms.state(school)!.members.keys()].sort(), [alice.userId, bob.userId, "@dan:a.test"].sort());

  // c hears of its user's removal, up to it, and its copy agrees on who is in.
  t.equal((await carolHears).seq, removal.seq);
  await until(t, "c got the removals", () => seqOf(c, school) === removal.seq && seqOf(c, maths) === groupRemoval.seq);
  t.notOk(c.app.parley.rooms.state(school)!.members.has(carol.userId));
  t.notOk(c.app.parley.rooms.state(maths)!.members.has(carol.userId));
  t.same(logOf(c, school), logOf(a, school).filter((e) => e.seq <= removal.seq), "c's copy is a's log up to the removal");
});

t.test("after the denial a replicates the community to c no more: its cursors end at the removals", async (t) => {
  const { a, b, c, alice, bob, carol, school, maths } = await hillside(t);
  await ok(t, alice, "community.servers.set", { roomId: school, deny: ["c.test"] });
  const removedAt = (roomId: string) => logOf(a, roomId).find((e) => e.type === "member.remove")!.seq;
  const cursor = (roomId: string) =>
    a.app.parley.storage.sqlite.prepare("SELECT acked_seq, until_seq FROM federation_cursors WHERE destination = 'c.test' AND room_id = ?").get(roomId) as { acked_seq: number; until_seq: number | null };
  t.equal(cursor(school).until_seq, removedAt(school), "the community's cursor for c ends at carol's removal");
  t.equal(cursor(maths).until_seq, removedAt(maths), "and the group's");

  const atBob = eventFor(bob, maths, "message", undefined, 30_000);
  const sent = await alice.request("message.send", { roomId: maths, txnId: "after", body: "Homework: page 12" });
  t.equal((await atBob).seq, sent.event.seq, "b still gets the group's messages");
  await until(t, "c acknowledged up to the end", () => cursor(maths).acked_seq === removedAt(maths));
  t.equal(seqOf(c, maths), removedAt(maths), "c holds nothing after carol's removal");
  t.equal(await refusalOf(carol, "room.members", { roomId: maths }), "room.not_found", "carol is in the group no more, on her own server too");
});

t.test("a user of a denied server cannot come back: not by link, not from the group list, not by invitation, nor send", async (t) => {
  const { a, c, alice, carol, school, maths, token } = await hillside(t);
  await ok(t, alice, "community.servers.set", { roomId: school, deny: ["c.test"] });
  t.equal(await refusalOf(carol, "link.join", { token, server: "a.test" }), "room.server_denied", "by link");
  t.equal(await refusalOf(carol, "group.join", { roomId: maths }), "room.server_denied", "from the community's group list");
  t.equal(await refusalOf(carol, "message.send", { roomId: maths, txnId: "x", body: "still here?" }), "room.server_denied", "a send proposed by c is refused at home");
  t.equal(await refusalOf(alice, "member.invite", { roomId: school, userId: carol.userId }), "room.server_denied", "nobody invites her");
  // Nor by request: a group of the community that needs approval refuses c's request too.
  await ok(t, alice, "room.settings.update", { roomId: maths, joinApproval: true });
  t.equal(await refusalOf(carol, "group.join", { roomId: maths }), "room.server_denied", "by request");
  // A proposal straight from c's server meets the same refusal at a.
  const proposed = await c.app.parley.federation.request("a.test", "POST", "/propose", { sender: carol.userId, op: "link.join", params: { token } });
  t.equal(proposed.status, 403);
  t.equal(proposed.body.error.code, "room.server_denied");
  t.notOk(a.app.parley.rooms.state(school)!.members.has(carol.userId), "carol is still out");
});

t.test("bob of b is unaffected, and another community of a still accepts c's users", async (t) => {
  const { a, alice, bob, carol, school, maths } = await hillside(t);
  await ok(t, alice, "community.servers.set", { roomId: school, deny: ["c.test"] });
  const sent = await ok(t, bob, "message.send", { roomId: maths, txnId: "b1", body: "Thanks!" });
  t.equal(sent.event.sender, bob.userId, "bob still sends in the group");
  t.ok(a.app.parley.rooms.state(school)!.members.has(bob.userId));

  const chess = await ok(t, alice, "community.create", { name: "Chess Club" });
  const { token } = await alice.request("link.create", { roomId: chess.roomId });
  const joined = await ok(t, carol, "link.join", { token, server: "a.test" });
  t.equal(joined.roomId, chess.roomId, "carol joins the other community of the same home");
  t.ok(a.app.parley.rooms.state(chess.roomId)!.members.has(carol.userId));

  // Lifting the list lets c's users back in.
  const lifted = await ok(t, alice, "community.servers.set", { roomId: school, deny: [] });
  t.same(lifted.removed, []);
  const { token: again } = await alice.request("link.create", { roomId: school });
  await ok(t, carol, "link.join", { token: again, server: "a.test" });
  t.ok(a.app.parley.rooms.state(school)!.members.has(carol.userId), "carol is back once the list is lifted");
});

t.test("an allow list keeps only the servers on it: b's users stay, c's are removed", async (t) => {
  const { a, alice, bob, carol, school, maths } = await hillside(t);
  const set = await ok(t, alice, "community.servers.set", { roomId: school, allow: ["a.test", "b.*"], deny: [] });
  t.same(set.removed, [carol.userId]);
  t.same([...a.app.parley.rooms.state(maths)!.members.keys()].sort(), [alice.userId, bob.userId].sort());
});

t.test("community.servers.set refuses a non-admin, malformed lists, denying the home server, a group, a deactivated community and the unauthenticated", async (t) => {
  const { a, alice, bob, dan, school, maths } = await hillside(t);
  const before = seqOf(a, school);
  t.equal(await refusalOf(dan, "community.servers.set", { roomId: school, deny: ["c.test"] }), "room.forbidden", "dan, a member on a, is no admin");
  t.equal(await refusalOf(bob, "community.servers.set", { roomId: school, deny: ["c.test"] }), "room.forbidden", "bob, a member on b, proposes it and is refused at home");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, deny: "c.test" } as never), "invalid_params", "deny is a list");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, deny: ["c test"] }), "invalid_params", "entries are server names");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school } as never), "invalid_params", "deny is required");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, deny: ["a.test"] }), "room.acl_denies_home", "the home cannot deny itself");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, deny: ["*"] }), "room.acl_denies_home", "not by a pattern either");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, allow: ["b.test"], deny: [] }), "room.acl_denies_home", "nor by leaving it off an allow list");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: maths, deny: ["c.test"] }), "room.invalid", "a group has no list of its own");
  t.equal(await refusalOf(bob, "community.servers.set", { roomId: "!nothere0001:a.test", deny: [] }), "room.not_found");
  t.equal(seqOf(a, school), before, "nothing changed");
  t.notOk(a.app.parley.rooms.state(school)!.serverAcl, "no list is in force");

  const old = await ok(t, alice, "community.create", { name: "Old PTA" });
  await ok(t, alice, "community.deactivate", { roomId: old.roomId });
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: old.roomId, deny: ["c.test"] }), "room.deactivated");

  const ws = await rawSocket(a);
  t.teardown(() => ws.close());
  ws.send(JSON.stringify({ id: "1", op: "community.servers.set", params: { roomId: school, deny: ["c.test"] } }));
  t.equal((await nextFrame(ws)).error.code, "auth.required");
});
