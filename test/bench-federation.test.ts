/**
 * The pure parts of the federation benchmarks (bench/lib/cluster.ts, bench/lib/federation-report.ts):
 * options, the placement of members on servers, each server's configuration, and the session's
 * summary with its verdicts. No server is started and nothing is timed.
 */
import t from "tap";
import { parse as parseToml } from "smol-toml";
import { clusterToml, membersPerServer, parseOptions, placeMember, type ServerSpec } from "../bench/lib/cluster.ts";
import { medianRange, pairedRatios, renderSummary, verdict } from "../bench/lib/federation-report.ts";
import { resolveConfig } from "../server/config/load.ts";

t.test("options take their defaults, values given, and flags", async (t) => {
  const o = parseOptions(["--members", "20", "--keep"], { members: "100", msgs: "200", keep: "false" });
  t.same(o, { members: "20", msgs: "200", keep: "true" });
});

t.test("an unknown option or a stray argument is refused", async (t) => {
  t.throws(() => parseOptions(["--memebrs", "20"], { members: "100" }), /unknown option --memebrs/);
  t.throws(() => parseOptions(["20"], { members: "100" }), /unexpected argument 20/);
});

t.test("members are spread round robin with the owner and the first senders on every server", async (t) => {
  t.same(placeMember(0, 3), { server: 0, local: 0 });
  t.same(placeMember(4, 3), { server: 1, local: 1 });
  t.same(
    Array.from({ length: 10 }, (_, i) => placeMember(i, 3).server),
    [0, 1, 2, 0, 1, 2, 0, 1, 2, 0],
  );
  t.same(membersPerServer(100, 3), [34, 33, 33]);
  t.same(membersPerServer(20, 3), [7, 7, 6]);
  // Each server's accounts are exactly the local indexes its members use.
  const used = [new Set<number>(), new Set<number>(), new Set<number>()];
  for (let i = 0; i < 100; i++) used[placeMember(i, 3).server].add(placeMember(i, 3).local);
  t.same(used.map((s) => s.size), [34, 33, 33]);
  t.equal(Math.max(...used[0]), 33);
});

t.test("each server's configuration is valid and names the others as plain-HTTP peers", async (t) => {
  const specs: ServerSpec[] = ["a.test", "b.test", "c.test"].map((name, i) => ({ name, port: 40000 + i, dataDir: `/tmp/x/${name}`, config: `/tmp/x/${name}.toml` }));
  const config = resolveConfig(parseToml(clusterToml(specs[1], specs, { membersPerCommunity: 5030 })));
  t.equal(config.server.name, "b.test");
  t.equal(config.listen.port, 40001);
  t.equal(config.storage.data_dir, "/tmp/x/b.test");
  t.same(config.federation.peers, { "a.test": "http://127.0.0.1:40000", "c.test": "http://127.0.0.1:40002" });
  t.equal(config.federation.allow_plain_http, true);
  t.equal(config.rooms.members_per_community, 5030);
  t.equal(config.limits.ws_ops_per_second, 1000000);
});

t.test("a figure over several runs is its median with the range, and one run is itself", async (t) => {
  t.equal(medianRange([3, 1, 2]), "2 [1–3]");
  t.equal(medianRange([1234.5], 1), "1,234.5");
  t.equal(medianRange([null, undefined, Number.NaN]), "n/a");
});

t.test("a verdict is met, missed, or not measured, never guessed", async (t) => {
  t.equal(verdict(0.95, (v) => v >= 0.9), "**met**");
  t.equal(verdict(0.85, (v) => v >= 0.9), "**missed**");
  t.equal(verdict(null, (v) => v >= 0.9), "not measured");
});

t.test("the summary checks each target against the measured medians and marks small runs as checks", async (t) => {
  const a1 = (dps: number) => ({ cmd: "fanout", status: "complete", members: 100, senders: 10, msgs_per_sender: 200, deliveries_per_s: dps, latency_ms: { p50: 1, p95: 2, p99: 3 }, server_cpu_us_per_delivery: 2, cpu: { server_cpu_pct: 80, machine_busy_pct: 90 }, calibration: { js_loop_ms: 100 } });
  const md = renderSummary({
    a1Base: [a1(200000), a1(220000)],
    a1Head: [a1(190000), a1(210000), { cmd: "fanout", status: "timeout" }],
    f1: [{ status: "complete", members: 20, senders: 10, msgs_per_sender: 20, servers: ["a.test", "b.test", "c.test"], deliveries_per_s: 40000, latency_ms: { p50: 5, p95: 9, p99: 12 } }],
    f2: [{ status: "complete", members: 5000, joins: 20, join_ms: { p50: 300, p95: 1200, max: 1500 }, replicated_first_ms: 4000, replicated_after_first_ms: { p50: 100, p95: 200 } }],
    f3: [],
  });
  t.match(md, /\| now \| 2 \(\+1 failed\) \| 200,000 \[190,000–210,000\]/);
  t.match(md, /A1 now ≥ 90 % of A1 at the baseline \| 0\.95× \| \*\*met\*\* \|/);
  t.match(md, /F1 ≥ 50 % of single-server A1 now \| 0\.20× \| \*\*missed\*\* \(not at the issue's scale/);
  t.match(md, /F2 join p95 < 1 s \| 1,200\.0 ms \| \*\*missed\*\* \|/);
  t.match(md, /F3 catch-up of 10,000 events < 10 s \| n\/a \| not measured/);
  t.notMatch(md, /steady state/, "no steady-state section without its runs");
});

t.test("the steady-state pair, when measured, is shown side by side with its ratio", async (t) => {
  const md = renderSummary({
    a1Base: [],
    a1Head: [],
    f1: [],
    f2: [],
    f3: [],
    a1Steady: [{ cmd: "fanout", status: "complete", deliveries_per_s: 800000, latency_ms: { p50: 10, p99: 30 }, server_cpu_us_per_delivery: 1, client_cpu_us_per_delivery: 1.1 }],
    f1Steady: [
      { status: "complete", deliveries_per_s: 390000, latency_ms: { p50: 20, p99: 60 }, servers_cpu_us_per_delivery: 3.2, client_cpu_us_per_delivery: 1.2 },
      { status: "complete", deliveries_per_s: 410000, latency_ms: { p50: 22, p99: 64 }, servers_cpu_us_per_delivery: 3.4, client_cpu_us_per_delivery: 1.2 },
      { status: "timeout" },
    ],
  });
  t.match(md, /\| F1 \(10 × 6,000\), three servers \| 2 \| 400,000 \[390,000–410,000\]/);
  t.match(md, /F1 \/ A1 in the steady state \(deliveries\/s, medians\): 0\.50×/);
});

t.test("F1 is compared with the A1 now of its own round: the median of the pairs decides, rounds without both runs are left out", async (t) => {
  const a1 = (round: number, dps: number) => ({ cmd: "fanout", status: "complete", members: 100, senders: 10, msgs_per_sender: 200, deliveries_per_s: dps, round });
  const f1 = (round: number, dps: number) => ({ status: "complete", members: 100, senders: 10, msgs_per_sender: 200, servers: ["a.test", "b.test", "c.test"], deliveries_per_s: dps, round });
  const a1Head = [a1(1, 200000), a1(2, 240000), a1(3, 180000), { cmd: "fanout", status: "timeout", round: 4 }, a1(5, 210000)];
  const runs = [f1(1, 110000), f1(2, 108000), f1(3, 99000), f1(4, 120000), { status: "timeout", round: 5 }];
  const pairs = pairedRatios(a1Head, runs);
  t.same(
    pairs.map((p) => p.round),
    [1, 2, 3],
    "round 4 has no complete A1 and round 5 no complete F1",
  );
  t.same(
    pairs.map((p) => Number(p.ratio.toFixed(2))),
    [0.55, 0.45, 0.55],
  );
  const md = renderSummary({ a1Base: [a1(1, 210000)], a1Head, f1: runs, f2: [], f3: [] });
  t.match(md, /\| 2 \| 240,000 \| 108,000 \| 0\.45× \|/);
  t.match(md, /Median of the 3 pairs: 0\.55× \(2 of 3 at or above 0\.5×\)/);
  // The ratio of the medians (109,000 / 205,000 = 0.53x) is shown beside it; the paired median decides.
  t.match(md, /F1 ≥ 50 % of single-server A1 now \| 0\.55× \(median of 3 paired rounds; ratio of the medians 0\.53×\) \| \*\*met\*\* \|/);
  t.same(pairedRatios(a1Head, []), [], "no F1, no pairs");
  t.same(pairedRatios([{ cmd: "fanout", status: "complete", deliveries_per_s: 1 }], [f1(1, 1)]), [], "records without a round are not paired");
});
