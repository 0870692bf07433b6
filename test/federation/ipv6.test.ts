/**
 * Servers named by bracketed IPv6 literals (`[::1]:8443`). Names are parsed in one place
 * (server/names.ts): a bracketed address must be in its canonical form, so that one server has
 * one name. Two servers on the IPv6 loopback, named `[::1]:<port>`, federate: alice of the first
 * owns the group Maths (`!…:[::1]:<port>`), bob of the second (`@bob:[::1]:<port>`) joins it by
 * its link and writes; a community there denies his server by name; names that are not canonical
 * are refused with the codes each place already used.
 */
import t from "tap";
import { createServer } from "node:net";
import { eventFor, nextEvent, ok, post, refusalOf, startServer, until, type TestServer } from "../helpers.ts";
import { isIpLiteral, isServerName, parseServerName } from "../../server/names.ts";
import { originOf } from "../../server/rooms/hash.ts";
import { aclDenies } from "../../server/rooms/types.ts";
import { resolveConfig } from "../../server/config/load.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/**
 * Two free ports on the IPv6 loopback (held open together, so that they differ), or null when
 * the machine has no IPv6 loopback: the cluster tests are then skipped.
 */
async function ipv6Ports(): Promise<[number, number] | null> {
  const listen = () =>
    new Promise<ReturnType<typeof createServer> | null>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(null));
      s.listen(0, "::1", () => resolve(s));
    });
  const held = [await listen(), await listen()];
  const ports = held.map((s) => {
    const a = s?.address();
    return typeof a === "object" && a ? a.port : null;
  });
  await Promise.all(held.map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  return ports[0] && ports[1] ? [ports[0], ports[1]] : null;
}

/** Two servers on ::1, named `[::1]:<port>` after their ports, each in the other's peers table. */
async function twoOnIpv6(t: Test): Promise<{ a: TestServer; b: TestServer; nameA: string; nameB: string } | null> {
  const ports = await ipv6Ports();
  if (!ports) return null;
  const names = ports.map((p) => `[::1]:${p}`);
  const peers = Object.fromEntries(names.map((n, i) => [n, `http://[::1]:${ports[i]}`]));
  const servers: TestServer[] = [];
  for (const [i, name] of names.entries()) {
    servers.push(await startServer({ server: { name }, listen: { host: "::1", port: ports[i] }, federation: { allow_plain_http: true, peers } }));
  }
  t.teardown(async () => {
    for (const s of servers) await s.stop(true).catch(() => undefined);
  });
  return { a: servers[0], b: servers[1], nameA: names[0], nameB: names[1] };
}

t.test("a server name is a DNS name or an IP literal, and a bracketed IPv6 address only in its canonical form", async (t) => {
  t.same(parseServerName("[::1]:8443"), { host: "[::1]", port: 8443, kind: "ipv6" });
  t.same(parseServerName("[2001:db8::1]"), { host: "[2001:db8::1]", port: null, kind: "ipv6" });
  t.same(parseServerName("school.example"), { host: "school.example", port: null, kind: "dns" });
  t.same(parseServerName("203.0.113.7:8448"), { host: "203.0.113.7", port: 8448, kind: "ipv4" });
  for (const name of ["[0:0::1]", "[::0001]", "[2001:DB8::1]", "[2001:0db8::1]", "[fe80::1%eth0]", "[::1", "::1", "[::1]:", "[::1]:123456", "[school.test]", "[1.2.3.4]", "School.example", ""]) {
    t.notOk(isServerName(name), `${JSON.stringify(name)} is not a server name`);
  }
  t.ok(isIpLiteral("[::1]:8443"), "a bracketed IPv6 name is an IP literal");
  t.ok(aclDenies({ deny: [], allowIpLiterals: false }, "[::1]:8443"), "so a list refusing IP literals refuses it");
  t.ok(aclDenies({ deny: ["[::1]:*"] }, "[::1]:8443"), "and a deny pattern can name it");
  t.throws(() => resolveConfig({ server: { name: "[0::1]:8443" } }), /server\.name/, "a configured name that is not canonical is refused");
  t.throws(() => resolveConfig({ federation: { peers: { "[::01]": "http://[::1]:1" } } }), /not a server name/, "and so is a peers table entry");
  t.equal(resolveConfig({ server: { name: "[::1]:8443" } }).server.name, "[::1]:8443", "a canonical one is taken");
});

t.test("two servers named by the IPv6 loopback federate: bob of one joins alice's group on the other and they talk", async (t) => {
  const pair = await twoOnIpv6(t);
  if (!pair) return t.plan(0, "this machine has no IPv6 loopback");
  const { a, b, nameA, nameB } = pair;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  t.equal(alice.userId, `@alice:${nameA}`, "user ids carry the bracketed name");
  t.equal(bob.userId, `@bob:${nameB}`);
  const discovery = (await (await fetch(`${a.baseUrl}/.well-known/parley`)).json()) as { server: string };
  t.equal(discovery.server, nameA, "the discovery document names the server by it");
  const { roomId } = await ok(t, alice, "group.create", { name: "Maths" });
  t.ok(roomId.endsWith(`:${nameA}`), "room ids name their home by it");
  const { token } = await ok(t, alice, "link.create", { roomId });
  const joined = await ok(t, bob, "link.join", { token, server: nameA });
  t.equal(joined.roomId, roomId, "bob joins through his own server: a signed proposal between the two");
  await until(t, "b replicates Maths", () => b.app.parley.rooms.state(roomId)?.members.has(bob.userId) === true);
  const aliceHears = nextEvent(alice, (e) => e.roomId === roomId && e.type === "message" && e.sender === bob.userId, 30_000);
  await ok(t, bob, "message.send", { roomId, txnId: "b1", body: "Hello over IPv6" });
  t.match(await aliceHears, { sender: bob.userId, content: { body: "Hello over IPv6" } }, "alice gets bob's message");
  t.equal(originOf(bob.userId), nameB, "its origin (in the event's hash) is the bracketed name");
  const bobHears = nextEvent(bob, (e) => e.roomId === roomId && e.type === "message" && e.sender === alice.userId, 30_000);
  await ok(t, alice, "message.send", { roomId, txnId: "a1", body: "Welcome" });
  t.match(await bobHears, { sender: alice.userId, content: { body: "Welcome" } }, "and bob gets alice's, replicated to his server");
  t.equal((await ok(t, bob, "profile.get", { userId: alice.userId })).userId, alice.userId, "profiles are fetched across by the bracketed name");
});

t.test("a community on a server named by an IPv6 literal denies a server named by another by its name, and cannot refuse IP literals", async (t) => {
  const pair = await twoOnIpv6(t);
  if (!pair) return t.plan(0, "this machine has no IPv6 loopback");
  const { a, b, nameB } = pair;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const { token } = await ok(t, alice, "link.create", { roomId: school.roomId });
  await ok(t, bob, "link.join", { token, server: pair.nameA });
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school.roomId, deny: [], allowIpLiterals: false }), "room.acl_denies_home", "its own name is an IP literal");
  const bobHears = eventFor(bob, school.roomId, "member.remove", bob.userId, 30_000);
  const set = await ok(t, alice, "community.servers.set", { roomId: school.roomId, deny: [nameB] });
  t.same(set.removed, [bob.userId], "bob's server, denied by its bracketed name, loses him");
  t.match(await bobHears, { content: { userId: bob.userId, serverAcl: true } }, "and his server hears of it");
  t.equal(await refusalOf(bob, "link.join", { token, server: pair.nameA }), "room.server_denied", "he cannot come back");
  await until(t, "b holds the removal", () => b.app.parley.rooms.state(school.roomId)?.members.has(bob.userId) === false);
});

t.test("names that are not canonical are refused where they arrive: a link's server, a request's origin, a user to invite", async (t) => {
  const pair = await twoOnIpv6(t);
  if (!pair) return t.plan(0, "this machine has no IPv6 loopback");
  const { a, b, nameA } = pair;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await ok(t, alice, "group.create", { name: "Maths" });
  const { token } = await ok(t, alice, "link.create", { roomId });
  const port = nameA.slice("[::1]:".length);
  t.equal(await refusalOf(bob, "link.join", { token, server: `[0:0::1]:${port}` }), "federation.unreachable", "another spelling of a's address names no server to reach");
  t.equal(await refusalOf(bob, "link.join", { token, server: `[::1` } as never), "invalid_params", "a broken one does not fit the op");
  const res = await fetch(`${a.baseUrl}/_parley/federation/v1/wake`, { method: "POST", headers: { "content-type": "application/json", "parley-origin": `[0::1]:${port}` }, body: "{}" });
  t.equal(res.status, 401);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, "federation.signature_missing", "a request whose origin is no server name is refused before its body is read");
  t.equal(await refusalOf(alice, "member.invite", { roomId, userId: `@carol:[::0:1]:${port}` }), "federation.unreachable", "an invitation to a user of no server name reaches no one");
  // The server lists take bracketed names, in their one spelling.
  a.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(alice.userId);
  const listed = await post(a, "/api/v1/admin/federation.servers.set", { server: "[2001:db8::7]:8448", list: "deny" }, alice.session.accessToken);
  t.equal(listed.status, 200, "a server admin denies [2001:db8::7]:8448");
  t.notOk(a.app.parley.federation.policy.permits("[2001:db8::7]:8448"), "and it is refused from then on");
  const misspelt = await post(a, "/api/v1/admin/federation.servers.set", { server: "[2001:0db8::7]:8448", list: "deny" }, alice.session.accessToken);
  t.equal(misspelt.body?.error?.code, "bad_request", "another spelling of it is no server name");
});
