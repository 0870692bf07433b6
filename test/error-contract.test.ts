/**
 * The error contract: every code an op or endpoint declares in protocol/ is one it really answers
 * with. Most are exercised by the tests of each area; these are the refusals no other test made,
 * each over the real protocol. And the checker itself (scripts/check-error-contract.ts), fed by
 * hand, so that it is known to fail when it should.
 *
 *   alice  the head teacher (owner of the school)    carol  a teacher and admin
 *   bob    a parent                                   eve    someone outside
 */
import t from "tap";
import BetterSqlite3 from "better-sqlite3";
import { loadProtocol } from "../protocol/index.ts";
import { checkErrorContract } from "../scripts/check-error-contract.ts";
import { caller, password, post, refusalOf, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** The school with carol as admin and bob as a member. */
async function openSchool(t: Test, server: TestServer) {
  const call = caller(t);
  const [alice, carol, bob, eve] = await Promise.all(["alice", "carol", "bob", "eve"].map((n) => server.user(n)));
  const school = await call(alice, "community.create", { name: "Hillside School" });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  for (const c of [carol, bob]) await call(c, "link.join", { token: link.token });
  await call(alice, "member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  return { call, alice, carol, bob, eve, school, link };
}

async function uploadText(server: TestServer, token: string): Promise<string> {
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=notes.txt`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "Homework: exercises 4 to 9.\n" });
  return ((await res.json()) as { mediaId: string }).mediaId;
}

t.test("a deactivated community refuses every admin change with room.deactivated", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  await call(alice, "member.ban", { roomId: school.roomId, userId: eve.userId });
  await call(alice, "community.deactivate", { roomId: school.roomId });
  const r = school.roomId;
  t.equal(await refusalOf(alice, "community.unlink", { roomId: r, groupId: maths.roomId }), "room.not_found", "deactivating unlinked every group: none is left to unlink");
  t.equal(await refusalOf(alice, "join.approve", { roomId: r, userId: eve.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "join.reject", { roomId: r, userId: eve.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "member.ban", { roomId: r, userId: bob.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "member.invite", { roomId: r, userId: eve.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "member.remove", { roomId: r, userId: bob.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "member.unban", { roomId: r, userId: eve.userId }), "room.deactivated");
  t.equal(await refusalOf(alice, "room.settings.update", { roomId: r, announcementReplies: false }), "room.deactivated");
  t.equal(await refusalOf(eve, "member.unban", { roomId: r, userId: eve.userId }), "room.not_found", "someone outside still learns nothing");
});

t.test("approving a banned user is refused with room.banned", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, eve, school } = await openSchool(t, server);
  await call(alice, "room.settings.update", { roomId: school.roomId, joinApproval: true });
  await call(alice, "member.ban", { roomId: school.roomId, userId: eve.userId });
  t.equal(await refusalOf(alice, "join.approve", { roomId: school.roomId, userId: eve.userId }), "room.banned");
});

t.test("linking a group whose members would overfill the community is refused with room.full", async (t) => {
  const server = await startServer({ ...unthrottled, rooms: { members_per_community: 3 } });
  t.teardown(() => server.stop(true));
  const { call, alice, eve, school } = await openSchool(t, server);
  const clubs = await call(alice, "group.create", { name: "Chess club" });
  const link = await call(alice, "link.create", { roomId: clubs.roomId });
  await call(eve, "link.join", { token: link.token });
  t.equal(await refusalOf(alice, "community.link", { roomId: school.roomId, groupId: clubs.roomId }), "room.full", "eve would be the school's fourth member");
  t.equal((await call(alice, "room.get", { roomId: clubs.roomId })).communityId, null, "and the group stays standalone");
});

t.test("calendar events: cancelling or editing one that does not exist, in a room one is not in, or posting where one may not", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, bob, eve } = await openSchool(t, server);
  const maths = await call(alice, "group.create", { name: "Maths" });
  const link = await call(alice, "link.create", { roomId: maths.roomId });
  await call(bob, "link.join", { token: link.token });
  const start = Date.now() + 86_400_000;
  const created = await alice.request("event.create", { roomId: maths.roomId, txnId: "e1", title: "Parents' evening", start, timeZone: "Europe/London" });
  const seq = created.event.seq;
  t.equal(await refusalOf(alice, "event.cancel", { roomId: maths.roomId, seq: seq + 100 }), "event.not_found");
  t.equal(await refusalOf(alice, "event.update", { roomId: maths.roomId, seq: seq + 100, title: "Later" }), "event.not_found");
  t.equal(await refusalOf(eve, "event.cancel", { roomId: maths.roomId, seq }), "room.not_found");
  t.equal(await refusalOf(eve, "event.update", { roomId: maths.roomId, seq, title: "Mine now" }), "room.not_found");
  await call(alice, "room.settings.update", { roomId: maths.roomId, sendPolicy: "admins" });
  t.equal(await refusalOf(bob, "event.create", { roomId: maths.roomId, txnId: "e2", title: "Bake sale", start, timeZone: "Europe/London" }), "room.forbidden", "only admins post where sendPolicy is admins");
  t.equal(await refusalOf(bob, "poll.create", { roomId: maths.roomId, txnId: "p1", question: "Cake?", options: ["Yes", "No"] }), "room.forbidden", "polls alike");
});

t.test("a member of the announcement group may not list who reacted", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, bob, school } = await openSchool(t, server);
  const sent = await call(alice, "message.send", { roomId: school.roomId, txnId: "a1", body: "Sports day is on Friday." });
  t.equal(await refusalOf(bob, "message.reactions", { roomId: school.roomId, seq: sent.event.seq }), "room.forbidden");
});

t.test("a room's picture must be a file one may use, and an image", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice } = await openSchool(t, server);
  const unknown = "0".repeat(64);
  const text = await uploadText(server, alice.session.accessToken);
  t.equal(await refusalOf(alice, "community.create", { name: "Another school", picture: unknown }), "media.not_found");
  t.equal(await refusalOf(alice, "community.create", { name: "Another school", picture: text }), "media.not_image");
  t.equal(await refusalOf(alice, "group.create", { name: "Art", picture: text }), "media.not_image");
  const art = await call(alice, "group.create", { name: "Art" });
  t.equal(await refusalOf(alice, "room.update", { roomId: art.roomId, picture: unknown }), "media.not_found");
  t.equal(await refusalOf(alice, "room.update", { roomId: art.roomId, picture: text }), "media.not_image");
});

t.test("authenticated endpoints refuse a missing and an invalid token", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const mediaId = await uploadText(server, alice.session.accessToken);
  const get = async (path: string, token?: string) => {
    const res = await fetch(`${server.baseUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
  };
  for (const path of [`/api/v1/media/${mediaId}`, `/api/v1/media/${mediaId}/preview`]) {
    t.same(await get(path), [401, "auth.required"], `${path} without a token`);
    t.same(await get(path, "not-a-token"), [401, "auth.invalid_token"], `${path} with a bad token`);
  }
  const changed = await post(server, "/api/v1/auth/password", { currentPassword: password, newPassword: "another horse battery" }, "not-a-token");
  t.same([changed.status, changed.body.error.code], [401, "auth.invalid_token"]);
});

t.test("a server shutting down answers unavailable, and a failure inside it internal, with no details", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const maths = await alice.request("group.create", { name: "Maths" });
  // The room core refuses new commands once shutdown has begun (before the database closes).
  server.app.parley.rooms.close();
  t.equal(await refusalOf(alice, "message.send", { roomId: maths.roomId, txnId: "late", body: "Anyone there?" }), "unavailable");
  // A database that has gone away is a failure of the server, not of the request.
  server.app.parley.storage.sqlite.close();
  let error: { code?: string; message?: string; details?: unknown } = {};
  try {
    await alice.request("room.list", {});
  } catch (err) {
    error = err as typeof error;
  }
  t.same([error.code, error.details], ["internal", undefined], "over the WebSocket");
  t.match(error.message, /The server failed to handle the request\.$/, "with the catalogue's message only");
  const login = await post(server, "/api/v1/auth/login", { username: "alice", password });
  t.same([login.status, login.body.error], [500, { code: "internal", message: "The server failed to handle the request." }], "over HTTP");
});

t.test("a database held busy by another connection answers unavailable (HTTP 503 with Retry-After) and keeps nothing", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const maths = await alice.request("group.create", { name: "Maths" });
  // Another connection to the same file (a CLI command, a backup) holds the write lock longer
  // than the server's busy timeout (shortened here from 5 s).
  server.app.parley.storage.sqlite.pragma("busy_timeout = 100");
  const other = new BetterSqlite3(server.app.parley.storage.path);
  t.teardown(() => other.close());
  other.exec("BEGIN IMMEDIATE");
  t.equal(await refusalOf(alice, "message.send", { roomId: maths.roomId, txnId: "busy-1", body: "Is the trip on Friday?" }), "unavailable", "over the WebSocket");
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "alice", password }) });
  t.same([login.status, ((await login.json()) as { error: { code: string } }).error.code, login.headers.get("retry-after")], [503, "unavailable", "1"], "over HTTP, with Retry-After");
  other.exec("ROLLBACK");
  const history = await alice.request("message.history", { roomId: maths.roomId });
  t.notOk(history.messages.some((m) => m.body === "Is the trip on Friday?"), "the refused send left nothing");
  const again = await alice.request("message.send", { roomId: maths.roomId, txnId: "busy-1", body: "Is the trip on Friday?" });
  t.notOk(again.duplicate, "the same send, repeated once the lock is gone, is taken");
});

// ---- the checker itself ----

t.test("the contract check fails on an undeclared code, an unexercised one, and an unused general one", async (t) => {
  const protocol = loadProtocol();
  const everything = [
    ...[...protocol.ops].flatMap(([name, doc]) => (doc["x-parley"]?.errors ?? []).map((e) => ({ via: "ws" as const, name, code: e.code }))),
    ...[...protocol.http].flatMap(([name, doc]) => (doc["x-parley"]?.errors ?? []).map((e) => ({ via: "http" as const, name, code: e.code }))),
    ...protocol.generalErrors.ws.map((e) => ({ via: "ws" as const, name: null, code: e.code })),
    ...protocol.generalErrors.http.map((e) => ({ via: "http" as const, name: null, code: e.code })),
    ...[...protocol.federation].flatMap(([name, doc]) => (doc["x-parley"]?.errors ?? []).map((e) => ({ via: "http" as const, name: `federation/${name}`, code: e.code }))),
    ...protocol.generalErrors.federation.map((e) => ({ via: "http" as const, name: "federation/send", code: e.code })),
  ];
  const clean = checkErrorContract(protocol, everything);
  t.same(clean.failures, [], "every declared code answered: nothing to report");
  t.ok(clean.total >= everything.length);

  const undeclared = checkErrorContract(protocol, [...everything, { via: "ws", name: "ping", code: "room.not_found", source: "test/x.test.ts" }]);
  t.same(undeclared.failures, ["op ping answered room.not_found, which it does not declare (seen in test/x.test.ts)"]);
  t.same(checkErrorContract(protocol, [...everything, { via: "ws", name: "ping", code: "rate_limited" }]).failures, [], "a general code is declared for every op");
  t.same(checkErrorContract(protocol, [...everything, { via: "http", name: "discovery", code: "room.not_found" }]).failures, ["endpoint discovery answered room.not_found, which it does not declare (seen in an unnamed process)"]);

  t.same(checkErrorContract(protocol, [...everything, { via: "http", name: "federation/wake", code: "federation.stale" }]).failures, [], "a federation general code is declared for every federation endpoint");
  t.same(checkErrorContract(protocol, [...everything, { via: "http", name: "federation/wake", code: "room.not_found" }]).failures, ["endpoint federation/wake answered room.not_found, which it does not declare (seen in an unnamed process)"]);
  t.same(checkErrorContract(protocol, [...everything, { via: "http", name: "discovery", code: "federation.stale" }]).failures, ["endpoint discovery answered federation.stale, which it does not declare (seen in an unnamed process)"], "but for no client endpoint");
  const withoutProposeCode = everything.filter((r) => !(r.name === "federation/propose" && r.code === "unknown_op"));
  t.same(checkErrorContract(protocol, withoutProposeCode).failures, ["endpoint federation/propose declares unknown_op, but no test made it answer with it"]);
  const federationGeneralElsewhere = everything.map((r) => (r.name === "federation/send" && r.code === "federation.replayed" ? { ...r, name: "discovery" } : r));
  t.same(checkErrorContract(protocol, federationGeneralElsewhere).failures, [
    "endpoint discovery answered federation.replayed, which it does not declare (seen in an unnamed process)",
    "the general federation error federation.replayed was never answered by a federation endpoint in any test",
  ]);
  const withoutOne = everything.filter((r) => !(r.name === "join.cancel" && r.code === "room.no_request"));
  t.same(checkErrorContract(protocol, withoutOne).failures, ["op join.cancel declares room.no_request, but no test made it answer with it"]);
  const withoutGeneral = everything.filter((r) => !(r.via === "ws" && r.code === "unknown_op"));
  t.same(checkErrorContract(protocol, withoutGeneral).failures, ["the general WebSocket error unknown_op was never answered in any test"]);
  const none = checkErrorContract(protocol, []);
  t.equal(none.failures.length, none.total, "with no records, every declaration fails");
});
