/**
 * The outbox's delivery rules against a peer whose answers the test controls: Retry-After is
 * honoured and is not a failure, only a successful send of our own resets the failure count
 * (asymmetric reachability), and a result per event moves the cursor over what was accepted.
 */
import t from "tap";
import { startServer, until } from "../helpers.ts";
import { startFakePeer } from "./peer.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


async function setup(t: Test) {
  const evil = await startFakePeer("peer.test");
  t.teardown(() => evil.close());
  const server = await startServer({ federation: { allow_plain_http: true, peers: { "peer.test": evil.baseUrl } } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  const target = { baseUrl: server.baseUrl, name: "school.test" };
  const status = () => server.app.parley.outbox.status().find((p) => p.server === "peer.test");
  return { evil, server, alice, roomId, token, target, status };
}

const allOk = (body: { events: { eventId: string }[] }) => ({ status: 200, body: { results: body.events.map((e) => ({ eventId: e.eventId, status: "ok" })) } });

t.test("a 503 with Retry-After is honoured and is not counted as a failure", async (t) => {
  const { evil, server, target, token, status } = await setup(t);
  evil.respond = () => ({ status: 503, headers: { "retry-after": "120" }, body: { error: { code: "unavailable", message: "busy" } } });
  const joined = await evil.call(target, "/propose", { sender: "@mallory:peer.test", op: "link.join", params: { token } });
  t.equal(joined.status, 200);
  await until(t, "the outbox tried the peer", () => evil.received.some((r) => r.path === "/send"));
  await until(t, "the answer was recorded", () => status()?.lastError === "retry-after 120s");
  const s = status()!;
  t.equal(s.failures, 0, "not a failure");
  t.ok(s.nextAttemptAt! - Date.now() > 100_000, "the next attempt waits the two minutes asked for");
  t.ok(s.backlog > 0, "nothing was dropped");
  t.equal(evil.received.filter((r) => r.path === "/send").length, 1, "no retry before the time asked");
  // The operator sees the same through the metrics: the peer's backlog, no failure.
  const scraped = await server.app.parley.metrics.registry.metrics();
  t.match(scraped, new RegExp(`parley_federation_backlog_events\\{peer="peer.test"\\} ${s.backlog}\\b`), "the backlog is a metric");
  t.match(scraped, /parley_federation_peer_failures\{peer="peer.test"\} 0\b/, "and the failures");
});

t.test("only a successful send of our own resets a peer's failures; its requests to us only bring the next attempt forward", async (t) => {
  const { evil, target, token, status } = await setup(t);
  evil.respond = () => ({ status: 500, body: { error: { code: "internal", message: "down" } } });
  await evil.call(target, "/propose", { sender: "@mallory:peer.test", op: "link.join", params: { token } });
  await until(t, "a first failure", () => (status()?.failures ?? 0) >= 1);
  const failures = status()!.failures;
  // The peer reaches us (asymmetric reachability): a wake, then a profile request.
  t.equal((await evil.call(target, "/wake", {})).status, 200);
  await until(t, "the early probe failed too", () => status()!.failures > failures);
  t.ok(status()!.failures > failures, "the failure count went on rising: inbound traffic did not reset it");
  // Now the peer accepts: the next send succeeds and resets the count.
  evil.respond = (path, body) => (path === "/send" ? allOk(body) : { status: 200, body: {} });
  t.equal((await evil.call(target, "/wake", {})).status, 200);
  await until(t, "delivered", () => status()!.backlog === 0);
  t.equal(status()!.failures, 0, "reset by the successful send");
  t.type(status()!.lastSuccessAt, "number");
  const sent = evil.received.filter((r) => r.path === "/send").at(-1)!.body;
  t.equal(sent.checkpoints.length, 1, "one checkpoint for the room's run");
  t.same(sent.events.map((e: { seq: number }) => e.seq), Array.from({ length: sent.events.length }, (_, i) => i + 1), "the room's log from its first event, in order");
});

t.test("a refused event holds its room's cursor there, and the events before it are acknowledged", async (t) => {
  const { evil, target, token, status, alice, roomId } = await setup(t);
  let refuseSeq = 0;
  evil.respond = (path, body) =>
    path === "/send"
      ? { status: 200, body: { results: body.events.map((e: { eventId: string; seq: number }) => ({ eventId: e.eventId, status: refuseSeq && e.seq >= refuseSeq ? "refused" : "ok", code: refuseSeq && e.seq >= refuseSeq ? "federation.gap" : undefined })) } }
      : { status: 200, body: {} };
  await evil.call(target, "/propose", { sender: "@mallory:peer.test", op: "link.join", params: { token } });
  await until(t, "caught up", () => status()?.backlog === 0);
  const head = status()!;
  t.equal(head.failures, 0);
  refuseSeq = (await alice.request("message.send", { roomId, txnId: "a", body: "refused" })).event.seq;
  await until(t, "the refusal was recorded", () => (status()?.failures ?? 0) >= 1);
  t.equal(status()!.backlog, 1, "the refused event stays in the backlog, never dropped");
});

t.test("parley federation status lists each peer with its backlog, failures and next attempt", async (t) => {
  const { evil, target, token, status, server } = await setup(t);
  evil.respond = () => ({ status: 500, body: { error: { code: "internal", message: "down" } } });
  await evil.call(target, "/propose", { sender: "@mallory:peer.test", op: "link.join", params: { token } });
  await until(t, "a failure", () => (status()?.failures ?? 0) >= 1);
  const { writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { runCli } = await import("../../server/cli.ts");
  const configPath = join(server.dataDir, "cli.toml");
  writeFileSync(configPath, `[server]\nname = "school.test"\n\n[storage]\ndata_dir = ${JSON.stringify(server.dataDir)}\n\n[log]\nlevel = "silent"\n`);
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await runCli(["federation", "status", "--config", configPath]);
  } finally {
    process.stdout.write = write;
  }
  t.equal(code, 0);
  const [header, row] = lines.join("").trim().split("\n");
  t.match(header, /^server\trooms\tbacklog\tfailures\tlast success\tnext attempt\tdormant\tlast error$/);
  const cells = row.split("\t");
  t.equal(cells[0], "peer.test");
  t.equal(cells[1], "1", "one room");
  t.ok(Number(cells[2]) > 0, "a backlog");
  t.ok(Number(cells[3]) >= 1, "failures");
  t.equal(cells[6], "no", "not dormant");
  t.match(cells[7], /HTTP 500/);
});

t.test("a message deleted for everyone before a peer got it reaches the peer redacted, from the log, and a message after it whole", async (t) => {
  const { evil, target, token, status, alice, roomId } = await setup(t);
  evil.respond = (path, body) => (path === "/send" ? allOk(body) : { status: 200, body: {} });
  await evil.call(target, "/propose", { sender: "@mallory:peer.test", op: "link.join", params: { token } });
  await until(t, "caught up", () => status()?.backlog === 0);
  // The peer stops answering; alice writes, thinks better of it, and writes again.
  evil.respond = () => ({ status: 500, body: { error: { code: "internal", message: "down" } } });
  const secret = (await alice.request("message.send", { roomId, txnId: "s", body: "The exam answers are 4, 9, 16" })).event.seq;
  await alice.request("message.delete", { roomId, seq: secret, forEveryone: true });
  const after = (await alice.request("message.send", { roomId, txnId: "t", body: "Revise chapter 3" })).event.seq;
  await until(t, "the peer failed at least once", () => (status()?.failures ?? 0) >= 1);
  evil.respond = (path, body) => (path === "/send" ? allOk(body) : { status: 200, body: {} });
  t.equal((await evil.call(target, "/wake", {})).status, 200);
  await until(t, "delivered", () => status()!.backlog === 0);
  const got = new Map<number, { content: Record<string, unknown> }>();
  for (const r of evil.received) if (r.path === "/send") for (const e of r.body.events) got.set(e.seq, e);
  t.same(got.get(secret)?.content, { kind: "text", redacted: true }, "the deleted message's content is the redacted one");
  t.notOk(JSON.stringify([...got.values()]).includes("exam answers"), "its words were in no batch");
  t.equal(got.get(after)?.content.body, "Revise chapter 3", "the later message whole");
});
