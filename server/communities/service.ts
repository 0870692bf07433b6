import { ParleyError } from "../errors.ts";
import type { RoomCore, Tx } from "../rooms/core.ts";
import { originOf } from "../rooms/hash.ts";
import { aclDenies, defaultCommunitySettings, defaultGroupSettings, isAdminRole, type ServerAcl, type Role, type RoomKind, type RoomSettings, type RoomState } from "../rooms/types.ts";
import type { CommunityQueries } from "./queries.ts";

export interface RoomSummary {
  roomId: string;
  kind: RoomKind;
  name: string;
  description: string;
  picture: string | null;
  rules: string;
  communityId: string | null;
  settings: RoomSettings;
  memberCount: number;
  myRole: Role | null;
  deactivated: boolean;
  createdAt: number;
}

export function summarize(state: RoomState, userId: string): RoomSummary {
  return {
    roomId: state.id,
    kind: state.kind,
    name: state.name,
    description: state.description,
    picture: state.picture,
    rules: state.rules,
    communityId: state.communityId,
    settings: state.settings,
    memberCount: state.members.size,
    myRole: state.members.get(userId) ?? null,
    deactivated: state.deactivated,
    createdAt: state.createdAt,
  };
}

/** Looks a room up through the actor's membership: a missing room and a foreign one look alike. */
export function memberState(tx: Pick<Tx, "state">, roomId: string, userId: string): RoomState {
  const st = tx.state(roomId);
  if (!st || !st.members.has(userId)) throw new ParleyError("room.not_found");
  return st;
}

/**
 * Communities, groups and membership: the WhatsApp community model on top of the room core.
 * Every change is a command run through `core.transact`, which authorizes each event against
 * the room's state; the rules that span rooms (a community's groups, cascades) live here.
 */
export function createCommunityService(
  core: RoomCore,
  queries: CommunityQueries,
  /** Throws unless the actor may use this file as a picture (media area). */
  checkPicture: (actor: string, mediaId: string) => void = () => {},
) {
  return {
    /** community.create: the community room is also its announcement group. */
    createCommunity(actor: string, input: { name: string; description?: string; picture?: string | null; rules?: string }): Promise<RoomSummary> {
      if (input.picture) checkPicture(actor, input.picture);
      return core.transact((tx) => {
        const st = tx.createRoom({ kind: "community", ...input, settings: { ...defaultCommunitySettings }, creator: actor });
        return summarize(st, actor);
      });
    },

    /** group.create: standalone, or inside a community (the creator must be a community admin). */
    createGroup(actor: string, input: { name: string; description?: string; picture?: string | null; communityId?: string; settings?: Partial<RoomSettings> }): Promise<RoomSummary> {
      if (input.picture) checkPicture(actor, input.picture);
      return core.transact((tx) => {
        let community: RoomState | undefined;
        if (input.communityId) {
          community = memberState(tx, input.communityId, actor);
          if (!isAdminRole(community.members.get(actor))) throw new ParleyError("room.forbidden");
          if (community.deactivated) throw new ParleyError("room.deactivated");
          if (community.groups.size >= core.limits.groupsPerCommunity) throw new ParleyError("room.group_limit");
        }
        const { announcementReplies: _a, ...settings } = input.settings ?? {};
        const st = tx.createRoom({ kind: "group", name: input.name, description: input.description, picture: input.picture, settings: { ...defaultGroupSettings, ...settings }, creator: actor });
        if (community) link(tx, community, st, actor);
        return summarize(st, actor);
      });
    },

    linkGroup(actor: string, communityId: string, groupId: string): Promise<RoomSummary> {
      return core.transact((tx) => {
        const community = memberState(tx, communityId, actor);
        const group = memberState(tx, groupId, actor);
        // Linking needs authority on both sides: a community admin who is also a group admin.
        if (!isAdminRole(community.members.get(actor)) || !isAdminRole(group.members.get(actor))) throw new ParleyError("room.forbidden");
        if (group.communityId) throw new ParleyError("room.group_linked");
        link(tx, community, group, actor);
        return summarize(group, actor);
      });
    },

    unlinkGroup(actor: string, communityId: string, groupId: string): Promise<RoomSummary> {
      return core.transact((tx) => {
        const community = memberState(tx, communityId, actor);
        const group = tx.state(groupId);
        if (!group || group.communityId !== communityId) throw new ParleyError("room.not_found");
        // The group's side first: it authorizes a group admin as well as a community admin, and the
        // community then follows as a consequence of that unlink.
        tx.append({ roomId: groupId, type: "group.community", sender: actor, content: { communityId: null } }, { communityRole: community.members.get(actor) });
        tx.append({ roomId: communityId, type: "community.group.remove", sender: actor, content: { groupId } }, { cascadeFrom: groupId });
        return summarize(group, actor);
      });
    },

    updateProfile(actor: string, roomId: string, patch: { name?: string; description?: string; picture?: string | null; rules?: string }): Promise<RoomSummary> {
      if (patch.picture) checkPicture(actor, patch.picture);
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        tx.append({ roomId, type: "room.profile", sender: actor, content: patch });
        return summarize(st, actor);
      });
    },

    updateSettings(actor: string, roomId: string, patch: Partial<RoomSettings>): Promise<RoomSummary> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        tx.append({ roomId, type: "room.settings", sender: actor, content: patch });
        return summarize(st, actor);
      });
    },

    /** Deactivation unlinks every group; they live on as standalone groups. */
    deactivate(actor: string, communityId: string): Promise<{ roomId: string; unlinkedGroups: string[] }> {
      return core.transact((tx) => {
        const community = memberState(tx, communityId, actor);
        const groups = [...community.groups];
        const role = community.members.get(actor);
        if (role !== "owner") throw new ParleyError(community.kind === "community" ? "room.forbidden" : "room.invalid");
        for (const groupId of groups) {
          tx.append({ roomId: communityId, type: "community.group.remove", sender: actor, content: { groupId, reason: "deactivated" } });
          tx.append({ roomId: groupId, type: "group.community", sender: actor, content: { communityId: null, reason: "deactivated" } }, { communityRole: role });
        }
        tx.append({ roomId: communityId, type: "room.deactivate", sender: actor, content: {} });
        return { roomId: communityId, unlinkedGroups: groups };
      });
    },

    /** Join a group from its community's list: directly, or as a join request under approval. */
    joinGroup(actor: string, groupId: string): Promise<{ status: "joined" | "requested"; room: RoomSummary }> {
      return core.transact((tx) => {
        const group = tx.state(groupId);
        if (!group || group.kind !== "group" || !group.communityId) throw new ParleyError("room.not_found");
        const community = tx.state(group.communityId);
        const communityRole = community?.members.get(actor);
        if (communityRole === undefined) throw new ParleyError("room.not_found");
        if (group.settings.joinApproval && !group.members.has(actor)) {
          tx.append({ roomId: groupId, type: "join.request", sender: actor, content: { userId: actor, via: "community" } }, { communityRole });
          return { status: "requested" as const, room: summarize(group, actor) };
        }
        tx.append({ roomId: groupId, type: "member.join", sender: actor, content: { userId: actor, via: "community" } }, { communityRole });
        return { status: "joined" as const, room: summarize(group, actor) };
      });
    },

    /** Join by invite link (validated by the invites area); `linkRoomId` is the link's room. */
    joinByLink(tx: Tx, actor: string, roomId: string): { status: "joined" | "requested"; room: RoomSummary } {
      const st = tx.state(roomId);
      if (!st) throw new ParleyError("invite.invalid");
      if (st.bans.has(actor)) throw new ParleyError("room.banned");
      // A link to a group inside a community brings the user into the community too.
      if (st.kind === "group" && st.communityId) {
        const community = tx.state(st.communityId);
        if (community && community.bans.has(actor)) throw new ParleyError("room.banned");
        if (community && !community.members.has(actor) && !community.deactivated && !st.settings.joinApproval) {
          joinCommunityThroughGroup(tx, community, actor, actor, st.id);
        }
      }
      if (st.members.has(actor)) return { status: "joined", room: summarize(st, actor) };
      if (st.settings.joinApproval) {
        if (!st.requests.has(actor)) tx.append({ roomId, type: "join.request", sender: actor, content: { userId: actor, via: "link" } }, { viaLink: true });
        return { status: "requested", room: summarize(st, actor) };
      }
      tx.append({ roomId, type: "member.join", sender: actor, content: { userId: actor, via: "link" } }, { viaLink: true });
      return { status: "joined", room: summarize(st, actor) };
    },

    cancelRequest(actor: string, roomId: string): Promise<{ roomId: string }> {
      return core.transact((tx) => {
        // A missing room, and a deactivated community (which keeps no requests open), answer like
        // a room without a request from the actor: no probing of which rooms exist.
        const st = tx.state(roomId);
        if (!st || st.deactivated) throw new ParleyError("room.no_request");
        tx.append({ roomId, type: "join.request.cancel", sender: actor, content: { userId: actor } });
        return { roomId };
      });
    },

    /** Approving a request to a group inside a community also brings the user into the community. */
    approve(actor: string, roomId: string, userId: string): Promise<{ roomId: string; userId: string }> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        tx.append({ roomId, type: "member.join", sender: actor, content: { userId, via: "approval" } });
        if (st.kind === "group" && st.communityId) {
          const community = tx.state(st.communityId);
          if (community && !community.members.has(userId) && !community.deactivated) joinCommunityThroughGroup(tx, community, userId, actor, st.id);
        }
        return { roomId, userId };
      });
    },

    reject(actor: string, roomId: string, userId: string): Promise<{ roomId: string; userId: string }> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        tx.append({ roomId, type: "join.reject", sender: actor, content: { userId } });
        return { roomId, userId };
      });
    },

    invite(actor: string, roomId: string, userId: string): Promise<{ roomId: string; userId: string }> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        // A user of another server is checked with their server before this runs (federation/forward.ts).
        const remote = !userId.endsWith(roomId.slice(roomId.indexOf(":")));
        if (!remote && !queries.userExists(userId)) throw new ParleyError("user.not_found");
        tx.append({ roomId, type: "member.invite", sender: actor, content: { userId } });
        return { roomId, userId };
      });
    },

    /** Accepting an invitation to a group inside a community also joins the community. */
    acceptInvite(actor: string, roomId: string): Promise<RoomSummary> {
      return core.transact((tx) => {
        const st = tx.state(roomId);
        // A deactivated community's invitations are void: answered like no invitation at all.
        if (!st || st.deactivated || !st.invites.has(actor)) throw new ParleyError("room.not_invited");
        if (st.kind === "group" && st.communityId) {
          const community = tx.state(st.communityId);
          if (community && !community.members.has(actor) && !community.deactivated) joinCommunityThroughGroup(tx, community, actor, actor, st.id);
        }
        tx.append({ roomId, type: "member.join", sender: actor, content: { userId: actor, via: "invite" } });
        return summarize(st, actor);
      });
    },

    declineInvite(actor: string, roomId: string): Promise<{ roomId: string }> {
      return core.transact((tx) => {
        // A missing room, and a deactivated community, answer like a room without an invitation
        // for the actor (as invite.accept): no probing of which rooms exist.
        const st = tx.state(roomId);
        if (!st || st.deactivated) throw new ParleyError("room.not_invited");
        tx.append({ roomId, type: "member.invite.decline", sender: actor, content: { userId: actor } });
        return { roomId };
      });
    },

    /** Leaving a community leaves all of its groups. */
    leave(actor: string, roomId: string): Promise<{ roomId: string; leftGroups: string[] }> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        const left: string[] = [];
        if (st.kind === "community") {
          for (const groupId of st.groups) {
            const group = tx.state(groupId);
            if (!group?.members.has(actor)) continue;
            if (group.members.get(actor) === "owner") throw new ParleyError("room.owner_must_transfer", `Transfer ownership of the group "${group.name}" first.`);
            tx.append({ roomId: groupId, type: "member.leave", sender: actor, content: { userId: actor, cascade: roomId } });
            left.push(groupId);
          }
        }
        tx.append({ roomId, type: "member.leave", sender: actor, content: { userId: actor } });
        return { roomId, leftGroups: left };
      });
    },

    /** Removing (or banning) someone from a community removes them from all of its groups. */
    remove(actor: string, roomId: string, userId: string, ban: boolean): Promise<{ roomId: string; userId: string; removedFromGroups: string[] }> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        const groups: string[] = [];
        const wasMember = st.members.has(userId);
        tx.append({ roomId, type: ban ? "member.ban" : "member.remove", sender: actor, content: { userId } });
        if (st.kind === "community" && (wasMember || ban)) {
          for (const groupId of st.groups) {
            const group = tx.state(groupId);
            if (!group?.members.has(userId)) continue;
            appendCascade(tx, group, actor, userId, roomId);
            groups.push(groupId);
          }
        }
        return { roomId, userId, removedFromGroups: groups };
      });
    },

    /**
     * community.servers.set: the community's server access list, then, in the same transaction,
     * an explicit `member.remove` of every member of a server it now denies, from the community
     * and from each of its groups, so that every copy of the log agrees on who is in.
     */
    setServerAcl(actor: string, roomId: string, acl: ServerAcl): Promise<{ roomId: string; allow: string[] | null; deny: string[]; allowIpLiterals: boolean; removed: string[] }> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        if (st.kind !== "community") throw new ParleyError("room.invalid", "A server access list belongs to a community.");
        // `allowIpLiterals` is written only when false, so that a list without it reads as before.
        tx.append({ roomId, type: "room.server_acl", sender: actor, content: { ...(acl.allow === undefined ? {} : { allow: acl.allow }), deny: acl.deny, ...(acl.allowIpLiterals === false ? { allowIpLiterals: false } : {}) } });
        const removed = new Set<string>();
        for (const userId of [...st.members.keys()]) {
          if (!aclDenies(acl, originOf(userId))) continue;
          tx.append({ roomId, type: "member.remove", sender: actor, content: { userId, serverAcl: true } });
          removed.add(userId);
        }
        for (const groupId of st.groups) {
          const group = tx.state(groupId);
          if (!group) continue;
          // The owner last, so that a successor (if one is needed) is chosen among those who stay.
          const denied = [...group.members.keys()].filter((u) => aclDenies(acl, originOf(u)));
          denied.sort((x, y) => Number(group.members.get(x) === "owner") - Number(group.members.get(y) === "owner"));
          for (const userId of denied) {
            appendCascade(tx, group, actor, userId, roomId);
            removed.add(userId);
          }
        }
        return { roomId, allow: acl.allow ?? null, deny: acl.deny, allowIpLiterals: acl.allowIpLiterals !== false, removed: [...removed] };
      });
    },

    unban(actor: string, roomId: string, userId: string): Promise<{ roomId: string; userId: string }> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        tx.append({ roomId, type: "member.unban", sender: actor, content: { userId } });
        return { roomId, userId };
      });
    },

    setRole(actor: string, roomId: string, userId: string, role: Role): Promise<{ roomId: string; userId: string; role: Role }> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        tx.append({ roomId, type: "member.role", sender: actor, content: { userId, role } });
        return { roomId, userId, role };
      });
    },

    /** The member list; in the announcement group (the community room) only admins see it. */
    listMembers(actor: string, roomId: string): { roomId: string; count: number; members: { userId: string; role: Role }[] | null; admins: string[] } {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const admins = [...st.members].filter(([, r]) => isAdminRole(r)).map(([u]) => u).sort();
      const canSee = st.kind !== "community" || isAdminRole(st.members.get(actor));
      const members = canSee ? [...st.members].map(([userId, role]) => ({ userId, role })).sort((a, b) => a.userId.localeCompare(b.userId)) : null;
      return { roomId, count: st.members.size, members, admins };
    },

    get(actor: string, roomId: string): RoomSummary & { groups?: string[]; admins: string[]; pendingRequests?: number; invited?: boolean; pinnedMessages?: number[]; serverAcl?: ServerAcl | null; replacedBy?: string } {
      const st = core.state(roomId);
      if (!st) throw new ParleyError("room.not_found");
      const role = st.members.get(actor);
      if (!role && !st.invites.has(actor)) {
        // A community member may look at the groups listed in their community.
        const community = st.communityId ? core.state(st.communityId) : undefined;
        if (!community?.members.has(actor)) throw new ParleyError("room.not_found");
      }
      const admins = [...st.members].filter(([, r]) => isAdminRole(r)).map(([u]) => u).sort();
      return {
        ...summarize(st, actor),
        ...(st.kind === "community" ? { groups: [...st.groups] } : {}),
        admins,
        ...(isAdminRole(role) ? { pendingRequests: st.requests.size } : {}),
        invited: st.invites.has(actor),
        ...(role ? { pinnedMessages: [...st.pinned] } : {}),
        ...(role && st.kind === "community" ? { serverAcl: st.serverAcl ?? null } : {}),
        // A pair's second direct chat, closed (room.tombstone): where the conversation goes on.
        ...(role && st.replacedBy ? { replacedBy: st.replacedBy } : {}),
      };
    },

    /** The groups of a community, as its members see them in the list. */
    listGroups(actor: string, communityId: string) {
      const community = core.state(communityId);
      if (!community || !community.members.has(actor)) throw new ParleyError("room.not_found");
      return {
        communityId,
        groups: [...community.groups]
          .map((id) => core.state(id))
          .filter((g): g is RoomState => g !== undefined)
          .map((g) => ({
            roomId: g.id,
            name: g.name,
            description: g.description,
            picture: g.picture,
            memberCount: g.members.size,
            joined: g.members.has(actor),
            joinApproval: g.settings.joinApproval,
            requested: g.requests.has(actor),
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      };
    },

    listRequests(actor: string, roomId: string) {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      if (!isAdminRole(st.members.get(actor))) throw new ParleyError("room.forbidden");
      return { roomId, requests: queries.requests(roomId) };
    },
  };

  function link(tx: Tx, community: RoomState, group: RoomState, actor: string): void {
    tx.append({ roomId: community.id, type: "community.group.add", sender: actor, content: { groupId: group.id, name: group.name } });
    tx.append({ roomId: group.id, type: "group.community", sender: actor, content: { communityId: community.id } }, { communityRole: community.members.get(actor) });
    // A member of a linked group is a member of its community: linking an existing group brings
    // its members in. One of them banned from the community (or a full community) refuses the link.
    for (const userId of group.members.keys()) {
      if (!community.members.has(userId)) joinCommunityThroughGroup(tx, community, userId, actor, group.id);
    }
  }
}

/**
 * A removal from a community carried into one of its groups. The community admin acting need not
 * be an admin of the group; the event is authorized as a consequence of the community removal in
 * the same transaction (`cascadeFrom`), still through the one write path.
 */
function appendCascade(tx: Tx, group: RoomState, actor: string, userId: string, communityId: string): void {
  const wasOwner = group.members.get(userId) === "owner";
  tx.append({ roomId: group.id, type: "member.remove", sender: actor, content: { userId, cascade: communityId } }, { cascadeFrom: communityId });
  if (wasOwner && group.members.size > 0) {
    // Ownership passes to the group's first admin, else its first member (in join order).
    const successor = [...group.members].find(([, role]) => role === "admin")?.[0] ?? group.members.keys().next().value!;
    tx.append({ roomId: group.id, type: "member.role", sender: actor, content: { userId: successor, role: "owner", cascade: communityId } }, { cascadeFrom: communityId });
  }
}

/**
 * A member of a group linked to a community is a member of the community: joining such a group
 * (by link, invitation or approved request) joins the community in the same transaction.
 */
function joinCommunityThroughGroup(tx: Tx, community: RoomState, userId: string, sender: string, groupId: string): void {
  tx.append({ roomId: community.id, type: "member.join", sender, content: { userId, via: "group", groupId } }, { cascadeFrom: groupId });
}

export type CommunityService = ReturnType<typeof createCommunityService>;
