/**
 * Files across three servers: bob on b uploads a picture and posts it in a group of a's
 * community; the file stays on b, and carol on c downloads it through c, which fetches it once
 * from b (signed `media`), checks its SHA-256 and stores it on no one's quota. b serves it only to
 * servers with a member where it was shared; a tampered file and a file server that is down give
 * the downloader a coded error, and nothing is stored.
 */
import t from "tap";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { startClusterFor } from "./cluster.ts";
import { startFakePeer } from "./peer.ts";
import { nextEvent, type TestServer, until } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { federationPrefix } from "../../federation/peers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A small PNG whose bytes depend on `seed`. */
const picture = (seed: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: seed % 256, g: 90, b: 200 } } }).png().toBuffer();

async function upload(server: TestServer, client: ParleyClient, bytes: Buffer, name: string) {
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${client.session.accessToken}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  return (await res.json()) as { mediaId: string; size: number; mime: string };
}

async function download(server: TestServer, client: ParleyClient, mediaId: string, preview = false) {
  const res = await fetch(`${server.baseUrl}/api/v1/media/${mediaId}${preview ? "/preview" : ""}`, { headers: { authorization: `Bearer ${client.session.accessToken}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) };
}

const stored = (server: TestServer, mediaId: string) => server.app.parley.storage.sqlite.prepare("SELECT * FROM media WHERE id = ?").get(mediaId) as { size: number; mime: string } | undefined;
const uploadsOf = (server: TestServer, mediaId: string) => (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM uploads WHERE media_id = ?").get(mediaId) as { n: number }).n;
const fetches = (server: TestServer, mediaId: string) => server.logs.filter((l) => l.msg === "file fetched from its server" && l.mediaId === mediaId).length;

async function setup(t: Test) {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"], () => ({ federation: { peers: { "evil.test": evil.baseUrl } } }));
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const carol = await c.user("carol");
  const dave = await c.user("dave");
  const groupPicture = await picture(7);
  const pic = await upload(a, alice, groupPicture, "maths.png");
  const community = await alice.request("community.create", { name: "Hillside School" });
  const { roomId } = await alice.request("group.create", { name: "Maths", communityId: community.roomId, picture: pic.mediaId, settings: { sendPolicy: "all" } });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await carol.request("link.join", { token, server: "a.test" });
  await until(t, "b and c hold the room", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  /** Bob uploads a picture on b and posts it in the group; resolves once c holds the message. */
  async function share(seed: number) {
    const bytes = await picture(seed);
    const info = await upload(b, bob, bytes, `photo-${seed}.png`);
    const atCarol = nextEvent(carol, (e) => e.roomId === roomId && e.type === "message" && e.sender === "@bob:b.test" && (e.content as { file?: { mediaId: string } }).file?.mediaId === info.mediaId, 30_000);
    const sent = await bob.request("message.send", { roomId, txnId: `photo-${seed}`, file: { mediaId: info.mediaId, name: `photo-${seed}.png` } });
    const event = await atCarol;
    return { bytes, mediaId: info.mediaId, sent, event };
  }
  return { a, b, c, alice, bob, carol, dave, evil, roomId, share, groupPicture, pictureId: pic.mediaId };
}

t.test("a picture bob uploaded on b and posted in a's community stays on b, and carol on c downloads it, fetched once from b", async (t) => {
  const { a, b, c, alice, carol, dave, share } = await setup(t);
  const { bytes, mediaId, event } = await share(1);
  t.equal(mediaId, sha256(bytes));
  const file = (event.content as { file: Record<string, unknown> }).file;
  t.equal(file.origin, "b.test", "the message's file names the server that holds it");
  t.equal(file.mime, "image/png");
  t.notOk(stored(a, mediaId), "the home of the room did not take the file");
  t.notOk(stored(c, mediaId), "c holds nothing before someone downloads it");

  const refused = await download(c, dave, mediaId);
  t.equal(refused.status, 404, "a user of c in no room with the file is refused");
  t.equal(refused.json().error.code, "media.not_found");
  t.equal(fetches(c, mediaId), 0, "and nothing is fetched for him");

  const [one, two] = await Promise.all([download(c, carol, mediaId), download(c, carol, mediaId)]);
  for (const got of [one, two]) {
    t.equal(got.status, 200);
    t.ok(got.bytes.equals(bytes), "the same bytes as bob uploaded");
    t.equal(sha256(got.bytes), mediaId);
    t.equal(got.headers.get("content-type"), "image/png");
  }
  t.equal(fetches(c, mediaId), 1, "two downloads at once fetched the file once");
  t.same(stored(c, mediaId) && { size: stored(c, mediaId)!.size, mime: stored(c, mediaId)!.mime }, { size: bytes.length, mime: "image/png" }, "c stores it, sniffed itself");
  t.equal(uploadsOf(c, mediaId), 0, "on no user's quota on c");
  t.ok(existsSync(join(c.dataDir, "media", mediaId.slice(0, 2), mediaId)), "content-addressed on disk");

  const preview = await download(c, carol, mediaId, true);
  t.equal(preview.status, 200, "c made its own preview");
  t.equal(preview.headers.get("content-type"), "image/jpeg");
  const again = await download(c, carol, mediaId);
  t.ok(again.bytes.equals(bytes));
  t.equal(fetches(c, mediaId), 1, "later downloads are served from c's copy");

  const atHome = await download(a, alice, mediaId);
  t.equal(atHome.status, 200, "alice on a (the room's home) gets it from b too");
  t.ok(atHome.bytes.equals(bytes));
});

t.test("the picture of a group of a is fetched from a for a member on c", async (t) => {
  const { c, carol, dave, pictureId, groupPicture } = await setup(t);
  t.equal((await download(c, dave, pictureId)).status, 404, "not for a user of c outside the group");
  const got = await download(c, carol, pictureId);
  t.equal(got.status, 200);
  t.ok(got.bytes.equals(groupPicture));
  t.equal(fetches(c, pictureId), 1);
});

t.test("b serves a file to servers with a member where it was shared, and refuses any other, unsigned or not", async (t) => {
  const { b, c, evil, share } = await setup(t);
  const { bytes, mediaId } = await share(2);
  const byC = await c.app.parley.federation.requestBytes("b.test", `/media/${mediaId}`, 1 << 20);
  t.equal(byC.status, 200, "c has a member in the group");
  t.ok(byC.bytes.equals(bytes));

  const url = `${b.baseUrl}${federationPrefix}/media/${mediaId}`;
  const signed = await evil.sign({ method: "GET", url, destination: "b.test" });
  const byEvil = await evil.send(b.baseUrl, `/media/${mediaId}`, signed.headers, signed.bytes, "GET");
  t.equal(byEvil.status, 404, "a server with no member in any room where it was shared is refused");
  t.equal(byEvil.body.error.code, "media.not_found");

  const unsigned = await evil.send(b.baseUrl, `/media/${mediaId}`, { "parley-origin": "evil.test", "parley-destination": "b.test" }, Buffer.alloc(0), "GET");
  t.equal(unsigned.status, 401);
  t.equal(unsigned.body.error.code, "federation.signature_missing");

  const badId = `${b.baseUrl}${federationPrefix}/media/not-a-hash`;
  const bad = await evil.sign({ method: "GET", url: badId, destination: "b.test" });
  const malformed = await evil.send(b.baseUrl, "/media/not-a-hash", bad.headers, bad.bytes, "GET");
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error.code, "bad_request");
});

t.test("a file b sends altered (its hash is not its id) is refused to carol and not stored on c", async (t) => {
  const { b, c, carol, share } = await setup(t);
  const { bytes, mediaId } = await share(3);
  // The bytes on b change under the id (a lying or corrupted server): same length, other bytes.
  const altered = Buffer.from(bytes);
  altered[altered.length - 1] ^= 0xff;
  writeFileSync(join(b.dataDir, "media", mediaId.slice(0, 2), mediaId), altered);
  const got = await download(c, carol, mediaId);
  t.equal(got.status, 502);
  t.equal(got.json().error.code, "media.origin_mismatch");
  const preview = await download(c, carol, mediaId, true);
  t.equal(preview.json().error.code, "media.origin_mismatch", "its preview is refused alike (a preview is made from the fetched file)");
  t.notOk(stored(c, mediaId), "no row on c");
  t.notOk(existsSync(join(c.dataDir, "media", mediaId.slice(0, 2), mediaId)), "no bytes on c");
  t.same(readdirSync(join(c.dataDir, "media", "tmp")), [], "no temporary file left");
});

t.test("when b is down, carol's download of bob's file gets a coded error and c stores nothing", async (t) => {
  const { b, c, carol, share } = await setup(t);
  const { mediaId } = await share(4);
  await b.stop();
  const got = await download(c, carol, mediaId);
  t.equal(got.status, 502);
  t.equal(got.json().error.code, "federation.unreachable");
  const preview = await download(c, carol, mediaId, true);
  t.equal(preview.status, 502);
  t.equal(preview.json().error.code, "federation.unreachable", "and so is its preview");
  t.notOk(stored(c, mediaId));
});

t.test("a proposed send whose `file` is not the message's file, or that names a file the home does not hold without one, is refused and changes nothing", async (t) => {
  const { a, b, bob, roomId } = await setup(t);
  const mine = await upload(b, bob, await picture(5), "photo-5.png");
  const other = await upload(b, bob, await picture(6), "photo-6.png");
  const before = a.app.parley.rooms.state(roomId)!.seq;
  const info = { mediaId: other.mediaId, size: other.size, mime: other.mime, width: 40, height: 30, hasPreview: true };
  const params = { roomId, txnId: "f1", file: { mediaId: mine.mediaId, name: "photo-5.png" } };
  const mismatched = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: "@bob:b.test", op: "message.send", params, file: info });
  t.equal(mismatched.status, 404);
  t.equal(mismatched.body.error.code, "media.not_found");
  const withoutFile = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: "@bob:b.test", op: "message.send", params });
  t.equal(withoutFile.status, 404);
  t.equal(withoutFile.body.error.code, "media.not_found");
  const notASend = await b.app.parley.federation.request("a.test", "POST", "/propose", { sender: "@bob:b.test", op: "message.edit", params: { roomId, seq: 1, body: "x" }, file: info });
  t.equal(notASend.body.error.code, "media.not_found");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before);
});

t.test("when bob deletes his photo for everyone, c drops the copy it fetched for carol at once, unless another message there still shares it; b keeps bob's upload", async (t) => {
  const { b, c, bob, carol, roomId, share } = await setup(t);
  const { mediaId, sent } = await share(5);
  t.equal((await download(c, carol, mediaId)).status, 200, "carol downloads it through c");
  const onDisk = () => existsSync(c.app.parley.media.pathOf(mediaId));
  t.ok(stored(c, mediaId) && onDisk(), "c holds a copy, on no one's quota");
  const again = await bob.request("message.send", { roomId, txnId: "photo-5-again", file: { mediaId, name: "photo-5.png" } });
  await until(t, "c holds the second message", () => c.app.parley.rooms.state(roomId)!.seq >= again.event.seq);
  await bob.request("message.delete", { roomId, seq: sent.event.seq, forEveryone: true });
  await until(t, "c holds the first deletion", () => c.app.parley.storage.sqlite.prepare("SELECT 1 FROM messages WHERE room_id = ? AND seq = ? AND deleted_at IS NOT NULL").get(roomId, sent.event.seq) !== undefined);
  t.ok(stored(c, mediaId) && onDisk(), "the second message still shares it: c keeps it");
  t.equal((await download(c, carol, mediaId)).status, 200);
  await bob.request("message.delete", { roomId, seq: again.event.seq, forEveryone: true });
  await until(t, "c drops its copy", () => !stored(c, mediaId) && !onDisk());
  t.equal((await download(c, carol, mediaId)).status, 404, "carol can no longer get it");
  t.ok(stored(b, mediaId), "b keeps bob's upload (the hourly collection decides, with its grace period)");
});
