import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import * as schema from "./schema.ts";

export const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), "../../migrations");

export type Db = BetterSQLite3Database<typeof schema>;

export interface Storage {
  /** The raw connection, for prepared statements on hot paths and for transactions. */
  sqlite: BetterSqlite3.Database;
  db: Db;
  path: string;
  close(): void;
  /** True when the connection answers and every committed migration is applied. */
  isReady(): boolean;
}

/**
 * Opens the one SQLite connection of this process. WAL lets readers proceed during writes;
 * synchronous=NORMAL in WAL keeps every commit durable against a process crash (only an OS crash
 * can lose the last commits); foreign keys are on; a busy timeout covers the CLI touching the
 * same file while the server runs.
 */
export function openStorage(dataDir: string, opts: { file?: string; migrate?: boolean } = {}): Storage {
  const path = opts.file === ":memory:" ? ":memory:" : join(dataDir, opts.file ?? "parley.db");
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema });
  if (opts.migrate !== false) migrate(db, { migrationsFolder });
  const journal = countJournalEntries();
  return {
    sqlite,
    db,
    path,
    close: () => sqlite.close(),
    isReady() {
      try {
        const row = sqlite.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
        return row.n >= journal;
      } catch {
        return false;
      }
    },
  };
}

/** Applies pending migrations to the database under dataDir (the CLI's `migrate`). */
export function runMigrations(dataDir: string): { applied: number } {
  const storage = openStorage(dataDir, { migrate: false });
  try {
    const before = countApplied(storage.sqlite);
    migrate(storage.db, { migrationsFolder });
    return { applied: countApplied(storage.sqlite) - before };
  } finally {
    storage.close();
  }
}

function countApplied(sqlite: BetterSqlite3.Database): number {
  try {
    return (sqlite.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
  } catch {
    return 0;
  }
}

let journalEntries: number | undefined;
function countJournalEntries(): number {
  // Read once: the journal ships with the code and does not change while the process runs.
  journalEntries ??= (JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: unknown[] }).entries.length;
  return journalEntries;
}
