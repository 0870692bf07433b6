/**
 * Events between servers: RFC 8785 canonical JSON (checked with the RFC's own examples), the
 * redaction-safe hash chain the home server assigns when it sequences an event, and home-signed
 * checkpoints that a deletion for everyone leaves verifiable.
 */
import t from "tap";
import { generateKeyPairSync } from "node:crypto";
import { canonicalJson, contentHashOf, eventHashOf, skeletonJson, type Skeleton } from "../../server/rooms/hash.ts";
import { firstBreak, signCheckpoint, verifyCheckpoint } from "../../federation/events.ts";
import { importPublishedKey } from "../../federation/keys.ts";
import { startServer } from "../helpers.ts";

t.test("canonical JSON reproduces RFC 8785's examples", async (t) => {
  // Section 3.2.2, the sample input and its canonical output.
  const input = String.raw`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`;
  const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
  t.equal(canonicalJson(JSON.parse(input)), expected, "section 3.2.2");
  // Section 3.2.3, property sorting by UTF-16 code units.
  const sorting = String.raw`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`;
  // (Compared as text: JavaScript's Object.keys would list "1" first whatever the order.)
  const sorted = '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
  t.equal(canonicalJson(JSON.parse(sorting)), sorted, "section 3.2.3");
  // Appendix B, numbers.
  const numbers: [number, string][] = [
    [0, "0"],
    [-0, "0"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [9007199254740992, "9007199254740992"],
    [295147905179352830000, "295147905179352830000"],
    [1e23, "1e+23"],
    [0.000001, "0.000001"],
    [333333333.3333333, "333333333.3333333"],
  ];
  for (const [n, s] of numbers) t.equal(canonicalJson(n), s, `appendix B: ${s}`);
  t.throws(() => canonicalJson(Number.NaN), { code: "invalid_params" }, "NaN has no canonical form");
  t.throws(() => canonicalJson({ text: "\ud800" }), { code: "invalid_params" }, "nor has a lone surrogate");
});

t.test("the skeleton's JSON is already canonical", async (t) => {
  const s: Skeleton = { roomId: "!r:school.test", seq: 7, eventId: "$e", type: "message", sender: "@alice:school.test", origin: "school.test", ts: 1, contentHash: "h", prev: null };
  t.equal(skeletonJson(s), canonicalJson(s));
});

t.test("the home server chains every event it sequences, and a deletion for everyone leaves the chain and its checkpoint valid", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const sent: number[] = [];
  for (const body of ["one", "two", "three"]) sent.push((await alice.request("message.send", { roomId, txnId: body, body })).event.seq);
  await alice.request("message.edit", { roomId, seq: sent[0], body: "one, edited" });
  await alice.request("message.delete", { roomId, seq: sent[1], forEveryone: true });

  const rows = server.app.parley.storage.sqlite
    .prepare("SELECT room_id, seq, event_id, type, sender, ts, content, content_hash, hash FROM room_events WHERE room_id = ? ORDER BY seq")
    .all(roomId) as { room_id: string; seq: number; event_id: string; type: string; sender: string; ts: number; content: string; content_hash: string; hash: string }[];
  t.ok(rows.length >= 7, "create, join, three messages, an edit and a deletion");
  const skeletons: Skeleton[] = [];
  let prev: string | null = null;
  for (const r of rows) {
    const s: Skeleton = { roomId: r.room_id, seq: r.seq, eventId: r.event_id, type: r.type, sender: r.sender, origin: "school.test", ts: r.ts, contentHash: r.content_hash, prev };
    t.equal(eventHashOf(s), r.hash, `seq ${r.seq}: the stored hash is the skeleton's`);
    skeletons.push(s);
    prev = r.hash;
  }
  const deleted = rows.find((r) => r.seq === sent[1])!;
  t.not(contentHashOf(JSON.parse(deleted.content)), deleted.content_hash, "the deleted message's content is gone from the log");
  for (const r of rows.filter((r) => r.seq !== sent[1] && r.type !== "message.edit")) {
    t.equal(contentHashOf(JSON.parse(r.content)), r.content_hash, `seq ${r.seq}: the content matches its hash`);
  }
  t.equal(server.app.parley.rooms.state(roomId)!.head, prev, "the room's head is its last hash");

  const key = server.app.parley.keys.current();
  const last = rows[rows.length - 1];
  const checkpoint = signCheckpoint({ server: "school.test", roomId, seq: last.seq, hash: last.hash, ts: Date.now() }, key);
  const published = server.app.parley.keys.published()[0];
  const known = { key: importPublishedKey(published), validFrom: published.validFrom, validUntil: published.validUntil };
  t.ok(verifyCheckpoint(checkpoint, known), "the checkpoint verifies with the published key");
  t.equal(firstBreak(skeletons, checkpoint, null), null, "the whole log is proven by one checkpoint, the deleted message included");

  const rewritten = skeletons.map((s) => (s.seq === sent[2] ? { ...s, contentHash: contentHashOf({ body: "forged" }) } : s));
  t.equal(firstBreak(rewritten, checkpoint, null), sent[2] + 1, "a rewritten event breaks the chain at the next event");
  const gap = skeletons.filter((s) => s.seq !== sent[0]);
  t.equal(firstBreak(gap, checkpoint, null), sent[0] + 1, "a missing event breaks it where the gap is");
  t.notOk(verifyCheckpoint({ ...checkpoint, hash: rows[0].hash }, known), "a checkpoint with another hash does not verify");
});

t.test("a checkpoint verifies under the key current when it was made, even after that key is retired", async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const cp = signCheckpoint({ server: "school.test", roomId: "!r:school.test", seq: 4, hash: "abc", ts: 1_000 }, { keyId: "ed25519:old", privateKey });
  t.ok(verifyCheckpoint(cp, { key: publicKey, validFrom: 500, validUntil: 2_000 }), "made while the key was current");
  t.notOk(verifyCheckpoint({ ...cp }, { key: publicKey, validFrom: 500, validUntil: 900 }), "made after the key was retired");
  t.notOk(verifyCheckpoint(cp, { key: publicKey, validFrom: 1_500, validUntil: null }), "made before the key existed");
  t.notOk(verifyCheckpoint({ ...cp, seq: 5 }, { key: publicKey, validFrom: 500, validUntil: null }), "a changed field");
});

t.test("a message with a lone surrogate is refused with invalid_params and stores nothing", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const before = (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events").get() as { n: number }).n;
  let code = "(accepted)";
  try {
    await alice.request("message.send", { roomId, txnId: "bad", body: "broken \ud800 text" });
  } catch (err) {
    code = (err as { code: string }).code;
  }
  t.equal(code, "invalid_params");
  t.equal((server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events").get() as { n: number }).n, before);
});

t.test("the hot path's canonical JSON is byte for byte the canonicalize package's", async (t) => {
  const { canonicalJsonFast } = await import("../../server/rooms/hash.ts");
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const strings = ["", "a", "é", "€", "😀", "\n\t\"\\", "\u0000\u001f", "\u2028", "דּ", "1", "10", "B", "a b"];
  const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 333333333.3333333, 5e-324, 2 ** 53, 4.5];
  function value(depth: number): unknown {
    const r = random();
    if (depth > 3 || r < 0.3) return [null, true, false, numbers[Math.floor(random() * numbers.length)], strings[Math.floor(random() * strings.length)]][Math.floor(random() * 5)];
    if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [strings[Math.floor(random() * strings.length)] + String(Math.floor(random() * 3)), value(depth + 1)]));
  }
  let same = 0;
  for (let i = 0; i < 2000; i++) {
    const v = value(0);
    if (canonicalJsonFast(v) === canonicalJson(v)) same++;
    else t.fail(`differs on ${JSON.stringify(v)}`);
  }
  t.equal(same, 2000, "2,000 random values");
  const rfc = JSON.parse(String.raw`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`);
  t.equal(canonicalJsonFast(rfc), canonicalJson(rfc), "RFC 8785 section 3.2.2");
  t.throws(() => canonicalJsonFast({ text: "\udc00" }), { code: "invalid_params" });
  t.throws(() => canonicalJsonFast({ ["\ud800"]: 1 }), { code: "invalid_params" });
  t.throws(() => canonicalJsonFast(Number.POSITIVE_INFINITY), { code: "invalid_params" });
});
