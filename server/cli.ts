import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { stringify as toToml } from "smol-toml";
import { ConfigError, loadConfig, type Config } from "./config/load.ts";
import { ParleyError } from "./errors.ts";
import { openStorage, runMigrations } from "./storage/database.ts";
import { createAccountStore } from "./accounts/store.ts";
import { createAccountService } from "./accounts/service.ts";
import { Bus } from "./core/bus.ts";
import { createLogger } from "./logger.ts";
import { rotateServerKey, loadServerKeys } from "../federation/keys.ts";
import { isServerName } from "../federation/peers.ts";
import { listServerPolicies, setServerPolicy } from "../federation/policy.ts";
import { federationStatus } from "../federation/outbox.ts";

const usage = `parley — a self-hosted, federated community chat server

Usage: parley <command> [options]

Commands:
  start                               start the server (the default of npm start)
  user create <username> [--admin] [--password P] [--display-name N]
                                      create an account; without --password one is generated and printed
  user reset-password <username> [--password P]
                                      set a new password and end all of the user's sessions
  user disable <username>             disable an account and end all of its sessions
  user enable <username>              re-enable a disabled account
  registration-token create [--uses N] [--expires-days D]
                                      make a token for registration under the invite-only policy
  federation rotate-key               retire the signing key (it stays published, verifying what it
                                      signed) and sign with a new one from now on
  federation allow <server>           add a server to the allow list (then only listed servers federate)
  federation deny <server>            add a server to the deny list
  federation unlist <server>          remove a server from the allow or deny list
  federation policy                   print the allow and deny lists (config and database)
  federation status                   peers: backlog, failures, last success, next attempt, dormant
  migrate                             apply pending database migrations
  config                              print the effective configuration (file + environment + defaults)
  help                                this text

Options for every command:
  --config PATH                       the TOML configuration file (else $PARLEY_CONFIG, else defaults)
`;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
function fail(line: string): number {
  process.stderr.write(`parley: ${line}\n`);
  return 2;
}

/** Runs the server until SIGTERM or SIGINT, then shuts it down gracefully. Resolves with the exit code. */
export async function startServer(config: Config): Promise<number> {
  const { buildApp } = await import("./app.ts");
  const app = await buildApp(config);
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
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

/** The operator's command line. Returns the process exit code; prints no stack traces. */
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
        uses: { type: "string", default: "1" },
        "expires-days": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${usage}`);
  }
  const { values, positionals } = parsed;
  const [command = "help", sub, arg] = positionals;
  if (values.help || command === "help") {
    out(usage);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig({ path: values.config });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  try {
    switch (command) {
      case "start":
        return await startServer(config);
      case "config":
        out(toToml(config as unknown as Record<string, unknown>));
        return 0;
      case "migrate": {
        const { applied } = runMigrations(config.storage.data_dir);
        out(applied ? `applied ${applied} migration(s)` : "the database is up to date");
        return 0;
      }
      case "federation":
        return await runFederationCommand(config, sub, arg);
      case "user":
      case "registration-token":
        return await runAccountCommand(config, command, sub, arg, values);
      default:
        return fail(`unknown command "${command}"\n\n${usage}`);
    }
  } catch (err) {
    if (err instanceof ParleyError) return fail(`${err.code}: ${err.message}`);
    if (err instanceof ConfigError) return fail(err.message);
    return fail(`failed: ${(err as Error).message}`);
  }
}

async function runAccountCommand(
  config: Config,
  command: string,
  sub: string | undefined,
  arg: string | undefined,
  values: { admin?: boolean; password?: string; "display-name"?: string; uses?: string; "expires-days"?: string },
): Promise<number> {
  const storage = openStorage(config.storage.data_dir);
  try {
    const accounts = createAccountService({ config, store: createAccountStore(storage), bus: new Bus(), log: createLogger("warn") });
    if (command === "user" && sub === "create" && arg) {
      const password = values.password ?? randomBytes(12).toString("base64url");
      const row = await accounts.createAccount({ username: arg, password, displayName: values["display-name"], isAdmin: values.admin });
      out(`created ${row.id}${row.isAdmin ? " (server admin)" : ""}`);
      if (!values.password) out(`password: ${password}`);
      return 0;
    }
    if (command === "user" && sub === "reset-password" && arg) {
      const password = values.password ?? randomBytes(12).toString("base64url");
      const { userId, revokedDevices } = await accounts.resetPassword(arg, password);
      out(`password reset for ${userId}; ${revokedDevices} session(s) ended`);
      if (!values.password) out(`password: ${password}`);
      return 0;
    }
    if (command === "user" && (sub === "disable" || sub === "enable") && arg) {
      const { userId, revokedDevices } = accounts.setDisabled(arg, sub === "disable");
      out(sub === "disable" ? `disabled ${userId}; ${revokedDevices} session(s) ended` : `enabled ${userId}`);
      return 0;
    }
    if (command === "registration-token" && sub === "create") {
      const uses = Number(values.uses);
      if (!Number.isInteger(uses) || uses < 1) return fail("--uses takes a whole number of at least 1");
      const days = values["expires-days"] === undefined ? null : Number(values["expires-days"]);
      if (days !== null && !(days > 0)) return fail("--expires-days takes a positive number");
      const token = accounts.createRegistrationToken({ uses, expiresAt: days === null ? null : Date.now() + days * 86_400_000 });
      out(token);
      return 0;
    }
    return fail(`usage: see "parley help"`);
  } finally {
    storage.close();
  }
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
      if (!peers.length) {
        out("no peers: no room of this server has members on another server yet");
        return 0;
      }
      const when = (ms: number | null) => (ms ? new Date(ms).toISOString() : "-");
      out(["server", "rooms", "backlog", "failures", "last success", "next attempt", "dormant", "last error"].join("\t"));
      for (const p of peers) {
        out([p.server, p.rooms, p.backlog, p.failures, when(p.lastSuccessAt), p.nextAttemptAt && p.nextAttemptAt > Date.now() ? when(p.nextAttemptAt) : "now", p.dormant ? "yes" : "no", p.lastError ?? "-"].join("\t"));
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
