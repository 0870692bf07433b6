/**
 * The single binary (`npm run build:binary`): its runtime directory, unpacked in-process here, and
 * the built executable itself, started on a temporary data directory: the CLI in the same file
 * creates a user, Bob registers over HTTP and sends a message over the WebSocket, the server is
 * stopped and started again, and the message is read back.
 *
 * The executable is $PARLEY_BINARY when set (.ci/run builds it once for both Node runs); else this
 * file builds it, which takes minutes the first time (better-sqlite3 is compiled for Node 24), and
 * skips only when the tool chain is missing (no Node 24 to be had, no C++ compiler).
 */
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { ParleyClient, type WebSocketConstructor } from "../clients/sdk/index.ts";
import { binaryArgs, chooseRuntimeBase, runtimeDirFor, RuntimeUnpackError, unpackRuntime, type RuntimeManifest } from "../server/runtime/unpack.ts";
import { password } from "./helpers.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Without $PARLEY_BINARY this file builds the binary, compiling better-sqlite3 for Node 24 the
// first time: allow for it (tap's runner is told of the longer timeout).
if (!process.env.PARLEY_BINARY) t.setTimeout(20 * 60_000);

t.test("the runtime directory", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "parley-runtime-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const manifest: RuntimeManifest = { version: "1.2.3", hash: "abc123", files: ["package.json", "node_modules/x/lib/index.js"] };
  const contents: Record<string, string> = { "package.json": "{}", "node_modules/x/lib/index.js": "module.exports = 42;" };

  t.test("is chosen from PARLEY_RUNTIME_DIR, then systemd's CACHE_DIRECTORY, then the XDG cache, then the home directory", async (t) => {
    t.equal(chooseRuntimeBase({ PARLEY_RUNTIME_DIR: "/srv/parley-rt", CACHE_DIRECTORY: "/var/cache/parley" }), "/srv/parley-rt");
    t.equal(chooseRuntimeBase({ CACHE_DIRECTORY: "/var/cache/parley:/var/cache/other", XDG_CACHE_HOME: "/home/alice/.cache" }), "/var/cache/parley");
    t.equal(chooseRuntimeBase({ XDG_CACHE_HOME: "/home/alice/.cache" }), "/home/alice/.cache/parley");
    t.match(chooseRuntimeBase({}), /parley/);
    t.equal(runtimeDirFor("/var/cache/parley", manifest), "/var/cache/parley/1.2.3-abc123");
  });

  t.test("is written once per build and then only read", async (t) => {
    const target = runtimeDirFor(dir, manifest);
    const reads: string[] = [];
    const read = (file: string) => {
      reads.push(file);
      return new TextEncoder().encode(contents[file]);
    };
    t.equal(unpackRuntime(target, manifest, read), true);
    t.equal(readFileSync(join(target, "node_modules/x/lib/index.js"), "utf8"), "module.exports = 42;");
    t.same(reads.sort(), [...manifest.files].sort());
    const written = statSync(join(target, "package.json")).mtimeMs;
    t.equal(unpackRuntime(target, manifest, read), false, "a complete directory is not written again");
    t.equal(reads.length, 2);
    t.equal(statSync(join(target, "package.json")).mtimeMs, written);
    t.same(readdirSync(dir), ["1.2.3-abc123"], "no temporary directory is left behind");
  });

  t.test("replaces a directory left incomplete by a start cut short", async (t) => {
    const other = { ...manifest, hash: "def456" };
    const target = runtimeDirFor(dir, other);
    mkdirSync(join(target, "node_modules"), { recursive: true });
    writeFileSync(join(target, "package.json"), "half");
    t.equal(unpackRuntime(target, other, (file) => new TextEncoder().encode(contents[file])), true);
    t.equal(readFileSync(join(target, "package.json"), "utf8"), "{}");
  });

  t.test("that cannot be written names the directory and the variable to set", async (t) => {
    const blocked = join(dir, "a-file");
    writeFileSync(blocked, "");
    const err = t.throws(() => unpackRuntime(join(blocked, "rt"), manifest, (file) => new TextEncoder().encode(contents[file])));
    t.ok(err instanceof RuntimeUnpackError);
    t.match((err as Error).message, /cannot write the native modules to .*a-file\/rt .*set PARLEY_RUNTIME_DIR to a writable directory/);
  });
});

t.test("the binary starts the server when given no command, and runs every CLI command", async (t) => {
  t.same(binaryArgs([]), ["start"]);
  t.same(binaryArgs(["--config", "parley.toml"]), ["start", "--config", "parley.toml"]);
  t.same(binaryArgs(["user", "create", "alice"]), ["user", "create", "alice"]);
  t.same(binaryArgs(["--help"]), ["--help"]);
});

/** The executable to test: $PARLEY_BINARY, or one built now (undefined when the tool chain is missing). */
function binaryUnderTest(t: Tap.Test): string | undefined {
  const given = process.env.PARLEY_BINARY;
  if (given) return resolve(given);
  const out = join(mkdtempSync(join(tmpdir(), "parley-binary-")), "parley");
  t.teardown(() => rmSync(dirname(out), { recursive: true, force: true }));
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "build-binary.ts"), "--out", out], { cwd: root, encoding: "utf8" });
  if (r.status === 3) return undefined;
  if (r.status !== 0) throw new Error(`npm run build:binary failed (${r.status}):\n${r.stderr}`);
  return out;
}

interface Running {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
}

/** Starts the binary with no command (as `npm start`) and waits for its address. */
function start(binary: string, env: NodeJS.ProcessEnv): Promise<Running> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(binary, [], { env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const onData = (chunk: Buffer) => {
      text += String(chunk);
      const m = /HTTP:\s+(http:\/\/\S+)/.exec(text);
      if (m) resolveStart({ child, baseUrl: m[1], output: () => text });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`the binary exited (${code}) before listening:\n${text}`)));
  });
}

/** Stops it as systemd does (SIGTERM) and resolves with its exit code. */
function stop(running: Running): Promise<number | null> {
  return new Promise((resolveStop) => {
    running.child.removeAllListeners("exit");
    running.child.once("exit", (code) => resolveStop(code));
    running.child.kill("SIGTERM");
  });
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[0]>[0];
}

t.test("the built binary serves, keeps its data across a restart, and carries the CLI", async (t) => {
  const binary = binaryUnderTest(t);
  if (!binary) {
    t.plan(0, "skipped: the build tool chain is missing (Node 24 from the npm registry, a C++ compiler); see scripts/build-binary.ts");
    return;
  }
  if (!existsSync(binary)) {
    t.fail(`no binary at ${binary} (did npm run build:binary fail?)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "parley-binary-run-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const runtimeDir = join(dir, "runtime");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    PARLEY_RUNTIME_DIR: runtimeDir,
    PARLEY_DATA_DIR: join(dir, "data"),
    PARLEY_PORT: "0",
    PARLEY_SERVER_NAME: "school.test",
    PARLEY_LOG_LEVEL: "warn",
  };

  const help = spawnSync(binary, ["help"], { env, encoding: "utf8" });
  t.equal(help.status, 0, "parley help");
  t.match(help.stdout, /Usage: parley <command>/);

  const created = spawnSync(binary, ["user", "create", "alice", "--admin", "--password", password], { env, encoding: "utf8" });
  t.equal(created.status, 0, `parley user create: ${created.stderr}`);
  t.match(created.stdout, /created @alice:school\.test \(server admin\)/);
  const unpacked = readdirSync(runtimeDir);
  t.equal(unpacked.length, 1, "one runtime directory for this build");
  t.ok(existsSync(join(runtimeDir, unpacked[0], "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")), "better-sqlite3's addon is unpacked");
  t.ok(existsSync(join(runtimeDir, unpacked[0], "migrations", "meta", "_journal.json")), "the migrations are unpacked");

  const clientOptions = (baseUrl: string) => ({ baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor });
  const first = await start(binary, env);
  let text = "";
  let roomId = "";
  try {
    const bob = await ParleyClient.register(clientOptions(first.baseUrl), { username: "bob", password, deviceName: "bob's laptop" });
    await bob.connect();
    const group = await bob.request("group.create", { name: "Chess club" });
    roomId = group.roomId;
    text = "The binary kept this across a restart.";
    const sent = await bob.request("message.send", { roomId, body: text, txnId: "b-0001" });
    t.equal(sent.duplicate, false);
    bob.close();
    // Alice, made by the CLI in the same file, logs in to the same server.
    const alice = await ParleyClient.login(clientOptions(first.baseUrl), { username: "alice", password, deviceName: "alice's laptop" });
    t.equal(alice.session.userId, "@alice:school.test");
  } finally {
    t.equal(await stop(first), 0, "the first run stops cleanly on SIGTERM");
  }

  const second = await start(binary, env);
  try {
    t.same(readdirSync(runtimeDir), unpacked, "the second start reuses the runtime directory");
    const bob = await ParleyClient.login(clientOptions(second.baseUrl), { username: "bob", password, deviceName: "bob's phone" });
    await bob.connect();
    const history = await bob.request("message.history", { roomId });
    t.same(
      history.messages.map((m) => [m.sender, m.body]),
      [["@bob:school.test", text]],
      "the message sent before the restart is read back",
    );
    bob.close();
  } finally {
    t.equal(await stop(second), 0, "the second run stops cleanly on SIGTERM");
  }
});
