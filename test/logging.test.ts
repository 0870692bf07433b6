/**
 * No secret in logs: whatever a client sends or receives (passwords, access and refresh tokens,
 * registration tokens), the server's log lines never contain it, at the most verbose level.
 */
import t from "tap";
import { post, startServer } from "./helpers.ts";

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
