/**
 * F3: c is down while N events (default 10,000) are sent in a room it has a member in; the time
 * from c's restart until it holds all of them. Three servers (a, b, c) in this one process on
 * loopback (so they share one thread as well as the machine's cores), real client protocol for
 * the sends, real signed federation between the servers.
 *   node --import tsx bench/federation-f3.ts [--events 10000]
 */
import { parseArgs } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { buildApp } from "../server/app.ts";
import { resolveConfig } from "../server/config/load.ts";
import { ParleyClient, type WebSocketConstructor } from "../clients/sdk/index.ts";

const { values } = parseArgs({ options: { events: { type: "string", default: "10000" } } });
const total = Number(values.events);
const names = ["a.test", "b.test", "c.test"];
const free = () => new Promise<number>((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
const ports = [await free(), await free(), await free()];
const peers = Object.fromEntries(names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}`]));
const dirs = names.map(() => mkdtempSync(join(tmpdir(), "parley-f3-")));
async function start(i: number) {
  const config = resolveConfig({
    server: { name: names[i] }, listen: { host: "127.0.0.1", port: ports[i] }, storage: { data_dir: dirs[i] },
    federation: { peers, allow_plain_http: true }, log: { level: "error" }, passwords: { memory_kib: 1024, time_cost: 1 },
    limits: { ws_ops_per_second: 100000, ws_ops_burst: 100000, http_requests_per_minute: 100000 },
  });
  const app = await buildApp(config);
  await app.listen({ host: "127.0.0.1", port: ports[i] });
  return app;
}
const opts = (i: number) => ({ baseUrl: peers[names[i]], WebSocket: WebSocket as unknown as WebSocketConstructor });
const apps = [await start(0), await start(1), await start(2)];
const alice = await ParleyClient.register(opts(0), { username: "alice", password: "benchpass1" });
await alice.connect();
const carol = await ParleyClient.register(opts(2), { username: "carol", password: "benchpass1" });
await carol.connect();
const { roomId } = await alice.request("group.create", { name: "F3" });
const { token } = await alice.request("link.create", { roomId });
await carol.request("link.join", { token, server: "a.test" });
const seqOf = (i: number) => apps[i].parley.rooms.state(roomId)?.seq ?? 0;
const until = async (f: () => boolean) => { while (!f()) await new Promise((r) => setTimeout(r, 5)); };
await until(() => seqOf(2) === seqOf(0));
carol.close();
await apps[2].close();
const sendStart = Date.now();
const window = 50;
for (let i = 0; i < total; i += window) {
  await Promise.all(Array.from({ length: Math.min(window, total - i) }, (_, k) => alice.request("message.send", { roomId, txnId: `f3-${i + k}`, body: `event ${i + k}` })));
}
const sendS = (Date.now() - sendStart) / 1000;
const target = seqOf(0);
const restartAt = Date.now();
apps[2] = await start(2);
await until(() => seqOf(2) === target);
const catchUpS = (Date.now() - restartAt) / 1000;
console.log(JSON.stringify({ scenario: "F3", events: total, sendS, catchUpS, eventsPerS: Math.round(total / catchUpS), target: "< 10 s" }));
alice.close();
for (const app of apps) await app.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
process.exit(0);
