import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
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
  /**
   * Runs fn in a write transaction (a savepoint when one is already open). It begins IMMEDIATE:
   * the write lock is taken first, waiting under the busy timeout while the checkpointer holds
   * it; a deferred transaction that read first would fail at once with SQLITE_BUSY instead.
   */
  write<T>(fn: () => T): T;
  /**
   * A write that may wait a moment and ride along: it runs inside the next outermost `write`
   * (the room core's group commit, usually in the same turn), or, when none comes by the next
   * turn, in a transaction of its own. For bookkeeping whose loss in a crash is harmless (the
   * federation nonces, delivery cursors): one commit fewer per request. A write that fails rolls
   * back with the transaction it rode in and waits for the next.
   */
  defer(op: () => void): void;
  close(): void;
  /** True when the connection answers and every committed migration is applied. */
  isReady(): boolean;
}

export interface BackgroundCheckpoints {
  /** How often the checkpointer copies the WAL into the database file (ms). */
  intervalMs?: number;
  /**
   * Past this many WAL pages a checkpoint blocks writers until it has copied everything (RESTART),
   * so the WAL cannot grow without end when writes never pause long enough for it to restart.
   */
  maxWalPages?: number;
  /**
   * Told when a checkpoint fails (retried at the next tick), or when the thread itself fails:
   * the connection has then gone back to SQLite's own checkpoints inside commits.
   */
  onError?: (err: Error) => void;
}

/**
 * Opens the one SQLite connection of this process. WAL lets readers proceed during writes;
 * synchronous=NORMAL in WAL keeps every commit durable against a process crash (only an OS crash
 * can lose the last commits); foreign keys are on; a busy timeout covers the CLI touching the
 * same file while the server runs; temporary tables and statement journals (the savepoints of
 * the group commit) stay in memory.
 *
 * With `backgroundCheckpoints` (the server), the connection never checkpoints inside a commit:
 * a worker thread with its own connection does it every intervalMs, so the checkpoint's fsync
 * never stalls the event loop, and the WAL reaches the disk within about intervalMs of a write.
 */
export function openStorage(dataDir: string, opts: { file?: string; migrate?: boolean; backgroundCheckpoints?: BackgroundCheckpoints } = {}): Storage {
  const path = opts.file === ":memory:" ? ":memory:" : join(dataDir, opts.file ?? "parley.db");
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("temp_store = MEMORY");
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  const db = drizzle(sqlite, { schema });
  if (opts.migrate !== false) migrate(db, { migrationsFolder });
  const journal = countJournalEntries();
  const checkpointer = opts.backgroundCheckpoints && path !== ":memory:" ? startCheckpointer(sqlite, path, opts.backgroundCheckpoints) : null;
  let deferred: (() => void)[] = [];
  let fallback = false;
  // One transaction function for every write (a savepoint when nested): better-sqlite3 builds a
  // wrapper with its statements for each `transaction(fn)`, which per command was a measurable
  // part of the group commit.
  const inTransaction = sqlite.transaction((fn: () => unknown) => fn());
  function write<T>(fn: () => T): T {
    if (!deferred.length || sqlite.inTransaction) return inTransaction.immediate(fn) as T;
    const ops = deferred;
    deferred = [];
    try {
      return inTransaction.immediate(() => {
        for (const op of ops) op();
        return fn();
      }) as T;
    } catch (err) {
      deferred = ops.concat(deferred);
      scheduleFallback();
      throw err;
    }
  }
  function scheduleFallback(): void {
    if (fallback) return;
    fallback = true;
    // Two hops: past the immediates of this turn (the room core's flush among them), which take
    // the deferred writes along when they commit.
    setImmediate(() =>
      setImmediate(() => {
        fallback = false;
        if (!deferred.length || !sqlite.open) return;
        try {
          write(() => undefined);
        } catch {
          // Kept; tried again with the next write or the next deferred one.
        }
      }),
    );
  }
  return {
    sqlite,
    db,
    path,
    write,
    defer(op) {
      deferred.push(op);
      scheduleFallback();
    },
    close() {
      if (deferred.length && sqlite.open) {
        try {
          write(() => undefined);
        } catch {
          // Closing regardless: what is lost is bookkeeping (see defer).
        }
      }
      // The last checkpoint runs here, when this connection (the last one) closes: the database
      // file is whole and the WAL gone when the process ends.
      checkpointer?.stop();
      sqlite.close();
    },
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

/**
 * The checkpointer thread. It is CommonJS evaluated in a worker (no TypeScript loader needed) and
 * opens the same file with its own connection. A PASSIVE checkpoint copies what it can without
 * ever blocking the server's writes. The writer starts the WAL over from its beginning when a
 * checkpoint has copied all of it; under writes that never pause, each passive checkpoint is
 * overtaken and the WAL only grows, so past maxWalPages the worker runs a RESTART checkpoint,
 * which holds writers off (they wait under their busy timeout) until it has copied everything.
 */
const checkpointerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
const timer = setInterval(() => {
  try {
    const r = passive.get();
    if (r.log > workerData.maxWalPages) restart.get();
  } catch (err) {
    // A busy database (the RESTART waited past its timeout) is retried at the next tick.
    parentPort.postMessage(String(err && err.message));
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  // Tell the server's thread, which waits for this before it closes its own connection.
  Atomics.store(workerData.closed, 0, 1);
  Atomics.notify(workerData.closed, 0);
  parentPort.close();
});
`;

function startCheckpointer(sqlite: BetterSqlite3.Database, path: string, opts: BackgroundCheckpoints): { stop(): void } {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  sqlite.pragma("wal_autocheckpoint = 0");
  const closed = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(checkpointerSource, {
    eval: true,
    workerData: { driver, path, intervalMs: opts.intervalMs ?? 500, maxWalPages: opts.maxWalPages ?? 4_096, closed },
    // A TypeScript loader in the parent's flags has nothing to do in this CommonJS thread.
    execArgv: [],
  });
  worker.unref();
  let stopped = false;
  const fallBack = (err: Error) => {
    if (stopped || !sqlite.open) return;
    stopped = true;
    sqlite.pragma("wal_autocheckpoint = 1000");
    opts.onError?.(err);
  };
  worker.on("message", (message: string) => opts.onError?.(new Error(`WAL checkpoint failed: ${message}`)));
  worker.on("error", fallBack);
  worker.on("exit", (code) => fallBack(new Error(`the checkpointer thread exited (code ${code})`)));
  return {
    /**
     * Stops the thread and waits (at most a few seconds) until its connection is closed, so that
     * the server's connection is the last one: closing it then checkpoints and removes the WAL
     * before close() returns, and nothing touches the files afterwards.
     */
    stop() {
      if (stopped) return;
      stopped = true;
      worker.postMessage("stop");
      Atomics.wait(closed, 0, 0, 5000);
    },
  };
}
