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
