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
        // The metrics token is a secret: shown only as set or not.
        out(toToml({ ...config, metrics: { ...config.metrics, token: config.metrics.token ? "[redacted]" : "" } } as unknown as Record<string, unknown>));
        return 0;
      case "migrate": {
        const { applied } = runMigrations(config.storage.data_dir);
        out(applied ? `applied ${applied} migration(s)` : "the database is up to date");
        return 0;
      }
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
