/**
 * The summary of issue 8's session (bench/federation.sh): single-server A1 at the baseline commit
 * and now, F1, F2 and F3, from their raw JSON lines, with each target checked against the
 * measured figures. Pure: rows in, Markdown out (bench/federation-summary.ts reads the files).
 */
import { median } from "./metrics.ts";

type Row = Record<string, any>;

export interface SessionRows {
  a1Base: Row[];
  a1Head: Row[];
  f1: Row[];
  f2: Row[];
  f3: Row[];
  /** The steady state (STEADY=1): A1 thirty times longer (A1XL) and F1 with --msgs 6000. */
  a1Steady?: Row[];
  f1Steady?: Row[];
}

const fmt = (x: number, digits: number) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const finite = (xs: unknown[]) => xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));

/** "median [min–max]" over the runs, one figure for one run, "n/a" for none. */
export function medianRange(xs: unknown[], digits = 0): string {
  const v = finite(xs);
  if (!v.length) return "n/a";
  if (v.length === 1) return fmt(v[0], digits);
  return `${fmt(median(v)!, digits)} [${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)}]`;
}
const med = (xs: unknown[]) => median(finite(xs));

/** A1 records of bench/load.ts that completed. */
const a1Runs = (rows: Row[]) => rows.filter((r) => r.cmd === "fanout" && r.status === "complete");
const done = (rows: Row[]) => rows.filter((r) => r.status === "complete");

/** "met" / "missed" for a measured value against a bound, or "not measured". */
export function verdict(value: number | null, ok: (v: number) => boolean): string {
  if (value === null || !Number.isFinite(value)) return "not measured";
  return ok(value) ? "**met**" : "**missed**";
}

/**
 * F1 against the A1 now of its own round (bench/federation.sh runs A1 now right before each F1):
 * the ratio of each pair, by the records' `round`. A round without both complete runs gives none.
 * Why pairs: the machine drifts by 10-15 % between minutes, and a ratio of two medians taken
 * minutes apart carries that drift; two runs a minute apart share most of it.
 */
export function pairedRatios(a1Head: Row[], f1: Row[]): { round: number; f1: number; a1: number; ratio: number }[] {
  const a1ByRound = new Map<number, number>();
  for (const r of a1Runs(a1Head)) if (typeof r.round === "number" && typeof r.deliveries_per_s === "number") a1ByRound.set(r.round, r.deliveries_per_s);
  const pairs: { round: number; f1: number; a1: number; ratio: number }[] = [];
  for (const r of done(f1)) {
    const a1 = typeof r.round === "number" ? a1ByRound.get(r.round) : undefined;
    if (a1 && typeof r.deliveries_per_s === "number") pairs.push({ round: r.round, f1: r.deliveries_per_s, a1, ratio: r.deliveries_per_s / a1 });
  }
  return pairs.sort((x, y) => x.round - y.round);
}

export function renderSummary(s: SessionRows): string {
  const base = a1Runs(s.a1Base);
  const head = a1Runs(s.a1Head);
  const f1 = done(s.f1);
  const f2 = done(s.f2);
  const f3 = s.f3.filter((r) => typeof r.catchUpS === "number");
  const baseDps = med(base.map((r) => r.deliveries_per_s));
  const headDps = med(head.map((r) => r.deliveries_per_s));
  const f1Dps = med(f1.map((r) => r.deliveries_per_s));
  const f2P95 = med(f2.map((r) => r.join_ms?.p95));
  const f3S = med(f3.map((r) => r.catchUpS));
  const ratio = (x: number | null, y: number | null) => (x !== null && y ? `${fmt(x / y, 2)}×` : "n/a");
  const out: string[] = [];
  out.push("# Issue 8: federation benchmarks, one session", "");
  out.push("Median [min–max] over the runs; failed runs are counted below and left out of the figures.", "");
  out.push("## A1, single server: baseline commit against now", "");
  out.push("| tree | runs | deliveries/s | p50 / p95 / p99 ms | server µs per delivery | server CPU % | machine busy % | JS loop ms (calibration) |");
  out.push("|---|---|---|---|---|---|---|---|");
  for (const [name, rows, all] of [["baseline", base, s.a1Base], ["now", head, s.a1Head]] as const) {
    const failed = all.filter((r) => r.cmd === "fanout").length - rows.length;
    out.push(
      `| ${name} | ${rows.length}${failed ? ` (+${failed} failed)` : ""} | ${medianRange(rows.map((r) => r.deliveries_per_s))} | ${medianRange(rows.map((r) => r.latency_ms?.p50), 1)} / ${medianRange(rows.map((r) => r.latency_ms?.p95), 1)} / ${medianRange(rows.map((r) => r.latency_ms?.p99), 1)} | ${medianRange(rows.map((r) => r.server_cpu_us_per_delivery), 2)} | ${medianRange(rows.map((r) => r.cpu?.server_cpu_pct))} | ${medianRange(rows.map((r) => r.cpu?.machine_busy_pct))} | ${medianRange(rows.map((r) => r.calibration?.js_loop_ms), 1)} |`,
    );
  }
  out.push("", `Now / baseline (deliveries/s, medians): ${ratio(headDps, baseDps)}.`, "");
  out.push("## F1: A1 with the 100 members on three servers", "");
  out.push("| runs | deliveries/s | p50 / p95 / p99 ms | p99 by recipient's server (a / b / c) ms | server CPU % (a / b / c) | all servers µs per delivery | load generator CPU % | machine busy % |");
  out.push("|---|---|---|---|---|---|---|---|");
  if (s.f1.length) {
    const names: string[] = f1[0]?.servers ?? ["a.test", "b.test", "c.test"];
    out.push(
      `| ${f1.length}${s.f1.length > f1.length ? ` (+${s.f1.length - f1.length} failed)` : ""} | ${medianRange(f1.map((r) => r.deliveries_per_s))} | ${medianRange(f1.map((r) => r.latency_ms?.p50), 1)} / ${medianRange(f1.map((r) => r.latency_ms?.p95), 1)} / ${medianRange(f1.map((r) => r.latency_ms?.p99), 1)} | ${names.map((n) => medianRange(f1.map((r) => r.latency_by_recipient_server?.[n]?.p99), 1)).join(" / ")} | ${names.map((n) => medianRange(f1.map((r) => r.server_cpu?.[n]?.cpu_pct))).join(" / ")} | ${medianRange(f1.map((r) => r.servers_cpu_us_per_delivery), 2)} | ${medianRange(f1.map((r) => r.client_cpu_pct))} | ${medianRange(f1.map((r) => r.machine_busy_pct))} |`,
    );
  } else out.push("| 0 | not measured | | | | | | |");
  out.push("", `F1 / single-server A1 now (deliveries/s, medians): ${ratio(f1Dps, headDps)}.`, "");
  const pairs = pairedRatios(s.a1Head, s.f1);
  const pairedMedian = med(pairs.map((p) => p.ratio));
  if (pairs.length) {
    out.push("Each F1 against the A1 now of its round (the run right before it):", "", "| round | A1 now, deliveries/s | F1, deliveries/s | F1 / A1 |", "|---|---|---|---|");
    for (const p of pairs) out.push(`| ${p.round} | ${fmt(p.a1, 0)} | ${fmt(p.f1, 0)} | ${fmt(p.ratio, 2)}× |`);
    out.push("", `Median of the ${pairs.length} pairs: ${fmt(pairedMedian!, 2)}× (${pairs.filter((p) => p.ratio >= 0.5).length} of ${pairs.length} at or above 0.5×).`, "");
  }
  const a1Steady = a1Runs(s.a1Steady ?? []);
  const f1Steady = done(s.f1Steady ?? []);
  if (a1Steady.length || f1Steady.length) {
    out.push("## The steady state: A1 and F1 thirty times longer", "");
    out.push("Past the warm-up (the JIT compiling the hot paths, three times over in F1) that dominates the half-second runs above.", "");
    out.push("| run | runs | deliveries/s | p50 / p99 ms | servers µs per delivery | load generator µs per delivery |");
    out.push("|---|---|---|---|---|---|");
    out.push(`| A1 (10 × 6,000), single server | ${a1Steady.length} | ${medianRange(a1Steady.map((r) => r.deliveries_per_s))} | ${medianRange(a1Steady.map((r) => r.latency_ms?.p50), 1)} / ${medianRange(a1Steady.map((r) => r.latency_ms?.p99), 1)} | ${medianRange(a1Steady.map((r) => r.server_cpu_us_per_delivery), 2)} | ${medianRange(a1Steady.map((r) => r.client_cpu_us_per_delivery), 2)} |`);
    out.push(`| F1 (10 × 6,000), three servers | ${f1Steady.length} | ${medianRange(f1Steady.map((r) => r.deliveries_per_s))} | ${medianRange(f1Steady.map((r) => r.latency_ms?.p50), 1)} / ${medianRange(f1Steady.map((r) => r.latency_ms?.p99), 1)} | ${medianRange(f1Steady.map((r) => r.servers_cpu_us_per_delivery), 2)} | ${medianRange(f1Steady.map((r) => r.client_cpu_us_per_delivery), 2)} |`);
    out.push("", `F1 / A1 in the steady state (deliveries/s, medians): ${ratio(med(f1Steady.map((r) => r.deliveries_per_s)), med(a1Steady.map((r) => r.deliveries_per_s)))}.`, "");
  }
  out.push("## F2: a user of b joins a 5,000-member community of a (one at a time)", "");
  out.push("| runs | members | joins per run | join (request to reply) p50 / p95 / max ms | b holds the room: first join ms | b holds the room: later joins p50 / p95 ms |");
  out.push("|---|---|---|---|---|---|");
  if (s.f2.length) {
    out.push(
      `| ${f2.length}${s.f2.length > f2.length ? ` (+${s.f2.length - f2.length} failed)` : ""} | ${medianRange(f2.map((r) => r.members))} | ${medianRange(f2.map((r) => r.joins))} | ${medianRange(f2.map((r) => r.join_ms?.p50), 1)} / ${medianRange(f2.map((r) => r.join_ms?.p95), 1)} / ${medianRange(f2.map((r) => r.join_ms?.max), 1)} | ${medianRange(f2.map((r) => r.replicated_first_ms), 1)} | ${medianRange(f2.map((r) => r.replicated_after_first_ms?.p50), 1)} / ${medianRange(f2.map((r) => r.replicated_after_first_ms?.p95), 1)} |`,
    );
  } else out.push("| 0 | | | not measured | | |");
  out.push("", "## F3: a server's catch-up after missing events", "");
  out.push("| runs | events | catch-up s | events/s | sends took s |");
  out.push("|---|---|---|---|---|");
  out.push(f3.length ? `| ${f3.length} | ${medianRange(f3.map((r) => r.events))} | ${medianRange(f3.map((r) => r.catchUpS), 2)} | ${medianRange(f3.map((r) => r.eventsPerS))} | ${medianRange(f3.map((r) => r.sendS), 2)} |` : "| 0 | | not measured | | |");
  const fullA1 = base.length > 0 && head.length > 0 && [...base, ...head].every((r) => r.members === 100 && r.senders === 10 && r.msgs_per_sender === 200);
  const fullF1 = f1.length > 0 && f1.every((r) => r.members === 100 && r.senders === 10 && r.msgs_per_sender === 200);
  const fullF2 = f2.length > 0 && f2.every((r) => r.members >= 5000 && r.joins >= 20);
  const fullF3 = f3.length > 0 && f3.every((r) => r.events >= 10000);
  const scale = (full: boolean) => (full ? "" : " (not at the issue's scale: a check, not a result)");
  out.push("", "## Targets of issue 8", "", "| target | measured | verdict |", "|---|---|---|");
  out.push(`| A1 now ≥ 90 % of A1 at the baseline | ${ratio(headDps, baseDps)} | ${verdict(headDps !== null && baseDps ? headDps / baseDps : null, (v) => v >= 0.9)}${scale(fullA1)} |`);
  // With pairs (F1 and A1 now a minute apart, round by round), the median of their ratios; without, the ratio of the medians.
  const f1Ratio = pairedMedian ?? (f1Dps !== null && headDps ? f1Dps / headDps : null);
  const f1Measured = pairedMedian !== null ? `${fmt(pairedMedian, 2)}× (median of ${pairs.length} paired rounds; ratio of the medians ${ratio(f1Dps, headDps)})` : ratio(f1Dps, headDps);
  out.push(`| F1 ≥ 50 % of single-server A1 now | ${f1Measured} | ${verdict(f1Ratio, (v) => v >= 0.5)}${scale(fullF1)} |`);
  out.push(`| F2 join p95 < 1 s | ${f2P95 === null ? "n/a" : `${fmt(f2P95, 1)} ms`} | ${verdict(f2P95, (v) => v < 1000)}${scale(fullF2)} |`);
  out.push(`| F3 catch-up of 10,000 events < 10 s | ${f3S === null ? "n/a" : `${fmt(f3S, 2)} s`} | ${verdict(f3S, (v) => v < 10)}${scale(fullF3)} |`);
  out.push("");
  return out.join("\n");
}
