/**
 * Seeds a real community with N members in a server's data directory before the server starts
 * (F2, bench/federation-f2.ts): builds the server (buildApp, not listening) on the directory,
 * registers `member0..member<N-1>` through its own account service (`accounts.register`, at the
 * config's argon2id cost), then runs the server's own op handlers (the ones a client's request
 * reaches): member0 `community.create`s it and `link.create`s an invite link, and every other
 * member `link.join`s by it, 200 commands in flight (group-committed by the room core like
 * clients' joins). Every membership is an event of the community's log, hashed and projected as
 * in a client's join. Writes <data-dir>/bench-community.json: { roomId, token, members, ... }.
 *
 *   node --import tsx bench/seed-community.ts --config FILE --data-dir DIR --members 5000
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildApp } from "../server/app.ts";
import { loadConfig } from "../server/config/load.ts";

const { values } = parseArgs({
  options: {
    config: { type: "string" },
    "data-dir": { type: "string" },
    members: { type: "string", default: "5000" },
    prefix: { type: "string", default: "member" },
    concurrency: { type: "string", default: "200" },
  },
});
if (!values.config || !values["data-dir"]) throw new Error("--config and --data-dir are required");
const members = Number(values.members);
const config = loadConfig({ path: values.config, env: { PARLEY_DATA_DIR: values["data-dir"] } });
const app = await buildApp(config);
await app.ready();
const { accounts, ops } = app.parley;
const userId = (i: number) => `@${values.prefix}${i}:${config.server.name}`;
/** Runs an op's own handler as the user (what the WebSocket dispatcher calls after validating). */
async function run(op: string, i: number, params: Record<string, unknown>): Promise<any> {
  const def = ops.get(op);
  if (!def) throw new Error(`no op ${op}`);
  if (!def.validateParams(params)) throw new Error(`${op}: invalid params ${JSON.stringify(def.validateParams.errors)}`);
  return def.handler({ actor: { userId: userId(i), deviceId: "bench-seed", expiresAt: Number.MAX_SAFE_INTEGER, isAdmin: false }, connection: null as never }, params);
}
async function pool(count: number, from: number, n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

const t0 = performance.now();
await pool(members, 0, 8, async (i) => {
  await accounts.register({ username: `${values.prefix}${i}`, password: "benchpass", deviceName: "bench" }, "127.0.0.1");
});
const accountsS = (performance.now() - t0) / 1000;
const t1 = performance.now();
const { roomId } = await run("community.create", 0, { name: `F2 community of ${members}` });
const { token } = await run("link.create", 0, { roomId });
await pool(members, 1, Number(values.concurrency), async (i) => {
  const r = await run("link.join", i, { token });
  if (r.status !== "joined") throw new Error(`join of member ${i}: ${r.status}`);
});
const joinsS = (performance.now() - t1) / 1000;
const st = app.parley.rooms.state(roomId);
if (st?.members.size !== members) throw new Error(`the community has ${st?.members.size} members, not ${members}`);
const out = { roomId, token, members: st.members.size, seq: st.seq, accountsS, joinsS };
writeFileSync(join(config.storage.data_dir, "bench-community.json"), JSON.stringify(out));
await app.close();
console.log(JSON.stringify({ cmd: "seed-community", ...out }));
process.exit(0);
