import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { stringify as toToml } from "smol-toml";
import { ConfigError, loadConfig, type Config } from "./config/load.ts";
import { ParleyError } from "./errors.ts";
import { openStorage, runMigrations } from "./storage/database.ts";
import { createAccountStore } from "./accounts/store.ts";
import { createAccountService } from "./accounts/service.ts";
import { createAdminStore } from "./admin/store.ts";
import { findRunningServer } from "./admin/runtime.ts";
import { Bus } from "./core/bus.ts";
import { createLogger } from "./logger.ts";
import { CliError, fail, out } from "./cli/io.ts";
import { runAudit, runCommunityAdmin, runTokenAdmin, runUserAdmin, withAdmin, type AdminOptions } from "./cli/admin.ts";
import { backup, restore } from "./cli/backup.ts";
import { doctor } from "./cli/doctor.ts";
import { rotateServerKey, loadServerKeys } from "../federation/keys.ts";
import { isServerName } from "../federation/peers.ts";
import { listServerPolicies, setServerPolicy } from "../federation/policy.ts";
import { federationStatus } from "../federation/outbox.ts";
import { keptStatus } from "../federation/pending.ts";

const usage = `parley — a self-hosted, federated community chat server

Usage: parley <command> [options]

Server:
  start                               start the server (the default of npm start)
  doctor                              check the configuration, data directory, public URL and port
  migrate                             apply pending database migrations
  config                              print the effective configuration (file + environment + defaults)
  backup <dir>                        copy the database and its files into a new directory (safe while running)
  restore <dir>                       restore a backup into the configured, empty data directory

Users:
  user create <username> [--admin] [--password P] [--display-name N]
                                      create an account; without --password one is generated and printed
  user list [--query Q] [--limit N] [--offset N]
                                      list accounts, or those whose name contains Q
  user show <user>                    devices and communities of one account
  user disable <user>                 disable an account and end all of its sessions
  user enable <user>                  re-enable a disabled account
  user reset-password <user> [--password P]
                                      set a new password and end all of the user's sessions
  user make-admin <user>              make the user a server admin
  user unmake-admin <user>            withdraw the server-admin flag
  user purge <user> --yes             remove the user from every community and group, and disable it

Registration tokens (for registration.policy = "invite-only"):
  registration-token create [--uses N] [--expires-days D]
                                      make a token; it is printed once
  registration-token list             list tokens by id, with uses left and expiry
  registration-token revoke <id>      revoke a token by its id from the list

Communities:
  community list [--query Q] [--limit N] [--offset N]
                                      communities with members, groups and size on disk
  community deactivate <room-id> --yes
                                      deactivate a community (its groups live on, unlinked)

Federation:
  federation status                   peers: backlog, failures, last success, next attempt, dormant;
                                      kept ops per home server: how many, the oldest's age
  federation rotate-key               retire the signing key (it stays published, verifying what it
                                      signed) and sign with a new one from now on
  federation allow <server>           add a server to the allow list (then only listed servers federate)
  federation deny <server>            add a server to the deny list
  federation unlist <server>          remove a server from the allow or deny list
  federation policy                   print the allow and deny lists (config and database)

  audit [--limit N] [--before ID]     the audit log of server-admin actions, newest first
  help                                this text

Options for every command:
  --config PATH                       the TOML configuration file (else $PARLEY_CONFIG, else defaults)
  --json                              print results as JSON (list, show, audit and token commands)

<user> is a username (bob) or a user id (@bob:example.org). While the server runs, these
commands go through it; otherwise they work on the database directly.
`;

/** The positional arguments each command needs, by name, for the one-line "missing" refusal. */
const commands: Record<string, string[]> = {
  start: [],
  doctor: [],
  migrate: [],
  config: [],
  backup: ["dir"],
  restore: ["dir"],
  audit: [],
  "federation status": [],
  "federation rotate-key": [],
  "federation allow": ["server"],
  "federation deny": ["server"],
  "federation unlist": ["server"],
  "federation policy": [],
  "user create": ["username"],
  "user list": [],
  "user show": ["user"],
  "user disable": ["user"],
  "user enable": ["user"],
  "user reset-password": ["user"],
  "user make-admin": ["user"],
  "user unmake-admin": ["user"],
  "user purge": ["user"],
  "registration-token create": [],
  "registration-token list": [],
  "registration-token revoke": ["id"],
  "community list": [],
  "community deactivate": ["room-id"],
};
const groups = new Set(["user", "registration-token", "community", "federation"]);

/** Runs the server until SIGTERM or SIGINT, then shuts it down gracefully. Resolves with the exit code. */
export async function startServer(config: Config): Promise<number> {
  const { buildApp } = await import("./app.ts");
  const app = await buildApp(config);
  let address: string;
  try {
    address = await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    // Nothing may keep running: close the database (and its checkpointer thread) and any
    // listener already open, so that the process ends with the one line below.
    await app.close().catch(() => undefined);
    return fail(describeListenError(err as NodeJS.ErrnoException, config));
  }
  const ws = `${address.replace(/^http/, "ws")}/api/v1/ws`;
  app.log.info({ address, server: config.server.name, dataDir: config.storage.data_dir }, "parley listening");
  process.stdout.write(
    `\nParley is running as "${config.server.name}".\n  HTTP:      ${address}\n  WebSocket: ${ws}\n  Discovery: ${address}/.well-known/parley\n  Data:      ${config.storage.data_dir}\nPress Ctrl-C to stop.\n\n`,
  );
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.log.info({ signal }, "shutting down");
      // close(): stops accepting, closes sockets with 1001, waits for in-flight requests, then
      // the onClose hooks flush pending writes and close the database.
      app.close().then(
        () => resolve(0),
        (err) => {
          app.log.error({ err }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

/** One line that says which address could not be opened, why, and which key sets it. */
function describeListenError(err: NodeJS.ErrnoException & { address?: string; port?: number }, config: Config): string {
  const isMetrics = config.metrics.listen !== "" && err.port !== undefined && err.port !== config.listen.port;
  const where = err.port !== undefined ? `${err.address?.includes(":") ? `[${err.address}]` : (err.address ?? config.listen.host)}:${err.port}` : `${config.listen.host}:${config.listen.port}`;
  const key = isMetrics ? "metrics.listen" : "listen.port (PARLEY_PORT) or listen.host (PARLEY_HOST)";
  if (err.code === "EADDRINUSE") return `cannot listen on ${where}: the port is already in use (another Parley, or another program); choose another with ${key}`;
  if (err.code === "EACCES") return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another with ${key}`;
  if (err.code === "EADDRNOTAVAIL") return `cannot listen on ${where}: this machine has no such address; set ${key}`;
  return `cannot listen on ${where}: ${err.message}`;
}

/** The operator's command line. Returns the process exit code; every refusal is one line, never a stack trace. */
export async function runCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        admin: { type: "boolean", default: false },
        password: { type: "string" },
        "display-name": { type: "string" },
        uses: { type: "string" },
        "expires-days": { type: "string" },
        query: { type: "string" },
        limit: { type: "string" },
        offset: { type: "string" },
        before: { type: "string" },
        json: { type: "boolean", default: false },
        yes: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    // Node's message runs on with advice about "--"; its first sentence is the point.
    const message = (err as Error).message;
    const noValue = /^Option '(-[\w-]+|--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/.exec(message);
    if (noValue) return fail(`${noValue[1]} needs a value`);
    const first = message.split(/\.\s/)[0].replace(/\.$/, "");
    return fail(`${first} (see "parley help")`);
  }
  const { values, positionals } = parsed;
  const [command = "help", ...rest] = positionals;
  if (values.help || command === "help") {
    out(usage);
    return 0;
  }
  const key = groups.has(command) ? `${command} ${rest[0] ?? ""}`.trim() : command;
  const args = groups.has(command) ? rest.slice(1) : rest;
  if (!Object.hasOwn(commands, key)) {
    if (groups.has(command)) {
      const subs = Object.keys(commands).filter((c) => c.startsWith(`${command} `)).map((c) => c.slice(command.length + 1));
      return fail(rest[0] ? `unknown command "${key}"; "${command}" takes one of: ${subs.join(", ")}` : `"${command}" needs a subcommand: ${subs.join(", ")}`);
    }
    return fail(`unknown command "${command}" (see "parley help")`);
  }
  const needed = commands[key];
  if (args.length < needed.length) {
    const line = usage.split("\n").find((l) => l.trim().startsWith(`${key} `) || l.trim() === key)?.trim().replace(/\s{2,}.*$/, "") ?? key;
    return fail(`${key} needs <${needed[args.length]}>: parley ${line}`);
  }
  if (args.length > needed.length) return fail(`${key} takes ${needed.length ? needed.map((n) => `<${n}>`).join(" ") : "no arguments"}; unexpected "${args[needed.length]}"`);

  if (command === "doctor") return doctor(values.config);
  let config: Config;
  try {
    config = loadConfig({ path: values.config });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    return fail(`failed: ${(err as Error).message}`);
  }
  const generated = () => randomBytes(12).toString("base64url");
  try {
    switch (command) {
      case "start": {
        // Two servers on one database would each cache the rooms and overwrite each other's
        // sequence numbers: the second one stops here, before it opens anything.
        const running = findRunningServer(config.storage.data_dir);
        if (running && running.pid !== process.pid) {
          return fail(`another Parley (pid ${running.pid}, ${running.url}) already runs on the data directory ${config.storage.data_dir}`);
        }
        return await startServer(config);
      }
      case "config":
        // The metrics token is a secret: shown only as set or not.
        out(toToml({ ...config, metrics: { ...config.metrics, token: config.metrics.token ? "[redacted]" : "" } } as unknown as Record<string, unknown>));
        return 0;
      case "migrate": {
        const { applied } = runMigrations(config.storage.data_dir);
        out(applied ? `applied ${applied} migration(s)` : "the database is up to date");
        return 0;
      }
      case "backup":
        return await backup(config, args[0]);
      case "restore":
        return await restore(config, args[0]);
      case "audit":
        return await withAdmin(config, (call) => runAudit(call, values as AdminOptions));
      case "federation":
        return await runFederationCommand(config, rest[0], args[0]);
      case "user":
        if (rest[0] === "create") return await createUser(config, args[0], values);
        return await withAdmin(config, (call) => runUserAdmin(call, rest[0], args[0], values as AdminOptions, generated));
      case "registration-token":
        return await withAdmin(config, (call) => runTokenAdmin(call, rest[0], args[0], values as AdminOptions));
      case "community":
        return await withAdmin(config, (call) => runCommunityAdmin(call, rest[0], args[0], values as AdminOptions));
    }
    return fail(`unknown command "${command}"`);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`parley: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ParleyError) return fail(`${err.code}: ${err.message}`);
    if (err instanceof ConfigError) return fail(err.message);
    return fail(`failed: ${(err as Error).message}`);
  }
}

/**
 * `parley user create`: straight into the database, also while a server runs (accounts are read
 * from the database on every authentication; nothing of them is cached), and recorded in the
 * server-admin audit log.
 */
async function createUser(config: Config, username: string, values: { admin?: boolean; password?: string; "display-name"?: string }): Promise<number> {
  const storage = openStorage(config.storage.data_dir);
  try {
    const accounts = createAccountService({ config, store: createAccountStore(storage), bus: new Bus(), log: createLogger("warn") });
    const password = values.password ?? randomBytes(12).toString("base64url");
    const row = await accounts.createAccount({ username, password, displayName: values["display-name"], isAdmin: values.admin });
    let operator = "operator";
    try {
      operator = (await import("node:os")).userInfo().username;
    } catch {
      // No user name for this uid (a container): the generic name will do.
    }
    createAdminStore(storage).audit(`cli:${operator}`, "user.create", row.id, { isAdmin: row.isAdmin }, Date.now());
    out(`created ${row.id}${row.isAdmin ? " (server admin)" : ""}`);
    if (!values.password) out(`password: ${password}`);
    return 0;
  } finally {
    storage.close();
  }
}

/** An age for people: "45s", "12m 5s", "3h 20m", "2d 4h". */
function describeAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

async function runFederationCommand(config: Config, sub: string | undefined, arg: string | undefined): Promise<number> {
  const storage = openStorage(config.storage.data_dir);
  try {
    if (sub === "rotate-key") {
      await loadServerKeys(storage); // makes the first key if the server never started
      const { retired, current } = await rotateServerKey(storage);
      out(`retired ${retired}; signing with ${current} from now on (a running server picks it up within seconds)`);
      return 0;
    }
    if ((sub === "allow" || sub === "deny" || sub === "unlist") && arg) {
      if (!isServerName(arg)) return fail(`"${arg}" is not a server name`);
      setServerPolicy(storage, arg, sub === "unlist" ? null : sub);
      out(sub === "unlist" ? `${arg} is on no list` : `${arg} is on the ${sub} list`);
      return 0;
    }
    if (sub === "status") {
      const peers = federationStatus(storage);
      const when = (ms: number | null) => (ms ? new Date(ms).toISOString() : "-");
      if (!peers.length) out("no peers: no room of this server has members on another server yet");
      else {
        out(["server", "rooms", "backlog", "failures", "last success", "next attempt", "dormant", "last error"].join("\t"));
        for (const p of peers) {
          out([p.server, p.rooms, p.backlog, p.failures, when(p.lastSuccessAt), p.nextAttemptAt && p.nextAttemptAt > Date.now() ? when(p.nextAttemptAt) : "now", p.dormant ? "yes" : "no", p.lastError ?? "-"].join("\t"));
        }
      }
      // Ops of this server's users kept while their room's home cannot be reached (federation_pending).
      const kept = keptStatus(storage);
      out("");
      if (!kept.length) out("no kept ops: nothing waits for a home server");
      else {
        out(["home", "kept ops", "oldest kept", "age"].join("\t"));
        for (const k of kept) out([k.server, k.ops, when(k.oldestAt), describeAge(Date.now() - k.oldestAt)].join("\t"));
      }
      return 0;
    }
    if (sub === "policy") {
      const rows = listServerPolicies(storage);
      for (const server of config.federation.allow) out(`allow ${server} (config)`);
      for (const server of config.federation.deny) out(`deny ${server} (config)`);
      for (const r of rows) out(`${r.policy} ${r.server}`);
      if (!rows.length && !config.federation.allow.length && !config.federation.deny.length) out("no lists: every server may federate");
      return 0;
    }
    return fail(`usage: see "parley help"`);
  } finally {
    storage.close();
  }
}
