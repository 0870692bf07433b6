/**
 * Profiles, avatars and room pictures across servers, and reminders of replicated events. The
 * cast: alice on a (owner of a's community and its Maths group), bob on b, carol and dave on c,
 * and mallory of evil.test (a hostile fake peer). a hosts the rooms; b and c replicate them.
 */
import t from "tap";
import { createHash } from "node:crypto";
import sharp from "sharp";
import { startClusterFor } from "./cluster.ts";
import { startFakePeer, type FakePeer } from "./peer.ts";
import { delay, nextEvent, record, refusal, type TestServer, until } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { federationPrefix } from "../../federation/peers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;


const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A small PNG whose bytes depend on `seed`. */
const picture = (seed: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: seed % 256, g: 40, b: 120 } } }).png().toBuffer();

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
  return { status: res.status, headers: res.headers, bytes, code: () => (JSON.parse(bytes.toString()) as { error: { code: string } }).error.code };
}

const stored = (server: TestServer, mediaId: string) => server.app.parley.storage.sqlite.prepare("SELECT * FROM media WHERE id = ?").get(mediaId) as { size: number; mime: string } | undefined;
const uploadsOf = (server: TestServer, mediaId: string) => (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM uploads WHERE media_id = ?").get(mediaId) as { n: number }).n;
const fetches = (server: TestServer, mediaId: string, peer?: string) =>
  server.logs.filter((l) => l.msg === "file fetched from its server" && l.mediaId === mediaId && (peer === undefined || l.peer === peer)).length;
const pendingPushes = (server: TestServer, userId: string) => (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM pending_pushes WHERE user_id = ?").get(userId) as { n: number }).n;

/** A signed GET of a file from a real server's `media` endpoint, as the fake peer. */
async function mediaAs(evil: FakePeer, target: TestServer, name: string, mediaId: string) {
  const url = `${target.baseUrl}${federationPrefix}/media/${mediaId}`;
  const signed = await evil.sign({ method: "GET", url, destination: name });
  const res = await fetch(url, { headers: signed.headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, bytes, body: res.status === 200 ? null : (JSON.parse(bytes.toString()) as { error: { code: string } }) };
}

async function setup(t: Test, opts: { now?: () => number; blockedOnC?: string[] } = {}) {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const servers = await startClusterFor(t, 
    ["a.test", "b.test", "c.test"],
    (name) => ({ federation: { peers: { "evil.test": evil.baseUrl } }, ...(name === "c.test" && opts.blockedOnC ? { media: { blocked_types: opts.blockedOnC } } : {}) }),
    { now: opts.now },
  );
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const [alice, bob, carol, dave] = await Promise.all([a.user("alice"), b.user("bob"), c.user("carol"), c.user("dave")]);
  const community = await alice.request("community.create", { name: "Hillside School" });
  const { roomId } = await alice.request("group.create", { name: "Maths", communityId: community.roomId, settings: { sendPolicy: "all" } });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await carol.request("link.join", { token, server: "a.test" });
  const synced = () => until(t, "b and c hold the room", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  await synced();
  return { a, b, c, alice, bob, carol, dave, evil, roomId, token, communityId: community.roomId, synced };
}

t.test("carol on c sees bob's avatar: his profile names it, c fetches it once from b and serves its copy to every user of c", async (t) => {
  const { b, c, bob, carol, dave } = await setup(t);
  const bytes = await picture(1);
  const { mediaId } = await upload(b, bob, bytes, "bob.png");
  await bob.request("profile.update", { avatar: mediaId });

  t.equal(fetches(c, mediaId), 0);
  const profile = await carol.request("profile.get", { userId: "@bob:b.test" });
  t.equal(profile.avatar, mediaId, "the profile names the avatar by its content address");
  t.notOk(stored(c, mediaId), "nothing is fetched before someone looks at it");

  const [one, two] = await Promise.all([download(c, carol, mediaId, true), download(c, carol, mediaId)]);
  t.equal(one.status, 200, "its preview, as the web client shows avatars");
  t.equal(one.headers.get("content-type"), "image/jpeg");
  t.equal(two.status, 200);
  t.ok(two.bytes.equals(bytes), "the bytes bob uploaded");
  t.equal(sha256(two.bytes), mediaId);
  t.equal(fetches(c, mediaId, "b.test"), 1, "fetched once, from bob's server");
  t.equal(uploadsOf(c, mediaId), 0, "on no user's quota on c");

  // dave shares no room with bob and never asked for his profile: an avatar is public here.
  const byDave = await download(c, dave, mediaId);
  t.equal(byDave.status, 200, "any user of c gets it from c's copy");
  t.ok(byDave.bytes.equals(bytes));
  t.equal(fetches(c, mediaId), 1, "without fetching it again");
});

t.test("when bob changes his avatar, c drops the old one as soon as it hears of his new profile, and fetches the new one", async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE) * MINUTE };
  const { b, c, bob, carol, dave } = await setup(t, { now: () => clock.t });
  const first = await upload(b, bob, await picture(11), "first.png");
  const second = await upload(b, bob, await picture(12), "second.png");
  await bob.request("profile.update", { avatar: first.mediaId });
  await until(t, "c told of the first avatar", async () => (await carol.request("profile.get", { userId: "@bob:b.test" })).avatar === first.mediaId);
  t.equal((await download(c, carol, first.mediaId)).status, 200);

  await bob.request("profile.update", { avatar: second.mediaId });
  // Pushed by b (profile-update), not read: carol shares Maths with bob.
  await until(t, "c told of the new avatar", () => (c.app.parley.storage.sqlite.prepare("SELECT avatar FROM remote_profiles WHERE user_id = ?").get("@bob:b.test") as { avatar: string | null } | undefined)?.avatar === second.mediaId);
  t.equal((await carol.request("profile.get", { userId: "@bob:b.test" })).avatar, second.mediaId, "c answers the new one from what b told it");
  const old = await download(c, dave, first.mediaId);
  t.equal(old.status, 404, "the old avatar is no longer one on c");
  t.equal(old.code(), "media.not_found");
  const now = await download(c, dave, second.mediaId);
  t.equal(now.status, 200, "the new one is fetched");
  t.equal(sha256(now.bytes), second.mediaId);
  t.equal(fetches(c, second.mediaId, "b.test"), 1);
});

t.test("b serves its users' avatars to any peer, and stops when the avatar changes", async (t) => {
  const { b, bob, evil } = await setup(t);
  const first = await upload(b, bob, await picture(2), "first.png");
  const second = await upload(b, bob, await picture(3), "second.png");
  t.equal((await mediaAs(evil, b, "b.test", first.mediaId)).body?.error.code, "media.not_found", "a file that is no avatar: refused to a server sharing no room with it");
  await bob.request("profile.update", { avatar: first.mediaId });
  const served = await mediaAs(evil, b, "b.test", first.mediaId);
  t.equal(served.status, 200, "an avatar is as public as the profile naming it");
  t.equal(sha256(served.bytes), first.mediaId);
  await bob.request("profile.update", { avatar: second.mediaId });
  const old = await mediaAs(evil, b, "b.test", first.mediaId);
  t.equal(old.status, 404, "the old avatar is no longer served");
  t.equal(old.body?.error.code, "media.not_found");
  t.equal((await mediaAs(evil, b, "b.test", second.mediaId)).status, 200);
  const malformed = await mediaAs(evil, b, "b.test", "not-a-hash");
  t.equal(malformed.status, 400);
  t.equal(malformed.body?.error.code, "bad_request");
});

t.test("a file no profile names as an avatar is not fetched for a user of another server", async (t) => {
  const { b, c, bob, dave } = await setup(t);
  const { mediaId } = await upload(b, bob, await picture(4), "private.png");
  await dave.request("profile.get", { userId: "@bob:b.test" });
  const got = await download(c, dave, mediaId);
  t.equal(got.status, 404);
  t.equal(got.code(), "media.not_found");
  t.equal(fetches(c, mediaId), 0, "nothing asked of b");
});

t.test("an avatar of a type c's own rules block is refused to carol, and c stores nothing", async (t) => {
  const { b, c, bob, carol } = await setup(t, { blockedOnC: ["image/png"] });
  const { mediaId } = await upload(b, bob, await picture(13), "bob.png");
  await bob.request("profile.update", { avatar: mediaId });
  await carol.request("profile.get", { userId: "@bob:b.test" });
  const got = await download(c, carol, mediaId);
  t.equal(got.status, 404);
  t.equal(got.code(), "media.not_found");
  t.notOk(stored(c, mediaId));
});

t.test("a server cannot make another show a file by naming it as its user's avatar", async (t) => {
  const { a, alice, roomId, evil } = await setup(t);
  const dan = await a.user("dan");
  // A file shared in a group of a that dan is not in: a holds it, dan may not read it.
  const secret = await picture(5);
  const { mediaId } = await upload(a, alice, secret, "secret.png");
  await alice.request("message.send", { roomId, txnId: "secret", file: { mediaId, name: "secret.png" } });
  t.equal((await download(a, dan, mediaId)).status, 404);

  let media: { status: number; body?: unknown } = { status: 404, body: { error: { code: "media.not_found", message: "no" } } };
  evil.respond = (path) => {
    if (path === "/profile") return { status: 200, body: { profiles: [{ userId: "@mallory:evil.test", displayName: "Mallory", about: "", avatar: mediaId }] } };
    if (path.startsWith("/media/")) return media;
    return { status: 404 };
  };
  t.equal((await dan.request("profile.get", { userId: "@mallory:evil.test" })).avatar, mediaId, "mallory's profile names the secret file");

  const notHeld = await download(a, dan, mediaId);
  t.equal(notHeld.status, 404, "evil.test says it has no such file: refused");
  t.equal(notHeld.code(), "media.not_found");

  media = { status: 200, body: "not the secret" };
  const lying = await download(a, dan, mediaId);
  t.equal(lying.status, 502, "evil.test sends other bytes: refused");
  t.equal(lying.code(), "media.origin_mismatch");

  media = { status: 500, body: { error: { code: "internal", message: "down" } } };
  const broken = await download(a, dan, mediaId);
  t.equal(broken.status, 502);
  t.equal(broken.code(), "federation.unreachable");
  t.equal((await download(a, dan, mediaId, true)).status, 502, "its preview alike");
  t.equal(evil.received.filter((r) => r.path === `/media/${mediaId}`).length, 4, "each attempt asked evil.test, which never proved it holds the file");
  t.equal((a.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM media_refs WHERE kind = 'avatar' AND media_id = ?").get(mediaId) as { n: number }).n, 0, "the file is no avatar on a");
});

t.test("bob, admin on b of a's group, sets its picture to a file of b: a fetches it while the update runs and keeps its own copy", async (t) => {
  const { a, b, c, alice, bob, carol, dave, evil, roomId, synced } = await setup(t);
  await alice.request("member.role", { roomId, userId: "@bob:b.test", role: "admin" });
  const bytes = await picture(6);
  const { mediaId } = await upload(b, bob, bytes, "maths.png");
  t.notOk(stored(a, mediaId));

  const atCarol = nextEvent(carol, (e) => e.roomId === roomId && e.type === "room.profile", 30_000);
  const summary = await bob.request("room.update", { roomId, picture: mediaId });
  t.equal(summary.picture, mediaId);
  t.equal(a.app.parley.rooms.state(roomId)!.picture, mediaId, "the room's picture at home");
  t.equal(fetches(a, mediaId, "b.test"), 1, "fetched once from b, during the update");
  t.equal(stored(a, mediaId)?.mime, "image/png", "a holds its own copy, sniffed itself");
  t.equal(uploadsOf(a, mediaId), 0, "on no user's quota on a");
  t.equal((await download(a, alice, mediaId)).status, 200, "alice gets it from a");

  t.same((await atCarol).content, { picture: mediaId });
  await synced();
  const got = await download(c, carol, mediaId);
  t.equal(got.status, 200, "carol on c gets it");
  t.ok(got.bytes.equals(bytes));
  t.equal(fetches(c, mediaId, "a.test"), 1, "from the room's home");
  t.equal((await download(c, dave, mediaId)).status, 404, "not dave, outside the group");
  t.equal((await mediaAs(evil, b, "b.test", mediaId)).status, 404, "b's grant ended with the update: a server in no room using it is refused");
});

t.test("a remote room picture is refused to a member who may not edit, for a file that is no image, and for a file the user may not use", async (t) => {
  const { a, b, c, bob, carol, roomId } = await setup(t);
  const before = a.app.parley.rooms.state(roomId)!.seq;
  const mine = await upload(b, bob, await picture(7), "mine.png");
  t.equal(await refusal(bob.request("room.update", { roomId, picture: mine.mediaId })), "room.forbidden", "bob is no admin");
  t.notOk(stored(a, mine.mediaId), "the picture a fetched for the refused update is not kept");
  const text = await upload(b, bob, Buffer.from("just some words\n"), "notes.txt");
  t.equal(await refusal(bob.request("room.update", { roomId, picture: text.mediaId })), "media.not_image");
  const carols = await upload(c, carol, await picture(8), "carol.png");
  t.equal(await refusal(bob.request("room.update", { roomId, picture: carols.mediaId })), "media.not_found", "a file of another user on another server");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before, "nothing appended");
  t.equal(a.app.parley.rooms.state(roomId)!.picture, null);
});

t.test("a proposed picture is refused when its server does not give it, gives other bytes, or describes another file", async (t) => {
  const { a, evil } = await setup(t);
  // mallory of evil.test joins a group of a where every member may edit its profile.
  const owner = await a.user("owen");
  const group = await owner.request("group.create", { name: "Open", settings: { editInfoPolicy: "all", sendPolicy: "all" } });
  const link = await owner.request("link.create", { roomId: group.roomId });
  const joined = await evil.call({ baseUrl: a.baseUrl, name: "a.test" }, "/propose", { sender: "@mallory:evil.test", op: "link.join", params: { token: link.token } });
  t.equal(joined.status, 200, "mallory joined");

  const bytes = await picture(9);
  const mediaId = sha256(bytes);
  const file = { mediaId, size: bytes.length, mime: "image/png", width: 40, height: 30, hasPreview: true };
  const propose = (f = file, picture = mediaId) => evil.call({ baseUrl: a.baseUrl, name: "a.test" }, "/propose", { sender: "@mallory:evil.test", op: "room.update", params: { roomId: group.roomId, picture }, file: f });
  const before = a.app.parley.rooms.state(group.roomId)!.seq;

  let media: { status: number; body?: unknown } = { status: 404, body: { error: { code: "media.not_found", message: "no" } } };
  evil.respond = (path) => (path === `/media/${mediaId}` ? media : { status: 404 });
  const notGiven = await propose();
  t.equal(notGiven.status, 404);
  t.equal(notGiven.body.error.code, "media.not_found");

  media = { status: 200, body: "other bytes" };
  const lying = await propose();
  t.equal(lying.status, 502);
  t.equal(lying.body.error.code, "media.origin_mismatch");

  media = { status: 503, body: { error: { code: "unavailable", message: "busy" } } };
  const broken = await propose();
  t.equal(broken.status, 502);
  t.equal(broken.body.error.code, "federation.unreachable");

  const other = await propose({ ...file, mediaId: sha256(Buffer.from("another")) });
  t.equal(other.status, 404, "`file` is not the picture");
  t.equal(other.body.error.code, "media.not_found");

  t.equal(a.app.parley.rooms.state(group.roomId)!.seq, before, "nothing appended");
  t.notOk(stored(a, mediaId), "nothing stored");
});

t.test("bob on b, going to an event of a's group, is reminded once, by b; a reminds alice and keeps nothing for bob", async (t) => {
  // One round clock for the three servers (signatures are checked against it too).
  const clock = { t: Math.floor(Date.now() / MINUTE) * MINUTE };
  const { a, b, alice, bob, carol, roomId, synced } = await setup(t, { now: () => clock.t });
  const start = clock.t + DAY;
  const created = await alice.request("event.create", { roomId, txnId: "assembly", title: "Class assembly", start, timeZone: "Europe/London" });
  const seq = created.event.seq as number;
  await alice.request("event.rsvp", { roomId, seq, answer: "going" });
  await bob.request("event.rsvp", { roomId, seq, answer: "going" });
  await carol.request("event.rsvp", { roomId, seq, answer: "not_going" });
  await synced();
  const got = Object.fromEntries([alice, bob, carol].map((u) => [u.userId, record(u, "event.reminder")]));

  clock.t = start - 59 * MINUTE;
  t.same(a.app.parley.reminders.runDue(), { sent: 1, skipped: 0 }, "a's reminder goes");
  t.same(b.app.parley.reminders.runDue(), { sent: 1, skipped: 0 }, "b's, from its copy of the log, too");
  await until(t, "alice and bob are reminded", () => got[alice.userId].length > 0 && got[bob.userId].length > 0);
  await delay(100);
  t.equal(got[alice.userId].length, 1, "alice once, by a");
  t.equal(got[bob.userId].length, 1, "bob exactly once, by b");
  t.same(got[bob.userId][0], { roomId, seq, title: "Class assembly", start, offsetSeconds: 3600 });
  t.same(got[carol.userId], [], "not carol, not going");
  t.equal(pendingPushes(a, "@bob:b.test"), 0, "a keeps no push for bob");
  t.equal(pendingPushes(b, "@alice:a.test"), 0, "b keeps none for alice");
  t.same(a.app.parley.reminders.runDue(), { sent: 0, skipped: 0 }, "never twice");
});
