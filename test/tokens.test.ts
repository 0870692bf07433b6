/**
 * Access tokens (short-lived HS256 JWTs) and the failure limiter that slows password guessing.
 * Both take a clock, so expiry and windows are tested without waiting.
 */
import t from "tap";
import { SignJWT } from "jose";
import { AccessTokens, randomId, sha256Hex } from "../server/accounts/tokens.ts";
import { FailureLimiter } from "../server/accounts/limiter.ts";

const secret = Buffer.alloc(32, 7);
const otherSecret = Buffer.alloc(32, 8);
const start = Date.UTC(2030, 0, 1, 8, 0, 0);

/** A clock that stands still until a test moves it. */
function manualClock(at = start) {
  const clock = { at, now: () => clock.at, advance: (ms: number) => void (clock.at += ms) };
  return clock;
}

t.test("an issued access token verifies and carries the user, the device and the expiry", async (t) => {
  const clock = manualClock();
  const tokens = new AccessTokens(secret, "school.example", 900, clock.now);
  const issued = await tokens.issue("@alice:school.example", "dv_alicelaptop");
  t.equal(issued.expiresAt, start + 900_000);
  t.match(issued.token, /^[\w-]+\.[\w-]+\.[\w-]+$/, "a compact JWS");
  t.same(await tokens.verify(issued.token), {
    ok: true,
    claims: { userId: "@alice:school.example", deviceId: "dv_alicelaptop", expiresAt: start + 900_000 },
  });
  const again = await tokens.issue("@alice:school.example", "dv_alicelaptop");
  t.not(again.token, issued.token, "two tokens for the same device differ (each has its own jti)");
});

t.test("an access token stops verifying when its lifetime is over", async (t) => {
  const clock = manualClock();
  const tokens = new AccessTokens(secret, "school.example", 60, clock.now);
  const { token, expiresAt } = await tokens.issue("@alice:school.example", "dv_alicelaptop");
  clock.advance(59_999);
  t.equal((await tokens.verify(token)).ok, true, "valid until the last millisecond of its lifetime");
  clock.at = expiresAt;
  t.same(await tokens.verify(token), { ok: false, reason: "expired" }, "expired at its expiry time");
  clock.advance(3_600_000);
  t.same(await tokens.verify(token), { ok: false, reason: "expired" }, "and after");
});

t.test("a tampered token is refused", async (t) => {
  const tokens = new AccessTokens(secret, "school.example", 900, manualClock().now);
  const { token } = await tokens.issue("@alice:school.example", "dv_alicelaptop");
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: "@mallory:school.example" })).toString("base64url");
  t.same(await tokens.verify(`${header}.${forged}.${signature}`), { ok: false, reason: "invalid" }, "a changed subject");
  // Change a character in the middle: the last one also holds padding bits that decode to nothing.
  const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);
  t.same(await tokens.verify(`${header}.${payload}.${flipped}`), { ok: false, reason: "invalid" }, "a changed signature");
  const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
  t.same(await tokens.verify(`${none}.${payload}.`), { ok: false, reason: "invalid" }, "an unsigned token (alg none)");
  t.same(await tokens.verify("not a token"), { ok: false, reason: "invalid" }, "garbage");
});

t.test("a token signed with another secret or for another server is refused", async (t) => {
  const clock = manualClock();
  const ours = new AccessTokens(secret, "school.example", 900, clock.now);
  const wrongSecret = new AccessTokens(otherSecret, "school.example", 900, clock.now);
  const otherServer = new AccessTokens(secret, "club.example", 900, clock.now);
  t.same(await ours.verify((await wrongSecret.issue("@alice:school.example", "dv_alicelaptop")).token), { ok: false, reason: "invalid" });
  t.same(await ours.verify((await otherServer.issue("@alice:school.example", "dv_alicelaptop")).token), { ok: false, reason: "invalid" }, "issuer and audience are checked");
});

t.test("a correctly signed token without a device claim is refused", async (t) => {
  const clock = manualClock();
  const tokens = new AccessTokens(secret, "school.example", 900, clock.now);
  const iat = Math.floor(start / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("@alice:school.example")
    .setIssuer("school.example")
    .setAudience("school.example")
    .setIssuedAt(iat)
    .setExpirationTime(iat + 900)
    .sign(new Uint8Array(secret));
  t.same(await tokens.verify(token), { ok: false, reason: "invalid" });
});

t.test("random ids carry their prefix and are url-safe; hashes are hex SHA-256", async (t) => {
  const id = randomId("rt", 32);
  t.match(id, /^rt_[A-Za-z0-9_-]{43}$/);
  t.not(randomId("rt", 32), id);
  t.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

t.test("the failure limiter blocks a key once it reaches its maximum within the window", async (t) => {
  const clock = manualClock();
  const limiter = new FailureLimiter(3, 60_000, clock.now);
  t.equal(limiter.isBlocked("u:alice"), false, "a key never seen is not blocked");
  limiter.recordFailure("u:alice");
  limiter.recordFailure("u:alice");
  t.equal(limiter.isBlocked("u:alice"), false, "two failures of three allowed");
  limiter.recordFailure("u:alice");
  t.equal(limiter.isBlocked("u:alice"), true, "the third failure blocks");
  t.equal(limiter.isBlocked("u:bob"), false, "other keys are counted apart");
  clock.advance(59_999);
  t.equal(limiter.isBlocked("u:alice"), true, "still blocked just before the window ends");
  clock.advance(1);
  t.equal(limiter.isBlocked("u:alice"), false, "free again when the window ends");
});

t.test("the limiter's window is fixed from the first failure, and a failure after it starts afresh", async (t) => {
  const clock = manualClock();
  const limiter = new FailureLimiter(2, 10_000, clock.now);
  limiter.recordFailure("a:127.0.0.1");
  clock.advance(9_000);
  limiter.recordFailure("a:127.0.0.1");
  t.equal(limiter.isBlocked("a:127.0.0.1"), true, "two failures inside one window");
  clock.advance(1_000);
  limiter.recordFailure("a:127.0.0.1");
  t.equal(limiter.isBlocked("a:127.0.0.1"), false, "a failure after the window counts as the first of a new one");
  limiter.recordFailure("a:127.0.0.1");
  t.equal(limiter.isBlocked("a:127.0.0.1"), true);
});

t.test("resetting a key forgets its failures", async (t) => {
  const limiter = new FailureLimiter(1, 60_000, manualClock().now);
  limiter.recordFailure("u:carol");
  t.equal(limiter.isBlocked("u:carol"), true);
  limiter.reset("u:carol");
  t.equal(limiter.isBlocked("u:carol"), false);
});
