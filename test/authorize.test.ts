/**
 * The rules of rooms as tables: `authorize(state, proposal, ctx)` is a pure function, so each
 * case builds a RoomState fixture, proposes one event and asserts the exact decision. Cases are
 * generated from arrays (event type x role x setting) and named as sentences.
 *
 * The cast, in the school community and its groups:
 *   alice  owner            carol  admin           frank  a second admin
 *   bob    member           dan    member          dave   outsider (in no room)
 *   eve    banned
 */
import t from "tap";
import { authorize, type AuthContext } from "../server/rooms/authorize.ts";
import { defaultCommunitySettings, defaultGroupSettings, type EventType, type Proposal, type Role, type RoomLimits, type RoomSettings, type RoomState } from "../server/rooms/types.ts";
import type { ErrorCode } from "../server/errors.ts";

const at = (name: string) => `@${name}:school.test`;
const alice = at("alice");
const carol = at("carol");
const frank = at("frank");
const bob = at("bob");
const dan = at("dan");
const dave = at("dave");
const eve = at("eve");

const SCHOOL = "!school0001:school.test";
const MATHS = "!maths00001:school.test";
const TRIPS = "!trips00001:school.test";
const CHESS = "!chess00001:school.test";

const NOW = 1_800_000_000_000;
const limits: RoomLimits = {
  groupsPerCommunity: 3,
  membersPerGroup: 6,
  membersPerCommunity: 8,
  adminsPerCommunity: 4,
  messageChars: 10,
  deleteWindowMs: 60_000,
};

/** The five roles a sender can have, and who plays each. */
type Who = "owner" | "admin" | "member" | "outsider" | "banned";
const cast: Record<Who, string> = { owner: alice, admin: carol, member: bob, outsider: dave, banned: eve };
const roles: Who[] = ["owner", "admin", "member", "outsider", "banned"];
const article: Record<Who, string> = { owner: "the owner", admin: "an admin", member: "a member", outsider: "an outsider", banned: "a banned user" };

type Expect = "ok" | ErrorCode;

interface Fixture {
  kind?: "community" | "group";
  id?: string;
  members?: [string, Role][];
  bans?: string[];
  requests?: string[];
  invites?: string[];
  groups?: string[];
  communityId?: string | null;
  settings?: Partial<RoomSettings>;
  deactivated?: boolean;
  /** Extra members to fill the room (for the caps). */
  filler?: number;
}

function room(f: Fixture = {}): RoomState {
  const kind = f.kind ?? "group";
  const members = new Map<string, Role>(f.members ?? [[alice, "owner"], [carol, "admin"], [frank, "admin"], [bob, "member"], [dan, "member"]]);
  for (let i = 0; i < (f.filler ?? 0); i++) members.set(at(`parent${i}`), "member");
  let adminCount = 0;
  for (const r of members.values()) if (r !== "member") adminCount++;
  return {
    id: f.id ?? (kind === "community" ? SCHOOL : MATHS),
    kind,
    name: kind === "community" ? "Hillside School" : "Maths",
    description: "",
    picture: null,
    rules: "",
    communityId: f.communityId === undefined ? (kind === "group" ? SCHOOL : null) : f.communityId,
    groups: new Set(f.groups ?? (kind === "community" ? [MATHS] : [])),
    settings: { ...(kind === "community" ? defaultCommunitySettings : defaultGroupSettings), ...f.settings },
    members,
    bans: new Set(f.bans ?? [eve]),
    requests: new Set(f.requests ?? []),
    invites: new Set(f.invites ?? []),
    seq: 10,
    deactivated: f.deactivated ?? false,
    createdBy: alice,
    createdAt: NOW - 86_400_000,
    adminCount,
    pinned: [],
    head: null,
  };
}

/** The school community (its own announcement group). */
const school = (f: Fixture = {}) => room({ kind: "community", ...f });
/** #maths, linked to the school. */
const maths = (f: Fixture = {}) => room({ kind: "group", ...f });
/** A standalone group, linked to nothing. */
const chess = (f: Fixture = {}) => room({ kind: "group", id: CHESS, communityId: null, ...f });

interface Case {
  name: string;
  state: RoomState;
  type: EventType | string;
  sender: string;
  content?: Record<string, unknown>;
  ctx?: Partial<AuthContext>;
  expect: Expect;
}

const cases: Case[] = [];

/** One case per role: `does` is the verb phrase ("post in #maths"), `expect` maps role to decision. */
function eachRole(
  does: string,
  make: { state: () => RoomState; type: EventType | string; content?: (sender: string) => Record<string, unknown>; ctx?: Partial<AuthContext> },
  expect: Record<Who, Expect>,
): void {
  for (const who of roles) {
    const e = expect[who];
    cases.push({
      name: `${article[who]} ${e === "ok" ? "can" : "cannot"} ${does}${e === "ok" ? "" : ` (${e})`}`,
      state: make.state(),
      type: make.type,
      sender: cast[who],
      content: make.content?.(cast[who]) ?? {},
      ctx: make.ctx,
      expect: e,
    });
  }
}

/** One named case. */
function one(name: string, c: Omit<Case, "name">): void {
  cases.push({ name, ...c });
}

const adminsOnly: Record<Who, Expect> = { owner: "ok", admin: "ok", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" };
const everyMember: Record<Who, Expect> = { owner: "ok", admin: "ok", member: "ok", outsider: "room.not_found", banned: "room.not_found" };
const ownerOnly: Record<Who, Expect> = { owner: "ok", admin: "room.forbidden", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" };

// ---------------------------------------------------------------------------------------------
// room.create is never proposed to an existing room.
eachRole("propose a second room.create", { state: () => school(), type: "room.create" }, {
  owner: "room.invalid", admin: "room.invalid", member: "room.invalid", outsider: "room.invalid", banned: "room.invalid",
});
one("an unknown event type is refused as invalid", { state: school(), type: "room.teleport", sender: alice, expect: "room.invalid" });

// ---------------------------------------------------------------------------------------------
// member.join, by each road in.
eachRole("join the school by a valid invite link", {
  state: () => school(), type: "member.join", content: (s) => ({ userId: s, via: "link" }), ctx: { viaLink: true },
}, { owner: "room.already_member", admin: "room.already_member", member: "room.already_member", outsider: "ok", banned: "room.banned" });
eachRole("join the school by link when approval is on", {
  state: () => school({ settings: { joinApproval: true } }), type: "member.join", content: (s) => ({ userId: s, via: "link" }), ctx: { viaLink: true },
}, { owner: "room.already_member", admin: "room.already_member", member: "room.already_member", outsider: "room.approval_required", banned: "room.banned" });
one("an outsider cannot join by link without presenting a valid link", {
  state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "link" }, expect: "invite.invalid",
});
one("nobody can join someone else in by link", {
  state: school(), type: "member.join", sender: dave, content: { userId: at("zoe"), via: "link" }, ctx: { viaLink: true }, expect: "room.forbidden",
});
one("a join without a userId is invalid", { state: school(), type: "member.join", sender: dave, content: { via: "link" }, ctx: { viaLink: true }, expect: "room.invalid" });
one("a join by an unknown road is invalid", { state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "magic" }, expect: "room.invalid" });

for (const approval of [false, true]) {
  one(`a community member can ${approval ? "not join #maths directly when approval is on (room.approval_required)" : "join #maths from the community's list"}`, {
    state: maths({ members: [[alice, "owner"]], settings: { joinApproval: approval } }), type: "member.join", sender: bob,
    content: { userId: bob, via: "community" }, ctx: { communityRole: "member" }, expect: approval ? "room.approval_required" : "ok",
  });
}
one("someone outside the community cannot join #maths from the list (room.not_found)", {
  state: maths({ members: [[alice, "owner"]] }), type: "member.join", sender: dave, content: { userId: dave, via: "community" }, expect: "room.not_found",
});
one("a standalone group cannot be joined from a community list (room.not_found)", {
  state: chess({ members: [[alice, "owner"]] }), type: "member.join", sender: bob, content: { userId: bob, via: "community" }, ctx: { communityRole: "member" }, expect: "room.not_found",
});
one("an invited outsider can accept and join", { state: school({ invites: [dave] }), type: "member.join", sender: dave, content: { userId: dave, via: "invite" }, expect: "ok" });
one("an outsider without an invitation cannot join by invite (room.not_invited)", { state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "invite" }, expect: "room.not_invited" });

eachRole("approve dave's join request", {
  state: () => school({ requests: [dave] }), type: "member.join", content: () => ({ userId: dave, via: "approval" }),
}, { owner: "ok", admin: "ok", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" });
one("an admin cannot approve a request that was never made (room.no_request)", {
  state: school(), type: "member.join", sender: carol, content: { userId: dave, via: "approval" }, expect: "room.no_request",
});
one("an admin cannot approve a banned user (room.banned)", {
  state: school({ requests: [eve] }), type: "member.join", sender: carol, content: { userId: eve, via: "approval" }, expect: "room.banned",
});

one("joining a linked group carries the user into its community (cascade)", {
  state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "group", groupId: MATHS }, ctx: { cascadeFrom: MATHS }, expect: "ok",
});
one("a cascade from a group the community does not hold is refused", {
  state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "group", groupId: TRIPS }, ctx: { cascadeFrom: TRIPS }, expect: "room.forbidden",
});
one("a join via group without a cascade is refused", {
  state: school(), type: "member.join", sender: dave, content: { userId: dave, via: "group", groupId: MATHS }, expect: "room.forbidden",
});
one("a banned user is not carried into the community by a group join (room.banned)", {
  state: school(), type: "member.join", sender: eve, content: { userId: eve, via: "group", groupId: MATHS }, ctx: { cascadeFrom: MATHS }, expect: "room.banned",
});

// The member caps.
const capCases: { what: string; state: () => RoomState; fits: () => RoomState }[] = [
  { what: "the school at its member cap", state: () => school({ filler: limits.membersPerCommunity - 5 }), fits: () => school({ filler: limits.membersPerCommunity - 6 }) },
  { what: "#maths at its member cap", state: () => maths({ filler: limits.membersPerGroup - 5 }), fits: () => maths({ filler: limits.membersPerGroup - 6 }) },
];
for (const c of capCases) {
  one(`an outsider cannot join ${c.what} (room.full)`, { state: c.state(), type: "member.join", sender: dave, content: { userId: dave, via: "link" }, ctx: { viaLink: true }, expect: "room.full" });
  one(`an outsider can take the last place below ${c.what}`, { state: c.fits(), type: "member.join", sender: dave, content: { userId: dave, via: "link" }, ctx: { viaLink: true }, expect: "ok" });
  one(`an admin cannot approve a request into ${c.what} (room.full)`, {
    state: (() => { const s = c.state(); s.requests.add(dave); return s; })(), type: "member.join", sender: carol, content: { userId: dave, via: "approval" }, expect: "room.full",
  });
}
one("a group join cannot carry a user into a full community (room.full)", {
  state: school({ filler: limits.membersPerCommunity - 5 }), type: "member.join", sender: dave, content: { userId: dave, via: "group", groupId: MATHS }, ctx: { cascadeFrom: MATHS }, expect: "room.full",
});

// ---------------------------------------------------------------------------------------------
// join.request, join.request.cancel, join.reject.
const approvalOn = { joinApproval: true };
eachRole("ask to join the school by link when approval is on", {
  state: () => school({ settings: approvalOn }), type: "join.request", content: (s) => ({ userId: s, via: "link" }), ctx: { viaLink: true },
}, { owner: "room.already_member", admin: "room.already_member", member: "room.already_member", outsider: "ok", banned: "room.banned" });
one("an outsider cannot ask to join when approval is off (room.no_approval_needed)", {
  state: school(), type: "join.request", sender: dave, content: { userId: dave }, ctx: { viaLink: true }, expect: "room.no_approval_needed",
});
one("an outsider cannot ask twice (room.request_pending)", {
  state: school({ settings: approvalOn, requests: [dave] }), type: "join.request", sender: dave, content: { userId: dave }, ctx: { viaLink: true }, expect: "room.request_pending",
});
one("nobody can ask to join on someone else's behalf (room.invalid)", {
  state: school({ settings: approvalOn }), type: "join.request", sender: dave, content: { userId: at("zoe") }, ctx: { viaLink: true }, expect: "room.invalid",
});
one("an outsider without a link cannot ask to join a standalone group (room.not_found)", {
  state: chess({ settings: approvalOn }), type: "join.request", sender: dave, content: { userId: dave }, expect: "room.not_found",
});
one("a community member can ask to join #maths from the list", {
  state: maths({ members: [[alice, "owner"]], settings: approvalOn }), type: "join.request", sender: bob, content: { userId: bob }, ctx: { communityRole: "member" }, expect: "ok",
});
one("a requester can withdraw their own request", { state: school({ settings: approvalOn, requests: [dave] }), type: "join.request.cancel", sender: dave, content: { userId: dave }, expect: "ok" });
one("nobody can withdraw a request that does not exist (room.no_request)", { state: school(), type: "join.request.cancel", sender: dave, content: { userId: dave }, expect: "room.no_request" });
one("nobody can withdraw someone else's request (room.no_request)", {
  state: school({ requests: [dave] }), type: "join.request.cancel", sender: bob, content: { userId: dave }, expect: "room.no_request",
});
eachRole("reject dave's join request", { state: () => school({ requests: [dave] }), type: "join.reject", content: () => ({ userId: dave }) }, adminsOnly);
one("an admin cannot reject a request that does not exist (room.no_request)", { state: school(), type: "join.reject", sender: carol, content: { userId: dave }, expect: "room.no_request" });

// ---------------------------------------------------------------------------------------------
// member.invite and member.invite.decline, with addMembersPolicy.
for (const policy of ["admins", "all"] as const) {
  eachRole(`invite dave to #maths when addMembersPolicy is ${policy}`, {
    state: () => maths({ settings: { addMembersPolicy: policy } }), type: "member.invite", content: () => ({ userId: dave }),
  }, policy === "admins" ? adminsOnly : everyMember);
}
eachRole("invite dave to the school", { state: () => school(), type: "member.invite", content: () => ({ userId: dave }) }, adminsOnly);
const inviteRefusals: [string, Record<string, unknown>, Fixture, ErrorCode][] = [
  ["someone already in the room", { userId: bob }, {}, "room.already_member"],
  ["a banned user", { userId: eve }, {}, "room.banned"],
  ["someone already invited", { userId: dave }, { invites: [dave] }, "room.already_invited"],
  ["nobody in particular", {}, {}, "room.invalid"],
];
for (const [whom, content, f, code] of inviteRefusals) {
  one(`an admin cannot invite ${whom} (${code})`, { state: maths(f), type: "member.invite", sender: carol, content, expect: code });
}
one("an invited user can decline", { state: maths({ invites: [dave] }), type: "member.invite.decline", sender: dave, content: { userId: dave }, expect: "ok" });
one("a user cannot decline an invitation they do not have (room.not_invited)", { state: maths(), type: "member.invite.decline", sender: dave, content: { userId: dave }, expect: "room.not_invited" });
one("a user cannot decline someone else's invitation (room.not_invited)", {
  state: maths({ invites: [dave] }), type: "member.invite.decline", sender: bob, content: { userId: dave }, expect: "room.not_invited",
});

// ---------------------------------------------------------------------------------------------
// member.leave: the owner must transfer first.
for (const [what, state] of [["the school", school], ["#maths", maths], ["a standalone group", chess]] as const) {
  eachRole(`leave ${what}`, { state: () => state(), type: "member.leave", content: (s) => ({ userId: s }) }, {
    owner: "room.owner_must_transfer", admin: "ok", member: "ok", outsider: "room.not_found", banned: "room.not_found",
  });
}
one("a member cannot make someone else leave (room.invalid)", { state: school(), type: "member.leave", sender: bob, content: { userId: dan }, expect: "room.invalid" });

// ---------------------------------------------------------------------------------------------
// member.remove: admins remove members; only the owner removes admins; nobody removes the owner.
const targets: { whom: string; userId: string; expect: Record<Who, Expect> }[] = [
  { whom: "a member (dan)", userId: dan, expect: adminsOnly },
  { whom: "another admin (frank)", userId: frank, expect: { ...ownerOnly } },
  { whom: "the owner", userId: alice, expect: { owner: "room.forbidden", admin: "room.forbidden", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" } },
  { whom: "someone who is not a member", userId: dave, expect: { owner: "room.not_member", admin: "room.not_member", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" } },
];
for (const [what, state] of [["the school", school], ["#maths", maths]] as const) {
  for (const target of targets) {
    eachRole(`remove ${target.whom} from ${what}`, { state: () => state(), type: "member.remove", content: () => ({ userId: target.userId }) }, target.expect);
  }
}
one("an admin cannot remove themselves (room.forbidden)", { state: school(), type: "member.remove", sender: carol, content: { userId: carol }, expect: "room.forbidden" });
// The community's removal carried into its groups.
one("a removal from the school is carried into #maths by a community admin who is not in #maths", {
  state: maths({ members: [[alice, "owner"], [bob, "member"]] }), type: "member.remove", sender: carol, content: { userId: bob, cascade: SCHOOL }, ctx: { cascadeFrom: SCHOOL }, expect: "ok",
});
one("a cascade from another community is not honoured (room.not_found)", {
  state: maths({ members: [[alice, "owner"], [bob, "member"]] }), type: "member.remove", sender: carol, content: { userId: bob }, ctx: { cascadeFrom: "!other00001:school.test" }, expect: "room.not_found",
});
one("a cascade into a standalone group is not honoured (room.not_found)", {
  state: chess({ members: [[alice, "owner"], [bob, "member"]] }), type: "member.remove", sender: carol, content: { userId: bob }, ctx: { cascadeFrom: SCHOOL }, expect: "room.not_found",
});
one("a cascade for someone not in the group is refused (room.not_member)", {
  state: maths({ members: [[alice, "owner"]] }), type: "member.remove", sender: carol, content: { userId: bob }, ctx: { cascadeFrom: SCHOOL }, expect: "room.not_member",
});

// ---------------------------------------------------------------------------------------------
// member.ban and member.unban.
const banTargets: { whom: string; userId: string; expect: Record<Who, Expect> }[] = [
  { whom: "a member (dan)", userId: dan, expect: adminsOnly },
  { whom: "an outsider, pre-emptively (dave)", userId: dave, expect: adminsOnly },
  { whom: "another admin (frank)", userId: frank, expect: ownerOnly },
  { whom: "the owner", userId: alice, expect: { owner: "room.invalid", admin: "room.forbidden", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" } },
  { whom: "someone already banned (eve)", userId: eve, expect: { owner: "room.banned", admin: "room.banned", member: "room.forbidden", outsider: "room.not_found", banned: "room.not_found" } },
];
for (const target of banTargets) {
  eachRole(`ban ${target.whom} from the school`, { state: () => school(), type: "member.ban", content: () => ({ userId: target.userId }) }, target.expect);
}
one("an admin cannot ban themselves (room.invalid)", { state: school(), type: "member.ban", sender: carol, content: { userId: carol }, expect: "room.invalid" });
one("a ban without a userId is invalid", { state: school(), type: "member.ban", sender: carol, content: {}, expect: "room.invalid" });
eachRole("unban eve", { state: () => school(), type: "member.unban", content: () => ({ userId: eve }) }, adminsOnly);
one("an admin cannot unban someone who is not banned (room.not_member)", { state: school(), type: "member.unban", sender: carol, content: { userId: dave }, expect: "room.not_member" });

// ---------------------------------------------------------------------------------------------
// member.role: promotion, the admin cap, demotion, ownership transfer.
eachRole("promote bob to admin of the school", { state: () => school(), type: "member.role", content: () => ({ userId: bob, role: "admin" }) }, adminsOnly);
eachRole("promote bob to admin of #maths", { state: () => maths(), type: "member.role", content: () => ({ userId: bob, role: "admin" }) }, adminsOnly);

// The school holds 3 admins (alice, carol, frank); the cap in these fixtures is 4.
const atCap = () => school({ members: [[alice, "owner"], [carol, "admin"], [frank, "admin"], [at("gina"), "admin"], [bob, "member"], [dan, "member"]] });
const belowCap = () => school();
const roleCases: [string, () => RoomState, string, Record<string, unknown>, Expect][] = [
  ["the owner cannot promote a member past the admin cap (room.admin_limit)", atCap, alice, { userId: bob, role: "admin" }, "room.admin_limit"],
  ["an admin cannot promote a member past the admin cap (room.admin_limit)", atCap, carol, { userId: bob, role: "admin" }, "room.admin_limit"],
  ["the owner can promote the last admin up to the cap", belowCap, alice, { userId: bob, role: "admin" }, "ok"],
  ["the owner can demote an admin at the cap", atCap, alice, { userId: frank, role: "member" }, "ok"],
  ["re-affirming an admin at the cap is a no-op, not a new admin", atCap, alice, { userId: frank, role: "admin" }, "ok"],
  ["a group has no admin cap", () => maths({ members: [[alice, "owner"], [carol, "admin"], [frank, "admin"], [at("gina"), "admin"], [bob, "member"]] }), alice, { userId: bob, role: "admin" }, "ok"],
  ["the owner can transfer ownership to a member", belowCap, alice, { userId: bob, role: "owner" }, "ok"],
  ["the owner can transfer ownership to an admin at the cap", atCap, alice, { userId: carol, role: "owner" }, "ok"],
  ["the owner cannot transfer ownership to a member at the admin cap, which would make one admin too many (room.admin_limit)", atCap, alice, { userId: bob, role: "owner" }, "room.admin_limit"],
  ["an admin cannot take ownership (room.forbidden)", belowCap, carol, { userId: carol, role: "owner" }, "room.forbidden"],
  ["an admin cannot hand ownership to a member (room.forbidden)", belowCap, carol, { userId: bob, role: "owner" }, "room.forbidden"],
  ["the owner cannot transfer ownership to themselves (room.forbidden)", belowCap, alice, { userId: alice, role: "owner" }, "room.forbidden"],
  ["the owner cannot demote themselves without a transfer (room.forbidden)", belowCap, alice, { userId: alice, role: "admin" }, "room.forbidden"],
  ["an admin cannot demote the owner (room.forbidden)", belowCap, carol, { userId: alice, role: "member" }, "room.forbidden"],
  ["an admin cannot demote another admin, only the owner can (room.forbidden)", belowCap, carol, { userId: frank, role: "member" }, "room.forbidden"],
  ["the owner can demote an admin", belowCap, alice, { userId: frank, role: "member" }, "ok"],
  ["an admin can step down to member", belowCap, carol, { userId: carol, role: "member" }, "ok"],
  ["an admin cannot set the role of a non-member (room.not_member)", belowCap, carol, { userId: dave, role: "admin" }, "room.not_member"],
  ["an admin cannot grant a role that does not exist (room.invalid)", belowCap, carol, { userId: bob, role: "king" }, "room.invalid"],
];
for (const [name, state, sender, content, expect] of roleCases) one(name, { state: state(), type: "member.role", sender, content, expect });

// ---------------------------------------------------------------------------------------------
// room.profile with editInfoPolicy; room.settings; room.deactivate.
for (const policy of ["admins", "all"] as const) {
  eachRole(`edit the school's profile and rules when editInfoPolicy is ${policy}`, {
    state: () => school({ settings: { editInfoPolicy: policy } }), type: "room.profile", content: () => ({ rules: "Be kind." }),
  }, adminsOnly);
  eachRole(`edit #maths's info when editInfoPolicy is ${policy}`, {
    state: () => maths({ settings: { editInfoPolicy: policy } }), type: "room.profile", content: () => ({ name: "Maths 7B" }),
  }, policy === "admins" ? adminsOnly : everyMember);
}
eachRole("turn approval to join on in #maths", { state: () => maths(), type: "room.settings", content: () => ({ joinApproval: true }) }, adminsOnly);
eachRole("turn announcement replies off in the school", { state: () => school(), type: "room.settings", content: () => ({ announcementReplies: false }) }, adminsOnly);
const settingCases: [string, () => RoomState, Record<string, unknown>, Expect][] = [
  ["an admin cannot open the school's announcement group to everyone (room.invalid)", school, { sendPolicy: "all" }, "room.invalid"],
  ["an admin can keep the school's sendPolicy at admins", school, { sendPolicy: "admins" }, "ok"],
  ["an admin cannot set announcementReplies on an ordinary group (room.invalid)", maths, { announcementReplies: false }, "room.invalid"],
  ["an admin can make #maths admins-only", maths, { sendPolicy: "admins" }, "ok"],
  ["an admin can let everyone add members to #maths", maths, { addMembersPolicy: "all" }, "ok"],
  ["an admin can let everyone edit #maths's info", maths, { editInfoPolicy: "all" }, "ok"],
];
for (const [name, state, content, expect] of settingCases) one(name, { state: state(), type: "room.settings", sender: carol, content, expect });
eachRole("deactivate the school", { state: () => school(), type: "room.deactivate" }, ownerOnly);
one("the owner of a group cannot deactivate it as if it were a community (room.invalid)", { state: maths(), type: "room.deactivate", sender: alice, expect: "room.invalid" });

// ---------------------------------------------------------------------------------------------
// The community's groups: community.group.add / remove and the group's side, group.community.
eachRole("add #trips to the school", { state: () => school(), type: "community.group.add", content: () => ({ groupId: TRIPS }) }, adminsOnly);
one("an admin cannot add a group already in the school (room.group_linked)", { state: school(), type: "community.group.add", sender: carol, content: { groupId: MATHS }, expect: "room.group_linked" });
one("an admin cannot add a group past the group cap (room.group_limit)", {
  state: school({ groups: [MATHS, TRIPS, CHESS] }), type: "community.group.add", sender: carol, content: { groupId: "!art0000001:school.test" }, expect: "room.group_limit",
});
one("an admin can add the last group below the group cap", {
  state: school({ groups: [MATHS, TRIPS] }), type: "community.group.add", sender: carol, content: { groupId: CHESS }, expect: "ok",
});
one("a group cannot hold groups (room.invalid)", { state: chess(), type: "community.group.add", sender: alice, content: { groupId: TRIPS }, expect: "room.invalid" });
eachRole("take #maths out of the school", { state: () => school(), type: "community.group.remove", content: () => ({ groupId: MATHS }) }, adminsOnly);
one("an admin cannot take out a group the school does not hold (room.not_found)", { state: school(), type: "community.group.remove", sender: carol, content: { groupId: TRIPS }, expect: "room.not_found" });
one("a group cannot have groups taken out (room.invalid)", { state: chess(), type: "community.group.remove", sender: alice, content: { groupId: TRIPS }, expect: "room.invalid" });
one("a member who is an admin of #maths can take it out of the school, as a consequence of unlinking it", {
  state: school(), type: "community.group.remove", sender: bob, content: { groupId: MATHS }, ctx: { cascadeFrom: MATHS }, expect: "ok",
});
one("an unlink of another group does not let a member take #maths out (room.forbidden)", {
  state: school(), type: "community.group.remove", sender: bob, content: { groupId: MATHS }, ctx: { cascadeFrom: TRIPS }, expect: "room.forbidden",
});

const linkCases: [string, () => RoomState, string, Record<string, unknown>, Partial<AuthContext>, Expect][] = [
  ["an admin of a standalone group who is a community admin can link it", () => chess(), carol, { communityId: SCHOOL }, { communityRole: "admin" }, "ok"],
  ["an admin of a standalone group who is only a community member cannot link it (room.forbidden)", () => chess(), carol, { communityId: SCHOOL }, { communityRole: "member" }, "room.forbidden"],
  ["a member of a standalone group who is a community admin cannot link it (room.forbidden)", () => chess(), bob, { communityId: SCHOOL }, { communityRole: "admin" }, "room.forbidden"],
  ["a community admin outside a standalone group cannot link it (room.not_found)", () => chess(), dave, { communityId: SCHOOL }, { communityRole: "admin" }, "room.not_found"],
  ["a group already linked cannot be linked again (room.group_linked)", () => maths(), alice, { communityId: "!other00001:school.test" }, { communityRole: "owner" }, "room.group_linked"],
  ["an admin of #maths can unlink it", () => maths(), carol, { communityId: null }, { communityRole: "member" }, "ok"],
  ["a community admin who is a member of #maths can unlink it", () => maths(), bob, { communityId: null }, { communityRole: "admin" }, "ok"],
  ["a community admin who is not in #maths can still unlink it (deactivation does this for every group)", () => maths(), dave, { communityId: null }, { communityRole: "owner" }, "ok"],
  ["a member of #maths who is only a community member cannot unlink it (room.forbidden)", () => maths(), bob, { communityId: null }, { communityRole: "member" }, "room.forbidden"],
  ["a community member outside #maths cannot unlink it (room.forbidden)", () => maths(), dave, { communityId: null }, { communityRole: "member" }, "room.forbidden"],
  ["an outsider cannot unlink #maths (room.not_found)", () => maths(), dave, { communityId: null }, {}, "room.not_found"],
  ["a community cannot be linked into a community (room.invalid)", () => school(), alice, { communityId: SCHOOL }, { communityRole: "owner" }, "room.invalid"],
];
for (const [name, state, sender, content, ctx, expect] of linkCases) one(name, { state: state(), type: "group.community", sender, content, ctx, expect });

// ---------------------------------------------------------------------------------------------
// Messages: sendPolicy, the announcement group, replies, the length limit.
const announcement = { sender: alice, ts: NOW - 1000, deleted: false, threadRoot: null };
for (const policy of ["all", "admins"] as const) {
  eachRole(`post in #maths when sendPolicy is ${policy}`, {
    state: () => maths({ settings: { sendPolicy: policy } }), type: "message", content: () => ({ kind: "text", body: "hi" }),
  }, policy === "all" ? everyMember : adminsOnly);
}
eachRole("post in a standalone group", { state: () => chess(), type: "message", content: () => ({ kind: "text", body: "hi" }) }, everyMember);
eachRole("post a top-level announcement", { state: () => school(), type: "message", content: () => ({ kind: "text", body: "Trip!" }) }, {
  owner: "ok", admin: "ok", member: "announcement.admins_only", outsider: "room.not_found", banned: "room.not_found",
});
for (const replies of [true, false]) {
  eachRole(`reply under an announcement when replies are ${replies ? "on" : "off"}`, {
    state: () => school({ settings: { announcementReplies: replies } }), type: "message", content: () => ({ kind: "text", body: "Thanks", threadRoot: 3 }), ctx: { target: announcement },
  }, replies ? everyMember : { owner: "ok", admin: "ok", member: "announcement.replies_off", outsider: "room.not_found", banned: "room.not_found" });
}
const messageCases: [string, () => RoomState, string, Record<string, unknown>, Partial<AuthContext>, Expect][] = [
  ["a member cannot start a thread in an ordinary group (room.invalid)", maths, bob, { body: "x", threadRoot: 3 }, { target: announcement }, "room.invalid"],
  ["a member cannot reply under a missing announcement (message.not_found)", school, bob, { body: "x", threadRoot: 99 }, { target: null }, "message.not_found"],
  ["a member cannot reply under a deleted announcement (message.not_found)", school, bob, { body: "x", threadRoot: 3 }, { target: { ...announcement, deleted: true } }, "message.not_found"],
  ["a member cannot reply under a reply: threads are one level deep (message.not_found)", school, bob, { body: "x", threadRoot: 4 }, { target: { ...announcement, threadRoot: 3 } }, "message.not_found"],
  ["a member can quote a message in #maths", maths, bob, { body: "x", replyTo: 3 }, { target: { ...announcement } }, "ok"],
  ["a member cannot quote a missing message (message.not_found)", maths, bob, { body: "x", replyTo: 99 }, { target: null }, "message.not_found"],
  ["a member cannot quote a deleted message (message.not_found)", maths, bob, { body: "x", replyTo: 3 }, { target: { ...announcement, deleted: true } }, "message.not_found"],
  ["a message exactly at the length limit is accepted", maths, bob, { body: "x".repeat(limits.messageChars) }, {}, "ok"],
  ["a message one character over the limit is refused (message.too_long)", maths, bob, { body: "x".repeat(limits.messageChars + 1) }, {}, "message.too_long"],
  ["the length limit counts characters, not UTF-16 units: ten emoji fit", maths, bob, { body: "😀".repeat(limits.messageChars) }, {}, "ok"],
  ["a reply under an announcement is held to the length limit too (message.too_long)", school, bob, { body: "x".repeat(limits.messageChars + 1), threadRoot: 3 }, { target: announcement }, "message.too_long"],
];
for (const [name, state, sender, content, ctx, expect] of messageCases) one(name, { state: state(), type: "message", sender, content: { kind: "text", ...content }, ctx, expect });

// message.edit
const bobsMessage = { sender: bob, ts: NOW - 1000, deleted: false, threadRoot: null };
eachRole("edit bob's message", { state: () => maths(), type: "message.edit", content: () => ({ target: 5, body: "fixed" }), ctx: { target: bobsMessage } }, {
  owner: "message.not_editable", admin: "message.not_editable", member: "ok", outsider: "room.not_found", banned: "room.not_found",
});
const editCases: [string, Partial<AuthContext>, Record<string, unknown>, Expect][] = [
  ["a member cannot edit a deleted message (message.not_editable)", { target: { ...bobsMessage, deleted: true } }, { body: "x" }, "message.not_editable"],
  ["a member cannot edit a missing message (message.not_found)", { target: null }, { body: "x" }, "message.not_found"],
  ["a member cannot edit a message past the length limit (message.too_long)", { target: bobsMessage }, { body: "x".repeat(limits.messageChars + 1) }, "message.too_long"],
];
for (const [name, ctx, content, expect] of editCases) one(name, { state: maths(), type: "message.edit", sender: bob, content: { target: 5, ...content }, ctx, expect });

// message.delete: the sender within the window, admins any time.
const deleteCases: [string, string, { sender: string; ageMs: number; deleted?: boolean } | null, Expect][] = [
  ["a member can delete their own message for everyone within the window", bob, { sender: bob, ageMs: 1000 }, "ok"],
  ["a member can delete their own message at the very end of the window", bob, { sender: bob, ageMs: limits.deleteWindowMs }, "ok"],
  ["a member cannot delete their own message once the window has passed (message.delete_window_passed)", bob, { sender: bob, ageMs: limits.deleteWindowMs + 1 }, "message.delete_window_passed"],
  ["a member cannot delete someone else's message (room.forbidden)", dan, { sender: bob, ageMs: 1000 }, "room.forbidden"],
  ["an admin can delete a member's message long after the window", carol, { sender: bob, ageMs: limits.deleteWindowMs * 100 }, "ok"],
  ["the owner can delete their own old message", alice, { sender: alice, ageMs: limits.deleteWindowMs * 100 }, "ok"],
  ["nobody can delete a message twice (message.not_found)", carol, { sender: bob, ageMs: 1000, deleted: true }, "message.not_found"],
  ["nobody can delete a missing message (message.not_found)", carol, null, "message.not_found"],
  ["an outsider cannot delete anything (room.not_found)", dave, { sender: bob, ageMs: 1000 }, "room.not_found"],
];
for (const [name, sender, target, expect] of deleteCases) {
  one(name, {
    state: maths(), type: "message.delete", sender, content: { target: 5 },
    ctx: { target: target && { sender: target.sender, ts: NOW - target.ageMs, deleted: target.deleted ?? false, threadRoot: null } }, expect,
  });
}

// reaction
eachRole("react to an announcement", { state: () => school(), type: "reaction", content: () => ({ target: 3, emoji: "👍" }), ctx: { target: announcement } }, everyMember);
one("a member cannot react to a missing message (message.not_found)", { state: maths(), type: "reaction", sender: bob, content: { target: 99, emoji: "👍" }, ctx: { target: null }, expect: "message.not_found" });
one("a member cannot react to a deleted message (message.not_found)", {
  state: maths(), type: "reaction", sender: bob, content: { target: 5, emoji: "👍" }, ctx: { target: { ...bobsMessage, deleted: true } }, expect: "message.not_found",
});

// ---------------------------------------------------------------------------------------------
// A deactivated community refuses every write: members are told why, others see nothing.
const writes: [EventType, (s: string) => Record<string, unknown>, Partial<AuthContext>][] = [
  ["message", () => ({ kind: "text", body: "hi" }), {}],
  ["room.profile", () => ({ name: "New" }), {}],
  ["room.settings", () => ({ joinApproval: true }), {}],
  ["member.role", () => ({ userId: bob, role: "admin" }), {}],
  ["member.remove", () => ({ userId: dan }), {}],
  ["member.invite", () => ({ userId: dave }), {}],
  ["member.join", (s) => ({ userId: s, via: "link" }), { viaLink: true }],
  ["community.group.add", () => ({ groupId: TRIPS }), {}],
  ["room.deactivate", () => ({}), {}],
];
for (const [type, content, ctx] of writes) {
  eachRole(`write a ${type} event to a deactivated community`, { state: () => school({ deactivated: true, groups: [] }), type, content, ctx }, {
    owner: "room.deactivated", admin: "room.deactivated", member: "room.deactivated", outsider: "room.not_found", banned: "room.not_found",
  });
}

// ---------------------------------------------------------------------------------------------
// A replaced room (room.tombstone: a pair's second direct chat) takes no new messages; what was
// said there may still be edited, deleted and reacted to. Only the server says a tombstone.
const replaced = () => ({ ...maths(), replacedBy: TRIPS });
one("a member cannot post in a replaced room (room.replaced)", { state: replaced(), type: "message", sender: bob, content: { kind: "text", body: "hi" }, expect: "room.replaced" });
one("an admin cannot post in a replaced room either (room.replaced)", { state: replaced(), type: "message", sender: carol, content: { kind: "text", body: "hi" }, expect: "room.replaced" });
one("an outsider is told nothing of a replaced room (room.not_found)", { state: replaced(), type: "message", sender: dave, content: { kind: "text", body: "hi" }, expect: "room.not_found" });
one("a member can still react in a replaced room", { state: replaced(), type: "reaction", sender: bob, content: { target: 3, emoji: "👍" }, ctx: { target: announcement }, expect: "ok" });
one("a member can still edit their message in a replaced room", { state: replaced(), type: "message.edit", sender: bob, content: { target: 5, body: "fixed" }, ctx: { target: bobsMessage }, expect: "ok" });
one("nobody proposes a room.tombstone (room.invalid)", { state: maths(), type: "room.tombstone", sender: alice, content: { replacement: TRIPS }, expect: "room.invalid" });

// allowIpLiterals: false in a community's server access list refuses servers named by an IP literal.
const noIps = () => ({ ...school({ members: [[alice, "owner"], [carol, "admin"], [bob, "member"], ["@ivy:203.0.113.7", "member"]] }), serverAcl: { deny: [], allowIpLiterals: false as const } });
one("a member of a server named by an IP literal is refused where IP literals are (room.server_denied)", {
  state: noIps(), type: "message", sender: "@ivy:203.0.113.7", content: { kind: "text", body: "hi", threadRoot: 3 }, ctx: { target: announcement }, expect: "room.server_denied",
});
one("nobody invites a user of a server named by an IP literal there (room.server_denied)", { state: noIps(), type: "member.invite", sender: alice, content: { userId: "@zed:[2001:db8::7]:8448" }, expect: "room.server_denied" });
one("an admin may refuse IP literals", { state: school(), type: "room.server_acl", sender: alice, content: { deny: [], allowIpLiterals: false }, expect: "ok" });
one("allowIpLiterals is written only as false (room.invalid)", { state: school(), type: "room.server_acl", sender: alice, content: { deny: [], allowIpLiterals: true }, expect: "room.invalid" });
one("a community hosted on a server named by an IP literal cannot refuse IP literals (room.acl_denies_home)", {
  state: school({ id: "!school0001:203.0.113.9" }), type: "room.server_acl", sender: alice, content: { deny: [], allowIpLiterals: false }, expect: "room.acl_denies_home",
});

// ---------------------------------------------------------------------------------------------
t.test("authorize: the rules of rooms as a table", async (t) => {
  const names = cases.map((c) => c.name);
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], "every case has its own name");
  for (const c of cases) {
    const p: Proposal = { roomId: c.state.id, type: c.type as EventType, sender: c.sender, content: c.content ?? {} };
    const before = JSON.stringify({ ...c.state, members: [...c.state.members], bans: [...c.state.bans], requests: [...c.state.requests], invites: [...c.state.invites], groups: [...c.state.groups] });
    const decision = authorize(c.state, p, { limits, now: NOW, ...c.ctx });
    t.same(decision.ok ? "ok" : decision.code, c.expect, c.name);
    const after = JSON.stringify({ ...c.state, members: [...c.state.members], bans: [...c.state.bans], requests: [...c.state.requests], invites: [...c.state.invites], groups: [...c.state.groups] });
    if (before !== after) t.fail(`authorize must not change the state: ${c.name}`);
  }
  t.ok(cases.length > 300, `a broad table (${cases.length} cases)`);
});

t.test("every membership, state and message event type has at least one case", async (t) => {
  const covered = new Set(cases.map((c) => c.type));
  const all: EventType[] = [
    "room.create", "room.profile", "room.settings", "room.deactivate", "community.group.add", "community.group.remove", "group.community",
    "member.join", "member.leave", "member.remove", "member.ban", "member.unban", "member.role", "member.invite", "member.invite.decline",
    "join.request", "join.request.cancel", "join.reject", "message", "message.edit", "message.delete", "reaction",
  ];
  for (const type of all) t.ok(covered.has(type), type);
});
