/**
 * Gap fill: when a home's cursor for a server is ahead of what that server holds (the server was
 * restored from a backup, say), the home's next batch begins past the replica's next seq. The
 * receiver refuses it with federation.gap, fetches the missing range from the home's backfill,
 * checks it like any batch, and wakes the home, which then delivers the rest: nothing is skipped.
 */
import t from "tap";
import { startClusterFor } from "./cluster.ts";
import { until, type TestServer } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


const chainOf = (server: TestServer, roomId: string) =>
  server.app.parley.storage.sqlite.prepare("SELECT seq, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as { seq: number; hash: string }[];

t.test("b lost events a counts as delivered: a's next batch is refused for the gap, b fetches the range from a and then holds every event once, in order", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob"); // joins from b; b is then stopped and restarted under him
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  t.equal((await bob.request("link.join", { token, server: "a.test" })).status, "joined");
  await alice.request("message.send", { roomId, txnId: "m0", body: "welcome" });
  await until(t, "b holds the room up to a's head", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);

  // b goes down while alice says five more things (a keeps them for b)...
  await b.stop(false);
  for (let i = 1; i <= 5; i++) await alice.request("message.send", { roomId, txnId: `lost${i}`, body: `lost ${i}` });
  // ...and a believes b acknowledged them: b comes back without them (restored from a backup).
  const db = a.app.parley.storage.sqlite;
  const lostTo = a.app.parley.rooms.state(roomId)!.seq;
  db.prepare("UPDATE federation_cursors SET acked_seq = ? WHERE destination = 'b.test' AND room_id = ?").run(lostTo, roomId);
  await alice.request("message.send", { roomId, txnId: "after", body: "after the gap" });
  const head = a.app.parley.rooms.state(roomId)!.seq;
  // b starts and wakes a: a sends from its cursor, past what b holds.
  const b2 = await b.restart();
  servers["b.test"] = b2;
  await until(t, "b holds the room up to a's head", () => b2.app.parley.rooms.state(roomId)?.seq === head);
  t.same(chainOf(b2, roomId), chainOf(a, roomId), "the same events with the same hashes, each once, in a's order");
  await until(t, "a's cursor for b reaches the head", () => (db.prepare("SELECT acked_seq AS s FROM federation_cursors WHERE destination = 'b.test' AND room_id = ?").get(roomId) as { s: number }).s === head);
  // What bob reads on b: the messages b had lost are there again, each once.
  const bodies = (b2.app.parley.storage.sqlite.prepare("SELECT body FROM messages WHERE room_id = ? ORDER BY seq").all(roomId) as { body: string }[]).map((m) => m.body);
  t.same(bodies, ["welcome", "lost 1", "lost 2", "lost 3", "lost 4", "lost 5", "after the gap"], "b holds every message once, in order");
});
