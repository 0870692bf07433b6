/**
 * The server-admin powers: the admin API (`/api/v1/admin/*`) for users with the server-admin flag,
 * and the command line, which goes through the running server's admin API when there is one and
 * works on the database through the same service and room core when there is none. dana is the
 * server admin; carol is the spammer; alice runs the school community.
 */
import t from "tap";
import { userInfo } from "node:os";
import { parley as runParley } from "./cli-helpers.ts";
import { eventFor, post, refusalOf, schemaErrors, sessionEnd, startServer, type TestServer } from "./helpers.ts";
import type { ParleyClient } from "../clients/sdk/index.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const endpoints = [
  "users.list",
  "user.show",
  "user.disable",
  "user.enable",
  "user.password",
  "user.admin",
  "user.purge",
  "registration_tokens.list",
  "registration_tokens.create",
  "registration_tokens.revoke",
  "communities.list",
  "community.deactivate",
  "audit.list",
];

/** Runs `parley ...args` against the server's data directory, found through the environment. */
function parley(server: TestServer, ...args: string[]) {
  return runParley(args, { PARLEY_DATA_DIR: server.dataDir, PARLEY_SERVER_NAME: server.config.server.name });
}

/** POSTs to an admin endpoint as a client (or with no token). */
function admin(server: TestServer, name: string, body: unknown, as?: ParleyClient) {
  return post(server, `/api/v1/admin/${name}`, body, as?.session.accessToken);
}

/** An admin endpoint that must succeed, its answer checked against its schema. */
async function ok(t: Test, server: TestServer, name: string, body: unknown, as: ParleyClient): Promise<any> {
  const res = await admin(server, name, body, as);
  t.equal(res.status, 200, `${name} succeeds ${JSON.stringify(res.body?.error ?? "")}`);
  t.same(schemaErrors(`http/admin.${name}#/$defs/response`, res.body), [], `${name}: the answer matches its schema`);
  return res.body;
}

/** A running server where dana is a server admin (made one by the command line). */
async function school(t: Test) {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const dana = await server.user("dana");
  const made = await parley(server, "user", "make-admin", "dana");
  t.same(made, { code: 0, stdout: "@dana:school.test is now a server admin\n", stderr: "" }, "the CLI makes dana a server admin through the running server");
  return { server, dana };
}

/** alice's school community with its Maths group; `joiners` come in by the group's link. */
async function community(alice: ParleyClient, ...joiners: ParleyClient[]) {
  const c = await alice.request("community.create", { name: "Springfield School" });
  const maths = await alice.request("group.create", { name: "Maths", communityId: c.roomId });
  const link = await alice.request("link.create", { roomId: maths.roomId });
  for (const j of joiners) await j.request("link.join", { token: link.token });
  return { communityId: c.roomId as string, mathsId: maths.roomId as string };
}

t.test("every admin endpoint refuses a request without a token or with an invalid one, and a user who is not a server admin", async (t) => {
  const { server, dana } = await school(t);
  const bob = await server.user("bob");
  const carol = await server.user("carol");
  for (const name of endpoints) {
    const anonymous = await admin(server, name, {});
    t.same([anonymous.status, anonymous.body.error.code], [401, "auth.required"], `${name}: no token`);
    const forged = await post(server, `/api/v1/admin/${name}`, {}, `${dana.session.accessToken}x`);
    t.same([forged.status, forged.body.error.code], [401, "auth.invalid_token"], `${name}: a token that does not verify`);
    const asBob = await admin(server, name, { userId: "carol" }, bob);
    t.same([asBob.status, asBob.body.error.code], [403, "admin.forbidden"], `${name}: bob is no server admin`);
  }
  t.equal(await refusalOf(carol, "session.info", {}), "ok", "carol was not disabled by bob's attempts");
  const malformed = await admin(server, "user.disable", { userId: 5 }, dana);
  t.same([malformed.status, malformed.body.error.code], [400, "bad_request"], "a malformed body is refused");
  const extra = await admin(server, "users.list", { limit: 1000 }, dana);
  t.same([extra.status, extra.body.error.code], [400, "bad_request"], "a limit over 200 is refused");
});

t.test("dana lists and searches the accounts, and sees one's devices and communities", async (t) => {
  const { server, dana } = await school(t);
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const { communityId, mathsId } = await community(alice, bob);

  const all = await ok(t, server, "users.list", {}, dana);
  t.same(all.users.map((u: { username: string }) => u.username), ["alice", "bob", "dana"]);
  t.match(all.users[2], { userId: "@dana:school.test", isAdmin: true, disabled: false, devices: 1, rooms: 0 });
  t.same((await ok(t, server, "users.list", { query: "BO" }, dana)).users.map((u: { userId: string }) => u.userId), ["@bob:school.test"], "search ignores case");
  t.same((await ok(t, server, "users.list", { query: "%" }, dana)).users, [], "LIKE wildcards are plain characters");
  const paged = await ok(t, server, "users.list", { limit: 2 }, dana);
  t.same([paged.users.length, paged.more], [2, true]);
  t.same((await ok(t, server, "users.list", { limit: 2, offset: 2 }, dana)).more, false);

  const shown = await ok(t, server, "user.show", { userId: "bob" }, dana);
  t.match(shown, { userId: "@bob:school.test", devices: [{ name: "bob's laptop" }] });
  t.same(
    shown.rooms.map((r: { roomId: string; role: string }) => [r.roomId, r.role]),
    [
      [communityId, "member"],
      [mathsId, "member"],
    ],
  );
  const missing = await admin(server, "user.show", { userId: "zoe" }, dana);
  t.same([missing.status, missing.body.error.code], [404, "user.not_found"]);

  const cli = await parley(server, "user", "show", "@bob:school.test");
  t.equal(cli.code, 0);
  t.match(cli.stdout, /^@bob:school\.test {2}"Bob"\n/);
  t.match(cli.stdout, /community +\S+ {2}"Springfield School" {2}member/);
});

t.test("dana disables carol, whose socket closes at once, and enables her again; not herself", async (t) => {
  const { server, dana } = await school(t);
  const carol = await server.user("carol");
  const ended = sessionEnd(carol);
  t.same(await ok(t, server, "user.disable", { userId: "carol" }, dana), { userId: "@carol:school.test", revokedDevices: 1 });
  t.equal((await ended).code, 4003, "carol's socket is closed as revoked");
  const login = await post(server, "/api/v1/auth/login", { username: "carol", password: "correct horse battery" });
  t.equal(login.body.error.code, "auth.account_disabled");

  const self = await admin(server, "user.disable", { userId: "@dana:school.test" }, dana);
  t.same([self.status, self.body.error.code], [409, "admin.self"], "dana cannot disable herself");
  t.same(await ok(t, server, "user.enable", { userId: "carol" }, dana), { userId: "@carol:school.test" });
  t.equal((await post(server, "/api/v1/auth/login", { username: "carol", password: "correct horse battery" })).status, 200, "carol logs in again");
  const nobody = await admin(server, "user.enable", { userId: "zoe" }, dana);
  t.same([nobody.status, nobody.body.error.code], [404, "user.not_found"]);
});

t.test("dana resets carol's password, ending her sessions; a weak password is refused", async (t) => {
  const { server, dana } = await school(t);
  const carol = await server.user("carol");
  const ended = sessionEnd(carol);
  const weak = await admin(server, "user.password", { userId: "carol", password: "short" }, dana);
  t.same([weak.status, weak.body.error.code], [400, "password.too_weak"]);
  const long = await admin(server, "user.password", { userId: "carol", password: "x".repeat(1025) }, dana);
  t.same([long.status, long.body.error.code], [400, "password.too_long"], "a password over 1024 characters is refused");
  t.same(await ok(t, server, "user.password", { userId: "carol", password: "a temporary horse battery" }, dana), { userId: "@carol:school.test", revokedDevices: 1 });
  t.equal((await ended).code, 4003);
  t.equal((await post(server, "/api/v1/auth/login", { username: "carol", password: "a temporary horse battery" })).status, 200);
});

t.test("dana makes bob a server admin and withdraws it; she cannot withdraw her own", async (t) => {
  const { server, dana } = await school(t);
  const bob = await server.user("bob");
  t.same(await ok(t, server, "user.admin", { userId: "bob", admin: true }, dana), { userId: "@bob:school.test", isAdmin: true });
  t.equal((await admin(server, "users.list", {}, bob)).status, 200, "bob may now use the admin API");
  t.same(await ok(t, server, "user.admin", { userId: "bob", admin: false }, dana), { userId: "@bob:school.test", isAdmin: false });
  t.equal((await admin(server, "users.list", {}, bob)).body.error.code, "admin.forbidden", "at once on his next request");
  t.equal((await admin(server, "user.admin", { userId: "dana", admin: false }, dana)).body.error.code, "admin.self");
  t.equal((await admin(server, "user.admin", { userId: "zoe", admin: true }, dana)).body.error.code, "user.not_found");
});

t.test("registration tokens: dana makes one, lists it by id, and revokes it", async (t) => {
  const { server, dana } = await school(t);
  const made = await ok(t, server, "registration_tokens.create", { uses: 3, expiresInDays: 7 }, dana);
  t.match(made, { token: /^reg_/, id: /^[0-9a-f]{12}$/, usesLeft: 3 });
  const listed = await ok(t, server, "registration_tokens.list", {}, dana);
  t.match(listed.tokens, [{ id: made.id, usesLeft: 3, usable: true }]);
  t.notOk(JSON.stringify(listed).includes(made.token), "the token itself is never shown again");

  const cli = await parley(server, "registration-token", "list");
  t.match(cli.stdout, new RegExp(`^ID +USES LEFT +EXPIRES +CREATED +STATE\\n${made.id} +3 `));
  t.same(await ok(t, server, "registration_tokens.revoke", { id: made.id }, dana), { id: made.id, revoked: true });
  t.same((await ok(t, server, "registration_tokens.list", {}, dana)).tokens, []);
  const again = await admin(server, "registration_tokens.revoke", { id: made.id }, dana);
  t.same([again.status, again.body.error.code], [404, "registration_token.not_found"]);
  t.same(await parley(server, "registration-token", "revoke", "nothing"), { code: 2, stdout: "", stderr: "parley: registration_token.not_found: There is no such registration token.\n" });
  const register = await post(server, "/api/v1/auth/register", { username: "erin", password: "a good password", registrationToken: made.token });
  t.equal(register.status, 201, "(the server's policy is open: the revoked token is simply not needed)");
});

t.test("dana lists the communities with their size, and deactivates one she is not in", async (t) => {
  const { server, dana } = await school(t);
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const { communityId, mathsId } = await community(alice, bob);
  await alice.request("message.send", { roomId: communityId, body: "Welcome back!", txnId: "w1" });

  const listed = await ok(t, server, "communities.list", {}, dana);
  t.match(listed.communities, [{ roomId: communityId, name: "Springfield School", createdBy: "@alice:school.test", members: 2, groups: 1, deactivated: false }]);
  t.ok(listed.communities[0].eventBytes > 0, "its logs take room on disk");
  t.same((await ok(t, server, "communities.list", { query: "chess" }, dana)).communities, []);

  const deactivated = eventFor(alice, communityId, "room.deactivate");
  const unlinked = eventFor(alice, mathsId, "group.community");
  t.same(await ok(t, server, "community.deactivate", { roomId: communityId }, dana), { roomId: communityId, unlinkedGroups: [mathsId] });
  t.match((await deactivated).content, { serverAdmin: true }, "alice sees the deactivation, marked as the server admin's");
  t.equal((await deactivated).sender, "@dana:school.test");
  t.match((await unlinked).content, { communityId: null, reason: "deactivated", serverAdmin: true });
  t.equal(await refusalOf(alice, "message.send", { roomId: communityId, body: "still here?", txnId: "w2" }), "room.deactivated", "the running server's room core knows");
  t.equal(await refusalOf(bob, "message.send", { roomId: mathsId, body: "maths lives on", txnId: "m1" }), "ok", "the group lives on, standalone");

  t.equal((await admin(server, "community.deactivate", { roomId: communityId }, dana)).body.error.code, "room.deactivated", "not twice");
  t.equal((await admin(server, "community.deactivate", { roomId: mathsId }, dana)).body.error.code, "room.not_found", "a group is not a community");
  t.equal((await admin(server, "community.deactivate", { roomId: "!nothing00:school.test" }, dana)).body.error.code, "room.not_found");
});

t.test("dana purges carol the spammer: out of every room through the write path, disabled, and a new owner for her group", async (t) => {
  const { server, dana } = await school(t);
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const carol = await server.user("carol");
  const { communityId, mathsId } = await community(alice, carol);
  const deals = await carol.request("group.create", { name: "Cheap deals" });
  const link = await carol.request("link.create", { roomId: deals.roomId });
  await bob.request("link.join", { token: link.token });

  const removed = eventFor(alice, mathsId, "member.remove", "@carol:school.test");
  const newOwner = eventFor(bob, deals.roomId, "member.role", "@bob:school.test");
  const ended = sessionEnd(carol);
  const purged = await ok(t, server, "user.purge", { userId: "carol" }, dana);
  t.same([...purged.removedFrom].sort(), [communityId, mathsId, deals.roomId].sort());
  t.match(purged, { userId: "@carol:school.test", revokedDevices: 1 });
  t.match(await removed, { sender: "@dana:school.test", content: { userId: "@carol:school.test", serverAdmin: true } });
  t.match((await newOwner).content, { role: "owner", serverAdmin: true }, "bob owns the group carol made");
  t.equal((await ended).code, 4003, "carol's socket is closed");
  const members = await alice.request("room.members", { roomId: mathsId });
  t.same(members.members!.map((m: { userId: string }) => m.userId), ["@alice:school.test"]);
  t.same((await ok(t, server, "user.show", { userId: "carol" }, dana)).rooms, [], "carol is in no room");
  t.equal((await admin(server, "user.purge", { userId: "dana" }, dana)).body.error.code, "admin.self");
  t.equal((await admin(server, "user.purge", { userId: "zoe" }, dana)).body.error.code, "user.not_found", "no account zoe to purge");

  const audit = await ok(t, server, "audit.list", { limit: 2 }, dana);
  t.match(audit.entries, [
    { actor: "@dana:school.test", action: "user.purge", target: "@carol:school.test" },
    { actor: `cli:${userInfo().username}`, action: "user.admin.grant", target: "@dana:school.test" },
  ]);
  t.equal(audit.more, false);
  const older = await ok(t, server, "audit.list", { before: audit.entries[1].id }, dana);
  t.same(older.entries, []);
});

t.test("the CLI's room commands go through the running server, so its room core stays right", async (t) => {
  const { server } = await school(t);
  const alice = await server.user("alice");
  const carol = await server.user("carol");
  const { communityId, mathsId } = await community(alice, carol);

  t.equal((await parley(server, "user", "purge", "carol")).stderr, "parley: user purge removes carol from every community and group on this server and disables the account; add --yes to do it\n");
  const removed = eventFor(alice, mathsId, "member.remove", "@carol:school.test");
  const purged = await parley(server, "user", "purge", "carol", "--yes");
  t.same(purged, { code: 0, stdout: "purged @carol:school.test: removed from 2 room(s), disabled, 1 session(s) ended\n", stderr: "" });
  t.equal((await removed).sender, "@parley:school.test", "the operator speaks as the server's own user");

  const deactivated = eventFor(alice, communityId, "room.deactivate");
  t.same(await parley(server, "community", "deactivate", communityId, "--yes"), { code: 0, stdout: `deactivated ${communityId}; 1 group(s) unlinked\n`, stderr: "" });
  await deactivated;
  t.equal(await refusalOf(alice, "room.update", { roomId: communityId, name: "Renamed" }), "room.deactivated", "the server's cache has the change");
  t.equal(await refusalOf(alice, "message.send", { roomId: mathsId, body: "on with maths", txnId: "m1" }), "ok");

  const audit = await parley(server, "audit", "--json");
  t.match(JSON.parse(audit.stdout).entries.map((e: { action: string }) => e.action), ["community.deactivate", "user.purge", "user.admin.grant"]);
});

t.test("with no server running, the CLI purges and deactivates through the same room core on the database", async (t) => {
  let server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const carol = await server.user("carol");
  const { communityId, mathsId } = await community(alice, carol);
  await alice.request("message.send", { roomId: mathsId, body: "before", txnId: "b1" });
  alice.close();
  carol.close();
  await server.stop(false);

  const purged = await parley(server, "user", "purge", "carol", "--yes");
  t.same(purged, { code: 0, stdout: "purged @carol:school.test: removed from 2 room(s), disabled, 1 session(s) ended\n", stderr: "" });
  t.equal((await parley(server, "community", "deactivate", communityId, "--yes")).code, 0);
  t.match((await parley(server, "audit")).stdout, /community\.deactivate/);

  server = await startServer({}, { dataDir: server.dataDir });
  const alice2 = await server.login("alice");
  const members = await alice2.request("room.members", { roomId: mathsId });
  t.same(members.members!.map((m: { userId: string }) => m.userId), ["@alice:school.test"], "carol is gone after the restart");
  t.equal(await refusalOf(alice2, "message.send", { roomId: communityId, body: "hello?", txnId: "c1" }), "room.deactivated");
  const sent = await alice2.request("message.send", { roomId: mathsId, body: "after", txnId: "a1" });
  const last = server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n, max(seq) AS seq FROM room_events WHERE room_id = ?").get(mathsId) as { n: number; seq: number };
  t.same([sent.event.seq, last.n], [last.seq, last.seq], "the group's log stays gapless");
  t.same(server.logs.filter((l) => Number(l.level) >= 50), [], "the server starts clean");
});
