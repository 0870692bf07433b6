/**
 * Configuration: a TOML file (found at --config, else $PARLEY_CONFIG, else none), validated
 * against its JSON Schema with every default filled in, then the few per-deployment environment
 * overrides. Every mistake an operator can make stops with one ConfigError line that names the
 * key and what was expected.
 */
import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, environmentOverrides, loadConfig, mergeConfig, resolveConfig } from "../server/config/load.ts";
import { configSchema } from "../server/config/schema.ts";

const dir = mkdtempSync(join(tmpdir(), "parley-config-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a TOML file into the temporary directory and returns its path. */
function toml(text: string): string {
  const path = join(dir, `config-${++files}.toml`);
  writeFileSync(path, text);
  return path;
}

/** Runs fn, expects a ConfigError, and returns its message (failing the test otherwise). */
function configErrorOf(t: Test, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    t.type(err, ConfigError, "it throws a ConfigError");
    const message = (err as Error).message;
    t.notMatch(message, /\n/, "the message is one line");
    t.notMatch(message, /\bat .*:\d+:\d+/, "the message carries no stack frames");
    return message;
  }
  t.fail("expected a ConfigError");
  return "";
}

/** The type of the `t` a subtest receives. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

t.test("with no file and no environment, every key has its embedded default", async (t) => {
  const config = loadConfig({ env: {} });
  // The foundation's keys (t.match: later areas may add keys; the loop below covers those).
  t.match(config.server, { name: "localhost", public_url: "http://127.0.0.1:8080" });
  t.match(config.listen, { host: "127.0.0.1", port: 8080 });
  t.match(config.storage, { data_dir: "./data" });
  t.match(config.registration, { policy: "open" });
  t.match(config.tokens, { access_ttl_seconds: 900, refresh_ttl_days: 30 });
  t.match(config.passwords, { memory_kib: 19456, time_cost: 2 });
  t.match(config.limits, {
    frame_bytes: 65536,
    message_chars: 4096,
    upload_bytes: 104857600,
    http_requests_per_minute: 600,
    ws_ops_per_second: 50,
    ws_ops_burst: 200,
    ws_send_buffer_bytes: 4194304,
    ws_auth_timeout_seconds: 10,
    ws_heartbeat_seconds: 30,
    ws_invalid_frames_before_close: 10,
    login_failures_per_account: 10,
    login_failures_per_address: 50,
    login_failure_window_seconds: 900,
  });
  t.match(config.log, { level: "info" });
  // Every section, including those later areas add, comes out with exactly its schema defaults.
  for (const [section, spec] of Object.entries(configSchema.properties)) {
    const defaults = Object.fromEntries(Object.entries(spec.properties).map(([key, p]) => [key, (p as { default: unknown }).default]));
    if (section === "server") defaults.public_url = "http://127.0.0.1:8080"; // derived, see below
    t.same((config as unknown as Record<string, unknown>)[section], defaults, `[${section}] has its schema defaults`);
  }
  t.same(resolveConfig(undefined), config, "resolveConfig of nothing gives the same defaults");
  t.same(resolveConfig({}), config, "and so does an empty table");
});

t.test("a TOML file named by path sets keys, and the sections it leaves out keep their defaults", async (t) => {
  const path = toml(`
[server]
name = "school.example"
public_url = "https://chat.school.example/"

[listen]
host = "0.0.0.0"
port = 9000

[registration]
policy = "invite-only"

[limits]
frame_bytes = 2048
`);
  const config = loadConfig({ path, env: {} });
  t.equal(config.server.name, "school.example");
  t.equal(config.server.public_url, "https://chat.school.example", "the trailing slash of the public URL is dropped");
  t.same(config.listen, { host: "0.0.0.0", port: 9000 });
  t.equal(config.registration.policy, "invite-only");
  t.equal(config.limits.frame_bytes, 2048);
  t.equal(config.limits.message_chars, 4096, "an unset key of a present section keeps its default");
  t.same(config.tokens, { access_ttl_seconds: 900, refresh_ttl_days: 30 }, "an absent section keeps its defaults");
});

t.test("PARLEY_CONFIG names the file when there is no --config, and --config wins over it", async (t) => {
  const fromEnv = toml(`[server]\nname = "branch.example"\n`);
  const fromFlag = toml(`[server]\nname = "club.example"\n`);
  t.equal(loadConfig({ env: { PARLEY_CONFIG: fromEnv } }).server.name, "branch.example");
  t.equal(loadConfig({ path: fromFlag, env: { PARLEY_CONFIG: fromEnv } }).server.name, "club.example");
});

t.test("without a public URL, one is derived from the listen address", async (t) => {
  t.equal(resolveConfig({ listen: { host: "127.0.0.1", port: 8081 } }).server.public_url, "http://127.0.0.1:8081");
  t.equal(resolveConfig({ listen: { host: "0.0.0.0" } }).server.public_url, "http://127.0.0.1:8080", "a wildcard address is advertised as loopback");
  t.equal(resolveConfig({ listen: { host: "::" } }).server.public_url, "http://127.0.0.1:8080");
  t.equal(resolveConfig({ listen: { host: "::1" } }).server.public_url, "http://[::1]:8080", "an IPv6 address is bracketed");
});

t.test("resolveConfig does not touch the object it is given", async (t) => {
  const raw = { listen: { port: 9000 } };
  resolveConfig(raw);
  t.same(raw, { listen: { port: 9000 } });
});

t.test("a file that is not TOML is refused with the line of the mistake", async (t) => {
  const path = toml(`[server]\nname = "school.example"\nport = = 8080\n`);
  const message = configErrorOf(t, () => loadConfig({ path, env: {} }));
  t.match(message, path, "the message names the file");
  t.match(message, /invalid TOML at line 3/);
});

t.test("a file that cannot be read is refused, naming the file", async (t) => {
  const path = join(dir, "missing.toml");
  const message = configErrorOf(t, () => loadConfig({ path, env: {} }));
  t.equal(message, `${path}: cannot read the configuration file (ENOENT)`);
});

t.test("an unknown key is refused, naming the key with its section", async (t) => {
  const path = toml(`[listen]\nhots = "127.0.0.1"\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path, env: {} })), `${path}: unknown key "listen.hots"`);
  const section = toml(`[lisen]\nhost = "127.0.0.1"\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path: section, env: {} })), `${section}: unknown key "lisen"`, "an unknown section too");
});

t.test("a value of the wrong type is refused, naming the key and the expected type", async (t) => {
  const path = toml(`[listen]\nport = "8080"\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path, env: {} })), `${path}: "listen.port" must be an integer`);
  const fraction = toml(`[tokens]\naccess_ttl_seconds = 60.5\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path: fraction, env: {} })), `${fraction}: "tokens.access_ttl_seconds" must be an integer`);
  const name = toml(`[server]\nname = 42\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path: name, env: {} })), `${name}: "server.name" must be a string`);
  const section = toml(`listen = 8080\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path: section, env: {} })), `${section}: "listen" must be an object`, "a section given as a value");
});

t.test("a value outside its enum is refused, listing the allowed values", async (t) => {
  const path = toml(`[registration]\npolicy = "invite"\n`);
  t.equal(configErrorOf(t, () => loadConfig({ path, env: {} })), `${path}: "registration.policy" must be one of "open", "invite-only", "closed"`);
  const level = toml(`[log]\nlevel = "verbose"\n`);
  t.match(configErrorOf(t, () => loadConfig({ path: level, env: {} })), /"log\.level" must be one of "fatal", .*"silent"/);
});

t.test("a value outside its range or pattern is refused, naming the key", async (t) => {
  t.equal(configErrorOf(t, () => resolveConfig({ listen: { port: 70000 } })), `configuration: "listen.port" must be <= 65535`);
  t.equal(configErrorOf(t, () => resolveConfig({ tokens: { access_ttl_seconds: 5 } })), `configuration: "tokens.access_ttl_seconds" must be >= 30`);
  t.match(configErrorOf(t, () => resolveConfig({ server: { name: "School Example" } })), /^configuration: "server\.name" must match pattern/);
  t.match(configErrorOf(t, () => resolveConfig({ server: { public_url: "chat.school.example" } })), /^configuration: "server\.public_url" must match pattern/);
});

t.test("the environment sets the listen address, public URL and data directory over the file", async (t) => {
  const path = toml(`[listen]\nhost = "127.0.0.1"\nport = 8080\n\n[storage]\ndata_dir = "/srv/parley"\n`);
  const config = loadConfig({
    path,
    env: { PARLEY_HOST: "0.0.0.0", PARLEY_PORT: "9090", PARLEY_PUBLIC_URL: "https://chat.school.example/", PARLEY_DATA_DIR: "/var/lib/parley" },
  });
  t.same(config.listen, { host: "0.0.0.0", port: 9090 });
  t.equal(config.server.public_url, "https://chat.school.example");
  t.equal(config.storage.data_dir, "/var/lib/parley");
});

t.test("environmentOverrides maps only the variables that are set", async (t) => {
  t.same(environmentOverrides({}), {});
  t.same(environmentOverrides({ PARLEY_PORT: "0" }), { listen: { port: 0 } });
  t.same(environmentOverrides({ PARLEY_HOST: "::1" }), { listen: { host: "::1" } });
  t.same(environmentOverrides({ PARLEY_SERVER_NAME: "school.example", PARLEY_LOG_LEVEL: "warn" }), {
    server: { name: "school.example" },
    log: { level: "warn" },
  });
  t.same(environmentOverrides({ PARLEY_DATA_DIR: "/data", HOME: "/root" }), { storage: { data_dir: "/data" } }, "unrelated variables are ignored");
});

t.test("mergeConfig overrides key by key within a section", async (t) => {
  t.same(mergeConfig({ listen: { host: "::1", port: 1 }, log: { level: "warn" } }, { listen: { port: 2 } }), {
    listen: { host: "::1", port: 2 },
    log: { level: "warn" },
  });
});

t.test("a PARLEY_PORT that is not a port is refused with one clear line", async (t) => {
  t.equal(configErrorOf(t, () => loadConfig({ env: { PARLEY_PORT: "80a" } })), `PARLEY_PORT: "listen.port" must be an integer, got "80a"`);
  t.equal(configErrorOf(t, () => loadConfig({ env: { PARLEY_PORT: "-1" } })), `PARLEY_PORT: "listen.port" must be an integer, got "-1"`);
  t.equal(configErrorOf(t, () => loadConfig({ env: { PARLEY_PORT: "99999" } })), `configuration: "listen.port" must be <= 65535`, "out of range");
  t.match(configErrorOf(t, () => loadConfig({ env: { PARLEY_LOG_LEVEL: "loud" } })), /"log\.level" must be one of/);
});
