/**
 * The single binary's entry point (scripts/build-binary.ts bundles from here; `npm start` never
 * loads it). It unpacks the runtime directory (see unpack.ts), installs the two hooks the bundle
 * was built against, then runs the CLI: `parley` alone, or with options only, starts the server
 * as `npm start` does; `parley user create …` and every other command work as with `npx parley`.
 *
 * The hooks, read by code that the build's esbuild plugin generates:
 * - require(name): loads a native package (better-sqlite3, sharp, @node-rs/argon2) from the
 *   runtime directory's node_modules, with its own loader finding its .node file and libraries.
 * - moduleUrl(path): what `import.meta.url` is for the repository file at path, placed in the
 *   runtime directory, so that code finding migrations/ or protocol/ next to itself finds them.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { getAsset, getRawAsset } from "node:sea";
import { pathToFileURL } from "node:url";
import { binaryArgs, chooseRuntimeBase, manifestKey, runtimeDirFor, RuntimeUnpackError, unpackRuntime, type RuntimeManifest } from "./unpack.ts";

export interface RuntimeHooks {
  dir: string;
  require(name: string): unknown;
  moduleUrl(path: string): string;
}

function installRuntime(): RuntimeHooks {
  const manifest = JSON.parse(getAsset(manifestKey, "utf8")) as RuntimeManifest;
  const dir = runtimeDirFor(chooseRuntimeBase(), manifest);
  unpackRuntime(dir, manifest, (file) => getRawAsset(file) as ArrayBuffer);
  const hooks: RuntimeHooks = {
    dir,
    require: createRequire(join(dir, "package.json")),
    moduleUrl: (path) => pathToFileURL(join(dir, path)).href,
  };
  (globalThis as Record<symbol, unknown>)[Symbol.for("parley.runtime")] = hooks;
  return hooks;
}

async function main(): Promise<number> {
  try {
    installRuntime();
  } catch (err) {
    if (!(err instanceof RuntimeUnpackError)) throw err;
    process.stderr.write(`parley: ${err.message}\n`);
    return 1;
  }
  // Loaded only now: the modules it pulls in need the hooks above when they are evaluated.
  const { runCli } = await import("../cli.ts");
  return runCli(binaryArgs(process.argv.slice(2)));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`parley: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
