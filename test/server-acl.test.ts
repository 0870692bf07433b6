/**
 * A community's server access list as a pure rule (`authorize` and `aclDenies`), on one server:
 * the school community of school.test, alice its owner, carol an admin, bob a member; mallory of
 * spam.test and dave of other.test come from elsewhere. Then the list on a real server, kept
 * across a restart (it is a projection of the log).
 */
import t from "tap";
import { authorize, type AuthContext } from "../server/rooms/authorize.ts";
import { aclDenies, defaultCommunitySettings, defaultGroupSettings, type Proposal, type Role, type RoomLimits, type RoomState, type ServerAcl } from "../server/rooms/types.ts";
import { ok, refusalOf, startServer } from "./helpers.ts";

const alice = "@alice:school.test";
const carol = "@carol:school.test";
const bob = "@bob:school.test";
const mallory = "@mallory:spam.test";
const dave = "@dave:other.test";
const SCHOOL = "!school0001:school.test";
const MATHS = "!maths00001:school.test";

const limits: RoomLimits = { groupsPerCommunity: 10, membersPerGroup: 100, membersPerCommunity: 100, adminsPerCommunity: 10, messageChars: 100, deleteWindowMs: 60_000 };

function room(kind: "community" | "group", members: [string, Role][], serverAcl: ServerAcl | null = null): RoomState {
  return {
    id: kind === "community" ? SCHOOL : MATHS,
    kind,
    name: kind === "community" ? "Hillside School" : "Maths",
    description: "",
    picture: null,
    rules: "",
    communityId: kind === "group" ? SCHOOL : null,
    groups: new Set(kind === "community" ? [MATHS] : []),
    settings: { ...(kind === "community" ? defaultCommunitySettings : defaultGroupSettings) },
    members: new Map(members),
    bans: new Set(),
    requests: new Set(),
    invites: new Set([mallory]),
    seq: 5,
    deactivated: false,
    createdBy: alice,
    createdAt: 0,
    adminCount: members.filter(([, r]) => r !== "member").length,
    pinned: [],
    head: null,
    serverAcl,
  };
}

const cast: [string, Role][] = [[alice, "owner"], [carol, "admin"], [bob, "member"], [mallory, "member"]];
const denySpam: ServerAcl = { deny: ["spam.test"] };
const decide = (state: RoomState, p: Omit<Proposal, "roomId">, ctx: Partial<AuthContext> = {}) => {
  const d = authorize(state, { roomId: state.id, ...p }, { limits, now: 0, ...ctx });
  return d.ok ? "ok" : d.code;
};

t.test("aclDenies matches names and patterns, deny over allow, and no list denies no one", async (t) => {
  t.equal(aclDenies(null, "spam.test"), false);
  t.equal(aclDenies(denySpam, "spam.test"), true);
  t.equal(aclDenies(denySpam, "SPAM.test"), true, "server names are case-insensitive");
  t.equal(aclDenies(denySpam, "school.test"), false);
  t.equal(aclDenies({ deny: ["*.spam.test"] }, "eu.spam.test"), true);
  t.equal(aclDenies({ deny: ["*.spam.test"] }, "spam.test"), false, "the pattern needs a label before");
  t.equal(aclDenies({ deny: ["spam?.test"] }, "spam1.test"), true);
  t.equal(aclDenies({ deny: ["spam.test"] }, "spamxtest"), false, "a dot is a dot");
  t.equal(aclDenies({ allow: ["school.test"], deny: [] }, "other.test"), true, "off the allow list");
  t.equal(aclDenies({ allow: ["*"], deny: ["spam.test"] }, "spam.test"), true, "deny wins over allow");
  t.equal(aclDenies({ allow: [], deny: [] }, "school.test"), true, "an empty allow list allows no one");
});

t.test("an admin sets the list; a member may not; it is for communities only; it never denies the home", async (t) => {
  const school = room("community", cast);
  t.equal(decide(school, { type: "room.server_acl", sender: carol, content: { deny: ["spam.test"] } }), "ok");
  t.equal(decide(school, { type: "room.server_acl", sender: alice, content: { allow: ["school.test", "*.edu"], deny: [] } }), "ok");
  t.equal(decide(school, { type: "room.server_acl", sender: bob, content: { deny: ["spam.test"] } }), "room.forbidden");
  t.equal(decide(school, { type: "room.server_acl", sender: dave, content: { deny: ["spam.test"] } }), "room.not_found");
  t.equal(decide(room("group", cast), { type: "room.server_acl", sender: alice, content: { deny: ["spam.test"] } }), "room.invalid");
  t.equal(decide(school, { type: "room.server_acl", sender: alice, content: { deny: "spam.test" } }), "room.invalid", "malformed");
  t.equal(decide(school, { type: "room.server_acl", sender: alice, content: { deny: ["school.test"] } }), "room.acl_denies_home");
  t.equal(decide(school, { type: "room.server_acl", sender: alice, content: { deny: ["*.test"] } }), "room.acl_denies_home");
  t.equal(decide(school, { type: "room.server_acl", sender: alice, content: { allow: ["other.test"], deny: [] } }), "room.acl_denies_home");
});

t.test("under the list, a denied server's users propose nothing and nobody brings them in", async (t) => {
  const school = room("community", cast, denySpam);
  t.equal(decide(school, { type: "member.join", sender: mallory, content: { userId: mallory, via: "link" } }, { viaLink: true }), "room.server_denied", "by link");
  t.equal(decide(school, { type: "member.join", sender: mallory, content: { userId: mallory, via: "invite" } }), "room.server_denied", "by an invitation made before the list");
  t.equal(decide(school, { type: "member.invite", sender: alice, content: { userId: "@eve:spam.test" } }), "room.server_denied", "a new invitation");
  t.equal(decide(school, { type: "member.role", sender: alice, content: { userId: mallory, role: "admin" } }), "room.server_denied", "a promotion");
  t.equal(decide(school, { type: "member.leave", sender: mallory, content: { userId: mallory } }), "room.server_denied", "any proposal at all");
  t.equal(decide(school, { type: "member.join", sender: dave, content: { userId: dave, via: "link" } }, { viaLink: true }), "ok", "other servers are unaffected");

  // A linked group answers to its community's list (the core passes it in).
  const maths = room("group", cast);
  t.equal(decide(maths, { type: "message", sender: mallory, content: { body: "hi" } }), "ok", "without the community's list");
  t.equal(decide(maths, { type: "message", sender: mallory, content: { body: "hi" } }, { serverAcl: denySpam }), "room.server_denied");
  t.equal(decide(maths, { type: "join.request", sender: "@eve:spam.test", content: { userId: "@eve:spam.test" } }, { serverAcl: denySpam, viaLink: true }), "room.server_denied", "a request");
  t.equal(decide(maths, { type: "message", sender: bob, content: { body: "hi" } }, { serverAcl: denySpam }), "ok");
});

t.test("any admin removes a denied server's member explicitly, and only such a member that way", async (t) => {
  const school = room("community", [[alice, "owner"], [carol, "admin"], [bob, "member"], [mallory, "admin"]], denySpam);
  t.equal(decide(school, { type: "member.remove", sender: carol, content: { userId: mallory, serverAcl: true } }), "ok", "an admin removes another admin of a denied server");
  t.equal(decide(school, { type: "member.remove", sender: bob, content: { userId: mallory, serverAcl: true } }), "room.forbidden");
  t.equal(decide(school, { type: "member.remove", sender: carol, content: { userId: bob, serverAcl: true } }), "room.invalid", "bob's server is not denied");
  t.equal(decide(school, { type: "member.remove", sender: carol, content: { userId: "@eve:spam.test", serverAcl: true } }), "room.not_member");
  t.equal(decide(room("community", cast), { type: "member.remove", sender: carol, content: { userId: mallory, serverAcl: true } }), "ok", "without a list, the ordinary rule: an admin removes a member");
  t.equal(decide(room("community", [[alice, "owner"], [carol, "admin"], [mallory, "admin"]]), { type: "member.remove", sender: carol, content: { userId: mallory, serverAcl: true } }), "room.forbidden", "without a list, only the owner removes an admin");
});

t.test("on one server the list is kept across a restart, and a community of no other server removes no one", async (t) => {
  let server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  await ok(t, bob, "link.join", { token });
  const set = await ok(t, alice, "community.servers.set", { roomId: school.roomId, deny: ["spam.test", "*.spam.test"] });
  t.same(set.removed, [], "every member is of this server");
  t.equal(await refusalOf(bob, "community.servers.set", { roomId: school.roomId, deny: [] }), "room.forbidden");
  server = await server.restart();
  t.same(server.app.parley.rooms.state(school.roomId)!.serverAcl, { deny: ["spam.test", "*.spam.test"] }, "read back from the log");
  t.ok(server.app.parley.rooms.state(school.roomId)!.members.has("@bob:" + server.config.server.name));
});
