/**
 * `parley backup` and `parley restore`: a backup taken by the command line (a child process, as
 * an operator runs it) while alice and bob keep sending messages over the WebSocket restores into
 * a new data directory, and a server started there has every message acknowledged before the
 * backup began, its files, and a clean start.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { parley as runParley } from "./cli-helpers.ts";
import { startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A directory with a config file for school.test over `data/`, removed when the test ends. */
function workspace(t: Test, name = "data"): { dir: string; dataDir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "parley-backup-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, name);
  const configPath = join(dir, "parley.toml");
  writeFileSync(configPath, `[server]\nname = "school.test"\n\n[storage]\ndata_dir = ${JSON.stringify(dataDir)}\n\n[log]\nlevel = "silent"\n`);
  return { dir, dataDir, configPath };
}

/** Runs the real command line in a child process: `node bin/parley.js ...args`. */
function parleyProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/parley.js", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const parley = (...args: string[]) => runParley(args);

async function uploadPicture(server: TestServer, token: string): Promise<string> {
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#336699" } }).png().toBuffer();
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=chart.png`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "image/png" }, body: bytes });
  t.equal(res.status, 201, "the picture is uploaded");
  return ((await res.json()) as { mediaId: string }).mediaId;
}

t.test("a backup taken under a write load restores to a server with every message acknowledged before it began", async (t) => {
  const { dir, dataDir, configPath } = workspace(t);
  const server = await startServer(unthrottled, { dataDir });
  let serverStopped = false;
  t.teardown(() => (serverStopped ? undefined : server.stop(false)));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const group = await alice.request("group.create", { name: "Maths" });
  const link = await alice.request("link.create", { roomId: group.roomId });
  await bob.request("link.join", { token: link.token });
  const mediaId = await uploadPicture(server, alice.session.accessToken);
  await alice.request("message.send", { roomId: group.roomId, body: "the chart", file: { mediaId, name: "chart.png" }, txnId: "chart" });

  // alice and bob each send one message after another, every one awaited: acked = stored.
  const acked: { eventId: string; seq: number }[] = [];
  let stop = false;
  const sender = async (client: typeof alice, who: string) => {
    for (let i = 0; !stop; i++) {
      const { event } = await client.request("message.send", { roomId: group.roomId, body: `${who} ${i}`, txnId: `${who}-${i}` });
      acked.push({ eventId: event.eventId, seq: event.seq });
    }
  };
  const load = Promise.all([sender(alice, "alice"), sender(bob, "bob")]);
  while (acked.length < 20) await new Promise((r) => setImmediate(r));

  const before = acked.slice();
  const backupDir = join(dir, "backup");
  const made = await parleyProcess("backup", backupDir, "--config", configPath);
  const during = acked.length - before.length;
  stop = true;
  await load;
  t.equal(made.code, 0, `the backup succeeds ${made.stderr}`);
  t.match(made.stdout, /^backed up school\.test to .*backup: the database \(.*\) and 2 file\(s\)/, "it reports the database and the picture with its preview");
  t.equal(made.stderr, "");
  t.ok(during > 0, "the load kept running while the backup was taken");
  t.comment(`${before.length} messages acknowledged before the backup began, ${during} while it ran`);

  const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8"));
  t.match(manifest, { format: "parley-backup", formatVersion: 1, serverName: "school.test", schema: { migrations: Number }, database: { path: "parley.db" }, missing: [] });
  t.same(
    manifest.files.map((f: { path: string }) => f.path).sort(),
    [join("media", mediaId.slice(0, 2), mediaId), join("media", mediaId.slice(0, 2), `${mediaId}.preview.jpg`)],
    "the manifest lists the picture and its preview",
  );
  t.equal(manifest.files.find((f: { path: string }) => f.path.endsWith(mediaId)).sha256, mediaId, "a file's hash is its id");

  await server.stop(false);
  serverStopped = true;

  // Restore into a new data directory and start a server there.
  const restored = workspace(t, "restored");
  const res = await parley("restore", backupDir, "--config", restored.configPath);
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /^restored the backup of .* \(2 file\(s\)\) into /);

  const again = await startServer({}, { dataDir: restored.dataDir });
  t.teardown(() => again.stop(false));
  t.equal((await fetch(`${again.baseUrl}/readyz`)).status, 200, "the restored server is ready");
  const alice2 = await again.login("alice");
  const seen = new Set<string>();
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await alice2.request("message.history", { roomId: group.roomId, limit: 200, ...(beforeSeq ? { before: beforeSeq } : {}) });
    for (const m of page.messages) seen.add(m.eventId);
    if (!page.more || page.messages.length === 0) break;
    beforeSeq = Math.min(...page.messages.map((m: { seq: number }) => m.seq));
  }
  const lost = before.filter((m) => !seen.has(m.eventId));
  t.same(lost, [], `all ${before.length} messages acknowledged before the backup began are in the restored history`);

  const picture = await fetch(`${again.baseUrl}/api/v1/media/${mediaId}`, { headers: { authorization: `Bearer ${alice2.session.accessToken}` } });
  t.equal(picture.status, 200, "the picture downloads from the restored server");
  t.equal(Buffer.from(await picture.arrayBuffer()).length, manifest.files.find((f: { path: string }) => f.path.endsWith(mediaId)).size);

  const last = (again.app.parley.storage.sqlite.prepare("SELECT max(seq) AS seq FROM room_events WHERE room_id = ?").get(group.roomId) as { seq: number }).seq;
  const next = await alice2.request("message.send", { roomId: group.roomId, body: "back again", txnId: "back" });
  t.equal(next.event.seq, last + 1, "the room's log continues without a gap");
  t.same(again.logs.filter((l) => Number(l.level) >= 50), [], "the restored server logged no errors");
});

t.test("restore refuses a data directory that is not empty, in one line, and changes nothing", async (t) => {
  const { dir, dataDir, configPath } = workspace(t);
  t.equal((await parley("user", "create", "alice", "--password", "alice's long password", "--config", configPath)).code, 0);
  const backupDir = join(dir, "backup");
  t.equal((await parley("backup", backupDir, "--config", configPath)).code, 0);
  const refused = await parley("restore", backupDir, "--config", configPath);
  t.same(refused, { code: 2, stdout: "", stderr: `parley: the data directory ${dataDir} is not empty; restore only into an empty or missing directory\n` });
  t.ok(existsSync(join(dataDir, "parley.db")), "the existing data stays");

  const again = await parley("backup", backupDir, "--config", configPath);
  t.same(again, { code: 2, stdout: "", stderr: `parley: ${backupDir} is not empty; back up into a new or empty directory\n` }, "a backup does not overwrite another");
});

t.test("restore verifies the manifest: a damaged copy, a newer schema and another server's name are refused", async (t) => {
  const { dir, configPath } = workspace(t);
  await parley("user", "create", "alice", "--password", "alice's long password", "--config", configPath);
  const backupDir = join(dir, "backup");
  t.equal((await parley("backup", backupDir, "--config", configPath)).code, 0);
  const manifestPath = join(backupDir, "manifest.json");
  const manifest = readFileSync(manifestPath, "utf8");
  const target = workspace(t, "restored");

  const db = join(backupDir, "parley.db");
  const original = readFileSync(db);
  const damaged = Buffer.from(original);
  damaged[damaged.length - 1] ^= 0xff;
  writeFileSync(db, damaged);
  t.same(await parley("restore", backupDir, "--config", target.configPath), { code: 2, stdout: "", stderr: "parley: the backup is damaged: parley.db does not match the manifest\n" });
  t.notOk(existsSync(target.dataDir), "nothing was written");
  writeFileSync(db, original);

  writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(manifest), schema: { migrations: 999, latest: "9999_future" } }));
  t.match((await parley("restore", backupDir, "--config", target.configPath)).stderr, /^parley: the backup's database has 999 migrations, more than this Parley .* knows/);
  writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(manifest), serverName: "other.test" }));
  t.match((await parley("restore", backupDir, "--config", target.configPath)).stderr, /^parley: the backup is of the server "other\.test" but the configuration names "school\.test"/);
  writeFileSync(manifestPath, "{ not json");
  t.match((await parley("restore", backupDir, "--config", target.configPath)).stderr, /^parley: .*manifest\.json is not valid JSON; the backup is damaged\n$/);
  mkdirSync(join(dir, "empty"));
  t.match((await parley("restore", join(dir, "empty"), "--config", target.configPath)).stderr, /has no manifest\.json; is it a directory made by "parley backup"\?\n$/);
  t.notOk(existsSync(target.dataDir), "still nothing written");

  writeFileSync(manifestPath, manifest);
  t.equal((await parley("restore", backupDir, "--config", target.configPath)).code, 0, "the intact backup restores");
});

t.test("backup without a database says where it looked", async (t) => {
  const { dir, dataDir, configPath } = workspace(t);
  t.same(await parley("backup", join(dir, "backup"), "--config", configPath), {
    code: 2,
    stdout: "",
    stderr: `parley: there is no database at ${join(dataDir, "parley.db")}; check storage.data_dir\n`,
  });
});
