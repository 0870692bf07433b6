/**
 * Accounts over real HTTP: register, log in, refresh, log out and change the password, with every
 * refusal. Sockets are driven by the SDK, as a third-party client would, to see sessions end.
 */
import t from "tap";
import WebSocket from "ws";
import { errorCatalogue } from "../server/errors.ts";
import { password, post, rawSocket, nextFrame, schemaErrors, sessionEnd, startServer, type TestServer } from "./helpers.ts";

const sessionSchema = "http/auth.login#/$defs/response";
const newPassword = "a longer horse battery staple";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** A fresh server on port 0, stopped (and its data removed) when the test ends. */
async function serverFor(t: Test, overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(overrides);
  t.teardown(() => server.stop(true));
  return server;
}

/** Asserts an HTTP refusal: its status, its catalogue code and message, and the error schema. */
function refused(t: Test, res: { status: number; body: any }, code: keyof typeof errorCatalogue, what?: string): void {
  t.equal(res.status, errorCatalogue[code].status, `${what ?? code}: HTTP ${errorCatalogue[code].status}`);
  t.equal(res.body?.error?.code, code, `${what ?? code}: code ${code}`);
  t.same(schemaErrors("common#/$defs/ErrorBody", res.body?.error), [], `${what ?? code}: the error body follows its schema`);
}

/** Registers over plain HTTP and returns the raw response. */
function register(server: TestServer, body: Record<string, unknown>) {
  return post(server, "/api/v1/auth/register", body);
}

function login(server: TestServer, username: string, pw = password, deviceName?: string) {
  return post(server, "/api/v1/auth/login", { username, password: pw, ...(deviceName ? { deviceName } : {}) });
}

/** Authenticates a raw socket with a token; resolves with the socket and the auth reply. */
async function socketWith(server: TestServer, token: string): Promise<{ ws: WebSocket; reply: any }> {
  const ws = await rawSocket(server);
  const reply = nextFrame(ws);
  ws.send(JSON.stringify({ id: 1, op: "auth", params: { token } }));
  return { ws, reply: await reply };
}

t.test("alice registers and gets a session for her first device, with a user id that carries the server name", async (t) => {
  const server = await serverFor(t);
  const before = Date.now();
  const res = await register(server, { username: "alice", password, displayName: "Alice", deviceName: "Alice's laptop" });
  const after = Date.now();
  t.equal(res.status, 201);
  t.same(schemaErrors("http/auth.register#/$defs/response", res.body), []);
  t.equal(res.body.userId, "@alice:school.test");
  t.match(res.body.deviceId, /^dv_/);
  t.ok(res.body.accessTokenExpiresAt > before + 899_000 && res.body.accessTokenExpiresAt <= after + 900_000, "the access token lives tokens.access_ttl_seconds");
  t.ok(res.body.refreshTokenExpiresAt >= before + 30 * 86_400_000 && res.body.refreshTokenExpiresAt <= after + 30 * 86_400_000, "the refresh token lives tokens.refresh_ttl_days");

  const { ws, reply } = await socketWith(server, res.body.accessToken);
  t.equal(reply.ok, true, "the access token opens a socket");
  t.equal(reply.result.deviceId, res.body.deviceId);
  const profile = nextFrame(ws);
  ws.send(JSON.stringify({ id: 2, op: "profile.get", params: {} }));
  t.same((await profile).result, { userId: "@alice:school.test", displayName: "Alice", about: "", avatar: null });
  ws.close();
});

t.test("a username is normalised on registration, and without a display name the username is used", async (t) => {
  const server = await serverFor(t);
  const res = await register(server, { username: "  Ｂob ", password });
  t.equal(res.status, 201);
  t.equal(res.body.userId, "@bob:school.test");
  const { ws } = await socketWith(server, res.body.accessToken);
  const profile = nextFrame(ws);
  ws.send(JSON.stringify({ id: 2, op: "profile.get", params: {} }));
  t.equal((await profile).result.displayName, "bob");
  ws.close();
});

t.test("registration refuses invalid, reserved and taken usernames", async (t) => {
  const server = await serverFor(t);
  refused(t, await register(server, { username: "a!", password }), "username.invalid", "a name with '!'");
  refused(t, await register(server, { username: "al", password }), "username.invalid", "a name of two letters");
  refused(t, await register(server, { username: "admin", password }), "username.reserved", "admin");
  refused(t, await register(server, { username: "Everyone", password }), "username.reserved", "Everyone");
  t.equal((await register(server, { username: "alice", password })).status, 201);
  refused(t, await register(server, { username: "alice", password }), "username.taken", "alice again");
  refused(t, await register(server, { username: "ALICE", password }), "username.taken", "alice in capitals");
  refused(t, await register(server, { username: "ａｌｉｃｅ", password }), "username.taken", "alice in fullwidth letters");
  const res = await register(server, { username: "alice", password: "a different password" });
  t.equal(res.body.error.message, errorCatalogue["username.taken"].message);
});

t.test("registration refuses a password that is too short or too long, and creates nothing", async (t) => {
  const server = await serverFor(t);
  refused(t, await register(server, { username: "carol", password: "1234567" }), "password.too_weak", "seven characters");
  refused(t, await register(server, { username: "carol", password: "x".repeat(1025) }), "password.too_long", "1025 characters");
  t.equal((await register(server, { username: "carol", password: "12345678" })).status, 201, "carol's name is still free; eight characters are enough");
  refused(t, await login(server, "carol", "1234567"), "auth.invalid_credentials", "the refused password was never set");
});

t.test("a malformed registration body is a 400 bad_request that names what is wrong", async (t) => {
  const server = await serverFor(t);
  const missing = await register(server, { username: "alice" });
  refused(t, missing, "bad_request", "no password");
  t.match(missing.body.error.message, /password/);
  refused(t, await register(server, { username: "alice", password, isAdmin: true }), "bad_request", "an unknown field");
  refused(t, await register(server, { username: 42, password }), "bad_request", "a number as username");
  refused(t, await register(server, { username: "alice", password, displayName: "x".repeat(65) }), "bad_request", "a 65-character display name");
  refused(t, await post(server, "/api/v1/auth/register", "{ not json"), "bad_request", "text that is not JSON");
  refused(t, await post(server, "/api/v1/auth/register", "[]"), "bad_request", "a JSON array");
  t.equal((await register(server, { username: "alice", password })).status, 201, "none of the refusals created alice");
});

t.test("a request body over the size limit is refused with payload_too_large", async (t) => {
  const server = await serverFor(t);
  refused(t, await register(server, { username: "alice", password: "x".repeat(70_000) }), "payload_too_large");
});

t.test("when registration is closed, nobody can register", async (t) => {
  const server = await serverFor(t, { registration: { policy: "closed" } });
  const res = await register(server, { username: "alice", password });
  refused(t, res, "registration.closed");
  t.equal(res.body.error.message, "Registration is closed on this server.");
});

t.test("invite-only registration needs a valid token, and a one-use token works once", async (t) => {
  const server = await serverFor(t, { registration: { policy: "invite-only" } });
  const accounts = server.app.parley.accounts;
  refused(t, await register(server, { username: "alice", password }), "registration.token_required", "no token");
  refused(t, await register(server, { username: "alice", password, registrationToken: "" }), "registration.token_required", "an empty token");
  refused(t, await register(server, { username: "alice", password, registrationToken: "reg_madeup" }), "registration.invalid_token", "a made-up token");
  const expired = accounts.createRegistrationToken({ uses: 5, expiresAt: Date.now() - 1000 });
  refused(t, await register(server, { username: "alice", password, registrationToken: expired }), "registration.invalid_token", "an expired token");

  const token = accounts.createRegistrationToken({ uses: 1, expiresAt: null });
  refused(t, await register(server, { username: "admin", password, registrationToken: token }), "username.reserved", "a refused name");
  refused(t, await register(server, { username: "alice", password: "short", registrationToken: token }), "password.too_weak", "a refused password");
  const alice = await register(server, { username: "alice", password, registrationToken: token });
  t.equal(alice.status, 201, "the token was not spent by the refusals before");
  t.same(schemaErrors("http/auth.register#/$defs/response", alice.body), []);
  refused(t, await register(server, { username: "bob", password, registrationToken: token }), "registration.invalid_token", "the used-up token");
  refused(t, await register(server, { username: "alice", password, registrationToken: accounts.createRegistrationToken({ uses: 1, expiresAt: null }) }), "username.taken", "a taken name with a fresh token");
});

t.test("alice logs in on a second device; each login is its own device, and both stay live", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const res = await login(server, "alice", password, "Alice's phone");
  t.equal(res.status, 200);
  t.same(schemaErrors(sessionSchema, res.body), []);
  t.equal(res.body.userId, "@alice:school.test");
  t.not(res.body.deviceId, laptop.deviceId, "the phone is a new device");
  const byId = await login(server, "@alice:school.test");
  t.equal(byId.status, 200, "the full user id logs in too");
  const shouting = await login(server, "ＡＬＩＣＥ");
  t.equal(shouting.status, 200, "and the name in other case and width");

  const phone = await server.login("alice", { deviceName: "Alice's phone" });
  const devices = await laptop.request("device.list", {});
  t.same(schemaErrors("op/device.list#/$defs/result", devices), []);
  t.same(
    devices.devices.map((d) => d.deviceId).sort(),
    [laptop.deviceId, res.body.deviceId, byId.body.deviceId, shouting.body.deviceId, phone.deviceId].sort(),
  );
  t.equal((await phone.request("session.info", {})).deviceId, phone.deviceId);
  t.equal((await laptop.request("session.info", {})).deviceId, laptop.deviceId, "the laptop's socket is unaffected");
});

t.test("a failed login never reveals whether the account exists", async (t) => {
  const server = await serverFor(t);
  await server.user("alice", { connect: false });
  const wrongPassword = await login(server, "alice", "not alice's password");
  const unknownUser = await login(server, "zoe", "not alice's password");
  const invalidName = await login(server, "admin!", "not alice's password");
  refused(t, wrongPassword, "auth.invalid_credentials");
  t.same(unknownUser, wrongPassword, "an unknown user gets the identical status and body");
  t.same(invalidName, wrongPassword, "so does a name no account could have");
  refused(t, await post(server, "/api/v1/auth/login", { username: "alice" }), "bad_request", "a login without a password");
});

t.test("failed logins are limited per account, for known and unknown names alike", async (t) => {
  const server = await serverFor(t, { limits: { login_failures_per_account: 3 } });
  await server.user("alice", { connect: false });
  await server.user("bob", { connect: false });
  for (const name of ["alice", "Alice", "@alice:school.test"]) refused(t, await login(server, name, "guess"), "auth.invalid_credentials", `a wrong guess as ${name}`);
  const blocked = await login(server, "alice", password);
  refused(t, blocked, "auth.too_many_attempts", "the right password after three failures");
  t.equal(blocked.body.error.message, "Too many failed attempts; try again later.");
  t.equal((await login(server, "bob", password)).status, 200, "bob, from the same address, can still log in");

  for (let i = 0; i < 3; i++) await login(server, "zoe", "guess");
  refused(t, await login(server, "zoe", "guess"), "auth.too_many_attempts", "an account that does not exist is limited the same way");
});

t.test("failed logins are limited per address too", async (t) => {
  const server = await serverFor(t, { limits: { login_failures_per_address: 3 } });
  await server.user("alice", { connect: false });
  for (const name of ["zoe", "yann", "xena"]) refused(t, await login(server, name, "guess"), "auth.invalid_credentials");
  refused(t, await login(server, "alice", password), "auth.too_many_attempts", "alice, from the address that guessed");
});

t.test("disabling alice's account ends her sessions; she cannot log in until it is enabled again", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const ended = sessionEnd(laptop);
  // What `parley user disable alice` does (the CLI's own test runs it).
  t.same(server.app.parley.accounts.setDisabled("alice", true), { userId: "@alice:school.test", revokedDevices: 1 });
  const end = await ended;
  t.same(end.order, ["session.revoked", "close 4003"]);
  t.same(end.revoked, { reason: "account_disabled" });
  t.same(schemaErrors("push/session.revoked", end.revoked), []);
  refused(t, await login(server, "alice", password), "auth.account_disabled", "the right password");
  refused(t, await login(server, "alice", "wrong password"), "auth.invalid_credentials", "a wrong password learns nothing more");
  refused(t, await post(server, "/api/v1/auth/logout", {}, laptop.session.accessToken), "auth.invalid_token", "her access token");
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: laptop.session.refreshToken }), "auth.invalid_refresh_token", "her refresh token");
  server.app.parley.accounts.setDisabled("alice", false);
  t.equal((await login(server, "alice", password)).status, 200, "enabled again, she logs in");
});

t.test("a refresh token is traded for a new pair on the same device", async (t) => {
  const server = await serverFor(t);
  const first = (await register(server, { username: "alice", password })).body;
  const res = await post(server, "/api/v1/auth/refresh", { refreshToken: first.refreshToken });
  t.equal(res.status, 200);
  t.same(schemaErrors("http/auth.refresh#/$defs/response", res.body), []);
  t.equal(res.body.userId, first.userId);
  t.equal(res.body.deviceId, first.deviceId, "the same device");
  t.not(res.body.accessToken, first.accessToken, "a new access token");
  t.not(res.body.refreshToken, first.refreshToken, "a new refresh token");
  const { ws, reply } = await socketWith(server, res.body.accessToken);
  t.equal(reply.ok, true, "the new access token works");
  ws.close();
  const again = await post(server, "/api/v1/auth/refresh", { refreshToken: res.body.refreshToken });
  t.equal(again.status, 200, "the new refresh token works in its turn");

  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: "rt_madeup" }), "auth.invalid_refresh_token", "a made-up token");
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: "" }), "bad_request", "an empty token");
  refused(t, await post(server, "/api/v1/auth/refresh", {}), "bad_request", "no token");
});

t.test("reusing an old refresh token revokes the device: its socket closes with 4003 and its newest refresh token dies", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const stolen = laptop.session.refreshToken;
  await laptop.refresh();
  t.equal((await laptop.request("session.info", {})).deviceId, laptop.deviceId, "the laptop renewed its socket with the new token");

  const ended = sessionEnd(laptop);
  const res = await post(server, "/api/v1/auth/refresh", { refreshToken: stolen });
  refused(t, res, "auth.refresh_token_reused", "the old refresh token, presented again");
  t.equal(res.body.error.message, "The refresh token was already used; the session has been revoked.");
  const end = await ended;
  t.same(end.order, ["session.revoked", "close 4003"], "a session.revoked push, then close 4003");
  t.same(end.revoked, { reason: "refresh_token_reused" });
  t.same(schemaErrors("push/session.revoked", end.revoked), []);

  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: laptop.session.refreshToken }), "auth.invalid_refresh_token", "the laptop's newest refresh token");
  refused(t, await post(server, "/api/v1/auth/logout", {}, laptop.session.accessToken), "auth.invalid_token", "the laptop's newest access token");
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: stolen }), "auth.invalid_refresh_token", "the stolen token, a third time");
  t.equal((await phone.request("session.info", {})).deviceId, phone.deviceId, "alice's phone is another session and stays live");
  t.equal((await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken })).status, 200);
});

t.test("an expired refresh token is refused each time it is presented, without being taken for theft", async (t) => {
  let offset = 0;
  const server = await startServer({ tokens: { refresh_ttl_days: 1 } }, { now: () => Date.now() + offset });
  t.teardown(() => server.stop(true));
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  offset += 86_400_000 + 1000; // a day and a second later
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken }), "auth.invalid_refresh_token", "the expired token");
  // Regression: the first attempt marked the expired token used, so a retry was reported as
  // reuse and revoked the device as if it had been stolen.
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken }), "auth.invalid_refresh_token", "the same token, retried");
  t.notOk(server.logs.some((l) => l.msg === "refresh token reused: session revoked"), "no theft is logged");
  t.ok((await laptop.request("device.list", {})).devices.some((d) => d.deviceId === phone.deviceId), "the phone was not revoked");
  t.equal((await login(server, "alice")).status, 200, "alice logs in again to get a new session");
});

t.test("guessing the current password with a stolen access token is limited like logins", async (t) => {
  const server = await serverFor(t, { limits: { login_failures_per_account: 3 } });
  const laptop = await server.user("alice");
  const change = (currentPassword: string) => post(server, "/api/v1/auth/password", { currentPassword, newPassword }, laptop.session.accessToken);
  for (let i = 1; i <= 3; i++) refused(t, await change(`guess ${i}`), "auth.invalid_credentials", `guess ${i}`);
  refused(t, await change(password), "auth.too_many_attempts", "even the right password, after three guesses");
  refused(t, await login(server, "alice", password), "auth.too_many_attempts", "and logins are held back with it");
});

t.test("logging out ends only that device's session and closes its socket", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const ended = sessionEnd(phone);
  const res = await post(server, "/api/v1/auth/logout", {}, phone.session.accessToken);
  t.equal(res.status, 200);
  t.same(res.body, { loggedOut: true });
  t.same(schemaErrors("http/auth.logout#/$defs/response", res.body), []);
  const end = await ended;
  t.same(end.order, ["session.revoked", "close 4003"]);
  t.same(end.revoked, { reason: "logout" });
  refused(t, await post(server, "/api/v1/auth/logout", {}, phone.session.accessToken), "auth.invalid_token", "logging out twice");
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken }), "auth.invalid_refresh_token", "the phone's refresh token");
  t.equal((await laptop.request("session.info", {})).deviceId, laptop.deviceId, "the laptop is still logged in");

  // The SDK's own logout, as an app would call it.
  await laptop.logout();
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: laptop.session.refreshToken }), "auth.invalid_refresh_token", "after the SDK's logout");
});

t.test("changing the password revokes alice's other devices and keeps the one she used", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice", { deviceName: "Alice's phone" });
  const tablet = await server.login("alice", { deviceName: "Alice's tablet" });
  const bob = await server.user("bob");
  const phoneEnded = sessionEnd(phone);
  const tabletEnded = sessionEnd(tablet);

  const res = await post(server, "/api/v1/auth/password", { currentPassword: password, newPassword }, laptop.session.accessToken);
  t.equal(res.status, 200);
  t.same(res.body, { revokedDevices: 2 });
  t.same(schemaErrors("http/auth.password#/$defs/response", res.body), []);
  for (const [name, ended] of [["phone", phoneEnded], ["tablet", tabletEnded]] as const) {
    const end = await ended;
    t.same(end.order, ["session.revoked", "close 4003"], `the ${name} gets session.revoked, then close 4003`);
    t.same(end.revoked, { reason: "password_changed" });
  }
  refused(t, await post(server, "/api/v1/auth/refresh", { refreshToken: phone.session.refreshToken }), "auth.invalid_refresh_token", "the phone's refresh token");

  t.equal((await laptop.request("session.info", {})).deviceId, laptop.deviceId, "the laptop's socket stays open");
  t.same((await laptop.request("device.list", {})).devices.map((d) => d.deviceId), [laptop.deviceId], "only the laptop is left");
  t.equal((await post(server, "/api/v1/auth/refresh", { refreshToken: laptop.session.refreshToken })).status, 200, "and its refresh token still works");
  refused(t, await login(server, "alice", password), "auth.invalid_credentials", "the old password");
  t.equal((await login(server, "alice", newPassword)).status, 200, "the new password logs in");
  t.equal((await bob.request("session.info", {})).userId, "@bob:school.test", "bob is untouched");
});

t.test("a password change is refused with a wrong current password or an unacceptable new one", async (t) => {
  const server = await serverFor(t);
  const laptop = await server.user("alice");
  const phone = await server.login("alice");
  const token = laptop.session.accessToken;
  refused(t, await post(server, "/api/v1/auth/password", { currentPassword: "wrong password", newPassword }, token), "auth.invalid_credentials", "a wrong current password");
  refused(t, await post(server, "/api/v1/auth/password", { currentPassword: password, newPassword: "short" }, token), "password.too_weak", "a short new password");
  refused(t, await post(server, "/api/v1/auth/password", { currentPassword: password, newPassword: "y".repeat(1025) }, token), "password.too_long", "a long new password");
  refused(t, await post(server, "/api/v1/auth/password", { currentPassword: password }, token), "bad_request", "no new password");
  refused(t, await post(server, "/api/v1/auth/password", { currentPassword: password, newPassword }), "auth.required", "no access token");
  t.equal((await login(server, "alice", password)).status, 200, "the password is unchanged");
  t.equal((await phone.request("session.info", {})).deviceId, phone.deviceId, "and the phone was not revoked");
});

t.test("authenticated routes refuse a missing, malformed or foreign access token", async (t) => {
  const server = await serverFor(t);
  const other = await serverFor(t);
  const alice = (await register(server, { username: "alice", password })).body;
  const foreign = (await register(other, { username: "alice", password })).body;
  refused(t, await post(server, "/api/v1/auth/logout", {}), "auth.required", "no Authorization header");
  const basic = await fetch(`${server.baseUrl}/api/v1/auth/logout`, { method: "POST", headers: { authorization: `Basic ${Buffer.from("alice:pw").toString("base64")}` } });
  refused(t, { status: basic.status, body: await basic.json() }, "auth.required", "Basic instead of Bearer");
  refused(t, await post(server, "/api/v1/auth/logout", {}, "garbage"), "auth.invalid_token", "a garbage token");
  refused(t, await post(server, "/api/v1/auth/logout", {}, foreign.accessToken), "auth.invalid_token", "alice's token from another server");
  refused(t, await post(server, "/api/v1/auth/logout", {}, alice.refreshToken), "auth.invalid_token", "a refresh token used as an access token");
  t.equal((await post(server, "/api/v1/auth/logout", {}, alice.accessToken)).status, 200, "her own token still works");
});

t.test("past limits.registrations_per_minute, registrations are answered 429 rate_limited; other requests are not", async (t) => {
  const server = await serverFor(t, { limits: { registrations_per_minute: 2 } });
  const discovery = await (await fetch(`${server.baseUrl}/.well-known/parley`)).json();
  t.equal(discovery.limits.registrationsPerMinute, 2, "the limit is published in the discovery document");
  for (const name of ["ann", "ben"]) t.equal((await register(server, { username: name, password: "correct horse battery" })).status, 201, `${name} registers`);
  const third = await register(server, { username: "cat", password: "correct horse battery" });
  refused(t, third, "rate_limited", "the third registration in a minute");
  t.equal((await login(server, "ann", "correct horse battery")).status, 200, "logging in is counted apart");
  t.equal((await login(server, "cat", "correct horse battery")).status, 401, "and the refused registration created nothing");
});

t.test("past limits.http_requests_per_minute, requests are answered 429 rate_limited", async (t) => {
  const server = await serverFor(t, { limits: { http_requests_per_minute: 3 } });
  for (let i = 0; i < 3; i++) t.equal((await login(server, "zoe", "guess")).status, 401, `request ${i + 1} is served`);
  const res = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "zoe", password: "guess" }),
  });
  refused(t, { status: res.status, body: await res.json() }, "rate_limited", "the fourth request");
  t.ok(Number(res.headers.get("retry-after")) > 0, "with a Retry-After header");
  t.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200, "health checks are not limited");
});
