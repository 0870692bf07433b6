/**
 * The single binary's runtime directory. The binary carries its native addons (better-sqlite3,
 * sharp with libvips, @node-rs/argon2), the migrations and the protocol schemas as assets; Node
 * cannot load a native addon from inside the executable, so at first start they are written to a
 * directory of their own, laid out as in the repository, and loaded from there. Nothing here runs
 * under `npm start`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** What the build wrote into the binary: every asset's path relative to the runtime directory. */
export interface RuntimeManifest {
  version: string;
  /** A hash of the bundle and every asset: one runtime directory per build. */
  hash: string;
  files: string[];
}

/** The asset key of the manifest itself. */
export const manifestKey = "parley/manifest.json";
/** Written last: a directory holding it with the build's hash is complete. */
const completeMarker = ".parley-complete";

/**
 * Where the runtime directories live, first match wins: PARLEY_RUNTIME_DIR (set it on a read-only
 * system), systemd's CACHE_DIRECTORY (CacheDirectory=parley in the unit), $XDG_CACHE_HOME/parley,
 * ~/.cache/parley, else <tmp>/parley-<uid>.
 */
export function chooseRuntimeBase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PARLEY_RUNTIME_DIR) return resolve(env.PARLEY_RUNTIME_DIR);
  // systemd may list several directories separated by colons; the first is ours.
  if (env.CACHE_DIRECTORY) return resolve(env.CACHE_DIRECTORY.split(":")[0]);
  if (env.XDG_CACHE_HOME) return join(resolve(env.XDG_CACHE_HOME), "parley");
  let home = "";
  try {
    home = homedir();
  } catch {
    // A user without a home directory (some service accounts): fall through to the temporary one.
  }
  if (home && home !== "/") return join(home, ".cache", "parley");
  return join(tmpdir(), `parley-${process.getuid?.() ?? "user"}`);
}

/** The directory of this build below the base: one per version and content hash. */
export function runtimeDirFor(base: string, manifest: RuntimeManifest): string {
  return join(base, `${manifest.version}-${manifest.hash}`);
}

/** The binary's arguments: with no command (nothing, or options only) it starts the server. */
export function binaryArgs(argv: string[]): string[] {
  const first = argv[0];
  if (first === undefined || (first.startsWith("-") && first !== "-h" && first !== "--help")) return ["start", ...argv];
  return argv;
}

export class RuntimeUnpackError extends Error {}

/**
 * Makes sure dir holds every file of the manifest, writing them with read(file) when it does not.
 * A complete directory is only read, never written, so a directory filled beforehand works on a
 * read-only system. The files go to a temporary sibling that is renamed into place, so that two
 * processes starting at once, or a start cut short, never leave a half-written directory behind.
 * Returns true when it wrote the files.
 */
export function unpackRuntime(dir: string, manifest: RuntimeManifest, read: (file: string) => ArrayBuffer | Uint8Array): boolean {
  if (isComplete(dir, manifest)) return false;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now().toString(36)}`;
  try {
    mkdirSync(tmp, { recursive: true });
    for (const file of manifest.files) {
      const target = join(tmp, file);
      mkdirSync(dirname(target), { recursive: true });
      const data = read(file);
      writeFileSync(target, data instanceof Uint8Array ? data : new Uint8Array(data));
    }
    writeFileSync(join(tmp, completeMarker), manifest.hash);
    // A leftover from a start cut short before the marker was written would block the rename.
    if (existsSync(dir) && !isComplete(dir, manifest)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process renamed its copy first: use theirs.
      if (!isComplete(dir, manifest)) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
    return true;
  } catch (err) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      // Nothing was created (the parent is not a directory, or not writable).
    }
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RuntimeUnpackError(
      `cannot write the native modules to ${dir} (${reason}); set PARLEY_RUNTIME_DIR to a writable directory`,
    );
  }
}

function isComplete(dir: string, manifest: RuntimeManifest): boolean {
  try {
    return readFileSync(join(dir, completeMarker), "utf8") === manifest.hash;
  } catch {
    return false;
  }
}
