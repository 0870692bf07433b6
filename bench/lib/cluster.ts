/**
 * Federating Parley servers for the F benchmarks, each as its own process (`server/main.ts`, as
 * bench/run.ts starts one), so that each server's CPU is its own: a TOML configuration per server
 * (bench/server.toml's settings plus its name and `[federation.peers]` over plain HTTP on
 * loopback), the accounts seeded before the start (bench/seed.ts), start with a wait for the
 * port, stop by PID (SIGTERM, then SIGKILL). Everything talks to 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { connect, createServer } from "node:net";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");

export interface ServerSpec {
  /** Server name (the part after `:` in its user and room ids), e.g. `a.test`. */
  name: string;
  port: number;
  dataDir: string;
  /** The TOML file written for it. */
  config: string;
}

/** A free loopback port (the OS picks it; it is released before the server takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolveP, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolveP(port));
    });
  });
}

/** Quotes a TOML string. */
const q = (s: string) => JSON.stringify(s);

/** The bearer token of every benchmark server's GET /metrics (loopback only, a throwaway cluster). */
export const benchMetricsToken = "bench-metrics-of-a-throwaway-cluster";

/**
 * Counters read from a server's GET /metrics: HTTP requests by route (federation's among them),
 * group commits and the commands and events they carried. Two reads give a window's deltas.
 */
export async function scrapeCounters(port: number): Promise<Record<string, number>> {
  // node:http, not fetch: the first fetch in a process compiles undici's HTTP parser (WebAssembly),
  // and V8 tiered it up on background threads during the send phase that follows this scrape:
  // about 57 ms of the load generator's CPU inside F1's half-second window.
  const text = await new Promise<string>((resolveText, reject) => {
    const req = httpGet({ host: "127.0.0.1", port, path: "/metrics", headers: { authorization: `Bearer ${benchMetricsToken}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET /metrics on port ${port}: HTTP ${res.statusCode}`));
        return;
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolveText(body));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    let m = /^parley_http_requests_total\{method="(\w+)",route="([^"]+)",status="(\d+)"\} (\S+)$/.exec(line);
    if (m) {
      const key = `http ${m[1]} ${m[2]} ${m[3]}`;
      out[key] = (out[key] ?? 0) + Number(m[4]);
      continue;
    }
    m = /^(parley_group_commit_commands_(?:sum|count)|parley_room_events_total|parley_fanout_(?:bytes|frames)_total) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** What grew between two scrapes (counters only grow). */
export function counterDeltas(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/**
 * The TOML of one server of the cluster: bench/server.toml's choices (a day's tokens, argon2id at
 * its lowest cost, rate limits off, log level warn), its own name, port and data directory, and
 * the others as federation peers over plain HTTP on loopback.
 */
export function clusterToml(self: ServerSpec, all: ServerSpec[], rooms: { membersPerGroup?: number; membersPerCommunity?: number } = {}): string {
  return [
    "# Written by bench/lib/cluster.ts for one federation benchmark run.",
    "[server]",
    `name = ${q(self.name)}`,
    `public_url = ${q(`http://127.0.0.1:${self.port}`)}`,
    "[listen]",
    'host = "127.0.0.1"',
    `port = ${self.port}`,
    "[storage]",
    `data_dir = ${q(self.dataDir)}`,
    "[tokens]",
    "access_ttl_seconds = 86400",
    "[passwords]",
    "memory_kib = 1024",
    "time_cost = 1",
    "[limits]",
    "ws_ops_per_second = 1000000",
    "ws_ops_burst = 1000000",
    "http_requests_per_minute = 1000000",
    "[rooms]",
    `members_per_group = ${rooms.membersPerGroup ?? 1024}`,
    `members_per_community = ${rooms.membersPerCommunity ?? 5000}`,
    "[federation]",
    "allow_plain_http = true",
    "[federation.peers]",
    ...all.filter((s) => s.name !== self.name).map((s) => `${q(s.name)} = ${q(`http://127.0.0.1:${s.port}`)}`),
    "[metrics]",
    `token = ${q(benchMetricsToken)}`,
    "[log]",
    'level = "warn"',
    "",
  ].join("\n");
}

/** Writes each server's configuration into its spec's `config` path. */
export function writeConfigs(specs: ServerSpec[], rooms?: { membersPerGroup?: number; membersPerCommunity?: number }): void {
  for (const s of specs) writeFileSync(s.config, clusterToml(s, specs, rooms));
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      r(true);
    });
    s.on("error", () => r(false));
  });
}

/** Runs one bounded child process (node with tsx) to completion; resolves with its exit code and stdout. */
export function runNode(argv: string[], timeoutS: number, logFile: string): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    const err = openSync(logFile, "a");
    const child = spawn(process.execPath, ["--import", "tsx", ...argv], { cwd: root, stdio: ["ignore", "pipe", err] });
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, timeoutS * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout });
    });
  });
}

/** Creates `users` accounts `<prefix>0..` on a server before it starts (bench/seed.ts); returns their tokens. */
export async function seedAccounts(spec: ServerSpec, users: number, logFile: string, prefix = "user"): Promise<Record<string, string>> {
  const r = await runNode(["bench/seed.ts", "--config", spec.config, "--data-dir", spec.dataDir, "--users", String(users), "--prefix", prefix], 900, logFile);
  if (r.code !== 0) throw new Error(`seeding ${spec.name} failed (${r.code}); see ${logFile}`);
  return JSON.parse(readFileSync(join(spec.dataDir, "bench-tokens.json"), "utf8")) as Record<string, string>;
}

export interface RunningServer {
  spec: ServerSpec;
  child: ChildProcess;
  pid: number;
}

/**
 * Starts a server as its own process and waits (at most 60 s) for its port. With `cpuProfDir`,
 * under `node --cpu-prof` (the profile is written there when the server stops; bench/profile.ts).
 * `BENCH_SERVER_NODE_FLAGS` adds V8/Node flags that NODE_OPTIONS refuses (e.g. `--trace-deopt`).
 */
export async function startServerProcess(spec: ServerSpec, logFile: string, cpuProfDir?: string): Promise<RunningServer> {
  if (await portOpen(spec.port)) throw new Error(`port ${spec.port} is already in use`);
  const log = openSync(logFile, "a");
  const prof =
    (cpuProfDir ? `--cpu-prof --cpu-prof-dir="${cpuProfDir}" --cpu-prof-name=${spec.name}-${Date.now()}.cpuprofile ` : "") +
    (process.env.BENCH_SERVER_NODE_FLAGS ? `${process.env.BENCH_SERVER_NODE_FLAGS} ` : "");
  // exec: the PID held is the node process itself (its CPU is read from /proc/PID/stat).
  const child = spawn("bash", ["-c", `ulimit -n 20000 2>/dev/null; exec "${process.execPath}" ${prof}--import tsx server/main.ts --config "${spec.config}"`], {
    cwd: root,
    env: { ...process.env, PARLEY_DATA_DIR: spec.dataDir, PARLEY_PORT: String(spec.port) },
    stdio: ["ignore", log, log],
  });
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}; see ${logFile}`);
    if (await portOpen(spec.port)) return { spec, child, pid: child.pid! };
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill("SIGKILL");
  throw new Error(`${spec.name} did not open port ${spec.port} within 60 s`);
}

/** Stops a server by its PID: SIGTERM, then SIGKILL after `graceS`. */
export async function stopServerProcess(s: RunningServer, graceS = 30): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once("exit", () => r()));
  s.child.kill("SIGTERM");
  const killer = setTimeout(() => s.child.kill("SIGKILL"), graceS * 1000);
  await exited;
  clearTimeout(killer);
}

/** Which server member i of a room spread over `servers` servers is on, and its index there (round robin: member 0 on the first). */
export function placeMember(i: number, servers: number): { server: number; local: number } {
  return { server: i % servers, local: Math.floor(i / servers) };
}

/** How many of `members` members (placed by placeMember) are on each of `servers` servers. */
export function membersPerServer(members: number, servers: number): number[] {
  return Array.from({ length: servers }, (_, s) => Math.floor(members / servers) + (s < members % servers ? 1 : 0));
}

/** Options as `--key value` pairs with defaults; unknown keys are refused (a typo must not run a full benchmark). */
export function parseOptions(argv: string[], defaults: Record<string, string>): Record<string, string> {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    if (!(k in defaults)) throw new Error(`unknown option --${k} (known: ${Object.keys(defaults).map((x) => `--${x}`).join(" ")})`);
    const next = argv[i + 1];
    out[k] = next !== undefined && !next.startsWith("--") ? (i++, next) : "true";
  }
  return out;
}
