/**
 * The refusals of the `propose` and `backfill` endpoints, over signed requests of a fake peer
 * (evil.test, a real HTTP server with its own key) to a real server: a proposal is refused with
 * the op's own coded error, as a local client's command would be, and changes nothing.
 *
 *   alice  on school.test, owner of the group Maths    bob  on school.test    mallory  on evil.test
 */
import t from "tap";
import { startServer, type TestServer } from "../helpers.ts";
import { startFakePeer, type FakePeer } from "./peer.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function setup(t: Test) {
  const evil: FakePeer = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server: TestServer = await startServer({ federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } }, rooms: { members_per_group: 3 }, limits: { message_chars: 100 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  const target = { baseUrl: server.baseUrl, name: "school.test" };
  const propose = async (op: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    evil.call(target, "/propose", { sender: "@mallory:evil.test", op, params, ...extra });
  const seq = () => server.app.parley.rooms.state(roomId)!.seq;
  return { evil, server, alice, roomId, token, target, propose, seq };
}

t.test("mallory's proposals are refused with the op's own codes, and change nothing", async (t) => {
  const { server, alice, roomId, token, propose, seq } = await setup(t);
  const before = seq();
  const unknown = await propose("link.join", { token: "no-such-link-token" });
  t.same([unknown.status, unknown.body.error?.code], [404, "invite.invalid"], "a link that does not exist: invite.invalid");
  const old = await propose("link.join", { token }, { proposedAt: Date.now() - 8 * 86_400_000 });
  t.equal(old.body.error?.code, "federation.proposal_expired", "a proposal made more than 7 days ago");
  t.equal(seq(), before, "neither joined");

  t.equal((await propose("link.join", { token })).status, 200, "mallory joins by the link");
  const long = await propose("message.send", { roomId, txnId: "m1", body: "x".repeat(101) });
  t.equal(long.body.error?.code, "message.too_long", "a message over the server's limit");
  const afterJoin = seq();

  await alice.request("member.ban", { roomId, userId: "@mallory:evil.test" });
  const banned = await propose("link.join", { token });
  t.equal(banned.body.error?.code, "room.banned", "once banned, mallory cannot come back by the link");
  const afterBan = seq();
  t.ok(afterBan > afterJoin, "the ban was sequenced");

  await alice.request("member.unban", { roomId, userId: "@mallory:evil.test" });
  const bob = await server.user("bob");
  const carol = await server.user("carol");
  await bob.request("link.join", { token });
  await carol.request("link.join", { token });
  const full = await propose("link.join", { token });
  t.equal(full.body.error?.code, "room.full", "three members: the group is full");
  t.notOk(server.app.parley.rooms.state(roomId)!.members.has("@mallory:evil.test"), "mallory is not a member");
});

t.test("a backfill of a room the peer has no member in is refused with room.not_found", async (t) => {
  const { evil, target, roomId, token, propose } = await setup(t);
  const res = await evil.call(target, "/backfill", { roomId, from: 1, to: 10 });
  t.same([res.status, res.body.error?.code], [404, "room.not_found"]);
  const unknown = await evil.call(target, "/backfill", { roomId: roomId.replace(/![^:]+/, "!nosuchroom000"), from: 1, to: 10 });
  t.equal(unknown.body.error?.code, "room.not_found", "nor of a room that does not exist");
  t.equal((await propose("link.join", { token })).status, 200, "once mallory is a member");
  const served = await evil.call(target, "/backfill", { roomId, from: 1, to: 10 });
  t.equal(served.status, 200, "the log is served to her server");
  t.ok(served.body.events.length > 0);
});
