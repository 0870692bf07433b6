/**
 * F2: users of b join a 5,000-member community of a, one at a time. Servers a and b run as
 * separate processes (server/main.ts). Before they start, a's data directory gets the community
 * (bench/seed-community.ts: 5,000 accounts, the community and every member's join through the
 * server's own services and op handlers) and b's the joiners' accounts (bench/seed.ts). Then each
 * of the 20 users of b, connected to b, sends `link.join { token, server: a }` and waits for the
 * reply (b proposes the join to a, a runs it and answers); then it waits until b holds the room
 * with it as a member (replicated: its own `member.join` pushed on its socket by b, or `room.get`
 * on b answering, polled every 50 ms, whichever comes first) before the next user joins.
 *
 *   node --import tsx bench/federation-f2.ts                         # the issue's F2 (5,000 members, 20 joins)
 *   node --import tsx bench/federation-f2.ts --members 500 --joins 3   # a small check
 *
 * Options: --members N (5000), --joins J (20), --quiet-machine-pct P (20; 0 turns the wait off),
 * --quiet-machine-max-s S (300), --timeout-s T (120 per join), --label L, --out FILE (appends the
 * result as one JSON line), --dir DIR (data directories, configurations and logs, kept; default a
 * new temporary directory, removed afterwards unless --keep or the run failed).
 * Prints one JSON object: join (request to reply) p50/p95/max, replicated (request until b holds
 * the room) p50/p95/max and the first join's apart (the first is when b receives the room).
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { BenchClient } from "./lib/client.ts";
import { calibrate, nowMs, percentiles, procCpuSec, waitMachineQuiet } from "./lib/metrics.ts";
import { freePort, parseOptions, runNode, seedAccounts, startServerProcess, stopServerProcess, writeConfigs, type RunningServer, type ServerSpec } from "./lib/cluster.ts";

const o = parseOptions(process.argv.slice(2), {
  members: "5000",
  joins: "20",
  "timeout-s": "120",
  "quiet-machine-pct": "20",
  "quiet-machine-max-s": "300",
  label: "F2-join",
  out: "",
  dir: "",
  keep: "false",
});
const N = Number(o.members);
const J = Number(o.joins);
if (!(N >= 1 && J >= 1)) throw new Error("need --members >= 1 and --joins >= 1");
const joinTimeoutMs = Number(o["timeout-s"]) * 1000;
const globalTimeoutS = 1800 + (J * joinTimeoutMs) / 1000;
const watchdog = setTimeout(() => {
  console.error(`watchdog: exceeded ${globalTimeoutS}s, stopping the servers`);
  void cleanup().finally(() => process.exit(3));
}, globalTimeoutS * 1000);
watchdog.unref();

const log = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 23)}] F2`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = resolve(o.dir || mkdtempSync(join(tmpdir(), "parley-f2-")));
mkdirSync(dir, { recursive: true });
const logFile = join(dir, "run.log");
const specs: ServerSpec[] = [];
for (const name of ["a.test", "b.test"]) {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  specs.push({ name, port: await freePort(), dataDir, config: join(dir, `${name}.toml`) });
}
const [a, b] = specs;
const servers: RunningServer[] = [];
const conns: BenchClient[] = [];

async function cleanup(): Promise<void> {
  await Promise.all(conns.filter(Boolean).map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => stopServerProcess(s)));
  // Only a directory this run made is removed; one given with --dir is kept.
  if (!o.dir && o.keep !== "true") rmSync(dir, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

const res: Record<string, any> = { cmd: "federation", scenario: "F2", label: o.label, server: "parley", servers: [a.name, b.name], members: N, joins: J };
try {
  // 1. the community on a (members_per_community leaves room for the joiners), the joiners' accounts on b
  writeConfigs(specs, { membersPerCommunity: Math.max(5000, N + J + 10) });
  const t0 = Date.now();
  const [seeded, tokens] = await Promise.all([
    runNode(["bench/seed-community.ts", "--config", a.config, "--data-dir", a.dataDir, "--members", String(N)], 1800, logFile),
    seedAccounts(b, J, logFile),
  ]);
  if (seeded.code !== 0) throw new Error(`seeding the community failed (${seeded.code}); see ${logFile}`);
  const community = JSON.parse(readFileSync(join(a.dataDir, "bench-community.json"), "utf8")) as { roomId: string; token: string; members: number; seq: number; accountsS: number; joinsS: number };
  res.seed = { total_s: (Date.now() - t0) / 1000, accounts_s: community.accountsS, joins_s: community.joinsS, members: community.members, log_events: community.seq };
  log(`community ${community.roomId}: ${community.members} members, ${community.seq} events (seeded in ${res.seed.total_s.toFixed(1)} s)`);

  // 2. the servers, each its own process; the joiners connect to b
  for (const s of specs) servers.push(await startServerProcess(s, join(dir, `${s.name}.log`)));
  res.server_pids = Object.fromEntries(servers.map((s) => [s.spec.name, s.pid]));
  for (let k = 0; k < J; k++) conns.push(await BenchClient.connect(`ws://127.0.0.1:${b.port}/api/v1/ws`, tokens[`user${k}`], 60_000));
  if (Number(o["quiet-machine-pct"]) > 0) res.machine_quiet_wait = await waitMachineQuiet(Number(o["quiet-machine-pct"]), Number(o["quiet-machine-max-s"]));
  res.calibration = calibrate();
  await sleep(1000);

  // 3. the joins, one at a time
  const joinMs: number[] = [];
  const replicatedMs: number[] = [];
  const heldBy: string[] = [];
  const cpu0 = servers.map((s) => procCpuSec(s.pid));
  const tAll = nowMs();
  for (let k = 0; k < J; k++) {
    const c = conns[k];
    let stopPolling = false;
    const held = new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`join ${k}: b did not hold the room within ${o["timeout-s"]} s`)), joinTimeoutMs);
      const finish = (how: string) => {
        clearTimeout(timer);
        stopPolling = true;
        c.onOtherEvent = null;
        done(how);
      };
      // Its own member.join, pushed by b once b's copy of the room has it.
      c.onOtherEvent = (frame) => {
        if (frame.includes('"type":"member.join"') && frame.includes(`"userId":"${c.userId}"`) && frame.includes(community.roomId)) finish("push");
      };
      // Or b's room.get answering (b's copy lists the user as a member).
      void (async () => {
        await sleep(50);
        while (!stopPolling) {
          const ok = await c.request("room.get", { roomId: community.roomId }).then(
            () => true,
            () => false,
          );
          if (ok && !stopPolling) return finish("room.get");
          await sleep(50);
        }
      })();
    });
    const t = nowMs();
    const r = await c.request("link.join", { token: community.token, server: a.name });
    const tReply = nowMs();
    if (r.status !== "joined") throw new Error(`join ${k}: status ${r.status}`);
    heldBy.push(await held);
    joinMs.push(tReply - t);
    replicatedMs.push(nowMs() - t);
    log(`join ${k + 1}/${J}: reply ${(tReply - t).toFixed(1)} ms, b holds the room after ${replicatedMs[k].toFixed(1)} ms (${heldBy[k]})`);
  }
  const wall = (nowMs() - tAll) / 1000;
  const cpu1 = servers.map((s) => procCpuSec(s.pid));
  const pc = (xs: number[]) => {
    const p = percentiles(xs, [50, 95]);
    return { p50: p.p50, p95: p.p95, max: p.max, min: p.min };
  };
  Object.assign(res, {
    status: "complete",
    join_ms: pc(joinMs),
    join_ms_all: joinMs,
    replicated_ms: pc(replicatedMs),
    replicated_first_ms: replicatedMs[0],
    replicated_after_first_ms: J > 1 ? pc(replicatedMs.slice(1)) : null,
    replicated_ms_all: replicatedMs,
    held_seen_by: heldBy,
    joins_wall_s: wall,
    server_cpu: Object.fromEntries(servers.map((s, i) => [s.spec.name, cpu0[i] !== null && cpu1[i] !== null ? { cpu_s: cpu1[i]! - cpu0[i]!, cpu_pct: (100 * (cpu1[i]! - cpu0[i]!)) / wall } : null])),
    target: "join p95 < 1 s",
  });
} catch (err) {
  res.status = "failed";
  res.error = (err as Error).message;
  process.exitCode = 1;
  log(`failed: ${(err as Error).message}; logs in ${dir} (kept)`);
  o.keep = "true";
} finally {
  await cleanup();
}
res.ts = new Date().toISOString();
const line = JSON.stringify(res);
console.log(line);
if (o.out) {
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  appendFileSync(resolve(o.out), `${line}\n`);
}
clearTimeout(watchdog);
setTimeout(() => process.exit(), 200).unref();
