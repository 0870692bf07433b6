/**
 * No secret in logs: whatever a client sends or receives (passwords, access and refresh tokens,
 * registration tokens), the server's log lines never contain it, at the most verbose level.
 */
import t from "tap";
import { closeOf, post, rawSocket, startServer } from "./helpers.ts";

t.test("passwords and tokens never reach the log, even at trace level", async (t) => {
  const server = await startServer({ log: { level: "trace" }, registration: { policy: "invite-only" } });
  t.teardown(() => server.stop(true));
  const secretPassword = "Zebra-Quartz-Lantern-9931";
  const newPassword = "Otter-Violin-Meadow-4417";
  const registrationToken = server.app.parley.accounts.createRegistrationToken({ uses: 1, expiresAt: null });
  const reg = await post(server, "/api/v1/auth/register", { username: "alice", password: secretPassword, registrationToken });
  t.equal(reg.status, 201);
  const badLogin = await post(server, "/api/v1/auth/login", { username: "alice", password: "Wrong-Horse-0000" });
  t.equal(badLogin.status, 401);
  const refreshed = await post(server, "/api/v1/auth/refresh", { refreshToken: reg.body.refreshToken });
  t.equal(refreshed.status, 200);
  const changed = await post(server, "/api/v1/auth/password", { currentPassword: secretPassword, newPassword }, refreshed.body.accessToken);
  t.equal(changed.status, 200);
  const alice = await server.login("alice", { password: newPassword });
  await alice.request("session.info", {});
  await alice.request("auth", { token: alice.session.accessToken });

  const text = server.logs.map((l) => JSON.stringify(l)).join("\n");
  t.ok(server.logs.length > 10, "the server did log the requests");
  t.match(text, /auth\/register/, "requests are logged");
  for (const [what, secret] of [
    ["the password", secretPassword],
    ["the new password", newPassword],
    ["a wrong password", "Wrong-Horse-0000"],
    ["the registration token", registrationToken],
    ["the first access token", reg.body.accessToken],
    ["the first refresh token", reg.body.refreshToken],
    ["a rotated access token", refreshed.body.accessToken],
    ["a rotated refresh token", refreshed.body.refreshToken],
    ["the socket's access token", alice.session.accessToken],
  ] as const) {
    t.notOk(text.includes(secret), `${what} is not in any log line`);
  }
  t.ok(server.logs.some((l) => typeof l.reqId === "string"), "HTTP lines carry a request id");
  t.ok(server.logs.some((l) => typeof l.session === "string"), "socket lines carry a session id");
});

t.test("invite tokens never reach the log: not in request URLs, not from the invite ops", async (t) => {
  const server = await startServer({ log: { level: "trace" } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const community = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: community.roomId });
  for (const path of [`/join/${link.token}`, `/api/v1/invites/${link.token}`, `/api/v1/invites/${link.token}/qr.svg`, `/api/v1/invites/${link.token}/qr.png`, `/join/${link.token}?via=qr`]) {
    const res = await fetch(`${server.baseUrl}${path}`);
    t.equal(res.status, 200, `${path.replace(link.token, "<token>")} answers`);
    await res.arrayBuffer();
  }
  t.equal((await fetch(`${server.baseUrl}/join/not-a-real-token-123`)).status, 404, "an unknown token is refused");
  await bob.request("link.preview", { token: link.token });
  await bob.request("link.join", { token: link.token });
  const reset = await alice.request("link.reset", { roomId: community.roomId, linkId: link.linkId });
  await alice.request("link.list", { roomId: community.roomId });

  const text = server.logs.map((l) => JSON.stringify(l)).join("\n");
  t.match(text, /"url":"\/join\/\[redacted\]"/, "the landing page's requests are logged, token redacted");
  t.match(text, /"url":"\/api\/v1\/invites\/\[redacted\]\/qr\.svg"/, "the invite API's requests are logged, token redacted");
  t.notOk(text.includes(link.token), "the invite token is in no log line");
  t.notOk(text.includes(reset.token), "the reset link's token is in no log line");
  t.notOk(text.includes("not-a-real-token-123"), "not even a wrong one");
});

/** A masked client text frame (RFC 6455 5.3) carrying these bytes, which need not be UTF-8. */
function maskedTextFrame(payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, body]);
}

t.test("malformed WebSocket frames are logged at debug, without a stack trace", async (t) => {
  const server = await startServer({ log: { level: "debug" }, limits: { frame_bytes: 1024 } });
  t.teardown(() => server.stop(true));
  const badUtf8 = await rawSocket(server);
  const closed = closeOf(badUtf8);
  (badUtf8 as unknown as { _socket: import("node:net").Socket })._socket.write(maskedTextFrame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
  t.equal((await closed).code, 1007, "invalid UTF-8 closes with 1007");
  const huge = await rawSocket(server);
  const closedHuge = closeOf(huge);
  huge.send("x".repeat(4 * 1024 + 1));
  t.equal((await closedHuge).code, 1009, "past the hard cap closes with 1009");
  // The server's side of the close has run by the time the next request is answered.
  await (await server.user("alice")).request("ping", {});

  const refusals = server.logs.filter((l) => l.msg === "malformed frame or dropped connection");
  t.same(refusals.map((l) => [l.level, l.code]).sort(), [[20, "WS_ERR_INVALID_UTF8"], [20, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"]], "one debug line each, with the code");
  t.same(server.logs.filter((l) => (l.level as number) >= 40), [], "nothing at warn or above");
  t.notOk(server.logs.some((l) => JSON.stringify(l).includes("    at ")), "no stack trace in any line");
});
