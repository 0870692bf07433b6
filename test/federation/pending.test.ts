/**
 * Pending ops: what a user of b writes in a room of a while a is down (a send, an edit, a
 * reaction, a poll and a vote, a calendar event and an answer, a deletion) is kept by b, answered
 * `message.pending` naming the op, proposed to a in the same order when a returns, authorized
 * against the room's state at that time, and the user is told each outcome. Membership ops are
 * not kept: they fail at once.
 */
import t from "tap";
import { mathsWithBob } from "./cluster.ts";
import { record, type TestServer, until as untilShared } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { setServerPolicy } from "../../federation/policy.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Waits for a state with a longer bound than the shared helper (real processes restart here). */
const until = (t: Test, what: string, check: () => boolean) => untilShared(t, what, check, 60_000);

/** The op's refusal: its code and details (a kept op is answered `message.pending`). */
async function answerOf(p: Promise<unknown>): Promise<{ code: string; details?: Record<string, any> }> {
  try {
    await p;
    return { code: "(accepted)" };
  } catch (err) {
    return err as { code: string; details?: Record<string, any> };
  }
}

const keptCount = (s: TestServer) => (s.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM federation_pending").get() as { n: number }).n;

/** a hosts a group with alice's message, poll and calendar event and bob's message; bob (of b) is a member. */
async function roomWithBob(t: Test) {
  const { servers, a, b, alice, bob, roomId, caughtUp } = await mathsWithBob(t);
  const hello = (await alice.request("message.send", { roomId, txnId: "a1", body: "Homework is on page 12" })).event.seq;
  const poll = (await alice.request("poll.create", { roomId, txnId: "a2", question: "Which day for the trip?", options: ["Monday", "Friday"] })).event.seq;
  const meeting = (await alice.request("event.create", { roomId, txnId: "a3", title: "Parents' evening", start: Date.now() + 86_400_000, timeZone: "Europe/London" })).event.seq;
  const mine = (await bob.request("message.send", { roomId, txnId: "b1", body: "Thanks!" })).event.seq;
  await caughtUp();
  return { servers, a, b, alice, bob, roomId, hello, poll, meeting, mine };
}

t.test("while a is down bob's send, edit, reaction, poll, vote, calendar event, answer and deletion are kept, then applied at a in order, and bob is told each outcome", async (t) => {
  const { servers, a, b, bob, roomId, hello, poll, meeting, mine } = await roomWithBob(t);
  await a.stop(false);
  const ops: [string, Record<string, unknown>][] = [
    ["message.send", { roomId, txnId: "s1", body: "Sent while a is down" }],
    ["message.edit", { roomId, seq: mine, body: "Thanks a lot!" }],
    ["message.react", { roomId, seq: hello, emoji: "👍" }],
    ["poll.create", { roomId, txnId: "s2", question: "Bring lunch?", options: ["Yes", "No"] }],
    ["poll.vote", { roomId, seq: poll, options: [1] }],
    ["event.create", { roomId, txnId: "s3", title: "Revision", start: Date.now() + 2 * 86_400_000, timeZone: "Europe/London" }],
    ["event.rsvp", { roomId, seq: meeting, answer: "going" }],
    ["message.delete", { roomId, seq: mine, forEveryone: true }],
  ];
  const kept: number[] = [];
  for (const [op, params] of ops) {
    const answer = await answerOf(bob.request(op as "message.send", params as never));
    t.equal(answer.code, "message.pending", `${op} is kept`);
    t.match(answer.details, { op, roomId }, `${op}: the details name the op and the room`);
    kept.push(answer.details!.pendingId);
  }
  t.same(kept, [...kept].sort((x, y) => x - y), "kept in the order they were made");

  const leave = await answerOf(bob.request("room.leave", { roomId }));
  t.equal(leave.code, "federation.unreachable", "leaving is not kept: it fails at once");
  t.equal(keptCount(b), ops.length, "nothing else was kept");

  const outcomes = record<any>(bob, "message.outcome");
  const events = record<any>(bob, "room.event");
  const a2 = await a.restart();
  servers["a.test"] = a2;
  await until(t, "bob told of every op", () => outcomes.length === ops.length);
  t.same(outcomes.map((o) => o.op), ops.map(([op]) => op), "told in the order the ops were made, each naming its op");
  t.same(outcomes.map((o) => o.pendingId), kept);
  for (const o of outcomes) t.equal(o.status, "accepted", `${o.op} accepted${o.error ? `: ${o.error.code}` : ""}`);
  t.match(outcomes[0], { txnId: "s1" });
  // An outcome's event is b's copy (b's stream position) when b holds it already, else null: it
  // comes as a room.event push, with the send's txnId (local echo).
  const posOnB = (eventId: string) => (b.app.parley.storage.sqlite.prepare("SELECT pos FROM room_events WHERE event_id = ?").get(eventId) as { pos: number } | undefined)?.pos;
  for (const o of outcomes.filter((o) => o.event)) t.equal(o.event.pos, posOnB(o.event.eventId), `${o.op}: the event as b holds it`);
  await until(t, "the send's event pushed with its txnId", () => events.some((e) => e.txnId === "s1"));
  t.match(events.find((e) => e.txnId === "s1"), { type: "message", sender: "@bob:b.test", roomId });
  t.match(outcomes[1], { seq: mine });
  const seqs = outcomes.filter((o) => o.event).map((o) => o.event.seq as number);
  t.same(seqs, [...seqs].sort((x, y) => x - y), "sequenced at a in the order they were made");
  t.equal(keptCount(b), 0, "nothing is left pending");

  const log = a2.app.parley.storage.sqlite.prepare("SELECT seq, type, sender FROM room_events WHERE room_id = ? AND seq > ? ORDER BY seq").all(roomId, mine) as { seq: number; type: string; sender: string }[];
  t.ok(log.length >= seqs.length && log.every((e) => e.sender === "@bob:b.test"), "every event a sequenced after the outage is one of bob's ops");
  await until(t, "b holds a's log again", () => b.app.parley.rooms.state(roomId)?.seq === a2.app.parley.rooms.state(roomId)!.seq);
  const votes = await bob.request("poll.get", { roomId, seq: poll });
  t.same(votes.counts, [0, 1], "bob's vote counts");
});

t.test("a vote kept while a is down on a poll alice closes before it arrives is refused with poll.closed, and bob is told when he comes back", async (t) => {
  const { servers, a, b, bob, roomId, poll } = await roomWithBob(t);
  await a.stop(false);
  const answer = await answerOf(bob.request("poll.vote", { roomId, seq: poll, options: [0] }));
  t.equal(answer.code, "message.pending");
  await b.stop(false);
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const alice2 = await a2.login("alice");
  await alice2.request("poll.close", { roomId, seq: poll });
  const before = a2.app.parley.rooms.state(roomId)!.seq;
  const b2 = await b.restart();
  servers["b.test"] = b2;
  await until(t, "b proposed its pending vote", () => keptCount(b2) === 0);
  const bob2: ParleyClient = await b2.login("bob", { connect: false });
  const told = new Promise<any>((resolve) => bob2.on("message.outcome", resolve));
  await bob2.connect();
  t.match(await told, { op: "poll.vote", roomId, seq: poll, status: "refused", error: { code: "poll.closed" } });
  t.equal(a2.app.parley.rooms.state(roomId)!.seq, before, "nothing was sequenced for it");
  void bob;
});

t.test("a proposal b makes again under the same proposalId (its first answer lost) is applied once at a and answered the same", async (t) => {
  const { a, b, roomId, mine } = await roomWithBob(t);
  const before = a.app.parley.rooms.state(roomId)!.seq;
  const proposal = { sender: "@bob:b.test", op: "message.edit", params: { roomId, seq: mine, body: "Thanks, edited once" }, proposedAt: Date.now(), proposalId: "kept-edit-0001" };
  const first = await b.app.parley.federation.request("a.test", "POST", "/propose", proposal);
  t.equal(first.status, 200, JSON.stringify(first.body));
  const again = await b.app.parley.federation.request("a.test", "POST", "/propose", proposal);
  t.equal(again.status, 200);
  t.same(again.body, first.body, "the same answer");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before + 1, "one edit event, not two");
  const other = await b.app.parley.federation.request("a.test", "POST", "/propose", { ...proposal, proposalId: "kept-edit-0002" });
  t.equal(other.status, 200);
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before + 2, "another proposalId is another proposal");
});

t.test("bob's leave made once a answers again, before b has proposed his kept message, waits for it: the message is sequenced first and accepted, then he leaves", async (t) => {
  const { servers, a, b, bob, roomId } = await roomWithBob(t);
  await a.stop(false);
  const kept = await answerOf(bob.request("message.send", { roomId, txnId: "k1", body: "See you all on Friday" }));
  t.equal(kept.code, "message.pending");
  // a comes back without b hearing of it (b refuses a's wake while a restarts), so b's kept
  // message still waits for its retry timer when bob leaves.
  setServerPolicy(b.app.parley.storage, "a.test", "deny");
  const outcomes = record<any>(bob, "message.outcome");
  const a2 = await a.restart();
  servers["a.test"] = a2;
  setServerPolicy(b.app.parley.storage, "a.test", null);
  t.equal(keptCount(b), 1, "the message is still kept when bob leaves");
  await bob.request("room.leave", { roomId });
  t.equal(keptCount(b), 0, "the kept message went first");
  await until(t, "bob told", () => outcomes.length === 1);
  t.match(outcomes[0], { status: "accepted", txnId: "k1" });
  const log = a2.app.parley.storage.sqlite.prepare("SELECT seq, type FROM room_events WHERE room_id = ? AND sender = ? ORDER BY seq DESC LIMIT 2").all(roomId, "@bob:b.test") as { seq: number; type: string }[];
  t.same(log.map((e) => e.type).reverse(), ["message", "member.leave"], "at a: his message, then his leave");
});
