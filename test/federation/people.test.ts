/**
 * Profiles of users of other servers as one server keeps them (remote_profiles,
 * federation/profiles.ts): people search by display name, names kept across a restart while the
 * user's server is down, freshness, and a hostile server that names users of another server.
 *
 *   a.test: alice (owner of the group Maths)
 *   b.test: bob and zed (members of Maths through their server)
 *   evil.test: mallory (a hostile fake peer)
 */
import t from "tap";
import { createHash } from "node:crypto";
import sharp from "sharp";
import { startClusterFor } from "./cluster.ts";
import { startFakePeer } from "./peer.ts";
import { ok, refusalOf, type TestServer, until } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MINUTE = 60_000;


const storedProfile = (s: TestServer, userId: string) =>
  s.app.parley.storage.sqlite.prepare("SELECT display_name AS displayName, avatar FROM remote_profiles WHERE user_id = ?").get(userId) as
    { displayName: string; avatar: string | null } | undefined;

async function setup(t: Test, opts: { now?: () => number; evil?: string } = {}) {
  const servers = await startClusterFor(t, ["a.test", "b.test"], () => (opts.evil ? { federation: { peers: { "evil.test": opts.evil } } } : {}), { now: opts.now });
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId: maths } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId: maths });
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b holds Maths with bob in it", () => b.app.parley.rooms.state(maths)?.members.has("@bob:b.test") === true);
  return { servers, a, b, alice, bob, maths, token };
}

t.test("alice finds zed of b by his display name: his profile was fetched when he joined Maths, before anyone searched", async (t) => {
  const { a, b, alice, maths, token } = await setup(t);
  const zed = await b.user("zed");
  await zed.request("profile.update", { displayName: "Zed Quux" });
  const quux = await a.user("quux");
  await quux.request("link.join", { token });
  await zed.request("link.join", { token, server: "a.test" });
  await until(t, "a stored zed's profile, fetched ahead", () => storedProfile(a, "@zed:b.test")?.displayName === "Zed Quux");

  const found = await ok(t, alice, "user.search", { query: "QUUX" });
  t.same(
    found.users.map((u: { userId: string; displayName: string }) => [u.userId, u.displayName]),
    [
      ["@quux:a.test", "Quux"],
      ["@zed:b.test", "Zed Quux"],
    ],
    "quux of a by his username, zed of b by his display name, in user id order",
  );
  t.same(
    found.users[1].commonGroups.map((g: { roomId: string }) => g.roomId),
    [maths],
    "with Maths in common",
  );
  const page = await ok(t, alice, "user.search", { query: "quux", limit: 1, after: "@quux:a.test" });
  t.same([page.users.map((u: { userId: string }) => u.userId), page.next], [["@zed:b.test"], null], "paged after quux: zed, the last");
  t.same((await ok(t, alice, "user.search", { query: "nobody here" })).users, [], "a name nobody has finds nobody");
});

t.test("after a restarts while b is down, alice still sees bob's name in search and his profile", async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE) * MINUTE };
  const { servers, a, b, alice } = await setup(t, { now: () => clock.t });
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Bob");
  await b.stop(false);
  const a2 = await a.restart();
  servers["a.test"] = a2;
  clock.t += 2 * MINUTE;
  const alice2 = await a2.login("alice");

  const profile = await ok(t, alice2, "profile.get", { userId: "@bob:b.test" });
  t.match(profile, { userId: "@bob:b.test", displayName: "Bob" }, "the stored profile, as b last gave it, though b does not answer");
  const found = await ok(t, alice2, "user.search", { query: "bo" });
  t.same(
    found.users.map((u: { userId: string; displayName: string }) => [u.userId, u.displayName]),
    [["@bob:b.test", "Bob"]],
    "named in search too",
  );
  t.equal(await refusalOf(alice2, "profile.get", { userId: "@zed:b.test" }), "federation.unreachable", "a user never fetched cannot be told while b is down");
});

t.test("an avatar claim survives a restart: after a restarts, alice downloads bob's avatar, which a then fetches from b", async (t) => {
  const { servers, a, b, alice, bob } = await setup(t);
  const bytes = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 40, b: 120 } } })
    .png()
    .toBuffer();
  const uploaded = await fetch(`${b.baseUrl}/api/v1/media?name=bob.png`, {
    method: "POST",
    headers: { authorization: `Bearer ${bob.session.accessToken}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  const { mediaId } = (await uploaded.json()) as { mediaId: string };
  await bob.request("profile.update", { avatar: mediaId });
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).avatar, mediaId, "his profile claims it");
  const { roomId: chat } = await ok(t, alice, "direct.open", { userId: "@bob:b.test" });
  const a2 = await a.restart();
  servers["a.test"] = a2;
  const alice2 = await a2.login("alice");
  const listed = (await ok(t, alice2, "room.list", {})).rooms.find((r: { roomId: string }) => r.roomId === chat);
  t.match(
    listed,
    { name: "Bob", picture: mediaId, peer: { userId: "@bob:b.test", displayName: "Bob", avatar: mediaId } },
    "room.list names and pictures the chat after bob's stored profile",
  );
  const res = await fetch(`${a2.baseUrl}/api/v1/media/${mediaId}`, { headers: { authorization: `Bearer ${alice2.session.accessToken}` } });
  t.equal(res.status, 200, "the claim was kept: a fetches the file from b");
  t.equal(
    createHash("sha256")
      .update(Buffer.from(await res.arrayBuffer()))
      .digest("hex"),
    mediaId,
  );
  t.equal(a2.logs.filter((l) => l.msg === "file fetched from its server" && l.mediaId === mediaId && l.peer === "b.test").length, 1, "once, from bob's server");
});

t.test("bob's new display name, its notice lost, shows at a once the stored one is a minute old", async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE) * MINUTE };
  const { a, b, alice } = await setup(t, { now: () => clock.t });
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Bob");
  // A change a never heard of (b's profile-update notice lost: test/federation/profile-push.test.ts
  // has the notice itself): changed in b's database, where no notice follows.
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET display_name = 'Robert Tables' WHERE id = '@bob:b.test'").run();
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Bob", "within the minute, the stored profile");
  t.same((await ok(t, alice, "user.search", { query: "robert" })).users, [], "and search knows only the stored name");

  clock.t += MINUTE + 1000;
  // A search takes stored names at once and fetches the stale ones again behind it.
  await ok(t, alice, "user.search", { query: "bob" });
  await until(t, "a fetched bob's profile again", () => storedProfile(a, "@bob:b.test")?.displayName === "Robert Tables");
  const found = await ok(t, alice, "user.search", { query: "robert" });
  t.same(
    found.users.map((u: { userId: string; displayName: string }) => [u.userId, u.displayName]),
    [["@bob:b.test", "Robert Tables"]],
    "found by the new name",
  );
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Robert Tables", "and his profile shows it");
});

t.test("evil.test cannot set the profiles of b's users at a: only its own users, and only those asked about, are kept", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const { a, alice, maths, token } = await setup(t, { evil: evil.baseUrl });
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Bob");
  const fake = "ab".repeat(32);
  evil.respond = (path, body) => {
    if (path !== "/profile") return { status: 404 };
    const forged = [
      { userId: "@bob:b.test", displayName: "Evil Bob", about: "", avatar: fake },
      { userId: "@ghost:evil.test", displayName: "Not asked", about: "", avatar: null },
    ];
    const own = (body.userIds as string[])
      .filter((id) => id === "@mallory:evil.test" || id === "@long:evil.test")
      .map((userId) => ({ userId, displayName: userId === "@long:evil.test" ? "L".repeat(300) : "Mallory", about: "x".repeat(5000), avatar: null }));
    return { status: 200, body: { profiles: [...forged, ...own] } };
  };
  // mallory joins Maths through her server: a fetches her profile ahead.
  const joined = await evil.call({ baseUrl: a.baseUrl, name: "a.test" }, "/propose", { sender: "@mallory:evil.test", op: "link.join", params: { token } });
  t.equal(joined.status, 200, "mallory joined");
  t.ok(a.app.parley.rooms.state(maths)!.members.has("@mallory:evil.test"));
  await until(t, "a stored mallory's profile", () => storedProfile(a, "@mallory:evil.test")?.displayName === "Mallory");
  t.equal((await ok(t, alice, "profile.get", { userId: "@mallory:evil.test" })).displayName, "Mallory");

  t.same(storedProfile(a, "@bob:b.test"), { displayName: "Bob", avatar: null }, "bob's profile is as b gave it");
  t.notOk(storedProfile(a, "@ghost:evil.test"), "a user not asked about is not kept");
  t.same((await ok(t, alice, "user.search", { query: "evil" })).users, [], "no one is found by the forged name");
  t.equal((await ok(t, alice, "profile.get", { userId: "@bob:b.test" })).displayName, "Bob");
  t.equal(await refusalOf(alice, "profile.get", { userId: "@nobody:evil.test" }), "user.not_found", "an answer naming only others' users: no such user");
  const long = await ok(t, alice, "profile.get", { userId: "@long:evil.test" });
  t.same([[...long.displayName].length, [...long.about].length], [64, 500], "a name and about text kept within this server's own bounds");
  t.equal((a.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM remote_profiles WHERE avatar = ?").get(fake) as { n: number }).n, 0, "no one claims the forged avatar");
});

t.test("a search names the remote users of its page never fetched with one request to their server, naming them all", async (t) => {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const { a, alice, token } = await setup(t, { evil: evil.baseUrl });
  let up = false;
  evil.respond = (path, body) => {
    if (path !== "/profile") return { status: 404 };
    if (!up) return { status: 503, body: { error: { code: "unavailable", message: "busy" } } };
    return {
      status: 200,
      body: { profiles: (body.userIds as string[]).map((userId) => ({ userId, displayName: `Mx ${userId.slice(1, userId.indexOf(":"))}`, about: "", avatar: null })) },
    };
  };
  for (const sender of ["@mel:evil.test", "@max:evil.test"]) {
    const joined = await evil.call({ baseUrl: a.baseUrl, name: "a.test" }, "/propose", { sender, op: "link.join", params: { token } });
    t.equal(joined.status, 200, `${sender} joined`);
  }
  // Their profiles were asked ahead while evil.test was busy: wait until each such fetch ended.
  // (b replicates Maths and asks evil.test too: only a's requests count here.)
  const asked = () => evil.received.filter((r) => r.path === "/profile" && r.body.requester === "@parley:a.test");
  const failedAhead = () => a.logs.filter((l) => l.msg === "profiles of remote members not fetched" && l.peer === "evil.test").length;
  await until(t, "both were asked about ahead", () => new Set(asked().flatMap((r) => r.body.userIds)).size === 2);
  await until(t, "and every ahead fetch failed", () => failedAhead() === asked().length);
  t.notOk(storedProfile(a, "@mel:evil.test"), "nothing stored for mel");

  up = true;
  const before = asked().length;
  const found = await ok(t, alice, "user.search", { query: "m" });
  t.same(
    found.users.filter((u: { userId: string }) => u.userId.endsWith(":evil.test")).map((u: { userId: string; displayName: string }) => [u.userId, u.displayName]),
    [
      ["@max:evil.test", "Mx max"],
      ["@mel:evil.test", "Mx mel"],
    ],
    "both named",
  );
  t.same(
    asked()
      .slice(before)
      .map((r) => [...r.body.userIds].sort()),
    [["@max:evil.test", "@mel:evil.test"]],
    "by one request naming both",
  );
  t.equal(storedProfile(a, "@max:evil.test")?.displayName, "Mx max", "and kept");
});

t.test("inviting a user of b to a room of a asks b now: one b does not have is refused, one it has is invited and kept", async (t) => {
  const { a, b, alice, maths } = await setup(t);
  await b.user("zed");
  t.equal(await refusalOf(alice, "member.invite", { roomId: maths, userId: "@nobody:b.test" }), "user.not_found");
  t.notOk(storedProfile(a, "@nobody:b.test"));
  await ok(t, alice, "member.invite", { roomId: maths, userId: "@zed:b.test" });
  t.equal(storedProfile(a, "@zed:b.test")?.displayName, "Zed", "zed's profile, as b answered, is kept");
});
