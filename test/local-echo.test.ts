/**
 * Local echo: the `room.event` push of an event goes to its sender's own sessions with the txnId
 * of the op that made it, so that a client replaces what it shows as sending with the event even
 * when the event arrives before the op's reply; nobody else gets the txnId, and it is in no history
 * or sync. Across servers the home tells only the sender's server (federation `send`), which tells
 * its user's sessions; the third server never learns it. The SDK's outbox acknowledges an entry
 * by its event, once.
 */
import t from "tap";
import { MemoryStore, nextEvent, startServer, unthrottled, until, type TestServer } from "./helpers.ts";
import { mathsOnThree, mathsWithBob } from "./federation/cluster.ts";
import { Outbox } from "../clients/sdk/outbox.ts";
import type { ParleyClient } from "../clients/sdk/index.ts";

const txnOf = (server: TestServer, eventId: string) =>
  (server.app.parley.storage.sqlite.prepare("SELECT txn_id FROM room_events WHERE event_id = ?").get(eventId) as { txn_id: string | null } | undefined)?.txn_id;

/** The next message event of `body` in the room, as `client` receives it. */
const messageAt = (client: ParleyClient, roomId: string, body: string) =>
  nextEvent(client, (e) => e.roomId === roomId && e.type === "message" && (e.content as { body?: string }).body === body, 30_000);

t.test("on one server: the sender's sessions get the txnId with the event, the others do not", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const laptop = await server.login("alice", { deviceName: "alice's laptop" });
  const bob = await server.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Year 5" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token });

  const [onPhone, onLaptop, atBob] = [alice, laptop, bob].map((c) => messageAt(c, roomId, "Trip on Friday"));
  const sent = await alice.request("message.send", { roomId, txnId: "t_trip_0001", body: "Trip on Friday" });
  const [phone, other, b] = await Promise.all([onPhone, onLaptop, atBob]);
  t.equal(phone.txnId, "t_trip_0001", "the sending session gets its txnId");
  t.equal(other.txnId, "t_trip_0001", "and so does the sender's other session");
  t.equal(b.txnId, undefined, "another member does not");
  t.equal(phone.eventId, sent.event.eventId);
  t.equal(sent.event.txnId, undefined, "the reply's event has no txnId");

  const history = await alice.request("message.history", { roomId, limit: 10 });
  t.notOk(JSON.stringify(history).includes("t_trip_0001"), "history does not carry it");
  const sync = await alice.request("sync", { since: 0 });
  t.notOk(JSON.stringify(sync).includes("t_trip_0001"), "nor does sync");

  // Other ops with a txnId: a poll.
  const pollAtAlice = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message" && (e.content as { kind?: string }).kind === "poll", 30_000);
  const pollAtBob = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message" && (e.content as { kind?: string }).kind === "poll", 30_000);
  await alice.request("poll.create", { roomId, txnId: "t_poll_0001", question: "Which day?", options: ["Friday", "Monday"] });
  t.equal((await pollAtAlice).txnId, "t_poll_0001");
  t.equal((await pollAtBob).txnId, undefined);

  // Events without an op txnId (a reaction) carry none, to anyone.
  const reaction = nextEvent(alice, (e) => e.roomId === roomId && e.type === "reaction", 30_000);
  await alice.request("message.react", { roomId, seq: sent.event.seq, emoji: "👍" });
  t.equal((await reaction).txnId, undefined);
});

t.test("across servers: the home tells the sender's server, which tells its user's sessions; the third server never learns it", async (t) => {
  const { a, b, c, alice, bob, carol, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await carol.request("link.join", { token, server: "a.test" });
  const held = (s: TestServer) => s.app.parley.rooms.state(roomId)?.members.size === 3;
  await until(t, "b and c hold the three members", () => held(b) && held(c), 30_000);

  const [atBob, atAlice, atCarol] = [bob, alice, carol].map((x) => messageAt(x, roomId, "From b"));
  const sent = await bob.request("message.send", { roomId, txnId: "t_from_b_0001", body: "From b" });
  const [eb, ea, ec] = await Promise.all([atBob, atAlice, atCarol]);
  t.equal(eb.txnId, "t_from_b_0001", "bob's session, on b, gets his txnId with the replicated event");
  t.equal(ea.txnId, undefined, "alice, on the home, does not");
  t.equal(ec.txnId, undefined, "carol, on c, does not");
  t.equal(eb.eventId, sent.event.eventId);
  t.equal(txnOf(a, sent.event.eventId), "t_from_b_0001", "the home stores it (its idempotency)");
  t.equal(txnOf(b, sent.event.eventId), "t_from_b_0001", "b stores it with its copy");
  t.equal(txnOf(c, sent.event.eventId), null, "c was never sent it");

  // A send of a's own user: a's server tells alice; b and c are not told.
  const fromA = [alice, bob].map((x) => messageAt(x, roomId, "From a"));
  const sentA = await alice.request("message.send", { roomId, txnId: "t_from_a_0001", body: "From a" });
  const [aa, ab] = await Promise.all(fromA);
  t.equal(aa.txnId, "t_from_a_0001");
  t.equal(ab.txnId, undefined);
  await until(t, "b and c hold it", () => txnOf(b, sentA.event.eventId) !== undefined && txnOf(c, sentA.event.eventId) !== undefined, 30_000);
  t.equal(txnOf(b, sentA.event.eventId), null, "b was not sent a's user's txnId");
  t.equal(txnOf(c, sentA.event.eventId), null);
});

t.test("the SDK's outbox: an entry is acknowledged by its event or its reply, whichever comes first, once", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Year 6" });
  const outbox = new Outbox(alice, new MemoryStore());
  const acks: { seq: number; duplicate: boolean }[] = [];
  outbox.onAcknowledged((_e, r) => acks.push({ seq: r.event.seq, duplicate: r.duplicate }));
  // The event is pushed before the reply (the fan-out runs at commit, the reply after it): the
  // entry leaves the outbox when the event comes, as a client would stop showing it as sending.
  const order: string[] = [];
  alice.on("room.event", (e) => {
    if (e.roomId === roomId && e.type === "message") order.push(`event pending=${outbox.pending.length}`);
  });
  const entry = outbox.enqueue({ roomId, body: "Homework is on the board" });
  await outbox.flush();
  t.same(order, ["event pending=0"], "the entry was gone by the time the event reached the app");
  t.equal(acks.length, 1, "acknowledged once (the reply that followed changed nothing)");
  t.equal(acks[0].duplicate, false);
  t.equal(outbox.pending.length, 0);
  const history = await alice.request("message.history", { roomId, limit: 10 });
  t.equal(history.messages.filter((m) => m.body === "Homework is on the board").length, 1, "stored once");
  t.ok(entry.txnId.startsWith("t_"));
});

t.test("a reply in a room hosted elsewhere carries this server's stream position, after the event's push", async (t) => {
  const { a, b, bob, roomId } = await mathsWithBob(t);
  // Local activity on b, so that its stream positions and a's differ.
  await bob.request("group.create", { name: "Only on b" });
  await bob.request("group.create", { name: "Also only on b" });
  const order: string[] = [];
  const pushed = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message", 30_000).then((e) => {
    order.push("push");
    return e;
  });
  const sent = await bob.request("message.send", { roomId, txnId: "t_pos_0001", body: "Where is page 12?" });
  order.push("reply");
  const e = await pushed;
  const atHome = a.app.parley.storage.sqlite.prepare("SELECT pos FROM room_events WHERE event_id = ?").get(sent.event.eventId) as { pos: number };
  const onB = b.app.parley.storage.sqlite.prepare("SELECT pos FROM room_events WHERE event_id = ?").get(sent.event.eventId) as { pos: number };
  t.not(atHome.pos, onB.pos, "the two servers gave it different positions");
  t.equal(sent.event.pos, onB.pos, "the reply's pos is b's");
  t.equal(e.pos, onB.pos, "as the push's is");
  t.same(order, ["push", "reply"], "the push came first, as in a room hosted here");
  t.equal(sent.event.eventId, e.eventId);

  // A repeated txnId: the stored event, with b's position too.
  const again = await bob.request("message.send", { roomId, txnId: "t_pos_0001", body: "Where is page 12?" });
  t.equal(again.duplicate, true);
  t.equal(again.event.pos, onB.pos);
});

t.test("a reply whose event the home does not replicate in time carries this server's position at that moment", async (t) => {
  const { a, b, bob, roomId } = await mathsWithBob(t);
  await bob.request("group.create", { name: "Only on b" });
  // a stops delivering to b (its outbox stopped): the proposal is answered, the event never comes.
  a.app.parley.outbox.stop();
  const head = () => (b.app.parley.storage.sqlite.prepare("SELECT max(pos) AS pos FROM room_events").get() as { pos: number }).pos;
  const before = head();
  const sent = await bob.request("message.send", { roomId, txnId: "t_slow_0001", body: "Anyone there?" });
  t.equal(sent.event.pos, before, "the reply goes without it, with b's position then: nothing b holds for bob lies past it");
  t.notOk(b.app.parley.storage.sqlite.prepare("SELECT 1 FROM room_events WHERE event_id = ?").get(sent.event.eventId), "b does not hold the event yet");
  const atHome = a.app.parley.storage.sqlite.prepare("SELECT pos FROM room_events WHERE event_id = ?").get(sent.event.eventId) as { pos: number };
  t.ok(atHome, "the home stored it");
});

t.test("a room with more members than users connected here: the fan-out walks the connected users, and still reaches exactly the members online", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const laptop = await server.login("alice", { deviceName: "alice's laptop" });
  const bob = await server.user("bob");
  const dave = await server.user("dave");
  const { roomId } = await alice.request("group.create", { name: "Year 6" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token });
  // Three members who then go offline: five members, three users connected (one not a member).
  for (const name of ["erin", "frank", "gus"]) {
    const c = await server.user(name);
    await c.request("link.join", { token });
    c.close();
  }
  await until(t, "the three are offline", () => ["erin", "frank", "gus"].every((n) => !server.app.parley.hub.connectionsOf(`@${n}:school.test`)?.size));
  t.equal(server.app.parley.rooms.state(roomId)!.members.size, 5, "five members");
  t.equal(server.app.parley.hub.authenticatedCount(), 4, "four sessions of three users connected");

  const seenByDave: unknown[] = [];
  dave.on("room.event", (e) => seenByDave.push(e));
  const [onPhone, onLaptop, atBob] = [alice, laptop, bob].map((c) => messageAt(c, roomId, "Sports day"));
  await alice.request("message.send", { roomId, txnId: "t_sports_0001", body: "Sports day" });
  const [phone, other, b] = await Promise.all([onPhone, onLaptop, atBob]);
  t.equal(phone.txnId, "t_sports_0001", "the sending session gets its txnId");
  t.equal(other.txnId, "t_sports_0001", "and so does the sender's other session");
  t.equal(b.txnId, undefined, "another member gets the event without it");
  await alice.request("ping", {});
  t.same(seenByDave, [], "a user connected here who is no member gets nothing");
});
