/**
 * Median [min–max] tables over repetitions, from one or more raw.jsonl files: Parley's
 * (bench/load.ts) and the anchor's (../shared/anchors/xmpp/bench.js) share the record format,
 * so one table can hold both servers. Adds the ratio Parley / ejabberd and the targets.
 *
 *   node --import tsx bench/summarize.ts [--md OUT.md] raw.jsonl [more.jsonl ...]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { median } from "./lib/metrics.ts";

const argv = process.argv.slice(2);
let mdOut: string | null = null;
const files: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--md") mdOut = argv[++i];
  else files.push(argv[i]);
}

type Row = Record<string, any>;
const rows: Row[] = [];
for (const f of files) {
  for (const line of readFileSync(f, "utf8").split("\n")) if (line.trim().startsWith("{")) rows.push(JSON.parse(line));
}

const fmt = (x: number, digits: number) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
function mmm(xs: (number | null | undefined)[], digits = 0): string {
  const v = xs.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x));
  if (!v.length) return "n/a";
  if (v.length === 1) return fmt(v[0], digits);
  return `${fmt(median(v)!, digits)} [${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)}]`;
}
const med = (xs: (number | null | undefined)[]) => median(xs);

const groups = new Map<string, Row[]>();
for (const r of rows) {
  if (r.cmd === "register") continue;
  const k = `${r.server}\u0000${r.label || r.cmd}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k)!.push(r);
}
const ok = (rs: Row[]) => rs.filter((r) => r.status === "complete");

const out: string[] = [];
out.push("## Fan-out: median [min–max] over repetitions");
out.push("");
out.push("| server | scenario | n ok/runs | deliveries/s | room msgs/s | p50 ms | p95 ms | p99 ms | all-delivered s | server CPU % (100 = 1 core) | client CPU % | machine busy % (of 2 cores) | server µs/delivery | client µs/delivery |");
out.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const [k, rs] of groups) {
  if (rs[0].cmd !== "fanout") continue;
  const [server, label] = k.split("\u0000");
  const g = (f: (r: Row) => number | null) => ok(rs).map(f);
  out.push(
    `| ${server} | ${label} | ${ok(rs).length}/${rs.length} | ${mmm(g((r) => r.deliveries_per_s))} | ${mmm(g((r) => r.messages_per_s))} | ${mmm(g((r) => r.latency_ms.p50), 1)} | ${mmm(g((r) => r.latency_ms.p95), 1)} | ${mmm(g((r) => r.latency_ms.p99), 1)} | ${mmm(g((r) => r.duration_s), 2)} | ${mmm(g((r) => r.cpu.server_cpu_pct))} | ${mmm(g((r) => r.cpu.client_cpu_pct))} | ${mmm(g((r) => r.cpu.machine_busy_pct))} | ${mmm(g((r) => r.server_cpu_us_per_delivery), 1)} | ${mmm(g((r) => r.client_cpu_us_per_delivery), 1)} |`,
  );
}
out.push("");
out.push("Setup of each fan-out run (not part of the delivery measurement). Parley: `join s` is from the first `link.join` request to the last join confirmed (N−1 joins, 50 in flight); the anchor's includes the owner's room creation.");
out.push("");
out.push("| server | scenario | connect s | join s | joins | membership events / presences received |");
out.push("|---|---|---|---|---|---|");
for (const [k, rs] of groups) {
  if (rs[0].cmd !== "fanout") continue;
  const [server, label] = k.split("\u0000");
  out.push(`| ${server} | ${label} | ${mmm(rs.map((r) => r.connect_s), 2)} | ${mmm(rs.map((r) => r.join_s), 3)} | ${rs[0].joins ?? rs[0].members - 1} | ${mmm(rs.map((r) => r.presences_received))} |`);
}
out.push("");
const cal = rows.filter((r) => r.calibration);
if (cal.length) {
  out.push("Machine-speed calibration before each fan-out run (single Node thread; lower = faster):");
  out.push("");
  out.push("| server | runs | JS loop ms | SHA-256 64 MiB ms | steal % during runs |");
  out.push("|---|---|---|---|---|");
  for (const sv of [...new Set(cal.map((r) => r.server))]) {
    const rs = cal.filter((r) => r.server === sv);
    out.push(`| ${sv} | ${rs.length} | ${mmm(rs.map((r) => r.calibration.js_loop_ms), 1)} | ${mmm(rs.map((r) => r.calibration.sha256_64MiB_ms), 1)} | ${mmm(rs.map((r) => r.cpu?.machine_steal_pct), 2)} |`);
  }
  out.push("");
}
out.push("## Idle connections (C)");
out.push("");
out.push("| server | step | n ok/runs | server RSS baseline MB | server RSS MB | RSS/conn KiB (from baseline) | RSS/conn KiB (marginal step) | connects/s | server CPU % while idle | client RSS MB |");
out.push("|---|---|---|---|---|---|---|---|---|---|");
for (const [k, rs] of groups) {
  if (rs[0].cmd !== "idle") continue;
  const [server] = k.split("\u0000");
  for (const t of rs[0].counts as number[]) {
    const st = rs.map((r) => ({ r, s: (r.steps as Row[]).find((x) => x.target === t) })).filter((x): x is { r: Row; s: Row } => !!x.s);
    const good = st.filter((x) => x.s.alive === t && x.s.connect_errors === 0);
    out.push(
      `| ${server} | ${t} conns | ${good.length}/${rs.length} | ${mmm(st.map((x) => x.r.server_rss_kb_baseline / 1024), 1)} | ${mmm(st.map((x) => x.s.server_rss_kb / 1024), 1)} | ${mmm(st.map((x) => x.s.rss_per_conn_kb_from_baseline), 1)} | ${mmm(st.map((x) => x.s.rss_per_conn_kb_marginal), 1)} | ${mmm(st.map((x) => x.s.connects_per_s))} | ${mmm(st.map((x) => x.s.server_cpu_pct_while_idle), 1)} | ${mmm(st.map((x) => x.s.client_rss_kb / 1024))} |`,
    );
  }
}
out.push("");

// Ratio and targets (medians).
const pick = (server: string, label: string) => groups.get(`${server}\u0000${label}`) ?? [];
const idle5000 = (server: string) => med(pick(server, "C-idle").map((r) => (r.steps as Row[]).find((s) => s.target === 5000)?.rss_per_conn_kb_from_baseline));
const servers = [...new Set(rows.map((r) => r.server))];
if (servers.includes("parley")) {
  const p = (label: string, f: (r: Row) => number) => med(ok(pick("parley", label)).map(f));
  const e = (label: string, f: (r: Row) => number) => med(ok(pick("ejabberd", label)).map(f));
  const ratio = (a: number | null, b: number | null, digits = 2) => (a !== null && b !== null && b !== 0 ? `${fmt(a / b, digits)}×` : "n/a");
  const show = (x: number | null, d = 0) => (x === null ? "n/a" : fmt(x, d));
  const verdict = (x: number | null, okf: (x: number) => boolean) => (x === null ? "not run" : okf(x) ? "**met**" : "**missed**");
  const dps = (r: Row) => r.deliveries_per_s;
  const a1p = p("A1-window10", dps);
  const a1e = e("A1-window10", dps);
  const a2p = p("A2-paced10", (r) => r.latency_ms.p99);
  const a2e = e("A2-paced10", (r) => r.latency_ms.p99);
  const bp = p("B-burst", dps);
  const be = e("B-burst", dps);
  const bj = med(pick("parley", "B-burst").map((r) => r.join_s));
  const bje = med(pick("ejabberd", "B-burst").map((r) => r.join_s));
  const cp = idle5000("parley");
  const ce = idle5000("ejabberd");
  out.push("## Targets (issue 3) and ratio Parley / ejabberd (medians, same session)");
  out.push("");
  out.push("| metric | target | Parley | ejabberd | Parley / ejabberd | target |");
  out.push("|---|---|---|---|---|---|");
  out.push(`| A1 deliveries/s | ≥ 155,000 | ${show(a1p)} | ${show(a1e)} | ${ratio(a1p, a1e)} | ${verdict(a1p, (x) => x >= 155_000)} |`);
  out.push(`| A2 p99 latency ms | ≤ 3 | ${show(a2p, 2)} | ${show(a2e, 2)} | ${ratio(a2p, a2e)} | ${verdict(a2p, (x) => x <= 3)} |`);
  out.push(`| B deliveries/s | ≥ 110,000 | ${show(bp)} | ${show(be)} | ${ratio(bp, be)} | ${verdict(bp, (x) => x >= 110_000)} |`);
  out.push(`| B joins s (999 by link; anchor: 999 MUC joins) | ≤ 2 | ${show(bj, 3)} | ${show(bje, 3)} | ${ratio(bj, bje)} | ${verdict(bj, (x) => x <= 2)} |`);
  out.push(`| C RSS per idle conn at 5,000, KiB | ≤ 16 | ${show(cp, 1)} | ${show(ce, 1)} | ${ratio(cp, ce)} | ${verdict(cp, (x) => x <= 16)} |`);
  out.push("");
}

const text = out.join("\n");
if (mdOut) writeFileSync(mdOut, `${text}\n`);
else console.log(text);
