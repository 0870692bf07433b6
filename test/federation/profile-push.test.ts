/**
 * Profile changes pushed between servers (`profile-update`), the pruning of remote_profiles, and
 * the end of an account (a purge) as other servers learn it: its profile dropped, its blocks
 * withdrawn. The cast: alice on a.test hosts the Maths group; bob on b.test and carol on c.test
 * are members; dave on c.test shares no room with anyone; erin on b.test is in no room; dana is
 * b.test's server admin; mallory speaks for evil.test, a hostile fake peer.
 */
import t from "tap";
import { createHash } from "node:crypto";
import sharp from "sharp";
import { startClusterFor } from "./cluster.ts";
import { startFakePeer } from "./peer.ts";
import { post, record, type TestServer, until } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { federationPrefix } from "../../federation/peers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const storedProfile = (s: TestServer, userId: string) =>
  s.app.parley.storage.sqlite.prepare("SELECT display_name AS displayName, about, avatar FROM remote_profiles WHERE user_id = ?").get(userId) as
    | { displayName: string; about: string; avatar: string | null }
    | undefined;
const blockAt = (s: TestServer, blocker: string, blocked: string) =>
  s.app.parley.storage.sqlite.prepare("SELECT 1 FROM user_blocks WHERE blocker = ? AND blocked = ?").get(blocker, blocked) !== undefined;
const notices = (s: TestServer) => s.app.parley.storage.sqlite.prepare(`SELECT blocker, blocked, destination, "on" FROM federation_block_notices`).all() as { blocker: string; blocked: string; destination: string; on: number }[];
const profileFetches = (s: TestServer) => s.logs.filter((l) => l.msg === "incoming request" && String((l.req as { url?: string } | undefined)?.url).endsWith("/profile")).length;

async function setup(t: Test, opts: { now?: () => number } = {}) {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"], () => ({ federation: { peers: { "evil.test": evil.baseUrl } } }), opts);
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const [alice, bob, carol, dave] = await Promise.all([a.user("alice"), b.user("bob"), c.user("carol"), c.user("dave")]);
  const { roomId } = await alice.request("group.create", { name: "Maths", settings: { sendPolicy: "all" } });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await carol.request("link.join", { token, server: "a.test" });
  await until(t, "b and c hold the room", () => [b, c].every((s) => s.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq));
  // Fetched ahead when their joins were projected: what a push updates.
  await until(t, "a and c keep bob's profile, c alice's", () => !!storedProfile(a, "@bob:b.test") && !!storedProfile(c, "@bob:b.test") && !!storedProfile(c, "@alice:a.test"));
  return { servers, a, b, c, alice, bob, carol, dave, evil, roomId, token };
}

async function upload(server: TestServer, client: ParleyClient, bytes: Buffer, name: string) {
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${client.session.accessToken}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  return (await res.json()) as { mediaId: string };
}

t.test("bob renames himself on b: alice on a and carol on c, who share Maths with him, get profile.updated at once, and their servers keep the new name without asking b", async (t) => {
  const { a, b, c, alice, bob, carol, dave } = await setup(t);
  const [toAlice, toCarol, toDave] = [record<any>(alice, "profile.updated"), record<any>(carol, "profile.updated"), record<any>(dave, "profile.updated")];
  const asked = profileFetches(b);
  t.ok(asked > 0, "a and c asked b for bob's profile when he joined");
  await bob.request("profile.update", { displayName: "Bob Jones", about: "Chemistry, year 9" });
  await until(t, "alice and carol told", () => toAlice.length === 1 && toCarol.length === 1);
  const now = { userId: "@bob:b.test", displayName: "Bob Jones", about: "Chemistry, year 9", avatar: null };
  t.same(toAlice[0], now, "alice gets the push a local change gives");
  t.same(toCarol[0], now);
  t.match(storedProfile(a, "@bob:b.test"), { displayName: "Bob Jones", about: "Chemistry, year 9" }, "a keeps the new profile");
  t.match(storedProfile(c, "@bob:b.test"), { displayName: "Bob Jones" }, "c too");
  t.equal((await carol.request("profile.get", { userId: "@bob:b.test" })).displayName, "Bob Jones", "carol reads it");
  t.equal(profileFetches(b), asked, "nobody asked b for it: the push was enough");
  t.same(toDave, [], "dave shares no room with bob: not told");

  // A change that changes nothing is not pushed again.
  await bob.request("profile.update", { displayName: "Bob Jones" });
  await bob.request("profile.update", { about: "Chemistry, year 10" });
  await until(t, "carol told of the second change", () => toCarol.length === 2);
  t.equal(toCarol[1].about, "Chemistry, year 10", "one push per change, none for the repeated name");
});

t.test("bob's new avatar reaches carol as a claim: c serves it once b has sent its bytes", async (t) => {
  const { b, c, bob, carol } = await setup(t);
  const bytes = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 40, b: 120 } } }).png().toBuffer();
  const { mediaId } = await upload(b, bob, bytes, "bob.png");
  const toCarol = record<any>(carol, "profile.updated");
  await bob.request("profile.update", { avatar: mediaId });
  await until(t, "carol told", () => toCarol.length === 1);
  t.equal(toCarol[0].avatar, mediaId);
  t.notOk(c.app.parley.storage.sqlite.prepare("SELECT 1 FROM media WHERE id = ?").get(mediaId), "a claim: nothing fetched yet");
  const res = await fetch(`${c.baseUrl}/api/v1/media/${mediaId}`, { headers: { authorization: `Bearer ${carol.session.accessToken}` } });
  t.equal(res.status, 200);
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), mediaId, "fetched from b and checked");
});

t.test("a profile change waits while c is down and reaches it when c is back", async (t) => {
  const { servers, c, bob } = await setup(t);
  await c.stop(false);
  await bob.request("profile.update", { displayName: "Bob while c sleeps" });
  const c2 = await c.restart();
  servers["c.test"] = c2;
  // b tries again with the outbox's backoff (c, owing b nothing, sends it no wake): a longer bound.
  await until(t, "c keeps the new name", () => storedProfile(c2, "@bob:b.test")?.displayName === "Bob while c sleeps", 60_000);
});

t.test("profile-update refusals: evil.test cannot speak for bob, users c keeps no profile of are ignored, a malformed notice is refused", async (t) => {
  const { b, c, carol, evil } = await setup(t);
  const toCarol = record<any>(carol, "profile.updated");
  const forged = await evil.call({ baseUrl: c.baseUrl, name: "c.test" }, "/profile-update", { profiles: [{ userId: "@bob:b.test", displayName: "Bob the villain", about: "", avatar: null }], gone: [] });
  t.same([forged.status, forged.body.error.code], [401, "federation.sender_not_of_origin"], "a server speaks only for its own users");
  const mixed = await evil.call({ baseUrl: c.baseUrl, name: "c.test" }, "/profile-update", { profiles: [{ userId: "@mallory:evil.test", displayName: "Mallory", about: "", avatar: null }], gone: ["@bob:b.test"] });
  t.same([mixed.status, mixed.body.error.code], [401, "federation.sender_not_of_origin"], "one stranger refuses the whole notice");
  t.match(storedProfile(c, "@bob:b.test"), { displayName: "Bob" }, "bob's profile is unchanged");
  t.notOk(storedProfile(c, "@mallory:evil.test"), "nothing stored for mallory");

  const unknown = await b.app.parley.federation.request("c.test", "POST", "/profile-update", { profiles: [{ userId: "@erin:b.test", displayName: "Erin", about: "", avatar: null }], gone: ["@zed:b.test"] });
  t.same([unknown.status, unknown.body], [200, {}], "accepted");
  t.notOk(storedProfile(c, "@erin:b.test"), "erin, whom c keeps no profile of, is ignored: not stored");

  const unsigned = await fetch(`${c.baseUrl}${federationPrefix}/profile-update`, {
    method: "POST",
    headers: { "content-type": "application/json", "parley-origin": "b.test" },
    body: JSON.stringify({ profiles: [{ userId: "@bob:b.test", displayName: "Unsigned Bob", about: "", avatar: null }], gone: [] }),
  });
  t.same([unsigned.status, ((await unsigned.json()) as { error: { code: string } }).error.code], [401, "federation.signature_missing"], "an unsigned notice is refused");
  const malformed = await evil.call({ baseUrl: c.baseUrl, name: "c.test" }, "/profile-update", { profiles: [{ userId: "@mallory:evil.test" }] });
  t.same([malformed.status, malformed.body.error.code], [400, "bad_request"]);
  t.same(toCarol, [], "carol was told of nothing");
});

t.test("c drops alice's and bob's profiles when carol leaves Maths, the only room its users shared with them; a drops bob's when he leaves", async (t) => {
  const { a, c, alice, bob, carol, roomId } = await setup(t);
  await carol.request("room.leave", { roomId });
  await until(t, "c drops both", () => !storedProfile(c, "@alice:a.test") && !storedProfile(c, "@bob:b.test"));
  t.ok(storedProfile(a, "@bob:b.test"), "a keeps bob's: alice still shares Maths with him");
  t.notOk(storedProfile(a, "@carol:c.test"), "and drops carol's: she shares no room with a's users now");
  await bob.request("room.leave", { roomId });
  await until(t, "a drops bob's", () => !storedProfile(a, "@bob:b.test"));
  void alice;
});

t.test("the hourly sweep drops the profile of a stranger carol looked at once it is an hour old, never bob's while he shares Maths", async (t) => {
  const clock = { offset: 0 };
  const { b, c, carol } = await setup(t, { now: () => Date.now() + clock.offset });
  await b.user("erin");
  t.equal((await carol.request("profile.get", { userId: "@erin:b.test" })).displayName, "Erin");
  t.ok(storedProfile(c, "@erin:b.test"), "kept after carol looked at her");
  t.same(c.app.parley.remoteProfiles.sweep(), [], "a profile fetched within the hour stays");
  clock.offset += 61 * 60_000;
  t.same(c.app.parley.remoteProfiles.sweep(), ["@erin:b.test"], "an hour later it is dropped");
  t.ok(storedProfile(c, "@bob:b.test"), "bob's stays: he shares Maths with carol");
  t.equal((await carol.request("profile.get", { userId: "@erin:b.test" })).displayName, "Erin", "looked at again, it is fetched again");
});

t.test("when b purges bob, who blocked carol: he leaves Maths at a, c drops his profile and his block of carol, and b keeps no block of his", async (t) => {
  const { a, b, c, bob, roomId } = await setup(t);
  await bob.request("user.block", { userId: "@carol:c.test" });
  await until(t, "c holds bob's block", () => blockAt(c, "@bob:b.test", "@carol:c.test"));
  const dana = await b.user("dana");
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(dana.userId);
  const purged = await post(b, "/api/v1/admin/user.purge", { userId: "bob" }, dana.session.accessToken);
  t.equal(purged.status, 200, JSON.stringify(purged.body));
  t.same(purged.body.removedFrom, [], "no room hosted on b");
  t.notOk(blockAt(b, "@bob:b.test", "@carol:c.test"), "b keeps no block of bob's");
  await until(t, "c drops the block", () => !blockAt(c, "@bob:b.test", "@carol:c.test"));
  await until(t, "the notice is delivered", () => notices(b).length === 0);
  await until(t, "bob left Maths at a", () => !a.app.parley.rooms.state(roomId)!.members.has("@bob:b.test"));
  await until(t, "c and a drop bob's profile", () => !storedProfile(c, "@bob:b.test") && !storedProfile(a, "@bob:b.test"));
});

t.test("an account ended at its server is dropped at once when the server says so, even while it still shares a room", async (t) => {
  const { b, c } = await setup(t);
  const gone = await b.app.parley.federation.request("c.test", "POST", "/profile-update", { profiles: [], gone: ["@bob:b.test"] });
  t.equal(gone.status, 200);
  t.notOk(storedProfile(c, "@bob:b.test"), "dropped");
});

t.test("a purge's block withdrawal waits, kept, while c is down and reaches c when it is back", async (t) => {
  const { servers, b, c, bob } = await setup(t);
  await bob.request("user.block", { userId: "@carol:c.test" });
  await until(t, "c holds bob's block", () => blockAt(c, "@bob:b.test", "@carol:c.test"));
  await c.stop(false);
  const dana = await b.user("dana");
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(dana.userId);
  t.equal((await post(b, "/api/v1/admin/user.purge", { userId: "bob" }, dana.session.accessToken)).status, 200);
  t.same(notices(b), [{ blocker: "@bob:b.test", blocked: "@carol:c.test", destination: "c.test", on: 0 }], "the withdrawal is kept for c");
  const c2 = await c.restart();
  servers["c.test"] = c2;
  await until(t, "c drops the block", () => !blockAt(c2, "@bob:b.test", "@carol:c.test"), 60_000);
  await until(t, "and b its notice", () => notices(b).length === 0);
});

t.test("bob's send kept while a is down is dropped when b purges him: a receives erin's, kept after it, and never his", async (t) => {
  const { servers, a, b, bob, roomId, token } = await setup(t);
  const erin = await b.user("erin");
  await erin.request("link.join", { token, server: "a.test" });
  await a.stop(false);
  for (const [who, txnId] of [[bob, "spam-1"], [erin, "e-1"]] as const) {
    const answer = await who.request("message.send", { roomId, txnId, body: `Sent as ${txnId}` }).catch((err: { code: string }) => err);
    t.equal((answer as { code: string }).code, "message.pending", `${txnId} kept while a is down`);
  }
  const dana = await b.user("dana");
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(dana.userId);
  t.equal((await post(b, "/api/v1/admin/user.purge", { userId: "bob" }, dana.session.accessToken)).status, 200);
  t.same(b.app.parley.storage.sqlite.prepare("SELECT sender FROM federation_pending").all(), [{ sender: "@erin:b.test" }], "only erin's send is kept");
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const messagesOf = (userId: string) => (a2.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM room_events WHERE room_id = ? AND sender = ? AND type = 'message'").get(roomId, userId) as { n: number }).n;
  // Kept ops go to their home in the order they were kept: erin's arriving means bob's would have.
  await until(t, "erin's kept send reaches a", () => messagesOf("@erin:b.test") === 1, 60_000);
  t.equal(messagesOf("@bob:b.test"), 0, "a holds no message of bob's");
});
