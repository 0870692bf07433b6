/**
 * Parley's load generator: one measurement per process, the anchor's workloads and definitions
 * (../shared/anchors/xmpp/bench.js), over the real protocol on loopback.
 *
 *   node --import tsx bench/load.ts fanout --port P --server-pid PID --tokens F --members 100 --senders 10 --msgs 200 --mode window --window 10
 *   node --import tsx bench/load.ts fanout ... --members 1000 --senders 1 --msgs 100 --mode burst --room community
 *   node --import tsx bench/load.ts idle   --port P --server-pid PID --tokens F --counts 2000,5000
 *   node --import tsx bench/load.ts wait-idle --server-pid PID
 *   node --import tsx bench/load.ts wait-quiet --busy-pct 20 --max-s 300   (the whole machine)
 *
 * Options of every command: --driver raw (the default: RFC 6455 frames on the TCP socket, see
 * lib/client.ts) or ws (the ws library).
 *
 * Every phase is bounded by a timeout and the process by a watchdog. The result is printed as
 * one JSON object (the anchor's fields, plus Parley's join figures) and appended to --out.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BenchClient, type Driver } from "./lib/client.ts";
import { warmUp } from "./lib/warmup.ts";
import { calibrate, CpuWindow, nowMs, percentiles, procCpuSec, procStatusKb, rssKb, waitMachineQuiet } from "./lib/metrics.ts";

function parseArgs(argv: string[]): Record<string, string> & { _: string[] } {
  const o: Record<string, string> & { _: string[] } = { _: [] } as never;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const k = a.slice(2);
      o[k] = i + 1 < argv.length && !argv[i + 1].startsWith("--") ? argv[++i] : "true";
    } else o._.push(a);
  }
  return o;
}
const args = parseArgs(process.argv.slice(2));
const cmd = args._[0];
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const str = (k: string, d: string) => (args[k] !== undefined ? String(args[k]) : d);

const host = str("host", "127.0.0.1");
if (!["127.0.0.1", "localhost", "::1"].includes(host)) {
  console.error(`refusing non-loopback host ${host}`);
  process.exit(2);
}
const port = num("port", 18080);
const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}/api/v1/ws`;
const timeoutMs = num("op-timeout-s", 60) * 1000;
const concurrency = num("concurrency", 50);
const driver = str("driver", "raw") as Driver;
if (driver !== "raw" && driver !== "ws") {
  console.error(`unknown --driver ${driver} (raw | ws)`);
  process.exit(2);
}
const serverPid = args["server-pid"] ? Number(args["server-pid"]) : null;
const serverName = str("server", "parley");
const label = str("label", "");
const outFile = args.out ? resolve(args.out) : null;
const userPrefix = str("user-prefix", "user");

const globalTimeoutS = num("global-timeout-s", 900);
setTimeout(() => {
  console.error(`watchdog: exceeded ${globalTimeoutS}s, exiting`);
  process.exit(3);
}, globalTimeoutS * 1000).unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logAlways = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
const log = (...a: unknown[]) => {
  if (!args.quiet) logAlways(...a);
};

let tokensCache: Record<string, string> | undefined;
function tokenOf(i: number): string {
  tokensCache ??= JSON.parse(readFileSync(str("tokens", ""), "utf8")) as Record<string, string>;
  const t = tokensCache[userPrefix + i];
  if (!t) throw new Error(`no token for ${userPrefix}${i} in ${args.tokens}`);
  return t;
}

async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<unknown[]> {
  let next = 0;
  const errors: unknown[] = [];
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        errors.push(e);
        if (errors.length <= 3) logAlways("error:", (e as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return errors;
}

function emit(result: Record<string, unknown>): void {
  result.ts = new Date().toISOString();
  const line = JSON.stringify(result);
  console.log(line);
  if (outFile) {
    mkdirSync(dirname(outFile), { recursive: true });
    appendFileSync(outFile, `${line}\n`);
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

async function connectMany(idxs: number[]): Promise<{ conns: BenchClient[]; errors: number; secs: number }> {
  const conns = new Array<BenchClient>(idxs.length);
  const t0 = nowMs();
  const errs = await pool(idxs, concurrency, async (ui, k) => {
    conns[k] = await BenchClient.connect(url, tokenOf(ui), timeoutMs, driver);
  });
  return { conns, errors: errs.length, secs: (nowMs() - t0) / 1000 };
}

async function closeMany(conns: (BenchClient | undefined)[]): Promise<void> {
  await pool(
    conns.filter((c): c is BenchClient => !!c),
    Math.max(concurrency, 200),
    (c) => c.close(),
  );
}

/** Waits until no frame of any kind has arrived for quietMs (bounded by maxMs). */
async function waitQuiet(conns: BenchClient[], quietMs: number, maxMs: number): Promise<boolean> {
  const total = () => conns.reduce((a, c) => a + (c ? c.stats.events + c.stats.messages + c.stats.other : 0), 0);
  const t0 = Date.now();
  let last = total();
  let lastChange = Date.now();
  while (Date.now() - t0 < maxMs) {
    await sleep(100);
    const t = total();
    if (t !== last) {
      last = t;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= quietMs) return true;
  }
  return false;
}

/** Waits until the server used < idlePct % CPU over a 1 s window (bounded by maxS). */
async function waitServerIdle(idlePct = num("server-idle-pct", 5), maxS = 300): Promise<number | null> {
  if (!serverPid) return 0;
  const t0 = Date.now();
  let prev = procCpuSec(serverPid);
  while (Date.now() - t0 < maxS * 1000) {
    await sleep(1000);
    const cur = procCpuSec(serverPid);
    if (cur === null || prev === null) return null;
    if (100 * (cur - prev) < idlePct) return (Date.now() - t0) / 1000;
    prev = cur;
  }
  logAlways(`server still busy after ${maxS}s`);
  return (Date.now() - t0) / 1000;
}

export { waitMachineQuiet };

// ---------------------------------------------------------------- fanout
async function cmdFanout(): Promise<void> {
  const N = num("members", 100);
  const S = num("senders", 10);
  const M = num("msgs", 200);
  const mode = str("mode", "window"); // window | burst | rate
  const W = num("window", 10);
  const R = num("rate", 20);
  const roomKind = str("room", "group"); // group | community (the announcement group)
  const runTimeoutS = num("timeout-s", 120);
  const settleS = num("settle-s", 1);
  const joinConcurrency = num("join-concurrency", concurrency);
  if (S > N) throw new Error("senders > members");
  const roomName = `bench${Date.now().toString(36)}${process.pid}`;
  const expectedPerRecv = S * M;
  const expected = N * S * M;
  const res: Record<string, any> = {
    cmd: "fanout",
    label,
    server: serverName,
    driver: `parley-${driver}`,
    members: N,
    senders: S,
    msgs_per_sender: M,
    mode,
    window: mode === "window" ? W : null,
    rate_per_sender: mode === "rate" ? R : null,
    room_kind: roomKind,
    expected_deliveries: expected,
  };

  // 0. the previous run's teardown is finished on the server (and, optionally, the machine
  //    is not busy with anything else)
  res.waited_for_idle_server_s = await waitServerIdle();
  if (args["quiet-machine-pct"]) res.machine_quiet_wait = await waitMachineQuiet(num("quiet-machine-pct", 20), num("quiet-machine-max-s", 300));
  res.calibration = calibrate();
  // 1. connect (and authenticate)
  log(`connecting ${N} clients`);
  const c = await connectMany(range(0, N));
  res.connect_s = c.secs;
  res.connect_errors = c.errors;
  const conns = c.conns;
  if (c.errors) {
    res.status = "connect-failed";
    emit(res);
    await closeMany(conns);
    return;
  }

  // 2. room: member 0 creates it (a standalone group, or a community whose room is its
  //    announcement group) and an invite link; members 1..N-1 join by the link.
  const tSetup = nowMs();
  const owner = conns[0];
  const room = roomKind === "community" ? await owner.request("community.create", { name: roomName }) : await owner.request("group.create", { name: roomName });
  const roomId: string = room.roomId;
  const link = await owner.request("link.create", { roomId });
  const tj = nowMs();
  let lastJoin = tj;
  const jerr = await pool(range(1, N), joinConcurrency, async (i) => {
    const r = await conns[i].request("link.join", { token: link.token });
    if (r.status !== "joined") throw new Error(`join status ${r.status}`);
    lastJoin = nowMs();
  });
  res.room_setup_s = (tj - tSetup) / 1000;
  res.join_s = (lastJoin - tj) / 1000;
  res.joins = N - 1;
  res.join_concurrency = joinConcurrency;
  res.join_errors = jerr.length;
  if (jerr.length) {
    res.status = "join-failed";
    emit(res);
    await closeMany(conns);
    return;
  }
  res.join_quiet = await waitQuiet(conns, 500, num("quiet-max-s", 180) * 1000);
  res.presences_received = conns.reduce((a, x) => a + x.stats.events, 0); // membership events
  await sleep(settleS * 1000);
  log(`joined ${N - 1} in ${res.join_s.toFixed(3)}s; room ${roomId}`);
  const warm = num("warmup-msgs", 0);
  if (warm > 0) {
    // Not measured: the same pattern first, so that the measured round finds the server warm (bench/lib/warmup.ts).
    res.warmup = await warmUp(conns.slice(0, N), roomId, { senders: S, msgs: warm, window: mode === "window" ? W : 10, timeoutS: runTimeoutS, tag: `${roomName}w` });
    log(`warm-up: ${warm} x ${S} in ${res.warmup.seconds.toFixed(1)} s (${res.warmup.status})`);
    if (res.warmup.status !== "complete") {
      res.status = `warmup-${res.warmup.status}`;
      emit(res);
      await closeMany(conns);
      return;
    }
    await sleep(settleS * 1000);
  }

  // 3. measurement
  const lat = new Float64Array(expected);
  let nLat = 0;
  let deliveries = 0;
  let bad = 0;
  let lastDelivery = 0;
  let fullyServed = 0;
  let sendErrors = 0;
  const perRecv = new Int32Array(N);
  const sent = new Int32Array(S);
  const prefix = `${roomName}|`;
  let done!: (s: string) => void;
  const finished = new Promise<string>((r) => {
    done = r;
  });
  const sendOne = (s: number) => {
    const seq = sent[s]++;
    conns[s].sendMessage(roomId, `${prefix}${s}|${seq}|${nowMs().toFixed(3)}`, `m${s}-${seq}`);
  };
  for (let r = 0; r < N; r++) {
    const rIdx = r;
    conns[r].onGroupMessage = (body) => {
      const t = nowMs();
      if (!body.startsWith(prefix)) {
        bad++;
        return;
      }
      const p2 = body.lastIndexOf("|");
      const ts = Number(body.slice(p2 + 1));
      if (nLat < expected) lat[nLat++] = t - ts;
      deliveries++;
      lastDelivery = t;
      if (++perRecv[rIdx] === expectedPerRecv) fullyServed++;
      if (rIdx < S && mode === "window") {
        // Own echo? A send is in flight until its echo arrives (the echo precedes the reply).
        const p1 = body.indexOf("|", prefix.length);
        const sIdx = Number(body.slice(prefix.length, p1));
        if (sIdx === rIdx && sent[rIdx] < M) sendOne(rIdx);
      }
      if (deliveries === expected) done("complete");
    };
    conns[r].onSendError = (id, frame) => {
      if (++sendErrors <= 3) logAlways(`send ${id} refused: ${frame.slice(0, 300)}`);
      done("send-error");
    };
  }
  const cpu = new CpuWindow(serverPid);
  const serverRss0 = rssKb(serverPid);
  cpu.start();
  const tStart = nowMs();
  const monoStartUs = Number(process.hrtime.bigint() / 1000n);
  const hard = setTimeout(() => done("timeout"), runTimeoutS * 1000);
  let rateTimer: NodeJS.Timeout | null = null;
  if (mode === "burst") {
    for (let seq = 0; seq < M; seq++) for (let s = 0; s < S; s++) sendOne(s);
  } else if (mode === "window") {
    for (let s = 0; s < S; s++) for (let k = 0; k < Math.min(W, M); k++) sendOne(s);
  } else if (mode === "rate") {
    // Sender s sends its k-th message at tStart + (k + s/S) * 1000/R ms (the anchor's stagger).
    const period = 1000 / R;
    const tick = () => {
      const el = nowMs() - tStart;
      let allSent = true;
      for (let s = 0; s < S; s++) {
        const due = Math.min(M, Math.max(0, Math.floor((el - (s / S) * period) / period) + 1));
        while (sent[s] < due) sendOne(s);
        if (sent[s] < M) allSent = false;
      }
      if (!allSent) rateTimer = setTimeout(tick, 1);
    };
    tick();
  } else throw new Error(`unknown mode ${mode}`);
  const tSendDone = nowMs();
  const status = await finished;
  clearTimeout(hard);
  if (rateTimer) clearTimeout(rateTimer);
  const cpuRes = cpu.stop();
  const monoEndUs = Number(process.hrtime.bigint() / 1000n);
  const dur = ((status === "complete" ? lastDelivery : nowMs()) - tStart) / 1000;
  const serverRss1 = rssKb(serverPid);
  const pc = percentiles(lat.subarray(0, nLat), [50, 95, 99]);
  const totalSent = Array.from(sent).reduce((a, b) => a + b, 0);
  Object.assign(res, {
    status,
    deliveries,
    bad_bodies: bad,
    send_errors: sendErrors,
    receivers_complete: fullyServed,
    messages_sent: totalSent,
    duration_s: dur,
    deliveries_per_s: deliveries / dur,
    messages_per_s: totalSent / dur,
    burst_enqueue_s: mode === "burst" ? (tSendDone - tStart) / 1000 : null,
    latency_ms: { p50: pc.p50, p95: pc.p95, p99: pc.p99, max: pc.max, min: pc.min },
    cpu: cpuRes,
    server_cpu_us_per_delivery: cpuRes.server_cpu_s !== null && deliveries ? (1e6 * cpuRes.server_cpu_s) / deliveries : null,
    client_cpu_us_per_delivery: deliveries ? (1e6 * cpuRes.client_cpu_s) / deliveries : null,
    server_rss_kb_before: serverRss0,
    server_rss_kb_after: serverRss1,
    client_rss_kb: Math.round(process.memoryUsage().rss / 1024),
    // CLOCK_MONOTONIC µs, the clock of V8 CPU profiles: bench/profile.ts cuts the server's
    // profile to this window.
    mono_window_us: [monoStartUs, monoEndUs],
  });
  // 4. teardown
  for (const x of conns) x.onGroupMessage = null;
  await closeMany(conns);
  emit(res);
}

// ---------------------------------------------------------------- idle
async function cmdIdle(): Promise<void> {
  const counts = str("counts", "2000,5000").split(",").map(Number);
  const warm = num("warmup", 100);
  const settleS = num("settle-s", 5);
  const res: Record<string, any> = { cmd: "idle", label, server: serverName, driver: `parley-${driver}`, counts, warmup: warm, settle_s: settleS, steps: [] };
  res.waited_for_idle_server_s = await waitServerIdle();
  if (args["quiet-machine-pct"]) res.machine_quiet_wait = await waitMachineQuiet(num("quiet-machine-pct", 20), num("quiet-machine-max-s", 300));
  if (warm > 0) {
    const w = await connectMany(range(0, warm));
    await closeMany(w.conns);
  }
  await sleep(settleS * 1000);
  const rss0 = rssKb(serverPid)!;
  res.server_rss_kb_baseline = rss0;
  res.client_rss_kb_baseline = Math.round(process.memoryUsage().rss / 1024);
  let conns: BenchClient[] = [];
  let have = 0;
  let prevRss = rss0;
  let prevN = 0;
  for (const target of counts) {
    const cpu0 = procCpuSec(serverPid);
    const c = await connectMany(range(have, target));
    const cpu1 = procCpuSec(serverPid);
    conns = conns.concat(c.conns.filter(Boolean));
    have = target;
    const cpuIdle0 = procCpuSec(serverPid);
    const tIdle0 = Date.now();
    await sleep(settleS * 1000);
    const samples: (number | null)[] = [];
    for (let k = 0; k < 3; k++) {
      samples.push(rssKb(serverPid));
      await sleep(1000);
    }
    const rss = samples[samples.length - 1]!;
    const cpuIdle1 = procCpuSec(serverPid);
    const alive = conns.filter((x) => !x.closed).length;
    const step = {
      target,
      connected: conns.length,
      alive,
      connect_errors: c.errors,
      connect_s: c.secs,
      connects_per_s: (target - prevN) / c.secs,
      server_cpu_s_connect: cpu1 !== null && cpu0 !== null ? cpu1 - cpu0 : null,
      server_cpu_pct_while_idle: cpuIdle1 !== null && cpuIdle0 !== null ? (100 * (cpuIdle1 - cpuIdle0)) / ((Date.now() - tIdle0) / 1000) : null,
      server_rss_kb: rss,
      rss_samples_kb: samples,
      rss_per_conn_kb_from_baseline: (rss - rss0) / alive,
      rss_per_conn_kb_marginal: (rss - prevRss) / (target - prevN),
      server_vmhwm_kb: procStatusKb(serverPid, "VmHWM"),
      client_rss_kb: Math.round(process.memoryUsage().rss / 1024),
    };
    res.steps.push(step);
    log(`idle ${target}: alive ${alive}, rss ${rss} kB, per conn ${step.rss_per_conn_kb_from_baseline.toFixed(1)} kB`);
    prevRss = rss;
    prevN = target;
  }
  await closeMany(conns);
  emit(res);
}

try {
  if (cmd === "fanout") await cmdFanout();
  else if (cmd === "idle") await cmdIdle();
  else if (cmd === "wait-quiet") {
    const w = await waitMachineQuiet(num("busy-pct", 20), num("max-s", 300));
    console.error(`machine ${w.quiet ? "quiet" : "still busy"} after ${w.waited_s}s (${w.busy_pct.toFixed(1)} % busy)`);
    console.log(JSON.stringify({ cmd: "wait-quiet", ...w, ts: new Date().toISOString() }));
  } else if (cmd === "wait-idle") {
    const w = await waitServerIdle(num("server-idle-pct", 5), num("max-s", 300));
    console.error(`server idle after ${w}s`);
  } else {
    console.error("usage: load.ts fanout|idle|wait-idle [options]");
    process.exitCode = 2;
  }
} catch (e) {
  console.error("fatal:", (e as Error)?.stack ?? e);
  process.exitCode = 1;
}
// do not linger on half-closed sockets
setTimeout(() => process.exit(), 200).unref();
