/**
 * F1: the A1 workload with the group's members spread over three federating servers. Servers a,
 * b and c run as separate processes (server/main.ts, as bench/run.ts starts one; the three share
 * the machine's cores with each other and with this load generator). Accounts are seeded on each
 * before it starts (bench/seed.ts); member i is user<i div 3> of server i mod 3, so member 0 (the
 * owner) is on a and the 10 senders (members 0..9) are 4 on a, 3 on b and 3 on c. The owner makes
 * the group on a and an invite link; every other member `link.join`s it (with `server: a` from b
 * and c); after replication has settled (a marker message seen by all members), the A1 send
 * pattern runs: each sender keeps at most 10 messages without its own echo. A send from b or c is
 * proposed to a, sequenced there, and replicated back; every delivery is a `room.event` push on a
 * member's socket, wherever that member is.
 *
 *   node --import tsx bench/federation-f1.ts                       # the issue's F1 (100 members, 10 x 200)
 *   node --import tsx bench/federation-f1.ts --members 20 --msgs 20  # a small check
 *
 * Options: --members N (100), --senders S (10), --senders-on all|home|remote (all: members 0..S-1 as
 * above; home: the first S members on a, no proposals; remote: the first S on the other servers,
 * every send a proposal), --msgs M (200), --window W (10), --servers K (3),
 * --join-concurrency J (10), --timeout-s T (300, the send phase), --warmup-msgs M (0: a round of
 * M messages per sender in the same pattern before the measured one, bench/lib/warmup.ts), --quiet-machine-pct P (20; 0
 * turns the wait off) and --quiet-machine-max-s S (300), --driver raw|ws, --label L, --out FILE
 * (appends the result as one JSON line), --cpu-prof (each server under node --cpu-prof, profiles in
 * DIR/prof, kept; `bench/profile.ts DIR/prof/a.test-*.cpuprofile --raw FILE` keeps the send
 * phase only), --dir DIR (data directories, configurations and logs,
 * kept; default a new temporary directory, removed afterwards unless --keep or the run failed).
 * Prints one JSON object: deliveries/s, latency percentiles overall and by the recipient's server
 * and by the sender's, the CPU of each server, the load generator and the machine.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { BenchClient, type Driver } from "./lib/client.ts";
import { warmUp } from "./lib/warmup.ts";
import { calibrate, CpuWindow, nowMs, percentiles, procCpuSec, waitMachineQuiet } from "./lib/metrics.ts";
import { counterDeltas, freePort, membersPerServer, scrapeCounters, parseOptions, placeMember, seedAccounts, startServerProcess, stopServerProcess, writeConfigs, type RunningServer, type ServerSpec } from "./lib/cluster.ts";

const o = parseOptions(process.argv.slice(2), {
  members: "100",
  senders: "10",
  msgs: "200",
  window: "10",
  servers: "3",
  "join-concurrency": "10",
  "timeout-s": "300",
  "quiet-machine-pct": "20",
  "quiet-machine-max-s": "300",
  driver: "raw",
  label: "F1-window10",
  out: "",
  dir: "",
  keep: "false",
  "cpu-prof": "false",
  "warmup-msgs": "0",
  "senders-on": "all",
});
const N = Number(o.members);
const S = Number(o.senders);
const M = Number(o.msgs);
const W = Number(o.window);
const K = Number(o.servers);
const driver = o.driver as Driver;
if (S > N || K < 1 || K > 26 || !(N > 0 && M > 0 && W > 0)) throw new Error("need 0 < senders <= members, msgs > 0, window > 0, 1 <= servers <= 26");
// The senders' member indices (--senders-on): the first S members (all), or the first S on the home (home), or not on it (remote).
const on = o["senders-on"];
if (on !== "all" && on !== "home" && on !== "remote") throw new Error(`--senders-on ${on}: all, home or remote`);
const senderMember = Array.from({ length: N }, (_, i) => i).filter((i) => on === "all" || (on === "home") === (placeMember(i, K).server === 0)).slice(0, S);
if (senderMember.length < S) throw new Error(`--senders-on ${on}: fewer than ${S} members to send`);
const senderOf = new Int32Array(N).fill(-1);
senderMember.forEach((m, s) => (senderOf[m] = s));

const globalTimeoutS = Number(o["timeout-s"]) + 900;
const watchdog = setTimeout(() => {
  console.error(`watchdog: exceeded ${globalTimeoutS}s, stopping the servers`);
  void cleanup().finally(() => process.exit(3));
}, globalTimeoutS * 1000);
watchdog.unref();

const log = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 23)}] F1`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = resolve(o.dir || mkdtempSync(join(tmpdir(), "parley-f1-")));
mkdirSync(dir, { recursive: true });
const logFile = join(dir, "run.log");
const names = Array.from({ length: K }, (_, i) => `${String.fromCharCode(97 + i)}.test`);
const specs: ServerSpec[] = [];
for (const name of names) {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  specs.push({ name, port: await freePort(), dataDir, config: join(dir, `${name}.toml`) });
}
const servers: RunningServer[] = [];
const conns: BenchClient[] = [];

async function cleanup(): Promise<void> {
  await Promise.all(conns.filter(Boolean).map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => stopServerProcess(s)));
  // Only a directory this run made is removed; one given with --dir is kept.
  if (!o.dir && o.keep !== "true") rmSync(dir, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

/** Bounded pool of async jobs; returns the errors. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<unknown[]> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        errors.push(e);
        if (errors.length <= 3) log("error:", (e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return errors;
}

/** Waits until every server used less than pct % of a core over 1 s (their outboxes drained), at most maxS. */
async function waitServersIdle(pct = 5, maxS = 120): Promise<number> {
  const t0 = Date.now();
  let prev = servers.map((s) => procCpuSec(s.pid) ?? 0);
  while (Date.now() - t0 < maxS * 1000) {
    await sleep(1000);
    const cur = servers.map((s) => procCpuSec(s.pid) ?? 0);
    if (cur.every((c, i) => 100 * (c - prev[i]) < pct)) break;
    prev = cur;
  }
  return (Date.now() - t0) / 1000;
}

const res: Record<string, any> = { cmd: "federation", scenario: "F1", label: o.label, server: "parley", driver: `parley-${driver}`, servers: names, members: N, senders: S, msgs_per_sender: M, window: W, expected_deliveries: N * S * M };
try {
  // 1. accounts on each server, before it starts
  const perServer = membersPerServer(N, K);
  const t0 = Date.now();
  writeConfigs(specs);
  const tokens = await Promise.all(specs.map((s, i) => seedAccounts(s, perServer[i], logFile)));
  res.seed_s = (Date.now() - t0) / 1000;
  res.members_per_server = Object.fromEntries(names.map((n, i) => [n, perServer[i]]));
  res.senders_per_server = Object.fromEntries(names.map((n, k) => [n, senderMember.map((i) => placeMember(i, K).server).filter((x) => x === k).length]));
  // 2. the servers, each its own process
  const profDir = o["cpu-prof"] === "true" ? join(dir, "prof") : undefined;
  if (profDir) o.keep = "true";
  for (const s of specs) servers.push(await startServerProcess(s, join(dir, `${s.name}.log`), profDir));
  res.server_pids = Object.fromEntries(servers.map((s) => [s.spec.name, s.pid]));
  log(`servers ${servers.map((s) => `${s.spec.name}:${s.spec.port} (PID ${s.pid})`).join(", ")}; data in ${dir}`);
  await sleep(2000);

  // 3. connect every member to its own server
  const tc = nowMs();
  const connectErrors = await pool(
    Array.from({ length: N }, (_, i) => i),
    50,
    async (i) => {
      const p = placeMember(i, K);
      const token = tokens[p.server][`user${p.local}`];
      conns[i] = await BenchClient.connect(`ws://127.0.0.1:${specs[p.server].port}/api/v1/ws`, token, 60_000, driver);
    },
  );
  res.connect_s = (nowMs() - tc) / 1000;
  if (connectErrors.length) throw new Error(`${connectErrors.length} connections failed`);

  // 4. the group on a; every other member joins by the link (through its own server, `server: a`)
  const roomName = `f1${Date.now().toString(36)}`;
  const { roomId } = await conns[0].request("group.create", { name: roomName });
  const link = await conns[0].request("link.create", { roomId });
  const tj = nowMs();
  const joinErrors = await pool(
    Array.from({ length: N - 1 }, (_, k) => k + 1),
    Number(o["join-concurrency"]),
    async (i) => {
      const home = placeMember(i, K).server === 0;
      const r = await conns[i].request("link.join", home ? { token: link.token } : { token: link.token, server: names[0] });
      if (r.status !== "joined") throw new Error(`join status ${r.status}`);
    },
  );
  res.join_s = (nowMs() - tj) / 1000;
  res.join_concurrency = Number(o["join-concurrency"]);
  if (joinErrors.length) throw new Error(`${joinErrors.length} joins failed`);

  // 5. replication settled: a marker message from the owner reaches every member (each replica
  //    holds the room's log up to it, in order), then the servers go idle
  const tr = nowMs();
  let markers = 0;
  const marker = `${roomName}-ready`;
  const allMarked = new Promise<boolean>((r) => {
    const timer = setTimeout(() => r(false), 120_000);
    for (const c of conns)
      c.onGroupMessage = (body) => {
        if (body === marker && ++markers === N) {
          clearTimeout(timer);
          r(true);
        }
      };
  });
  conns[0].sendMessage(roomId, marker, "f1-ready");
  if (!(await allMarked)) throw new Error(`replication did not settle: ${markers} of ${N} members saw the marker in 120 s`);
  res.replicated_s = (nowMs() - tr) / 1000;
  const warm = Number(o["warmup-msgs"]);
  if (warm > 0) {
    // The senders first: warmUp's senders are its first S connections.
    res.warmup = await warmUp([...senderMember.map((i) => conns[i]), ...conns.filter((_, i) => senderOf[i] < 0)], roomId, { senders: S, msgs: warm, window: W, timeoutS: Number(o["timeout-s"]), tag: `${roomName}w` });
    log(`warm-up: ${warm} x ${S} in ${res.warmup.seconds.toFixed(1)} s (${res.warmup.status})`);
    if (res.warmup.status !== "complete") throw new Error(`warm-up ${res.warmup.status}`);
  }
  // The counters before the send phase, read before the servers are waited idle: the scrape's
  // own work (prom-client building the text) then ends before the measurement starts.
  const counters0 = await Promise.all(servers.map((s) => scrapeCounters(s.spec.port)));
  // A server under --cpu-prof uses about 10 % of a core idle (the sampler), as in bench/run.ts.
  res.waited_for_idle_servers_s = await waitServersIdle(profDir ? 25 : 5);
  if (Number(o["quiet-machine-pct"]) > 0) res.machine_quiet_wait = await waitMachineQuiet(Number(o["quiet-machine-pct"]), Number(o["quiet-machine-max-s"]));
  res.calibration = calibrate();
  await sleep(1000);
  log(`${N} members on ${K} servers, joined in ${res.join_s.toFixed(2)} s; sending ${S} x ${M}`);

  // 6. the A1 send pattern (bench/load.ts fanout --mode window), deliveries on every server
  const expected = N * S * M;
  // Per delivery, only what A1's handler (bench/load.ts) does, plus two bytes: the recipient's
  // and the sender's server, from which the breakdowns are made after the run. A richer handler
  // (the breakdowns kept per delivery) cost this load generator about 0.3 µs more per delivery,
  // most of it V8 compiling the bigger handler during the send phase.
  const lat = new Float64Array(expected);
  const latRecipient = new Uint8Array(expected);
  const latSender = new Uint8Array(expected);
  let nLat = 0;
  let deliveries = 0;
  let bad = 0;
  let lastDelivery = 0;
  let sendErrors = 0;
  const sent = new Int32Array(S);
  const echoes = new Int32Array(S);
  const finishedAt = new Float64Array(S);
  // A sender's own echoes: their latencies, in the order they came.
  const echoLat = Array.from({ length: S }, () => new Float64Array(M));
  const prefix = `${roomName}|`;
  let done!: (s: string) => void;
  const finished = new Promise<string>((r) => (done = r));
  // A body is `<room>|<sender's server as a letter><sender>|<seq>|<sent at>`: the sender's server
  // is one character code, and the sender is parsed only where the recipient is a sender (its own
  // echo), as A1 does.
  const tagOf = senderMember.map((m, s) => `${prefix}${String.fromCharCode(97 + placeMember(m, K).server)}${s}|`);
  const sendOne = (s: number) => {
    const seq = sent[s]++;
    conns[senderMember[s]].sendMessage(roomId, `${tagOf[s]}${seq}|${nowMs().toFixed(3)}`, `m${s}-${seq}`);
  };
  /** A sender's own echo: a send is in flight until it arrives. */
  const ownEcho = (s: number, l: number, t: number) => {
    echoLat[s][echoes[s]++] = l;
    if (echoes[s] === M) finishedAt[s] = t;
    if (sent[s] < M) sendOne(s);
  };
  for (let r = 0; r < N; r++) {
    const rIdx = senderOf[r];
    const rServer = placeMember(r, K).server;
    conns[r].onGroupMessage = (body) => {
      const t = nowMs();
      if (!body.startsWith(prefix)) {
        bad++;
        return;
      }
      const l = t - Number(body.slice(body.lastIndexOf("|") + 1));
      if (nLat < expected) {
        lat[nLat] = l;
        latRecipient[nLat] = rServer;
        latSender[nLat++] = body.charCodeAt(prefix.length) - 97;
      }
      deliveries++;
      lastDelivery = t;
      if (rIdx >= 0 && Number(body.slice(prefix.length + 1, body.indexOf("|", prefix.length))) === rIdx) ownEcho(rIdx, l, t);
      if (deliveries === expected) done("complete");
    };
    conns[r].onSendError = (id, frame) => {
      if (++sendErrors <= 3) log(`send ${id} refused: ${frame.slice(0, 300)}`);
      done("send-error");
    };
  }
  const cpu = new CpuWindow(null);
  const cpu0 = servers.map((s) => procCpuSec(s.pid));
  cpu.start();
  const tStart = nowMs();
  const monoStartUs = Number(process.hrtime.bigint() / 1000n);
  const hard = setTimeout(() => done("timeout"), Number(o["timeout-s"]) * 1000);
  for (let s = 0; s < S; s++) for (let k = 0; k < Math.min(W, M); k++) sendOne(s);
  const status = await finished;
  clearTimeout(hard);
  const cpuRes = cpu.stop();
  // CLOCK_MONOTONIC µs, the clock of V8 CPU profiles: bench/profile.ts --raw cuts each server's profile to it.
  res.mono_window_us = [monoStartUs, Number(process.hrtime.bigint() / 1000n)];
  const cpu1 = servers.map((s) => procCpuSec(s.pid));
  // After the CPU readings, so that the scrape is not counted; the send phase is over.
  const counters1 = await Promise.all(servers.map((s) => scrapeCounters(s.spec.port)));
  const dur = ((status === "complete" ? lastDelivery : nowMs()) - tStart) / 1000;
  const pc = (a: Float64Array, n: number) => {
    const p = percentiles(a.subarray(0, n), [50, 95, 99]);
    return { n, p50: p.p50, p95: p.p95, p99: p.p99, max: p.max };
  };
  /** The latencies of the deliveries whose `of` (recipient's or sender's server) is `server`. */
  const latOf = (of: Uint8Array, server: number) => {
    const out = new Float64Array(nLat);
    let n = 0;
    for (let i = 0; i < nLat; i++) if (of[i] === server) out[n++] = lat[i];
    return pc(out, n);
  };
  const echoesOn = (server: number) => {
    const all = senderMember.flatMap((m, s) => (placeMember(m, K).server === server ? Array.from(echoLat[s].subarray(0, echoes[s])) : []));
    return pc(Float64Array.from(all), all.length);
  };
  const serverCpu = Object.fromEntries(
    servers.map((s, i) => {
      const used = cpu0[i] !== null && cpu1[i] !== null ? cpu1[i]! - cpu0[i]! : null;
      return [s.spec.name, { cpu_s: used, cpu_pct: used === null ? null : (100 * used) / cpuRes.wall_s }];
    }),
  );
  const serversCpuS = Object.values(serverCpu).reduce((a, x) => a + (x.cpu_s ?? 0), 0);
  Object.assign(res, {
    status,
    deliveries,
    bad_bodies: bad,
    send_errors: sendErrors,
    messages_sent: Array.from(sent).reduce((a, b) => a + b, 0),
    duration_s: dur,
    deliveries_per_s: deliveries / dur,
    latency_ms: pc(lat, nLat),
    // A sender's own echo (what paces it: at most W without one), by the sender's server.
    echo_latency_by_sender_server: Object.fromEntries(names.map((n, i) => [n, echoesOn(i)])),
    // When each sender had its last echo, seconds into the send phase.
    sender_finish_s: Array.from(finishedAt, (t) => Math.round(t - tStart) / 1000),
    latency_by_recipient_server: Object.fromEntries(names.map((n, i) => [n, latOf(latRecipient, i)])),
    latency_by_sender_server: Object.fromEntries(names.map((n, i) => [n, latOf(latSender, i)])),
    server_cpu: serverCpu,
    servers_cpu_pct: (100 * serversCpuS) / cpuRes.wall_s,
    servers_cpu_us_per_delivery: deliveries ? (1e6 * serversCpuS) / deliveries : null,
    client_cpu_pct: cpuRes.client_cpu_pct,
    client_cpu_us_per_delivery: deliveries ? (1e6 * cpuRes.client_cpu_s) / deliveries : null,
    client_main_thread_cpu_s: cpuRes.client_main_thread_cpu_s,
    machine_busy_pct: cpuRes.machine_busy_pct,
    machine_steal_pct: cpuRes.machine_steal_pct,
    // Requests by route and group commits of each server during the send phase (GET /metrics).
    server_counters: Object.fromEntries(servers.map((s, i) => [s.spec.name, counterDeltas(counters0[i], counters1[i])])),
  });
  if (status !== "complete") process.exitCode = 1;
} catch (err) {
  res.status = "failed";
  res.error = (err as Error).message;
  process.exitCode = 1;
  log(`failed: ${(err as Error).message}; logs in ${dir} (kept)`);
  o.keep = "true";
} finally {
  for (const c of conns) if (c) c.onGroupMessage = null;
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
