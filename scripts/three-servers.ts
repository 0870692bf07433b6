/**
 * Three federating Parley servers on this machine, for trying federation as a new user would:
 *   npm run federation:demo                  (ports 8101, 8102, 8103; data under ./data-federation)
 *   npm run federation:demo -- --base-port 9000 --data-dir /tmp/parley-fed
 * The servers are named a.localhost, b.localhost and c.localhost, each with its own database,
 * and `[federation.peers]` pointing at the others over plain HTTP on loopback (allowed by config
 * here only). Ctrl-C stops all three.
 */
import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildApp } from "../server/app.ts";
import { resolveConfig } from "../server/config/load.ts";

const { values } = parseArgs({ options: { "base-port": { type: "string", default: "8101" }, "data-dir": { type: "string", default: "./data-federation" } } });
const basePort = Number(values["base-port"]);
const names = ["a.localhost", "b.localhost", "c.localhost"];
const peers = Object.fromEntries(names.map((n, i) => [n, `http://127.0.0.1:${basePort + i}`]));
const apps: Awaited<ReturnType<typeof buildApp>>[] = [];
for (const [i, name] of names.entries()) {
  const dataDir = resolve(join(values["data-dir"]!, name));
  mkdirSync(dataDir, { recursive: true });
  const config = resolveConfig({
    server: { name, public_url: peers[name] },
    listen: { host: "127.0.0.1", port: basePort + i },
    storage: { data_dir: dataDir },
    federation: { peers, allow_plain_http: true },
    log: { level: "warn" },
  });
  const app = await buildApp(config);
  await app.listen({ host: "127.0.0.1", port: basePort + i });
  apps.push(app);
  process.stdout.write(`${name.padEnd(12)} ${peers[name]}  (WebSocket ${peers[name].replace("http", "ws")}/api/v1/ws, data ${dataDir})\n`);
}
process.stdout.write(`
Three federating servers are running. Try (docs/federation.md, "Trying it"):
  1. register alice on a.localhost and bob on b.localhost (POST /api/v1/auth/register on each);
  2. alice: group.create, then link.create on a.localhost;
  3. bob, on b.localhost: link.join { token, server: "a.localhost" }, then message.send to the room;
  4. PARLEY_DATA_DIR=${resolve(values["data-dir"]!)}/a.localhost npx parley federation status
Ctrl-C stops all three.
`);
const stop = async () => {
  for (const app of apps) await app.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
