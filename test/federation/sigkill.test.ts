/**
 * SIGKILL at any moment loses nothing: two servers run as real processes while alice (of a)
 * sends a stream of messages into her group that bob (of b) is in; the home, or the receiver, is
 * killed while the stream is being delivered and started again on the same data. Every message
 * is then held exactly once by both, in the home's order, with the hash chain intact, and sends
 * bob made while a was down (kept by b, even across b's own SIGKILL) are delivered and he is told.
 * Everything waits for states, never for times.
 */
import t from "tap";
import { spawnCluster, spawnMathsWithBob, until, logOf, chainBreak, type ServerProcess } from "./processes.ts";
import { record } from "../helpers.ts";
import { ParleyRequestError, type ParleyClient } from "../../clients/sdk/index.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// Four server processes started (and restarted) per test: more than tap's default per file.
t.setTimeout(300_000);

const stream = 100;

const seqOf = (s: ServerProcess, roomId: string) => (s.query<{ n: number | null }>("SELECT max(seq) AS n FROM room_events WHERE room_id = ?", roomId)[0].n ?? 0);
const keptAt = (s: ServerProcess) => s.query<{ n: number }>("SELECT count(*) AS n FROM federation_pending")[0].n;

/**
 * Sends `count` messages with txnIds `<prefix>0..`, four at a time; a send cut by a killed server
 * is sent again with the same txnId once the client has reconnected (stored once either way).
 */
async function sendStream(client: ParleyClient, roomId: string, prefix: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      for (;;) {
        try {
          await client.request("message.send", { roomId, txnId: `${prefix}${i}`, body: `${prefix} ${i}` });
          break;
        } catch (err) {
          if (!(err instanceof ParleyRequestError) || !["disconnected", "timeout", "unavailable", "auth.required"].includes(err.code)) throw err;
          // Cut by the kill, or sent on the new socket before its auth: the same txnId again.
          await until("the client is connected again", () => client.connected);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

async function sendKept(t: Test, bob: ParleyClient, roomId: string, txnIds: string[]): Promise<void> {
  for (const txnId of txnIds) {
    const code = await bob.request("message.send", { roomId, txnId, body: `kept ${txnId}` }).then(
      () => "(accepted)",
      (err: ParleyRequestError) => err.code,
    );
    t.equal(code, "message.pending", `${txnId} is kept by b`);
  }
}

/** Both hold the same log, whole and chained, with every txnId exactly once and bob's in order. */
function checkLogs(t: Test, a: ServerProcess, b: ServerProcess, roomId: string, bobTxns: string[]): void {
  const home = logOf(a, roomId);
  const copy = logOf(b, roomId);
  t.equal(chainBreak(roomId, home), null, "the home's chain is whole");
  const replicated = (l: typeof home) => l.map(({ txn_id: _txn, ...e }) => e);
  t.same(replicated(copy), replicated(home), "b holds the home's log: the same events, seqs, hashes, in the same order");
  const txns = home.filter((e) => e.type === "message").map((e) => e.txn_id);
  const expected = [...Array.from({ length: stream }, (_v, i) => `a${i}`), ...bobTxns];
  t.same([...txns].sort(), [...expected].sort(), "every message exactly once");
  t.same(txns.filter((x) => bobTxns.includes(x!)), bobTxns, "bob's kept sends in the order he made them");
}

t.test("the home is killed while it delivers a stream to b: after it restarts b holds every event exactly once, in order, and bob's sends kept meanwhile are delivered", async (t) => {
  const { a, b, alice, bob, roomId } = await spawnMathsWithBob(t);
  const sending = sendStream(alice, roomId, "a", stream);
  await until("b received part of the stream", () => seqOf(b, roomId) >= 30);
  await a.kill();
  const outcomes = record<any>(bob, "message.outcome");
  await sendKept(t, bob, roomId, ["b0", "b1", "b2"]);
  await a.start();
  await sending;
  await until("bob was told of his kept sends", () => outcomes.length === 3);
  t.same(outcomes.map((o) => [o.txnId, o.status]), [["b0", "accepted"], ["b1", "accepted"], ["b2", "accepted"]]);
  await until("b caught up with a", () => seqOf(b, roomId) === seqOf(a, roomId));
  t.equal(keptAt(b), 0, "nothing left pending");
  checkLogs(t, a, b, roomId, ["b0", "b1", "b2"]);
});

t.test("the receiver is killed mid-batch, then holds sends kept for a killed home across its own SIGKILL: after the restarts everything arrives exactly once, in order", async (t) => {
  const { a, b, alice, bob, roomId } = await spawnMathsWithBob(t);
  const sending = sendStream(alice, roomId, "a", stream);
  await until("b received part of the stream", () => seqOf(b, roomId) >= 30);
  const back = new Promise<void>((resolve) => {
    const off = bob.on("connected", () => (off(), resolve()));
  });
  await b.kill();
  await sending;
  await b.start();
  await until("b caught up with a", () => seqOf(b, roomId) === seqOf(a, roomId));
  await a.kill();
  await back;
  const outcomes = record<any>(bob, "message.outcome");
  await sendKept(t, bob, roomId, ["b0", "b1"]);
  await b.kill();
  t.equal(keptAt(b), 2, "b's kept sends are on disk");
  await a.start();
  await b.start();
  await until("b delivered its kept sends", () => keptAt(b) === 0);
  await until("bob was told", () => outcomes.length === 2);
  t.same(outcomes.map((o) => [o.txnId, o.status]), [["b0", "accepted"], ["b1", "accepted"]]);
  await until("b caught up with a", () => seqOf(b, roomId) === seqOf(a, roomId));
  checkLogs(t, a, b, roomId, ["b0", "b1"]);
});
