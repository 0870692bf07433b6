/**
 * Prometheus metrics: off unless the operator opens them, behind a bearer token on the public
 * port or on a listener of their own; scraped over HTTP after real traffic, the counters move.
 */
import t from "tap";
import type WebSocket from "ws";
import { createMetrics } from "../server/metrics/index.ts";
import { Connection } from "../server/ws/connection.ts";
import { createLogger } from "../server/logger.ts";
import { post, startServer, type TestServer } from "./helpers.ts";

const metricsToken = "scrape-me-0123456789-abcdefghij";

/** Parses the exposition text into "name{labels}" -> value (labels in the order printed). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(url: string, token?: string): Promise<Map<string, number>> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
  return parseMetrics(await res.text());
}

const get = (m: Map<string, number>, key: string) => m.get(key) ?? 0;

t.test("metrics are off by default: no /metrics on the public port and no listener", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const res = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  t.equal(res.status, 404);
  t.equal((await res.json()).error.code, "not_found");
  t.equal(server.app.parley.metricsAddress(), null);
});

t.test("on the public port, /metrics answers only the configured bearer token", async (t) => {
  const server = await startServer({ metrics: { token: metricsToken } });
  t.teardown(() => server.stop(true));
  const none = await fetch(`${server.baseUrl}/metrics`);
  t.equal(none.status, 401, "no token");
  t.equal((await none.json()).error.code, "auth.required");
  const wrong = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken.slice(1)}x` } });
  t.equal(wrong.status, 401, "a wrong token");
  t.equal((await wrong.json()).error.code, "auth.invalid_token");
  const alice = await server.user("alice");
  const asUser = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${alice.session.accessToken}` } });
  t.equal(asUser.status, 401, "a user's access token is not the metrics token");
  const ok = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  t.equal(ok.status, 200);
  t.match(ok.headers.get("content-type"), /^text\/plain/);
  const text = await ok.text();
  t.match(text, /# HELP parley_ws_ops_total /);
  t.match(text, /process_resident_memory_bytes /, "with the process metrics");
  t.notOk(text.includes(metricsToken), "the token is not echoed");
});

t.test("a short metrics token is refused by the configuration", async (t) => {
  await t.rejects(startServer({ metrics: { token: "short" } }), /metrics\.token/);
});

t.test("a listener of its own serves the metrics, and real traffic moves the counters", async (t) => {
  const server: TestServer = await startServer({ metrics: { listen: "127.0.0.1:0" }, limits: { upload_bytes: 65536 } });
  t.teardown(() => server.stop(true));
  const url = `${server.app.parley.metricsAddress()}/metrics`;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  t.equal((await fetch(`${server.baseUrl}/metrics`)).status, 404, "not on the public port");
  t.equal((await fetch(url.replace(/metrics$/, "other"))).status, 404, "the listener serves nothing else");
  const before = await scrape(url);

  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const community = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: community.roomId });
  await bob.request("link.join", { token: link.token });
  const sent = await alice.request("message.send", { roomId: community.roomId, body: "Parents' evening is on Thursday.", txnId: "a-1" });
  await bob.request("message.send", { roomId: community.roomId, body: "Can I come too?", txnId: "b-1" }).catch(() => undefined);
  const nulls: unknown[] = [];
  bob.on("reply:null", (frame) => nulls.push(frame));
  bob.sendRaw("{ not json");
  await bob.request("ping", {});
  t.equal(nulls.length, 1, "the malformed frame was answered");
  const badLogin = await post(server, "/api/v1/auth/login", { username: "alice", password: "Wrong-Horse-0000" });
  t.equal(badLogin.status, 401);
  const file = Buffer.from("Homework: exercises 4 to 9, due Friday.\n");
  const uploaded = await fetch(`${server.baseUrl}/api/v1/media?name=homework.txt`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream" },
    body: file,
  });
  t.equal(uploaded.status, 201);
  const tooLarge = await fetch(`${server.baseUrl}/api/v1/media`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream" },
    body: Buffer.alloc(65537, 1),
  });
  t.equal(tooLarge.status, 413);
  await alice.request("event.create", { roomId: community.roomId, txnId: "e-1", title: "Parents' evening", timeZone: "Europe/London", start: Date.now() + 7 * 86_400_000, reminders: [3600, 600] });

  const after = await scrape(url);
  const moved = (key: string) => get(after, key) - get(before, key);
  t.equal(moved('parley_ws_ops_total{op="message.send",outcome="ok"}'), 1, "a sent message counts as message.send ok");
  t.equal(moved('parley_ws_ops_total{op="message.send",outcome="announcement.admins_only"}'), 1, "a refusal counts under its code");
  t.equal(moved('parley_ws_ops_total{op="link.join",outcome="ok"}'), 1);
  t.equal(moved('parley_ws_ops_total{op="(frame)",outcome="invalid_json"}'), 1, "a malformed frame counts under (frame)");
  t.ok(moved('parley_ws_ops_total{op="auth",outcome="ok"}') >= 2, "both sockets authenticated");
  t.equal(get(after, 'parley_ws_connections{state="authenticated"}'), 2, "two authenticated sockets are open");
  t.ok(moved("parley_group_commit_commands_count") >= 5, "each write went through a group commit");
  t.ok(moved("parley_group_commit_seconds_count") >= 5);
  t.ok(moved("parley_room_events_total") >= 5, "room events were committed");
  t.ok(get(after, 'parley_group_commit_commands_bucket{le="1"}') >= 1, "batch sizes fall into buckets");
  t.ok(moved("parley_fanout_frames_total") >= 2, "the message went out to both members");
  t.ok(moved("parley_fanout_bytes_total") > Buffer.byteLength("Parents' evening is on Thursday.") * 2, "with its bytes counted per recipient");
  t.equal(moved('parley_login_failures_total{reason="auth.invalid_credentials"}'), 1, "the wrong password counts as a login failure");
  t.equal(moved('parley_media_uploads_total{outcome="ok"}'), 1);
  t.equal(moved('parley_media_uploads_total{outcome="media.too_large"}'), 1);
  t.equal(moved("parley_media_upload_bytes_total"), file.length, "accepted upload bytes");
  t.equal(get(after, "parley_media_store_bytes"), file.length, "the store holds the one file");
  t.equal(get(after, "parley_media_store_files"), 1);
  t.equal(get(after, "parley_media_uploads_in_progress_bytes"), 0, "no upload is in progress");
  t.equal(get(after, 'parley_reminder_queue{kind="reminders"}'), 2, "the event's two reminders are scheduled");
  t.equal(get(after, 'parley_reminder_queue{kind="pending_pushes"}'), 0);
  t.ok(moved('parley_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"}') === 1, "HTTP requests by route pattern");
  t.notOk([...after.keys()].some((k) => k.includes(link.token)), "no invite token in any label");
  t.notOk([...after.keys()].some((k) => k.startsWith("parley_federation_")), "no federation metrics without federation");
  t.ok(sent.event.seq > 0);
});

t.test("a connection cut for a full send buffer counts as a slow-consumer close", async (t) => {
  const metrics = createMetrics();
  const socket = { bufferedAmount: 65537, send() {}, close() {}, terminate() {} };
  const conn = new Connection("ws_test", socket as unknown as WebSocket, createLogger("silent"), null, { sendBufferBytes: 65536, opsPerSecond: 1, opsBurst: 1 }, metrics.transport);
  t.equal(conn.sendRaw("frame"), false);
  const m = parseMetrics(await metrics.registry.metrics());
  t.equal(m.get("parley_ws_slow_consumer_closes_total"), 1);
});

t.test("the federation peer gauges appear only once a source is registered, with its values", async (t) => {
  const metrics = createMetrics();
  t.notMatch(await metrics.registry.metrics(), /parley_federation_/, "nothing before federation reports");
  const peers = [{ peer: "town.example", backlog: 12, failures: 3 }];
  metrics.addPeerSource(() => peers);
  const m = parseMetrics(await metrics.registry.metrics());
  t.equal(m.get('parley_federation_backlog_events{peer="town.example"}'), 12);
  t.equal(m.get('parley_federation_peer_failures{peer="town.example"}'), 3);
  peers[0].backlog = 0;
  t.equal(parseMetrics(await metrics.registry.metrics()).get('parley_federation_backlog_events{peer="town.example"}'), 0, "read at each scrape");
  t.throws(() => metrics.addPeerSource(() => []), "one source only");
});
