/**
 * The SDK's outbox against a real server: sends made while disconnected are persisted and go on
 * the next connect, in order; an entry whose send reached the server before its reply was lost
 * is stored once (its txnId); a refusal marks the entry failed instead of retrying it forever;
 * a new outbox over the same storage (a reload) finds what was pending.
 */
import t from "tap";
import { Outbox } from "../clients/sdk/outbox.ts";
import { MemoryStore, startServer, unthrottled } from "./helpers.ts";

t.test("the outbox", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob", { connect: false });
  const group = await alice.request("group.create", { name: "Year 5" });
  const link = await alice.request("link.create", { roomId: group.roomId });
  await bob.connect();
  await bob.request("link.join", { token: link.token });
  const history = async () => (await alice.request("message.history", { roomId: group.roomId, limit: 50 })).messages.filter((m) => m.sender === bob.userId).map((m) => m.body);

  t.test("sends made while disconnected wait, persisted, and go in order on the next connect", async (t) => {
    // Bob's phone, not connected yet (offline).
    const phone = await server.login("bob", { connect: false });
    const store = new MemoryStore();
    const outbox = new Outbox(phone, store);
    outbox.enqueue({ roomId: group.roomId, body: "first, offline" });
    outbox.enqueue({ roomId: group.roomId, body: "second, offline" });
    await outbox.flush();
    t.equal(outbox.pending.length, 2, "both wait while disconnected");
    t.equal(JSON.parse(store.getItem(`parley.outbox.${bob.userId}`)!).length, 2, "and are persisted");
    t.same(await history(), [], "nothing reached the server");

    // A reload: a new outbox over the same storage finds them.
    const reloaded = new Outbox(phone, store);
    t.same(reloaded.pending.map((e) => e.params.body), ["first, offline", "second, offline"]);
    const done = new Promise<void>((resolve) => reloaded.subscribe((entries) => entries.length === 0 && resolve()));
    const reloadedAcks: number[] = [];
    reloaded.onAcknowledged((_e, r) => reloadedAcks.push(r.event.seq));
    await phone.connect();
    await done;
    t.same(await history(), ["first, offline", "second, offline"], "sent once each, in order, after the connect");
    t.equal(reloadedAcks.length, 2, "each acknowledged with the stored event");
    t.ok(reloadedAcks[0] < reloadedAcks[1]);
    t.equal(store.getItem(`parley.outbox.${bob.userId}`), null, "the storage is emptied");
    await outbox.flush();
    t.equal((await history()).length, 2, "the superseded outbox's retries of the same txnIds stored nothing more");
    phone.close();
  });

  t.test("a send queued after an empty flush goes at once", async (t) => {
    const outbox = new Outbox(bob, new MemoryStore());
    await outbox.flush(); // nothing to send: the run ends at once
    const sent = new Promise<number>((resolve) => outbox.onAcknowledged((_e, r) => resolve(r.event.seq)));
    outbox.enqueue({ roomId: group.roomId, body: "right away" });
    t.ok((await sent) > 0, "acknowledged without waiting for a reconnect");
    t.equal(outbox.pending.length, 0);
  });

  t.test("a send whose reply was lost is stored once, by its txnId", async (t) => {
    const store = new MemoryStore();
    const txnId = "t_reply_was_lost_0001";
    // The send reached the server (as if the socket died before the reply came back)...
    const first = await bob.request("message.send", { roomId: group.roomId, body: "only once", txnId });
    // ...and the entry was still in the outbox when the page reloaded.
    store.setItem(`parley.outbox.${bob.userId}`, JSON.stringify([{ txnId, params: { roomId: group.roomId, body: "only once" }, createdAt: Date.now() }]));
    const outbox = new Outbox(bob, store);
    const results: { seq: number; duplicate: boolean }[] = [];
    outbox.onAcknowledged((_e, r) => results.push({ seq: r.event.seq, duplicate: r.duplicate }));
    await outbox.flush();
    t.same(results, [{ seq: first.event.seq, duplicate: true }], "the server answers with the stored event");
    t.equal((await history()).filter((b) => b === "only once").length, 1, "stored once");
    t.equal(outbox.pending.length, 0);
  });

  t.test("a refused send is kept, marked failed, not retried, until discarded", async (t) => {
    const store = new MemoryStore();
    const outbox = new Outbox(bob, store);
    const entry = outbox.enqueue({ roomId: "!nowhere:school.test", body: "lost" });
    outbox.enqueue({ roomId: group.roomId, body: "after the refusal" });
    await outbox.flush();
    await outbox.flush();
    t.equal(outbox.pending.length, 1, "the refused entry stays");
    t.equal(outbox.pending[0].error?.code, "room.not_found", "with the server's code");
    t.ok((await history()).includes("after the refusal"), "a refusal does not hold back later sends");
    outbox.discard(entry.txnId);
    t.equal(outbox.pending.length, 0);
    t.equal(store.getItem(`parley.outbox.${bob.userId}`), null);
  });
});
