/**
 * Web Push, server side, against a push service of our own on loopback that records what it
 * receives. Each subscription has a real P-256 key pair and auth secret, so the test decrypts
 * every payload (RFC 8291, aes128gcm) and checks the VAPID Authorization header (RFC 8292) with
 * jose. The cast: alice (owner of the Hillside School community and of #year5), bob and carol
 * (parents in #year5), frank (a community admin).
 */
import { createECDH, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import t from "tap";
import { importJWK, jwtVerify } from "jose";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { delay, nextFrame, ok, rawSocket, refusal, startServer, unthrottled, type TestServer } from "./helpers.ts";
import type { ConfigOverrides } from "../server/config/load.ts";
import { loadProtocol } from "../protocol/index.ts";

/** The protocol's schema of a message notification's payload (common#/$defs/WebPushMessage). */
const webPushMessage = loadProtocol().validator("common#/$defs/WebPushMessage");

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A push service on loopback: answers each path with the next status of its script (201 when none). */
async function openPushService(t: Test) {
  const received: Received[] = [];
  const scripts = new Map<string, number[]>();
  const waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { path: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const status = scripts.get(r.path)?.shift() ?? 201;
      res.writeHead(status).end();
      for (const w of [...waiters]) {
        if (w.match(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => http.close(() => resolve())));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    base,
    received,
    /** The statuses the next requests to `path` are answered with. */
    script: (path: string, statuses: number[]) => scripts.set(path, statuses),
    /** Resolves with the next request to `path`. */
    next: (path: string) => new Promise<Received>((resolve) => waiters.push({ match: (r) => r.path === path, resolve })),
    to: (path: string) => received.filter((r) => r.path === path),
  };
}

/** A browser's side of a subscription: its key pair and auth secret, and the JSON it sends. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, json: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } } };
}

/** Decrypts an aes128gcm Web Push body (RFC 8291 and RFC 8188) with the subscription's keys. */
function decrypt(sub: ReturnType<typeof browserSubscription>, body: Buffer): any {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const serverKey = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const shared = sub.ecdh.computeSecret(serverKey);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), sub.ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync("sha256", shared, sub.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then optional zero padding.
  let end = plain.length - 1;
  while (plain[end] === 0) end--;
  t.equal(plain[end], 2, "the payload ends with the last-record delimiter");
  return JSON.parse(plain.subarray(0, end).toString("utf8"));
}

/** Checks the VAPID Authorization header against the server's published key; returns the JWT's claims. */
async function verifyVapid(headers: IncomingHttpHeaders, publicKey: string, audience: string) {
  const m = /^vapid t=([^,]+), k=(.+)$/.exec(headers.authorization ?? "");
  if (!m) throw new Error(`not a VAPID header: ${headers.authorization}`);
  if (m[2] !== publicKey) throw new Error("the header's key is not the published one");
  const raw = Buffer.from(publicKey, "base64url");
  const key = await importJWK({ kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33, 65).toString("base64url") }, "ES256");
  const { payload, protectedHeader } = await jwtVerify(m[1], key, { audience });
  return { payload, protectedHeader };
}

/** Waits until the server has seen a client's socket close (no timing assumed: it polls). */
async function offline(server: TestServer, client: ParleyClient): Promise<void> {
  client.close();
  while (server.app.parley.hub.connectionsOf(client.userId)?.size) await delay(10);
}

const pushConfig: ConfigOverrides = { ...unthrottled, push: { allow_http_endpoints: true, retry_delays_ms: [10, 10] } } as ConfigOverrides;

async function openSchool(t: Test, opts: { now?: () => number } = {}) {
  const pushService = await openPushService(t);
  const server = await startServer(pushConfig, opts);
  t.teardown(() => server.stop(true));
  const [alice, bob, carol, frank] = await Promise.all(["alice", "bob", "carol", "frank"].map((n) => server.user(n)));
  const school = (await alice.request("community.create", { name: "Hillside School" })).roomId;
  const year5 = (await alice.request("group.create", { name: "Year 5", communityId: school })).roomId;
  const link = await alice.request("link.create", { roomId: school });
  for (const c of [bob, carol, frank]) await c.request("link.join", { token: link.token });
  for (const c of [bob, carol]) await c.request("group.join", { roomId: year5 });
  await alice.request("member.role", { roomId: school, userId: frank.userId, role: "admin" });
  const publicKey = (await alice.request("push.vapid_key", {})).publicKey;
  return { server, pushService, alice, bob, carol, frank, school, year5, publicKey };
}

let txn = 0;
const say = (c: ParleyClient, roomId: string, body: string, extra: Record<string, unknown> = {}) => c.request("message.send", { roomId, body, txnId: `p${++txn}`, ...extra });

t.test("bob, with no device connected, gets alice's message as an encrypted Web Push signed with the server's VAPID key", async (t) => {
  const { server, pushService, alice, bob, carol, year5, publicKey } = await openSchool(t);
  t.equal(Buffer.from(publicKey, "base64url").length, 65, "the VAPID key is an uncompressed P-256 point");
  const bobSub = browserSubscription(`${pushService.base}/push/bob`);
  const carolSub = browserSubscription(`${pushService.base}/push/carol`);
  t.same(await ok(t, bob, "push.subscribe", { subscription: bobSub.json }), { endpoint: bobSub.json.endpoint });
  await ok(t, carol, "push.subscribe", { subscription: carolSub.json });
  await offline(server, bob);

  const arrived = pushService.next("/push/bob");
  const sent = await say(alice, year5, "The trip is on Friday");
  const req = await arrived;
  t.equal(req.headers["content-encoding"], "aes128gcm");
  t.equal(req.headers.ttl, "86400");
  t.equal(req.headers.urgency, "normal");
  const { payload, protectedHeader } = await verifyVapid(req.headers, publicKey, pushService.base);
  t.equal(protectedHeader.alg, "ES256");
  t.equal(payload.sub, "mailto:postmaster@school.test", "the operator's contact");
  t.ok(typeof payload.exp === "number" && payload.exp * 1000 > Date.now(), "the token has not expired");
  t.ok(webPushMessage(decrypt(bobSub, req.body)), "the payload follows the protocol's WebPushMessage schema");
  t.same(decrypt(bobSub, req.body), {
    type: "message",
    reason: "message",
    roomId: year5,
    roomName: "Year 5",
    seq: sent.event.seq,
    sender: alice.userId,
    senderName: "Alice",
    kind: "text",
    body: "The trip is on Friday",
    ts: sent.event.ts,
  });
  await server.app.parley.push.idle();
  t.same(pushService.to("/push/carol"), [], "carol is connected: she gets the live push, not a notification");
  t.same(pushService.to("/push/bob").length, 1, "one notification per message");
});

t.test("the notification settings decide: mentions-only, muted, mentions through a mute, long texts cut", async (t) => {
  const { server, pushService, alice, bob, year5 } = await openSchool(t);
  const bobSub = browserSubscription(`${pushService.base}/push/bob`);
  await bob.request("push.subscribe", { subscription: bobSub.json });
  await bob.request("room.notify.set", { roomId: year5, level: "mentions" });
  await offline(server, bob);
  const push = server.app.parley.push;

  await say(alice, year5, "nothing for bob");
  await push.idle();
  t.same(pushService.to("/push/bob"), [], "mentions-only: a plain message does not notify");
  let arrived = pushService.next("/push/bob");
  await say(alice, year5, "@bob can you help?");
  let got = decrypt(bobSub, (await arrived).body);
  t.equal(got.reason, "mention");
  t.equal((await arrived).headers.urgency, "high");
  arrived = pushService.next("/push/bob");
  await say(alice, year5, "@all meeting at 6");
  t.equal(decrypt(bobSub, (await arrived).body).reason, "mention_all");

  const bob2 = await server.login("bob");
  await bob2.request("room.notify.set", { roomId: year5, level: "all", mutedUntil: Date.now() + 3600_000 });
  await offline(server, bob2);
  const before = pushService.to("/push/bob").length;
  await say(alice, year5, "muted for an hour");
  await say(alice, year5, "@all even this", { mentionAll: true });
  await push.idle();
  t.equal(pushService.to("/push/bob").length, before, "a muted room notifies nothing, @all included");
  arrived = pushService.next("/push/bob");
  await say(alice, year5, `@bob ${"x".repeat(500)}`);
  got = decrypt(bobSub, (await arrived).body);
  t.equal(got.reason, "mention", "a personal mention goes through the mute");
  t.ok(webPushMessage(got), "a cut text still follows the WebPushMessage schema");
  t.equal([...got.body].length, 200, "the text is cut");
  t.ok(got.body.endsWith("…"));
});

t.test("a reply under an announcement notifies its author, not every member", async (t) => {
  const { server, pushService, alice, bob, carol, frank, school } = await openSchool(t);
  const aliceSub = browserSubscription(`${pushService.base}/push/alice`);
  const bobSub = browserSubscription(`${pushService.base}/push/bob`);
  await alice.request("push.subscribe", { subscription: aliceSub.json });
  await bob.request("push.subscribe", { subscription: bobSub.json });
  const root = (await say(frank, school, "Sports day on Monday")).event.seq;
  const own = (await say(alice, school, "Bring water")).event.seq;
  await offline(server, alice);
  await offline(server, bob);
  const toAlice = pushService.next("/push/alice");
  await say(carol, school, "Thanks!", { threadRoot: own });
  await say(carol, school, "Great", { threadRoot: root });
  const got = decrypt(aliceSub, (await toAlice).body);
  t.match(got, { type: "message", reason: "thread_reply", roomId: school, body: "Thanks!" }, "the announcement's author hears of a reply");
  await server.app.parley.push.idle();
  t.equal(pushService.to("/push/alice").length, 1, "not of replies under someone else's announcement");
  t.same(pushService.to("/push/bob"), [], "a member is not told of replies");
});

t.test("a subscription answered 404 or 410 is dropped; a 5xx is retried; a lasting failure is logged and given up", async (t) => {
  const { server, pushService, alice, bob, carol, year5 } = await openSchool(t);
  const gone = browserSubscription(`${pushService.base}/push/gone`);
  const flaky = browserSubscription(`${pushService.base}/push/flaky`);
  const broken = browserSubscription(`${pushService.base}/push/broken`);
  await bob.request("push.subscribe", { subscription: gone.json });
  await bob.request("push.subscribe", { subscription: flaky.json });
  await carol.request("push.subscribe", { subscription: broken.json });
  pushService.script("/push/gone", [410]);
  pushService.script("/push/flaky", [503, 500]);
  pushService.script("/push/broken", [500, 502, 503]);
  await offline(server, bob);
  await offline(server, carol);
  const push = server.app.parley.push;

  const sent = await say(alice, year5, "First");
  await push.idle();
  t.equal(pushService.to("/push/gone").length, 1);
  t.equal(pushService.to("/push/flaky").length, 3, "retried twice, then accepted");
  t.equal(decrypt(flaky, pushService.to("/push/flaky")[2].body).seq, sent.event.seq, "the retry carries the same notification");
  t.equal(pushService.to("/push/broken").length, 3, "one try and two retries");
  t.ok(server.logs.some((l) => l.msg === "push delivery failed" && l.status === 503 && l.attempts === 3), "the lasting failure is logged");
  t.ok(server.logs.some((l) => l.msg === "push subscription gone; dropped" && l.status === 410));

  await say(alice, year5, "Second");
  await push.idle();
  t.equal(pushService.to("/push/gone").length, 1, "the dropped subscription gets nothing more");
  t.equal(pushService.to("/push/flaky").length, 4);
  t.equal(pushService.to("/push/broken").length, 4, "a failing subscription is kept (only 404 and 410 drop it)");
  const bob2 = await server.login("bob");
  t.same(await ok(t, bob2, "push.unsubscribe", { endpoint: gone.json.endpoint }), { endpoint: gone.json.endpoint, removed: false }, "it is gone");
  pushService.script("/push/flaky", [404]);
  await offline(server, bob2);
  await say(alice, year5, "Third");
  await push.idle();
  await say(alice, year5, "Fourth");
  await push.idle();
  t.equal(pushService.to("/push/flaky").length, 5, "a 404 drops it too");
});

t.test("subscribing and unsubscribing: https endpoints, valid keys, one's own subscriptions, dropped with the device", async (t) => {
  const pushService = await openPushService(t);
  const strict = await startServer(unthrottled);
  t.teardown(() => strict.stop(true));
  const alice = await strict.user("alice");
  const bob = await strict.user("bob");
  const https = browserSubscription("https://push.example.net/send/abc");
  t.same(await ok(t, alice, "push.subscribe", { subscription: https.json }), { endpoint: https.json.endpoint });
  t.equal(await refusal(alice.request("push.subscribe", { subscription: browserSubscription(`${pushService.base}/push/x`).json })), "push.invalid_subscription", "plain http is refused unless allowed");
  t.equal(await refusal(alice.request("push.subscribe", { subscription: { ...https.json, endpoint: "not a url" } })), "push.invalid_subscription");
  t.equal(await refusal(alice.request("push.subscribe", { subscription: { ...https.json, keys: { p256dh: "AAAA", auth: https.json.keys.auth } } })), "push.invalid_subscription", "a key that is no P-256 point");
  t.equal(await refusal(alice.request("push.subscribe", { subscription: { ...https.json, keys: { p256dh: https.json.keys.p256dh, auth: "AAAA" } } })), "push.invalid_subscription", "an auth secret that is not 16 bytes");
  t.equal(await refusal(alice.request("push.subscribe", { subscription: { endpoint: https.json.endpoint } } as never)), "invalid_params");
  t.equal(await refusal(alice.request("push.subscribe", { subscription: { ...https.json, keys: { p256dh: "not base64!", auth: "x" } } })), "invalid_params");
  t.equal(await refusal(alice.request("push.unsubscribe", {} as never)), "invalid_params");
  t.same(await ok(t, bob, "push.unsubscribe", { endpoint: https.json.endpoint }), { endpoint: https.json.endpoint, removed: false }, "not bob's to remove");
  t.same(await ok(t, alice, "push.unsubscribe", { endpoint: https.json.endpoint }), { endpoint: https.json.endpoint, removed: true });

  const phone = await strict.login("alice");
  await phone.request("push.subscribe", { subscription: https.json });
  await alice.request("device.revoke", { deviceId: phone.deviceId });
  const db = strict.app.parley.storage.sqlite;
  while ((db.prepare("SELECT count(*) AS n FROM push_subscriptions").get() as { n: number }).n > 0) await delay(10);
  t.pass("the revoked device's subscription is dropped");

  for (const op of ["push.vapid_key", "push.subscribe", "push.unsubscribe"]) {
    const ws = await rawSocket(strict);
    const answer = nextFrame(ws);
    ws.send(JSON.stringify({ id: "1", op, params: op === "push.vapid_key" ? {} : op === "push.subscribe" ? { subscription: https.json } : { endpoint: https.json.endpoint } }));
    t.equal((await answer).error.code, "auth.required", `${op}: unauthenticated`);
    ws.close();
  }

  const key = (await alice.request("push.vapid_key", {})).publicKey;
  const again = await strict.restart();
  t.teardown(() => again.stop(true));
  const alice2 = await again.login("alice");
  t.equal((await alice2.request("push.vapid_key", {})).publicKey, key, "the VAPID key is kept across restarts");
});

t.test("reports and calendar reminders reach people with no device connected", async (t) => {
  const clock = { t: Math.floor(Date.now() / 60_000) * 60_000 };
  const { server, pushService, alice, bob, carol, frank, school, year5 } = await openSchool(t, { now: () => clock.t });
  const frankSub = browserSubscription(`${pushService.base}/push/frank`);
  const bobSub = browserSubscription(`${pushService.base}/push/bob`);
  await frank.request("push.subscribe", { subscription: frankSub.json });
  await bob.request("push.subscribe", { subscription: bobSub.json });
  const seq = (await say(carol, year5, "rude words")).event.seq;
  const event = await alice.request("event.create", { roomId: year5, txnId: "e1", title: "Class assembly", start: clock.t + 86_400_000, timeZone: "Europe/London" });
  await bob.request("event.rsvp", { roomId: year5, seq: event.event.seq, answer: "going" });
  await offline(server, frank);
  await offline(server, bob);

  const toFrank = pushService.next("/push/frank");
  const tablet = await server.login("bob", { deviceName: "bob's tablet" });
  const report = await tablet.request("report.create", { roomId: year5, seq, reason: "rude" });
  t.same(decrypt(frankSub, (await toFrank).body), { type: "report.created", reportId: report.report.reportId, scopeId: school, roomId: year5 }, "an offline admin is told of a new report");
  await offline(server, tablet);

  const toBob = pushService.next("/push/bob");
  await alice.request("report.resolve", { reportId: report.report.reportId, action: "delete" });
  const outcome = await toBob;
  t.equal(outcome.headers.urgency, "high");
  t.same(decrypt(bobSub, outcome.body), { type: "report.resolved", reportId: report.report.reportId, outcome: "delete", roomId: year5, seq }, "the offline reporter is told the outcome");

  const toBobAgain = pushService.next("/push/bob");
  clock.t += 86_400_000 - 59 * 60_000;
  t.same(server.app.parley.reminders.runDue(), { sent: 1, skipped: 0 });
  t.same(decrypt(bobSub, (await toBobAgain).body), { type: "event.reminder", roomId: year5, seq: event.event.seq, title: "Class assembly", start: (event.event.content as { start: number }).start, offsetSeconds: 3600 }, "an offline member going is reminded by Web Push");
  await server.app.parley.push.idle();
  t.equal(pushService.to("/push/frank").length, 1, "frank did not answer the event: no reminder");
});
