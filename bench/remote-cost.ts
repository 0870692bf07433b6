/**
 * What a message costs when its sender is on another server than the room's home, against one
 * sent on the home, without the rest of F1: two servers in this process (real HTTP between them
 * over loopback, real WebSockets to them), a group on a with one member on a and one on b. Each
 * round, the member on a sends `--msgs` messages and then the member on b does (each keeping
 * `--window` sends without their answer), and this prints this process's CPU time per message for
 * each: servers, HTTP and clients together, so the difference of the two is what the remote path
 * (the proposal, its batch, the answer, the reply made from the replicated copy) adds. One process
 * on a quiet machine gives steadier figures than F1's four; run it under `node --cpu-prof` to see
 * where the difference goes (bench/profile.ts summarizes a profile).
 *
 *   node --import tsx bench/remote-cost.ts [--msgs 4000] [--rounds 4] [--window 10] [--only home|remote]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { buildApp } from "../server/app.ts";
import { mergeConfig, resolveConfig } from "../server/config/load.ts";
import { ParleyClient, type WebSocketConstructor } from "../clients/sdk/index.ts";
import { freePort } from "../test/federation/cluster.ts";

const { values: args } = parseArgs({ options: { msgs: { type: "string", default: "4000" }, rounds: { type: "string", default: "4" }, window: { type: "string", default: "10" }, only: { type: "string", default: "" } } });
const M = Number(args.msgs);
const W = Number(args.window);

const names = ["a.test", "b.test"];
const ports = await Promise.all(names.map(() => freePort()));
const peers = Object.fromEntries(names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}`]));
const dirs: string[] = [];
const apps: FastifyInstance[] = [];
for (const [i, name] of names.entries()) {
  const dir = mkdtempSync(join(tmpdir(), "parley-remote-cost-"));
  dirs.push(dir);
  const config = resolveConfig(
    mergeConfig(
      { listen: { host: "127.0.0.1", port: ports[i] }, storage: { data_dir: dir }, log: { level: "error" }, passwords: { memory_kib: 1024, time_cost: 1 }, server: { name } },
      { limits: { ws_ops_per_second: 1_000_000, ws_ops_burst: 1_000_000, http_requests_per_minute: 10_000_000 }, federation: { allow_plain_http: true, peers } } as never,
    ),
  );
  const app = await buildApp(config);
  await app.listen({ host: "127.0.0.1", port: ports[i] });
  apps.push(app);
}
const clientOptions = (i: number) => ({ baseUrl: peers[names[i]], WebSocket: WebSocket as unknown as WebSocketConstructor });
const register = async (i: number, username: string) => {
  const c = await ParleyClient.register(clientOptions(i), { username, password: "correct horse battery", displayName: username, deviceName: "bench" });
  await c.connect();
  return c;
};
const alice = await register(0, "alice");
const bob = await register(1, "bob");
const { roomId } = await alice.request("group.create", { name: "Cost" });
const { token } = await alice.request("link.create", { roomId });
await bob.request("link.join", { token, server: "a.test" });

/** `who` sends M messages, W at a time; resolves with this process's CPU µs per message. */
async function send(who: ParleyClient, tag: string): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < M) {
      const k = next++;
      await who.request("message.send", { roomId, body: `${tag} ${k}`, txnId: `${tag}-${k}` });
    }
  };
  await Promise.all(Array.from({ length: W }, lane));
  // Until both servers hold the last message (replication to b, or b's copy of its own proposal).
  const target = apps[0].parley.rooms.state(roomId)!.seq;
  while ((apps[1].parley.rooms.state(roomId)?.seq ?? 0) < target) await new Promise((r) => setTimeout(r, 1));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / M;
}

const rows: string[] = [];
for (let r = 0; r < Number(args.rounds); r++) {
  // --only home|remote: one kind of sender alone (for a profile of that path), the other 0.
  const local = args.only === "remote" ? 0 : await send(alice, `l${r}`);
  const remote = args.only === "home" ? 0 : await send(bob, `r${r}`);
  rows.push(`round ${r + 1}: sender on the home ${local.toFixed(0)} µs, on b ${remote.toFixed(0)} µs, difference ${(remote - local).toFixed(0)} µs`);
}
console.log(`CPU per message, ${M} messages per sender and round, window ${W} (servers, HTTP and clients in this process):\n${rows.join("\n")}`);
alice.close();
bob.close();
for (const app of apps) await app.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
