/**
 * Runs Parley's side of the anchor benchmark: seeds the accounts in a fresh data directory,
 * starts the server as its own process (so its CPU and RSS are measured alone), runs each
 * measurement as its own load-generator process (bench/load.ts), stops the server by PID, and
 * writes raw.jsonl, summary.md, env.txt and run.log to the output directory.
 *
 *   npm run bench -- --scenario A1                 one scenario, one repetition
 *   npm run bench -- --scenario A1,A2,B,C --reps 2 the issue's set
 *   npm run bench -- --scenario all --reps 2        A1 A2 A3 B C
 *   npm run bench -- --scenario B --cpu-prof        also write a CPU profile of the server
 *
 * Options: --reps N, --out DIR (default /tmp/parley-bench/<run-id>), --data-dir DIR (reuse an
 * already seeded directory), --port P (18080), --users N (as many as the scenarios need),
 * --config FILE (bench/server.toml), --cpu-prof, --label-suffix S, --compare RAW.jsonl (an anchor
 * raw file to put beside Parley in summary.md), --quiet-machine-pct P (20; 0 turns it off) and
 * --quiet-machine-max-s S (300): before each measurement, wait until the whole machine (shared
 * with other test runs) was less than P % busy for 3 s, at most S seconds. Everything talks to 127.0.0.1 only; every step
 * has a timeout; the server is stopped by its PID on exit, also on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, release, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    scenario: { type: "string", multiple: true, default: ["A1"] },
    reps: { type: "string", default: "1" },
    out: { type: "string" },
    "data-dir": { type: "string" },
    port: { type: "string", default: "18080" },
    users: { type: "string" },
    config: { type: "string", default: join(root, "bench/server.toml") },
    "cpu-prof": { type: "boolean", default: false },
    "label-suffix": { type: "string", default: "" },
    compare: { type: "string", multiple: true, default: [] },
    "join-concurrency": { type: "string" },
    driver: { type: "string", default: "raw" },
    "quiet-machine-pct": { type: "string", default: "20" },
    "quiet-machine-max-s": { type: "string", default: "300" },
  },
});

interface Fanout {
  label: string;
  args: string[];
}
const fanouts: Record<string, Fanout> = {
  A1: { label: "A1-window10", args: ["--members", "100", "--senders", "10", "--msgs", "200", "--mode", "window", "--window", "10"] },
  A2: { label: "A2-paced10", args: ["--members", "100", "--senders", "10", "--msgs", "200", "--mode", "rate", "--rate", "10"] },
  A3: { label: "A3-burst", args: ["--members", "100", "--senders", "10", "--msgs", "200", "--mode", "burst"] },
  B: { label: "B-burst", args: ["--members", "1000", "--senders", "1", "--msgs", "100", "--mode", "burst", "--room", "community", "--timeout-s", "300"] },
  // Not an anchor scenario: A1's pattern at a tenth of its size, to check a script (bench/federation.sh SMALL=1), not to measure.
  // A1 ten times longer (10 x 2,000): a window of several seconds, for CPU per delivery that a half-second A1 measures too coarsely.
  A1LONG: { label: "A1-long", args: ["--members", "100", "--senders", "10", "--msgs", "2000", "--mode", "window", "--window", "10"] },
  // A1 thirty times longer (10 x 6,000, some ten seconds): the steady state, past the warm-up
  // (JIT) that dominates the half-second A1, beside F1 with --msgs 6000.
  A1XL: { label: "A1-xl", args: ["--members", "100", "--senders", "10", "--msgs", "6000", "--mode", "window", "--window", "10", "--timeout-s", "600"] },
  // A1 after a warm-up round of 10 x 6,000 (bench/lib/warmup.ts): the half-second A1 on a server
  // that has run long enough for V8 to optimize what it runs (beside F1 --warmup-msgs 6000).
  A1WARM: { label: "A1-warm", args: ["--members", "100", "--senders", "10", "--msgs", "200", "--mode", "window", "--window", "10", "--warmup-msgs", "6000", "--timeout-s", "600"] },
  A1SMALL: { label: "A1-small-check", args: ["--members", "20", "--senders", "10", "--msgs", "20", "--mode", "window", "--window", "10"] },
  // Not an anchor scenario: B with the A1 window of 10 un-echoed announcements.
  BW: { label: "B-window10", args: ["--members", "1000", "--senders", "1", "--msgs", "100", "--mode", "window", "--window", "10", "--room", "community", "--timeout-s", "300"] },
};
const known = [...Object.keys(fanouts), "C"];
let scenarios = values.scenario.flatMap((s) => s.split(",")).map((s) => s.trim().toUpperCase()).filter(Boolean);
if (scenarios.includes("ALL")) scenarios = ["A1", "A2", "A3", "B", "C"];
for (const s of scenarios) if (!known.includes(s)) throw new Error(`unknown scenario ${s} (known: ${known.join(", ")}, all)`);
const reps = Number(values.reps);
const port = Number(values.port);
const needUsers = Number(values.users ?? (scenarios.includes("C") ? 5000 : scenarios.some((s) => s.startsWith("B")) ? 1000 : 100));
const runId = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
const out = resolve(values.out ?? join(tmpdir(), "parley-bench", runId));
mkdirSync(out, { recursive: true });
const raw = join(out, "raw.jsonl");
const logFile = join(out, "run.log");
const dataDir = resolve(values["data-dir"] ?? mkdtempSync(join(tmpdir(), "parley-bench-data-")));
const tokens = join(dataDir, "bench-tokens.json");

function log(line: string): void {
  const l = `[${new Date().toISOString().slice(11, 19)}] ${line}`;
  process.stderr.write(`${l}\n`);
  appendFileSync(logFile, `${l}\n`);
}

let aborted = false;
let current: ChildProcess | null = null;

/** Runs one bounded child process to completion; resolves with its exit code. */
function runChild(cmd: string, argv: string[], timeoutS: number, extraEnv: Record<string, string> = {}): Promise<number> {
  if (aborted) return Promise.reject(new Error("interrupted"));
  return new Promise((done) => {
    const stdout = openSync(join(out, "bench.stdout"), "a");
    const stderr = openSync(logFile, "a");
    const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...extraEnv }, stdio: ["ignore", stdout, stderr] });
    current = child;
    const timer = setTimeout(() => {
      log(`  -> ${cmd} exceeded ${timeoutS}s, stopping PID ${child.pid}`);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, timeoutS * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (current === child) current = null;
      done(code ?? (signal ? 128 : 1));
    });
  });
}

const node = process.execPath;
const tsx = ["--import", "tsx"];

let server: ChildProcess | null = null;
// A server under --cpu-prof uses about 10 % of a core idle (the sampler): count it as idle.
const idlePct = values["cpu-prof"] ? "25" : "5";

function portOpen(): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      r(true);
    });
    s.on("error", () => r(false));
  });
}

async function startServer(tag: string): Promise<number> {
  if (aborted) throw new Error("interrupted");
  if (await portOpen()) throw new Error(`port ${port} is already in use`);
  const prof =
    (values["cpu-prof"] ? `--cpu-prof --cpu-prof-dir=${join(out, "prof")} --cpu-prof-name=server-${tag}-${Date.now()}.cpuprofile ` : "") +
    // V8/Node flags for the server that NODE_OPTIONS refuses (as bench/lib/cluster.ts).
    (process.env.BENCH_SERVER_NODE_FLAGS ? `${process.env.BENCH_SERVER_NODE_FLAGS} ` : "");
  const serverLog = openSync(join(out, "server.log"), "a");
  // exec: the PID we hold is the node process itself; ulimit as the anchor's start scripts.
  const child = spawn("bash", ["-c", `ulimit -n 20000 2>/dev/null; exec "${node}" ${prof}--import tsx server/main.ts --config "${values.config}"`], {
    cwd: root,
    env: { ...process.env, PARLEY_DATA_DIR: dataDir, PARLEY_PORT: String(port) },
    stdio: ["ignore", serverLog, serverLog],
  });
  server = child;
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}; see ${join(out, "server.log")}`);
    if (await portOpen()) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!(await portOpen())) throw new Error("server did not open its port within 60 s");
  await new Promise((r) => setTimeout(r, 2000)); // let start-up settle, as the anchor's scripts
  log(`parley started, PID ${child.pid}`);
  return child.pid!;
}

async function stopServer(): Promise<void> {
  const child = server;
  if (!child || child.exitCode !== null) return;
  await runChild(node, [...tsx, "bench/load.ts", "wait-idle", "--server-pid", String(child.pid), "--max-s", "300", "--server-idle-pct", idlePct], 320);
  log(`stopping parley PID ${child.pid}`);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  termSent = child;
  child.kill("SIGTERM");
  const killer = setTimeout(() => {
    log(`PID ${child.pid} did not exit after SIGTERM, sending SIGKILL`);
    child.kill("SIGKILL");
  }, 60_000);
  await exited;
  clearTimeout(killer);
  server = null;
}

let termSent: ChildProcess | null = null;
function stopNow(): void {
  // One SIGTERM only: a second one would kill the server before it writes its CPU profile.
  if (server && server.exitCode === null && termSent !== server) {
    const child = server;
    termSent = child;
    log(`cleanup: stopping parley PID ${child.pid}`);
    child.kill("SIGTERM");
    setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 30_000).unref();
  }
}
function interrupt(code: number): void {
  log("interrupted");
  aborted = true;
  current?.kill("SIGTERM");
  stopNow();
  process.exitCode = code;
}
process.on("SIGINT", () => interrupt(130));
process.on("SIGTERM", () => interrupt(143));

async function bench(pid: number, label: string, argv: string[]): Promise<void> {
  log(`parley ${label} ${argv.join(" ")}`);
  const code = await runChild(
    node,
    [
      ...tsx,
      "bench/load.ts",
      ...argv,
      "--server",
      "parley",
      "--server-pid",
      String(pid),
      "--port",
      String(port),
      "--tokens",
      tokens,
      "--label",
      label + values["label-suffix"],
      "--out",
      raw,
      "--global-timeout-s",
      "650",
      "--quiet",
      "--server-idle-pct",
      idlePct,
      ...(values["join-concurrency"] ? ["--join-concurrency", values["join-concurrency"]] : []),
      "--driver",
      values.driver,
      ...(Number(values["quiet-machine-pct"]) > 0 ? ["--quiet-machine-pct", values["quiet-machine-pct"], "--quiet-machine-max-s", values["quiet-machine-max-s"]] : []),
    ],
    700,
  );
  if (code !== 0) log(`  -> exit code ${code}`);
}

function sh(cmd: string): string {
  try {
    return readFileSync(cmd, "utf8");
  } catch {
    return "";
  }
}

const t0 = Date.now();
writeFileSync(
  join(out, "env.txt"),
  [
    `run_id: ${runId}`,
    `date: ${new Date().toUTCString()}`,
    `kernel: ${release()}`,
    `cpu: ${cpus()[0]?.model} x ${cpus().length}`,
    `mem: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `node: ${process.version}`,
    `load average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    `scenarios: ${scenarios.join(" ")}  reps: ${reps}  users: ${needUsers}  cpu-prof: ${values["cpu-prof"]}`,
    `config: ${values.config}`,
    `data dir: ${dataDir}`,
    `source: ${root} ${sh(join(root, "COMMIT")).trim() || `(git ${sh(join(root, ".git/HEAD")).trim()}, with the working tree's changes)`}`,
    "",
  ].join("\n"),
);

try {
  const have = existsSync(tokens) ? Object.keys(JSON.parse(readFileSync(tokens, "utf8"))).length : 0;
  if (have < needUsers) {
    log(`seeding ${needUsers} accounts in ${dataDir}`);
    const code = await runChild(node, [...tsx, "bench/seed.ts", "--config", values.config, "--data-dir", dataDir, "--users", String(needUsers)], 600);
    if (code !== 0) throw new Error(`seeding failed (${code})`);
    appendFileSync(raw, readFileSync(join(out, "bench.stdout"), "utf8").split("\n").filter((l) => l.includes('"cmd":"register"')).slice(-1)[0] + "\n");
  }
  const fan = scenarios.filter((s) => s !== "C");
  if (fan.length) {
    const pid = await startServer("fanout");
    const aFirst = fan.filter((s) => s.startsWith("A"));
    for (let rep = 1; rep <= reps; rep++) for (const s of aFirst) await bench(pid, fanouts[s].label, ["fanout", ...fanouts[s].args]);
    for (let rep = 1; rep <= reps; rep++) for (const s of fan.filter((x) => x.startsWith("B"))) await bench(pid, fanouts[s].label, ["fanout", ...fanouts[s].args]);
    await stopServer();
  }
  if (scenarios.includes("C")) {
    for (let rep = 1; rep <= reps; rep++) {
      // Each C run on a freshly restarted server (accounts kept), as the anchor.
      const pid = await startServer(`idle${rep}`);
      await bench(pid, "C-idle", ["idle", "--counts", "2000,5000", "--warmup", "100", "--settle-s", "5"]);
      await stopServer();
    }
  }
} catch (err) {
  log(`failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  stopNow();
}
log(`run took ${Math.round((Date.now() - t0) / 1000)} s`);
if (existsSync(raw) && !aborted) {
  await runChild(node, [...tsx, "bench/summarize.ts", "--md", join(out, "summary.md"), raw, ...values.compare], 60);
  log(`results: ${raw}`);
  log(`summary: ${join(out, "summary.md")}`);
  process.stdout.write(readFileSync(join(out, "summary.md"), "utf8"));
}
