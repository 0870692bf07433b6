/**
 * Files and media over the real protocol: uploads streamed over HTTP (sniffed, measured,
 * previewed, stored once by SHA-256), the refusals (size, quota, type, empty, interrupted),
 * sharing in a group and who may fetch what, range requests and safe headers, pictures and
 * avatars, and garbage collection.
 */
import t from "tap";
import { existsSync, readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import sharp from "sharp";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { delay, schemaErrors, startServer, type TestServer } from "./helpers.ts";

interface Upload {
  status: number;
  body: any;
}

/** POSTs raw bytes as alice's (or anyone's) file; `token: null` sends no Authorization. */
async function upload(server: TestServer, client: ParleyClient | null, bytes: Buffer | ReadableStream<Uint8Array>, opts: { name?: string; contentType?: string } = {}): Promise<Upload> {
  const headers: Record<string, string> = { "content-type": opts.contentType ?? "application/octet-stream" };
  if (client) headers.authorization = `Bearer ${client.session.accessToken}`;
  const init: RequestInit & { duplex?: "half" } = { method: "POST", headers, body: bytes as BodyInit };
  if (!Buffer.isBuffer(bytes)) init.duplex = "half";
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(opts.name ?? "file.bin")}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** GETs a file (or its preview) as a client; returns the response with its body read. */
async function download(server: TestServer, client: ParleyClient, mediaId: string, opts: { preview?: boolean; range?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${client.session.accessToken}` };
  if (opts.range) headers.range = opts.range;
  const res = await fetch(`${server.baseUrl}/api/v1/media/${mediaId}${opts.preview ? "/preview" : ""}`, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) };
}

/** A chunked body (no Content-Length): `count` chunks of `size` bytes. */
function chunked(count: number, size: number, fill = 1): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i++ < count) controller.enqueue(new Uint8Array(size).fill(fill));
      else controller.close();
    },
  });
}

const png = (width = 800, height = 600, background = "#336699") => sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();
const tmpFiles = (server: TestServer) => readdirSync(join(server.dataDir, "media", "tmp"));
const mediaRows = (server: TestServer) => (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM media").get() as { n: number }).n;

/** Every stored file under media/ (outside tmp), by name. */
function storedFiles(server: TestServer): string[] {
  const root = join(server.dataDir, "media");
  const out: string[] = [];
  for (const dir of readdirSync(root)) {
    if (dir === "tmp") continue;
    for (const f of readdirSync(join(root, dir))) out.push(f);
  }
  return out;
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** A group of alice's that bob joins by link; carol stays outside. */
async function maths(alice: ParleyClient, ...members: ParleyClient[]) {
  const group = await alice.request("group.create", { name: "Maths" });
  const link = await alice.request("link.create", { roomId: group.roomId });
  for (const m of members) await m.request("link.join", { token: link.token });
  return group.roomId as string;
}

t.test("an image is sniffed from its bytes, measured, previewed and stored once", async (t) => {
  const server = await startServer({ media: { preview_pixels: 200 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const bob = await server.user("bob", { connect: false });
  const bytes = await png();

  const first = await upload(server, alice, bytes, { name: "chart.png", contentType: "text/html" });
  t.equal(first.status, 201);
  t.same(schemaErrors("http/media.upload#/$defs/response", first.body), []);
  t.equal(first.body.mime, "image/png", "the type comes from the bytes, not the lying Content-Type");
  t.equal(first.body.size, bytes.length);
  t.equal(first.body.width, 800);
  t.equal(first.body.height, 600);
  t.equal(first.body.hasPreview, true);
  t.match(first.body.mediaId, /^[a-f0-9]{64}$/);

  const preview = await download(server, alice, first.body.mediaId, { preview: true });
  t.equal(preview.status, 200);
  t.equal(preview.headers.get("content-type"), "image/jpeg");
  const meta = await sharp(preview.bytes).metadata();
  t.equal(meta.format, "jpeg");
  t.ok(meta.width! <= 200 && meta.height! <= 200, `the preview fits in media.preview_pixels (${meta.width}x${meta.height})`);
  t.equal(meta.width, 200, "the longer side is scaled to the preview size");

  const again = await upload(server, alice, bytes, { name: "chart-copy.png" });
  const byBob = await upload(server, bob, bytes, { name: "bobs.png" });
  t.equal(again.body.mediaId, first.body.mediaId, "the same bytes get the same id");
  t.equal(byBob.body.mediaId, first.body.mediaId, "whoever uploads them");
  const id = first.body.mediaId as string;
  t.same(storedFiles(server).filter((f) => f === id), [id], "the file is on disk once");
  t.ok(existsSync(join(server.dataDir, "media", id.slice(0, 2), id)), "under media/xx/<id>");
  t.equal(mediaRows(server), 1);
  t.same(tmpFiles(server), [], "no temporary file is left behind");

  const text = await upload(server, alice, Buffer.from("Homework: exercises 4 to 9, due Friday.\n"), { name: "homework.txt", contentType: "image/png" });
  t.equal(text.status, 201);
  t.equal(text.body.mime, "text/plain");
  t.equal(text.body.width, null);
  t.equal(text.body.hasPreview, false);
  const noPreview = await download(server, alice, text.body.mediaId, { preview: true });
  t.equal(noPreview.status, 404, "a file without a preview has no preview to fetch");
  t.equal(noPreview.json().error.code, "media.not_found");
});

t.test("uploads are refused: no token, too large, over quota, blocked type, empty", async (t) => {
  const server = await startServer({ limits: { upload_bytes: 65536 }, media: { user_quota_bytes: 100_000 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const bob = await server.user("bob", { connect: false });

  const anonymous = await upload(server, null, Buffer.from("hello"));
  t.equal(anonymous.status, 401);
  t.equal(anonymous.body.error.code, "auth.required");
  const badToken = await fetch(`${server.baseUrl}/api/v1/media`, { method: "POST", headers: { authorization: "Bearer nonsense" }, body: "hello" });
  t.equal(badToken.status, 401);

  const tooLarge = await upload(server, alice, Buffer.alloc(65537, 7));
  t.equal(tooLarge.status, 413);
  t.equal(tooLarge.body.error.code, "media.too_large");
  t.same(tmpFiles(server), []);
  const streamedTooLarge = await upload(server, alice, chunked(40, 16384));
  t.equal(streamedTooLarge.status, 413, "a chunked body with no Content-Length is cut at the limit too");
  t.equal(streamedTooLarge.body.error.code, "media.too_large");
  const bigStream = await upload(server, alice, chunked(200, 65536));
  t.equal(bigStream.status, 413, "and a much larger one still gets its answer");
  t.same(tmpFiles(server), [], "nothing half-written remains");
  t.equal(mediaRows(server), 0);
  const atLimit = await upload(server, alice, Buffer.alloc(65536, 3));
  t.equal(atLimit.status, 201, "exactly the limit is accepted");

  // alice has 64 KiB of a 100,000-byte quota: another 60,000 bytes is too much, sent either way.
  const overQuota = await upload(server, alice, Buffer.alloc(60_000, 4));
  t.equal(overQuota.status, 413);
  t.equal(overQuota.body.error.code, "media.quota_exceeded");
  const streamedOverQuota = await upload(server, alice, chunked(3, 20_000, 5));
  t.equal(streamedOverQuota.status, 413);
  t.equal(streamedOverQuota.body.error.code, "media.quota_exceeded");
  // A file one already has costs no quota (sent here without a length; with one, see
  // test/contract-defects.test.ts): the quota is checked once the bytes' hash is known.
  const sameAgain = await upload(server, alice, chunked(4, 16384, 3));
  t.equal(sameAgain.status, 201, "uploading a file one already has costs no quota");
  const bobsOwn = await upload(server, bob, Buffer.alloc(60_000, 4));
  t.equal(bobsOwn.status, 201, "the quota is per user");
  t.same(tmpFiles(server), []);

  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120, 0)]);
  const blocked = await upload(server, bob, elf, { name: "virus", contentType: "text/plain" });
  t.equal(blocked.status, 415);
  t.equal(blocked.body.error.code, "media.type_blocked");

  const empty = await upload(server, bob, Buffer.alloc(0));
  t.equal(empty.status, 400);
  t.equal(empty.body.error.code, "media.empty");
  t.same(tmpFiles(server), [], "refused uploads leave no temporary files");
  t.equal(mediaRows(server), 2, "only the two accepted files are known");
});

t.test("uploads running side by side cannot together pass the quota, and a refused one gives its bytes back", async (t) => {
  const server = await startServer({ limits: { upload_bytes: 65536 }, media: { user_quota_bytes: 100_000 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  /** A body the test feeds by hand, so that both uploads are half-way through at once. */
  const gate = () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const push = (bytes: Uint8Array) => {
      try {
        controller.enqueue(bytes);
      } catch {
        // The server already answered this one and the body was cancelled.
      }
    };
    const end = () => {
      try {
        controller.close();
      } catch {
        // As above.
      }
    };
    return { stream, push, end };
  };
  const first = gate();
  const second = gate();
  const answers = Promise.all([upload(server, alice, first.stream), upload(server, alice, second.stream)]);
  first.push(new Uint8Array(30_000).fill(1));
  second.push(new Uint8Array(30_000).fill(2));
  await until("both uploads to be half-way", () => tmpFiles(server).length === 2);
  first.push(new Uint8Array(30_000).fill(1));
  second.push(new Uint8Array(30_000).fill(2));
  first.end();
  second.end();
  const results = await answers;
  t.same(results.map((r) => r.status).sort(), [201, 413], "60,000 bytes each against a 100,000-byte quota: one is stored, one refused");
  t.equal(results.find((r) => r.status === 413)!.body.error.code, "media.quota_exceeded");
  t.equal(mediaRows(server), 1);
  await until("the refused upload's temporary file to be removed", () => tmpFiles(server).length === 0);
  const fits = await upload(server, alice, Buffer.alloc(30_000, 3));
  t.equal(fits.status, 201, "the refused upload's bytes no longer count: 60,000 + 30,000 fits");
  const overNow = await upload(server, alice, chunked(1, 20_000, 4));
  t.equal(overNow.status, 413, "and the quota still holds afterwards");
});

t.test("an upload interrupted half-way leaves nothing behind", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const total = 256 * 1024;
  const url = new URL(`${server.baseUrl}/api/v1/media?name=half.bin`);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: "POST",
    headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-length": String(total), "content-type": "application/octet-stream" },
  });
  req.on("error", () => {});
  req.write(Buffer.alloc(total / 2, 9));
  await until("the upload to reach a temporary file", () => tmpFiles(server).length === 1);
  req.destroy();
  await until("the temporary file to be removed", () => tmpFiles(server).length === 0);
  t.same(tmpFiles(server), []);
  t.equal(mediaRows(server), 0, "no media row");
  t.same(storedFiles(server), [], "no stored file");
  const after = await upload(server, alice, Buffer.from("still works"));
  t.equal(after.status, 201, "the server takes the next upload");
});

t.test("a shared file: group members fetch it, nobody else does; ranges and safe headers", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const carol = await server.user("carol");
  const roomId = await maths(alice, bob);
  const bytes = await png(64, 48, "#ff0000");
  const { body: info } = await upload(server, alice, bytes, { name: "triangle.png" });

  const pushed = bob.next("room.event");
  const sent = await alice.request("message.send", { roomId, txnId: "f1", file: { mediaId: info.mediaId, name: "triangle.png" }, body: "Today's diagram" });
  t.same(schemaErrors("op/message.send#/$defs/result", sent), []);
  const content = sent.event.content as any;
  t.equal(content.kind, "file");
  t.same(content.file, { mediaId: info.mediaId, name: "triangle.png", size: bytes.length, mime: "image/png", width: 64, height: 48, hasPreview: true });
  t.equal(content.body, "Today's diagram");
  t.same((await pushed).content, content, "members receive the file message");

  const got = await download(server, bob, info.mediaId);
  t.equal(got.status, 200);
  t.ok(got.bytes.equals(bytes), "a member gets the exact bytes");
  t.equal(got.headers.get("content-type"), "image/png");
  t.equal(got.headers.get("content-disposition"), "inline", "a raster image is shown inline");
  t.equal(got.headers.get("x-content-type-options"), "nosniff");
  t.equal(got.headers.get("accept-ranges"), "bytes");
  t.equal((await download(server, bob, info.mediaId, { preview: true })).status, 200, "and its preview");

  const refused = await download(server, carol, info.mediaId);
  t.equal(refused.status, 404);
  t.equal(refused.json().error.code, "media.not_found");
  t.equal(refused.headers.get("x-content-type-options"), "nosniff");
  t.equal((await download(server, carol, info.mediaId, { preview: true })).status, 404, "nor its preview");
  const guessed = await download(server, carol, "ab".repeat(32));
  t.equal(guessed.status, 404);
  t.equal(guessed.json().error.code, "media.not_found", "an unknown id looks the same as a forbidden one");
  const malformed = await download(server, carol, "not-an-id");
  t.equal(malformed.status, 400);
  const unauthenticated = await fetch(`${server.baseUrl}/api/v1/media/${info.mediaId}`);
  t.equal(unauthenticated.status, 401);

  const part = await download(server, bob, info.mediaId, { range: "bytes=0-9" });
  t.equal(part.status, 206);
  t.equal(part.bytes.length, 10);
  t.ok(part.bytes.equals(bytes.subarray(0, 10)));
  t.equal(part.headers.get("content-range"), `bytes 0-9/${bytes.length}`);
  t.equal(part.headers.get("x-content-type-options"), "nosniff");
  const tail = await download(server, bob, info.mediaId, { range: "bytes=-5" });
  t.equal(tail.status, 206);
  t.ok(tail.bytes.equals(bytes.subarray(bytes.length - 5)));
  const unsatisfiable = await download(server, bob, info.mediaId, { range: `bytes=${bytes.length + 10}-` });
  t.equal(unsatisfiable.status, 416);

  // carol cannot share alice's file in a room of her own: she may not read it.
  const carols = await carol.request("group.create", { name: "Carol's" });
  const stolen = await carol.request("message.send", { roomId: carols.roomId, txnId: "c1", file: { mediaId: info.mediaId, name: "mine.png" } }).catch((e) => e);
  t.equal(stolen.code, "media.not_found");
  const unknown = await carol.request("message.send", { roomId: carols.roomId, txnId: "c2", file: { mediaId: "cd".repeat(32), name: "x" } }).catch((e) => e);
  t.equal(unknown.code, "media.not_found");
  // bob can read it, so he may forward it.
  const forwarded = await bob.request("message.send", { roomId, txnId: "b1", file: { mediaId: info.mediaId, name: "again.png" } });
  t.equal((forwarded.event.content as any).file.mediaId, info.mediaId);

  // Leaving the group ends access.
  await bob.request("room.leave", { roomId });
  t.equal((await download(server, bob, info.mediaId)).status, 404, "a former member can no longer fetch it");

  // HTML and SVG are never rendered by the browser from our origin.
  const html = await upload(server, alice, Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"), { name: "page.html", contentType: "text/html" });
  const svg = await upload(server, alice, Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'), {
    name: "pic.svg",
    contentType: "image/svg+xml",
  });
  for (const [what, file] of [["HTML", html], ["SVG", svg]] as const) {
    t.equal(file.status, 201);
    const res = await download(server, alice, file.body.mediaId);
    t.equal(res.status, 200);
    t.equal(res.headers.get("content-type"), "application/octet-stream", `${what} is served as an opaque download (stored as ${file.body.mime})`);
    t.equal(res.headers.get("content-disposition"), "attachment");
    t.equal(res.headers.get("x-content-type-options"), "nosniff");
    t.match(res.headers.get("content-security-policy") ?? "", /sandbox/);
  }
});

t.test("group pictures and avatars use the same store", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const carol = await server.user("carol");
  const roomId = await maths(alice, bob);

  const picture = (await upload(server, alice, await png(120, 120, "#00aa00"), { name: "maths.png" })).body;
  const room = await alice.request("room.update", { roomId, picture: picture.mediaId });
  t.equal(room.picture, picture.mediaId);
  t.equal((await download(server, bob, picture.mediaId)).status, 200, "members fetch the group's picture");
  t.equal((await download(server, carol, picture.mediaId)).status, 404, "others do not");
  const notHers = await carol.request("group.create", { name: "Copycats", picture: picture.mediaId }).catch((e) => e);
  t.equal(notHers.code, "media.not_found", "nobody uses a picture they may not read");

  const avatar = (await upload(server, alice, await png(96, 96, "#aa00aa"), { name: "me.png" })).body;
  const profile = await alice.request("profile.update", { avatar: avatar.mediaId });
  t.equal(profile.avatar, avatar.mediaId);
  t.equal((await download(server, carol, avatar.mediaId)).status, 200, "any signed-in user fetches an avatar");
  const stolen = await carol.request("profile.update", { avatar: picture.mediaId }).catch((e) => e);
  t.equal(stolen.code, "media.not_found");

  // Changing the avatar releases the old one: it is no longer public.
  const next = (await upload(server, alice, await png(96, 96, "#0000aa"), { name: "me2.png" })).body;
  await alice.request("profile.update", { avatar: next.mediaId });
  t.equal((await download(server, carol, avatar.mediaId)).status, 404, "a replaced avatar is private again");
  t.equal((await download(server, carol, next.mediaId)).status, 200);
});

t.test("unreferenced files are collected after the grace period; a deleted message releases its file", async (t) => {
  // A clock near the real one: the SDK schedules token renewal on the real clock.
  let now = Date.now();
  const server = await startServer({ media: { gc_grace_seconds: 60 } }, { now: () => now });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const roomId = await maths(alice, bob);
  const media = server.app.parley.media;
  const path = (id: string) => join(server.dataDir, "media", id.slice(0, 2), id);

  const orphan = (await upload(server, alice, await png(50, 50, "#111111"), { name: "orphan.png" })).body.mediaId as string;
  const shared = (await upload(server, alice, Buffer.from("minutes of the meeting\n"), { name: "minutes.txt" })).body.mediaId as string;
  const sent = await alice.request("message.send", { roomId, txnId: "m1", file: { mediaId: shared, name: "minutes.txt" } });

  t.equal(await media.collectGarbage(), 0, "nothing is collected within the grace period");
  t.ok(existsSync(path(orphan)));
  now += 61_000;
  t.equal(await media.collectGarbage(), 1, "after it, the unreferenced upload goes");
  t.notOk(existsSync(path(orphan)), "its file is gone");
  t.notOk(existsSync(`${path(orphan)}.preview.jpg`), "and its preview");
  t.equal((await download(server, alice, orphan)).status, 404);
  t.ok(existsSync(path(shared)), "a file a message uses stays");
  t.equal((await download(server, bob, shared)).status, 200);

  const again = await upload(server, alice, await png(50, 50, "#111111"), { name: "orphan.png" });
  t.equal(again.status, 201, "a collected file can be uploaded again");
  t.ok(existsSync(path(orphan)));

  await alice.request("message.delete", { roomId, seq: sent.event.seq, forEveryone: true });
  now += 61_000;
  t.equal(await media.collectGarbage(), 2, "the deleted message released its file (and the re-upload aged out)");
  t.notOk(existsSync(path(shared)), "the file of the deleted message is collected");
  t.equal((await download(server, bob, shared)).status, 404);
  t.equal((await download(server, alice, shared)).status, 404);
});

t.test("with no grace period, only what nothing references is collected", async (t) => {
  const now = Date.now();
  const server = await startServer({ media: { gc_grace_seconds: 0 } }, { now: () => now });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const roomId = await maths(alice);
  const loose = (await upload(server, alice, Buffer.from("loose\n"))).body.mediaId as string;
  const kept = (await upload(server, alice, Buffer.from("kept\n"))).body.mediaId as string;
  const avatar = (await upload(server, alice, await png(40, 40))).body.mediaId as string;
  const picture = (await upload(server, alice, await png(41, 41))).body.mediaId as string;
  await alice.request("message.send", { roomId, txnId: "k", file: { mediaId: kept, name: "kept.txt" } });
  await alice.request("profile.update", { avatar });
  await alice.request("room.update", { roomId, picture });
  t.equal(await server.app.parley.media.collectGarbage(), 1);
  t.notOk(existsSync(join(server.dataDir, "media", loose.slice(0, 2), loose)));
  for (const id of [kept, avatar, picture]) t.ok(existsSync(join(server.dataDir, "media", id.slice(0, 2), id)), "referenced files stay");
});
