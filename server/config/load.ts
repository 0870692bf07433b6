import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import { parse as parseToml } from "smol-toml";
import { configSchema, type Config } from "./schema.ts";
import { isServerName } from "../names.ts";

export type { Config } from "./schema.ts";

/** Raised for any problem with the configuration; main prints its message alone and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: true });
const validateConfig = ajv.compile(configSchema);

/** A deep partial, for tests and for programmatic overrides. */
export type ConfigOverrides = { [K in keyof Config]?: Partial<Config[K]> };

function describeError(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "";
  switch (e.keyword) {
    case "additionalProperties": {
      const key = [where, String(e.params.additionalProperty)].filter(Boolean).join(".");
      return `unknown key "${key}"`;
    }
    case "type":
      // "an integer", "an object", "an array"; "a string", "a number", "a boolean".
      return `"${where}" must be ${/^[aeiou]/.test(String(e.params.type)) ? "an" : "a"} ${e.params.type}`;
    case "enum":
      return `"${where}" must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "minimum":
    case "maximum":
    case "minLength":
    case "maxLength":
    case "pattern":
      return `"${where}" ${e.message}`;
    default:
      return `"${where || "(top level)"}" ${e.message}`;
  }
}

/** Validates a parsed configuration object, filling in every default. Throws ConfigError. */
export function resolveConfig(raw: unknown, source = "configuration"): Config {
  const copy = structuredClone(raw ?? {}) as Record<string, unknown>;
  if (!validateConfig(copy)) {
    const first = validateConfig.errors![0];
    throw new ConfigError(`${source}: ${describeError(first)}`);
  }
  const config = copy as unknown as Config;
  // The schema's pattern is the shape; a bracketed IPv6 address must also be in its one canonical form.
  if (!isServerName(config.server.name)) throw new ConfigError(`${source}: "server.name" is not a server name (a DNS name, or a bracketed IPv6 address written as a URL writes it, e.g. "[::1]:8443"), got "${config.server.name}"`);
  for (const name of [...Object.keys(config.federation.peers), ...config.federation.allow, ...config.federation.deny]) {
    if (!isServerName(name)) throw new ConfigError(`${source}: "${name}" in [federation] is not a server name`);
  }
  if (!config.server.public_url) {
    const host = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? "127.0.0.1" : config.listen.host;
    config.server.public_url = `http://${host.includes(":") ? `[${host}]` : host}:${config.listen.port}`;
  }
  config.server.public_url = config.server.public_url.replace(/\/+$/, "");
  return config;
}

/** Merges section-wise overrides into a raw configuration object. */
export function mergeConfig(base: Record<string, unknown>, overrides: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [section, values] of Object.entries(overrides)) {
    if (values === undefined) continue;
    out[section] = { ...((out[section] as object) ?? {}), ...values };
  }
  return out;
}

/** The environment variables operators set per deployment, mapped onto config keys. */
export function environmentOverrides(env: NodeJS.ProcessEnv): ConfigOverrides {
  const o: ConfigOverrides = {};
  const port = env.PARLEY_PORT;
  if (env.PARLEY_HOST || port) {
    o.listen = {};
    if (env.PARLEY_HOST) o.listen.host = env.PARLEY_HOST;
    if (port) {
      if (!/^\d+$/.test(port)) throw new ConfigError(`PARLEY_PORT: "listen.port" must be an integer, got "${port}"`);
      o.listen.port = Number(port);
    }
  }
  if (env.PARLEY_PUBLIC_URL || env.PARLEY_SERVER_NAME) {
    o.server = {};
    if (env.PARLEY_PUBLIC_URL) o.server.public_url = env.PARLEY_PUBLIC_URL;
    if (env.PARLEY_SERVER_NAME) o.server.name = env.PARLEY_SERVER_NAME;
  }
  if (env.PARLEY_DATA_DIR) o.storage = { data_dir: env.PARLEY_DATA_DIR };
  if (env.PARLEY_LOG_LEVEL) o.log = { level: env.PARLEY_LOG_LEVEL as Config["log"]["level"] };
  return o;
}

/**
 * Loads the effective configuration: the file named by --config, else by PARLEY_CONFIG, else
 * none (all defaults); then the environment overrides. Throws ConfigError with one clear line.
 */
export function loadConfig(opts: { path?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = opts.env ?? process.env;
  const path = opts.path ?? env.PARLEY_CONFIG;
  let raw: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`${path}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      const e = err as { line?: number; column?: number; message: string };
      const firstLine = e.message.split("\n")[0];
      throw new ConfigError(`${path}: invalid TOML${e.line ? ` at line ${e.line}` : ""}: ${firstLine}`);
    }
  }
  return resolveConfig(mergeConfig(raw, environmentOverrides(env)), path ?? "configuration");
}
