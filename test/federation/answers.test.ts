/**
 * A kept op's answer is written in the op's own transaction at its home: the home records what a
 * proposal named by its server (`proposalId`) did in the same SQLite transaction as the op's
 * events, so the record exists exactly when the events do. Failures are injected in the home's
 * real database (a trigger that aborts one insert) and the proposal is made again as b would
 * after a lost answer: it is applied once.
 *
 *   alice  on a.test, owner of Maths     bob  on b.test, a member
 */
import t from "tap";
import { mathsWithBob } from "./cluster.ts";
import { until, type TestServer } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const answersAt = (s: TestServer, id: string) =>
  (s.app.parley.storage.sqlite.prepare("SELECT proposal_id AS id, answer FROM federation_proposals WHERE origin = 'b.test' AND proposal_id LIKE ? ORDER BY proposal_id").all(`${id}%`) as { id: string; answer: string }[]).map(
    (r) => ({ id: r.id, answer: JSON.parse(r.answer) }),
  );
const eventsOf = (s: TestServer, roomId: string, type: string) =>
  (s.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events WHERE room_id = ? AND type = ?").get(roomId, type) as { n: number }).n;

async function mathsWithBobAndPoll(t: Test) {
  const { servers, a, b, alice, bob, roomId, caughtUp } = await mathsWithBob(t);
  const poll = (await alice.request("poll.create", { roomId, txnId: "a1", question: "Which day for the trip?", options: ["Monday", "Friday"] })).event.seq;
  const mine = (await bob.request("message.send", { roomId, txnId: "b1", body: "Thanks!" })).event.seq;
  await caughtUp();
  /** Proposes as b does for a kept op (the same proposalId every time). */
  const propose = (op: string, params: Record<string, unknown>, proposalId: string) =>
    b.app.parley.federation.request("a.test", "POST", "/propose", { sender: "@bob:b.test", op, params, proposedAt: Date.now(), proposalId });
  return { servers, a, b, roomId, poll, mine, propose };
}

t.test("when the home cannot write the answer of bob's kept edit, the edit is rolled back with it; proposed again, it is applied once", async (t) => {
  const { a, roomId, mine, propose } = await mathsWithBobAndPoll(t);
  const db = a.app.parley.storage.sqlite;
  const before = a.app.parley.rooms.state(roomId)!.seq;
  db.exec("CREATE TEMP TRIGGER refuse_answers BEFORE INSERT ON federation_proposals BEGIN SELECT RAISE(ABORT, 'injected: the answer cannot be written'); END");
  const failed = await propose("message.edit", { roomId, seq: mine, body: "Thanks, edited" }, "kept-edit-0001");
  t.equal(failed.status, 500, "the home fails the proposal");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before, "no event was sequenced");
  t.equal(eventsOf(a, roomId, "message.edit"), 0, "no edit is stored");
  t.same(answersAt(a, "kept-edit-0001"), [], "and no answer");
  db.exec("DROP TRIGGER refuse_answers");

  const applied = await propose("message.edit", { roomId, seq: mine, body: "Thanks, edited" }, "kept-edit-0001");
  t.equal(applied.status, 200, JSON.stringify(applied.body));
  t.equal(applied.body.result.event.type, "message.edit");
  t.equal(eventsOf(a, roomId, "message.edit"), 1, "proposed again, the edit is applied");
  t.match(answersAt(a, "kept-edit-0001"), [{ id: "kept-edit-0001", answer: { step: { eventId: applied.body.result.event.eventId } } }], "its record was written with it");

  const repeat = await propose("message.edit", { roomId, seq: mine, body: "Thanks, edited" }, "kept-edit-0001");
  t.same(repeat.body, applied.body, "a third time: the same answer, from the record");
  t.equal(eventsOf(a, roomId, "message.edit"), 1, "and still one edit");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before + 1);
});

t.test("when the home cannot store bob's kept reaction, no answer is recorded either; proposed again, it is applied once", async (t) => {
  const { a, roomId, mine, propose } = await mathsWithBobAndPoll(t);
  const db = a.app.parley.storage.sqlite;
  db.exec("CREATE TEMP TRIGGER refuse_reactions BEFORE INSERT ON room_events WHEN NEW.type = 'reaction' BEGIN SELECT RAISE(ABORT, 'injected: the event cannot be written'); END");
  const failed = await propose("message.react", { roomId, seq: mine, emoji: "👍" }, "kept-react-0001");
  t.equal(failed.status, 500);
  t.same(answersAt(a, "kept-react-0001"), [], "no answer without the event");
  db.exec("DROP TRIGGER refuse_reactions");
  const applied = await propose("message.react", { roomId, seq: mine, emoji: "👍" }, "kept-react-0001");
  t.equal(applied.status, 200);
  const repeat = await propose("message.react", { roomId, seq: mine, emoji: "👍" }, "kept-react-0001");
  t.same(repeat.body, applied.body);
  t.equal(eventsOf(a, roomId, "reaction"), 1, "one reaction event");
});

t.test("bob's kept vote proposed again after the home restarts is answered from the record made in the vote's transaction", async (t) => {
  const { servers, roomId, poll, propose } = await mathsWithBobAndPoll(t);
  const first = await propose("poll.vote", { roomId, seq: poll, options: [1] }, "kept-vote-0001");
  t.equal(first.status, 200, JSON.stringify(first.body));
  t.same(first.body.result.counts, [0, 1]);
  const a2 = await servers["a.test"].restart();
  servers["a.test"] = a2;
  const votes = eventsOf(a2, roomId, "poll.vote");
  const seq = a2.app.parley.rooms.state(roomId)!.seq;
  const again = await propose("poll.vote", { roomId, seq: poll, options: [1] }, "kept-vote-0001");
  t.same(again.body, first.body, "the same answer, made again from the recorded vote");
  t.equal(eventsOf(a2, roomId, "poll.vote"), votes, "no second vote event");
  t.equal(a2.app.parley.rooms.state(roomId)!.seq, seq, "nothing sequenced");
});

t.test("a refused kept op is answered with the same refusal when proposed again, and a proposalId on an op that is never kept means nothing", async (t) => {
  const { a, b, roomId, poll, propose } = await mathsWithBobAndPoll(t);
  const alice = await a.login("alice");
  await alice.request("poll.close", { roomId, seq: poll });
  await until(t, "b holds the close", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const refused = await propose("poll.vote", { roomId, seq: poll, options: [0] }, "kept-vote-0002");
  t.equal(refused.body.error?.code, "poll.closed", "bob's vote comes after alice closed the poll");
  t.match(answersAt(a, "kept-vote-0002"), [{ answer: { ok: false, code: "poll.closed" } }], "the refusal is recorded");
  const again = await propose("poll.vote", { roomId, seq: poll, options: [0] }, "kept-vote-0002");
  t.same(again.body, refused.body, "the same refusal");

  const left = await propose("room.leave", { roomId }, "not-kept-0001");
  t.equal(left.status, 200, "bob leaves");
  t.same(answersAt(a, "not-kept-0001"), [], "nothing is recorded for an op that is never kept");
});
