/**
 * The inbox against a hostile home: a fake peer that hosts its own rooms and sends their events to
 * a real server, forging, repeating, overlapping and skipping. Each event gets its own answer, and
 * only a verified chain is stored.
 */
import t from "tap";
import { startServer, type TestServer } from "../helpers.ts";
import { startFakePeer, makeKey, type FakePeer } from "./peer.ts";
import { contentHashOf, eventHashOf } from "../../server/rooms/hash.ts";
import { signCheckpoint } from "../../federation/events.ts";
import type { WireEvent } from "../../federation/outbox.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** A room hosted by the fake peer: its log, hashed and chained as a home server would. */
function roomOf(peer: FakePeer, id: string, messages: number): WireEvent[] {
  const roomId = `!room${id}:${peer.name}`;
  const owner = `@mallory:${peer.name}`;
  const bodies: [string, Record<string, unknown>][] = [
    ["room.create", { kind: "group", name: id, description: "", picture: null, rules: "", settings: { sendPolicy: "all", editInfoPolicy: "admins", addMembersPolicy: "admins", joinApproval: false, announcementReplies: true } }],
    ["member.join", { userId: owner, role: "owner", via: "create" }],
  ];
  for (let i = 0; i < messages; i++) bodies.push(["message", { kind: "text", body: `m${i}` }]);
  let prev: string | null = null;
  return bodies.map(([type, content], i) => {
    const skeleton = { roomId, seq: i + 1, eventId: `$${id}${i + 1}x`, type, sender: owner, origin: peer.name, ts: 1_796_000_000_000 + i, contentHash: contentHashOf(content), prev };
    const e: WireEvent = { ...skeleton, content, hash: eventHashOf(skeleton) };
    prev = e.hash;
    return e;
  });
}

function checkpointFor(peer: FakePeer, events: WireEvent[], key = peer.keys[0]) {
  const rooms = new Map<string, WireEvent>();
  for (const e of events) rooms.set(e.roomId, e);
  return [...rooms.values()].map((last) => signCheckpoint({ server: peer.name, roomId: last.roomId, seq: last.seq, hash: last.hash, ts: Date.now() }, key));
}

async function setup(t: Test): Promise<{ server: TestServer; evil: FakePeer; send: (events: WireEvent[], checkpoints?: ReturnType<typeof checkpointFor>) => Promise<any[]> }> {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  const target = { baseUrl: server.baseUrl, name: "school.test" };
  return {
    server,
    evil,
    async send(events, checkpoints) {
      // As if a user of this server had joined each room through its home.
      for (const e of events) server.app.parley.storage.sqlite.prepare("INSERT INTO federation_rooms (room_id, created_at) VALUES (?, 0) ON CONFLICT DO NOTHING").run(e.roomId);
      const res = await evil.call(target, "/send", { events, checkpoints: checkpoints ?? checkpointFor(evil, events), ephemeral: [] });
      t.equal(res.status, 200, `send answered: ${JSON.stringify(res.body).slice(0, 200)}`);
      return res.body.results.map((r: { status: string; code?: string }) => (r.code ? `${r.status} ${r.code}` : r.status));
    },
  };
}

const count = (server: TestServer, roomId: string) => (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events WHERE room_id = ?").get(roomId) as { n: number }).n;

t.test("a batch with one forged event refuses that event (and the chain after it) and accepts the others", async (t) => {
  const { server, evil, send } = await setup(t);
  const good = roomOf(evil, "good", 2);
  const bad = roomOf(evil, "bad", 3);
  const forged = bad.map((e) => (e.seq === 4 ? { ...e, content: { kind: "text", body: "forged" } } : e));
  const results = await send([...good, ...forged], checkpointFor(evil, [...good, ...bad]));
  t.same(results, ["ok", "ok", "ok", "ok", "ok", "ok", "ok", "refused federation.event_forged", "refused federation.chain_broken"]);
  t.equal(count(server, good[0].roomId), 4, "the good room whole");
  t.equal(count(server, bad[0].roomId), 3, "the bad room up to the forged event");
  t.equal(server.app.parley.rooms.state(bad[0].roomId)!.seq, 3);
});

t.test("a repeated or overlapping batch stores nothing twice", async (t) => {
  const { server, evil, send } = await setup(t);
  const log = roomOf(evil, "maths", 4);
  t.same(await send(log.slice(0, 4)), ["ok", "ok", "ok", "ok"]);
  t.same(await send(log.slice(0, 4)), ["duplicate", "duplicate", "duplicate", "duplicate"], "the same batch again");
  t.same(await send(log.slice(2, 6)), ["duplicate", "duplicate", "ok", "ok"], "an overlapping batch");
  t.equal(count(server, log[0].roomId), 6);
});

t.test("events of a room the origin is not the home of, a bad checkpoint, a gap and a rewritten past are refused", async (t) => {
  const { server, evil, send } = await setup(t);
  const log = roomOf(evil, "maths", 6);
  t.same(await send(log.slice(0, 3)), ["ok", "ok", "ok"]);

  const elsewhere = roomOf({ ...evil, name: "school.test" }, "theirs", 0);
  const signedByEvil = elsewhere.map((e) => e);
  t.same(await send(signedByEvil, checkpointFor(evil, signedByEvil).map((c) => ({ ...c }))), ["refused federation.not_home", "refused federation.not_home"], "a room of another server");

  t.same(await send(log.slice(3, 5), checkpointFor(evil, log.slice(3, 5), makeKey())), ["refused federation.bad_checkpoint", "refused federation.bad_checkpoint"], "a checkpoint under a key the peer does not publish");
  t.same(await send(log.slice(3, 5), []), ["refused federation.bad_checkpoint", "refused federation.bad_checkpoint"], "no checkpoint at all");
  const wrongHash = checkpointFor(evil, log.slice(3, 5)).map((c) => signCheckpoint({ server: c.server, roomId: c.roomId, seq: c.seq, hash: log[0].hash, ts: c.ts }, evil.keys[0]));
  t.same(await send(log.slice(3, 5), wrongHash), ["refused federation.bad_checkpoint", "refused federation.bad_checkpoint"], "a checkpoint over another hash");

  t.same(await send(log.slice(5, 7)), ["refused federation.gap", "refused federation.gap"], "seq 6 and 7 while 4 is missing");

  const rewritten = roomOf(evil, "maths", 6).map((e) => e);
  const other = { ...rewritten[1], ts: rewritten[1].ts + 1 };
  const otherSkeleton = { roomId: other.roomId, seq: other.seq, eventId: other.eventId, type: other.type, sender: other.sender, origin: other.origin, ts: other.ts, contentHash: other.contentHash, prev: other.prev };
  other.hash = eventHashOf(otherSkeleton);
  t.same(await send([other], checkpointFor(evil, [other])), ["refused federation.conflict"], "another event at a seq already held");
  t.equal(count(server, log[0].roomId), 3, "nothing of it stored");
});

t.test("a room none of the server's users is in is not replicated: a server cannot push rooms on another", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  const log = roomOf(evil, "spam", 2);
  const res = await evil.call({ baseUrl: server.baseUrl, name: "school.test" }, "/send", { events: log, checkpoints: checkpointFor(evil, log), ephemeral: [] });
  t.same(res.body.results.map((r: { code?: string }) => r.code), log.map(() => "federation.not_subscribed"));
  t.equal(count(server, log[0].roomId), 0);
});

t.test("a txnId is taken only for this server's users' events; a malformed one refuses the batch", async (t) => {
  const { server, evil, send } = await setup(t);
  const log = roomOf(evil, "echo", 2);
  // The home (here the fake peer) names a txnId on its own user's event: not this server's user,
  // so it is stored without it (only a sender's own server is told, and tells its sessions).
  const withTxn = log.map((e) => (e.seq === 3 ? { ...e, txnId: "t_not_ours_0001" } : e));
  t.same(await send(withTxn), ["ok", "ok", "ok", "ok"]);
  const txn = server.app.parley.storage.sqlite.prepare("SELECT txn_id FROM room_events WHERE event_id = ?").get(log[2].eventId) as { txn_id: string | null };
  t.equal(txn.txn_id, null, "not stored");

  const more = roomOf(evil, "echo", 3).slice(4);
  for (const bad of ["x".repeat(65), "", 42]) {
    const res = await evil.call({ baseUrl: server.baseUrl, name: "school.test" }, "/send", { events: more.map((e) => ({ ...e, txnId: bad })), checkpoints: checkpointFor(evil, more), ephemeral: [] });
    t.equal(res.status, 400, `txnId ${JSON.stringify(bad).slice(0, 12)} refused`);
    t.equal(res.body.error.code, "bad_request");
  }
  t.equal(count(server, log[0].roomId), 4, "nothing of them stored");
});
