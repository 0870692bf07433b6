/**
 * F1's harness (bench/federation-f1.ts) at a tiny scale, end to end: three server processes, the
 * group joined across them, the send pattern with the senders where `--senders-on` puts them, and
 * the figures it reports. Not a measurement (speeds are never asserted): it keeps the benchmark
 * runnable as the servers change.
 */
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function f1(args: string[]): Promise<Record<string, any>> {
  const dir = mkdtempSync(join(tmpdir(), "parley-f1-test-"));
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "bench/federation-f1.ts", "--members", "6", "--senders", "2", "--msgs", "3", "--window", "2", "--quiet-machine-pct", "0", "--dir", join(dir, "run"), ...args], {
      cwd: join(import.meta.dirname, ".."),
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split("\n").pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test("--senders-on remote: every sender on b or c, every message delivered to every member, each sender's echo reported", async (t) => {
  const res = await f1(["--senders-on", "remote"]);
  t.equal(res.status, "complete", res.error ?? "");
  t.same(res.senders_per_server, { "a.test": 0, "b.test": 1, "c.test": 1 });
  t.equal(res.deliveries, 6 * 2 * 3);
  t.equal(res.echo_latency_by_sender_server["a.test"].n, 0, "no sender on the home");
  t.equal(res.echo_latency_by_sender_server["b.test"].n + res.echo_latency_by_sender_server["c.test"].n, 2 * 3, "one echo per message, on its sender's socket");
  t.equal(res.sender_finish_s.length, 2);
  t.ok(res.sender_finish_s.every((s: number) => s > 0 && s <= res.duration_s + 0.001), "each sender's last echo inside the send phase");
  t.ok(res.server_counters["a.test"]["http POST /_parley/federation/v1/propose-batch 200"] >= 1, "the sends went to the home as proposals");
  const frames = Object.values(res.server_counters as Record<string, Record<string, number>>).reduce((n, c) => n + (c.parley_fanout_frames_total ?? 0), 0);
  t.equal(frames, res.deliveries, "the servers' fan-out frames, scraped around the send phase, are the deliveries");
});

t.test("--senders-on home: both senders on a, no proposals", async (t) => {
  const res = await f1(["--senders-on", "home"]);
  t.equal(res.status, "complete", res.error ?? "");
  t.same(res.senders_per_server, { "a.test": 2, "b.test": 0, "c.test": 0 });
  t.equal(res.deliveries, 6 * 2 * 3);
  t.notOk(res.server_counters["a.test"]["http POST /_parley/federation/v1/propose-batch 200"], "no proposal reached the home");
});

t.test("--senders-on refuses a placement with too few members, and a value it does not know", async (t) => {
  await t.rejects(f1(["--senders-on", "home", "--members", "3"]), /fewer than 2 members to send/);
  await t.rejects(f1(["--senders-on", "remot"]), /--senders-on remot: all, home or remote/);
});
