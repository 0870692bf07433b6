/**
 * Signed server-to-server requests against a real server, sent by a hostile fake peer that
 * signs with its own key: every refusal has its own coded 401 (or 403 for policy) and changes
 * nothing, and a genuine request is answered.
 */
import t from "tap";
import { request } from "node:http";
import { startServer, type TestServer } from "../helpers.ts";
import { startFakePeer, makeKey, type FakePeer } from "./peer.ts";
import { setServerPolicy } from "../../federation/policy.ts";
import { federationPrefix } from "../../federation/peers.ts";
import type { ConfigOverrides } from "../../server/config/load.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function setup(t: Test, federation: ConfigOverrides["federation"] = {}): Promise<{ server: TestServer; evil: FakePeer; target: { baseUrl: string; name: string } }> {
  const evil = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl }, ...federation } });
  t.teardown(() => server.stop(true));
  await server.user("alice", { connect: false });
  return { server, evil, target: { baseUrl: server.baseUrl, name: "school.test" } };
}

/** A POST on a connection of its own (fetch's pool may hold a socket the stopped server closed). */
function postOnce(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ask = { requester: "@mallory:evil.test", userIds: ["@alice:school.test", "@nobody:school.test"] };

t.test("a peer's genuine signed request is answered: profiles of the server's own users", async (t) => {
  const { evil, target } = await setup(t);
  const res = await evil.call(target, "/profile", ask);
  t.equal(res.status, 200);
  t.same(res.body, { profiles: [{ userId: "@alice:school.test", displayName: "Alice", about: "", avatar: null }] });
});

t.test("the discovery document names the federation endpoint", async (t) => {
  const { server } = await setup(t);
  const doc = await (await fetch(`${server.baseUrl}/.well-known/parley`)).json();
  t.equal(doc.endpoints.federation, `${server.baseUrl}${federationPrefix}`);
});

t.test("each forged or misdirected request is refused with its own code, and changes nothing", async (t) => {
  const { evil, target, server } = await setup(t);
  const url = `${server.baseUrl}${federationPrefix}/profile`;
  const refusals: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ["no signature at all", () => evil.send(server.baseUrl, "/profile", { "content-type": "application/json", "parley-origin": "evil.test", "parley-destination": "school.test" }, Buffer.from(JSON.stringify(ask))), 401, "federation.signature_missing"],
    ["signed with a key the peer does not publish", async () => {
      const { headers, bytes } = await evil.sign({ url, body: ask, destination: "school.test", key: makeKey() });
      return evil.send(server.baseUrl, "/profile", headers, bytes);
    }, 401, "federation.unknown_key"],
    ["a body changed after signing, under the signed digest", async () => {
      const { headers } = await evil.sign({ url, body: ask, destination: "school.test" });
      return evil.send(server.baseUrl, "/profile", headers, Buffer.from(JSON.stringify({ ...ask, userIds: ["@bob:school.test"] })));
    }, 401, "federation.digest_mismatch"],
    ["the signature of one request on another body and digest", async () => {
      const a = await evil.sign({ url, body: ask, destination: "school.test" });
      const b = await evil.sign({ url, body: { ...ask, userIds: ["@bob:school.test"] }, destination: "school.test" });
      return evil.send(server.baseUrl, "/profile", { ...b.headers, signature: a.headers.signature }, b.bytes);
    }, 401, "federation.signature_invalid"],
    ["a signature that does not cover every required component", async () => {
      const { headers, bytes } = await evil.sign({ url, body: ask, destination: "school.test" });
      return evil.send(server.baseUrl, "/profile", { ...headers, "signature-input": headers["signature-input"].replace('"@query" ', "") }, bytes);
    }, 401, "federation.signature_malformed"],
    ["addressed to another server", () => evil.call({ ...target, name: "other.test" }, "/profile", ask), 401, "federation.wrong_destination"],
    ["created ten minutes ago", () => evil.call(target, "/profile", ask, { at: Date.now() - 600_000 }), 401, "federation.stale"],
    ["created ten minutes ahead", () => evil.call(target, "/profile", ask, { at: Date.now() + 600_000 }), 401, "federation.stale"],
    ["on behalf of a user of another server", () => evil.call(target, "/profile", { ...ask, requester: "@alice:school.test" }), 401, "federation.sender_not_of_origin"],
    ["claiming another origin than its own", async () => {
      const { headers, bytes } = await evil.sign({ url, body: ask, destination: "school.test", origin: "school.test" });
      return evil.send(server.baseUrl, "/profile", headers, bytes);
    }, 401, "federation.unknown_key"],
    ["a body that does not match the endpoint's schema", () => evil.call(target, "/profile", { requester: "@mallory:evil.test" }), 400, "bad_request"],
  ];
  for (const [name, run, status, code] of refusals) {
    const res = await run();
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.body?.error?.code, code, `${name}: ${code}`);
  }
});

t.test("a replayed request is refused, the first one having been answered", async (t) => {
  const { evil, server } = await setup(t);
  const { headers, bytes } = await evil.sign({ url: `${server.baseUrl}${federationPrefix}/profile`, body: ask, destination: "school.test" });
  t.equal((await evil.send(server.baseUrl, "/profile", headers, bytes)).status, 200);
  const again = await evil.send(server.baseUrl, "/profile", headers, bytes);
  t.equal(again.status, 401);
  t.equal(again.body.error.code, "federation.replayed");
});

t.test("a request replayed after the receiver restarts, within its signature's window, is still refused", async (t) => {
  const { evil, server } = await setup(t);
  const { headers, bytes } = await evil.sign({ url: `${server.baseUrl}${federationPrefix}/profile`, body: ask, destination: "school.test" });
  t.equal((await evil.send(server.baseUrl, "/profile", headers, bytes)).status, 200);
  const again = await server.restart();
  t.teardown(() => again.stop(true));
  const replayed = await postOnce(`${again.baseUrl}${federationPrefix}/profile`, headers, bytes);
  t.equal(replayed.status, 401);
  t.equal(replayed.body.error.code, "federation.replayed");
  const signed = await evil.sign({ url: `${again.baseUrl}${federationPrefix}/profile`, body: ask, destination: "school.test" });
  t.equal((await postOnce(`${again.baseUrl}${federationPrefix}/profile`, signed.headers, signed.bytes)).status, 200, "a new request of the same peer is answered");
});

t.test("unknown key ids are cached as unknown: a flood of them costs one fetch of the peer's keys", async (t) => {
  const { evil, server } = await setup(t);
  const url = `${server.baseUrl}${federationPrefix}/profile`;
  const invented = makeKey();
  const before = evil.keyFetches;
  for (let i = 0; i < 5; i++) {
    const { headers, bytes } = await evil.sign({ url, body: ask, destination: "school.test", key: invented });
    t.equal((await evil.send(server.baseUrl, "/profile", headers, bytes)).body.error.code, "federation.unknown_key");
  }
  t.equal(evil.keyFetches - before, 1, "the keys were fetched once");
});

t.test("a peer's new key is fetched when first seen; its retired key no longer authenticates requests", async (t) => {
  const { evil, target } = await setup(t);
  t.equal((await evil.call(target, "/profile", ask)).status, 200, "the first key, cached");
  const old = evil.keys[0];
  old.validUntil = Date.now() - 1000;
  const fresh = evil.newKey();
  t.equal((await evil.call(target, "/profile", ask, { key: fresh })).status, 200, "the new key is fetched on first sight");
  const res = await evil.call(target, "/profile", ask, { key: old });
  t.equal(res.status, 401);
  t.equal(res.body.error.code, "federation.key_retired");
});

t.test("a denied server is refused before its body is read", async (t) => {
  const { evil, target, server } = await setup(t, { deny: ["evil.test"] });
  const res = await evil.call(target, "/profile", ask);
  t.equal(res.status, 403);
  t.equal(res.body.error.code, "federation.server_denied");
  // A body far over the limit is not even read: the answer is the policy's, not payload_too_large.
  const { headers } = await evil.sign({ url: `${server.baseUrl}${federationPrefix}/profile`, body: ask, destination: "school.test" });
  const huge = await evil.send(server.baseUrl, "/profile", headers, Buffer.alloc(9 * 1024 * 1024, 32));
  t.equal(huge.body.error.code, "federation.server_denied");
});

t.test("with an allow list, only the servers on it may federate", async (t) => {
  const { evil, target } = await setup(t, { allow: ["friend.test"] });
  const res = await evil.call(target, "/profile", ask);
  t.equal(res.status, 403);
  t.equal(res.body.error.code, "federation.server_denied");
});

t.test("the CLI's deny list applies at once to a running server, and unlisting lifts it", async (t) => {
  const { evil, target, server } = await setup(t);
  setServerPolicy(server.app.parley.storage, "evil.test", "deny");
  t.equal((await evil.call(target, "/profile", ask)).body.error.code, "federation.server_denied");
  setServerPolicy(server.app.parley.storage, "evil.test", null);
  t.equal((await evil.call(target, "/profile", ask)).status, 200);
});

t.test("a request that names no origin is refused before anything else", async (t) => {
  const { evil, server } = await setup(t);
  const res = await evil.send(server.baseUrl, "/profile", { "content-type": "application/json" }, Buffer.from("{}"));
  t.equal(res.status, 401);
  t.equal(res.body.error.code, "federation.signature_missing");
});

t.test("with federation off, the endpoints answer federation.disabled", async (t) => {
  const { evil, target } = await setup(t, { enabled: false });
  const res = await evil.call(target, "/profile", ask);
  t.equal(res.status, 404);
  t.equal(res.body.error.code, "federation.disabled");
});
