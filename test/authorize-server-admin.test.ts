/**
 * The rules' server-admin branch: what a server admin (or the operator, as the server's own user)
 * may do to a room they are not in, and that nothing else gets through it. The event must say
 * `serverAdmin: true` and the caller must vouch with `ctx.serverAdmin`; either alone is nothing.
 */
import t from "tap";
import { authorize } from "../server/rooms/authorize.ts";
import { defaultCommunitySettings, defaultGroupSettings, type EventType, type Role, type RoomState } from "../server/rooms/types.ts";

const at = (name: string) => `@${name}:school.test`;
const dana = at("dana");
const limits = { groupsPerCommunity: 3, membersPerGroup: 6, membersPerCommunity: 8, adminsPerCommunity: 4, messageChars: 100, deleteWindowMs: 60_000 };
const SCHOOL = "!school0001:school.test";
const MATHS = "!maths00001:school.test";

function room(kind: "community" | "group", members: [string, Role][], extra: Partial<RoomState> = {}): RoomState {
  return {
    id: kind === "community" ? SCHOOL : MATHS,
    kind,
    name: kind,
    description: "",
    picture: null,
    rules: "",
    communityId: kind === "group" ? SCHOOL : null,
    groups: new Set(kind === "community" ? [MATHS] : []),
    settings: kind === "community" ? defaultCommunitySettings : defaultGroupSettings,
    members: new Map(members),
    bans: new Set(),
    requests: new Set(),
    invites: new Set(),
    seq: 5,
    deactivated: false,
    createdBy: at("alice"),
    createdAt: 0,
    adminCount: members.filter(([, r]) => r !== "member").length,
    pinned: [],
    head: null,
    ...extra,
  };
}

const decide = (state: RoomState, type: EventType, content: Record<string, unknown>, serverAdmin = true) =>
  authorize(state, { roomId: state.id, type, sender: dana, content }, { limits, now: 0, serverAdmin });
const code = (d: ReturnType<typeof authorize>) => (d.ok ? "ok" : d.code);

t.test("a server admin who is in no room may deactivate a community and unlink its groups", async (t) => {
  const school = room("community", [[at("alice"), "owner"]]);
  t.equal(code(decide(school, "community.group.remove", { groupId: MATHS, reason: "deactivated", serverAdmin: true })), "ok");
  t.equal(code(decide(room("group", [[at("alice"), "owner"]]), "group.community", { communityId: null, reason: "deactivated", serverAdmin: true })), "ok");
  t.equal(code(decide(school, "room.deactivate", { serverAdmin: true })), "ok");
  t.equal(code(decide(room("group", []), "room.deactivate", { serverAdmin: true })), "room.invalid", "a group is not deactivated");
  t.equal(code(decide(room("community", [], { deactivated: true }), "room.deactivate", { serverAdmin: true })), "room.deactivated", "not twice");
  t.equal(code(decide(school, "community.group.remove", { groupId: "!other0001:school.test", serverAdmin: true })), "room.not_found");
  t.equal(code(decide(room("group", [], { communityId: null }), "group.community", { communityId: null, serverAdmin: true })), "room.invalid", "nothing to unlink");
  t.equal(code(decide(room("group", [], { communityId: null }), "group.community", { communityId: SCHOOL, serverAdmin: true })), "room.invalid", "never to link");
});

t.test("a server admin may remove any member, the owner too, also from a deactivated community", async (t) => {
  const maths = room("group", [[at("alice"), "owner"], [at("carol"), "member"]]);
  t.equal(code(decide(maths, "member.remove", { userId: at("alice"), serverAdmin: true })), "ok");
  t.equal(code(decide(maths, "member.remove", { userId: at("zoe"), serverAdmin: true })), "room.not_member");
  t.equal(code(decide(room("community", [[at("carol"), "member"]], { deactivated: true }), "member.remove", { userId: at("carol"), serverAdmin: true })), "ok");
});

t.test("a server admin names an owner only for a room left without one", async (t) => {
  const ownerless = room("group", [[at("bob"), "member"]]);
  t.equal(code(decide(ownerless, "member.role", { userId: at("bob"), role: "owner", serverAdmin: true })), "ok");
  t.equal(code(decide(room("group", [[at("alice"), "owner"], [at("bob"), "member"]]), "member.role", { userId: at("bob"), role: "owner", serverAdmin: true })), "room.forbidden");
  t.equal(code(decide(ownerless, "member.role", { userId: at("bob"), role: "admin", serverAdmin: true })), "room.forbidden");
});

t.test("nothing else passes the server-admin branch, and neither half of it passes alone", async (t) => {
  const school = room("community", [[at("alice"), "owner"]]);
  t.equal(code(decide(school, "message", { body: "hello", serverAdmin: true })), "room.invalid", "a server admin does not post in others' rooms");
  t.equal(code(decide(school, "room.settings", { joinApproval: true, serverAdmin: true })), "room.invalid");
  t.equal(code(decide(school, "room.deactivate", { serverAdmin: true }, false)), "room.not_found", "an event that claims it, without the caller's word, is an outsider's");
  t.equal(code(decide(school, "room.deactivate", {})), "room.not_found", "the caller's word, on an event that does not say so, changes nothing");
});
