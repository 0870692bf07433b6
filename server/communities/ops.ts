import type { OpRegistry } from "../ws/ops.ts";
import type { Role, RoomSettings } from "../rooms/types.ts";
import type { CommunityQueries } from "./queries.ts";
import type { CommunityService } from "./service.ts";
import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import { scopeOf } from "../rooms/project.ts";
import { isAdminRole } from "../rooms/types.ts";

type RoomRef = { roomId: string };
type UserRef = RoomRef & { userId: string };

/** WebSocket ops of communities, groups and membership. */
export function defineCommunityOps(ops: OpRegistry, communities: CommunityService, queries: CommunityQueries, core: RoomCore): void {
  // op: community.create
  ops.define<{ name: string; description?: string; picture?: string | null; rules?: string }>("community.create", ({ actor }, p) =>
    communities.createCommunity(actor.userId, p),
  );
  // op: community.deactivate
  ops.define<RoomRef>("community.deactivate", ({ actor }, p) => communities.deactivate(actor.userId, p.roomId));
  // op: community.servers.set
  ops.define<RoomRef & { allow?: string[]; deny: string[]; allowIpLiterals?: boolean }>("community.servers.set", ({ actor }, { roomId, allow, deny, allowIpLiterals }) =>
    communities.setServerAcl(actor.userId, roomId, { ...(allow === undefined ? {} : { allow }), deny, ...(allowIpLiterals === false ? { allowIpLiterals } : {}) }),
  );
  // op: community.groups
  ops.define<RoomRef>("community.groups", ({ actor }, p) => communities.listGroups(actor.userId, p.roomId));
  // op: community.link
  ops.define<RoomRef & { groupId: string }>("community.link", ({ actor }, p) => communities.linkGroup(actor.userId, p.roomId, p.groupId));
  // op: community.unlink
  ops.define<RoomRef & { groupId: string }>("community.unlink", ({ actor }, p) => communities.unlinkGroup(actor.userId, p.roomId, p.groupId));

  // op: group.create
  ops.define<{ name: string; description?: string; picture?: string | null; communityId?: string; settings?: Partial<RoomSettings> }>("group.create", ({ actor }, p) =>
    communities.createGroup(actor.userId, p),
  );
  // op: group.join
  ops.define<RoomRef>("group.join", ({ actor }, p) => communities.joinGroup(actor.userId, p.roomId));

  // op: room.get
  ops.define<RoomRef>("room.get", ({ actor }, p) => communities.get(actor.userId, p.roomId));
  // op: room.list
  ops.define("room.list", ({ actor }) => ({ rooms: queries.myRooms(actor.userId) }));
  // op: room.update
  ops.define<RoomRef & { name?: string; description?: string; picture?: string | null; rules?: string }>("room.update", ({ actor }, { roomId, ...patch }) =>
    communities.updateProfile(actor.userId, roomId, patch),
  );
  // op: room.settings.update
  ops.define<RoomRef & Partial<RoomSettings>>("room.settings.update", ({ actor }, { roomId, ...patch }) => communities.updateSettings(actor.userId, roomId, patch));
  // op: room.leave
  ops.define<RoomRef>("room.leave", ({ actor }, p) => communities.leave(actor.userId, p.roomId));
  // op: room.members
  ops.define<RoomRef>("room.members", ({ actor }, p) => communities.listMembers(actor.userId, p.roomId));

  // op: member.invite
  ops.define<UserRef>("member.invite", ({ actor }, p) => communities.invite(actor.userId, p.roomId, p.userId));
  // op: member.remove
  ops.define<UserRef>("member.remove", ({ actor }, p) => communities.remove(actor.userId, p.roomId, p.userId, false));
  // op: member.ban
  ops.define<UserRef>("member.ban", ({ actor }, p) => communities.remove(actor.userId, p.roomId, p.userId, true));
  // op: member.unban
  ops.define<UserRef>("member.unban", ({ actor }, p) => communities.unban(actor.userId, p.roomId, p.userId));
  // op: member.role
  ops.define<UserRef & { role: Role }>("member.role", ({ actor }, p) => communities.setRole(actor.userId, p.roomId, p.userId, p.role));

  // op: invite.accept
  ops.define<RoomRef>("invite.accept", ({ actor }, p) => communities.acceptInvite(actor.userId, p.roomId));
  // op: invite.decline
  ops.define<RoomRef>("invite.decline", ({ actor }, p) => communities.declineInvite(actor.userId, p.roomId));

  // op: join.requests
  ops.define<RoomRef>("join.requests", ({ actor }, p) => communities.listRequests(actor.userId, p.roomId));
  // op: join.approve
  ops.define<UserRef>("join.approve", ({ actor }, p) => communities.approve(actor.userId, p.roomId, p.userId));
  // op: join.reject
  ops.define<UserRef>("join.reject", ({ actor }, p) => communities.reject(actor.userId, p.roomId, p.userId));
  // op: join.cancel
  ops.define<RoomRef>("join.cancel", ({ actor }, p) => communities.cancelRequest(actor.userId, p.roomId));

  // op: audit.list
  ops.define<RoomRef & { before?: number; limit?: number }>("audit.list", ({ actor }, p) => {
    const st = core.state(p.roomId);
    if (!st || !st.members.has(actor.userId)) throw new ParleyError("room.not_found");
    if (!isAdminRole(st.members.get(actor.userId))) throw new ParleyError("room.forbidden");
    const limit = p.limit ?? 50;
    // A linked group shares its community's log, but an admin of the group who is not an admin
    // of the community reads only the group's entries: the rest (bans, removals, role changes
    // across the community) would tell them the member list the announcement group hides.
    const community = st.communityId ? core.state(st.communityId) : undefined;
    const onlyThisRoom = community !== undefined && !isAdminRole(community.members.get(actor.userId)) ? st.id : undefined;
    const entries = queries.audit(scopeOf(st), p.before ?? Number.MAX_SAFE_INTEGER, limit + 1, onlyThisRoom);
    const more = entries.length > limit;
    if (more) entries.pop();
    return { scopeId: scopeOf(st), entries, more };
  });

  // op: user.common_groups
  ops.define<{ userId: string }>("user.common_groups", ({ actor }, p) => ({ userId: p.userId, groups: queries.commonGroups(actor.userId, p.userId) }));
}
