/**
 * Creates the bench accounts user0..user<N-1> (password "benchpass") in a data directory, before the
 * server starts, through the server's own account service (`accounts.register`: the function the
 * HTTP route POST /api/v1/auth/register calls, with its argon2id hashing at the bench config's
 * lowered cost, a device and a session). The HTTP route itself allows 20 registrations per minute
 * per address, which would make 5,000 accounts take over four hours from one loopback address.
 *
 * Writes <data-dir>/bench-tokens.json: { "user0": "<access token>", ... }. The tokens live for
 * tokens.access_ttl_seconds of the bench config (a day), so one seeding serves a whole session.
 *
 *   node --import tsx bench/seed.ts --config bench/server.toml --data-dir DIR --users 5000
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../server/config/load.ts";
import { openStorage } from "../server/storage/database.ts";
import { createAccountStore } from "../server/accounts/store.ts";
import { createAccountService } from "../server/accounts/service.ts";
import { Bus } from "../server/core/bus.ts";
import { createLogger } from "../server/logger.ts";

const { values } = parseArgs({
  options: {
    config: { type: "string", default: "bench/server.toml" },
    "data-dir": { type: "string" },
    users: { type: "string", default: "5000" },
    prefix: { type: "string", default: "user" },
    concurrency: { type: "string", default: "8" },
  },
});
const dataDir = values["data-dir"];
if (!dataDir) throw new Error("--data-dir is required");
const users = Number(values.users);
const config = loadConfig({ path: values.config, env: { PARLEY_DATA_DIR: dataDir } });
const storage = openStorage(config.storage.data_dir);
const accounts = createAccountService({ config, store: createAccountStore(storage), bus: new Bus(), log: createLogger("warn") });
const file = join(config.storage.data_dir, "bench-tokens.json");
const tokens: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};

const t0 = performance.now();
let created = 0;
let next = 0;
const todo = Array.from({ length: users }, (_, i) => `${values.prefix}${i}`).filter((u) => !tokens[u]);
async function worker(): Promise<void> {
  while (next < todo.length) {
    const username = todo[next++];
    const session = await accounts.register({ username, password: "benchpass", deviceName: "bench" }, "127.0.0.1");
    tokens[username] = session.accessToken;
    created++;
  }
}
await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
writeFileSync(file, JSON.stringify(tokens));
storage.close();
console.log(JSON.stringify({ cmd: "register", server: "parley", users, created, exists: users - created, errors: 0, secs: (performance.now() - t0) / 1000, tokens: file }));
