/**
 * Real servers signing to each other, and key rotation: a rotated key stays published with its
 * validUntil, the new one signs from then on, and a peer follows without losing a request.
 */
import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster } from "./cluster.ts";
import { rotateServerKey } from "../../federation/keys.ts";
import { signRequest } from "../../federation/signatures.ts";
import { federationPrefix, createPeerDirectory } from "../../federation/peers.ts";
import { runCli } from "../../server/cli.ts";
import { startServer } from "../helpers.ts";
import { createLogger } from "../../server/logger.ts";

t.test("a server's signed request to a peer is verified with the keys the peer fetched from it", async (t) => {
  const { "a.test": a, "b.test": b } = await startCluster(["a.test", "b.test"]);
  t.teardown(async () => Promise.all([a.stop(true), b.stop(true)]));
  await b.user("bob", { connect: false });
  const res = await a.app.parley.federation.request("b.test", "POST", "/profile", { requester: "@alice:a.test", userIds: ["@bob:b.test"] });
  t.equal(res.status, 200);
  t.same(res.body.profiles.map((p: { userId: string }) => p.userId), ["@bob:b.test"]);
});

t.test("after a rotation the new key signs, the old one stays published and no longer authenticates requests", async (t) => {
  const { "a.test": a, "b.test": b } = await startCluster(["a.test", "b.test"]);
  t.teardown(async () => Promise.all([a.stop(true), b.stop(true)]));
  await b.user("bob", { connect: false });
  const ask = { requester: "@alice:a.test", userIds: ["@bob:b.test"] };
  t.equal((await a.app.parley.federation.request("b.test", "POST", "/profile", ask)).status, 200, "before: b caches a's first key");
  const old = a.app.parley.keys.current();

  const { retired, current } = await rotateServerKey(a.app.parley.storage);
  t.equal(retired, old.keyId);
  t.ok(await a.app.parley.keys.reload(), "the running server sees the rotation");
  t.equal(a.app.parley.keys.current().keyId, current);

  const published = (await (await fetch(`${a.baseUrl}/.well-known/parley/keys`)).json()).keys;
  t.same(published.map((k: { kid: string }) => k.kid), [current, old.keyId], "both published, the current first");
  t.equal(published[0].validUntil, null);
  t.type(published[1].validUntil, "number", "the old key has its validUntil");
  t.ok(published[0].validFrom >= published[1].validUntil, "the new key is valid from the old one's retirement");

  t.equal((await a.app.parley.federation.request("b.test", "POST", "/profile", ask)).status, 200, "after: b fetches the new key on first sight");

  const url = `${b.baseUrl}${federationPrefix}/profile`;
  const body = Buffer.from(JSON.stringify(ask));
  const headers = await signRequest({ method: "POST", url, body, origin: "a.test", destination: "b.test" }, old);
  b.app.parley.federation.peers.forget("a.test");
  const res = await fetch(url, { method: "POST", headers, body: new Uint8Array(body) });
  t.equal(res.status, 401);
  t.equal((await res.json()).error.code, "federation.key_retired", "a request under the old key is refused");
});

t.test("parley federation rotate-key retires the key and the server publishes both at its next start", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "parley-rotate-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, "parley.toml");
  writeFileSync(configPath, `[server]\nname = "school.test"\n\n[storage]\ndata_dir = ${JSON.stringify(join(dir, "data"))}\n\n[log]\nlevel = "silent"\n`);
  const server = await startServer({}, { dataDir: join(dir, "data") });
  const first = server.app.parley.keys.current().keyId;
  await server.stop();
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await runCli(["federation", "rotate-key", "--config", configPath]);
  } finally {
    process.stdout.write = write;
  }
  t.equal(code, 0);
  t.match(lines.join(""), new RegExp(`retired ${first}; signing with ed25519:`));
  const again = await startServer({}, { dataDir: join(dir, "data") });
  t.teardown(() => again.stop());
  const keys = again.app.parley.keys.published();
  t.equal(keys.length, 2);
  t.equal(keys[1].kid, first);
  t.not(again.app.parley.keys.current().keyId, first);
});

t.test("a peer is found through its discovery document when the config does not name it", async (t) => {
  const served: string[] = [];
  const fakeFetch = (async (url: string) => {
    served.push(url);
    if (url === "https://school.example/.well-known/parley") {
      return new Response(JSON.stringify({ server: "school.example", endpoints: { federation: "https://chat.school.example/_parley/federation/v1", keys: "https://chat.school.example/.well-known/parley/keys" } }));
    }
    if (url === "https://plain.example/.well-known/parley") {
      return new Response(JSON.stringify({ server: "plain.example", endpoints: { federation: "http://plain.example/_parley/federation/v1", keys: "http://plain.example/.well-known/parley/keys" } }));
    }
    return new Response("{}", { status: 404 });
  }) as typeof fetch;
  const dir = createPeerDirectory({ peers: {}, allowPlainHttp: false, keyCacheMs: 60_000, unknownKeyCacheMs: 1000, log: createLogger("silent"), now: Date.now, fetch: fakeFetch });
  t.same(await dir.resolve("school.example"), { federation: "https://chat.school.example/_parley/federation/v1", keys: "https://chat.school.example/.well-known/parley/keys" });
  await dir.resolve("school.example");
  t.equal(served.length, 1, "the discovery document is cached");
  await t.rejects(dir.resolve("plain.example"), { code: "federation.unreachable" }, "plain HTTP is refused unless the config allows it");
  await t.rejects(dir.resolve("nowhere.example"), { code: "federation.unreachable" });
  await t.rejects(dir.resolve("Not A Name"), { code: "federation.unreachable" });
});

t.test("profile.get of a user of another server is answered with what that server says", async (t) => {
  const { "a.test": a, "b.test": b } = await startCluster(["a.test", "b.test"]);
  t.teardown(async () => Promise.all([a.stop(true), b.stop(true)]));
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  await bob.request("profile.update", { about: "Year 7 parent" });
  t.match(await alice.request("profile.get", { userId: "@bob:b.test" }), { userId: "@bob:b.test", displayName: "Bob", about: "Year 7 parent" });
  const code = await alice.request("profile.get", { userId: "@nobody:b.test" }).then(() => "(found)", (err) => (err as { code: string }).code);
  t.equal(code, "user.not_found");
});
