/**
 * Regression tests for what a client author found wrong against the documented contract (issue
 * 12), each named after what broke, and the close codes of the WebSocket layer itself, sent for
 * framing violations a WebSocket library would never let a client make.
 *
 *   alice  the head teacher (owner of the school)    bob  a parent    eve  someone outside
 */
import t from "tap";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { caller, nextFrame, rawSocket, refusalOf, startServer, unthrottled, type TestServer } from "./helpers.ts";

t.test("the creator receives room.create, as a push and through sync, and no one else does", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, bob] = await Promise.all([server.user("alice"), server.user("bob")]);
  const pushed: string[] = [];
  alice.on("room.event", (e) => void (e.type === "room.create" && pushed.push(e.roomId)));
  const bobs: string[] = [];
  bob.on("room.event", (e) => bobs.push(e.type));
  const start = (await alice.request("sync", {})).pos;
  const school = await call(alice, "community.create", { name: "Hillside School" });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  await bob.request("link.join", { token: link.token });
  const synced = await alice.request("sync", { since: start });
  t.same(synced.events.filter((e) => e.roomId === school.roomId).map((e) => e.type).slice(0, 2), ["room.create", "member.join"], "alice's stream has the room from its first event");
  t.same(pushed, [school.roomId], "and so did her pushes");
  const bobSync = await bob.request("sync", { since: start });
  t.notOk(bobSync.events.some((e) => e.type === "room.create"), "bob, who joined later, never gets room.create");
  t.notOk(bobs.includes("room.create"));
});

t.test("re-uploading a file one already stores, with Content-Length, is not refused over quota", async (t) => {
  const server = await startServer({ media: { user_quota_bytes: 100_000 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const post = async (bytes: Buffer) => {
    const res = await fetch(`${server.baseUrl}/api/v1/media?name=notes.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream", "content-length": String(bytes.length) },
      body: bytes as unknown as BodyInit,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const file = Buffer.alloc(70_000, 9);
  const first = await post(file);
  t.equal(first.status, 201);
  const again = await post(file);
  t.equal(again.status, 201, "the same 70,000 bytes again: 140,000 would pass the quota, but a kept file adds nothing");
  t.equal(again.body.mediaId, first.body.mediaId);
  const other = await post(Buffer.alloc(40_000, 1));
  t.same([other.status, other.body.error?.code, other.body.error?.details], [413, "media.quota_exceeded", { quota: 100_000, used: 70_000 }], "a new file past the quota is still refused");
});

t.test("for a deactivated community, invite.decline, invite.accept and join.cancel answer as for a room that does not exist", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, bob, eve] = await Promise.all([server.user("alice"), server.user("bob"), server.user("eve")]);
  const school = await call(alice, "community.create", { name: "Hillside School" });
  await call(alice, "room.settings.update", { roomId: school.roomId, joinApproval: true });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  await call(bob, "link.join", { token: link.token });
  await call(alice, "member.invite", { roomId: school.roomId, userId: eve.userId });
  await call(alice, "community.deactivate", { roomId: school.roomId });
  const missing = `!nosuchroom0000:${server.config.server.name}`;

  t.equal(await refusalOf(eve, "invite.decline", { roomId: school.roomId }), await refusalOf(eve, "invite.decline", { roomId: missing }));
  t.equal(await refusalOf(eve, "invite.decline", { roomId: school.roomId }), "room.not_invited", "invited before, eve learns nothing more than of a missing room");
  t.equal(await refusalOf(eve, "invite.accept", { roomId: school.roomId }), "room.not_invited");
  t.equal(await refusalOf(bob, "join.cancel", { roomId: school.roomId }), await refusalOf(bob, "join.cancel", { roomId: missing }));
  t.equal(await refusalOf(bob, "join.cancel", { roomId: school.roomId }), "room.no_request");
  t.equal(await refusalOf(bob, "invite.decline", { roomId: school.roomId }), "room.not_invited", "nor does someone never invited");
});

t.test("text with an unpaired UTF-16 surrogate is refused with a coded error, so what is stored is what was acknowledged", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const alice = await server.user("alice");
  const maths = await call(alice, "group.create", { name: "Maths" });
  const ws = await rawSocket(server);
  t.teardown(() => ws.close());
  ws.send(JSON.stringify({ id: 1, op: "auth", params: { token: alice.session.accessToken } }));
  t.equal((await nextFrame(ws)).ok, true);

  // JSON.stringify writes a lone surrogate as the escape \udXXX, as a careless client would send it.
  const send = async (id: number, params: unknown) => {
    const reply = new Promise<any>((resolve) => {
      const onMessage = (data: unknown) => {
        const frame = JSON.parse(String(data));
        if (frame.id !== id) return; // a room.event push of an accepted send comes first
        ws.off("message", onMessage);
        resolve(frame);
      };
      ws.on("message", onMessage);
    });
    ws.send(JSON.stringify({ id, op: "message.send", params }));
    return reply;
  };
  const lone = await send(2, { roomId: maths.roomId, txnId: "t1", body: "half a smile \ud83d" });
  t.same([lone.ok, lone.error.code, lone.error.details], [false, "invalid_params", { path: "/body", reason: "has an unpaired UTF-16 surrogate: text must be well-formed Unicode" }]);
  const trailing = await send(3, { roomId: maths.roomId, txnId: "t2", body: "\ude00 the other half" });
  t.equal(trailing.error?.code, "invalid_params", "a low surrogate alone too");
  const inKey = await send(4, { roomId: maths.roomId, txnId: "t3", body: "x", ["\ud800"]: 1 });
  t.equal(inKey.error?.code, "invalid_params", "and in a key");
  const paired = await send(5, { roomId: maths.roomId, txnId: "t4", body: "a whole smile \ud83d\ude00" });
  t.equal(paired.ok, true, "a surrogate pair (an emoji written as escapes) is well-formed text");
  const history = await alice.request("message.history", { roomId: maths.roomId });
  t.same(history.messages.map((m) => m.body), ["a whole smile 😀"], "only the well-formed message was stored, and it reads back as sent");

  const register = await fetch(`${server.baseUrl}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"username":"bob","password":"correct horse battery","displayName":"Bob \\udbff"}',
  });
  const body = (await register.json()) as any;
  t.same([register.status, body.error.code, body.error.details?.path], [400, "bad_request", "/displayName"], "over HTTP the same, with bad_request");
  t.equal(await refusalOf(alice, "profile.get", { userId: `@bob:${server.config.server.name}` }), "user.not_found", "and no account was made");
});

t.test("sync with a since past the newest position answers with the newest position", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  await alice.request("group.create", { name: "Maths" });
  const newest = (await alice.request("sync", {})).pos;
  const ahead = await alice.request("sync", { since: newest + 1000 });
  t.same(ahead, { events: [], pos: newest, more: false }, "a position from elsewhere is answered with the real one");
  const science = await alice.request("group.create", { name: "Science" });
  const after = await alice.request("sync", { since: ahead.pos });
  t.ok(after.events.some((e) => e.roomId === science.roomId && e.type === "member.join"), "going on from it, the client misses nothing");
});

// ---- framing violations: the close codes of the WebSocket layer ----

/** A raw TCP connection that has done the WebSocket handshake, for frames no library would send. */
async function handshake(server: TestServer): Promise<{ socket: Socket; closeCode: Promise<number> }> {
  const { port } = new URL(server.baseUrl);
  const socket = connect(Number(port), "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const key = randomBytes(16).toString("base64");
  socket.write(`GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let onUpgrade!: () => void;
  const ready = new Promise<void>((resolve) => (onUpgrade = resolve));
  const closeCode = new Promise<number>((resolve) => {
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!buffer.subarray(0, end).toString().startsWith("HTTP/1.1 101")) throw new Error("no upgrade");
        buffer = buffer.subarray(end + 4);
        upgraded = true;
        onUpgrade();
      }
      // Server frames are unmasked; look for a close frame (opcode 8) and read its code.
      while (buffer.length >= 2) {
        const len7 = buffer[1] & 0x7f;
        const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
        const len = len7 < 126 ? len7 : len7 === 126 ? buffer.readUInt16BE(2) : Number(buffer.readBigUInt64BE(2));
        if (buffer.length < head + len) return;
        if ((buffer[0] & 0x0f) === 8) resolve(len >= 2 ? buffer.readUInt16BE(head) : 1005);
        buffer = buffer.subarray(head + len);
      }
    });
    socket.on("close", () => resolve(-1));
  });
  await ready;
  return { socket, closeCode };
}

/** One client frame: FIN, the opcode, masked unless `masked` is false. */
function clientFrame(opcode: number, payload: Buffer, opts: { masked?: boolean; declaredLength?: number } = {}): Buffer {
  const masked = opts.masked !== false;
  const n = opts.declaredLength ?? payload.length;
  const lenBytes = n < 126 ? Buffer.from([n | (masked ? 0x80 : 0)]) : n < 65536 ? Buffer.from([126 | (masked ? 0x80 : 0), n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127 | (masked ? 0x80 : 0)]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  const mask = masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0);
  const body = Buffer.from(payload.map((b, i) => (masked ? b ^ mask[i % 4] : b)));
  return Buffer.concat([Buffer.from([0x80 | opcode]), lenBytes, mask, body]);
}

t.test("framing violations close the socket with the WebSocket layer's codes: 1002, 1007 and 1009", async (t) => {
  const server = await startServer({ limits: { frame_bytes: 1024 } });
  t.teardown(() => server.stop(true));

  const unmasked = await handshake(server);
  unmasked.socket.write(clientFrame(1, Buffer.from('{"id":1,"op":"ping"}'), { masked: false }));
  t.equal(await unmasked.closeCode, 1002, "an unmasked client frame is a protocol error: 1002");
  unmasked.socket.destroy();

  const badOpcode = await handshake(server);
  badOpcode.socket.write(clientFrame(3, Buffer.from("x")));
  t.equal(await badOpcode.closeCode, 1002, "a reserved opcode: 1002");
  badOpcode.socket.destroy();

  const notUtf8 = await handshake(server);
  notUtf8.socket.write(clientFrame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
  t.equal(await notUtf8.closeCode, 1007, "a text frame that is not UTF-8: 1007");
  notUtf8.socket.destroy();

  const huge = await handshake(server);
  huge.socket.write(clientFrame(1, Buffer.alloc(0), { declaredLength: 4 * 1024 + 1 }).subarray(0, 8));
  t.equal(await huge.closeCode, 1009, "a frame declared over four times the frame limit: 1009, before its bytes are read");
  huge.socket.destroy();
});

t.test("a join request reaches the requester and the admins, not the other members", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, bob, eve] = await Promise.all([server.user("alice"), server.user("bob"), server.user("eve")]);
  const maths = await call(alice, "group.create", { name: "Maths" });
  const link = await call(alice, "link.create", { roomId: maths.roomId });
  await call(bob, "link.join", { token: link.token });
  await call(alice, "room.settings.update", { roomId: maths.roomId, joinApproval: true });
  const start = (await alice.request("sync", {})).pos;
  const asked = await call(eve, "link.join", { token: link.token });
  t.equal(asked.status, "requested");
  const requestIn = async (who: typeof alice) => (await who.request("sync", { since: start })).events.some((e) => e.type === "join.request" && e.roomId === maths.roomId);
  t.ok(await requestIn(alice), "the admin sees it");
  t.ok(await requestIn(eve), "the requester sees it");
  t.notOk(await requestIn(bob), "a member does not");
});

// ---- behaviours the guide states, which no other test pinned down ----

t.test("a reminder already due when its event is created goes at once, to whoever has answered by then, and never later", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, bob] = await Promise.all([server.user("alice"), server.user("bob")]);
  const maths = await call(alice, "group.create", { name: "Maths" });
  const link = await call(alice, "link.create", { roomId: maths.roomId });
  await call(bob, "link.join", { token: link.token });
  const reminders: unknown[] = [];
  bob.on("event.reminder", (r) => reminders.push(r));
  // The default reminder is an hour before; the event starts in twenty minutes.
  const created = await alice.request("event.create", { roomId: maths.roomId, txnId: "e1", title: "Fire drill", start: Date.now() + 20 * 60_000, timeZone: "Europe/London" });
  server.app.parley.reminders.runDue(); // whether or not its timer has run already
  const rows = server.app.parley.storage.sqlite.prepare("SELECT outcome FROM reminders WHERE room_id = ? AND event_seq = ?").all(maths.roomId, created.event.seq);
  t.same(rows, [{ outcome: "sent" }], "it went at once, while the event had not begun");
  await bob.request("event.rsvp", { roomId: maths.roomId, seq: created.event.seq, answer: "going" });
  t.same(server.app.parley.reminders.runDue(), { sent: 0, skipped: 0 }, "answering afterwards brings no reminder");
  await bob.request("ping", {});
  t.same(reminders, [], "bob, who had not answered when it went, gets none");
});

t.test("a rejected join request may be sent again", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, eve] = await Promise.all([server.user("alice"), server.user("eve")]);
  const maths = await call(alice, "group.create", { name: "Maths" });
  await call(alice, "room.settings.update", { roomId: maths.roomId, joinApproval: true });
  const link = await call(alice, "link.create", { roomId: maths.roomId });
  t.equal((await call(eve, "link.join", { token: link.token })).status, "requested");
  await call(alice, "join.reject", { roomId: maths.roomId, userId: eve.userId });
  t.equal((await call(eve, "link.join", { token: link.token })).status, "requested", "eve asks again");
  await call(eve, "join.cancel", { roomId: maths.roomId });
  t.equal((await call(eve, "link.join", { token: link.token })).status, "requested", "and again after withdrawing");
  t.same((await call(alice, "join.requests", { roomId: maths.roomId })).requests.map((r) => r.userId), [eve.userId]);
});

t.test("an upload's ?name= is 1 to 255 characters, and a file without a preview answers media.not_found at /preview", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const auth = { authorization: `Bearer ${alice.session.accessToken}` };
  const upload = async (name: string) => {
    const res = await fetch(`${server.baseUrl}/api/v1/media?name=${encodeURIComponent(name)}`, { method: "POST", headers: auth, body: "Homework: exercises 4 to 9.\n" });
    return { status: res.status, body: (await res.json()) as any };
  };
  t.same([(await upload("x".repeat(256))).status, (await upload("x".repeat(256))).body.error.code], [400, "bad_request"], "a name over 255 characters is refused");
  const kept = await upload("x".repeat(255));
  t.same([kept.status, kept.body.mime, kept.body.hasPreview], [201, "text/plain", false]);
  const preview = await fetch(`${server.baseUrl}/api/v1/media/${kept.body.mediaId}/preview`, { headers: auth });
  t.same([preview.status, ((await preview.json()) as any).error.code], [404, "media.not_found"]);
});
