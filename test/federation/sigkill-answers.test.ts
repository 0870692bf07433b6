/**
 * SIGKILL of a home while it applies kept ops without a txnId: two servers as real processes.
 * bob (of b) reacts to each of alice's messages while a is down, so b keeps every reaction with
 * its proposalId; a comes back, and is killed again while b proposes them one by one, then
 * started again. However the kill falls (before a commit, after a commit but before its answer
 * left), each reaction is applied exactly once at a, its answer is recorded with it, and bob is
 * told of each once. Everything waits for states, never for times.
 */
import t from "tap";
import { spawnMathsWithBob, until, type ServerProcess } from "./processes.ts";
import { record } from "../helpers.ts";
import type { ParleyRequestError } from "../../clients/sdk/index.ts";

t.setTimeout(300_000);

const count = 40;
const reactionsAt = (s: ServerProcess, roomId: string) =>
  s.query<{ seq: number; content: string }>("SELECT seq, content FROM room_events WHERE room_id = ? AND type = 'reaction' AND sender = '@bob:b.test' ORDER BY seq", roomId);
const keptAt = (s: ServerProcess) => s.query<{ n: number }>("SELECT count(*) AS n FROM federation_pending")[0].n;

t.test("a home killed while bob's kept reactions are proposed applies each exactly once, with its answer", async (t) => {
  const { a, b, alice, bob, roomId } = await spawnMathsWithBob(t);
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) seqs.push((await alice.request("message.send", { roomId, txnId: `a${i}`, body: `Question ${i}` })).event.seq);
  const top = seqs[seqs.length - 1];
  await until("b holds alice's messages", () => (b.query<{ n: number | null }>("SELECT max(seq) AS n FROM room_events WHERE room_id = ?", roomId)[0].n ?? 0) >= top);

  await a.kill();
  const outcomes = record<any>(bob, "message.outcome");
  for (const seq of seqs) {
    const code = await bob.request("message.react", { roomId, seq, emoji: "👍" }).then(
      () => "(accepted)",
      (err: ParleyRequestError) => err.code,
    );
    if (code !== "message.pending") t.fail(`the reaction to ${seq} was not kept: ${code}`);
  }
  t.equal(keptAt(b), count, "b keeps every reaction");

  await a.start();
  await until("a applied some of bob's reactions", () => reactionsAt(a, roomId).length >= count / 4);
  await a.kill();
  t.comment(`a killed with ${reactionsAt(a, roomId).length} of ${count} reactions applied`);
  await a.start();
  await until("b delivered every kept reaction", () => keptAt(b) === 0);
  await until("bob was told of each", () => outcomes.length >= count);

  const reactions = reactionsAt(a, roomId);
  t.equal(reactions.length, count, "one reaction event per message: none applied twice");
  t.same(reactions.map((r) => JSON.parse(r.content).target).sort((x: number, y: number) => x - y), seqs, "each message got bob's reaction");
  const answers = a.query<{ n: number }>("SELECT count(*) AS n FROM federation_proposals WHERE origin = 'b.test'")[0].n;
  t.equal(answers, count, "each recorded once, with its event");
  t.equal(outcomes.length, count, "bob is told once per reaction");
  t.ok(outcomes.every((o) => o.status === "accepted" && o.op === "message.react"), "every one accepted");
});
