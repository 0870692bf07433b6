/**
 * The storage module's connection settings and its background checkpointer: commits reach the
 * database file through the worker thread's checkpoints (the server's connection never
 * checkpoints inside a commit), and closing leaves a whole database file with no WAL beside it.
 */
import t from "tap";
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { openStorage } from "../server/storage/database.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "parley-storage-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const rowsInFileAlone = (dir: string): number => {
  // Only the database file, without its WAL: what a checkpoint has written so far.
  copyFileSync(join(dir, "parley.db"), join(dir, "copy.db"));
  const copy = new BetterSqlite3(join(dir, "copy.db"), { readonly: true });
  try {
    return (copy.prepare("SELECT count(*) AS n FROM bench_rows").get() as { n: number }).n;
  } catch {
    return -1;
  } finally {
    copy.close();
  }
};

t.test("with background checkpoints, commits reach the database file without the server's connection checkpointing", async (t) => {
  const dir = tempDir(t);
  const errors: Error[] = [];
  const storage = openStorage(dir, { backgroundCheckpoints: { intervalMs: 20, onError: (e) => errors.push(e) } });
  t.equal(storage.sqlite.pragma("wal_autocheckpoint", { simple: true }), 0, "the server's connection never checkpoints in a commit");
  t.equal(storage.sqlite.pragma("temp_store", { simple: true }), 2, "statement journals stay in memory");
  storage.sqlite.exec("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, body TEXT)");
  const insert = storage.sqlite.prepare("INSERT INTO bench_rows (body) VALUES (?)");
  storage.sqlite.transaction(() => {
    for (let i = 0; i < 500; i++) insert.run(`row ${i} ${"x".repeat(200)}`);
  })();
  let n = -1;
  for (let i = 0; i < 200 && n !== 500; i++) {
    await new Promise((r) => setTimeout(r, 20));
    n = rowsInFileAlone(dir);
  }
  t.equal(n, 500, "the worker's checkpoint copied the commit into the database file");
  storage.close();
  // close() waits for the thread's connection to close, so the server's is the last one: closing
  // it checkpoints and removes the WAL and the shared-memory index before close() returns.
  t.notOk(existsSync(join(dir, "parley.db-wal")), "closing leaves no WAL to replay");
  t.notOk(existsSync(join(dir, "parley.db-shm")), "nor its index");
  t.equal(rowsInFileAlone(dir), 500);
  t.same(errors, [], "no checkpoint failed");
});

t.test("write transactions never fail while the checkpointer works, and the WAL stays bounded under writes that never pause", async (t) => {
  const dir = tempDir(t);
  const errors: Error[] = [];
  // Small bounds so that both kinds of checkpoint happen within a second of writes.
  const storage = openStorage(dir, { backgroundCheckpoints: { intervalMs: 5, maxWalPages: 64, onError: (e) => errors.push(e) } });
  t.teardown(() => storage.sqlite.open && storage.close());
  storage.sqlite.exec("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, body TEXT)");
  const insert = storage.sqlite.prepare("INSERT INTO bench_rows (body) VALUES (?)");
  const read = storage.sqlite.prepare("SELECT count(*) AS n FROM bench_rows WHERE id = ?");
  let failures = 0;
  let written = 0;
  let largestWal = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    // A read before the write, as the room core's commands do (the txnId lookup, then the insert).
    try {
      storage.write(() => {
        read.get(written);
        insert.run(`row ${written} ${"x".repeat(300)}`);
      });
      written++;
    } catch {
      failures++;
    }
    if (written % 100 === 0) largestWal = Math.max(largestWal, statSync(join(dir, "parley.db-wal")).size);
    // One commit per event-loop turn, as the room core's group commit.
    await new Promise((r) => setImmediate(r));
  }
  t.equal(failures, 0, `no write failed among ${written}`);
  t.ok(written > 1000, "the writes went on while checkpoints ran");
  // Every commit appends at least one 4 KiB page (plus a frame header) to the WAL: never
  // restarted, it would be larger than written × 4 KiB. Smaller proves that the checkpointer
  // restarted it while the writes never paused. How much smaller depends on how much CPU the
  // worker thread got (a third of that bound alone, a half with the cores oversubscribed by a
  // parallel test run): that is a speed, measured in benchmarks, not asserted here.
  t.ok(largestWal < written * 4096, `the WAL was restarted under writes that never pause (largest ${largestWal} bytes after ${written} commits)`);
  storage.close();
  t.same(errors, [], "no checkpoint failed");
});

t.test("without background checkpoints (the CLI), SQLite keeps its own checkpoints", async (t) => {
  const storage = openStorage(tempDir(t));
  t.equal(storage.sqlite.pragma("wal_autocheckpoint", { simple: true }), 1000);
  storage.close();
});

t.test("an in-memory database has no checkpointer", async (t) => {
  const storage = openStorage(tempDir(t), { file: ":memory:", backgroundCheckpoints: {} });
  t.equal(storage.sqlite.pragma("wal_autocheckpoint", { simple: true }), 1000);
  storage.close();
});

t.test("closing right after opening (before the thread has started) is quick and leaves no WAL", async (t) => {
  const dir = tempDir(t);
  const storage = openStorage(dir, { backgroundCheckpoints: {} });
  const started = Date.now();
  storage.close();
  t.ok(Date.now() - started < 4000, `closed in ${Date.now() - started} ms`);
  t.notOk(existsSync(join(dir, "parley.db-wal")));
});

t.test("the server's data survives a reopen after background checkpoints", async (t) => {
  const dir = tempDir(t);
  let storage = openStorage(dir, { backgroundCheckpoints: { intervalMs: 10 } });
  storage.sqlite.exec("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, body TEXT)");
  storage.sqlite.prepare("INSERT INTO bench_rows (body) VALUES (?)").run("kept");
  storage.close();
  storage = openStorage(dir, { backgroundCheckpoints: { intervalMs: 10 } });
  t.same(storage.sqlite.prepare("SELECT body FROM bench_rows").all(), [{ body: "kept" }]);
  t.ok(storage.isReady());
  storage.close();
});

t.test("a deferred write rides in the next write's transaction, runs on its own when none comes, and waits again when its ride rolls back", async (t) => {
  const storage = openStorage(tempDir(t), { file: ":memory:" });
  t.teardown(() => storage.close());
  const db = storage.sqlite;
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const add = db.prepare("INSERT INTO notes (body) VALUES (?)");
  const bodies = () => (db.prepare("SELECT body FROM notes ORDER BY id").all() as { body: string }[]).map((r) => r.body);
  const turns = (n: number) => new Promise<void>((r) => { const hop = (k: number) => (k === 0 ? r() : setImmediate(() => hop(k - 1))); hop(n); });

  storage.defer(() => add.run("deferred 1"));
  t.same(bodies(), [], "not written at once");
  storage.write(() => add.run("a write"));
  t.same(bodies(), ["deferred 1", "a write"], "written first, in the next write's transaction");

  storage.defer(() => add.run("deferred 2"));
  t.throws(() => storage.write(() => {
    add.run("refused");
    throw new Error("refused");
  }));
  t.same(bodies(), ["deferred 1", "a write"], "rolled back with the write it rode in");
  await turns(3);
  t.same(bodies(), ["deferred 1", "a write", "deferred 2"], "then written on its own, a turn later");

});

t.test("closing writes the deferred writes that wait", async (t) => {
  const dir = tempDir(t);
  const storage = openStorage(dir);
  storage.sqlite.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  storage.defer(() => storage.sqlite.prepare("INSERT INTO notes (body) VALUES (?)").run("last words"));
  storage.close();
  const again = new BetterSqlite3(join(dir, "parley.db"), { readonly: true });
  t.teardown(() => again.close());
  t.same(again.prepare("SELECT body FROM notes").all(), [{ body: "last words" }]);
});
