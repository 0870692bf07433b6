/**
 * The Drizzle schema (server/storage/schema.ts) and the committed migrations must agree: a schema
 * change without `npm run migrations:generate` would leave databases without the new tables.
 * drizzle-kit generates against a copy of migrations/; anything it would write is drift.
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

t.test("the committed migrations match the Drizzle schema", async (t) => {
  const copy = mkdtempSync(join(tmpdir(), "parley-migrations-"));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(root, "migrations"), copy, { recursive: true });
  const before = readdirSync(copy).sort();
  const output = execFileSync(
    process.execPath,
    [join(root, "node_modules/drizzle-kit/bin.cjs"), "generate", "--dialect", "sqlite", "--schema", "./server/storage/schema.ts", "--out", relative(root, copy)],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  t.same(readdirSync(copy).sort(), before, "drizzle-kit had no migration to write");
  t.match(output, /No schema changes/, "drizzle-kit found no schema changes");
});
