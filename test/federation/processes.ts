/**
 * Federating servers as real child processes (`node --import tsx server/main.ts --config ...`),
 * each with its own TOML config, data directory and loopback port, so that a test can SIGKILL one
 * at any moment and start it again on the same data and port. The test reads a server's database
 * read-only (WAL lets it read beside the server) and speaks the real client protocol.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { WebSocket } from "ws";
import { ParleyClient, type WebSocketConstructor } from "../../clients/sdk/index.ts";
import { freePort } from "./cluster.ts";
import { password } from "../helpers.ts";
import { eventHashOf, contentHashOf, originOf } from "../../server/rooms/hash.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  name: string;
  baseUrl: string;
  dataDir: string;
  /** Starts the server (again) and resolves once it answers. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown, no flush; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Whether the process runs. */
  running(): boolean;
  /** A read-only query on the server's database. */
  query<T = any>(sql: string, ...args: unknown[]): T[];
  /** A new account (registered over HTTP) or a login, connected over WebSocket. */
  user(name: string): Promise<ParleyClient>;
  login(name: string, o?: { connect?: boolean }): Promise<ParleyClient>;
}

function toml(name: string, port: number, dataDir: string, peers: Record<string, string>): string {
  return [
    "[server]",
    `name = "${name}"`,
    "[listen]",
    'host = "127.0.0.1"',
    `port = ${port}`,
    "[storage]",
    `data_dir = "${dataDir}"`,
    "[log]",
    'level = "warn"',
    "[passwords]",
    "memory_kib = 1024",
    "time_cost = 1",
    "[limits]",
    "ws_ops_per_second = 10000",
    "ws_ops_burst = 10000",
    "[federation]",
    "allow_plain_http = true",
    "[federation.peers]",
    ...Object.entries(peers).map(([n, url]) => `"${n}" = "${url}"`),
    "",
  ].join("\n");
}

/** Waits, polling, until `check` holds; throws after a generous bound (a hung server, not a slow one). */
export async function until(what: string, check: () => boolean | Promise<boolean>, boundMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > boundMs) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts one process per name, peers pointing at each other. `close` kills them and removes their data. */
export async function spawnCluster(names: string[]): Promise<{ servers: Record<string, ServerProcess>; close(): Promise<void> }> {
  const ports = await Promise.all(names.map(() => freePort()));
  const peers = Object.fromEntries(names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}`]));
  const servers: Record<string, ServerProcess> = {};
  const clients: ParleyClient[] = [];
  for (const [i, name] of names.entries()) {
    const dataDir = mkdtempSync(join(tmpdir(), `parley-proc-${name}-`));
    const configPath = join(dataDir, "parley.toml");
    writeFileSync(configPath, toml(name, ports[i], dataDir, peers));
    const baseUrl = peers[name];
    const clientOptions = { baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { initialMs: 50, maxMs: 500 } };
    let child: ChildProcess | null = null;
    let output = "";
    let db: Database.Database | null = null;
    const server: ServerProcess = {
      name,
      baseUrl,
      dataDir,
      async start() {
        output = "";
        const proc = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--config", configPath], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PARLEY_CONFIG: "" } });
        child = proc;
        const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4000));
        proc.stdout!.on("data", keep);
        proc.stderr!.on("data", keep);
        let exited = false;
        proc.once("exit", () => (exited = true));
        await until(`${name} answers`, async () => {
          if (exited) throw new Error(`${name} exited at start:\n${output}`);
          try {
            return (await fetch(`${baseUrl}/.well-known/parley`, { headers: { connection: "close" } })).ok;
          } catch {
            return false;
          }
        });
      },
      async kill() {
        const proc = child;
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGKILL");
        await gone;
      },
      running: () => child !== null && child.exitCode === null && child.signalCode === null,
      query(sql, ...args) {
        db ??= new Database(join(dataDir, "parley.db"), { readonly: true, fileMustExist: true });
        return db.prepare(sql).all(...args) as never[];
      },
      async user(username) {
        const client = await ParleyClient.register(clientOptions, { username, password, displayName: username[0].toUpperCase() + username.slice(1), deviceName: `${username}'s laptop` });
        clients.push(client);
        await client.connect();
        return client;
      },
      async login(username, o = {}) {
        const client = await ParleyClient.login(clientOptions, { username, password, deviceName: `${username}'s phone` });
        clients.push(client);
        if (o.connect !== false) await client.connect();
        return client;
      },
    };
    Object.defineProperty(server, "close", { value: () => db?.close() });
    servers[name] = server;
  }
  await Promise.all(Object.values(servers).map((s) => s.start()));
  return {
    servers,
    async close() {
      for (const c of clients) c.close();
      for (const s of Object.values(servers)) {
        await s.kill();
        (s as unknown as { close(): void }).close();
        rmSync(s.dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * a.test and b.test as processes, killed when the test ends: alice (of a) owns the group Maths,
 * which bob (of b) has joined by its link through his own server.
 */
export async function spawnMathsWithBob(t: { teardown(fn: () => Promise<void>): void }) {
  const { servers, close } = await spawnCluster(["a.test", "b.test"]);
  t.teardown(close);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  return { a, b, alice, bob, roomId };
}

export interface LogRow {
  seq: number;
  event_id: string;
  type: string;
  sender: string;
  ts: number;
  content: string;
  content_hash: string;
  hash: string;
  txn_id: string | null;
}

/** A room's log as a server holds it. */
export function logOf(server: ServerProcess, roomId: string): LogRow[] {
  return server.query<LogRow>("SELECT seq, event_id, type, sender, ts, content, content_hash, hash, txn_id FROM room_events WHERE room_id = ? ORDER BY seq", roomId);
}

/** The first break in a log's hash chain (seqs 1..n with no gap, each hash over the previous), or null. */
export function chainBreak(roomId: string, log: LogRow[]): string | null {
  let prev: string | null = null;
  for (const [i, e] of log.entries()) {
    if (e.seq !== i + 1) return `seq ${e.seq} at position ${i + 1}`;
    const content = JSON.parse(e.content) as { redacted?: boolean };
    if (!content.redacted && contentHashOf(content) !== e.content_hash) return `content of seq ${e.seq}`;
    const hash = eventHashOf({ contentHash: e.content_hash, eventId: e.event_id, origin: originOf(e.sender), prev, roomId, sender: e.sender, seq: e.seq, ts: e.ts, type: e.type });
    if (hash !== e.hash) return `hash of seq ${e.seq}`;
    prev = e.hash;
  }
  return null;
}
