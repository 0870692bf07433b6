/**
 * `parley doctor`: what it finds in a configuration, a data directory, a public URL and a port,
 * what it tells the operator to fix, and its exit code (1 on any problem, 0 with warnings only).
 */
import t from "tap";
import { freePort } from "./federation/cluster.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parley } from "./cli-helpers.ts";
import { startServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** A config file in a fresh directory; `dataDir` is not created. */
function workspace(t: Test, settings: { port: number; host?: string; publicUrl?: string; dataDir?: string }) {
  const dir = mkdtempSync(join(tmpdir(), "parley-doctor-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = settings.dataDir ?? join(dir, "data");
  const configPath = join(dir, "parley.toml");
  writeFileSync(
    configPath,
    [
      `[server]\nname = "school.test"${settings.publicUrl ? `\npublic_url = "${settings.publicUrl}"` : ""}`,
      `[listen]\nhost = "${settings.host ?? "127.0.0.1"}"\nport = ${settings.port}`,
      `[storage]\ndata_dir = ${JSON.stringify(dataDir)}`,
    ].join("\n\n"),
  );
  return { dir, dataDir, configPath };
}

/** A port that was free a moment ago. */
t.test("a fresh configuration has no problems: the data directory will be created and the port is free", async (t) => {
  const port = await freePort();
  const { configPath, dataDir } = workspace(t, { port, publicUrl: "https://chat.school.test" });
  const r = await parley(["doctor", "--config", configPath]);
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, `ok    configuration ${configPath} is valid`);
  t.match(r.stdout, `ok    data directory ${dataDir} does not exist yet; it will be created at first start`);
  t.match(r.stdout, /ok {4}.* free where the data lives/);
  t.match(r.stdout, "ok    server.public_url is https://chat.school.test");
  t.match(r.stdout, `ok    127.0.0.1:${port} is free for the server`);
  t.match(r.stdout, /\nno problems found\n$/);
});

t.test("a port taken by another program is a problem, with the way to find it", async (t) => {
  // Something that is not Parley (nor HTTP): it greets and hangs up.
  const other: Server = createServer((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n"));
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    other.close();
  });
  const port = (other.address() as { port: number }).port;
  const { configPath } = workspace(t, { port, publicUrl: "https://chat.school.test" });
  const r = await parley(["doctor", "--config", configPath]);
  t.equal(r.code, 1);
  t.match(r.stdout, `FAIL  127.0.0.1:${port} is taken by another program\n      fix: find it (ss -ltnp 'sport = :${port}') and stop it, or set listen.port`);
  t.match(r.stdout, /\n1 problem\(s\) to fix\n$/);
});

t.test("the port served by this data directory's Parley is fine; by another Parley it is a problem", async (t) => {
  const server = await startServer({ listen: { port: await freePort() } });
  t.teardown(() => server.stop(true));
  const port = server.config.listen.port;
  const same = workspace(t, { port, dataDir: server.dataDir, publicUrl: "https://chat.school.test" });
  const ours = await parley(["doctor", "--config", same.configPath]);
  t.match(ours.stdout, `ok    127.0.0.1:${port} is served by this Parley (pid ${process.pid})`);
  t.match(ours.stdout, /ok {4}database .* passes its quick check and is up to date/);
  t.equal(ours.code, 0, ours.stdout);

  const elsewhere = workspace(t, { port, publicUrl: "https://chat.school.test" });
  const theirs = await parley(["doctor", "--config", elsewhere.configPath]);
  t.equal(theirs.code, 1);
  t.match(theirs.stdout, `FAIL  127.0.0.1:${port} is served by another Parley ("school.test"), not the one of this data directory`);
});

t.test("a data directory that is a file, and links that would point at the users' own machines, are problems", async (t) => {
  const port = await freePort();
  const { configPath, dir } = workspace(t, { port, host: "0.0.0.0", dataDir: "" });
  const file = join(dir, "not-a-dir");
  writeFileSync(file, "");
  writeFileSync(configPath, `[server]\nname = "school.test"\n\n[listen]\nhost = "0.0.0.0"\nport = ${port}\n\n[storage]\ndata_dir = ${JSON.stringify(file)}\n`);
  const r = await parley(["doctor", "--config", configPath]);
  t.equal(r.code, 1);
  t.match(r.stdout, `FAIL  data directory ${file} is not a directory\n      fix: point storage.data_dir at a directory`);
  t.match(r.stdout, `FAIL  server.public_url is http://127.0.0.1:${port} but the server listens for others on 0.0.0.0: invite links would point at their own machine`);
  t.match(r.stdout, /\n2 problem\(s\) to fix\n$/);
});

t.test("an invalid configuration is one problem, named, with exit code 1", async (t) => {
  const { configPath } = workspace(t, { port: 8080 });
  writeFileSync(configPath, `[listen]\nport = "eighty"\n`);
  const r = await parley(["doctor", "--config", configPath]);
  t.equal(r.code, 1);
  t.match(r.stdout, /^FAIL {2}configuration: .*parley\.toml: "listen\.port" must be an integer\n {6}fix: correct the file/);
  t.equal(r.stderr, "");
});

t.test("the default server name is a warning, not a problem", async (t) => {
  const { configPath } = workspace(t, { port: await freePort(), publicUrl: "https://chat.school.test" });
  writeFileSync(configPath, (await import("node:fs")).readFileSync(configPath, "utf8").replace('name = "school.test"', 'name = "localhost"'));
  const r = await parley(["doctor", "--config", configPath]);
  t.equal(r.code, 0);
  t.match(r.stdout, 'warn  server.name is "localhost"');
  t.match(r.stdout, /\nno problems; 1 warning\(s\)\n$/);
});
