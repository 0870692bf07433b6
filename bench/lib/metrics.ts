/**
 * Measurement helpers, ported from the XMPP anchor harness (../shared/anchors/xmpp/lib/metrics.js)
 * so that Parley's numbers are taken exactly as the anchor's: the same clock, the same /proc
 * readers, the same CPU windows, nearest-rank percentiles and the same calibration loop.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";

const CLK_TCK = 100; // Linux USER_HZ

/** Wall-clock milliseconds with sub-ms resolution (performance.timeOrigin + performance.now()). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** utime+stime (seconds) from a /proc stat file; null when it is gone. */
function statCpuSec(path: string): number | null {
  try {
    const s = readFileSync(path, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** utime+stime (seconds) of a process, all threads included; null when it is gone. */
export function procCpuSec(pid: number | null): number | null {
  return pid ? statCpuSec(`/proc/${pid}/stat`) : null;
}

/** [utime, stime] (seconds) of a process, all threads; null when it is gone. */
export function procCpuSplit(pid: number | null): [number, number] | null {
  if (!pid) return null;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return [Number(rest[11]) / CLK_TCK, Number(rest[12]) / CLK_TCK];
  } catch {
    return null;
  }
}

export function procStatusKb(pid: number | null, key: string): number | null {
  if (!pid) return null;
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = s.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export const rssKb = (pid: number | null) => procStatusKb(pid, "VmRSS");

/** Whole-machine CPU jiffies. */
export function sysCpu(): { busy: number; total: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] || 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, steal: v[7] || 0 };
}

/** The anchor's single-thread calibration: a JS loop and SHA-256 over 64 MiB (lower = faster). */
export function calibrate(): { js_loop_ms: number; sha256_64MiB_ms: number; _sink: number } {
  let t = performance.now();
  let x = 0;
  for (let i = 1; i < 30e6; i++) x += (i % 7) * Math.sqrt(i);
  const loopMs = performance.now() - t;
  const buf = Buffer.alloc(1 << 20, 7);
  t = performance.now();
  for (let i = 0; i < 64; i++) createHash("sha256").update(buf).digest();
  const shaMs = performance.now() - t;
  return { js_loop_ms: Math.round(loopMs * 10) / 10, sha256_64MiB_ms: Math.round(shaMs * 10) / 10, _sink: x > 0 ? 1 : 0 };
}

/** utime+stime (seconds) of one thread of this process (the main thread's id is the PID). */
const taskCpuSec = (tid: number) => statCpuSec(`/proc/self/task/${tid}/stat`);

export interface CpuResult {
  wall_s: number;
  server_cpu_s: number | null;
  server_cpu_pct: number | null;
  client_cpu_s: number;
  client_cpu_pct: number;
  /**
   * Of the client's CPU, its main thread's (the JavaScript that sends and reads frames); the rest
   * is V8's and libuv's background threads (mostly the optimizing compiler in a short run).
   */
  client_main_thread_cpu_s: number | null;
  machine_busy_pct: number | null;
  machine_steal_pct: number | null;
  /** Kernel share (stime, system) of the server's and the client's CPU, in %. */
  server_sys_share_pct: number | null;
  client_sys_share_pct: number;
}

/** Server CPU (from /proc), client CPU (process.cpuUsage) and machine busy % over one window. */
export class CpuWindow {
  private t0 = 0;
  private s0: number | null = null;
  private split0: [number, number] | null = null;
  private c0: NodeJS.CpuUsage = { user: 0, system: 0 };
  private m0: number | null = null;
  private y0 = { busy: 0, total: 0, steal: 0 };
  constructor(private readonly serverPid: number | null) {}
  start(): void {
    this.t0 = nowMs();
    this.s0 = procCpuSec(this.serverPid);
    this.split0 = procCpuSplit(this.serverPid);
    this.c0 = process.cpuUsage();
    this.m0 = taskCpuSec(process.pid);
    this.y0 = sysCpu();
  }
  stop(): CpuResult {
    const wall = (nowMs() - this.t0) / 1000;
    const s1 = procCpuSec(this.serverPid);
    const split1 = procCpuSplit(this.serverPid);
    const c = process.cpuUsage(this.c0);
    const m1 = taskCpuSec(process.pid);
    const y1 = sysCpu();
    const server = s1 !== null && this.s0 !== null ? s1 - this.s0 : null;
    const client = (c.user + c.system) / 1e6;
    const sysBusy = y1.busy - this.y0.busy;
    const sysTotal = y1.total - this.y0.total;
    return {
      wall_s: wall,
      server_cpu_s: server,
      server_cpu_pct: server !== null ? (100 * server) / wall : null,
      client_cpu_s: client,
      client_cpu_pct: (100 * client) / wall,
      client_main_thread_cpu_s: m1 !== null && this.m0 !== null ? m1 - this.m0 : null,
      machine_busy_pct: sysTotal > 0 ? (100 * sysBusy) / sysTotal : null,
      machine_steal_pct: sysTotal > 0 ? (100 * (y1.steal - this.y0.steal)) / sysTotal : null,
      server_sys_share_pct:
        split1 && this.split0 && server ? (100 * (split1[1] - this.split0[1])) / (split1[0] - this.split0[0] + split1[1] - this.split0[1]) : null,
      client_sys_share_pct: c.user + c.system > 0 ? (100 * c.system) / (c.user + c.system) : 0,
    };
  }
}

/** Nearest-rank percentiles, plus min and max. */
export function percentiles(arr: ArrayLike<number>, ps: number[]): Record<string, number | null> {
  const a = Float64Array.from(arr).sort();
  const out: Record<string, number | null> = {};
  for (const p of ps) {
    if (a.length === 0) {
      out[`p${p}`] = null;
      continue;
    }
    const idx = Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1));
    out[`p${p}`] = a[idx];
  }
  out.max = a.length ? a[a.length - 1] : null;
  out.min = a.length ? a[0] : null;
  return out;
}

export function median(xs: (number | null | undefined)[]): number | null {
  const a = xs.filter((x): x is number => x !== null && x !== undefined && !Number.isNaN(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/**
 * The machine is shared with other engineers' test runs: waits until the whole machine was less
 * than pct % busy (of both cores) for `windows` consecutive 1 s windows, bounded by maxS.
 * Returns how long it waited and the last reading.
 */
export async function waitMachineQuiet(pct: number, maxS: number, windows = 3): Promise<{ waited_s: number; busy_pct: number; quiet: boolean }> {
  const t0 = Date.now();
  let prev = sysCpu();
  let calm = 0;
  let busy = 100;
  while (Date.now() - t0 < maxS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const cur = sysCpu();
    busy = (100 * (cur.busy - prev.busy)) / Math.max(1, cur.total - prev.total);
    prev = cur;
    calm = busy < pct ? calm + 1 : 0;
    if (calm >= windows) return { waited_s: (Date.now() - t0) / 1000, busy_pct: busy, quiet: true };
  }
  return { waited_s: (Date.now() - t0) / 1000, busy_pct: busy, quiet: false };
}
