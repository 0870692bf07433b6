/**
 * The CPU of one federation request for its two ends, without the rest of F1: two servers in this
 * process (test/federation/cluster.ts, real HTTP over loopback), the first sending the second
 * empty signed `send` batches one after the other; prints this process's CPU time per request for
 * each round (the first rounds include V8's warm-up). Run it under `node --cpu-prof` to see what
 * a request is made of (bench/profile.ts summarizes the profile).
 *
 *   node --import tsx bench/request-cost.ts [--rounds 300,1000,2000,2000,2000]
 */
import { parseArgs } from "node:util";
import { startCluster } from "../test/federation/cluster.ts";
import { JsonText } from "../federation/proposer.ts";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "300,1000,2000,2000,2000" } } });

const servers = await startCluster(["a.test", "b.test"], () => ({ log: { level: "error" }, limits: { http_requests_per_minute: 10_000_000 } }) as never);
const a = servers["a.test"];

async function round(n: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const res = await a.app.parley.federation.request("b.test", "POST", "/send", new JsonText('{"events":[],"checkpoints":[],"ephemeral":[]}'));
    if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

const perRound: number[] = [];
for (const n of args.rounds.split(",").map(Number)) perRound.push(await round(n));
console.log(`µs of CPU per federation request (both ends), per round: ${perRound.map((x) => x.toFixed(0)).join(" ")}`);
for (const s of Object.values(servers)) await s.stop(true);
