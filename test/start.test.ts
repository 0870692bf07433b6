/**
 * Start-up through the real CLI (`parley start`, in its own process): a port that is taken stops
 * it with one clear line and a non-zero exit, and nothing stays running or open.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Runs `parley start` (bin/parley.js) and resolves when the process has exited. */
function runStart(args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const { PARLEY_CONFIG: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ["bin/parley.js", "start", ...args], { cwd: repoRoot, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Takes a loopback port for the duration of the test. */
async function takePort(t: Test): Promise<number> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as { port: number }).port;
}

function dataDirFor(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "parley-start-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test("a taken port stops start-up with one clear line and a non-zero exit, leaving nothing running", async (t) => {
  const port = await takePort(t);
  const dataDir = dataDirFor(t);
  // The process must exit by itself: a database, a checkpointer thread or a timer left open
  // would keep it alive, and this await would never return.
  const run = await runStart([], { PARLEY_HOST: "127.0.0.1", PARLEY_PORT: String(port), PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: "silent" });
  t.equal(run.signal, null, "it exited by itself");
  t.not(run.code, 0, "with a non-zero code");
  const lines = run.stderr.trim().split("\n");
  t.equal(lines.length, 1, "one line on standard error");
  t.match(lines[0], new RegExp(`^parley: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*listen\\.port \\(PARLEY_PORT\\)`));
  t.notMatch(run.stderr, /\n\s+at /, "no stack trace");
  t.notMatch(run.stdout, /Parley is running/, "no banner");
  t.ok(existsSync(join(dataDir, "parley.db")), "the database was opened");
  t.notOk(existsSync(join(dataDir, "parley.db-wal")), "and closed cleanly: no write-ahead log left behind");
});

t.test("a taken metrics port stops start-up the same way, naming metrics.listen", async (t) => {
  const port = await takePort(t);
  const dataDir = dataDirFor(t);
  const configPath = join(dataDir, "parley.toml");
  writeFileSync(configPath, `[metrics]\nlisten = "127.0.0.1:${port}"\n`);
  const run = await runStart(["--config", configPath], { PARLEY_HOST: "127.0.0.1", PARLEY_PORT: "0", PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: "silent" });
  t.equal(run.signal, null);
  t.not(run.code, 0);
  const lines = run.stderr.trim().split("\n");
  t.equal(lines.length, 1, "one line on standard error");
  t.match(lines[0], new RegExp(`^parley: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*metrics\\.listen`));
  t.notOk(existsSync(join(dataDir, "parley.db-wal")), "the database was closed");
});

t.test("parley config shows whether a metrics token is set, never the token", async (t) => {
  const dir = dataDirFor(t);
  const configPath = join(dir, "parley.toml");
  const token = "scrape-me-0123456789-abcdefghij";
  writeFileSync(configPath, `[metrics]\ntoken = "${token}"\n`);
  const { PARLEY_CONFIG: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ["bin/parley.js", "config", "--config", configPath], { cwd: repoRoot, env: inherited, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (d) => (stdout += d));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  t.equal(code, 0);
  t.match(stdout, /\[metrics\][^[]*token = "\[redacted\]"/);
  t.notOk(stdout.includes(token));
});
