/**
 * The command line's refusals: each says in one line what is missing or wrong, with exit code 2,
 * and never shows a stack trace.
 */
import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parley } from "./cli-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "parley-cli-errors-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configPath = join(dir, "parley.toml");
writeFileSync(configPath, `[server]\nname = "school.test"\n\n[storage]\ndata_dir = ${JSON.stringify(join(dir, "data"))}\n\n[passwords]\nmemory_kib = 1024\ntime_cost = 1\n`);

const refusals: [string[], string][] = [
  [["user", "create"], "user create needs <username>: parley user create <username> [--admin] [--password P] [--display-name N]"],
  [["user", "show"], "user show needs <user>: parley user show <user>"],
  [["user", "disable"], "user disable needs <user>: parley user disable <user>"],
  [["user", "reset-password"], "user reset-password needs <user>: parley user reset-password <user> [--password P]"],
  [["user", "purge"], "user purge needs <user>: parley user purge <user> --yes"],
  [["registration-token", "revoke"], "registration-token revoke needs <id>: parley registration-token revoke <id>"],
  [["community", "deactivate"], "community deactivate needs <room-id>: parley community deactivate <room-id> --yes"],
  [["backup"], "backup needs <dir>: parley backup <dir>"],
  [["restore"], "restore needs <dir>: parley restore <dir>"],
  [["user"], '"user" needs a subcommand: create, list, show, disable, enable, reset-password, make-admin, unmake-admin, purge'],
  [["user", "delete", "bob"], 'unknown command "user delete"; "user" takes one of: create, list, show, disable, enable, reset-password, make-admin, unmake-admin, purge'],
  [["community"], '"community" needs a subcommand: list, deactivate'],
  [["user", "show", "bob", "carol"], 'user show takes <user>; unexpected "carol"'],
  [["migrate", "now"], 'migrate takes no arguments; unexpected "now"'],
  [["user", "list", "--limit", "0"], "--limit takes a whole number from 1 to 200"],
  [["user", "list", "--limit", "many"], "--limit takes a whole number from 1 to 200"],
  [["audit", "--before=-3"], "--before takes a whole number of at least 1"],
  [["audit", "--before", "-3"], "--before needs a value"],
  [["registration-token", "create", "--uses", "0"], "--uses takes a whole number of at least 1"],
  [["community", "deactivate", "!school0001:school.test"], "community deactivate unlinks every group of !school0001:school.test and freezes it for good; add --yes to do it"],
  [["user", "show", "zoe"], "user.not_found: There is no such user."],
  [["user", "list", "--frob"], `Unknown option '--frob' (see "parley help")`],
  [["user", "list", "--limit"], "--limit needs a value"],
];

for (const [args, line] of refusals) {
  t.test(`\`parley ${args.join(" ")}\` is refused in one line: ${line}`, async (t) => {
    const r = await parley([...args, "--config", configPath]);
    t.same(r, { code: 2, stdout: "", stderr: `parley: ${line}\n` });
  });
}

t.test("a configuration file that cannot be read is named in one line", async (t) => {
  const r = await parley(["user", "list", "--config", join(dir, "missing.toml")]);
  t.same(r, { code: 2, stdout: "", stderr: `parley: ${join(dir, "missing.toml")}: cannot read the configuration file (ENOENT)\n` });
});

t.test("a second server on a data directory where one already runs stops before it opens anything", async (t) => {
  const { spawn } = await import("node:child_process");
  const { mkdirSync, existsSync } = await import("node:fs");
  // A live process that is not this one stands for the running server.
  const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  t.teardown(() => {
    other.kill();
  });
  const dataDir = join(dir, "busy");
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, "operator.json"), JSON.stringify({ pid: other.pid, url: "http://127.0.0.1:1", token: "x", startedAt: 0 }));
  const r = await parley(["start", "--config", configPath], { PARLEY_DATA_DIR: dataDir });
  t.same(r, { code: 2, stdout: "", stderr: `parley: another Parley (pid ${other.pid}, http://127.0.0.1:1) already runs on the data directory ${dataDir}\n` });
  t.notOk(existsSync(join(dataDir, "parley.db")), "no database was opened");

  const status = await parley(["user", "list", "--config", configPath], { PARLEY_DATA_DIR: dataDir });
  t.equal(status.code, 1, "an admin command does not fall back to the database while that server lives");
  t.match(status.stderr, new RegExp(`^parley: the server \\(pid ${other.pid}\\) runs on this data directory but did not answer at http://127\\.0\\.0\\.1:1; is it starting or stopping\\? Try again \\(if no Parley runs, remove .*operator\\.json\\)\\n$`));
});
