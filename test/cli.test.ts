/**
 * The operator's command line, run in-process on a temporary data directory: create users,
 * reset passwords, disable accounts, make registration tokens, migrate, print the config. What it writes is then
 * checked against a real server started on the same data directory.
 */
import t from "tap";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { runCli } from "../server/cli.ts";
import { loadConfig } from "../server/config/load.ts";
import { migrationsFolder } from "../server/storage/database.ts";
import { post, startServer, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const bobsPassword = "bob's long password";

/** A data directory and a config file pointing at it, removed when the test ends. */
function workspace(t: Test): { dataDir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "parley-cli-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const configPath = join(dir, "parley.toml");
  writeFileSync(
    configPath,
    `[server]\nname = "school.test"\n\n[storage]\ndata_dir = ${JSON.stringify(dataDir)}\n\n[passwords]\nmemory_kib = 1024\ntime_cost = 1\n\n[log]\nlevel = "silent"\n`,
  );
  return { dataDir, configPath };
}

/**
 * Runs `parley ...args` in this process and captures what it prints. tap's own output also goes
 * to stdout; anything that looks like TAP is let through so that the report stays whole.
 */
async function parley(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  const tapLine = /^\s*(ok|not ok|#|1\.\.|TAP version|Bail out!|---|\.\.\.)/m;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (tapLine.test(String(chunk))) return writeOut.call(process.stdout, chunk, ...rest);
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await runCli(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

/** A server over the workspace's data directory, stopped when the test ends (data kept for the workspace to remove). */
async function serverOver(t: Test, dataDir: string, overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(overrides, { dataDir });
  t.teardown(() => server.stop(false));
  return server;
}

t.test("`parley user create bob --admin` makes a server admin who can then log in", async (t) => {
  const { dataDir, configPath } = workspace(t);
  const created = await parley("user", "create", "bob", "--password", bobsPassword, "--admin", "--display-name", "Bob Jones", "--config", configPath);
  t.same(created, { code: 0, stdout: "created @bob:school.test (server admin)\n", stderr: "" });

  const server = await serverOver(t, dataDir);
  const bob = await server.login("bob", { password: bobsPassword });
  t.match(await bob.request("session.info", {}), { userId: "@bob:school.test", isAdmin: true });
  t.match(await bob.request("profile.get", {}), { displayName: "Bob Jones" });
});

t.test("without --password, user create generates one and prints it once", async (t) => {
  const { dataDir, configPath } = workspace(t);
  const created = await parley("user", "create", "Carol", "--config", configPath);
  t.equal(created.code, 0);
  const m = /^created @carol:school\.test\npassword: (\S+)\n$/.exec(created.stdout);
  t.ok(m, "it prints the user id (normalised) and the new password");
  const server = await serverOver(t, dataDir);
  const carol = await server.login("carol", { password: m![1] });
  t.match(await carol.request("session.info", {}), { userId: "@carol:school.test", isAdmin: false }, "not an admin without --admin");
});

t.test("user create refuses what registration refuses, with the error code and exit code 2", async (t) => {
  const { configPath } = workspace(t);
  t.equal((await parley("user", "create", "bob", "--password", bobsPassword, "--config", configPath)).code, 0);
  t.same(await parley("user", "create", "BOB", "--password", bobsPassword, "--config", configPath), {
    code: 2,
    stdout: "",
    stderr: "parley: username.taken: That username is taken.\n",
  });
  t.same(await parley("user", "create", "admin", "--password", bobsPassword, "--config", configPath), {
    code: 2,
    stdout: "",
    stderr: "parley: username.reserved: That username is reserved.\n",
  });
  t.equal((await parley("user", "create", "dave", "--password", "short", "--config", configPath)).stderr, "parley: password.too_weak: Passwords need at least 8 characters.\n");
  const noName = await parley("user", "create", "--config", configPath);
  t.same(
    noName,
    { code: 2, stdout: "", stderr: "parley: user create needs <username>: parley user create <username> [--admin] [--password P] [--display-name N]\n" },
    "without a username, the missing argument is named in one line",
  );
});

t.test("`parley user reset-password` sets a new password and ends the user's sessions", async (t) => {
  const { dataDir, configPath } = workspace(t);
  await parley("user", "create", "bob", "--password", bobsPassword, "--config", configPath);
  const server = await serverOver(t, dataDir);
  const phone = (await post(server, "/api/v1/auth/login", { username: "bob", password: bobsPassword })).body;

  const reset = await parley("user", "reset-password", "bob", "--password", "bob's new password", "--config", configPath);
  t.same(reset, { code: 0, stdout: "password reset for @bob:school.test; 1 session(s) ended\n", stderr: "" });
  t.equal((await post(server, "/api/v1/auth/login", { username: "bob", password: bobsPassword })).body.error.code, "auth.invalid_credentials", "the old password no longer works");
  t.equal((await post(server, "/api/v1/auth/login", { username: "bob", password: "bob's new password" })).status, 200, "the new one does");
  t.equal((await post(server, "/api/v1/auth/refresh", { refreshToken: phone.refreshToken })).body.error.code, "auth.invalid_refresh_token", "the old session is over");

  const generated = await parley("user", "reset-password", "bob", "--config", configPath);
  const m = /^password reset for @bob:school\.test; 1 session\(s\) ended\npassword: (\S+)\n$/.exec(generated.stdout);
  t.ok(m, "without --password a new one is generated and printed");
  t.equal((await post(server, "/api/v1/auth/login", { username: "bob", password: m![1] })).status, 200);

  t.same(await parley("user", "reset-password", "zoe", "--password", "zoe's new password", "--config", configPath), {
    code: 2,
    stdout: "",
    stderr: "parley: user.not_found: There is no such user.\n",
  });
  t.equal((await parley("user", "reset-password", "bob", "--password", "short", "--config", configPath)).code, 2, "a weak password is refused");
});

t.test("`parley user disable` shuts bob out and `parley user enable` lets him back in", async (t) => {
  const { dataDir, configPath } = workspace(t);
  await parley("user", "create", "bob", "--password", bobsPassword, "--config", configPath);
  const server = await serverOver(t, dataDir);
  const phone = (await post(server, "/api/v1/auth/login", { username: "bob", password: bobsPassword })).body;
  t.same(await parley("user", "disable", "bob", "--config", configPath), { code: 0, stdout: "disabled @bob:school.test; 1 session(s) ended\n", stderr: "" });
  t.equal((await post(server, "/api/v1/auth/login", { username: "bob", password: bobsPassword })).body.error.code, "auth.account_disabled");
  t.equal((await post(server, "/api/v1/auth/refresh", { refreshToken: phone.refreshToken })).body.error.code, "auth.invalid_refresh_token", "his session is over");
  t.same(await parley("user", "enable", "bob", "--config", configPath), { code: 0, stdout: "enabled @bob:school.test\n", stderr: "" });
  t.equal((await post(server, "/api/v1/auth/login", { username: "bob", password: bobsPassword })).status, 200);
  t.same(await parley("user", "disable", "zoe", "--config", configPath), { code: 2, stdout: "", stderr: "parley: user.not_found: There is no such user.\n" });
});

t.test("`parley registration-token create --uses 2` lets exactly two people register on an invite-only server", async (t) => {
  const { dataDir, configPath } = workspace(t);
  const made = await parley("registration-token", "create", "--uses", "2", "--config", configPath);
  t.equal(made.code, 0);
  t.match(made.stdout, /^reg_[A-Za-z0-9_-]+\n$/, "it prints the token alone");
  const token = made.stdout.trim();

  const server = await serverOver(t, dataDir, { registration: { policy: "invite-only" } });
  const register = (username: string) => post(server, "/api/v1/auth/register", { username, password: "a good password", registrationToken: token });
  t.equal((await register("alice")).status, 201);
  t.equal((await register("bob")).status, 201);
  t.equal((await register("carol")).body.error.code, "registration.invalid_token", "the third use is refused");

  const expiring = await parley("registration-token", "create", "--expires-days", "1", "--config", configPath);
  t.equal((await post(server, "/api/v1/auth/register", { username: "carol", password: "a good password", registrationToken: expiring.stdout.trim() })).status, 201, "a token with an expiry works before it");
  t.same(await parley("registration-token", "create", "--uses", "0", "--config", configPath), { code: 2, stdout: "", stderr: "parley: --uses takes a whole number of at least 1\n" });
  t.same(await parley("registration-token", "create", "--uses", "two", "--config", configPath), { code: 2, stdout: "", stderr: "parley: --uses takes a whole number of at least 1\n" });
  t.same(await parley("registration-token", "create", "--expires-days", "0", "--config", configPath), { code: 2, stdout: "", stderr: "parley: --expires-days takes a positive number\n" });
});

t.test("`parley migrate` applies the migrations once and then has nothing to do", async (t) => {
  const { dataDir, configPath } = workspace(t);
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
  t.same(await parley("migrate", "--config", configPath), { code: 0, stdout: `applied ${journal.entries.length} migration(s)\n`, stderr: "" });
  t.same(await parley("migrate", "--config", configPath), { code: 0, stdout: "the database is up to date\n", stderr: "" }, "running it again changes nothing");
  const server = await startServer({}, { dataDir });
  try {
    t.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200, "a server starts on the migrated database and is ready");
    t.equal((await post(server, "/api/v1/auth/register", { username: "alice", password: "a good password" })).status, 201);
  } finally {
    await server.stop(false);
  }
  t.same(await parley("migrate", "--config", configPath), { code: 0, stdout: "the database is up to date\n", stderr: "" }, "nor after the server ran");
});

t.test("`parley config` prints the effective configuration as TOML", async (t) => {
  const { dataDir, configPath } = workspace(t);
  const printed = await parley("config", "--config", configPath);
  t.equal(printed.code, 0);
  const parsed = parseToml(printed.stdout);
  t.same(parsed, JSON.parse(JSON.stringify(loadConfig({ path: configPath }))), "the file, the environment and every default");
  t.match(parsed, { server: { name: "school.test" }, storage: { data_dir: dataDir }, listen: { port: 8080 } });

  const saved = process.env.PARLEY_PORT;
  process.env.PARLEY_PORT = "9999";
  try {
    t.match(parseToml((await parley("config", "--config", configPath)).stdout), { listen: { port: 9999 } }, "with the environment's overrides");
  } finally {
    if (saved === undefined) delete process.env.PARLEY_PORT;
    else process.env.PARLEY_PORT = saved;
  }
});

t.test("an unknown command or option exits 2 with the usage; help exits 0", async (t) => {
  const { configPath } = workspace(t);
  const unknown = await parley("frobnicate", "--config", configPath);
  t.equal(unknown.code, 2);
  t.equal(unknown.stdout, "");
  t.equal(unknown.stderr, 'parley: unknown command "frobnicate" (see "parley help")\n', "one line, no usage dump");
  const badOption = await parley("user", "create", "bob", "--frob");
  t.equal(badOption.code, 2);
  t.equal(badOption.stderr, `parley: Unknown option '--frob' (see "parley help")\n`);
  const help = await parley("help");
  t.equal(help.code, 0);
  t.match(help.stdout, /^parley — .*\n\nUsage: parley <command> \[options\]/);
  t.match(help.stdout, /user create <username> \[--admin\]/);
  t.same(await parley(), help, "no command at all shows the help");
});

t.test("an invalid configuration file stops every command with exit code 2 and one line", async (t) => {
  const { configPath } = workspace(t);
  writeFileSync(configPath, `[registration]\npolicy = "invite"\n`);
  t.same(await parley("migrate", "--config", configPath), {
    code: 2,
    stdout: "",
    stderr: `parley: ${configPath}: "registration.policy" must be one of "open", "invite-only", "closed"\n`,
  });
});

t.test("a password reset from the CLI closes the user's live sockets on a running server", async (t) => {
  const { startServer } = await import("./helpers.ts");
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const bob = await server.user("bob");
  const closed = new Promise<number>((resolve) => bob.on("disconnected", (e: { code: number }) => resolve(e.code)));
  const { runCli } = await import("../server/cli.ts");
  const previous = process.env.PARLEY_DATA_DIR;
  process.env.PARLEY_DATA_DIR = server.dataDir;
  t.teardown(() => {
    if (previous === undefined) delete process.env.PARLEY_DATA_DIR;
    else process.env.PARLEY_DATA_DIR = previous;
  });
  const quiet = t.capture(process.stdout, "write");
  const code = await runCli(["user", "reset-password", "bob", "--password", "a brand new password"]);
  quiet();
  t.equal(code, 0);
  t.equal(await closed, 4003, "within the server's revocation poll, bob's socket is closed as revoked");
});
