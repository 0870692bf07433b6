/**
 * The WebSocket protocol core: authentication and its renewal, the initial ops, every way a frame
 * is refused, the per-connection rate limit and heartbeats. The SDK plays a well-behaved client;
 * raw `ws` sockets play the badly behaved ones.
 */
import t from "tap";
import sharp from "sharp";
import WebSocket from "ws";
import { AccessTokens } from "../server/accounts/tokens.ts";
import { createLogger } from "../server/logger.ts";
import { Connection } from "../server/ws/connection.ts";
import { errorCatalogue } from "../server/errors.ts";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { closeOf, delay, password, post, rawSocket, schemaErrors, sessionEnd, startServer, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function serverFor(t: Test, overrides: Parameters<typeof startServer>[0] = {}, opts: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const server = await startServer(overrides, opts);
  t.teardown(() => server.stop(true));
  return server;
}

/**
 * A raw socket that queues every frame it receives, so that none is missed between awaits, and
 * checks each reply against the frame schema.
 */
class RawClient {
  private readonly queue: any[] = [];
  private readonly waiting: ((frame: any) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    this.closed = closeOf(ws);
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      const waiter = this.waiting.shift();
      if (waiter) waiter(frame);
      else this.queue.push(frame);
    });
  }

  static async open(server: TestServer): Promise<RawClient> {
    return new RawClient(await rawSocket(server));
  }

  /** Opens a socket and authenticates it with a token; fails the test if that is refused. */
  static async authenticated(t: Test, server: TestServer, token: string): Promise<RawClient> {
    const client = await RawClient.open(server);
    const reply = await client.request("auth", { token });
    t.equal(reply.ok, true, "the socket authenticates");
    return client;
  }

  send(data: string | Buffer | object, options?: { binary?: boolean }): void {
    this.ws.send(typeof data === "string" || Buffer.isBuffer(data) ? data : JSON.stringify(data), options ?? {});
  }

  /** The next frame received, whatever it is. */
  next(timeoutMs = 5000): Promise<any> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame in time")), timeoutMs);
      this.waiting.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  /** The next frame, which must be a reply that follows the frame schema. */
  async reply(t: Test): Promise<any> {
    const frame = await this.next();
    t.same(schemaErrors("frames#/$defs/Reply", frame), [], "the reply follows the frame schema");
    return frame;
  }

  /** Sends one request and waits for the next frame (the reply, on a quiet socket). */
  async request(op: string, params: unknown = {}): Promise<any> {
    const id = this.nextId++;
    this.send({ id, op, params });
    const frame = await this.next();
    if (frame.id !== id) throw new Error(`expected the reply to ${id}, got ${JSON.stringify(frame)}`);
    return frame;
  }

  /** Frames received and not yet read. */
  pending(): any[] {
    return [...this.queue];
  }

  close(): void {
    this.ws.close();
  }
}

/** Asserts a WebSocket refusal: a reply with ok false, the id, the catalogue code. */
function refusedReply(t: Test, frame: any, id: string | number | null, code: keyof typeof errorCatalogue, what?: string): void {
  t.same({ id: frame.id, ok: frame.ok, code: frame.error?.code }, { id, ok: false, code }, what ?? code);
  t.same(schemaErrors("frames#/$defs/Reply", frame), [], `${what ?? code}: the reply follows the frame schema`);
}

/** Uploads a small image as the token's user and returns its media id (for avatars). */
async function upload(server: TestServer, token: string, name: string): Promise<string> {
  // A distinct 2x2 PNG per name, so that each user uploads their own file.
  const shade = [...name].reduce((n, c) => (n * 31 + c.charCodeAt(0)) % 256, 7);
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: shade, g: 80, b: 160 } } }).png().toBuffer();
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: png,
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.mediaId;
}

/** Logs alice (or anyone) in over HTTP and returns the session body. */
async function loginBody(server: TestServer, username: string): Promise<any> {
  const res = await post(server, "/api/v1/auth/login", { username, password });
  if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

t.test("alice authenticates her socket and asks who she is", async (t) => {
  const server = await serverFor(t);
  const alice = await server.user("alice", { connect: false });
  const auth = await alice.connect();
  t.same(schemaErrors("op/auth#/$defs/result", auth), []);
  t.equal(auth.userId, "@alice:school.test");
  t.equal(auth.deviceId, alice.deviceId);
  t.equal(auth.expiresAt, alice.session.accessTokenExpiresAt);

  const info = await alice.request("session.info", {});
  t.same(schemaErrors("op/session.info#/$defs/result", info), []);
  t.same(info, {
    userId: "@alice:school.test",
    deviceId: alice.deviceId,
    sessionId: auth.sessionId,
    server: "school.test",
    expiresAt: alice.session.accessTokenExpiresAt,
    isAdmin: false,
  });
  const ping = await alice.request("ping", {});
  t.same(schemaErrors("op/ping#/$defs/result", ping), []);
  t.ok(Math.abs(ping.time - Date.now()) < 60_000, "ping answers with the server's clock");
});

t.test("device.list shows alice's live devices, newest first, and marks the one asking", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice", { deviceName: "Alice's laptop" });
  const phone = await server.login("alice", { deviceName: "Alice's phone" });
  await server.user("bob");
  const { devices } = await phone.request("device.list", {});
  t.same(schemaErrors("op/device.list#/$defs/result", { devices }), []);
  t.same(
    devices.map((d) => ({ deviceId: d.deviceId, name: d.name, current: d.current })),
    [
      { deviceId: phone.deviceId, name: "Alice's phone", current: true },
      { deviceId: laptop.deviceId, name: "Alice's laptop", current: false },
    ],
    "only alice's devices, the phone first",
  );
  for (const d of devices) t.ok(d.lastSeenAt >= d.createdAt, `${d.name} was seen when its socket authenticated`);
  const fromLaptop = await laptop.request("device.list", {});
  t.same(fromLaptop.devices.find((d) => d.current)?.deviceId, laptop.deviceId, "from the laptop, the laptop is current");
});

t.test("profile.get reads alice's own profile or bob's, and refuses unknown and malformed ids", async (t) => {
  const server = await serverFor(t);
  const alice = await server.user("alice");
  await server.user("bob");
  const own = await alice.request("profile.get", {});
  t.same(schemaErrors("op/profile.get#/$defs/result", own), []);
  t.same(own, { userId: "@alice:school.test", displayName: "Alice", about: "", avatar: null });
  const bob = await alice.request("profile.get", { userId: "@bob:school.test" });
  t.same(schemaErrors("op/profile.get#/$defs/result", bob), []);
  t.same(bob, { userId: "@bob:school.test", displayName: "Bob", about: "", avatar: null });
  await t.rejects(alice.request("profile.get", { userId: "@zoe:school.test" }), { code: "user.not_found" }, "a user who does not exist");
  await t.rejects(alice.request("profile.get", { userId: "bob" }), { code: "invalid_params" }, "a bare name is not a user id");
});

t.test("profile.update changes only the given fields; alice's other device is told, the asking one is not", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const bob = await server.user("bob");
  const laptopPushes: unknown[] = [];
  laptop.on("profile.updated", (data) => laptopPushes.push(data));
  const told = phone.next("profile.updated");

  const updated = await laptop.request("profile.update", { displayName: "  Alice Smith ", about: "Maths teacher" });
  t.same(schemaErrors("op/profile.update#/$defs/result", updated), []);
  t.same(updated, { userId: "@alice:school.test", displayName: "Alice Smith", about: "Maths teacher", avatar: null }, "the display name is trimmed");
  const push = await told;
  t.same(schemaErrors("push/profile.updated", push), []);
  t.same(push, updated, "the phone receives the new profile");
  // The server pushes to the other devices before it replies, so by now a push to the laptop
  // would have arrived.
  t.same(laptopPushes, [], "the laptop, which asked, gets the reply only");

  const picture = await upload(server, laptop.session.accessToken, "alice.png");
  t.same(await laptop.request("profile.update", { avatar: picture }), { ...updated, avatar: picture }, "only the avatar changes");
  t.same(await laptop.request("profile.update", { avatar: null }), updated, "null removes the avatar");
  const bobsPicture = await upload(server, bob.session.accessToken, "bob.png");
  await t.rejects(laptop.request("profile.update", { avatar: bobsPicture }), { code: "media.not_found" }, "a file alice may not read is no avatar for her");
  t.same(await bob.request("profile.get", { userId: "@alice:school.test" }), updated, "bob reads the new profile");
});

t.test("profile.update refuses empty, oversized and blank changes, and changes nothing", async (t) => {
  const server = await serverFor(t);
  const alice = await server.user("alice");
  const refusals: [string, Record<string, unknown>][] = [
    ["no field at all", {}],
    ["a 65-character display name", { displayName: "x".repeat(65) }],
    ["an empty display name", { displayName: "" }],
    ["an about text of 501 characters", { about: "y".repeat(501) }],
    ["an avatar that is a number", { avatar: 7 }],
    ["a field the op does not have", { nickname: "Al" }],
  ];
  for (const [what, params] of refusals) await t.rejects(alice.request("profile.update", params as never), { code: "invalid_params" }, what);
  await t.rejects(alice.request("profile.update", { displayName: "   " }), { code: "invalid_params", message: /displayName must not be blank/ }, "a blank display name");
  t.same(await alice.request("profile.get", {}), { userId: "@alice:school.test", displayName: "Alice", about: "", avatar: null });
  t.ok(alice.connected, "bad params do not cost alice her socket");
});

t.test("device.revoke of alice's phone sends it session.revoked and closes it with 4003", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const ended = sessionEnd(phone);
  const result = await laptop.request("device.revoke", { deviceId: phone.deviceId });
  t.same(schemaErrors("op/device.revoke#/$defs/result", result), []);
  t.same(result, { revoked: phone.deviceId });
  const end = await ended;
  t.same(end.order, ["session.revoked", "close 4003"]);
  t.same(end.revoked, { reason: "revoked" });
  t.same(schemaErrors("push/session.revoked", end.revoked), []);
  t.same((await laptop.request("device.list", {})).devices.map((d) => d.deviceId), [laptop.deviceId], "the phone is gone from the list");
  const refresh = await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken });
  t.equal(refresh.body.error.code, "auth.invalid_refresh_token", "the phone's refresh token is dead");
  const again = await RawClient.open(server);
  const reply = await again.request("auth", { token: phone.session.accessToken });
  refusedReply(t, reply, 1, "auth.invalid_token", "the phone's access token no longer opens a socket");
  t.equal((await again.closed).code, 4001);
});

t.test("device.revoke refuses devices that are not alice's own live ones with device.not_found", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const bob = await server.user("bob");
  await t.rejects(laptop.request("device.revoke", { deviceId: bob.deviceId }), { code: "device.not_found" }, "bob's device");
  t.equal((await bob.request("session.info", {})).deviceId, bob.deviceId, "bob's socket is untouched");
  await t.rejects(laptop.request("device.revoke", { deviceId: "dv_doesnotexist" }), { code: "device.not_found" }, "a device that never existed");
  await laptop.request("device.revoke", { deviceId: phone.deviceId });
  await t.rejects(laptop.request("device.revoke", { deviceId: phone.deviceId }), { code: "device.not_found" }, "a device already revoked");
  await t.rejects(laptop.request("device.revoke", { deviceId: "x" }), { code: "invalid_params" }, "a malformed device id");
  await t.rejects(laptop.request("device.revoke", {} as never), { code: "invalid_params" }, "no device id");
});

t.test("revoking her own device logs alice's socket out with 4003", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const ended = sessionEnd(laptop);
  laptop.request("device.revoke", { deviceId: laptop.deviceId }).catch(() => {
    /* the socket closes with the revocation; see below */
  });
  const end = await ended;
  t.same(end.order, ["session.revoked", "close 4003"]);
  t.same(end.revoked, { reason: "revoked" });
});

t.test("a request right behind its device's revocation is not carried out", async (t) => {
  // Regression: frames read in the same chunk as the revoking one still ran their op (only the
  // reply was swallowed), so a revoked device could still act.
  const server = await serverFor(t);
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.authenticated(t, server, alice.accessToken);
  const tcp = (raw.ws as unknown as { _socket: import("node:net").Socket })._socket;
  tcp.cork(); // both frames leave in one segment and are read together
  raw.send({ id: 2, op: "device.revoke", params: { deviceId: alice.deviceId } });
  raw.send({ id: 3, op: "profile.update", params: { about: "written after revocation" } });
  process.nextTick(() => tcp.uncork());
  t.equal((await raw.closed).code, 4003);
  t.same(
    raw.pending(),
    [
      { push: "session.revoked", data: { reason: "revoked" } },
      { id: 2, ok: true, result: { revoked: alice.deviceId } },
    ],
    "the revoking request is answered; the one behind it is not carried out",
  );
  const again = await loginBody(server, "alice");
  t.equal((await profileOf(server, again.accessToken) as { about: string }).about, "", "the profile was not changed");
});

t.test("ops before auth are refused with auth.required, which does not count as garbage", async (t) => {
  const server = await serverFor(t, { limits: { ws_invalid_frames_before_close: 3 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.open(server);
  for (const [i, op] of ["session.info", "device.list", "profile.get", "ping", "session.info"].entries()) {
    raw.send({ id: `early-${i}`, op, params: {} });
    const reply = await raw.reply(t);
    refusedReply(t, reply, `early-${i}`, "auth.required", `${op} before auth`);
    t.equal(reply.error.message, "Send auth with an access token first.");
  }
  t.equal((await raw.request("auth", { token: alice.accessToken })).ok, true, "five refusals later the socket is still open and authenticates");
  t.equal((await raw.request("session.info")).result.userId, "@alice:school.test");
  raw.close();
});

t.test("auth with a garbage token is answered with an error, then the socket is closed with 4001", async (t) => {
  const server = await serverFor(t);
  const raw = await RawClient.open(server);
  raw.send({ id: 1, op: "auth", params: { token: "garbage" } });
  const reply = await raw.reply(t);
  refusedReply(t, reply, 1, "auth.invalid_token");
  t.equal(reply.error.message, "The access token is invalid, expired or revoked.");
  t.same(await raw.closed, { code: 4001, reason: "authentication failed" });
});

t.test("auth without a token is invalid_params and leaves the socket open for a proper auth", async (t) => {
  const server = await serverFor(t);
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.open(server);
  refusedReply(t, await raw.request("auth", {}), 1, "invalid_params");
  t.equal((await raw.request("auth", { token: alice.accessToken })).ok, true);
  raw.close();
});

t.test("a socket that does not authenticate within limits.ws_auth_timeout_seconds is closed with 4001", async (t) => {
  const server = await serverFor(t, { limits: { ws_auth_timeout_seconds: 1 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const silent = await RawClient.open(server);
  const prompt = await RawClient.authenticated(t, server, alice.accessToken);
  t.same(await silent.closed, { code: 4001, reason: "authentication timed out" });
  t.equal((await prompt.request("ping")).ok, true, "a socket that authenticated in time stays open");
  prompt.close();
});

t.test("an expired access token is refused, and a renewal must be a fresh token of the same device", async (t) => {
  // The server's clock: the wall clock plus an offset the test moves forward.
  let offset = 0;
  const server = await serverFor(t, {}, { now: () => Date.now() + offset });
  const laptop = (await post(server, "/api/v1/auth/register", { username: "alice", password, deviceName: "Alice's laptop" })).body;
  const phone = await loginBody(server, "alice");

  const socket = await RawClient.authenticated(t, server, laptop.accessToken);
  const other = await socket.request("auth", { token: phone.accessToken });
  refusedReply(t, other, 2, "auth.invalid_token", "a renewal with the phone's token on the laptop's socket");
  t.equal(other.error.message, "A renewal token must belong to the same device.");
  t.equal((await socket.request("session.info")).result.deviceId, laptop.deviceId, "the socket is still the laptop's");

  offset += 901_000; // past tokens.access_ttl_seconds (900)
  const late = await RawClient.open(server);
  refusedReply(t, await late.request("auth", { token: laptop.accessToken }), 1, "auth.invalid_token", "a new socket with the expired token");
  t.equal((await late.closed).code, 4001, "which is then closed with 4001");
  refusedReply(t, await socket.request("auth", { token: laptop.accessToken }), 4, "auth.invalid_token", "a renewal with the expired token");
  const http = await post(server, "/api/v1/auth/logout", {}, laptop.accessToken);
  t.same([http.status, http.body.error.code], [401, "auth.invalid_token"], "HTTP refuses the expired token too");

  const fresh = (await post(server, "/api/v1/auth/refresh", { refreshToken: laptop.refreshToken })).body;
  const renewed = await socket.request("auth", { token: fresh.accessToken });
  t.equal(renewed.ok, true, "a fresh token of the same device renews the socket");
  t.same(schemaErrors("op/auth#/$defs/result", renewed.result), []);
  t.equal(renewed.result.expiresAt, fresh.accessTokenExpiresAt);
  t.equal((await socket.request("session.info")).result.expiresAt, fresh.accessTokenExpiresAt, "session.info reports the new expiry");
  socket.close();
});

t.test("a socket whose access token expires without renewal is closed with 4002", async (t) => {
  const server = await serverFor(t);
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  // Access tokens live at least 30 s by configuration; mint 3-second ones for alice's device with
  // the server's own signing secret, so that the expiry timer fires without a long wait.
  const { value } = server.app.parley.storage.sqlite.prepare("SELECT value FROM secrets WHERE name = 'access_token_hs256'").get() as { value: string };
  const shortLived = new AccessTokens(Buffer.from(value, "base64"), "school.test", 3);

  const lapsing = await RawClient.authenticated(t, server, (await shortLived.issue(alice.userId, alice.deviceId)).token);
  const renewing = await RawClient.authenticated(t, server, (await shortLived.issue(alice.userId, alice.deviceId)).token);
  t.equal((await renewing.request("auth", { token: alice.accessToken })).ok, true, "one socket renews with a long-lived token");
  t.same(await lapsing.closed, { code: 4002, reason: "access token expired" }, "the other is closed when its token expires");
  t.equal((await renewing.request("ping")).ok, true, "the renewed socket stays open");
  renewing.close();
});

t.test("every malformed frame gets a coded error and never reaches an op", async (t) => {
  const server = await serverFor(t, { limits: { frame_bytes: 1024, ws_invalid_frames_before_close: 100 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.authenticated(t, server, alice.accessToken);

  raw.send(Buffer.from(JSON.stringify({ id: 1, op: "ping" })), { binary: true });
  let reply = await raw.reply(t);
  refusedReply(t, reply, null, "invalid_frame", "a binary frame");
  t.equal(reply.error.message, "Frames must be JSON text frames.");

  raw.send("{ not json");
  reply = await raw.reply(t);
  refusedReply(t, reply, null, "invalid_json", "text that is not JSON, answered with id null");
  t.equal(reply.error.message, "The frame is not valid JSON.");

  raw.send({ id: 7 });
  reply = await raw.reply(t);
  refusedReply(t, reply, 7, "invalid_frame", "a frame without op keeps its id");
  t.match(reply.error.details, { reason: /op/ });

  raw.send([1, 2]);
  refusedReply(t, await raw.reply(t), null, "invalid_frame", "a JSON array");
  raw.send({ id: { nested: true }, op: "ping" });
  refusedReply(t, await raw.reply(t), null, "invalid_frame", "an id that is neither string nor number");
  raw.send({ id: 8, op: "ping", params: [] });
  refusedReply(t, await raw.reply(t), 8, "invalid_frame", "params that are not an object");
  raw.send({ id: 9, op: "ping", extra: true });
  refusedReply(t, await raw.reply(t), 9, "invalid_frame", "a field frames do not have");

  raw.send({ id: 10, op: "no.such.op", params: {} });
  reply = await raw.reply(t);
  refusedReply(t, reply, 10, "unknown_op");
  t.equal(reply.error.message, 'There is no op "no.such.op".');

  raw.send({ id: 11, op: "profile.update", params: {} });
  refusedReply(t, await raw.reply(t), 11, "invalid_params", "profile.update with {}");
  raw.send({ id: 12, op: "profile.update", params: { displayName: "x".repeat(65) } });
  reply = await raw.reply(t);
  refusedReply(t, reply, 12, "invalid_params", "profile.update with a 65-character display name");
  t.match(reply.error.details, { path: "/displayName" });

  raw.send({ id: 13, op: "ping", params: { pad: "x".repeat(2000) } });
  reply = await raw.reply(t);
  refusedReply(t, reply, null, "frame_too_large", "a frame above limits.frame_bytes");
  t.same(reply.error.details, { limit: 1024 });

  raw.send({ id: "after", op: "ping" });
  reply = await raw.reply(t);
  t.same([reply.id, reply.ok], ["after", true], "the socket still works, and a string id without params is fine");
  t.same(await profileOf(server, alice.accessToken), { userId: "@alice:school.test", displayName: "alice", about: "", avatar: null }, "no refused profile.update reached the profile");

  raw.send({ id: 14, op: "ping", params: { pad: "x".repeat(5000) } });
  t.equal((await raw.closed).code, 1009, "a frame above four times the limit closes the socket with 1009");
});

/** Reads a profile on a socket of its own. */
async function profileOf(server: TestServer, token: string): Promise<unknown> {
  const ws = new RawClient(await rawSocket(server));
  await ws.request("auth", { token });
  const reply = await ws.request("profile.get");
  ws.close();
  return reply.result;
}

t.test("a client that keeps sending garbage is disconnected with 4000", async (t) => {
  const server = await serverFor(t, { limits: { ws_invalid_frames_before_close: 3 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.authenticated(t, server, alice.accessToken);
  raw.send("x");
  raw.send("x");
  refusedReply(t, await raw.reply(t), null, "invalid_json", "garbage 1");
  refusedReply(t, await raw.reply(t), null, "invalid_json", "garbage 2");
  t.equal((await raw.request("ping")).ok, true, "a valid frame forgives one invalid one");
  raw.send("x");
  raw.send("x");
  refusedReply(t, await raw.reply(t), null, "invalid_json", "garbage 3");
  refusedReply(t, await raw.reply(t), null, "invalid_json", "garbage 4, the third counted");
  t.same(await raw.closed, { code: 4000, reason: "too many invalid frames" });

  const stranger = await RawClient.open(server);
  for (let i = 0; i < 3; i++) stranger.send({ id: i, op: "no.such.op" });
  t.equal((await stranger.closed).code, 4000, "a socket that never authenticated is cut off the same way");
});

t.test("past the per-connection rate, requests get rate_limited, and the budget refills", async (t) => {
  const server = await serverFor(t, { limits: { ws_ops_per_second: 1, ws_ops_burst: 5 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.authenticated(t, server, alice.accessToken); // auth spends one op of five
  for (let id = 1; id <= 7; id++) raw.send({ id, op: "ping" });
  const replies = [];
  for (let i = 0; i < 7; i++) replies.push(await raw.reply(t));
  // Refusals are answered at once and served requests after their op ran, so replies may
  // overtake each other; the ids tell them apart.
  replies.sort((a, b) => a.id - b.id);
  t.same(replies.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7], "every request is answered");
  const served = replies.filter((r) => r.ok).length;
  t.ok(served >= 4 && served <= 5, `the remaining burst is served (${served})`);
  t.ok(replies.slice(0, served).every((r) => r.ok), "the first requests, within the budget, are served");
  for (const r of replies.slice(served)) refusedReply(t, r, r.id, "rate_limited", `request ${r.id}`);
  await delay(1100);
  t.equal((await raw.request("ping")).ok, true, "a second later the budget has refilled by ws_ops_per_second");
  raw.close();
});

t.test("a client that floods past its rate is disconnected with 4008", async (t) => {
  const server = await serverFor(t, { limits: { ws_ops_per_second: 1, ws_ops_burst: 5 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const raw = await RawClient.authenticated(t, server, alice.accessToken);
  for (let id = 1; id <= 30; id++) raw.send({ id, op: "ping" });
  const { code, reason } = await raw.closed;
  t.same({ code, reason }, { code: 4008, reason: "rate limit exceeded" });
  const limited = raw.pending().filter((f) => f.error?.code === "rate_limited");
  t.equal(limited.length, 6, "closed at the refusal after ws_ops_burst refusals in a row");
  t.ok(limited.every((f) => f.id > 4), "the refused requests are those past the budget");
});

t.test("heartbeats: a client that stops answering pings is cut off, one that answers stays", async (t) => {
  const server = await serverFor(t, { limits: { ws_heartbeat_seconds: 1 } });
  const alice = (await post(server, "/api/v1/auth/register", { username: "alice", password })).body;
  const url = `${server.baseUrl.replace("http", "ws")}/api/v1/ws`;
  const deafSocket = new WebSocket(url, { autoPong: false });
  await new Promise((resolve, reject) => deafSocket.once("open", resolve).once("error", reject));
  const deaf = new RawClient(deafSocket);
  t.equal((await deaf.request("auth", { token: alice.accessToken })).ok, true);
  const lively = await RawClient.authenticated(t, server, alice.accessToken);
  let pings = 0;
  deafSocket.on("ping", () => pings++);

  const { code } = await deaf.closed;
  t.equal(code, 1006, "the silent socket is terminated without a close handshake");
  t.ok(pings >= 1, "after it was pinged");
  t.equal(lively.ws.readyState, WebSocket.OPEN, "the socket that answers pings stays open");
  t.equal((await lively.request("ping")).ok, true);
  lively.close();
});

t.test("the SDK gets the same refusals as a raw client, as ParleyRequestError with the catalogue code", async (t) => {
  const server = await serverFor(t);
  const alice: ParleyClient = await server.user("alice");
  await t.rejects(alice.request("no.such.op" as never, {} as never), { name: "ParleyRequestError", code: "unknown_op" });
  const nulls: any[] = [];
  alice.on("reply:null", (frame) => nulls.push(frame));
  alice.sendRaw("{ not json");
  t.equal((await alice.request("ping", {})).time > 0, true);
  t.same(nulls.map((f) => f.error.code), ["invalid_json"], "a reply with id null reaches the SDK's reply:null handlers");
});

t.test("a connection whose send buffer is past ws_send_buffer_bytes is closed with 4009 instead of buffering more", async (t) => {
  // Loopback's kernel buffers swallow megabytes before a paused reader makes the server buffer,
  // so the bound is exercised on the connection itself with a socket that reports its backlog.
  const sent: unknown[] = [];
  const closes: [number, string][] = [];
  const socket = { bufferedAmount: 0, send: (data: unknown) => sent.push(data), close: (code: number, reason: string) => closes.push([code, reason]), terminate() {} };
  const conn = new Connection("ws_test", socket as unknown as WebSocket, createLogger("silent"), null, { sendBufferBytes: 65536, opsPerSecond: 1, opsBurst: 1 });
  t.equal(conn.sendRaw("first"), true);
  socket.bufferedAmount = 65536;
  t.equal(conn.sendRaw("second"), true, "a backlog at the bound is still served");
  socket.bufferedAmount = 65537;
  t.equal(conn.sendRaw("third"), false, "past the bound nothing more is queued");
  t.same(sent, ["first", "second"]);
  t.same(closes, [[4009, "slow consumer: reconnect and resync"]], "the client is told to reconnect and resync");
  socket.bufferedAmount = 0;
  t.equal(conn.sendRaw("fourth"), false, "a closed connection sends nothing");
});

t.test("the per-connection budget is a token bucket: ws_ops_burst at once, then ws_ops_per_second", async (t) => {
  const socket = { bufferedAmount: 0, send() {}, close() {}, terminate() {} };
  const conn = new Connection("ws_test", socket as unknown as WebSocket, createLogger("silent"), null, { sendBufferBytes: 65536, opsPerSecond: 2, opsBurst: 3 });
  const start = Date.now();
  t.same([1, 2, 3, 4].map(() => conn.takeBudget(start)), [true, true, true, false], "the burst, then nothing");
  t.equal(conn.takeBudget(start + 499), false, "just under one op's worth of refill");
  t.equal(conn.takeBudget(start + 500), true, "half a second refills one op at two per second");
  t.equal(conn.takeBudget(start + 500), false);
  t.same([1, 2, 3, 4].map(() => conn.takeBudget(start + 60_000)), [true, true, true, false], "a long pause refills to the burst, not beyond");
});
