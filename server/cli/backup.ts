import { createHash } from "node:crypto";
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import type { Config } from "../config/load.ts";
import { migrationsFolder, runMigrations } from "../storage/database.ts";
import { version } from "../version.ts";
import { CliError, bytes, out } from "./io.ts";

const databaseFile = "parley.db";
const manifestFile = "manifest.json";

export interface BackupManifest {
  format: "parley-backup";
  formatVersion: 1;
  parleyVersion: string;
  serverName: string;
  createdAt: string;
  /** How many migrations the backed-up database had, and the last one's name. */
  schema: { migrations: number; latest: string | null };
  database: { path: string; size: number; sha256: string };
  /** The media files the database references (and their previews), as copied. */
  files: { path: string; size: number; sha256: string }[];
  /** Files the database referenced that were not on disk when the backup ran. */
  missing: string[];
}

interface JournalEntry {
  tag: string;
  when: number;
}

function journal(): JournalEntry[] {
  return (JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: JournalEntry[] }).entries;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function isEmptyOrMissing(dir: string): boolean {
  return !existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0);
}

/**
 * `parley backup DIR`: a consistent copy of the database and of the files it references, with a
 * manifest. Safe while the server runs and writes: SQLite's online backup copies every page in
 * one step, inside one read transaction, so the copy is the database as of one commit (in WAL
 * mode that read blocks no writer). Done in small steps instead, the copy would start over each
 * time the server commits, and under steady writes might never finish. Files are named by their
 * SHA-256 and never change, so copying them after the database is consistent: a file uploaded
 * later is not referenced by the copy, and one the copy references is on disk unless the hourly
 * collection removed it in between (then it is listed as missing).
 */
export async function backup(config: Config, target: string): Promise<number> {
  const dataDir = config.storage.data_dir;
  const source = join(dataDir, databaseFile);
  if (!existsSync(source)) throw new CliError(`there is no database at ${source}; check storage.data_dir`);
  const dir = resolve(target);
  if (!isEmptyOrMissing(dir)) throw new CliError(`${dir} is not empty; back up into a new or empty directory`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const copyPath = join(dir, databaseFile);
  const db = new BetterSqlite3(source, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    await db.backup(copyPath, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }

  const copy = new BetterSqlite3(copyPath);
  let schema: BackupManifest["schema"];
  let media: { id: string; has_preview: number }[];
  try {
    const check = copy.pragma("integrity_check", { simple: true });
    if (check !== "ok") throw new CliError(`the copied database fails SQLite's integrity check (${String(check)}); the backup is not usable`, 1);
    // One self-contained file: no WAL beside it.
    copy.pragma("journal_mode = DELETE");
    const applied = copy.prepare("SELECT created_at FROM __drizzle_migrations ORDER BY id").all() as { created_at: number }[];
    const last = applied.at(-1)?.created_at;
    schema = { migrations: applied.length, latest: journal().find((e) => e.when === Number(last))?.tag ?? null };
    media = copy.prepare("SELECT id, has_preview FROM media ORDER BY id").all() as { id: string; has_preview: number }[];
  } finally {
    copy.close();
  }

  const files: BackupManifest["files"] = [];
  const missing: string[] = [];
  for (const m of media) {
    const rel = [join("media", m.id.slice(0, 2), m.id)];
    if (m.has_preview) rel.push(`${rel[0]}.preview.jpg`);
    for (const path of rel) {
      const from = join(dataDir, path);
      if (!existsSync(from)) {
        missing.push(path);
        continue;
      }
      const to = join(dir, path);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      files.push({ path, size: statSync(to).size, sha256: await sha256Of(to) });
    }
  }

  const manifest: BackupManifest = {
    format: "parley-backup",
    formatVersion: 1,
    parleyVersion: version,
    serverName: config.server.name,
    createdAt: new Date().toISOString(),
    schema,
    database: { path: databaseFile, size: statSync(copyPath).size, sha256: await sha256Of(copyPath) },
    files,
    missing,
  };
  writeFileSync(join(dir, manifestFile), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  const total = manifest.database.size + files.reduce((n, f) => n + f.size, 0);
  out(`backed up ${config.server.name} to ${dir}: the database (${bytes(manifest.database.size)}, ${schema.migrations} migrations) and ${files.length} file(s), ${bytes(total)} in all`);
  if (missing.length) out(`warning: ${missing.length} referenced file(s) were not on disk: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
  return 0;
}

/**
 * `parley restore DIR`: checks the backup against its manifest (every size and SHA-256), then
 * copies it into the configured data directory, which must be empty or missing: a restore never
 * mixes with or overwrites a live server's data. The database is migrated to this version.
 */
export async function restore(config: Config, source: string): Promise<number> {
  const dir = resolve(source);
  const manifestPath = join(dir, manifestFile);
  if (!existsSync(manifestPath)) throw new CliError(`${dir} has no ${manifestFile}; is it a directory made by "parley backup"?`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as BackupManifest;
  } catch {
    throw new CliError(`${manifestPath} is not valid JSON; the backup is damaged`);
  }
  if (manifest.format !== "parley-backup" || manifest.formatVersion !== 1 || !manifest.database || !Array.isArray(manifest.files)) {
    throw new CliError(`${manifestPath} is not a Parley backup manifest this version understands`);
  }
  const known = journal().length;
  if (manifest.schema.migrations > known) {
    throw new CliError(`the backup's database has ${manifest.schema.migrations} migrations, more than this Parley (${version}) knows (${known}); restore it with Parley ${manifest.parleyVersion} or newer`);
  }
  if (manifest.serverName !== config.server.name) {
    throw new CliError(`the backup is of the server "${manifest.serverName}" but the configuration names "${config.server.name}"; user and room ids carry the name, so set server.name to "${manifest.serverName}"`);
  }
  const dataDir = resolve(config.storage.data_dir);
  if (!isEmptyOrMissing(dataDir)) throw new CliError(`the data directory ${dataDir} is not empty; restore only into an empty or missing directory`);

  for (const f of [manifest.database, ...manifest.files]) {
    const path = join(dir, f.path);
    if (f.path.includes("..") || !existsSync(path)) throw new CliError(`the backup is damaged: ${f.path} is missing`);
    if (statSync(path).size !== f.size || (await sha256Of(path)) !== f.sha256) throw new CliError(`the backup is damaged: ${f.path} does not match the manifest`);
  }

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const f of [manifest.database, ...manifest.files]) {
    const to = join(dataDir, f.path);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(dir, f.path), to);
  }
  const { applied } = runMigrations(dataDir);
  out(`restored the backup of ${manifest.createdAt} (${manifest.files.length} file(s)) into ${dataDir}${applied ? `; applied ${applied} newer migration(s)` : ""}`);
  if (manifest.missing.length) out(`note: ${manifest.missing.length} file(s) were already missing when the backup was made`);
  return 0;
}
