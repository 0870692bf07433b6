import { accessSync, constants, existsSync, statfsSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { ConfigError, loadConfig, type Config } from "../config/load.ts";
import { findRunningServer, localUrlOf } from "../admin/runtime.ts";
import { migrationsFolder } from "../storage/database.ts";
import { readFileSync } from "node:fs";
import { bytes, out } from "./io.ts";

type Level = "ok" | "warn" | "FAIL";
interface Finding {
  level: Level;
  what: string;
  /** What to do about it, for warnings and failures. */
  fix?: string;
}

/** Below this much free space the server may fail to write: a failure. Below `lowSpace`: a warning. */
const minSpace = 256 * 1024 * 1024;
const lowSpace = 2 * 1024 * 1024 * 1024;

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);

/**
 * `parley doctor`: checks what an operator gets wrong before or after a first start, and says
 * what to fix. Exit code 1 when anything fails (warnings alone exit 0).
 */
export async function doctor(configPath: string | undefined): Promise<number> {
  const findings: Finding[] = [];
  let config: Config;
  try {
    config = loadConfig({ path: configPath });
    findings.push({ level: "ok", what: `configuration ${configPath ?? process.env.PARLEY_CONFIG ?? "(defaults and environment)"} is valid` });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    print([{ level: "FAIL", what: `configuration: ${err.message}`, fix: "correct the file (config.example.toml documents every key)" }]);
    return 1;
  }
  if (config.server.name === "localhost") {
    findings.push({ level: "warn", what: `server.name is "localhost"`, fix: "set server.name to the domain users will know the server by; it is part of every user id and cannot change later" });
  }
  findings.push(...checkDataDir(config));
  findings.push(...checkPublicUrl(config));
  findings.push(await checkPort(config));
  print(findings);
  const failures = findings.filter((f) => f.level === "FAIL").length;
  const warnings = findings.filter((f) => f.level === "warn").length;
  out(failures ? `${failures} problem(s) to fix${warnings ? `, ${warnings} warning(s)` : ""}` : warnings ? `no problems; ${warnings} warning(s)` : "no problems found");
  return failures ? 1 : 0;
}

function print(findings: Finding[]): void {
  for (const f of findings) out(`${f.level.padEnd(4)}  ${f.what}${f.fix ? `\n      fix: ${f.fix}` : ""}`);
}

function checkDataDir(config: Config): Finding[] {
  const dir = resolve(config.storage.data_dir);
  const found: Finding[] = [];
  if (!existsSync(dir)) {
    // The server creates it at first start: its nearest existing parent must be writable.
    let parent = dirname(dir);
    while (!existsSync(parent)) parent = dirname(parent);
    try {
      accessSync(parent, constants.W_OK | constants.X_OK);
      found.push({ level: "ok", what: `data directory ${dir} does not exist yet; it will be created at first start` });
    } catch {
      return [{ level: "FAIL", what: `data directory ${dir} does not exist and ${parent} is not writable`, fix: `create it for the server's user: mkdir -p ${dir} && chmod 700 ${dir}` }];
    }
    return [...found, ...checkSpace(parent)];
  }
  if (!statSync(dir).isDirectory()) return [{ level: "FAIL", what: `data directory ${dir} is not a directory`, fix: "point storage.data_dir at a directory" }];
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    found.push({ level: "ok", what: `data directory ${dir} is readable and writable` });
  } catch {
    return [{ level: "FAIL", what: `data directory ${dir} is not readable and writable by this user`, fix: `run as the server's user, or: chown -R <server user> ${dir}` }];
  }
  // The database holds the access-token secret and password hashes: no one else should read it.
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) found.push({ level: "warn", what: `data directory ${dir} is open to other users (mode ${mode.toString(8)})`, fix: `chmod 700 ${dir}` });
  const db = join(dir, "parley.db");
  if (existsSync(db)) {
    const dbMode = statSync(db).mode & 0o777;
    if (dbMode & 0o077 && !(mode & 0o077)) found.push({ level: "warn", what: `${db} is readable by other users (mode ${dbMode.toString(8)})`, fix: `chmod 600 ${db}` });
    found.push(checkDatabase(db));
  }
  return [...found, ...checkSpace(dir)];
}

function checkDatabase(path: string): Finding {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") return { level: "FAIL", what: `the database fails SQLite's quick check: ${String(check)}`, fix: "restore the latest backup (parley restore)" };
    const applied = (db.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
    const known = (JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: unknown[] }).entries.length;
    if (applied > known) return { level: "FAIL", what: `the database has ${applied} migrations, more than this version knows (${known})`, fix: "run the Parley version that wrote it, or a newer one" };
    if (applied < known) return { level: "warn", what: `the database lacks ${known - applied} migration(s) of this version`, fix: "run parley migrate (start applies them too)" };
    return { level: "ok", what: `database ${path} passes its quick check and is up to date (${applied} migrations)` };
  } catch (err) {
    return { level: "FAIL", what: `cannot read the database ${path}: ${(err as Error).message}`, fix: "check its owner and permissions, or restore a backup" };
  } finally {
    db?.close();
  }
}

function checkSpace(dir: string): Finding[] {
  const s = statfsSync(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < minSpace) return [{ level: "FAIL", what: `only ${bytes(free)} free where the data lives`, fix: "free some space or move storage.data_dir to a larger disk" }];
  if (free < lowSpace) return [{ level: "warn", what: `${bytes(free)} free where the data lives`, fix: "uploads and the database grow; plan for more space" }];
  return [{ level: "ok", what: `${bytes(free)} free where the data lives` }];
}

function checkPublicUrl(config: Config): Finding[] {
  let url: URL;
  try {
    url = new URL(config.server.public_url);
  } catch {
    return [{ level: "FAIL", what: `server.public_url "${config.server.public_url}" is not a URL`, fix: 'set it to the address users open, e.g. "https://chat.school.example"' }];
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isLoopback(host)) {
    return isLoopback(config.listen.host)
      ? [{ level: "warn", what: `server.public_url is ${url.origin}: only this machine can use the links the server makes`, fix: "set server.public_url to the public https address once the server is reachable" }]
      : [{ level: "FAIL", what: `server.public_url is ${url.origin} but the server listens for others on ${config.listen.host}: invite links would point at their own machine`, fix: "set server.public_url to the address users open" }];
  }
  if (url.protocol !== "https:") return [{ level: "warn", what: `server.public_url ${url.origin} is not https: passwords and tokens would cross the network in clear`, fix: "put a TLS reverse proxy in front and set an https public_url (docs/deployment.md)" }];
  return [{ level: "ok", what: `server.public_url is ${url.origin}` }];
}

/** Free, or served by Parley (this data directory's server, or another), or taken by something else. */
async function checkPort(config: Config): Promise<Finding> {
  const { host, port } = config.listen;
  const where = `${host}:${port}`;
  if (port === 0) return { level: "ok", what: "listen.port is 0: the system picks a free port at each start" };
  const error = await new Promise<NodeJS.ErrnoException | null>((done) => {
    const probe = createServer();
    probe.once("error", (err) => done(err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(null)));
  });
  if (!error) return { level: "ok", what: `${where} is free for the server` };
  if (error.code === "EACCES") return { level: "FAIL", what: `${where} needs privileges this user lacks`, fix: "use a port above 1023 behind a reverse proxy, or grant CAP_NET_BIND_SERVICE" };
  if (error.code === "EADDRNOTAVAIL") return { level: "FAIL", what: `listen.host ${host} is not an address of this machine`, fix: 'use "127.0.0.1" behind a reverse proxy, or "0.0.0.0"' };
  if (error.code !== "EADDRINUSE") return { level: "FAIL", what: `cannot listen on ${where}: ${error.code ?? error.message}` };
  const running = findRunningServer(config.storage.data_dir);
  if (running && new URL(running.url).port === String(port)) return { level: "ok", what: `${where} is served by this Parley (pid ${running.pid})` };
  try {
    const res = await fetch(`${localUrlOf(host, port)}/.well-known/parley`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { software?: { name?: string }; server?: string };
    if (body.software?.name?.toLowerCase() === "parley") {
      return { level: "FAIL", what: `${where} is served by another Parley ("${body.server}"), not the one of this data directory`, fix: "stop it, or give this server another listen.port" };
    }
  } catch {
    // Not HTTP, or not Parley.
  }
  return { level: "FAIL", what: `${where} is taken by another program`, fix: `find it (ss -ltnp 'sport = :${port}') and stop it, or set listen.port` };
}
