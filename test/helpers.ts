/**
 * The test harness: real servers on loopback port 0 with throwaway data directories, and SDK
 * clients for the named cast. Tests read like stories: `const alice = await server.user("alice")`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import WebSocket from "ws";
import type { FastifyInstance } from "fastify";
import type t from "tap";
import { buildApp } from "../server/app.ts";
import { resolveConfig, mergeConfig, type ConfigOverrides, type Config } from "../server/config/load.ts";
import { ParleyClient, type OpName, type OpParams, type OpResult, type RoomEvent, type WebSocketConstructor } from "../clients/sdk/index.ts";
import { loadProtocol } from "../protocol/index.ts";
import type { KeyValueStore } from "../clients/sdk/outbox.ts";

export interface TestServer {
  app: FastifyInstance;
  config: Config;
  baseUrl: string;
  dataDir: string;
  /** Log lines the server wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Registers (or logs in again) a user and returns a connected client. */
  user(name: string, opts?: { connect?: boolean; password?: string; deviceName?: string }): Promise<ParleyClient>;
  login(name: string, opts?: { connect?: boolean; password?: string; deviceName?: string }): Promise<ParleyClient>;
  /** A new connected client for an existing session (the same device coming back: it refreshes its tokens first). */
  resume(session: ParleyClient["session"], opts?: { connect?: boolean }): Promise<ParleyClient>;
  /** Stops the server; keeps the data directory unless `cleanup` is true. */
  stop(cleanup?: boolean): Promise<void>;
  /** Stops and starts again on the same data directory and port. */
  restart(): Promise<TestServer>;
}

export const password = "correct horse battery";

/** Cheap argon2 parameters: tests exercise the code path, not the cost. */
const testPasswordCost = { memory_kib: 1024, time_cost: 1 };

export async function startServer(overrides: ConfigOverrides = {}, opts: { dataDir?: string; now?: () => number } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "parley-test-"));
  const config = resolveConfig(
    mergeConfig(
      { listen: { host: "127.0.0.1", port: 0 }, storage: { data_dir: dataDir }, log: { level: "info" }, passwords: testPasswordCost, server: { name: "school.test" } },
      overrides,
    ),
  );
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const app = await buildApp(config, { logStream, now: opts.now, checkEvents: true });
  // Loopback: IPv4 unless the test asks for another host (`::1` for servers named by IPv6 literals).
  const host = overrides.listen?.host ?? "127.0.0.1";
  const address = await app.listen({ host, port: overrides.listen?.port ?? 0 });
  const port = Number(new URL(address).port);
  const baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const clients: ParleyClient[] = [];
  const clientOptions = { baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { initialMs: 50, maxMs: 500 } };

  const server: TestServer = {
    app,
    config,
    baseUrl,
    dataDir,
    logs,
    async user(name, o = {}) {
      const client = await ParleyClient.register(clientOptions, {
        username: name,
        password: o.password ?? password,
        displayName: name[0].toUpperCase() + name.slice(1),
        deviceName: o.deviceName ?? `${name}'s laptop`,
      });
      clients.push(client);
      if (o.connect !== false) await client.connect();
      return client;
    },
    async login(name, o = {}) {
      const client = await ParleyClient.login(clientOptions, { username: name, password: o.password ?? password, deviceName: o.deviceName ?? `${name}'s phone` });
      clients.push(client);
      if (o.connect !== false) await client.connect();
      return client;
    },
    async resume(session, o = {}) {
      const client = new ParleyClient(session, clientOptions);
      clients.push(client);
      await client.refresh();
      if (o.connect !== false) await client.connect();
      return client;
    },
    async stop(cleanup = false) {
      for (const c of clients) c.close();
      await app.close();
      if (cleanup) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop(false);
      return startServer({ ...overrides, listen: { ...overrides.listen, port } }, { dataDir, now: opts.now });
    },
  };
  return server;
}

/** A WebSocket that is not driven by the SDK, for framing tests. */
export function rawSocket(server: TestServer): Promise<WebSocket> {
  const ws = new WebSocket(`${server.baseUrl.replace("http", "ws")}/api/v1/ws`);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** Resolves with the close code and reason of a socket. */
export function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Resolves with the next JSON frame a raw socket receives. */
export function nextFrame(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once("message", (data) => resolve(JSON.parse(String(data)))));
}

export async function post(server: TestServer, path: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.baseUrl}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checks a value against a protocol schema (e.g. "op/session.info#/$defs/result"): returns the
 * schema errors as readable lines, so `t.same(schemaErrors(ref, value), [])` shows what drifted.
 */
export function schemaErrors(ref: string, value: unknown): string[] {
  const validate = loadProtocol().validator(ref);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
}

/**
 * Resolves when a client's socket closes, with the `session.revoked` push it received before (if
 * any) and the order of the two. Call it before doing what should end the session.
 */
export function sessionEnd(client: ParleyClient): Promise<{ revoked: unknown; code: number; order: string[] }> {
  const order: string[] = [];
  let revoked: unknown;
  client.on("session.revoked", (data) => {
    order.push("session.revoked");
    revoked = data;
  });
  return new Promise((resolve) => {
    const off = client.on("disconnected", ({ code }: { code: number }) => {
      off();
      order.push(`close ${code}`);
      resolve({ revoked, code, order });
    });
  });
}

/** The `t` of a subtest. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Config overrides with per-socket op budgets so high that tests firing bursts of requests are never throttled. */
export const unthrottled: ConfigOverrides = { limits: { ws_ops_per_second: 10_000, ws_ops_burst: 10_000 } };

/** The error code a request is refused with, or "(accepted)" when it succeeds. */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return "(accepted)";
}

/** The error code an op is refused with, or "ok" when it is not refused. */
export async function refusalOf<K extends OpName>(client: ParleyClient, op: K, params: OpParams<K>): Promise<string> {
  try {
    await client.request(op, params);
    return "ok";
  } catch (err) {
    return (err as { code: string }).code;
  }
}

/** Sends a request and checks its result against the op's result schema (loosely typed for reading). */
export async function ok<K extends OpName>(t: Test, client: ParleyClient, op: K, params: OpParams<K>): Promise<any> {
  const result = await client.request(op, params);
  t.same(schemaErrors(`op/${op}#/$defs/result`, result), [], `${op} result matches its schema`);
  return result;
}

/** The community and joining ops, whose results `caller` checks against their schemas. */
const ownOps = /^(community|group|room|member|invite|join|link|audit|user)\./;

/** Returns `call(client, op, params)`: runs an op that must succeed, checking community/joining ops' results against their schemas. */
export function caller(t: Test) {
  return async function call<K extends OpName>(client: ParleyClient, op: K, params: OpParams<K>): Promise<OpResult<K>> {
    const result = await client.request(op, params);
    if (ownOps.test(op)) t.same(schemaErrors(`op/${op}#/$defs/result`, result), [], `${op} result matches its schema`);
    return result;
  };
}

/** Records every push of one name a client receives (every room.event when no name is given). */
export function record(client: ParleyClient): RoomEvent[];
export function record<T = any>(client: ParleyClient, push: string): T[];
export function record(client: ParleyClient, push = "room.event"): unknown[] {
  const seen: unknown[] = [];
  client.on(push, (d: unknown) => seen.push(d));
  return seen;
}

/** Resolves with the next room.event that matches; rejects if none arrives within `timeoutMs`. */
export function nextEvent(client: ParleyClient, match: (e: RoomEvent) => boolean, timeoutMs = 5000): Promise<RoomEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("no matching room.event in time"));
    }, timeoutMs);
    const off = client.on("room.event", (e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Resolves with the first room event (from now on) of that type in that room, about `userId` if given. */
export function eventFor(client: ParleyClient, roomId: string, type: string, userId?: string, timeoutMs = 3000): Promise<RoomEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${client.userId} got no ${type} in ${roomId} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on("room.event", (e) => {
      if (e.roomId === roomId && e.type === type && (userId === undefined || (e.content as { userId?: string }).userId === userId)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

/**
 * The school of the scenario tests: alice owns the Hillside School community and its Year 5 group;
 * the others are made as asked. Defaults: bob, carol and dave join the community and Year 5, dave
 * is an admin of Year 5, erin is an outsider.
 */
export interface School {
  server: TestServer;
  /** Every person of the cast, by name (alice, bob, carol, dave, erin and any `extra`). */
  cast: Record<string, ParleyClient>;
  alice: ParleyClient;
  bob: ParleyClient;
  carol: ParleyClient;
  dave: ParleyClient;
  erin: ParleyClient;
  school: string;
  year5: string;
}

export async function openSchool(
  t: Test,
  opts: { overrides?: ConfigOverrides; extra?: string[]; community?: string[]; year5?: string[]; year5Admins?: string[]; communityAdmins?: string[] } = {},
): Promise<School> {
  const server = await startServer({ ...unthrottled, ...opts.overrides });
  t.teardown(() => server.stop(true));
  const names = ["alice", "bob", "carol", "dave", "erin", ...(opts.extra ?? [])];
  const clients = await Promise.all(names.map((n) => server.user(n)));
  const cast = Object.fromEntries(names.map((n, i) => [n, clients[i]]));
  const { alice } = cast;
  const school = await alice.request("community.create", { name: "Hillside School" });
  const year5 = await alice.request("group.create", { name: "Year 5", communityId: school.roomId });
  const link = await alice.request("link.create", { roomId: school.roomId });
  for (const n of opts.community ?? ["bob", "carol", "dave"]) await cast[n].request("link.join", { token: link.token });
  for (const n of opts.year5 ?? ["bob", "carol", "dave"]) await cast[n].request("group.join", { roomId: year5.roomId });
  for (const n of opts.year5Admins ?? ["dave"]) await alice.request("member.role", { roomId: year5.roomId, userId: cast[n].userId, role: "admin" });
  for (const n of opts.communityAdmins ?? []) await alice.request("member.role", { roomId: school.roomId, userId: cast[n].userId, role: "admin" });
  return { server, cast, alice, bob: cast.bob, carol: cast.carol, dave: cast.dave, erin: cast.erin, school: school.roomId, year5: year5.roomId };
}

/**
 * Waits (polling every 25 ms, no time assertion) until `check` holds; fails the test with
 * "never: <what>" after a generous bound, for states that arrive asynchronously (a delivery, a
 * push, a replica catching up).
 */
export async function until(t: Test, what: string, check: () => boolean | Promise<boolean>, boundMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > boundMs) {
      t.fail(`never: ${what}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Uploads `bytes` as `client` (POST /api/v1/media); returns the new media id. */
export async function uploadMedia(server: TestServer, client: ParleyClient, bytes: Buffer, name = "photo.png"): Promise<string> {
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${client.session.accessToken}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  return ((await res.json()) as { mediaId: string }).mediaId;
}

/** Downloads a file (or its preview) as `client`: 200, or the status and error code of the refusal. */
export async function downloadMedia(server: TestServer, client: ParleyClient, mediaId: string, preview = false): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${server.baseUrl}/api/v1/media/${mediaId}${preview ? "/preview" : ""}`, { headers: { authorization: `Bearer ${client.session.accessToken}` } });
  if (res.status === 200) {
    await res.arrayBuffer();
    return { status: 200 };
  }
  return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
}

/** Web Storage in memory, for the SDK's outbox in Node (a browser passes localStorage). */
export class MemoryStore implements KeyValueStore {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}
