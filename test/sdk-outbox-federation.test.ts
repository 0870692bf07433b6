/**
 * The SDK's outbox with a room hosted on another server that is down: bob (of b.test) sends to
 * alice's Maths group on a.test while a.test is stopped. His server answers `message.pending`
 * and holds the send; the outbox keeps the entry as held (not failed, not sent again from the
 * client) and settles it when the `message.outcome` push comes: accepted once a.test is back
 * (acknowledged with a.test's event), or refused (marked failed with the home's error) when
 * alice banned bob meanwhile.
 */
import t from "tap";
import { Outbox, type PendingSend } from "../clients/sdk/outbox.ts";
import { mathsWithBob } from "./federation/cluster.ts";
import { MemoryStore, until, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Resolves with the outbox's entries once `check` holds for them (no time assertion). */
function entriesWhen(outbox: Outbox, check: (entries: readonly PendingSend[]) => boolean): Promise<readonly PendingSend[]> {
  return new Promise((resolve) => {
    if (check(outbox.pending)) return resolve(outbox.pending);
    const off = outbox.subscribe((entries) => {
      if (!check(entries)) return;
      off();
      resolve(entries);
    });
  });
}

t.test("a send to a room whose home is down is held, then acknowledged with the home's event when it returns", async (t) => {
  const { servers, a, bob, roomId } = await mathsWithBob(t);
  await a.stop(false);
  const outbox = new Outbox(bob, new MemoryStore());
  const acknowledged = new Promise<{ entry: PendingSend; seq: number; sender: string }>((resolve) => outbox.onAcknowledged((entry, r) => resolve({ entry, seq: r.event.seq, sender: r.event.sender })));
  const entry = outbox.enqueue({ roomId, body: "while a is down" });
  const [held] = await entriesWhen(outbox, (es) => es.some((e) => e.held));
  t.equal(held.txnId, entry.txnId);
  t.equal(held.held!.server, "a.test", "held for a.test");
  t.type(held.held!.pendingId, "number");
  t.notOk(held.error, "not failed");

  const again = outbox.enqueue({ roomId, body: "and a second one" });
  await entriesWhen(outbox, (es) => es.length === 2 && es.every((e) => e.held));
  t.pass("a later send to the same home is held behind it");

  const a2 = await a.restart();
  servers["a.test"] = a2;
  const first = await acknowledged;
  t.equal(first.entry.txnId, entry.txnId, "the first is acknowledged first");
  t.equal(first.sender, "@bob:b.test");
  await entriesWhen(outbox, (es) => es.length === 0);
  const stored = a2.app.parley.storage.sqlite.prepare("SELECT content FROM room_events WHERE room_id = ? AND type = 'message' ORDER BY seq").all(roomId) as { content: string }[];
  t.same(stored.map((r) => JSON.parse(r.content).body), ["while a is down", "and a second one"], "a sequenced both, in order");
  t.ok(again.txnId);
});

t.test("a held send that the home refuses (bob was banned meanwhile) is marked failed with the home's error, also after a reload", async (t) => {
  const { servers, a, b, bob, roomId } = await mathsWithBob(t);
  await a.stop(false);
  const store = new MemoryStore();
  const outbox = new Outbox(bob, store);
  outbox.enqueue({ roomId, body: "before the ban" });
  await entriesWhen(outbox, (es) => es.some((e) => e.held));
  // b is down while a returns and alice bans bob; then b returns and proposes the send again.
  await b.stop(false);
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const alice2 = await a2.login("alice");
  await alice2.request("member.ban", { roomId, userId: "@bob:b.test" });
  const b2 = await b.restart();
  servers["b.test"] = b2;
  // bob's browser reloads: a new outbox over the same storage finds the held entry.
  const bob2 = await b2.login("bob", { connect: false });
  const reloaded = new Outbox(bob2, store);
  t.ok(reloaded.pending[0]?.held, "the reloaded outbox still holds it (and does not send it again)");
  await bob2.connect();
  const [failed] = await entriesWhen(reloaded, (es) => es.some((e) => e.error));
  t.equal(failed.error!.code, "room.not_found", "refused at home: bob, banned, is no member of the room");
  t.notOk(failed.held, "no longer held");
});
