/**
 * The server's life: health and discovery, the published signing keys, shutdown that tells
 * sockets the server is going away, a restart that keeps everything, and the real process started
 * and stopped the way an operator does.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { CompactSign, compactVerify, importJWK } from "jose";
import { closeOf, nextFrame, password, post, rawSocket, schemaErrors, startServer, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

async function serverFor(t: Test, overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(overrides);
  t.teardown(() => server.stop(true));
  return server;
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Opens a raw socket and authenticates it; resolves with the socket once auth succeeded. */
async function authenticatedSocket(server: TestServer, token: string): Promise<WebSocket> {
  const ws = await rawSocket(server);
  const reply = nextFrame(ws);
  ws.send(JSON.stringify({ id: 1, op: "auth", params: { token } }));
  const frame = await reply;
  if (!frame.ok) throw new Error(`auth failed: ${JSON.stringify(frame)}`);
  return ws;
}

t.test("/healthz says the process is alive and /readyz that the database is migrated", async (t) => {
  const server = await serverFor(t);
  const health = await getJson(`${server.baseUrl}/healthz`);
  t.same(health, { status: 200, body: { status: "ok" } });
  t.same(schemaErrors("http/healthz#/$defs/response", health.body), []);
  const ready = await getJson(`${server.baseUrl}/readyz`);
  t.same(ready, { status: 200, body: { status: "ready" } });
  t.same(schemaErrors("http/readyz#/$defs/response", ready.body), []);

  // A database behind the code's migrations is not ready to serve.
  server.app.parley.storage.sqlite.prepare("DELETE FROM __drizzle_migrations WHERE rowid = (SELECT max(rowid) FROM __drizzle_migrations)").run();
  const behind = await getJson(`${server.baseUrl}/readyz`);
  t.same(behind, { status: 503, body: { status: "unavailable" } });
  t.same(schemaErrors("http/readyz#/$defs/response", behind.body), []);
  t.same((await getJson(`${server.baseUrl}/healthz`)).status, 200, "while the process is still alive");
});

t.test("the discovery document names the server, its protocol versions, endpoints and limits", async (t) => {
  const server = await serverFor(t, { limits: { frame_bytes: 2048, http_requests_per_minute: 120 }, registration: { policy: "invite-only" }, rooms: { admins_per_community: 7 } });
  const { status, body } = await getJson(`${server.baseUrl}/.well-known/parley`);
  t.equal(status, 200);
  t.same(schemaErrors("http/discovery#/$defs/response", body), []);
  t.equal(body.server, "school.test");
  t.same(body.versions, ["v1"]);
  t.equal(body.software.name, "parley");
  t.equal(body.registration, "invite-only");
  t.same(body.limits, {
    frameBytes: 2048,
    messageChars: server.config.limits.message_chars,
    uploadBytes: server.config.limits.upload_bytes,
    wsOpsPerSecond: server.config.limits.ws_ops_per_second,
    wsOpsBurst: server.config.limits.ws_ops_burst,
    httpRequestsPerMinute: 120,
    registrationsPerMinute: 20,
    adminsPerCommunity: 7,
  });
  const wsBase = server.baseUrl.replace("http", "ws");
  t.same(body.endpoints, {
    client: `${server.baseUrl}/api/v1`,
    websocket: `${wsBase}/api/v1/ws`,
    keys: `${server.baseUrl}/.well-known/parley/keys`,
    federation: `${server.baseUrl}/_parley/federation/v1`,
  }, "listening on port 0, the endpoints name the port actually chosen");

  // A client that knows only the discovery document can reach the server through it.
  const keys = await getJson(body.endpoints.keys);
  t.equal(keys.status, 200, "the advertised keys URL answers");
  const ws = new WebSocket(body.endpoints.websocket);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  t.pass("the advertised WebSocket URL accepts a connection");
  ws.close();
});

t.test("with a configured public URL, discovery advertises it", async (t) => {
  const server = await serverFor(t, { server: { name: "school.test", public_url: "https://chat.school.test/" } });
  const { body } = await getJson(`${server.baseUrl}/.well-known/parley`);
  t.same(body.endpoints, {
    client: "https://chat.school.test/api/v1",
    websocket: "wss://chat.school.test/api/v1/ws",
    keys: "https://chat.school.test/.well-known/parley/keys",
    federation: "https://chat.school.test/_parley/federation/v1",
  });
});

t.test("the server publishes its Ed25519 public key, which verifies what the server signs", async (t) => {
  const server = await serverFor(t);
  const { status, body } = await getJson(`${server.baseUrl}/.well-known/parley/keys`);
  t.equal(status, 200);
  t.same(schemaErrors("http/keys#/$defs/response", body), []);
  t.equal(body.server, "school.test");
  t.equal(body.keys.length, 1, "one key on first start");
  const [key] = body.keys;
  t.match(key, { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: /^ed25519:/, validUntil: null });
  t.match(key.x, /^[A-Za-z0-9_-]{43}$/, "a 32-byte public key");
  t.notOk("d" in key, "the private part is not published");

  const { keyId, privateKey } = server.app.parley.keys.current();
  t.equal(keyId, key.kid, "the published key is the current one");
  const signed = await new CompactSign(new TextEncoder().encode("parley")).setProtectedHeader({ alg: "EdDSA", kid: keyId }).sign(privateKey);
  const verified = await compactVerify(signed, await importJWK(key, "EdDSA"));
  t.equal(new TextDecoder().decode(verified.payload), "parley", "a signature by the server verifies with the published key");
});

t.test("an unknown route is a JSON 404 not_found", async (t) => {
  const server = await serverFor(t);
  for (const [method, path] of [["GET", "/nowhere"], ["GET", "/api/v1/auth/login"], ["POST", "/api/v2/auth/login"]]) {
    const res = await fetch(`${server.baseUrl}${path}`, { method });
    t.equal(res.status, 404, `${method} ${path}`);
    const body = await res.json();
    t.same(body, { error: { code: "not_found", message: "Not found." } });
    t.same(schemaErrors("common#/$defs/ErrorBody", body.error), []);
  }
});

t.test("closing the server closes every live socket with 1001 going away", async (t) => {
  const server = await startServer();
  t.teardown(() => rmSync(server.dataDir, { recursive: true, force: true }));
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const authenticated = await authenticatedSocket(server, alice.accessToken);
  const anonymous = await rawSocket(server);
  const closes = Promise.all([closeOf(authenticated), closeOf(anonymous)]);
  await server.app.close();
  t.same(await closes, [
    { code: 1001, reason: "server going away" },
    { code: 1001, reason: "server going away" },
  ]);
  await t.rejects(fetch(`${server.baseUrl}/healthz`), "the server no longer accepts connections");
});

t.test("a restart on the same data directory keeps accounts, sessions and keys", async (t) => {
  const first = await startServer();
  let current = first;
  t.teardown(() => current.stop(true));
  const laptop = await first.user("alice");
  await laptop.request("profile.update", { about: "Maths teacher" });
  const phone = (await post(first, "/api/v1/auth/login", { username: "alice", password, deviceName: "Alice's phone" })).body;
  const keysBefore = (await getJson(`${first.baseUrl}/.well-known/parley/keys`)).body;

  current = await first.restart();
  const server = current;
  t.equal(server.baseUrl, first.baseUrl, "back on the same port");
  t.same((await getJson(`${server.baseUrl}/readyz`)).body, { status: "ready" });
  const login = await post(server, "/api/v1/auth/login", { username: "alice", password });
  t.equal(login.status, 200, "alice logs in with her password");
  t.equal(login.body.userId, "@alice:school.test");
  const refreshed = await post(server, "/api/v1/auth/refresh", { refreshToken: phone.refreshToken });
  t.equal(refreshed.status, 200, "the phone's refresh token from before the restart still works");
  t.equal(refreshed.body.deviceId, phone.deviceId);
  const ws = await authenticatedSocket(server, phone.accessToken);
  t.pass("an access token from before the restart still opens a socket");
  const profile = nextFrame(ws);
  ws.send(JSON.stringify({ id: 2, op: "profile.get", params: {} }));
  t.same((await profile).result, { userId: "@alice:school.test", displayName: "Alice", about: "Maths teacher", avatar: null }, "her profile survived");
  ws.close();
  const taken = await post(server, "/api/v1/auth/register", { username: "alice", password });
  t.equal(taken.body.error.code, "username.taken", "her name is still hers");
  t.same((await getJson(`${server.baseUrl}/.well-known/parley/keys`)).body, keysBefore, "the signing keys are the same, with the same kid");
});

/** Spawns the server the way `npm start` does. */
function spawnServer(args: string[], env: Record<string, string>) {
  const { PARLEY_CONFIG: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", ...args], {
    cwd: repoRoot,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves with the HTTP address from the start-up banner. */
    banner: () =>
      new Promise<string>((resolve, reject) => {
        const look = () => {
          const m = /HTTP:\s+(http:\/\/\S+)/.exec(stdout);
          if (m) {
            child.stdout.off("data", look);
            resolve(m[1]);
          }
        };
        child.stdout.on("data", look);
        look();
        exited.then(({ code }) => reject(new Error(`the server exited (${code}) before its banner: ${stderr}`)));
      }),
  };
}

t.test("the real process starts on a free port, serves, and exits 0 on SIGTERM or SIGINT after closing its sockets", async (t) => {
  // Two processes side by side (each takes a few seconds to load): one stopped as a service
  // manager does (SIGTERM), one as an operator's Ctrl-C does (SIGINT).
  const dataDirs = [mkdtempSync(join(tmpdir(), "parley-process-")), mkdtempSync(join(tmpdir(), "parley-process-"))];
  const [server, other] = dataDirs.map((dataDir) => spawnServer([], { PARLEY_PORT: "0", PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: "warn" }));
  t.teardown(() => {
    for (const proc of [server, other]) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });
  const [address] = await Promise.all([server.banner(), other.banner()]);
  t.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(new URL(address).port, "0", "the banner prints the port actually chosen");
  t.match(server.output().stdout, `Data:      ${dataDirs[0]}`);
  t.same(await getJson(`${address}/healthz`), { status: 200, body: { status: "ok" } });
  t.equal((await getJson(`${address}/.well-known/parley`)).body.endpoints.client, `${address}/api/v1`);
  t.ok(existsSync(join(dataDirs[0], "parley.db")), "the database lives in PARLEY_DATA_DIR");

  const ws = new WebSocket(`${address.replace("http", "ws")}/api/v1/ws`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const closed = closeOf(ws);
  server.child.kill("SIGTERM");
  other.child.kill("SIGINT");
  t.same(await closed, { code: 1001, reason: "server going away" }, "its socket is told the server is going away");
  t.same(await server.exited, { code: 0, signal: null }, "SIGTERM: the process exits 0");
  t.equal(server.output().stderr, "", "nothing on stderr");
  t.same(await other.exited, { code: 0, signal: null }, "SIGINT: the process exits 0");
});

t.test("killed with SIGKILL mid-stream, the real process loses no message it acknowledged", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "parley-crash-"));
  const env = { PARLEY_PORT: "0", PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: "warn" };
  let proc = spawnServer([], env);
  t.teardown(() => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });
  /** A raw socket with numbered requests, authenticated with a fresh login. */
  const session = async (address: string, token: string) => {
    const ws = new WebSocket(`${address.replace("http", "ws")}/api/v1/ws`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const waiting = new Map<number, (frame: any) => void>();
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      if (typeof frame.id === "number") waiting.get(frame.id)?.(frame);
    });
    let next = 1;
    const request = (op: string, params: Record<string, unknown>) =>
      new Promise<any>((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, op, params }));
      });
    t.equal((await request("auth", { token })).ok, true);
    return { ws, request };
  };
  const address = await proc.banner();
  const registered = await post({ baseUrl: address } as TestServer, "/api/v1/auth/register", { username: "alice", password });
  const alice = await session(address, registered.body.accessToken);
  const group = (await alice.request("group.create", { name: "Lab notes" })).result;
  // Sends in flight when the process dies: those answered "ok" must all be there afterwards.
  const acknowledged: string[] = [];
  const send = (i: number) =>
    alice.request("message.send", { roomId: group.roomId, txnId: `t${i}`, body: `note ${i}` }).then((reply) => {
      if (reply.ok) acknowledged.push(`note ${i}`);
    });
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(i)));
  // A second wave, killed when a few of it have been answered and the rest are in flight.
  const closed = closeOf(alice.ws);
  const wave = Array.from({ length: 400 }, (_, i) =>
    send(100 + i).then(() => {
      if (acknowledged.length >= 120 && !proc.child.killed) proc.child.kill("SIGKILL");
    }),
  );
  await Promise.race([Promise.all(wave), closed]);
  t.same(await proc.exited, { code: null, signal: "SIGKILL" });
  t.ok(acknowledged.length >= 120 && acknowledged.length < 500, `${acknowledged.length} of 500 sends were acknowledged before the kill`);

  proc = spawnServer([], env);
  const again = await proc.banner();
  const login = await post({ baseUrl: again } as TestServer, "/api/v1/auth/login", { username: "alice", password });
  const back = await session(again, login.body.accessToken);
  const stored: string[] = [];
  let after = 0;
  for (;;) {
    const page = (await back.request("message.history", { roomId: group.roomId, after, limit: 200 })).result;
    stored.push(...page.messages.map((m: { body: string }) => m.body));
    if (!page.more || page.messages.length === 0) break;
    after = page.messages[page.messages.length - 1].seq;
  }
  const missing = acknowledged.filter((body) => !stored.includes(body));
  t.same(missing, [], "every acknowledged message is in the history after the restart");
  t.same(new Set(stored).size, stored.length, "none twice");
  back.ws.close();
  proc.child.kill("SIGTERM");
  t.same(await proc.exited, { code: 0, signal: null });
});

t.test("an invalid configuration file stops start-up with exit code 2 and one line on stderr", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "parley-badconfig-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "parley.toml");
  writeFileSync(path, `[listen]\nhots = "127.0.0.1"\n`);
  const proc = spawnServer(["--config", path], { PARLEY_DATA_DIR: join(dir, "data") });
  const { code } = await proc.exited;
  const { stdout, stderr } = proc.output();
  t.equal(code, 2, "exit code 2");
  t.equal(stderr, `parley: ${path}: unknown key "listen.hots"\n`, "one line that names the file and the key");
  t.equal(stdout, "", "nothing on stdout: the server never started");
  t.notOk(existsSync(join(dir, "data")), "no data directory was created");
});
