/**
 * better-sqlite3's addon, built so that it does not abort Node 24.
 *
 *   npm run build:sqlite              rebuild node_modules' addon for this Node when needed
 *   (postinstall runs it with --quiet; scripts/build-binary.ts uses sqliteAddonFor)
 *
 * Node 24's node_object_wrap.h (inline code, compiled into every addon that uses it) registers a
 * cleanup hook per wrapped object, and the destructor CHECKs that a Node Environment is current.
 * V8 collects better-sqlite3 12's Statement objects from weak callbacks that run outside any
 * context (a GC from a platform task, a worker's teardown), so on Node 24 a server process aborts
 * at random with "Assertion failed: (env) != nullptr" (exit 134): better-sqlite3 12 + Node 24 is a
 * known upstream problem. better-sqlite3 13 fixes it with Node-API, but needs Node 22 (N-API 10),
 * and Parley still runs on Node 20. So on a Node whose header has the hook, this compiles
 * better-sqlite3 against the same headers with node_object_wrap.h as Node 22 has it (the hook
 * calls removed). The addon's ABI is unchanged: only inline code differs. On Node 20 and 22 it
 * does nothing but what `npm rebuild better-sqlite3` would.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = join(root, ".cache");
const require = createRequire(import.meta.url);
/** Beside a fixed addon in node_modules: it was built here, with the header fixed. */
const fixedMarker = "better_sqlite3.parley-fixed";

export class ToolchainMissing extends Error {}

function log(line: string): void {
  process.stderr.write(`build:sqlite: ${line}\n`);
}

function nodeFacts(node: string): { version: string; abi: string } {
  const r = spawnSync(node, ["-p", "process.versions.node + ' ' + process.versions.modules"], { encoding: "utf8" });
  if (r.status !== 0) throw new ToolchainMissing(`cannot run ${node}`);
  const [version, abi] = r.stdout.trim().split(" ");
  return { version, abi };
}

/**
 * The directory holding node's C headers (include/node, of the same version): beside the binary
 * (official builds, the registry's `node` package, Debian), $npm_config_nodedir, or node-gyp's
 * download cache.
 */
export function headersOf(node: string): string {
  const { version } = nodeFacts(node);
  const candidates = [dirname(dirname(realpathSync(node))), process.env.npm_config_nodedir, join(homedir(), ".cache", "node-gyp", version)];
  for (const dir of candidates) {
    if (!dir) continue;
    try {
      const h = readFileSync(join(dir, "include", "node", "node_version.h"), "utf8");
      const part = (name: string) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(h)?.[1];
      if ([part("MAJOR"), part("MINOR"), part("PATCH")].join(".") === version) return dir;
    } catch {
      // Not there: the next candidate.
    }
  }
  throw new ToolchainMissing(`no C headers for Node ${version} (set npm_config_nodedir to a directory with include/node)`);
}

/** Whether addons built against these headers get Node 24's per-object cleanup hook. */
export function needsFix(nodedir: string): boolean {
  return /^\s*AddCleanupHook\(\);/m.test(readFileSync(join(nodedir, "include", "node", "node_object_wrap.h"), "utf8"));
}

/** The headers with node_object_wrap.h without the hook calls; the other files are linked. */
function fixedHeaders(nodedir: string, into: string): string {
  const src = join(nodedir, "include", "node");
  const dst = join(into, "include", "node");
  rmSync(into, { recursive: true, force: true });
  mkdirSync(dst, { recursive: true });
  for (const entry of readdirSync(src)) {
    if (entry !== "node_object_wrap.h") symlinkSync(join(src, entry), join(dst, entry));
  }
  const header = readFileSync(join(src, "node_object_wrap.h"), "utf8");
  writeFileSync(join(dst, "node_object_wrap.h"), header.replace(/^[ \t]*AddCleanupHook\(\);\n/m, "").replace(/^[ \t]*RemoveCleanupHook\(\);\n/m, ""));
  return into;
}

/** Whether node loads the addon at path (the same ABI). */
export function loads(node: string, path: string): boolean {
  return spawnSync(node, ["-e", `process.dlopen({ exports: {} }, ${JSON.stringify(path)})`], { stdio: "ignore" }).status === 0;
}

function sqlitePackage(): { dir: string; version: string } {
  const dir = dirname(require.resolve("better-sqlite3/package.json"));
  return { dir, version: (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version };
}

/** Compiles better-sqlite3 for node in a staging directory under .cache (reused when present). */
function compile(node: string): string {
  const pkg = sqlitePackage();
  const { abi } = nodeFacts(node);
  const nodedir = headersOf(node);
  const fix = needsFix(nodedir);
  const staging = join(cacheDir, "sqlite", `better-sqlite3-${pkg.version}-abi${abi}${fix ? "-fixed" : ""}`);
  const built = join(staging, "build", "Release", "better_sqlite3.node");
  if (existsSync(built) && loads(node, built)) return built;
  log(`compiling better-sqlite3 ${pkg.version} for Node ABI ${abi}${fix ? " with the Node 24 ObjectWrap fix" : ""} (a minute or two)`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const entry of ["binding.gyp", "package.json", "src", "deps"]) cpSync(join(pkg.dir, entry), join(staging, entry), { recursive: true });
  const headers = fix ? fixedHeaders(nodedir, join(staging, "node-headers")) : nodedir;
  const npmCli = process.env.npm_execpath ?? realpathSync(spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim());
  const gyp = join(dirname(npmCli), "..", "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (!existsSync(gyp)) throw new ToolchainMissing(`node-gyp not found beside npm (${gyp})`);
  // npm passes its own nodedir down as npm_config_nodedir, which node-gyp prefers: replace it.
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ""}`, npm_config_nodedir: headers };
  const r = spawnSync(node, [gyp, "rebuild", "--release", `--nodedir=${headers}`, `--jobs=${process.env.JOBS ?? "2"}`], {
    cwd: staging,
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 || !existsSync(built)) {
    process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`);
    throw new ToolchainMissing("compiling better-sqlite3 failed (are a C++ compiler, make and python3 installed?)");
  }
  if (!loads(node, built)) throw new Error(`the compiled ${built} does not load in ${node}`);
  return built;
}

/** An addon that node loads and that does not abort it: node_modules' own when it is, else a build in .cache. */
export function sqliteAddonFor(node: string): string {
  const installed = join(sqlitePackage().dir, "build", "Release", "better_sqlite3.node");
  if (existsSync(installed) && loads(node, installed)) {
    if (existsSync(join(dirname(installed), fixedMarker)) || !needsFix(headersOf(node))) return installed;
  }
  return compile(node);
}

/** Makes node_modules' addon right for this Node (the postinstall step and `npm run build:sqlite`). */
function main(): number {
  const quiet = process.argv.includes("--quiet");
  const installed = join(sqlitePackage().dir, "build", "Release", "better_sqlite3.node");
  try {
    const addon = sqliteAddonFor(process.execPath);
    if (addon === installed) {
      if (!quiet) log(`node_modules' better-sqlite3 is right for Node ${process.versions.node}`);
      return 0;
    }
    mkdirSync(dirname(installed), { recursive: true });
    copyFileSync(addon, installed);
    if (needsFix(headersOf(process.execPath))) writeFileSync(join(dirname(installed), fixedMarker), `${process.versions.node}\n`);
    log(`installed ${addon} into node_modules for Node ${process.versions.node}`);
    return 0;
  } catch (err) {
    log((err as Error).message);
    if (quiet && err instanceof ToolchainMissing) {
      log("better-sqlite3 may abort this Node (24 or later) at random: run `npm run build:sqlite` once the tool chain is there");
      return 0;
    }
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main();
