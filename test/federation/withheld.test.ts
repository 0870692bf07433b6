/**
 * Withheld events: a server receives no content of a room's events from times when none of its
 * users was a member of the room (federation/withheld.ts). Its copy of the log stays whole (every
 * event, every hash), but what was said then never reaches its database: not by a join snapshot's
 * last events, not when it comes back after its last member left, not as an invitee's server, not
 * by backfill. Each story reads the receiving server's SQLite files directly.
 */
import t from "tap";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startClusterFor } from "./cluster.ts";
import { startServer, until, nextEvent, refusalOf, type TestServer } from "../helpers.ts";
import { startFakePeer } from "./peer.ts";
import { joinSnapshot, type WireEvent } from "../../federation/outbox.ts";
import { contentHashOf, eventHashOf } from "../../server/rooms/hash.ts";
import { signCheckpoint, signSnapshot } from "../../federation/events.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import type { SnapshotState } from "../../server/rooms/core.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// A room longer than 8 events is joined by snapshot, with its last 8 events.
joinSnapshot.tailEvents = 8;

/** Whether any file of the server's data directory (the database, its WAL) holds `word`. */
function dataHolds(server: TestServer, word: string): boolean {
  const needle = word.toLowerCase();
  const walk = (dir: string): boolean =>
    readdirSync(dir).some((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : readFileSync(path).toString("latin1").toLowerCase().includes(needle);
    });
  return walk(server.dataDir);
}

const sql = (server: TestServer) => server.app.parley.storage.sqlite;
const messageSeqs = (server: TestServer, roomId: string) => (sql(server).prepare("SELECT seq FROM messages WHERE room_id = ? ORDER BY seq").all(roomId) as { seq: number }[]).map((r) => r.seq);
/** Matches in the server's search index, brought up to its log first (it is written in batches behind it). */
const searchCount = (server: TestServer, word: string) => {
  server.app.parley.rooms.storeView().store.indexSearch();
  return (sql(server).prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?").get(word) as { n: number }).n;
};
const eventsOf = (server: TestServer, roomId: string) =>
  sql(server).prepare("SELECT seq, type, content, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId) as { seq: number; type: string; content: string; hash: string }[];
const headOf = (server: TestServer, roomId: string) => server.app.parley.rooms.state(roomId)?.seq ?? 0;
const caughtUp = (t: Test, home: TestServer, copy: TestServer, roomId: string) => until(t, `${copy.config.server.name} holds the room up to its home's head`, () => headOf(copy, roomId) === headOf(home, roomId));

/** What a member's room list says of the room: its last message and the counts of what is unread. */
async function listedOf(client: ParleyClient, roomId: string) {
  const r = (await client.request("room.list", {})).rooms.find((x) => x.roomId === roomId)!;
  return { lastMessage: r.lastMessage, unread: r.unread, mentions: r.mentions };
}

/** What a member reads of the room: every message of their history with everything it shows. */
async function readingOf(client: ParleyClient, roomId: string) {
  const page = await client.request("message.history", { roomId, limit: 100 });
  return page.messages;
}

t.test("carol of c joins alice's long group by link: c holds none of what was said before her join, carol reads exactly what erin, a new member on a, reads, and what follows arrives whole", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"]);
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const carol = await c.user("carol");
  const erin = await a.user("erin");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  // Before carol: messages, a poll, a calendar event, an edit and a reaction, all with one word.
  const before: number[] = [];
  for (let i = 1; i <= 6; i++) before.push((await alice.request("message.send", { roomId, txnId: `z${i}`, body: `zebraquartz ${i}` })).event.seq);
  const poll = (await alice.request("poll.create", { roomId, txnId: "p1", question: "zebraquartz trip?", options: ["Monday", "Friday"] })).event.seq;
  const meeting = (await alice.request("event.create", { roomId, txnId: "e1", title: "zebraquartz evening", start: Date.now() + 86_400_000, timeZone: "Europe/London" })).event.seq;
  await alice.request("message.edit", { roomId, seq: before[0], body: "zebraquartz 1, edited" });
  await alice.request("message.react", { roomId, seq: before[1], emoji: "👍" });
  await bob.request("poll.vote", { roomId, seq: poll, options: [1] });
  await caughtUp(t, a, b, roomId);

  // carol joins through c, erin right after her on a.
  const carolJoin = await carol.request("link.join", { token, server: "a.test" });
  t.equal(carolJoin.status, "joined");
  await erin.request("link.join", { token, server: "a.test" });
  const joinedAt = headOf(a, roomId);
  await caughtUp(t, a, c, roomId);

  // c holds a whole chain (the snapshot's last events included), but none of their content.
  const held = eventsOf(c, roomId);
  const home = new Map(eventsOf(a, roomId).map((e) => [e.seq, e]));
  t.ok(held[0].seq < joinedAt - 1 && held[0].seq <= meeting, `c holds events from before carol's join (from seq ${held[0].seq})`);
  t.ok(held.every((e) => e.hash === home.get(e.seq)!.hash), "every event c holds has the home's hash");
  const withheld = held.filter((e) => e.content === '{"withheld":true}');
  t.ok(withheld.some((e) => e.type === "message") && withheld.some((e) => e.type === "poll.vote") && withheld.some((e) => e.type === "reaction") && withheld.some((e) => e.type === "message.edit"), "messages, edits, reactions and votes before the join are held withheld");
  t.ok(held.filter((e) => e.type.startsWith("member.")).every((e) => e.content !== '{"withheld":true}'), "membership events are whole");
  t.notOk(held.some((e) => e.content.includes("zebraquartz")), "room_events holds none of it");
  t.same(messageSeqs(c, roomId), [], "no message rows");
  t.equal(searchCount(c, "zebraquartz"), 0, "the search index finds nothing");
  t.equal((sql(c).prepare("SELECT count(*) AS n FROM polls WHERE room_id = ?").get(roomId) as { n: number }).n, 0, "no poll");
  t.equal((sql(c).prepare("SELECT count(*) AS n FROM calendar_events WHERE room_id = ?").get(roomId) as { n: number }).n, 0, "no calendar event");
  t.notOk(dataHolds(c, "zebraquartz"), "no file of c's data directory holds a word of it");
  t.ok(dataHolds(b, "zebraquartz") && searchCount(b, "zebraquartz") > 0, "b, whose member bob was there, holds it");
  t.same(await listedOf(erin, roomId), { lastMessage: null, unread: 0, mentions: 0 }, "erin's room list shows nothing from before her join");
  t.same(await listedOf(carol, roomId), await listedOf(erin, roomId), "nor does carol's");

  // After the join, alice touches what was said before it, and says something new.
  await alice.request("message.edit", { roomId, seq: before[4], body: "the fifth, editedgiraffe" });
  await alice.request("message.react", { roomId, seq: before[3], emoji: "🎉" });
  await alice.request("message.send", { roomId, txnId: "r1", body: "a reply to an old one", replyTo: before[4] });
  await alice.request("message.delete", { roomId, seq: before[5], forEveryone: true });
  await alice.request("poll.vote", { roomId, seq: poll, options: [0] });
  await alice.request("event.rsvp", { roomId, seq: meeting, answer: "going" });
  const pushed = nextEvent(carol, (e) => e.roomId === roomId && e.type === "message" && (e.content as { body?: string }).body === "welcome carol", 30_000);
  await alice.request("message.send", { roomId, txnId: "w1", body: "welcome carol" });
  t.equal(((await pushed).content as { body: string }).body, "welcome carol", "what follows her join reaches carol whole, live");
  await caughtUp(t, a, c, roomId);
  t.equal(eventsOf(c, roomId).filter((e) => e.seq > joinedAt).filter((e) => e.content === '{"withheld":true}').length, 0, "nothing after her join is withheld");
  t.notOk(dataHolds(c, "zebraquartz"), "nothing that targets an old message revealed it");
  t.equal(searchCount(c, "editedgiraffe"), 0, "an edit of a message c holds withheld indexes nothing");
  for (const reader of [carol, erin]) t.same((await reader.request("message.search", { query: "editedgiraffe" })).results, [], `${reader.userId} finds no old message by its new text`);

  // carol reads exactly what erin reads at home.
  const onC = await readingOf(carol, roomId);
  const onA = await readingOf(erin, roomId);
  t.same(onC, onA, "the same messages, with the same edits, reactions and replies");
  t.same(onC.map((m) => m.body), ["a reply to an old one", "welcome carol"]);
  t.same(await listedOf(carol, roomId), await listedOf(erin, roomId), "their room lists say the same");
  t.equal((await listedOf(carol, roomId)).unread, 2);
  for (const seq of [before[0], before[2], poll, meeting]) {
    t.equal(await refusalOf(carol, "message.get", { roomId, seq }), "message.not_found", `carol cannot read seq ${seq}`);
    t.equal(await refusalOf(erin, "message.get", { roomId, seq }), "message.not_found", `nor can erin`);
  }
  for (const reader of [carol, erin]) {
    t.equal(await refusalOf(reader, "poll.get", { roomId, seq: poll }), "poll.not_found", `${reader.userId} cannot read the poll made before the join`);
    t.equal(await refusalOf(reader, "event.get", { roomId, seq: meeting }), "event.not_found", `nor the calendar event`);
  }
  const syncC = (await carol.request("sync", { since: 0, limit: 500 })).events.filter((e) => e.roomId === roomId && e.seq > joinedAt);
  const syncA = (await erin.request("sync", { since: 0, limit: 500 })).events.filter((e) => e.roomId === roomId && e.seq > joinedAt);
  t.same(syncC.map((e) => [e.seq, e.type, e.content]), syncA.map((e) => [e.seq, e.type, e.content]), "the same events in the sync stream");
  const found = await carol.request("message.search", { query: "zebraquartz" });
  t.same(found.results, [], "carol's search finds nothing of it");
});

t.test("bob of b joins alice's community: its announcements from before his join reach b withheld, its membership events whole, and bob reads what dave, joining on a, reads", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const dave = await a.user("dave");
  const { roomId } = await alice.request("community.create", { name: "Hillside School" });
  for (let i = 1; i <= 10; i++) await alice.request("message.send", { roomId, txnId: `n${i}`, body: `secretotter notice ${i}` });
  await alice.request("poll.create", { roomId, txnId: "p", question: "secretotter poll", options: ["yes", "no"] });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await dave.request("link.join", { token, server: "a.test" });
  await alice.request("message.send", { roomId, txnId: "w", body: "welcome, new parents" });
  await caughtUp(t, a, b, roomId);
  const held = eventsOf(b, roomId);
  t.ok(held.some((e) => e.content === '{"withheld":true}'), "the snapshot's last announcements are withheld");
  t.ok(held.filter((e) => e.type.startsWith("member.")).every((e) => e.content !== '{"withheld":true}'), "its membership events (restricted in a community) are whole");
  t.notOk(dataHolds(b, "secretotter"), "no file of b's data directory holds a word said before bob's join");
  t.same(await readingOf(bob, roomId), await readingOf(dave, roomId), "bob reads what dave reads");
  t.same((await readingOf(bob, roomId)).map((m) => m.body), ["welcome, new parents"]);
  t.same(await listedOf(bob, roomId), await listedOf(dave, roomId), "their room lists say the same");
});

t.test("carol leaves, alice says more, dave of c joins: none of the gap reaches c, a deletion in the gap still redacts c's copy, and after dave's join everything arrives whole", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "c.test"]);
  const { "a.test": a, "c.test": c } = servers;
  const alice = await a.user("alice");
  const carol = await c.user("carol");
  const dave = await c.user("dave");
  const { roomId } = await alice.request("group.create", { name: "Art" });
  const { token } = await alice.request("link.create", { roomId });
  await carol.request("link.join", { token, server: "a.test" });
  const said = (await alice.request("message.send", { roomId, txnId: "c1", body: "while carol is here" })).event.seq;
  const doomed = (await alice.request("message.send", { roomId, txnId: "c2", body: "doomedlemur" })).event.seq;
  await caughtUp(t, a, c, roomId);
  t.ok(dataHolds(c, "doomedlemur"), "c holds what was said while carol was a member");
  await carol.request("room.leave", { roomId });
  const left = headOf(a, roomId);
  await caughtUp(t, a, c, roomId);

  // The gap: c has no member; alice talks, edits, reacts, deletes.
  const gap: number[] = [];
  for (let i = 1; i <= 4; i++) gap.push((await alice.request("message.send", { roomId, txnId: `g${i}`, body: `gapwombat ${i}` })).event.seq);
  await alice.request("message.edit", { roomId, seq: said, body: "gapwombat edit of an old one" });
  await alice.request("message.react", { roomId, seq: said, emoji: "🎉" });
  await alice.request("message.delete", { roomId, seq: doomed, forEveryone: true });
  t.equal(headOf(c, roomId), left, "c receives nothing while it has no member");

  await dave.request("link.join", { token, server: "a.test" });
  const daveJoin = headOf(a, roomId);
  const after = (await alice.request("message.send", { roomId, txnId: "d1", body: "hello dave" })).event.seq;
  await caughtUp(t, a, c, roomId);
  const held = new Map(eventsOf(c, roomId).map((e) => [e.seq, e]));
  t.same([...held.keys()], Array.from({ length: after }, (_, i) => i + 1), "c holds every event of the log, in order");
  const inGap = [...held.values()].filter((e) => e.seq > left && e.seq < daveJoin);
  t.ok(inGap.filter((e) => e.type !== "message.delete").every((e) => e.content === '{"withheld":true}'), "every event of the gap is withheld");
  t.ok(inGap.some((e) => e.type === "message.delete" && JSON.parse(e.content).target === doomed), "but the deletion for everyone is whole");
  t.notOk(dataHolds(c, "gapwombat"), "no file of c's data directory holds a word of the gap");
  // The message deleted during the gap is redacted on c too (its log and its projections).
  t.same(JSON.parse(held.get(doomed)!.content), { kind: "text", redacted: true });
  t.equal((sql(c).prepare("SELECT body FROM messages WHERE room_id = ? AND seq = ?").get(roomId, doomed) as { body: string | null }).body, null);
  t.equal(searchCount(c, "doomedlemur"), 0);
  t.equal(held.get(after)!.content.includes("hello dave"), true, "after dave's join, whole");
  t.same((await dave.request("message.history", { roomId })).messages.map((m) => m.body), ["hello dave"], "dave reads from his join");

  // Backfill by seq range (as gap fill asks it) follows the same rule.
  const res = await c.app.parley.federation.request("a.test", "POST", "/backfill", { roomId, from: 1, to: after });
  t.equal(res.status, 200);
  const page = res.body.events as WireEvent[];
  t.same(page.map((e) => e.seq), Array.from({ length: after }, (_, i) => i + 1));
  t.same(page.filter((e) => e.withheld).map((e) => e.seq), gap.concat(gap[gap.length - 1] + 1, gap[gap.length - 1] + 2), "the gap's messages, edit and reaction withheld");
  t.ok(page.filter((e) => e.withheld).every((e) => e.content === undefined), "without content");
  t.equal(page.find((e) => e.seq === said)!.content!.body, "while carol is here", "what carol could read is whole");
  t.equal(page.find((e) => e.seq === after)!.content!.body, "hello dave");
});

t.test("c, restored from a backup taken while it had no member in the room, fills the gap from a's backfill: what was said while it had none arrives withheld, what followed dave's join whole", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "c.test"]);
  const { "a.test": a } = servers;
  let c = servers["c.test"];
  const alice = await a.user("alice");
  const carol = await c.user("carol");
  await c.user("dave"); // his account is in the backup; he joins the room after it was taken
  const { roomId } = await alice.request("group.create", { name: "Drama" });
  const { token } = await alice.request("link.create", { roomId });
  await carol.request("link.join", { token, server: "a.test" });
  await alice.request("message.send", { roomId, txnId: "c1", body: "while carol is here" });
  await carol.request("room.leave", { roomId });
  const left = headOf(a, roomId);
  await caughtUp(t, a, c, roomId);
  // c's backup, taken now: it holds the room up to carol's leave.
  const backup = mkdtempSync(join(tmpdir(), "parley-backup-"));
  t.teardown(() => rmSync(backup, { recursive: true, force: true }));
  await c.stop(false);
  cpSync(c.dataDir, backup, { recursive: true });
  c = await c.restart();
  servers["c.test"] = c;
  for (let i = 1; i <= 3; i++) await alice.request("message.send", { roomId, txnId: `g${i}`, body: `gapkoala ${i}` });
  await (await c.login("dave")).request("link.join", { token, server: "a.test" });
  await alice.request("message.send", { roomId, txnId: "d1", body: "hello dave" });
  await caughtUp(t, a, c, roomId);
  // c is restored from the backup: a's cursor says c has everything, c holds up to the leave.
  await c.stop(false);
  rmSync(c.dataDir, { recursive: true, force: true });
  cpSync(backup, c.dataDir, { recursive: true });
  c = await c.restart();
  servers["c.test"] = c;
  t.equal(headOf(c, roomId), left, "restored: c holds the room up to carol's leave");
  const last = (await alice.request("message.send", { roomId, txnId: "d2", body: "are you there, dave" })).event.seq;
  await until(t, "c filled the gap and holds the room up to a's head", () => headOf(c, roomId) === last);
  t.ok(c.logs.some((l) => l.msg === "gap filled"), "by gap fill");
  const held = eventsOf(c, roomId);
  t.same(held.map((e) => e.hash), eventsOf(a, roomId).map((e) => e.hash), "c's chain is a's, whole");
  const daveJoin = held.find((e) => e.type === "member.join" && JSON.parse(e.content).userId === "@dave:c.test")!.seq;
  t.ok(held.filter((e) => e.seq > left && e.seq < daveJoin).every((e) => e.content === '{"withheld":true}'), "the gap arrived withheld");
  t.notOk(dataHolds(c, "gapkoala"), "no file of c's data directory holds a word of it");
  t.same(messageSeqs(c, roomId).filter((s) => s > left), held.filter((e) => e.type === "message" && e.seq > daveJoin).map((e) => e.seq), "the messages after dave's join are there, whole");
  const dave2 = await c.login("dave");
  t.same((await dave2.request("message.history", { roomId })).messages.map((m) => m.body), ["hello dave", "are you there, dave"]);
});

t.test("bob of b is invited into a group with a history, alice says more, then bob joins: b holds no content from before his join", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Music" });
  for (let i = 1; i <= 3; i++) await alice.request("message.send", { roomId, txnId: `h${i}`, body: `oldplatypus ${i}` });
  // a's delivery to b is held back (as after failures) while alice invites bob and says more.
  sql(a).prepare("INSERT INTO federation_peers (server, failures, next_attempt_at) VALUES ('b.test', 1, ?)").run(Date.now() + 3_600_000);
  const invitedPush = nextEvent(bob, (e) => e.roomId === roomId && e.type === "member.invite", 30_000);
  await alice.request("member.invite", { roomId, userId: "@bob:b.test" });
  const invitedAt = headOf(a, roomId);
  for (let i = 1; i <= 3; i++) await alice.request("message.send", { roomId, txnId: `i${i}`, body: `invitedplatypus ${i}` });
  // b comes back: it is sent the log up to the invitation (its cursor stops there), withheld.
  await b.app.parley.federation.request("a.test", "POST", "/wake", {});
  t.equal(((await invitedPush).content as { userId: string }).userId, "@bob:b.test", "bob is told of the invitation");
  await until(t, "b holds the log up to the invitation", () => headOf(b, roomId) === invitedAt);
  t.ok(eventsOf(b, roomId).filter((e) => e.type === "message").every((e) => e.content === '{"withheld":true}'), "every message is withheld");
  t.notOk(dataHolds(b, "oldplatypus"), "b holds nothing said before the invitation");
  t.ok(b.app.parley.rooms.state(roomId)!.invites.has("@bob:b.test"), "b knows bob is invited");

  await bob.request("invite.accept", { roomId });
  const hello = (await alice.request("message.send", { roomId, txnId: "w", body: "hello bob" })).event.seq;
  await caughtUp(t, a, b, roomId);
  t.notOk(dataHolds(b, "invitedplatypus"), "nor anything said while bob was only invited");
  t.same(messageSeqs(b, roomId), [hello], "b's only message row is what followed bob's join");
  t.same((await bob.request("message.history", { roomId })).messages.map((m) => m.body), ["hello bob"]);
  t.same(eventsOf(b, roomId).map((e) => e.hash), eventsOf(a, roomId).map((e) => e.hash), "b's chain is a's, whole");
});

t.test("a hostile home's malformed withheld events are refused one by one, and its well-formed ones are stored with nothing projected", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  const bob = await server.user("bob");
  const roomId = "!withheld:evil.test";
  const owner = "@mallory:evil.test";
  let prev: string | null = "z".repeat(43);
  /** The next event of the room, hashed and chained as a home would; `shape` then changes what travels. */
  const next = (seq: number, type: string, content: Record<string, unknown>, shape: "whole" | "withheld" | "both" | "neither" = "whole"): WireEvent => {
    const sender = type === "member.join" ? "@bob:school.test" : owner;
    const skeleton = { roomId, seq, eventId: `$w${seq}x`, type, sender, origin: sender === owner ? "evil.test" : "school.test", ts: 1_796_000_000_000 + seq, contentHash: contentHashOf(content), prev };
    const hash = eventHashOf(skeleton);
    prev = hash;
    if (shape === "withheld") return { ...skeleton, withheld: true, hash };
    if (shape === "both") return { ...skeleton, content, withheld: true, hash };
    if (shape === "neither") return { ...skeleton, hash };
    return { ...skeleton, content, hash };
  };
  const send = async (events: WireEvent[], snapshots: unknown[] = []) => {
    const last = events[events.length - 1];
    const checkpoints = [signCheckpoint({ server: "evil.test", roomId, seq: last.seq, hash: last.hash, ts: Date.now() }, evil.keys[0])];
    const res = await evil.call({ baseUrl: server.baseUrl, name: "school.test" }, "/send", { events, checkpoints, snapshots });
    t.equal(res.status, 200);
    return res.body.results.map((r: { status: string; code?: string }) => (r.code ? `${r.status} ${r.code}` : r.status));
  };
  // bob joins a room of evil.test whose last events before his join are withheld.
  const begin = [next(38, "message", { kind: "text", body: "hiddenaardvark" }, "withheld"), next(39, "reaction", { target: 38, emoji: "👍" }, "withheld"), next(40, "member.join", { userId: "@bob:school.test", role: "member", via: "link" })];
  const state: SnapshotState = {
    kind: "group", name: "Withheld", description: "", picture: null, rules: "", communityId: null, groups: [],
    settings: { sendPolicy: "all", editInfoPolicy: "admins", addMembersPolicy: "admins", joinApproval: false, announcementReplies: true },
    members: [{ userId: owner, role: "owner", since: 2 }, { userId: "@bob:school.test", role: "member", since: 40 }],
    bans: [], invites: [], requests: [], pinned: [], deactivated: false, createdBy: owner, createdAt: 1_796_000_000_000, serverAcl: null,
  };
  const snapshot = signSnapshot({ server: "evil.test", roomId, seq: 40, hash: begin[2].hash, ts: Date.now(), state }, evil.keys[0]);
  t.same(await send(begin, [snapshot]), ["ok", "ok", "ok"], "well-formed withheld events begin the replica");
  t.same(eventsOf(server, roomId).map((e) => [e.seq, e.content]), [[38, '{"withheld":true}'], [39, '{"withheld":true}'], [40, JSON.stringify(begin[2].content)]]);
  t.same(messageSeqs(server, roomId), [], "nothing projected from them");

  const after = prev;
  const malformed = async (shape: "both" | "neither" | "withheld", type: string, content: Record<string, unknown>, what: string) => {
    prev = after;
    const bad = next(41, type, content, shape);
    const then = next(42, "message", { kind: "text", body: "then" });
    t.same(await send([bad, then]), ["refused federation.withheld_malformed", "refused federation.chain_broken"], what);
  };
  await malformed("both", "message", { kind: "text", body: "both" }, "withheld, yet with its content");
  await malformed("neither", "message", { kind: "text", body: "neither" }, "no content, and not marked withheld");
  await malformed("withheld", "member.leave", { userId: "@bob:school.test" }, "a membership event withheld");
  await malformed("withheld", "message.delete", { target: 38, bySender: true }, "a deletion for everyone withheld");
  t.equal(headOf(server, roomId), 40, "none of them was stored");

  // The home's well-formed run goes on, and a later edit of the withheld message changes nothing.
  prev = after;
  const run = [next(41, "message", { kind: "text", body: "hiddenaardvark again" }, "withheld"), next(42, "message.edit", { target: 38, body: "edited" }), next(43, "message.delete", { target: 41, bySender: true }), next(44, "message", { kind: "text", body: "visible", replyTo: 38 })];
  t.same(await send(run), ["ok", "ok", "ok", "ok"]);
  t.same(messageSeqs(server, roomId), [44]);
  t.equal(eventsOf(server, roomId).find((e) => e.seq === 41)!.content, '{"withheld":true}', "a deletion leaves a withheld event withheld");
  t.same((await bob.request("message.history", { roomId })).messages.map((m) => [m.seq, m.body]), [[44, "visible"]]);
  t.equal(await refusalOf(bob, "message.get", { roomId, seq: 38 }), "message.not_found");
  t.notOk(dataHolds(server, "hiddenaardvark"), "the server holds nothing of the withheld events");
});
