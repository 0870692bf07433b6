/**
 * `room.get` on a community gives its members the server access list in force (`serverAcl`, the
 * last `room.server_acl`), which the web client's admin panel shows and edits: null before any
 * list, the list after `community.servers.set`, and an empty deny list once `{"deny": []}` lifts
 * it. A group carries no list of its own (its community's governs it).
 */
import t from "tap";
import { ok, schemaErrors, startServer } from "./helpers.ts";

t.test("alice's community shows its server access list to its members, before and after she sets it", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const [alice, bob] = await Promise.all([server.user("alice"), server.user("bob")]);
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const maths = await ok(t, alice, "group.create", { name: "Maths", communityId: school.roomId });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  await ok(t, bob, "link.join", { token });

  const before = await ok(t, alice, "room.get", { roomId: school.roomId });
  t.equal(before.serverAcl, null, "no list yet");

  await ok(t, alice, "community.servers.set", { roomId: school.roomId, allow: ["school.test", "*.school.test"], deny: ["spam.example"] });
  const asAlice = await ok(t, alice, "room.get", { roomId: school.roomId });
  t.same(asAlice.serverAcl, { allow: ["school.test", "*.school.test"], deny: ["spam.example"] }, "the list alice set");
  t.same(schemaErrors("common#/$defs/RoomSummary", asAlice), [], "the answer matches RoomSummary");
  t.same((await ok(t, bob, "room.get", { roomId: school.roomId })).serverAcl, asAlice.serverAcl, "bob, a member, reads the same list");
  t.notOk("serverAcl" in (await ok(t, bob, "room.get", { roomId: maths.roomId })), "a group carries no list of its own (its community's governs it)");

  await ok(t, alice, "community.servers.set", { roomId: school.roomId, deny: [] });
  t.same((await ok(t, alice, "room.get", { roomId: school.roomId })).serverAcl, { deny: [] }, "lifted: an empty deny list and no allow list");
});
