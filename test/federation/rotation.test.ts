/**
 * Key rotation during delivery: a's batches to b pass through a relay that can hold them, so a
 * batch signed (request and checkpoint) under a's old key is still on its way when a rotates its
 * key. Everything is delivered, and a checkpoint signed under the old key still verifies at b
 * after b has learnt that key is retired.
 */
import t from "tap";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { startCluster } from "./cluster.ts";
import { until as untilShared, type TestServer } from "../helpers.ts";
import { rotateServerKey } from "../../federation/keys.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Waits for a state with a longer bound than the shared helper (real processes restart here). */
const until = (t: Test, what: string, check: () => boolean) => untilShared(t, what, check, 60_000);

/** An HTTP relay to `target`; while `holding`, `send` batches wait in `held` until released. */
async function startRelay() {
  const held: { req: IncomingMessage; res: ServerResponse; body: Buffer }[] = [];
  const relay = {
    target: "",
    holding: false,
    held,
    url: "",
    async forward(req: IncomingMessage, res: ServerResponse, body: Buffer) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && !["host", "connection", "content-length"].includes(k)) headers[k] = v;
      const answer = await fetch(`${relay.target}${req.url}`, { method: req.method, headers, body: req.method === "GET" ? undefined : new Uint8Array(body) });
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    },
    async release() {
      relay.holding = false;
      for (const h of held.splice(0)) await relay.forward(h.req, h.res, h.body);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (relay.holding && req.url?.endsWith("/send")) held.push({ req, res, body });
      else relay.forward(req, res, body).catch(() => res.writeHead(502).end());
    });
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}

const logOf = (s: TestServer, roomId: string) => s.app.parley.storage.sqlite.prepare("SELECT seq, event_id, type, sender, hash FROM room_events WHERE room_id = ? ORDER BY seq").all(roomId);

t.test("a rotates its key while a batch signed under the old one is in flight to b: everything is delivered, and the old checkpoint still verifies at b", async (t) => {
  const relay = await startRelay();
  const servers = await startCluster(["a.test", "b.test"], (name) => (name === "a.test" ? { federation: { peers: { "b.test": relay.url } } } : {}));
  const { "a.test": a, "b.test": b } = servers;
  relay.target = b.baseUrl;
  t.teardown(async () => {
    await relay.release().catch(() => undefined);
    for (const s of Object.values(servers)) await s.stop(true).catch(() => undefined);
    await relay.close();
  });
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);

  relay.holding = true;
  for (let i = 0; i < 10; i++) await alice.request("message.send", { roomId, txnId: `k${i}`, body: `before the rotation ${i}` });
  await until(t, "a batch is in flight, held", () => relay.held.length === 1);
  const inFlight = JSON.parse(relay.held[0].body.toString("utf8")) as { events: unknown[]; checkpoints: { keyId: string; ts: number }[] };
  const oldKey = a.app.parley.keys.current().keyId;
  t.equal(inFlight.checkpoints[0].keyId, oldKey, "the batch in flight is checkpointed under the old key");

  const { retired, current } = await rotateServerKey(a.app.parley.storage);
  await a.app.parley.keys.reload();
  t.equal(retired, oldKey);
  for (let i = 10; i < 20; i++) await alice.request("message.send", { roomId, txnId: `k${i}`, body: `after the rotation ${i}` });
  await relay.release();
  await until(t, "b holds all of a's log", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  t.same(logOf(b, roomId), logOf(a, roomId), "the same events, seqs and hashes");

  // b has met the new key (later batches are signed with it) and knows the old one is retired.
  t.equal(a.app.parley.keys.current().keyId, current, "a signs with the new key");
  const again = await a.app.parley.federation.request("b.test", "POST", "/send", inFlight);
  t.equal(again.status, 200, "the batch of old-key checkpoints, sent again under the new key, is taken");
  t.ok(
    (again.body.results as { status: string }[]).every((r) => r.status === "duplicate"),
    `each event is a duplicate, not a bad checkpoint: ${JSON.stringify(again.body.results.slice(0, 2))}`,
  );
  const known = await b.app.parley.federation.peers.lookupKey("a.test", oldKey);
  t.ok(known && known.validUntil !== null && inFlight.checkpoints[0].ts < known.validUntil, "b holds the old key as retired, after the checkpoint was made");
  t.equal(a.app.parley.keys.published().length, 2, "the old key stays published");
});
