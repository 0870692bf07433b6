/**
 * Gap fill: when a home's cursor for a server is ahead of what that server holds (the server was
 * restored from a backup, say), the home's next batch begins past the replica's next seq. The
 * receiver refuses it with federation.gap, fetches the missing range from the home's backfill,
 * checks it like any batch, and wakes the home, which then delivers the rest: nothing is skipped.
 */
import t from "tap";
import { startCluster } from "./cluster.ts";
import type { TestServer } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function until(t: Test, what: string, check: () => boolean, boundMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > boundMs) {
      t.fail(`never: ${what}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

const chainOf = (server: TestServer, roomId: string) =>
  server.app.parley.storage.sqlite.prepare("SELECT seq, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as { seq: number; hash: string }[];

t.test("b lost events a counts as delivered: a's next batch is refused for the gap, b fetches the range from a and then holds every event once, in order", async (t) => {
  const servers = await startCluster(["a.test", "b.test"]);
  t.teardown(async () => {
    for (const s of Object.values(servers)) await s.stop(true).catch(() => undefined);
  });
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  t.equal((await bob.request("link.join", { token, server: "a.test" })).status, "joined");
  await alice.request("message.send", { roomId, txnId: "m0", body: "welcome" });
  await until(t, "b holds the room up to a's head", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const held = b.app.parley.rooms.state(roomId)!.seq;

  // a's delivery to b is held back (as after failures) while alice says five more things...
  const db = a.app.parley.storage.sqlite;
  db.prepare("INSERT INTO federation_peers (server, failures, next_attempt_at) VALUES ('b.test', 1, ?) ON CONFLICT(server) DO UPDATE SET failures = 1, next_attempt_at = excluded.next_attempt_at").run(Date.now() + 3_600_000);
  for (let i = 1; i <= 5; i++) await alice.request("message.send", { roomId, txnId: `lost${i}`, body: `lost ${i}` });
  // ...and a believes b acknowledged them: b's copy of them is gone (a restore from backup).
  const lostTo = a.app.parley.rooms.state(roomId)!.seq;
  db.prepare("UPDATE federation_cursors SET acked_seq = ? WHERE destination = 'b.test' AND room_id = ?").run(lostTo, roomId);
  t.equal(b.app.parley.rooms.state(roomId)!.seq, held, "b holds none of them");

  await alice.request("message.send", { roomId, txnId: "after", body: "after the gap" });
  const head = a.app.parley.rooms.state(roomId)!.seq;
  // b wakes a: a sends from its cursor, past what b holds.
  await b.app.parley.federation.request("a.test", "POST", "/wake", {});
  await until(t, "b holds the room up to a's head", () => b.app.parley.rooms.state(roomId)?.seq === head);
  t.same(chainOf(b, roomId), chainOf(a, roomId), "the same events with the same hashes, each once, in a's order");
  await until(t, "a's cursor for b reaches the head", () => (db.prepare("SELECT acked_seq AS s FROM federation_cursors WHERE destination = 'b.test' AND room_id = ?").get(roomId) as { s: number }).s === head);
  const bodies = (await bob.request("message.history", { roomId, limit: 50 })).messages.map((m) => m.body);
  for (const body of ["welcome", "lost 1", "lost 2", "lost 3", "lost 4", "lost 5", "after the gap"]) t.ok(bodies.includes(body), `bob reads "${body}"`);
});
