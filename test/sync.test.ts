/**
 * The sync stream and its delivery guarantees: idempotent sends, what each user's stream holds
 * (membership spans, restricted events, invitations), paging, resuming after a reconnect without
 * loss or duplication, durability across a restart, and gapless seqs under group commit.
 */
import t from "tap";
import WebSocket from "ws";
import { ParleyClient, type RoomEvent, type WebSocketConstructor } from "../clients/sdk/index.ts";
import { delay, refusal, schemaErrors, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** The whole sync stream of a client from `since`, paged with `limit`. */
async function syncAll(client: ParleyClient, since = 0, limit = 1000): Promise<{ events: RoomEvent[]; pos: number; pages: number }> {
  const events: RoomEvent[] = [];
  let pos = since;
  let pages = 0;
  for (;;) {
    const page = await client.request("sync", { since: pos, limit });
    pages++;
    events.push(...(page.events as RoomEvent[]));
    pos = page.pos;
    if (!page.more) return { events, pos, pages };
  }
}

/** A school with #maths: alice owns both, carol is a community admin, bob and dan are parents. */
async function openSchool(t: Test) {
  const s = await startServer(unthrottled);
  t.teardown(() => s.stop(true));
  const [alice, carol, bob, dan, eve] = await Promise.all(["alice", "carol", "bob", "dan", "eve"].map((n) => s.user(n)));
  const school = (await alice.request("community.create", { name: "Hillside School" })).roomId;
  const maths = (await alice.request("group.create", { name: "Maths", communityId: school })).roomId;
  const link = await alice.request("link.create", { roomId: school });
  for (const c of [carol, bob, dan]) await c.request("link.join", { token: link.token });
  await alice.request("member.role", { roomId: school, userId: carol.userId, role: "admin" });
  for (const c of [bob, dan]) await c.request("group.join", { roomId: maths });
  return { server: s, alice, carol, bob, dan, eve, school, maths };
}

let txn = 0;
const send = (client: ParleyClient, roomId: string, body: string) => client.request("message.send", { roomId, body, txnId: `s${++txn}` });
const bodyOf = (e: RoomEvent) => (e.content as { body?: string }).body;

function assertOrdered(t: Test, events: RoomEvent[], what: string): void {
  const ordered = events.every((e, i) => i === 0 || e.pos > events[i - 1].pos);
  t.ok(ordered, `${what}: strictly increasing pos`);
  t.equal(new Set(events.map((e) => e.eventId)).size, events.length, `${what}: no event twice`);
}

t.test("a retried send is stored once", async (t) => {
  const { alice, bob, school, maths } = await openSchool(t);
  const first = await bob.request("message.send", { roomId: maths, body: "Is school open tomorrow?", txnId: "bob-1" });
  t.same(schemaErrors("op/message.send#/$defs/result", first), []);
  t.equal(first.duplicate, false);
  const retry = await bob.request("message.send", { roomId: maths, body: "Is school open tomorrow?", txnId: "bob-1" });
  t.same(schemaErrors("op/message.send#/$defs/result", retry), []);
  t.equal(retry.duplicate, true);
  t.same(retry.event, first.event, "the stored event: same eventId, seq and pos");

  const other = await bob.request("message.send", { roomId: maths, body: "Is school open tomorrow?", txnId: "bob-2" });
  t.equal(other.duplicate, false, "a different txnId is a new message");
  t.equal(other.event.seq, first.event.seq + 1);

  // txnIds are scoped to the sender and the room.
  const elsewhere = await alice.request("message.send", { roomId: school, body: "Yes, it is.", txnId: "bob-1" });
  t.equal(elsewhere.duplicate, false, "the same txnId in another room is independent");
  const bySomeoneElse = await alice.request("message.send", { roomId: maths, body: "It is.", txnId: "bob-1" });
  t.equal(bySomeoneElse.duplicate, false, "the same txnId from another sender is independent");

  // Retries racing each other (a flaky network resending before the reply) still store one.
  const racing = await Promise.all([1, 2, 3].map(() => bob.request("message.send", { roomId: maths, body: "Thanks", txnId: "bob-3" })));
  t.equal(new Set(racing.map((r) => r.event.eventId)).size, 1);
  t.same(racing.map((r) => r.duplicate).sort(), [false, true, true]);

  const history = await bob.request("message.history", { roomId: maths });
  t.same(
    history.messages.map((m) => m.body),
    ["Is school open tomorrow?", "Is school open tomorrow?", "It is.", "Thanks"],
  );
  const synced = (await syncAll(bob)).events.filter((e) => e.type === "message" && e.roomId === maths);
  t.equal(synced.length, 4, "the sync stream holds each message once");
});

t.test("sync from 0 returns the user's own rooms' events in pos order", async (t) => {
  const { alice, bob, eve, school, maths } = await openSchool(t);
  const m = await send(alice, maths, "Welcome to Maths");
  const a = await send(alice, school, "Welcome, parents");
  const all = await syncAll(bob);
  for (const e of all.events) t.same(schemaErrors("push/room.event", e), [], `${e.type} matches RoomEvent`);
  assertOrdered(t, all.events, "bob's stream");
  t.ok(all.events.every((e) => e.roomId === school || e.roomId === maths), "only bob's rooms");
  t.notOk(all.events.some((e) => e.type === "room.create"), "nothing from before bob joined");
  const own = all.events.filter((e) => e.type === "member.join" && (e.content as { userId: string }).userId === bob.userId);
  t.same(own.map((e) => e.roomId), [school, maths], "bob sees his own joins");
  t.ok(all.events.some((e) => e.eventId === m.event.eventId));
  t.ok(all.events.some((e) => e.eventId === a.event.eventId));
  t.equal(all.events[all.events.length - 1].eventId, a.event.eventId);
  t.equal(all.pos, a.event.pos, "the returned position is the head");

  const head = await alice.request("sync", {});
  t.same(schemaErrors("op/sync#/$defs/result", head), []);
  t.same(head, { events: [], pos: a.event.pos, more: false }, "sync without since: the current head, no events");
  const empty = await bob.request("sync", { since: head.pos });
  t.same(empty, { events: [], pos: head.pos, more: false });
  t.same((await eve.request("sync", { since: 0 })).events, [], "the outsider's stream is empty");
});

t.test("a room you left is in your stream up to the leave and not after", async (t) => {
  const { alice, bob, maths } = await openSchool(t);
  const before = await send(alice, maths, "Before bob left");
  const left = await bob.request("room.leave", { roomId: maths });
  t.same(schemaErrors("op/room.leave#/$defs/result", left), []);
  const during = await send(alice, maths, "While bob was away");
  await bob.request("group.join", { roomId: maths });
  const back = await send(alice, maths, "After bob came back");

  const mine = (await syncAll(bob)).events.filter((e) => e.roomId === maths);
  const types = mine.map((e) => (e.type === "message" ? bodyOf(e) : `${e.type} ${(e.content as { userId?: string }).userId === bob.userId ? "bob" : "other"}`));
  t.same(types.slice(-4), ["Before bob left", "member.leave bob", "member.join bob", "After bob came back"]);
  t.notOk(mine.some((e) => e.eventId === during.event.eventId), "nothing from while he was away");
  t.ok(mine.some((e) => e.eventId === before.event.eventId));
  t.ok(mine.some((e) => e.eventId === back.event.eventId));
});

t.test("a user removed from a community gets the removal events of the community and its groups", async (t) => {
  const { alice, dan, school, maths } = await openSchool(t);
  const pushes: RoomEvent[] = [];
  dan.on("room.event", (e) => pushes.push(e));
  const since = (await dan.request("sync", {})).pos;
  const removed = await alice.request("member.remove", { roomId: school, userId: dan.userId });
  t.same(removed.removedFromGroups, [maths]);
  await send(alice, maths, "After dan was removed");
  await send(alice, school, "After dan was removed");

  const stream = (await syncAll(dan, since)).events;
  t.same(
    stream.map((e) => [e.type, e.roomId, (e.content as { userId?: string }).userId]),
    [
      ["member.remove", school, dan.userId],
      ["member.remove", maths, dan.userId],
    ],
    "the removals, and nothing after",
  );
  await dan.request("ping", {});
  t.same(pushes.map((e) => e.eventId), stream.map((e) => e.eventId), "the live pushes were the same events");
});

t.test("an invited non-member receives the invitation through sync", async (t) => {
  const { alice, eve, maths, school } = await openSchool(t);
  const pushed = eve.next("room.event");
  await alice.request("member.invite", { roomId: maths, userId: eve.userId });
  const live = await pushed;
  t.equal(live.type, "member.invite");
  const stream = (await syncAll(eve)).events;
  t.same(stream.map((e) => [e.type, e.roomId]), [["member.invite", maths]]);
  t.equal(stream[0].eventId, live.eventId);
  await send(alice, maths, "Eve is not in yet");
  t.equal((await syncAll(eve)).events.length, 1, "an invitation is not membership");

  // Invitations into the announcement group are restricted events; the invitee still sees hers.
  await alice.request("member.invite", { roomId: school, userId: eve.userId });
  t.same((await syncAll(eve)).events.map((e) => [e.type, e.roomId]), [["member.invite", maths], ["member.invite", school]]);
});

t.test("others joining the announcement group are synced to admins, not to members", async (t) => {
  const { server, alice, carol, bob, school, maths } = await openSchool(t);
  const frank = await server.user("frank");
  const link = await alice.request("link.create", { roomId: school });
  await frank.request("link.join", { token: link.token });
  await frank.request("group.join", { roomId: maths });

  const isFranksJoin = (e: RoomEvent) => e.type === "member.join" && (e.content as { userId: string }).userId === frank.userId;
  const forBob = (await syncAll(bob)).events.filter(isFranksJoin);
  t.same(forBob.map((e) => e.roomId), [maths], "a member sees frank join #maths, not the community");
  const forAlice = (await syncAll(alice)).events.filter(isFranksJoin);
  t.same(forAlice.map((e) => e.roomId), [school, maths], "alice, an admin of both, sees both joins");
  const forCarol = (await syncAll(carol)).events.filter(isFranksJoin);
  t.same(forCarol.map((e) => e.roomId), [school], "carol, a community admin not in #maths, sees the community join");
  const forFrank = (await syncAll(frank)).events.filter(isFranksJoin);
  t.same(forFrank.map((e) => e.roomId), [school, maths], "frank sees his own joins");
  t.notOk((await syncAll(frank)).events.some((e) => e.roomId === school && e.type === "member.join" && !isFranksJoin(e)), "nor anyone else's");
});

t.test("paging with a small limit: no duplicates, no gaps", async (t) => {
  const { alice, bob, school, maths } = await openSchool(t);
  for (let i = 0; i < 12; i++) await send(alice, i % 3 ? maths : school, `message ${i}`);
  const full = await bob.request("sync", { since: 0, limit: 1000 });
  t.equal(full.more, false);
  const paged = await syncAll(bob, 0, 4);
  t.ok(paged.pages > 3, `${paged.pages} pages`);
  t.same(paged.events.map((e) => e.eventId), full.events.map((e) => e.eventId), "the pages add up to the full stream");
  t.equal(paged.pos, full.pos);
  const first = await bob.request("sync", { since: 0, limit: 4 });
  t.equal(first.more, true);
  t.equal(first.events.length, 4);
  t.equal(first.pos, first.events[3].pos, "a page resumes after its last event");
  const single = await syncAll(bob, 0, 1);
  t.same(single.events.map((e) => e.eventId), full.events.map((e) => e.eventId), "one event per page also adds up");
});

/** Options for SDK clients built by hand in these tests, as the harness builds them. */
function clientOptions(server: TestServer) {
  return { baseUrl: server.baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { initialMs: 50, maxMs: 500 } };
}

/** Waits until a condition holds (or fails the test after a while). */
async function until(t: Test, what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) {
      t.fail(`timed out waiting for ${what}`);
      return;
    }
    await delay(10);
  }
}

/** Kills every socket of a user from the server side, as a network failure would. */
function cutOff(server: TestServer, userId: string): number {
  const conns = [...(server.app.parley.hub.connectionsOf(userId) ?? [])];
  for (const c of conns) c.socket.terminate();
  return conns.length;
}

t.test("a reconnect with the last position resumes without loss or duplication", async (t) => {
  const { server, alice, bob, maths } = await openSchool(t);
  const got: RoomEvent[] = [];
  const collect = (e: RoomEvent) => {
    if (e.type === "message" && e.roomId === maths) got.push(e);
  };
  bob.on("room.event", collect);
  const expected = Array.from({ length: 50 }, (_, i) => `m${i + 1}`);
  let i = 0;
  for (; i < 10; i++) await send(alice, maths, expected[i]);
  await until(t, "bob's first ten", () => got.length === 10);

  // Bob closes his app; alice carries on.
  bob.close();
  const lastPos = bob.pos!;
  for (; i < 25; i++) await send(alice, maths, expected[i]);

  // Bob opens the app again with the position he had; alice sends while he reconnects.
  const again = new ParleyClient(bob.session, { ...clientOptions(server), syncFrom: lastPos });
  t.teardown(() => again.close());
  again.on("room.event", collect);
  const connecting = again.connect();
  const meanwhile: Promise<unknown>[] = [];
  for (; i < 35; i++) meanwhile.push(send(alice, maths, expected[i]));
  await Promise.all([connecting, ...meanwhile]);
  for (; i < 50; i++) await send(alice, maths, expected[i]);

  await until(t, "all fifty", () => got.length >= 50);
  await again.request("ping", {});
  await delay(50);
  t.same(got.map(bodyOf), expected, "exactly the fifty, in order, once each");
  assertOrdered(t, got, "bob's messages");
  for (const e of got) t.same(schemaErrors("push/room.event", e), []);
  again.close();
});

t.test("a connection cut by the network reconnects by itself and misses nothing", async (t) => {
  const { server, alice, bob, maths } = await openSchool(t);
  const got: RoomEvent[] = [];
  bob.on("room.event", (e) => {
    if (e.type === "message" && e.roomId === maths) got.push(e);
  });
  let drops = 0;
  bob.on("disconnected", () => drops++);
  let reconnects = 0;
  bob.on("connected", () => reconnects++);

  const expected = Array.from({ length: 50 }, (_, i) => `m${i + 1}`);
  const authenticated = () => (server.app.parley.hub.connectionsOf(bob.userId)?.size ?? 0) > 0;
  for (let i = 0; i < 50; i++) {
    if (i === 10 || i === 30) {
      // The second cut may land while bob is still catching up from the first: that too.
      await until(t, "bob's socket", authenticated);
      t.equal(cutOff(server, bob.userId), 1, `bob's socket cut at message ${i}`);
    }
    // A few messages go out back to back (some land while bob is down), then a short pause
    // (some land while he is reconnecting or catching up).
    await send(alice, maths, expected[i]);
    if (i % 4 === 3) await delay(15);
  }
  await until(t, "all fifty", () => got.length >= 50 && bob.connected);
  await bob.request("ping", {});
  await delay(50);
  t.equal(drops, 2, "two cuts");
  t.ok(reconnects >= 1 && bob.connected, "the SDK reconnected by itself");
  t.same(got.map(bodyOf), expected, "exactly the fifty, in order, once each");
  assertOrdered(t, got, "bob's messages");
});

t.test("events held during a catch-up that the network cut short are not delivered past the gap", async (t) => {
  // Live events that arrive while the catch-up sync is in flight are held back; when the socket
  // dies before the catch-up finishes they lie beyond a gap and must not be delivered.
  const { server, alice, bob, maths } = await openSchool(t);
  const got: RoomEvent[] = [];
  const collect = (e: RoomEvent) => {
    if (e.type === "message" && e.roomId === maths) got.push(e);
  };
  bob.on("room.event", collect);
  await send(alice, maths, "m1");
  await until(t, "m1", () => got.length === 1);
  bob.close();
  const lastPos = bob.pos!;
  await send(alice, maths, "m2");
  await send(alice, maths, "m3");

  const again = new ParleyClient(bob.session, { ...clientOptions(server), syncFrom: lastPos });
  t.teardown(() => again.close());
  again.on("room.event", collect);
  let sabotaged = false;
  const request = again.request.bind(again);
  // On the first catch-up: a new message arrives live (and is held), then the network fails
  // before the sync reply comes back.
  again.request = (async (op: string, params: unknown) => {
    if (op === "sync" && !sabotaged) {
      sabotaged = true;
      await send(alice, maths, "m4");
      // The SDK holds live events back until its catch-up is done; wait until m4 is held.
      await until(t, "m4 held back", () => Boolean((again as unknown as { held: RoomEvent[] | null }).held?.length));
      cutOff(server, bob.userId);
      await delay(20);
    }
    return request(op as never, params as never);
  }) as typeof again.request;

  t.equal(await refusal(again.connect()), "disconnected", "the first connect fails with its socket");
  await until(t, "the automatic reconnect", () => again.connected && sabotaged && got.length >= 4);
  await send(alice, maths, "m5");
  await until(t, "m5", () => got.length >= 5);
  await again.request("ping", {});
  await delay(50);
  t.same(got.map(bodyOf), ["m1", "m2", "m3", "m4", "m5"], "m2 and m3 were not skipped");
  again.close();
});

t.test("a restart keeps rooms, members, messages and the log; seqs continue without a gap", async (t) => {
  let server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const school = (await alice.request("community.create", { name: "Hillside School" })).roomId;
  const maths = (await alice.request("group.create", { name: "Maths", communityId: school })).roomId;
  const link = await alice.request("link.create", { roomId: school });
  await bob.request("link.join", { token: link.token });
  await bob.request("group.join", { roomId: maths });
  // A burst committed in groups, then the restart.
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 ? bob : alice, maths, `before ${i}`)));
  const mathsSeq = Math.max(...burst.map((r) => r.event.seq));
  const last = await alice.request("message.send", { roomId: school, body: "Term starts Monday", txnId: "term" });

  const streamBefore = await syncAll(alice);
  const historyBefore = await alice.request("message.history", { roomId: maths });
  const membersBefore = await alice.request("room.members", { roomId: maths });
  const roomsBefore = (await bob.request("room.list", {})).rooms;

  server = await server.restart();
  const alice2 = await server.login("alice");
  const bob2 = await server.login("bob");
  t.same(await syncAll(alice2), streamBefore, "the log is intact");
  t.same(await alice2.request("message.history", { roomId: maths }), historyBefore);
  t.same(await alice2.request("room.members", { roomId: maths }), membersBefore);
  t.same((await bob2.request("room.list", {})).rooms, roomsBefore);
  t.equal(await refusal(bob2.request("message.send", { roomId: school, body: "hi", txnId: "b" })), "announcement.admins_only", "roles survive");

  const next = await send(alice2, school, "Reminder: term starts Monday");
  t.equal(next.event.seq, last.event.seq + 1, "seq continues gaplessly");
  t.ok(next.event.pos > last.event.pos, "and so does pos");
  const retry = await alice2.request("message.send", { roomId: school, body: "Term starts Monday", txnId: "term" });
  t.equal(retry.duplicate, true, "a send retried across the restart is still stored once");
  t.same(retry.event, last.event);
  const pushed = alice2.next("room.event");
  const fromBob = await send(bob2, maths, "after the restart");
  t.equal(fromBob.event.seq, mathsSeq + 1, "and in the room that took the burst");
  t.equal((await pushed).eventId, fromBob.event.eventId, "live delivery works after the restart");
  const log = server.app.parley.storage.sqlite.prepare("SELECT seq FROM room_events WHERE room_id = ? ORDER BY pos").all(maths) as { seq: number }[];
  t.same(log.map((e) => e.seq), Array.from({ length: log.length }, (_, k) => k + 1), "the log of #maths is 1..N across the restart");
});

t.test("group commit: 200 concurrent sends from 5 clients leave every room's seqs gapless", async (t) => {
  const { server, alice, carol, bob, dan, school, maths } = await openSchool(t);
  const science = (await alice.request("group.create", { name: "Science", communityId: school })).roomId;
  for (const c of [carol, bob, dan]) await c.request("group.join", { roomId: science });
  await carol.request("group.join", { roomId: maths });
  const batches: number[] = [];
  server.app.parley.rooms.onCommit((batch) => batches.push(batch.length));

  const senders = [alice, carol, bob, dan, alice];
  const plan: { client: ParleyClient; roomId: string; body: string; txnId: string }[] = [];
  for (let i = 0; i < 200; i++) {
    const client = senders[i % 5];
    const admin = client === alice || client === carol;
    const roomId = [maths, science, admin ? school : maths][i % 3];
    plan.push({ client, roomId, body: `burst ${i}`, txnId: `burst-${i % 5}-${i}` });
  }
  const results = await Promise.all(plan.map((p) => p.client.request("message.send", { roomId: p.roomId, body: p.body, txnId: p.txnId })));
  t.ok(results.every((r) => !r.duplicate));
  t.ok(Math.max(...batches) > 1, `appends were grouped (largest batch ${Math.max(...batches)})`);

  // Alice is in every room since its creation and an admin of each: her stream has every event.
  const stream = (await syncAll(alice, 0, 97)).events;
  assertOrdered(t, stream, "alice's stream");
  const log = server.app.parley.storage.sqlite.prepare("SELECT seq, event_id AS eventId FROM room_events WHERE room_id = ? ORDER BY pos");
  for (const roomId of [school, maths, science]) {
    const stored = log.all(roomId) as { seq: number; eventId: string }[];
    t.same(stored.map((e) => e.seq), Array.from({ length: stored.length }, (_, k) => k + 1), `the room's log holds seqs 1..${stored.length} in pos order`);
    // A creator's stream starts at the room's first event, room.create: alice has every seq.
    const seqs = stream.filter((e) => e.roomId === roomId).map((e) => e.seq);
    t.same(seqs, stored.map((e) => e.seq), "alice's stream holds every event of the rooms she created, in order");
    t.same(stream.filter((e) => e.roomId === roomId).map((e) => e.eventId), stored.map((e) => e.eventId));
    const messageSeqs = stream.filter((e) => e.roomId === roomId && e.type === "message").map((e) => e.seq);
    const history: number[] = [];
    let after = 0;
    for (;;) {
      const page = await alice.request("message.history", { roomId, after, limit: 50 });
      history.push(...page.messages.map((m) => m.seq));
      if (!page.more) break;
      after = page.messages[page.messages.length - 1].seq;
    }
    t.same(history, messageSeqs, "history holds the same messages, each once, in seq order");
    const expected = plan.filter((p) => p.roomId === roomId).map((p) => p.body).sort();
    t.same(stream.filter((e) => e.roomId === roomId && e.type === "message").map(bodyOf).sort(), expected, "every send of this room, once");
  }
  const bySeq = new Map(results.map((r) => [`${r.event.roomId} ${r.event.seq}`, r.event.eventId]));
  t.equal(bySeq.size, 200, "no two sends got the same seq");
});
