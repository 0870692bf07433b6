/**
 * `parley federation status` and the admin API's `admin.federation.status` (the server-admin
 * area's Federation page) count the ops a server keeps for a home server that cannot be reached
 * (federation_pending): per home, how many and since when. The cast: alice on a.test hosts the
 * Maths group; bob on b.test is a member; dana is b.test's server admin.
 */
import t from "tap";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startClusterFor } from "./cluster.ts";
import { post, schemaErrors, type TestServer, until } from "../helpers.ts";
import { runCli } from "../../server/cli.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Runs `parley federation status` on the server's data directory and returns what it printed. */
async function statusLines(server: TestServer): Promise<string[]> {
  const configPath = join(server.dataDir, "cli.toml");
  writeFileSync(configPath, `[server]\nname = ${JSON.stringify(server.config.server.name)}\n\n[storage]\ndata_dir = ${JSON.stringify(server.dataDir)}\n\n[log]\nlevel = "silent"\n`);
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (chunks.push(String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await runCli(["federation", "status", "--config", configPath]);
  } finally {
    process.stdout.write = write;
  }
  if (code !== 0) throw new Error(`parley federation status exited with ${code}`);
  return chunks.join("").split("\n");
}

async function adminStatus(t: Test, server: TestServer, token: string) {
  const res = await post(server, "/api/v1/admin/federation.status", {}, token);
  t.equal(res.status, 200);
  t.same(schemaErrors("http/admin.federation.status#/$defs/response", res.body), [], "the answer matches its schema");
  return res.body as { kept: { server: string; ops: number; oldestAt: number }[] };
}

t.test("bob's sends kept while a.test is down are counted per home in `parley federation status` and on dana's Federation page, and are gone from both once a.test has them", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const dana = await b.user("dana");
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(dana.userId);
  const { roomId } = await alice.request("group.create", { name: "Maths", settings: { sendPolicy: "all" } });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });

  const before = await adminStatus(t, b, dana.session.accessToken);
  t.same(before.kept, [], "nothing kept while a.test answers");
  t.ok((await statusLines(b)).includes("no kept ops: nothing waits for a home server"), "the command line says nothing is kept");

  await a.stop(false);
  const started = Date.now();
  for (const txnId of ["k1", "k2"]) {
    const answer = await bob.request("message.send", { roomId, txnId, body: `Kept ${txnId}` }).catch((err: { code: string }) => err);
    t.equal((answer as { code: string }).code, "message.pending", `${txnId} is kept`);
  }

  const during = await adminStatus(t, b, dana.session.accessToken);
  t.equal(during.kept.length, 1, "one home server");
  t.match(during.kept[0], { server: "a.test", ops: 2 });
  t.ok(during.kept[0].oldestAt >= started - 1000 && during.kept[0].oldestAt <= Date.now(), "the oldest kept op's time");

  const lines = await statusLines(b);
  const header = lines.indexOf("home\tkept ops\toldest kept\tage");
  t.ok(header > 0, "a table of kept ops after the peers");
  const cells = lines[header + 1].split("\t");
  t.equal(cells[0], "a.test");
  t.equal(cells[1], "2", "two ops kept");
  t.equal(cells[2], new Date(during.kept[0].oldestAt).toISOString(), "when the oldest was kept");
  t.match(cells[3], /^\d+s$|^\d+m \d+s$/, "its age, for people");

  const a2 = await a.restart();
  servers["a.test"] = a2;
  await until(t, "b proposed the kept sends", () => (b.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM federation_pending").get() as { n: number }).n === 0);
  t.same((await adminStatus(t, b, dana.session.accessToken)).kept, [], "nothing kept once a.test has them");
  t.ok((await statusLines(b)).includes("no kept ops: nothing waits for a home server"));
});
