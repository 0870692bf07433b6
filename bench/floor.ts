/**
 * The floor of scenario A2 on this machine: what the paced fan-out costs with no chat server at
 * all. A child process relays each line it receives on any of 100 loopback TCP sockets to all
 * 100 of them (plain `socket.write`, no WebSocket framing, no JSON, no database); this process
 * holds the 100 client sockets, and senders 0–9 each send 200 lines at 10 per second, staggered
 * as in bench/load.ts. The latency of each delivery is measured as in A2.
 *
 *   node --import tsx bench/floor.ts [--members 100] [--senders 10] [--msgs 200] [--rate 10] [--bytes 40]
 *
 * No server can deliver A2's messages faster than this on the same machine with the load
 * generator in one Node process beside it: the figures bound what the A2 targets can ask for.
 */
import { fork } from "node:child_process";
import { createServer, connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { percentiles } from "./lib/metrics.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    members: { type: "string", default: "100" },
    senders: { type: "string", default: "10" },
    msgs: { type: "string", default: "200" },
    rate: { type: "string", default: "10" },
    /** Bytes of each line (at least 40): Parley's message pushes in A2 are about 230. */
    bytes: { type: "string", default: "40" },
  },
});
const N = Number(values.members);
const S = Number(values.senders);
const M = Number(values.msgs);
const R = Number(values.rate);
const pad = "x".repeat(Math.max(0, Number(values.bytes) - 40));

if (positionals[0] === "relay") {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.push(socket);
    let pending = "";
    socket.on("data", (chunk) => {
      pending += chunk.toString("latin1");
      let end: number;
      while ((end = pending.indexOf("\n")) !== -1) {
        const line = Buffer.from(pending.slice(0, end + 1), "latin1");
        pending = pending.slice(end + 1);
        for (const s of sockets) s.write(line);
      }
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as { port: number }).port));
} else {
  const relay = fork(fileURLToPath(import.meta.url), ["relay"]);
  const port = await new Promise<number>((resolve) => relay.once("message", (p) => resolve(p as number)));
  const clients: Socket[] = [];
  for (let i = 0; i < N; i++) {
    clients.push(
      await new Promise<Socket>((resolve) => {
        const s = connect(port, "127.0.0.1", () => resolve(s));
        s.setNoDelay(true);
      }),
    );
  }
  const expected = N * S * M;
  const latencies = new Float64Array(expected);
  let received = 0;
  const finished = new Promise<void>((resolve) => {
    for (const c of clients) {
      let pending = "";
      c.on("data", (chunk) => {
        const t = performance.now();
        pending += chunk.toString("latin1");
        let end: number;
        while ((end = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          latencies[received] = t - Number(line.slice(line.lastIndexOf("|") + 1));
          if (++received === expected) resolve();
        }
      });
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const sent = new Array<number>(S).fill(0);
  const period = 1000 / R;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const tick = () => {
    const elapsed = performance.now() - t0;
    let all = true;
    for (let s = 0; s < S; s++) {
      const due = Math.min(M, Math.max(0, Math.floor((elapsed - (s / S) * period) / period) + 1));
      while (sent[s] < due) clients[s].write(`${pad}floor|${s}|${sent[s]++}|${performance.now().toFixed(3)}\n`);
      if (sent[s] < M) all = false;
    }
    if (!all) setTimeout(tick, 1);
  };
  tick();
  await finished;
  const cpu = process.cpuUsage(cpu0);
  const pc = percentiles(latencies, [50, 95, 99]);
  const clientUsPerDelivery = (cpu.user + cpu.system) / received;
  console.log(JSON.stringify({ floor: "raw TCP relay", members: N, senders: S, msgs: M, rate: R, deliveries: received, p50_ms: pc.p50, p95_ms: pc.p95, p99_ms: pc.p99, client_us_per_delivery: clientUsPerDelivery }));
  relay.kill();
  process.exit(0);
}
