/**
 * Communities over the real protocol: a school community and its groups, run by a named cast
 * talking through the SDK over real WebSockets.
 *
 *   alice  the head teacher, who creates the school (owner)
 *   carol  a teacher, made a community admin
 *   bob    a parent          dan  another parent
 *   eve    a troublemaker, outside the school until she is let in (and then banned)
 *
 * Happy paths are checked against each op's result schema; refusals by their exact error code.
 * Joining (group.join, requests, invite links, direct invitations) is in joining.test.ts.
 */
import t from "tap";
import WebSocket from "ws";
import { ParleyClient, type OpName, type RoomEvent, type WebSocketConstructor } from "../clients/sdk/index.ts";
import { resolveConfig } from "../server/config/load.ts";
import { caller, eventFor, password, refusalOf, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const NO_SUCH_ROOM = "!nosuchroom0:school.test";

/** Records the room events a client receives, to assert both what it saw and what it did not. */
function recorder(client: ParleyClient) {
  const events: RoomEvent[] = [];
  client.on("room.event", (e) => events.push(e));
  return {
    events,
    /** Resolves once everything the server pushed to this client before now has arrived (one round trip). */
    settle: () => client.request("ping", {}),
    saw: (roomId: string, type: string, userId?: string) =>
      events.some((e) => e.roomId === roomId && e.type === type && (userId === undefined || (e.content as { userId?: string }).userId === userId)),
  };
}

const sorted = (xs: string[]) => [...xs].sort();

/**
 * The school: alice creates it with its rules, shares a link, carol, bob and dan join by it, and
 * alice makes carol an admin. Eve is registered but outside.
 */
async function openSchool(t: Test, server: TestServer) {
  const call = caller(t);
  const [alice, carol, bob, dan, eve] = await Promise.all(["alice", "carol", "bob", "dan", "eve"].map((n) => server.user(n)));
  const school = await call(alice, "community.create", { name: "Hillside School", description: "Parents and staff", rules: "Be kind." });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  for (const parent of [carol, bob, dan]) await parent.request("link.join", { token: link.token });
  await call(alice, "member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  return { call, alice, carol, bob, dan, eve, school, link };
}

t.test("alice creates the school with its rules; admins edit its profile, members cannot", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school } = await openSchool(t, server);

  t.equal(school.kind, "community");
  t.equal(school.myRole, "owner");
  t.equal(school.rules, "Be kind.");
  t.equal(school.settings.sendPolicy, "admins", "the community is its announcement group: admins post");
  t.equal(school.communityId, null);
  t.equal(await refusalOf(alice, "community.create", { name: "" }), "invalid_params", "a community needs a name");
  t.equal(await refusalOf(alice, "community.create", { name: "Hillside", rules: "x".repeat(4097) }), "invalid_params", "rules have a length limit");

  const edited = await call(carol, "room.update", { roomId: school.roomId, rules: "Be kind. No adverts.", description: "Hillside parents and staff" });
  t.equal(edited.rules, "Be kind. No adverts.", "an admin edits the rules");
  t.equal(edited.description, "Hillside parents and staff");
  const renamed = await call(alice, "room.update", { roomId: school.roomId, name: "Hillside Primary" });
  t.equal(renamed.name, "Hillside Primary");

  t.equal(await refusalOf(bob, "room.update", { roomId: school.roomId, rules: "No rules" }), "room.forbidden", "a member cannot edit the rules");
  t.equal(await refusalOf(eve, "room.update", { roomId: school.roomId, name: "Eve's school" }), "room.not_found", "an outsider is not told the room exists");
  t.equal(await refusalOf(alice, "room.update", { roomId: school.roomId }), "invalid_params", "an update must change something");

  const asBob = await call(bob, "room.get", { roomId: school.roomId });
  t.equal(asBob.name, "Hillside Primary", "members see the new profile");
  t.same(asBob.admins, sorted([alice.userId, carol.userId]), "members see who the admins are");
  t.equal(asBob.myRole, "member");
  t.equal(asBob.pendingRequests, undefined, "members are not told about join requests");
  t.equal(asBob.memberCount, 4);
  const asCarol = await call(carol, "room.get", { roomId: school.roomId });
  t.equal(asCarol.pendingRequests, 0, "admins see the pending requests");
  t.equal(await refusalOf(eve, "room.get", { roomId: school.roomId }), "room.not_found");
  t.equal(await refusalOf(alice, "room.get", { roomId: "not a room" } as never), "invalid_params");
});

t.test("groups inside the school: create, list with member counts, link, unlink", async (t) => {
  const server = await startServer({ ...unthrottled, rooms: { groups_per_community: 3 } });
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, eve, school } = await openSchool(t, server);
  const grace = await server.user("grace");

  const maths = await call(carol, "group.create", { name: "Maths", description: "Year 7 maths", communityId: school.roomId });
  t.equal(maths.communityId, school.roomId, "#maths is inside the school");
  t.equal(maths.myRole, "owner", "its creator owns it");
  t.equal(maths.kind, "group");
  const trips = await call(alice, "group.create", { name: "Trips", communityId: school.roomId, settings: { sendPolicy: "admins" } });
  t.equal(trips.settings.sendPolicy, "admins", "a group can be created with its settings");
  t.equal(trips.settings.announcementReplies, true, "announcementReplies is not a group setting and keeps its default");

  t.equal(await refusalOf(bob, "group.create", { name: "Bob's group", communityId: school.roomId }), "room.forbidden", "a member cannot create a group in the school");
  t.equal(await refusalOf(eve, "group.create", { name: "Eve's group", communityId: school.roomId }), "room.not_found", "an outsider cannot either");
  t.equal(await refusalOf(alice, "group.create", { name: "" }), "invalid_params", "a group needs a name");

  const listed = await call(bob, "community.groups", { roomId: school.roomId });
  t.equal(listed.communityId, school.roomId);
  t.same(
    listed.groups.map((g) => [g.name, g.memberCount, g.joined, g.joinApproval, g.requested]),
    [["Maths", 1, false, false, false], ["Trips", 1, false, false, false]],
    "a member sees the school's groups, sorted, with member counts",
  );
  t.equal(await refusalOf(eve, "community.groups", { roomId: school.roomId }), "room.not_found");
  t.equal(await refusalOf(bob, "community.groups", { roomId: "school" } as never), "invalid_params");

  // Bob joins #maths straight from the list.
  const joined = await call(bob, "group.join", { roomId: maths.roomId });
  t.equal(joined.status, "joined");
  t.equal(joined.room.myRole, "member");
  const after = await call(dan, "community.groups", { roomId: school.roomId });
  t.same(after.groups.map((g) => [g.name, g.memberCount, g.joined]), [["Maths", 2, false], ["Trips", 1, false]], "the count went up");
  const asBob = await call(bob, "room.get", { roomId: trips.roomId });
  t.equal(asBob.myRole, null, "a member may look at a group listed in the school before joining");
  t.equal(await refusalOf(eve, "room.get", { roomId: trips.roomId }), "room.not_found");

  // Linking an existing standalone group: an admin of both sides, once.
  const choir = await call(carol, "group.create", { name: "Choir" });
  t.equal(choir.communityId, null, "a group without communityId is standalone");
  const choirLink = await call(carol, "link.create", { roomId: choir.roomId });
  await grace.request("link.join", { token: choirLink.token });
  const linked = await call(carol, "community.link", { roomId: school.roomId, groupId: choir.roomId });
  t.equal(linked.communityId, school.roomId, "carol, admin of the school and of #choir, links it");
  t.ok(
    (await grace.request("room.list", {})).rooms.some((r) => r.roomId === school.roomId),
    "regression: members of a linked group become members of the community (the invariant the design names)",
  );
  t.equal((await call(alice, "room.members", { roomId: school.roomId })).count, 5, "grace is counted in the school");
  t.equal(await refusalOf(carol, "community.link", { roomId: school.roomId, groupId: choir.roomId }), "room.group_linked", "a group is linked once");

  const chess = await call(bob, "group.create", { name: "Chess" });
  t.equal(await refusalOf(bob, "community.link", { roomId: school.roomId, groupId: chess.roomId }), "room.forbidden", "bob owns #chess but is not a school admin");
  t.equal(await refusalOf(carol, "community.link", { roomId: school.roomId, groupId: chess.roomId }), "room.not_found", "carol is not in #chess");
  const chessLink = await call(bob, "link.create", { roomId: chess.roomId });
  await alice.request("link.join", { token: chessLink.token });
  t.equal(await refusalOf(alice, "community.link", { roomId: school.roomId, groupId: chess.roomId }), "room.forbidden", "alice is only a member of #chess");
  await call(bob, "member.role", { roomId: chess.roomId, userId: alice.userId, role: "admin" });
  t.equal(await refusalOf(alice, "community.link", { roomId: school.roomId, groupId: chess.roomId }), "room.group_limit", "the school holds 3 groups at most (config)");
  t.equal(await refusalOf(alice, "group.create", { name: "Art", communityId: school.roomId }), "room.group_limit");
  t.equal(await refusalOf(eve, "community.link", { roomId: school.roomId, groupId: chess.roomId }), "room.not_found");

  // Unlinking: the group lives on, standalone.
  const unlinked = await call(carol, "community.unlink", { roomId: school.roomId, groupId: choir.roomId });
  t.equal(unlinked.communityId, null, "#choir lives on as a standalone group");
  t.equal((await call(carol, "room.get", { roomId: choir.roomId })).communityId, null);
  t.equal(await refusalOf(carol, "community.unlink", { roomId: school.roomId, groupId: choir.roomId }), "room.not_found", "it is no longer in the school");
  t.equal(await refusalOf(bob, "community.unlink", { roomId: school.roomId, groupId: maths.roomId }), "room.forbidden", "a plain member cannot unlink");
  t.equal(await refusalOf(eve, "community.unlink", { roomId: school.roomId, groupId: maths.roomId }), "room.not_found");
  // The protocol lets a group's own admins take it out, even when they are not school admins.
  await call(carol, "member.role", { roomId: maths.roomId, userId: bob.userId, role: "admin" });
  const out = await call(bob, "community.unlink", { roomId: school.roomId, groupId: maths.roomId });
  t.equal(out.communityId, null, "an admin of #maths who is a plain school member unlinks it");
  t.same((await call(dan, "community.groups", { roomId: school.roomId })).groups.map((g) => g.name), ["Trips"]);
  const chessIn = await call(alice, "community.link", { roomId: school.roomId, groupId: chess.roomId });
  t.equal(chessIn.communityId, school.roomId, "with room under the cap again, #chess can be linked");
});

t.test("a banned member of a standalone group keeps it out of the school until dealt with", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, eve, school } = await openSchool(t, server);
  const choir = await call(carol, "group.create", { name: "Choir" });
  const link = await call(carol, "link.create", { roomId: choir.roomId });
  await eve.request("link.join", { token: link.token });
  await call(alice, "member.ban", { roomId: school.roomId, userId: eve.userId });
  t.equal(await refusalOf(carol, "community.link", { roomId: school.roomId, groupId: choir.roomId }), "room.banned", "linking would carry eve into the school");
  t.equal((await call(carol, "room.get", { roomId: choir.roomId })).communityId, null, "nothing was linked");
  await call(carol, "member.remove", { roomId: choir.roomId, userId: eve.userId });
  t.equal((await call(carol, "community.link", { roomId: school.roomId, groupId: choir.roomId })).communityId, school.roomId);
});

t.test("roles: promote, the admin cap, demote, transfer ownership; the owner cannot leave", async (t) => {
  t.equal(resolveConfig({}).rooms.admins_per_community, 20, "the default cap is 20 community admins");
  const server = await startServer({ ...unthrottled, rooms: { admins_per_community: 3 } });
  t.teardown(() => server.stop(true));
  t.equal(server.config.rooms.admins_per_community, 3);
  const { call, alice, carol, bob, dan, eve, school } = await openSchool(t, server);
  const room = school.roomId;

  t.equal(await refusalOf(bob, "member.role", { roomId: room, userId: bob.userId, role: "admin" }), "room.forbidden", "a member cannot promote themselves");
  const promoted = await call(alice, "member.role", { roomId: room, userId: bob.userId, role: "admin" });
  t.same(promoted, { roomId: room, userId: bob.userId, role: "admin" }, "alice, carol and bob: three admins, the cap");
  t.equal(await refusalOf(alice, "member.role", { roomId: room, userId: dan.userId, role: "admin" }), "room.admin_limit", "a fourth admin is refused");
  t.equal(await refusalOf(carol, "member.role", { roomId: room, userId: dan.userId, role: "admin" }), "room.admin_limit");
  t.equal(await refusalOf(alice, "member.role", { roomId: room, userId: dan.userId, role: "owner" }), "room.admin_limit", "a transfer to a member at the cap would make four admins");
  t.equal(await refusalOf(carol, "member.role", { roomId: room, userId: bob.userId, role: "member" }), "room.forbidden", "only the owner demotes another admin");
  await call(alice, "member.role", { roomId: room, userId: bob.userId, role: "member" });
  await call(alice, "member.role", { roomId: room, userId: dan.userId, role: "admin" });
  t.same((await call(alice, "room.members", { roomId: room })).admins, sorted([alice.userId, carol.userId, dan.userId]), "demoting bob made room for dan");
  await call(dan, "member.role", { roomId: room, userId: dan.userId, role: "member" });
  t.same((await call(alice, "room.get", { roomId: room })).admins, sorted([alice.userId, carol.userId]), "an admin can step down");

  t.equal(await refusalOf(alice, "member.role", { roomId: room, userId: eve.userId, role: "admin" }), "room.not_member", "eve is not in the school");
  t.equal(await refusalOf(eve, "member.role", { roomId: room, userId: bob.userId, role: "admin" }), "room.not_found");
  t.equal(await refusalOf(carol, "member.role", { roomId: room, userId: carol.userId, role: "owner" }), "room.forbidden", "an admin cannot take ownership");
  t.equal(await refusalOf(carol, "member.role", { roomId: room, userId: alice.userId, role: "member" }), "room.forbidden", "nobody demotes the owner");

  t.equal(await refusalOf(alice, "room.leave", { roomId: room }), "room.owner_must_transfer", "the owner cannot leave");
  const transferred = await call(alice, "member.role", { roomId: room, userId: carol.userId, role: "owner" });
  t.equal(transferred.role, "owner");
  const members = await call(carol, "room.members", { roomId: room });
  t.same(
    members.members!.filter((m) => m.role !== "member").map((m) => [m.userId, m.role]),
    [[alice.userId, "admin"], [carol.userId, "owner"]],
    "the old owner stays on as an admin",
  );
  t.equal((await call(alice, "room.get", { roomId: room })).myRole, "admin");
  t.equal(await refusalOf(carol, "room.leave", { roomId: room }), "room.owner_must_transfer", "the new owner cannot leave either");
  t.same(await call(alice, "room.leave", { roomId: room }), { roomId: room, leftGroups: [] }, "the old owner, now an admin, can");
});

t.test("the 21st community admin is refused under the default cap of 20", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  t.equal(server.config.rooms.admins_per_community, 20);
  const alice = await server.user("alice");
  const school = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: school.roomId });
  // Registration over HTTP is rate-limited (20 a minute per address); the staff accounts are
  // made by the accounts service directly and then connect like any client.
  const teachers = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const session = await server.app.parley.accounts.register({ username: `teacher${i + 1}`, password }, "127.0.0.1");
      const client = new ParleyClient(session as never, { baseUrl: server.baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: false });
      await client.connect();
      return client;
    }),
  );
  t.teardown(() => teachers.forEach((c) => c.close()));
  for (const teacher of teachers) await teacher.request("link.join", { token: link.token });
  for (const teacher of teachers.slice(0, 19)) await alice.request("member.role", { roomId: school.roomId, userId: teacher.userId, role: "admin" });
  t.equal((await alice.request("room.get", { roomId: school.roomId })).admins?.length, 20, "alice and 19 teachers: 20 admins");
  t.equal(await refusalOf(alice, "member.role", { roomId: school.roomId, userId: teachers[19].userId, role: "admin" }), "room.admin_limit", "the 21st is refused");
});

t.test("removal from the school cascades into its groups; bans keep people out; unban lets them back", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, eve, school, link } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  const trips = await call(alice, "group.create", { name: "Trips", communityId: school.roomId });
  const mathsLink = await call(carol, "link.create", { roomId: maths.roomId });
  for (const parent of [bob, dan]) {
    await parent.request("group.join", { roomId: maths.roomId });
    await parent.request("group.join", { roomId: trips.roomId });
  }

  const told = eventFor(bob, maths.roomId, "member.remove");
  const removed = await call(carol, "member.remove", { roomId: school.roomId, userId: bob.userId });
  t.same(sorted(removed.removedFromGroups), sorted([maths.roomId, trips.roomId]), "bob is removed from every group of the school");
  t.same((await call(bob, "room.list", {})).rooms, [], "bob's room list is empty");
  t.equal(((await told).content as { cascade?: string }).cascade, school.roomId, "bob is told, and why");
  t.equal((await call(dan, "room.members", { roomId: maths.roomId })).count, 2, "#maths lost bob");
  t.equal(await refusalOf(carol, "member.remove", { roomId: school.roomId, userId: bob.userId }), "room.not_member", "bob is no longer a member");
  t.equal(await refusalOf(dan, "member.remove", { roomId: school.roomId, userId: carol.userId }), "room.forbidden", "a member cannot remove anyone");
  t.equal(await refusalOf(eve, "member.remove", { roomId: school.roomId, userId: dan.userId }), "room.not_found");

  // Only the owner removes an admin.
  await call(alice, "member.role", { roomId: school.roomId, userId: dan.userId, role: "admin" });
  t.equal(await refusalOf(carol, "member.remove", { roomId: school.roomId, userId: dan.userId }), "room.forbidden", "an admin cannot remove another admin");
  t.equal(await refusalOf(carol, "member.remove", { roomId: school.roomId, userId: alice.userId }), "room.forbidden", "nobody removes the owner");
  await call(alice, "member.role", { roomId: school.roomId, userId: dan.userId, role: "member" });

  // Bob was only removed: he may come back by the link, and into #maths from the list.
  t.equal((await call(bob, "link.join", { token: link.token })).status, "joined");
  await bob.request("group.join", { roomId: maths.roomId });

  // Banning: out of the school and its groups, and kept out.
  const banned = await call(alice, "member.ban", { roomId: school.roomId, userId: bob.userId });
  t.same(banned.removedFromGroups, [maths.roomId], "banned from the school, bob leaves #maths with it");
  t.equal(await refusalOf(bob, "link.join", { token: link.token }), "room.banned", "the school's link does not let him back");
  t.equal(await refusalOf(bob, "link.join", { token: mathsLink.token }), "room.banned", "nor does a link to a group inside it");
  t.equal(await refusalOf(bob, "group.join", { roomId: maths.roomId }), "room.not_found", "he is out of the school, so its groups are out of sight");
  t.equal(await refusalOf(alice, "member.ban", { roomId: school.roomId, userId: bob.userId }), "room.banned", "a ban is not repeated");
  t.equal(await refusalOf(dan, "member.ban", { roomId: school.roomId, userId: carol.userId }), "room.forbidden");
  t.equal(await refusalOf(eve, "member.ban", { roomId: school.roomId, userId: dan.userId }), "room.not_found");
  t.equal(await refusalOf(carol, "member.invite", { roomId: school.roomId, userId: bob.userId }), "room.banned", "a banned user cannot be invited either");
  const preemptive = await call(carol, "member.ban", { roomId: school.roomId, userId: eve.userId });
  t.same(preemptive, { roomId: school.roomId, userId: eve.userId, removedFromGroups: [] }, "eve is banned before she ever joins");
  t.equal(await refusalOf(eve, "link.join", { token: link.token }), "room.banned");

  t.equal(await refusalOf(dan, "member.unban", { roomId: school.roomId, userId: bob.userId }), "room.forbidden");
  t.equal(await refusalOf(eve, "member.unban", { roomId: school.roomId, userId: bob.userId }), "room.not_found");
  t.equal(await refusalOf(carol, "member.unban", { roomId: school.roomId, userId: dan.userId }), "room.not_member", "dan is not banned");
  t.same(await call(alice, "member.unban", { roomId: school.roomId, userId: bob.userId }), { roomId: school.roomId, userId: bob.userId });
  t.equal((await call(bob, "link.join", { token: link.token })).status, "joined", "unbanned, bob is back");

  // A ban from one group only: still in the school, but not in #maths.
  const groupBan = await call(carol, "member.ban", { roomId: maths.roomId, userId: dan.userId });
  t.same(groupBan.removedFromGroups, [], "a group ban cascades nowhere");
  t.equal(await refusalOf(dan, "group.join", { roomId: maths.roomId }), "room.banned", "not back from the list");
  t.equal(await refusalOf(dan, "link.join", { token: mathsLink.token }), "room.banned", "nor by the group's link");
  t.ok((await call(dan, "room.list", {})).rooms.some((r) => r.roomId === school.roomId), "dan is still in the school");
});

t.test("leaving: a group alone, or the school and all its groups; owners transfer first", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  const trips = await call(alice, "group.create", { name: "Trips", communityId: school.roomId });
  await bob.request("group.join", { roomId: maths.roomId });
  await bob.request("group.join", { roomId: trips.roomId });

  t.same(await call(bob, "room.leave", { roomId: maths.roomId }), { roomId: maths.roomId, leftGroups: [] }, "bob leaves #maths alone");
  t.same((await call(bob, "room.list", {})).rooms.map((r) => r.name), ["Hillside School", "Trips"]);
  t.same(await call(bob, "room.leave", { roomId: school.roomId }), { roomId: school.roomId, leftGroups: [trips.roomId] }, "leaving the school leaves its groups");
  t.same((await call(bob, "room.list", {})).rooms, []);
  t.equal(await refusalOf(bob, "room.leave", { roomId: school.roomId }), "room.not_found", "he cannot leave twice");
  t.equal(await refusalOf(eve, "room.leave", { roomId: school.roomId }), "room.not_found");
  t.equal(await refusalOf(carol, "room.leave", { roomId: school.roomId }), "room.owner_must_transfer", "carol owns #maths: she must hand it over first");
  t.equal(await refusalOf(alice, "room.leave", { roomId: trips.roomId }), "room.owner_must_transfer", "the owner of a group cannot leave it");
  t.ok((await call(carol, "room.list", {})).rooms.some((r) => r.roomId === maths.roomId), "the refused leave left carol everywhere she was");
});

t.test("privacy: members of the school see counts and admins, not the member list, nor others joining", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, school, link } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  await bob.request("group.join", { roomId: maths.roomId });

  const asMember = await call(bob, "room.members", { roomId: school.roomId });
  t.same(asMember, { roomId: school.roomId, count: 4, members: null, admins: sorted([alice.userId, carol.userId]) }, "a member gets the count and the admins");
  const asAdmin = await call(carol, "room.members", { roomId: school.roomId });
  t.same(asAdmin.members!.map((m) => m.userId), sorted([alice.userId, carol.userId, bob.userId, dan.userId]), "an admin sees everyone");
  t.equal(await refusalOf(bob, "room.members", { roomId: "" } as never), "invalid_params");
  const inGroup = await call(bob, "room.members", { roomId: maths.roomId });
  t.same(inGroup.members!.map((m) => [m.userId, m.role]), [[bob.userId, "member"], [carol.userId, "owner"]], "in an ordinary group members see each other");

  const bobSaw = recorder(bob);
  const carolSaw = recorder(carol);
  const grace = await server.user("grace");
  await grace.request("link.join", { token: link.token });
  await Promise.all([bobSaw.settle(), carolSaw.settle()]);
  t.ok(carolSaw.saw(school.roomId, "member.join", grace.userId), "an admin is told grace joined the school");
  t.notOk(bobSaw.saw(school.roomId, "member.join", grace.userId), "a member is not");
  await grace.request("group.join", { roomId: maths.roomId });
  await bobSaw.settle();
  t.ok(bobSaw.saw(maths.roomId, "member.join", grace.userId), "in #maths, bob sees grace arrive");
  await grace.request("room.leave", { roomId: school.roomId });
  await Promise.all([bobSaw.settle(), carolSaw.settle()]);
  t.ok(carolSaw.saw(school.roomId, "member.leave", grace.userId), "an admin is told grace left");
  t.notOk(bobSaw.saw(school.roomId, "member.leave", grace.userId), "a member is not");
  t.ok(bobSaw.saw(maths.roomId, "member.leave", grace.userId), "but sees her leave #maths with it");
  const bobSync = await bob.request("sync", { since: 0 });
  t.notOk(bobSync.events.some((e) => e.roomId === school.roomId && e.type.startsWith("member.") && (e.content as { userId?: string }).userId !== bob.userId), "nor can bob find others' school membership by syncing from the start");
});

t.test("settings: who may send, announcement replies, and what a community cannot become", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  await bob.request("group.join", { roomId: maths.roomId });

  await call(bob, "message.send", { roomId: maths.roomId, body: "Is there homework?", txnId: "b1" });
  const quiet = await call(carol, "room.settings.update", { roomId: maths.roomId, sendPolicy: "admins" });
  t.equal(quiet.settings.sendPolicy, "admins");
  t.equal(await refusalOf(bob, "message.send", { roomId: maths.roomId, body: "Hello?", txnId: "b2" }), "room.forbidden", "only admins post in #maths now");
  await call(carol, "message.send", { roomId: maths.roomId, body: "Homework: page 12", txnId: "c1" });
  await call(carol, "room.settings.update", { roomId: maths.roomId, sendPolicy: "all", editInfoPolicy: "all" });
  await call(bob, "message.send", { roomId: maths.roomId, body: "Thanks", txnId: "b3" });
  t.equal((await call(bob, "room.update", { roomId: maths.roomId, description: "Year 7 maths" })).description, "Year 7 maths", "with editInfoPolicy all, bob edits #maths's info");

  t.equal(await refusalOf(alice, "room.settings.update", { roomId: school.roomId, sendPolicy: "all" }), "room.invalid", "the announcement group stays admins-only");
  t.equal(await refusalOf(carol, "room.settings.update", { roomId: maths.roomId, announcementReplies: false }), "room.invalid", "announcementReplies is for communities");
  t.equal(await refusalOf(bob, "room.settings.update", { roomId: maths.roomId, joinApproval: true }), "room.forbidden");
  t.equal(await refusalOf(eve, "room.settings.update", { roomId: maths.roomId, joinApproval: true }), "room.not_found");
  t.equal(await refusalOf(carol, "room.settings.update", { roomId: maths.roomId }), "invalid_params", "a settings change must change something");

  const announcement = await call(alice, "message.send", { roomId: school.roomId, body: "Sports day is Friday", txnId: "a1" });
  t.equal(await refusalOf(bob, "message.send", { roomId: school.roomId, body: "Me too", txnId: "b4" }), "announcement.admins_only", "a member cannot post a top-level announcement");
  await call(bob, "message.send", { roomId: school.roomId, body: "Can't wait", txnId: "b5", threadRoot: announcement.event.seq });
  const off = await call(carol, "room.settings.update", { roomId: school.roomId, announcementReplies: false });
  t.equal(off.settings.announcementReplies, false);
  t.equal(
    await refusalOf(bob, "message.send", { roomId: school.roomId, body: "One more", txnId: "b6", threadRoot: announcement.event.seq }),
    "announcement.replies_off",
    "with replies off, members cannot reply",
  );
  await call(carol, "message.send", { roomId: school.roomId, body: "Bring water", txnId: "c2", threadRoot: announcement.event.seq });
  const thread = await call(bob, "message.thread", { roomId: school.roomId, root: announcement.event.seq });
  t.same(thread.replies.map((r) => r.body), ["Can't wait", "Bring water"], "admins still reply; replies stay in order");
});

t.test("deactivation: the owner only; groups live on standalone; members are told; writes refused", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school } = await openSchool(t, server);
  const maths = await call(alice, "group.create", { name: "Maths", communityId: school.roomId });
  // alice is not in #trips: deactivation must still unlink it.
  const trips = await call(carol, "group.create", { name: "Trips", communityId: school.roomId });
  await bob.request("group.join", { roomId: maths.roomId });
  await bob.request("group.join", { roomId: trips.roomId });
  const standalone = await call(alice, "group.create", { name: "Staff room" });

  t.equal(await refusalOf(carol, "community.deactivate", { roomId: school.roomId }), "room.forbidden", "an admin cannot deactivate the school");
  t.equal(await refusalOf(bob, "community.deactivate", { roomId: school.roomId }), "room.forbidden");
  t.equal(await refusalOf(eve, "community.deactivate", { roomId: school.roomId }), "room.not_found");
  t.equal(await refusalOf(alice, "community.deactivate", { roomId: standalone.roomId }), "room.invalid", "a group is not a community");

  const told = eventFor(bob, school.roomId, "room.deactivate");
  const done = await call(alice, "community.deactivate", { roomId: school.roomId });
  t.same(sorted(done.unlinkedGroups), sorted([maths.roomId, trips.roomId]));
  t.equal((await told).sender, alice.userId, "bob is told the school is closed");
  const school2 = await call(bob, "room.get", { roomId: school.roomId });
  t.equal(school2.deactivated, true);
  t.same(school2.groups, [], "the school holds no groups");
  for (const group of [maths, trips]) {
    const g = await call(bob, "room.get", { roomId: group.roomId });
    t.equal(g.communityId, null, `${g.name} lives on as a standalone group`);
    t.equal(g.deactivated, false);
  }
  await call(bob, "message.send", { roomId: trips.roomId, body: "Still going on the trip?", txnId: "b1" });

  t.equal(await refusalOf(alice, "room.update", { roomId: school.roomId, name: "Reopened" }), "room.deactivated");
  t.equal(await refusalOf(alice, "message.send", { roomId: school.roomId, body: "Hello?", txnId: "a1" }), "room.deactivated");
  t.equal(await refusalOf(alice, "link.create", { roomId: school.roomId }), "room.deactivated");
  t.equal(await refusalOf(alice, "group.create", { name: "Art", communityId: school.roomId }), "room.deactivated");
  t.equal(await refusalOf(alice, "member.role", { roomId: school.roomId, userId: bob.userId, role: "admin" }), "room.deactivated");
  t.equal(await refusalOf(alice, "community.deactivate", { roomId: school.roomId }), "room.deactivated", "it is deactivated once");
  t.equal(await refusalOf(alice, "community.link", { roomId: school.roomId, groupId: standalone.roomId }), "room.deactivated");
});

t.test("the audit log records every admin action, pages backwards, and is for admins only", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, eve, school } = await openSchool(t, server);
  const grace = await server.user("grace");
  await call(alice, "room.settings.update", { roomId: school.roomId, announcementReplies: false });
  await call(carol, "room.update", { roomId: school.roomId, rules: "Be kind. No adverts." });
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId, settings: { joinApproval: true } });
  const link = await call(carol, "link.create", { roomId: school.roomId, maxUses: 10 });
  const fresh = await call(carol, "link.reset", { roomId: school.roomId, linkId: link.linkId });
  await call(carol, "link.revoke", { roomId: school.roomId, linkId: fresh.linkId });
  await bob.request("group.join", { roomId: maths.roomId });
  await dan.request("group.join", { roomId: maths.roomId });
  await call(carol, "join.approve", { roomId: maths.roomId, userId: bob.userId });
  await call(carol, "join.reject", { roomId: maths.roomId, userId: dan.userId });
  const sent = await call(bob, "message.send", { roomId: maths.roomId, body: "buy my raffle tickets", txnId: "b1" });
  await call(carol, "message.delete", { roomId: maths.roomId, seq: sent.event.seq, forEveryone: true });
  await call(carol, "member.invite", { roomId: school.roomId, userId: grace.userId });
  await call(alice, "member.ban", { roomId: school.roomId, userId: eve.userId });
  await call(alice, "member.unban", { roomId: school.roomId, userId: eve.userId });
  await call(alice, "member.remove", { roomId: school.roomId, userId: dan.userId });
  await call(carol, "member.role", { roomId: maths.roomId, userId: bob.userId, role: "admin" });
  const trips = await call(alice, "group.create", { name: "Trips", communityId: school.roomId });
  await call(alice, "community.unlink", { roomId: school.roomId, groupId: trips.roomId });

  const log = await call(alice, "audit.list", { roomId: school.roomId, limit: 200 });
  t.equal(log.scopeId, school.roomId, "the school and its groups share one log");
  t.equal(log.more, false);
  const actions = new Set(log.entries.map((e) => e.action));
  for (const action of [
    "member.role", "room.settings", "room.profile", "community.group.add", "community.group.remove", "link.create", "link.reset", "link.revoke",
    "join.approve", "join.reject", "message.delete", "member.invite", "member.ban", "member.unban", "member.remove",
  ]) {
    t.ok(actions.has(action), `the log records ${action}`);
  }
  const approve = log.entries.find((e) => e.action === "join.approve")!;
  t.same([approve.roomId, approve.actor, approve.target], [maths.roomId, carol.userId, bob.userId], "an entry says where, who and to whom");
  const ban = log.entries.find((e) => e.action === "member.ban")!;
  t.same([ban.actor, ban.target], [alice.userId, eve.userId]);
  t.same(log.entries.map((e) => e.id), [...log.entries.map((e) => e.id)].sort((a, b) => b - a), "newest first");

  // Page through three at a time and get the same entries.
  const paged: number[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await call(carol, "audit.list", before === undefined ? { roomId: school.roomId, limit: 3 } : { roomId: school.roomId, limit: 3, before });
    paged.push(...page.entries.map((e) => e.id));
    t.ok(page.entries.length <= 3);
    if (!page.more) break;
    before = page.entries[page.entries.length - 1].id;
  }
  t.same(paged, log.entries.map((e) => e.id), "paging with before/limit walks the whole log once");

  t.equal(await refusalOf(grace, "audit.list", { roomId: school.roomId }), "room.not_found", "grace was only invited");
  await grace.request("invite.accept", { roomId: school.roomId });
  t.equal(await refusalOf(grace, "audit.list", { roomId: school.roomId }), "room.forbidden", "a member may not read the log");
  t.equal(await refusalOf(eve, "audit.list", { roomId: school.roomId }), "room.not_found", "an outsider is not told it exists");
  t.equal(await refusalOf(eve, "audit.list", { roomId: NO_SUCH_ROOM }), "room.not_found");

  // Bob administers #maths but not the school: he sees #maths's entries, not the school's.
  const mathsLog = await call(bob, "audit.list", { roomId: maths.roomId });
  t.ok(mathsLog.entries.length > 0, "a group admin reads the log of their group");
  t.same([...new Set(mathsLog.entries.map((e) => e.roomId))], [maths.roomId], "regression: a group admin did not see the whole school's log (bans, removals)");
});

t.test("room.list with unread counts and last message; common groups", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, school } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  const trips = await call(carol, "group.create", { name: "Trips", communityId: school.roomId });
  await call(carol, "group.create", { name: "Art", communityId: school.roomId });
  for (const g of [maths, trips]) await bob.request("group.join", { roomId: g.roomId });
  await dan.request("group.join", { roomId: trips.roomId });
  const standalone = await call(bob, "group.create", { name: "Carpool" });

  const sent = [];
  for (const body of ["Test on Monday", "Bring a calculator", "Chapter 3"]) sent.push(await call(carol, "message.send", { roomId: maths.roomId, body, txnId: body }));
  await call(bob, "message.send", { roomId: maths.roomId, body: "Got it", txnId: "b1" });
  let list = await call(bob, "room.list", {});
  t.same(list.rooms.map((r) => [r.kind, r.name, r.role]), [["community", "Hillside School", "member"], ["group", "Carpool", "owner"], ["group", "Maths", "member"], ["group", "Trips", "member"]]);
  let m = list.rooms.find((r) => r.roomId === maths.roomId)!;
  t.equal(m.unread, 3, "three messages from carol; bob's own do not count");
  t.same(m.lastMessage && [m.lastMessage.body, m.lastMessage.sender], ["Got it", bob.userId], "the last message is bob's");
  t.equal(m.communityId, school.roomId);
  t.equal(list.rooms.find((r) => r.roomId === trips.roomId)!.lastMessage, null, "no message yet in #trips");

  await call(bob, "receipt.read", { roomId: maths.roomId, seq: sent[1].event.seq });
  list = await call(bob, "room.list", {});
  m = list.rooms.find((r) => r.roomId === maths.roomId)!;
  t.equal(m.unread, 1, "after reading up to the second, one is left");
  t.equal(m.readSeq, sent[1].event.seq);
  await call(bob, "receipt.read", { roomId: maths.roomId, seq: sent[2].event.seq });
  t.equal((await call(bob, "room.list", {})).rooms.find((r) => r.roomId === maths.roomId)!.unread, 0);

  const common = await call(alice, "user.common_groups", { userId: bob.userId });
  t.same(common, { userId: bob.userId, groups: [] }, "alice and bob share the school, but no group");
  const withCarol = await call(bob, "user.common_groups", { userId: carol.userId });
  t.same(withCarol.groups.map((g) => [g.name, g.communityId]), [["Maths", school.roomId], ["Trips", school.roomId]], "bob and carol share #maths and #trips, not #art");
  t.same((await call(dan, "user.common_groups", { userId: bob.userId })).groups.map((g) => g.name), ["Trips"]);
  t.notOk(withCarol.groups.some((g) => g.roomId === standalone.roomId));
  t.same((await call(bob, "user.common_groups", { userId: "@nobody:school.test" })).groups, [], "nobody shares nothing");
  t.equal(await refusalOf(bob, "user.common_groups", { userId: "carol" }), "invalid_params");
});

t.test("an outsider gets the same answer for a room they are not in as for a room that does not exist", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, carol, bob, eve, school } = await openSchool(t, server);
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId, settings: { joinApproval: true } });
  await bob.request("group.join", { roomId: maths.roomId });
  const evesOwn = await call(eve, "group.create", { name: "Eve's corner" });
  const link = await call(carol, "link.create", { roomId: school.roomId });

  // Each probe: the op and its params for a room id. Every answer is room.not_found, except the
  // three ops about one's own invitation or request, which answer that there is none.
  const ownPending: Record<string, string> = { "join.cancel": "room.no_request", "invite.accept": "room.not_invited", "invite.decline": "room.not_invited" };
  const probes: ((roomId: string) => [OpName, Record<string, unknown>])[] = [
    (r) => ["room.get", { roomId: r }],
    (r) => ["room.members", { roomId: r }],
    (r) => ["room.update", { roomId: r, name: "Mine" }],
    (r) => ["room.settings.update", { roomId: r, joinApproval: true }],
    (r) => ["room.leave", { roomId: r }],
    (r) => ["community.groups", { roomId: r }],
    (r) => ["community.deactivate", { roomId: r }],
    (r) => ["community.link", { roomId: r, groupId: evesOwn.roomId }],
    (r) => ["community.unlink", { roomId: r, groupId: maths.roomId }],
    (r) => ["group.create", { name: "Mine", communityId: r }],
    (r) => ["group.join", { roomId: r }],
    (r) => ["member.invite", { roomId: r, userId: eve.userId }],
    (r) => ["member.remove", { roomId: r, userId: bob.userId }],
    (r) => ["member.ban", { roomId: r, userId: bob.userId }],
    (r) => ["member.unban", { roomId: r, userId: bob.userId }],
    (r) => ["member.role", { roomId: r, userId: eve.userId, role: "admin" }],
    (r) => ["join.requests", { roomId: r }],
    (r) => ["join.approve", { roomId: r, userId: bob.userId }],
    (r) => ["join.reject", { roomId: r, userId: bob.userId }],
    (r) => ["join.cancel", { roomId: r }],
    (r) => ["invite.accept", { roomId: r }],
    (r) => ["invite.decline", { roomId: r }],
    (r) => ["link.create", { roomId: r }],
    (r) => ["link.list", { roomId: r }],
    (r) => ["link.revoke", { roomId: r, linkId: link.linkId }],
    (r) => ["link.reset", { roomId: r, linkId: link.linkId }],
    (r) => ["audit.list", { roomId: r }],
    (r) => ["message.send", { roomId: r, body: "hi", txnId: "e1" }],
    (r) => ["message.history", { roomId: r }],
    (r) => ["receipt.read", { roomId: r, seq: 1 }],
  ];
  for (const probe of probes) {
    const [op, missing] = probe(NO_SUCH_ROOM);
    const expected = ownPending[op] ?? "room.not_found";
    t.equal(await refusalOf(eve, op, missing as never), expected, `${op} on a room that does not exist: ${expected}`);
    for (const roomId of [school.roomId, maths.roomId]) {
      const [, params] = probe(roomId);
      t.equal(await refusalOf(eve, op, params as never), expected, `${op} on a ${roomId === school.roomId ? "community" : "group"} eve is not in: the same ${expected}`);
    }
  }
});

t.test("regression: members can leave a deactivated community, which then leaves their list", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const school = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: school.roomId });
  await bob.request("link.join", { token: link.token });
  await alice.request("community.deactivate", { roomId: school.roomId });
  t.equal(await refusalOf(bob, "message.send", { roomId: school.roomId, body: "hi", txnId: "x" }), "room.deactivated");
  await bob.request("room.leave", { roomId: school.roomId });
  t.same((await bob.request("room.list", {})).rooms, [], "bob's list no longer shows the community");
  await alice.request("room.leave", { roomId: school.roomId });
  t.same((await alice.request("room.list", {})).rooms, [], "the owner may leave a deactivated community too");
});

t.test("regression: a group whose owner is removed from the community gets a new owner", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const carol = await server.user("carol");
  const bob = await server.user("bob");
  const dan = await server.user("dan");
  const school = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: school.roomId });
  for (const c of [carol, bob, dan]) await c.request("link.join", { token: link.token });
  await alice.request("member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  const trips = await carol.request("group.create", { name: "Trips", communityId: school.roomId });
  await bob.request("group.join", { roomId: trips.roomId });
  await dan.request("group.join", { roomId: trips.roomId });
  await carol.request("member.role", { roomId: trips.roomId, userId: dan.userId, role: "admin" });
  const removed = await alice.request("member.remove", { roomId: school.roomId, userId: carol.userId });
  t.same(removed.removedFromGroups, [trips.roomId]);
  const members = await bob.request("room.members", { roomId: trips.roomId });
  t.same(
    members.members?.map((m) => [m.userId, m.role]).sort(),
    [
      [bob.userId, "member"],
      [dan.userId, "owner"],
    ],
    "the group's admin became its owner, and the remover did not become a member",
  );
  // The new owner can run the group.
  await dan.request("room.update", { roomId: trips.roomId, name: "School trips" });
});
