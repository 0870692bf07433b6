/**
 * The client ops that reach another server (link.join with `server`, message.send in a room hosted
 * elsewhere, profile.get of a remote user) refused because of federation itself: the other server
 * is down, this server's policy does not federate with it, or it does not federate with this one.
 * Three servers on loopback; each refusal is a coded error and changes nothing.
 *
 *   alice  on a.test, owner of the group Maths    bob  on b.test    carol  on c.test
 */
import t from "tap";
import { mathsOnThree } from "./cluster.ts";
import { until, type TestServer } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { setServerPolicy } from "../../federation/policy.ts";
import { openStorage } from "../../server/storage/database.ts";

/** The code the op was refused with, or "(accepted)". */
function refusal(client: ParleyClient, op: string, params: Record<string, unknown>): Promise<string> {
  return client.request(op as never, params as never).then(
    () => "(accepted)",
    (err) => (err as { code: string }).code,
  );
}

function pendingCount(server: TestServer): number {
  return (server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM federation_pending").get() as { n: number }).n;
}

t.test("bob cannot join by a link of a server that is down: federation.unreachable, and he is in no new room", async (t) => {
  const { b, c, bob, carol } = await mathsOnThree(t);
  const { roomId } = await carol.request("group.create", { name: "Chess" });
  const { token } = await carol.request("link.create", { roomId });
  await c.stop(false);
  const before = JSON.stringify(await bob.request("room.list", {}));
  t.equal(await refusal(bob, "link.join", { token, server: "c.test" }), "federation.unreachable");
  t.equal(JSON.stringify(await bob.request("room.list", {})), before, "bob's rooms are unchanged");
  t.equal(b.app.parley.rooms.state(roomId), undefined, "b holds nothing of the room");
  t.equal(pendingCount(b), 0, "a join is not kept for later");
});

t.test("bob cannot see the profile of a user whose server is down: federation.unreachable", async (t) => {
  const { c, bob, carol } = await mathsOnThree(t);
  const { userId } = await carol.request("profile.get", {});
  await c.stop(false);
  t.equal(await refusal(bob, "profile.get", { userId }), "federation.unreachable");
});

t.test("when a stops federating with b, bob's send in a's room is refused with federation.unreachable and neither kept nor sequenced", async (t) => {
  const { a, b, bob, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  setServerPolicy(a.app.parley.storage, "b.test", "deny");
  const before = a.app.parley.rooms.state(roomId)!.seq;
  t.equal(await refusal(bob, "message.send", { roomId, txnId: "d1", body: "are you there?" }), "federation.unreachable");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before, "nothing was sequenced at home");
  t.equal(pendingCount(b), 0, "a refusal by the home is not a pending send");
  t.equal(await refusal(bob, "link.join", { token, server: "a.test" }), "federation.unreachable", "nor can he join again");
});

t.test("once b denies a, bob's join by a's link, send in a's room and look at alice's profile are refused with federation.server_denied", async (t) => {
  const { a, b, bob, alice, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq);
  const { userId } = await alice.request("profile.get", {});
  setServerPolicy(b.app.parley.storage, "a.test", "deny");
  const before = a.app.parley.rooms.state(roomId)!.seq;
  t.equal(await refusal(bob, "link.join", { token, server: "a.test" }), "federation.server_denied");
  t.equal(await refusal(bob, "message.send", { roomId, txnId: "d2", body: "hello?" }), "federation.server_denied");
  t.equal(await refusal(bob, "profile.get", { userId }), "federation.server_denied");
  t.equal(a.app.parley.rooms.state(roomId)!.seq, before, "nothing reached a");
  t.equal(pendingCount(b), 0, "nothing is kept for a denied server");
  setServerPolicy(b.app.parley.storage, "a.test", null);
  t.equal(await refusal(bob, "profile.get", { userId }), "(accepted)", "unlisting a lifts it");
});

t.test("a deny written by another connection (the CLI, while the server runs) takes effect at b's next check, and unlisting lifts it", async (t) => {
  const { b, bob, alice } = await mathsOnThree(t);
  const { userId } = await alice.request("profile.get", {});
  t.equal(await refusal(bob, "profile.get", { userId }), "(accepted)", "b reads its lists once before the edit");
  // `parley federation deny a.test` opens its own connection to b's database.
  const cli = openStorage(b.dataDir, { migrate: false });
  t.teardown(() => cli.close());
  setServerPolicy(cli, "a.test", "deny");
  t.equal(await refusal(bob, "profile.get", { userId }), "federation.server_denied");
  setServerPolicy(cli, "a.test", null);
  t.equal(await refusal(bob, "profile.get", { userId }), "(accepted)");
});
