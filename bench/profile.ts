/**
 * Summarizes a V8 CPU profile (node --cpu-prof, as `npm run bench -- --cpu-prof` writes for the
 * server): self time per function, the top N, and self time grouped by area (the server's own
 * code per folder, ws, better-sqlite3, ajv, pino, fastify, node internals, GC, idle).
 *
 *   node --import tsx bench/profile.ts FILE.cpuprofile [--top 30] [--raw RAW.jsonl --label A1-window10] [--tree FUNCTION --depth 4]
 *
 * --tree prints the call tree under every frame of that function, with inclusive times.
 *
 * With --raw (and optionally --label), only the samples inside the measurement windows of those
 * runs count (load.ts records each window on CLOCK_MONOTONIC, the clock of V8's timestamps), so
 * start-up, connects and joins are left out.
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (!file) throw new Error("usage: profile.ts FILE.cpuprofile [--top N]");
const topIdx = args.indexOf("--top");
const top = topIdx >= 0 ? Number(args[topIdx + 1]) : 30;
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const opt = (k: string) => (args.indexOf(k) >= 0 ? args[args.indexOf(k) + 1] : undefined);
const windows: [number, number][] = [];
const rawFile = opt("--raw");
if (rawFile) {
  const label = opt("--label");
  for (const line of readFileSync(rawFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line) as { label?: string; mono_window_us?: [number, number] };
    if (!r.mono_window_us || (label && r.label !== label)) continue;
    if (r.mono_window_us[1] < p.startTime || r.mono_window_us[0] > p.endTime) continue;
    windows.push(r.mono_window_us);
  }
  if (!windows.length) throw new Error("no measurement window of this profile in the raw file");
}
const inWindow = (t: number) => !windows.length || windows.some(([a, b]) => t >= a && t <= b);

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
let t = p.startTime;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i];
  if (!inWindow(t)) continue;
  const dt = p.timeDeltas[i + 1] ?? 0; // the delta after a sample is the time spent in it
  selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "")
    .replace(/^.*?\/(server|bench|protocol|federation)\//, "$1/");
}
function area(n: Node): string {
  const { url, functionName } = n.callFrame;
  if (functionName === "(idle)") return "(idle)";
  if (functionName === "(garbage collector)") return "(garbage collector)";
  if (functionName === "(program)") return "(program: native, not attributed)";
  if (!url) return `(native: ${functionName || "anonymous"})`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const nm = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1];
  const own = url.match(/\/(server|protocol|federation)\/(.*?)\/?[^/]*$/);
  if (own) return `${own[1]}/${own[2]}`.replace(/\/$/, "");
  return shortUrl(url);
}

const fnTotals = new Map<string, number>();
const areaTotals = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const key = `${functionName || "(anonymous)"}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`.trim();
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
  const a = area(n);
  areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
}
const idle = areaTotals.get("(idle)") ?? 0;
console.log(`profile: ${file}${windows.length ? ` (${windows.length} measurement window(s) only)` : ""}`);
console.log(`duration ${(total / 1e6).toFixed(2)} s sampled, of which idle ${(idle / 1e6).toFixed(2)} s; busy ${((total - idle) / 1e6).toFixed(2)} s`);
console.log(`\nself time by area (% of busy time)`);
for (const [a, us] of [...areaTotals].filter(([a]) => a !== "(idle)").sort((x, y) => y[1] - x[1]).slice(0, 25)) {
  console.log(`${((100 * us) / (total - idle)).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${a}`);
}
console.log(`\ntop ${top} functions by self time (% of busy time)`);
for (const [k, us] of [...fnTotals].filter(([k]) => !k.startsWith("(idle)")).sort((x, y) => y[1] - x[1]).slice(0, top)) {
  console.log(`${((100 * us) / (total - idle)).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}

// --tree NAME: inclusive time of the subtrees rooted at frames of function NAME, merged by path.
const treeRoot = opt("--tree");
if (treeRoot) {
  const depth = Number(opt("--depth") ?? 4);
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<number, number>();
  for (const [id, us] of selfUs) {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) incl.set(cur, (incl.get(cur) ?? 0) + us);
  }
  const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ""}`.trim();
  // Merge all subtrees rooted at NAME (not nested in another NAME) by call path.
  interface Agg { us: number; kids: Map<string, Agg> }
  const root: Agg = { us: 0, kids: new Map() };
  const isRoot = (n: Node) => n.callFrame.functionName === treeRoot;
  function add(n: Node, into: Agg, d: number): void {
    into.us += incl.get(n.id) ?? 0;
    if (d >= depth) return;
    for (const c of n.children ?? []) {
      const cn = byId.get(c)!;
      if (!incl.get(c)) continue;
      const k = label(cn);
      let a = into.kids.get(k);
      if (!a) into.kids.set(k, (a = { us: 0, kids: new Map() }));
      add(cn, a, d + 1);
    }
  }
  for (const n of p.nodes) {
    if (!isRoot(n) || !incl.get(n.id)) continue;
    let nested = false;
    for (let cur = parent.get(n.id); cur !== undefined; cur = parent.get(cur)) if (isRoot(byId.get(cur)!)) nested = true;
    if (!nested) add(n, root, 0);
  }
  console.log(`\ncall tree under ${treeRoot} (inclusive ms, % of busy time)`);
  const print = (a: Agg, name: string, ind: string) => {
    console.log(`${((100 * a.us) / (total - idle)).toFixed(1).padStart(5)} %  ${(a.us / 1000).toFixed(0).padStart(7)} ms  ${ind}${name}`);
    for (const [k, c] of [...a.kids].sort((x, y) => y[1].us - x[1].us)) if ((100 * c.us) / (total - idle) >= 0.3) print(c, k, `${ind}  `);
  };
  print(root, treeRoot, "");
}
