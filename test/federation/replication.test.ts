/**
 * Three servers on loopback: a user of b and a user of c join a community of a through proposals
 * their servers sign, a's outbox replicates the room's log to b and c (stored with a's seq, seen
 * by the local users over the real client protocol), and the delivery loses nothing while a peer
 * is down.
 */
import t from "tap";
import { mathsOnThree } from "./cluster.ts";
import { nextEvent, type TestServer, until } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { retryDelay, backoff } from "../../federation/outbox.ts";

function logOf(server: TestServer, roomId: string) {
  return server.app.parley.storage.sqlite.prepare("SELECT seq, event_id, type, sender, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as {
    seq: number; event_id: string; type: string; sender: string; hash: string;
  }[];
}

async function propose(from: TestServer, home: string, sender: string, op: string, params: Record<string, unknown>) {
  return from.app.parley.federation.request(home, "POST", "/propose", { sender, op, params });
}

t.test("a user of b joins a group of a by link through a signed proposal, and b holds the room's log with a's seqs", async (t) => {
  const { a, b, bob, roomId, token } = await mathsOnThree(t);
  const joined = await propose(b, "a.test", "@bob:b.test", "link.join", { token });
  t.equal(joined.status, 200, JSON.stringify(joined.body));
  t.ok(a.app.parley.rooms.state(roomId)!.members.has("@bob:b.test"), "bob is a member at home");
  await until(t, "b holds a's log", () => (b.app.parley.rooms.state(roomId)?.seq ?? 0) === a.app.parley.rooms.state(roomId)!.seq);
  t.same(logOf(b, roomId), logOf(a, roomId), "the same events, ids, seqs and hashes");
  t.same([...b.app.parley.rooms.state(roomId)!.members.keys()].sort(), ["@alice:a.test", "@bob:b.test"]);
  const list = await bob.request("room.list", {});
  t.ok(JSON.stringify(list).includes(roomId), "bob sees the room in room.list on his own server");
});

t.test("a message on a reaches the members on b and c exactly once, with the same seq", async (t) => {
  const { a, b, c, alice, bob, carol, roomId, token } = await mathsOnThree(t);
  await propose(b, "a.test", "@bob:b.test", "link.join", { token });
  await propose(c, "a.test", "@carol:c.test", "link.join", { token });
  await until(t, "b and c caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq && c.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const got: Record<string, number[]> = { bob: [], carol: [] };
  for (const [name, client] of [["bob", bob], ["carol", carol]] as [string, ParleyClient][]) {
    client.on("room.event", (e) => {
      if (e.roomId === roomId && e.type === "message") got[name].push(e.seq);
    });
  }
  const atBob = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message", 30_000);
  const atCarol = nextEvent(carol, (e) => e.roomId === roomId && e.type === "message", 30_000);
  const sent = await alice.request("message.send", { roomId, txnId: "m1", body: "hello from a" });
  const [eb, ec] = await Promise.all([atBob, atCarol]);
  t.equal(eb.seq, sent.event.seq);
  t.equal(ec.seq, sent.event.seq);
  t.equal(eb.eventId, sent.event.eventId);
  t.same((eb.content as { body: string }).body, "hello from a");
  // A message bob proposes is sequenced at home and reaches c.
  const fromBob = nextEvent(carol, (e) => e.roomId === roomId && e.type === "message" && e.sender === "@bob:b.test", 30_000);
  const res = await propose(b, "a.test", "@bob:b.test", "message.send", { roomId, txnId: "b1", body: "hello from b" });
  t.equal(res.status, 200);
  t.equal((await fromBob).seq, res.body.result.event.seq);
  await until(t, "everyone holds the same log", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  t.same(got.bob, [sent.event.seq, res.body.result.event.seq], "bob got each message once");
  t.same(got.carol, [sent.event.seq, res.body.result.event.seq], "carol got each message once");
  t.same(logOf(c, roomId), logOf(a, roomId));
});

t.test("a proposal for a user of another server, or of an op that cannot be proposed, is refused and changes nothing", async (t) => {
  const { a, b, roomId, token } = await mathsOnThree(t);
  const before = a.app.parley.rooms.state(roomId)!.seq;
  const forged = await propose(b, "a.test", "@carol:c.test", "link.join", { token });
  t.equal(forged.status, 401);
  t.equal(forged.body.error.code, "federation.sender_not_of_origin");
  const op = await propose(b, "a.test", "@bob:b.test", "device.revoke", { deviceId: "x" });
  t.equal(op.body.error.code, "unknown_op");
  const bad = await propose(b, "a.test", "@bob:b.test", "message.send", { roomId, body: 42 });
  t.equal(bad.body.error.code, "invalid_params");
  const notMember = await propose(b, "a.test", "@bob:b.test", "message.send", { roomId, txnId: "x", body: "hi" });
  t.equal(notMember.body.error.code, "room.not_found", "the room's rules apply to remote users as to local ones");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before);
});

t.test("over the real client protocol, bob on b joins a's group by its link, sends, reacts, edits and deletes; a sequences it all and b's copy does not fork", async (t) => {
  const { a, b, alice, bob, roomId, token } = await mathsOnThree(t);
  const joined = await bob.request("link.join", { token, server: "a.test" });
  t.equal(joined.status, "joined");
  await until(t, "b holds the room", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const atAlice = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message" && e.sender === "@bob:b.test", 30_000);
  const sent = await bob.request("message.send", { roomId, txnId: "b1", body: "hello from b" });
  t.equal((await atAlice).seq, sent.event.seq, "alice on a got bob's message with the seq a gave it");
  const echoed = await nextEvent(bob, (e) => e.roomId === roomId && e.type === "message" && e.seq === sent.event.seq, 30_000).catch(() => null);
  t.ok(echoed || b.app.parley.rooms.state(roomId)!.seq >= sent.event.seq, "bob's own server holds it too");
  await bob.request("message.react", { roomId, seq: sent.event.seq, emoji: "👍" });
  await bob.request("message.edit", { roomId, seq: sent.event.seq, body: "hello from b, edited" });
  await bob.request("message.delete", { roomId, seq: sent.event.seq, forEveryone: true });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  t.same(logOf(b, roomId), logOf(a, roomId), "one log, sequenced by a");
  t.same(logOf(a, roomId).slice(-3).map((e) => e.type), ["message.react", "message.edit", "message.delete"].map((x) => (x === "message.react" ? "reaction" : x)));
  // A refusal at home comes back with its code: bob may not change the group's settings.
  let code = "(accepted)";
  try {
    await bob.request("room.settings.update", { roomId, sendPolicy: "admins" });
  } catch (err) {
    code = (err as { code: string }).code;
  }
  t.equal(code, "room.forbidden");
  // An internal path that would sequence the replica locally is refused by the core.
  await t.rejects(b.app.parley.rooms.transact((tx) => tx.append({ roomId, type: "message", sender: "@bob:b.test", content: { kind: "text", body: "local" } })), { code: "room.remote_home" });
});

t.test("c is down while events are sent; after it returns it has all of them, in order", async (t) => {
  const { a, c, alice, roomId, token, servers } = await mathsOnThree(t);
  await propose(c, "a.test", "@carol:c.test", "link.join", { token });
  await until(t, "c caught up", () => c.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  await c.stop(false);
  for (let i = 0; i < 60; i++) await alice.request("message.send", { roomId, txnId: `down${i}`, body: `while c is down ${i}` });
  await until(t, "a noticed c is down", () => a.app.parley.outbox.status().some((p) => p.server === "c.test" && p.failures > 0));
  const status = a.app.parley.outbox.status().find((p) => p.server === "c.test")!;
  t.ok(status.backlog >= 60, `a holds c's backlog (${status.backlog})`);
  const c2 = await c.restart();
  servers["c.test"] = c2;
  // c's start wakes a, which sends at once rather than waiting out its backoff.
  await until(t, "c holds every event", () => c2.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq, 60_000);
  t.same(logOf(c2, roomId), logOf(a, roomId), "the same log, in order, nothing twice");
  await until(t, "a's status shows c caught up", () => a.app.parley.outbox.status().find((p) => p.server === "c.test")!.backlog === 0);
  t.equal(a.app.parley.outbox.status().find((p) => p.server === "c.test")!.failures, 0, "the successful send reset the failures");
});

t.test("backoff: full jitter over 2 s doubling, capped at an hour", async (t) => {
  t.equal(retryDelay(1, () => 0.999999), 1999);
  t.equal(retryDelay(2, () => 0.5), 2000);
  t.equal(retryDelay(3, () => 0.5), 4000);
  t.equal(retryDelay(40, () => 0.999999), backoff.capMs - 4, "capped at an hour");
  t.equal(retryDelay(5, () => 0), 0, "full jitter reaches down to zero");
  t.equal(backoff.dormantAfterMs, 72 * 3_600_000);
  t.equal(backoff.dormantProbeMs, 3_600_000);
});

t.test("an admin on b removes a member on c from a's group: the removal is sequenced at a, reaches c, is audited with the remote actor, and c hears nothing after it", async (t) => {
  const { a, b, c, alice, bob, carol, roomId, token } = await mathsOnThree(t);
  t.equal((await bob.request("link.join", { token, server: "a.test" })).status, "joined");
  t.equal((await carol.request("link.join", { token, server: "a.test" })).status, "joined");
  await alice.request("member.role", { roomId, userId: "@bob:b.test", role: "admin" });
  await until(t, "b and c caught up", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  const removal = nextEvent(carol, (e) => e.roomId === roomId && e.type === "member.remove", 30_000);
  await bob.request("member.remove", { roomId, userId: "@carol:c.test" });
  const e = await removal;
  t.equal(e.sender, "@bob:b.test", "carol, on c, is told who removed her");
  await until(t, "c holds the removal", () => c.app.parley.rooms.state(roomId)?.seq === e.seq);
  t.notOk(c.app.parley.rooms.state(roomId)!.members.has("@carol:c.test"));
  const audit = await alice.request("audit.list", { roomId });
  t.ok(JSON.stringify(audit).includes("@bob:b.test"), "the audit log names the remote admin");
  await alice.request("message.send", { roomId, txnId: "after", body: "after carol left" });
  await until(t, "b has the later message", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  t.equal(c.app.parley.rooms.state(roomId)!.seq, e.seq, "c received nothing after the removal");
  t.equal(a.app.parley.outbox.status().find((p) => p.server === "c.test")!.backlog, 0, "and owes it nothing");
});

t.test("a is down while bob on b sends: the send is pending, then delivered when a returns, and bob is told", async (t) => {
  const { a, b, bob, roomId, token, servers } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  await a.stop(false);
  let pending: { code?: string; details?: Record<string, unknown> } = {};
  try {
    await bob.request("message.send", { roomId, txnId: "p1", body: "while a is down" });
  } catch (err) {
    pending = err as typeof pending;
  }
  t.equal(pending.code, "message.pending");
  t.match(pending.details, { roomId, txnId: "p1" });
  const outcome = new Promise<any>((resolve) => bob.on("message.outcome", resolve));
  const echo = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message" && e.txnId === "p1", 30_000);
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const told = await outcome;
  t.match(told, { pendingId: pending.details!.pendingId, roomId, txnId: "p1", status: "accepted" });
  // The event as b holds it (b's stream position) if it was replicated before the answer, else
  // null: it comes as a push with the send's txnId.
  const pushed = await echo;
  t.equal(pushed.sender, "@bob:b.test");
  if (told.event) t.same(told.event, { ...pushed, txnId: undefined }, "the outcome's event is b's copy");
  const atHome = logOf(a2, roomId).find((e) => e.seq === pushed.seq)!;
  t.equal(atHome.type, "message", "sequenced by a after it returned");
  await until(t, "b holds it too", () => b.app.parley.rooms.state(roomId)?.seq === a2.app.parley.rooms.state(roomId)!.seq);
});

t.test("a pending send from a user banned meanwhile is refused at home, and the user is told when they come back", async (t) => {
  const { a, b, bob, roomId, token, servers } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  await a.stop(false);
  const code = await bob.request("message.send", { roomId, txnId: "p2", body: "before the ban" }).then(() => "(accepted)", (err) => (err as { code: string }).code);
  t.equal(code, "message.pending");
  await b.stop(false);
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const alice2 = await a2.login("alice");
  await alice2.request("member.ban", { roomId, userId: "@bob:b.test" });
  const before = a2.app.parley.rooms.state(roomId)!.seq;
  const b2 = await b.restart();
  servers["b.test"] = b2;
  await until(t, "b delivered its pending send", () => (b2.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM federation_pending").get() as { n: number }).n === 0);
  const bob2 = await b2.login("bob", { connect: false });
  const outcome = new Promise<any>((resolve) => bob2.on("message.outcome", resolve));
  await bob2.connect();
  const told = await outcome;
  t.match(told, { roomId, txnId: "p2", status: "refused" });
  t.ok(["room.banned", "room.not_found"].includes(told.error.code), `refused with ${told.error.code}`);
  t.equal(a2.app.parley.rooms.state(roomId)!.seq, before, "nothing was sequenced for it");
});

t.test("typing and read receipts of a user of b reach the members on a and c, and 'seen by N of M' at home counts the remote reader", async (t) => {
  const { a, b, c, alice, bob, carol, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await carol.request("link.join", { token, server: "a.test" });
  const sent = await alice.request("message.send", { roomId, txnId: "r1", body: "read me" });
  await until(t, "b and c caught up", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  const typingAtAlice = new Promise<any>((resolve) => alice.on("room.typing", (d) => d.userId === "@bob:b.test" && resolve(d)));
  const typingAtCarol = new Promise<any>((resolve) => carol.on("room.typing", (d) => d.userId === "@bob:b.test" && resolve(d)));
  await bob.request("typing.set", { roomId, typing: true });
  t.match(await typingAtAlice, { roomId, userId: "@bob:b.test", typing: true }, "alice, on a, sees bob typing");
  t.match(await typingAtCarol, { roomId, userId: "@bob:b.test", typing: true }, "carol, on c, too");
  const receiptAtAlice = new Promise<any>((resolve) => alice.on("room.receipt", (d) => d.userId === "@bob:b.test" && d.type === "read" && resolve(d)));
  await bob.request("receipt.read", { roomId, seq: sent.event.seq });
  t.match(await receiptAtAlice, { roomId, userId: "@bob:b.test", seq: sent.event.seq, type: "read" });
  const seen = await alice.request("receipt.get", { roomId, seq: sent.event.seq });
  t.equal(seen.readBy, 1, "bob's read counts at home");
  t.equal(seen.of, 2, "of bob and carol");
});

t.test("alice on a invites @bob:b.test directly; bob, on b, is told and accepts with the same op as for a local invitation", async (t) => {
  const { a, b, alice, bob, roomId } = await mathsOnThree(t);
  const invited = nextEvent(bob, (e) => e.roomId === roomId && e.type === "member.invite", 30_000);
  await alice.request("member.invite", { roomId, userId: "@bob:b.test" });
  t.equal((await invited).sender, "@alice:a.test", "bob's own server pushed the invitation");
  await bob.request("invite.accept", { roomId });
  await until(t, "b holds bob's join", () => b.app.parley.rooms.state(roomId)?.members.has("@bob:b.test") === true);
  t.ok(a.app.parley.rooms.state(roomId)!.members.has("@bob:b.test"), "a member at home");
  const atBob = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message", 30_000);
  await alice.request("message.send", { roomId, txnId: "after-invite", body: "welcome" });
  t.equal(((await atBob).content as { body: string }).body, "welcome");
});

t.test("bob on b asks to join a group of a that needs approval; an admin of a approves; bob is in", async (t) => {
  const { a, b, alice, bob, roomId, token } = await mathsOnThree(t);
  await alice.request("room.settings.update", { roomId, joinApproval: true });
  const asked = await bob.request("link.join", { token, server: "a.test" });
  t.equal(asked.status, "requested");
  t.ok(a.app.parley.rooms.state(roomId)!.requests.has("@bob:b.test"), "the request is at home");
  await alice.request("join.approve", { roomId, userId: "@bob:b.test" });
  await until(t, "b holds bob's join", () => b.app.parley.rooms.state(roomId)?.members.has("@bob:b.test") === true);
  t.same(logOf(b, roomId), logOf(a, roomId));
});

t.test("keys rotate on the home while it sends, and no delivery is lost", async (t) => {
  const { a, b, alice, bob, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const { rotateServerKey } = await import("../../federation/keys.ts");
  for (let i = 0; i < 20; i++) {
    await alice.request("message.send", { roomId, txnId: `k${i}`, body: `message ${i}` });
    if (i === 9) {
      await rotateServerKey(a.app.parley.storage);
      await a.app.parley.keys.reload();
    }
  }
  await until(t, "b holds all 20", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  t.same(logOf(b, roomId), logOf(a, roomId));
  t.equal(a.app.parley.keys.published().length, 2, "the old key stays published");
  t.equal(a.app.parley.outbox.status().find((p) => p.server === "b.test")!.failures, 0, "no delivery failed");
});

t.test("bob on b votes in an anonymous poll of a's group: the vote is counted at home and enters no log", async (t) => {
  const { a, b, alice, bob, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  const poll = await alice.request("poll.create", { roomId, txnId: "p1", question: "Which day?", options: ["Monday", "Friday"], anonymous: true });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const voted = await bob.request("poll.vote", { roomId, seq: poll.event.seq, options: [1] });
  t.same(voted.counts, [0, 1], "the home's tally, answered to bob");
  const atHome = await alice.request("poll.get", { roomId, seq: poll.event.seq });
  t.same(atHome.counts, [0, 1]);
  for (const s of [a, b]) {
    const votes = s.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events WHERE room_id = ? AND type = 'poll.vote'").get(roomId) as { n: number };
    t.equal(votes.n, 0, `no poll.vote event in ${s.config.server.name}'s log`);
  }
  const bobsVoteAtB = b.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events WHERE room_id = ? AND content LIKE '%@bob:b.test%' AND type NOT LIKE 'member.%'").get(roomId) as { n: number };
  t.equal(bobsVoteAtB.n, 0, "nothing names bob's choice on b either");
});
