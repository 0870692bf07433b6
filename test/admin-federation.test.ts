/**
 * The federation endpoints of the admin API (`admin.federation.*`), for the web client's
 * "Federation" page: the peers as `parley federation status` shows them (two real servers on
 * loopback: bob of b.test is in alice's community on a.test), the server lists (config entries
 * read-only, database entries editable as with `parley federation allow|deny|unlist`), and the
 * signing key with its rotation. dana is a.test's server admin; bob, of a.test too in the
 * refusal tests, is not.
 */
import t from "tap";
import { startCluster } from "./federation/cluster.ts";
import { ok, post, schemaErrors, startServer, type TestServer, until } from "./helpers.ts";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { createServerPolicy } from "../federation/policy.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const endpoints = ["federation.status", "federation.servers.list", "federation.servers.set", "federation.rotate_key"];


function admin(server: TestServer, name: string, body: unknown, as?: ParleyClient) {
  return post(server, `/api/v1/admin/${name}`, body, as?.session.accessToken);
}

async function answer(t: Test, server: TestServer, name: string, body: unknown, as: ParleyClient): Promise<any> {
  const res = await admin(server, name, body, as);
  t.equal(res.status, 200, `${name} succeeds ${JSON.stringify(res.body?.error ?? "")}`);
  t.same(schemaErrors(`http/admin.${name}#/$defs/response`, res.body), [], `${name}: the answer matches its schema`);
  return res.body;
}

/** Makes `name` a server admin (the flag in the database, as `parley user make-admin` sets it). */
async function serverAdmin(server: TestServer, name: string): Promise<ParleyClient> {
  const client = await server.user(name);
  server.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(client.userId);
  return client;
}

const auditOf = (server: TestServer) =>
  server.app.parley.storage.sqlite.prepare("SELECT actor, action, target, details FROM server_audit WHERE action LIKE 'federation.%' ORDER BY id").all() as {
    actor: string; action: string; target: string; details: string;
  }[];

t.test("every federation admin endpoint refuses a request without a token, with an invalid one, and from a user who is not a server admin", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const dana = await serverAdmin(server, "dana");
  const bob = await server.user("bob");
  const keyBefore = server.app.parley.keys.current().keyId;
  for (const name of endpoints) {
    const body = name === "federation.servers.set" ? { server: "spam.test", list: "deny" } : {};
    const anonymous = await admin(server, name, body);
    t.same([anonymous.status, anonymous.body.error.code], [401, "auth.required"], `${name}: no token`);
    const forged = await post(server, `/api/v1/admin/${name}`, body, `${dana.session.accessToken}x`);
    t.same([forged.status, forged.body.error.code], [401, "auth.invalid_token"], `${name}: a token that does not verify`);
    const asBob = await admin(server, name, body, bob);
    t.same([asBob.status, asBob.body.error.code], [403, "admin.forbidden"], `${name}: bob is no server admin`);
  }
  t.equal(server.app.parley.keys.current().keyId, keyBefore, "the key was not rotated");
  t.same((await answer(t, server, "federation.servers.list", {}, dana)).database, [], "nothing was listed");
  t.same(auditOf(server), [], "nothing was recorded");
});

t.test("a malformed server name or list is refused and changes nothing", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const dana = await serverAdmin(server, "dana");
  for (const body of [
    { server: "Spam Example", list: "deny" },
    { server: "spam.test/path", list: "deny" },
    { server: "", list: "deny" },
    { server: "spam.test:123456", list: "allow" },
    { server: "spam.test", list: "block" },
    { server: "spam.test" },
    { server: "spam.test", list: "deny", reason: "extra" },
  ]) {
    const res = await admin(server, "federation.servers.set", body, dana);
    t.same([res.status, res.body.error.code], [400, "bad_request"], `refused: ${JSON.stringify(body)}`);
  }
  t.same((await answer(t, server, "federation.servers.list", {}, dana)).database, [], "nothing was listed");
  t.same(auditOf(server), [], "nothing was recorded");
});

t.test("dana reads the config's lists, and puts servers on the database's lists and takes them off, as the CLI would", async (t) => {
  const server = await startServer({ federation: { deny: ["spam.test"], allow: [] } });
  t.teardown(() => server.stop(true));
  const dana = await serverAdmin(server, "dana");
  const policy = createServerPolicy(server.app.parley.storage, server.config.federation);

  t.same(await answer(t, server, "federation.servers.list", {}, dana), { config: { allow: [], deny: ["spam.test"] }, database: [] }, "the config's deny list, nothing in the database");
  t.ok(policy.permits("noisy.test"), "noisy.test may federate at first");

  const denied = await answer(t, server, "federation.servers.set", { server: "noisy.test", list: "deny" }, dana);
  t.same(denied, { config: { allow: [], deny: ["spam.test"] }, database: [{ server: "noisy.test", list: "deny" }] }, "the answer is the lists as they are now");
  t.notOk(policy.permits("noisy.test"), "noisy.test is refused from now on");
  t.ok(policy.permits("branch.test"), "other servers still federate");

  const allowed = await answer(t, server, "federation.servers.set", { server: "branch.test:8443", list: "allow" }, dana);
  t.same(allowed.database, [{ server: "branch.test:8443", list: "allow" }, { server: "noisy.test", list: "deny" }]);
  t.ok(policy.permits("branch.test:8443"), "the allowed server federates");
  t.notOk(policy.permits("other.test"), "with an allow entry, only listed servers federate");

  await answer(t, server, "federation.servers.set", { server: "branch.test:8443", list: null }, dana);
  const unlisted = await answer(t, server, "federation.servers.set", { server: "noisy.test", list: null }, dana);
  t.same(unlisted.database, [], "both taken off");
  t.ok(policy.permits("other.test") && policy.permits("noisy.test"), "every server but the config's denied one federates again");
  t.notOk(policy.permits("spam.test"), "the config's entry stays");

  const again = await answer(t, server, "federation.servers.set", { server: "spam.test", list: null }, dana);
  t.same(again.config.deny, ["spam.test"], "unlisting a config entry leaves the config alone");

  t.same(
    auditOf(server).map((r) => [r.actor, r.action, r.target]),
    [
      [dana.userId, "federation.deny", "noisy.test"],
      [dana.userId, "federation.allow", "branch.test:8443"],
      [dana.userId, "federation.unlist", "branch.test:8443"],
      [dana.userId, "federation.unlist", "noisy.test"],
      [dana.userId, "federation.unlist", "spam.test"],
    ],
    "each change is in the server's audit log",
  );
});

t.test("dana rotates the signing key: the server signs with the new one at once and still publishes the old one", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const dana = await serverAdmin(server, "dana");
  const before = await answer(t, server, "federation.status", {}, dana);
  const old = server.app.parley.keys.current().keyId;
  t.equal(before.key.current.keyId, old, "the current key is the one the server signs with");
  t.same(before.key.retired, []);
  t.same(before.peers, [], "no peers on a server alone");
  t.equal(before.enabled, true);

  const rotated = await answer(t, server, "federation.rotate_key", {}, dana);
  t.equal(rotated.retired, old);
  t.not(rotated.current, old, "a new key");
  t.equal(server.app.parley.keys.current().keyId, rotated.current, "the running server signs with it already");
  t.equal(rotated.key.current.keyId, rotated.current);
  t.same(rotated.key.retired.map((k: { keyId: string }) => k.keyId), [old], "the old key is retired");

  const published = await fetch(`${server.baseUrl}/.well-known/parley/keys`).then((r) => r.json());
  t.same(
    published.keys.map((k: { kid: string; validUntil: number | null }) => [k.kid, k.validUntil === null]),
    [[rotated.current, true], [old, false]],
    "both keys are published, the old one with its validUntil",
  );
  t.same(
    auditOf(server).map((r) => [r.actor, r.action, r.target, JSON.parse(r.details)]),
    [[dana.userId, "federation.rotate_key", rotated.current, { retired: old }]],
  );
});

t.test("dana sees the peers as `parley federation status` does: b.test with its rooms, then its backlog and failures while it is down", async (t) => {
  const servers = await startCluster(["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  t.teardown(async () => {
    for (const s of Object.values(servers)) await s.stop(true).catch(() => undefined);
  });
  const dana = await serverAdmin(a, "dana");
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  await ok(t, bob, "link.join", { token, server: "a.test" });

  let status: any;
  await until(t, "b.test caught up", async () => {
    status = await answer(t, a, "federation.status", {}, dana);
    return status.peers.length === 1 && status.peers[0].backlog === 0 && status.peers[0].lastSuccessAt !== null;
  });
  t.match(status.peers[0], { server: "b.test", rooms: 1, backlog: 0, failures: 0, dormant: false, lastError: null, nextAttemptAt: null });

  await b.stop();
  await ok(t, alice, "message.send", { roomId: school.roomId, txnId: "t1", body: "Sports day is on Friday" });
  await until(t, "a failed to deliver to b.test", async () => {
    status = await answer(t, a, "federation.status", {}, dana);
    return status.peers[0].failures > 0;
  });
  const peer = status.peers[0];
  t.equal(peer.server, "b.test");
  t.ok(peer.backlog >= 1, "the message waits for b.test");
  t.type(peer.lastError, "string", "the last error is shown");
  t.equal(peer.dormant, false, "not dormant after a few failures");
});

t.test("on a server with federation turned off, dana is told so, with no peers", async (t) => {
  const server = await startServer({ federation: { enabled: false } });
  t.teardown(() => server.stop(true));
  const dana = await serverAdmin(server, "dana");
  const status = await answer(t, server, "federation.status", {}, dana);
  t.equal(status.enabled, false);
  t.same(status.peers, []);
  t.equal(status.key.current.keyId, server.app.parley.keys.current().keyId, "the key is shown all the same (it signs nothing until federation is on)");
});
