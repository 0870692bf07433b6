import type { ErrorCode } from "../errors.ts";
import { aclDenies, isAdminRole, maxPinnedMessages, type Proposal, type Role, type RoomLimits, type RoomState, type ServerAcl } from "./types.ts";
import { originOf } from "./hash.ts";

/** Facts from outside the room that some rules need; gathered by the caller, read-only here. */
export interface AuthContext {
  limits: RoomLimits;
  now: number;
  /** The sender's role in the community this group is linked to (for joins from the list). */
  communityRole?: Role;
  /** The sender presented a valid invite link for this room. */
  viaLink?: boolean;
  /**
   * The event is a consequence of an authorized change in another room of the same community,
   * in the same transaction: a removal from the community carried into its groups, a join of a
   * linked group carried into its community, or a group's unlink carried into its community.
   * Holds that other room's id.
   */
  cascadeFrom?: string;
  /**
   * The sender acts as an admin of this server (an operator action through the admin API or the
   * command line), checked by the caller. Only events that say so in their content
   * (`serverAdmin: true`, so every reader of the log can tell) take this path, and only the few
   * an operator needs: deactivating a community, unlinking its groups, removing a member (a
   * spammer, from every room) and naming a successor for a group left without an owner.
   */
  serverAdmin?: boolean;
  /** For edits, deletions, reactions and replies: the message they point at. */
  target?: { sender: string; ts: number; deleted: boolean; threadRoot: number | null; kind?: string } | null;
  /** For votes and closing: the poll. */
  poll?: { createdBy: string; closed: boolean; optionCount: number; multiple: boolean } | null;
  /** For updates, cancellation and answers: the calendar event. */
  calendar?: { createdBy: string; cancelled: boolean } | null;
  /**
   * In a direct room: whether the sender blocked the other member (`by_sender`) or the other
   * member blocked the sender (`by_other`). Gathered by the core for every direct-room event, so
   * that no path (messages, polls, calendar events, reactions) can miss it.
   */
  blocked?: "by_sender" | "by_other" | null;
  /**
   * The server access list that governs this room: a community's own, or that of the community a
   * group is linked to (gathered by the core from that community).
   */
  serverAcl?: ServerAcl | null;
}

export type Decision = { ok: true } | { ok: false, code: ErrorCode };

const allow: Decision = { ok: true };
const deny = (code: ErrorCode): Decision => ({ ok: false, code });

/** What may happen in a direct room besides the shared message rules. */
const directMessageTypes = new Set(["message", "message.edit", "reaction", "poll.vote", "poll.close", "event.update", "event.cancel", "event.rsvp"]);

/**
 * A direct room has exactly two members, both plain members, no community and no admin actions:
 * its second member is added by the opener as the room is created (`via: "direct"`), and nothing
 * changes its membership, profile or settings afterwards. Messages follow the shared rules below
 * (undefined: go on to them), except that a block stops everything but deleting one's own
 * messages. Neither member leaves; reopening the chat returns the same room.
 */
function authorizeDirect(state: RoomState, p: Proposal, ctx: AuthContext): Decision | undefined {
  const isMember = state.members.has(p.sender);
  if (p.type === "member.join") {
    const subject = p.content.userId;
    if (!isMember) return deny("room.not_found");
    if (p.content.via !== "direct" || typeof subject !== "string" || subject === p.sender) return deny("room.invalid");
    if (state.members.has(subject)) return deny("room.already_member");
    return state.members.size < 2 ? allow : deny("room.full");
  }
  if (!isMember) return deny("room.not_found");
  if (p.type === "message.delete") return undefined;
  if (!directMessageTypes.has(p.type)) return deny("room.invalid");
  if (p.type === "message" && p.content.threadRoot != null) return deny("room.invalid");
  // The blocked person is told only that they cannot message this person (the same code as a
  // direct chat the server's policy does not allow); the blocker is told why.
  if (ctx.blocked === "by_other") return deny("direct.not_allowed");
  if (ctx.blocked === "by_sender") return deny("user.blocked");
  return undefined;
}

/**
 * The rules of rooms, as one pure function of the room's current state and a proposed event.
 * Every write to any room passes here, whether it comes from a client op or (later) from a
 * federated server. A non-member is told `room.not_found` for anything but joining, so that
 * probing cannot tell a private room from a missing one.
 */
export function authorize(state: RoomState, p: Proposal, ctx: AuthContext): Decision {
  const senderRole = state.members.get(p.sender);
  const isAdmin = isAdminRole(senderRole);
  const subject = typeof p.content.userId === "string" ? p.content.userId : undefined;
  const isCommunity = state.kind === "community";

  if (ctx.serverAdmin && p.content.serverAdmin === true) return authorizeServerAdmin(state, p, subject);

  if (state.deactivated) {
    // A deactivated community takes no more changes, but its members may still leave it, so
    // that it does not stay in their list for good.
    if (p.type === "member.leave" && senderRole && subject === p.sender) return allow;
    return senderRole ? deny("room.deactivated") : deny("room.not_found");
  }

  const acl = ctx.serverAcl ?? (isCommunity ? state.serverAcl : null);
  if (acl) {
    // A community's server access list: users of a denied server propose nothing here, and
    // nobody brings one in (a join, an invitation, a request, a role).
    if (aclDenies(acl, originOf(p.sender))) return deny("room.server_denied");
    const bringsIn = p.type === "member.join" || p.type === "member.invite" || p.type === "join.request" || p.type === "member.role";
    if (bringsIn && subject !== undefined && aclDenies(acl, originOf(subject))) return deny("room.server_denied");
    // Setting the list removes the denied servers' users explicitly, so that every copy of the
    // log agrees on who is in: any admin may remove them (the list itself was an admin's act).
    if (p.type === "member.remove" && p.content.serverAcl === true) {
      if (!isAdmin && !(ctx.cascadeFrom !== undefined && ctx.cascadeFrom === state.communityId)) return senderRole ? deny("room.forbidden") : deny("room.not_found");
      if (subject === undefined || !aclDenies(acl, originOf(subject))) return deny("room.invalid");
      return state.members.has(subject) ? allow : deny("room.not_member");
    }
  }

  if (state.kind === "direct") {
    const decided = authorizeDirect(state, p, ctx);
    if (decided) return decided;
  }

  // A replaced room (room.tombstone: a pair's second direct room) takes no new messages, so that
  // the pair's conversation goes on in one room; what was said in it may still be edited,
  // deleted and reacted to.
  // (Members only: anyone else is told room.not_found below, as for any room.)
  if (state.replacedBy && p.type === "message" && state.members.has(p.sender)) return deny("room.replaced");

  switch (p.type) {
    case "room.create":
      return deny("room.invalid");

    case "member.join": {
      if (subject === undefined) return deny("room.invalid");
      if (state.members.has(subject)) return deny("room.already_member");
      if (state.bans.has(subject)) return deny("room.banned");
      const cap = isCommunity ? ctx.limits.membersPerCommunity : ctx.limits.membersPerGroup;
      if (state.members.size >= cap) return deny("room.full");
      const via = p.content.via;
      if (via === "group") {
        return ctx.cascadeFrom !== undefined && state.groups.has(ctx.cascadeFrom) ? allow : deny("room.forbidden");
      }
      if (via === "approval") {
        if (!isAdmin) return senderRole ? deny("room.forbidden") : deny("room.not_found");
        return state.requests.has(subject) ? allow : deny("room.no_request");
      }
      if (subject !== p.sender) return deny("room.forbidden");
      if (via === "invite") return state.invites.has(subject) ? allow : deny("room.not_invited");
      if (via === "link") {
        if (!ctx.viaLink) return deny("invite.invalid");
        return state.settings.joinApproval ? deny("room.approval_required") : allow;
      }
      if (via === "community") {
        // Joining a group from its community's list: community members only.
        if (!state.communityId || ctx.communityRole === undefined) return deny("room.not_found");
        return state.settings.joinApproval ? deny("room.approval_required") : allow;
      }
      return deny("room.invalid");
    }

    case "join.request": {
      if (p.content.userId !== p.sender) return deny("room.invalid");
      if (state.members.has(p.sender)) return deny("room.already_member");
      if (state.bans.has(p.sender)) return deny("room.banned");
      if (!state.settings.joinApproval) return deny("room.no_approval_needed");
      if (state.requests.has(p.sender)) return deny("room.request_pending");
      if (!ctx.viaLink && !(state.communityId && ctx.communityRole !== undefined)) return deny("room.not_found");
      return allow;
    }

    case "join.request.cancel":
      return p.content.userId === p.sender && state.requests.has(p.sender) ? allow : deny("room.no_request");

    case "member.invite.decline":
      return p.content.userId === p.sender && state.invites.has(p.sender) ? allow : deny("room.not_invited");

    case "group.community": {
      if (isCommunity) return deny("room.invalid");
      const communityAdmin = isAdminRole(ctx.communityRole);
      if (p.content.communityId !== null) {
        // Linking needs authority on both sides: an admin of the group who is also an admin of
        // the community (`communityRole`, gathered by the caller from that community).
        if (!senderRole) return deny("room.not_found");
        if (state.communityId) return deny("room.group_linked");
        return isAdmin && communityAdmin ? allow : deny("room.forbidden");
      }
      // Unlinking: a group admin, or an admin of the community the group is linked to, who need
      // not be in the group (deactivating a community unlinks every group, joined or not).
      if (isAdmin || communityAdmin) return allow;
      // A community member sees the group in the community's list, so is told why not.
      return senderRole || ctx.communityRole !== undefined ? deny("room.forbidden") : deny("room.not_found");
    }
  }

  // A group whose owner was just removed through a community cascade gets a new owner, chosen by
  // the server in the same transaction, so that no group is left without one.
  if (p.type === "member.role" && p.content.role === "owner" && ctx.cascadeFrom !== undefined && ctx.cascadeFrom === state.communityId) {
    const ownerless = ![...state.members.values()].includes("owner");
    return ownerless && subject !== undefined && state.members.has(subject) ? allow : deny("room.forbidden");
  }

  if (p.type === "member.remove" && ctx.cascadeFrom !== undefined && ctx.cascadeFrom === state.communityId) {
    return subject !== undefined && state.members.has(subject) ? allow : deny("room.not_member");
  }

  // Moderation: an admin of a community may delete a message in any of its linked groups, also one
  // they are not in, when resolving a report (the caller passes their community role).
  if (p.type === "message.delete" && !senderRole && state.communityId !== null && isAdminRole(ctx.communityRole)) {
    return ctx.target && !ctx.target.deleted ? allow : deny("message.not_found");
  }

  // Everything below needs the sender to be a member.
  if (!senderRole) return deny("room.not_found");

  switch (p.type) {
    case "member.leave":
      if (subject !== p.sender) return deny("room.invalid");
      return senderRole === "owner" ? deny("room.owner_must_transfer") : allow;

    case "member.remove": {
      if (!isAdmin) return deny("room.forbidden");
      const targetRole = subject === undefined ? undefined : state.members.get(subject);
      if (!targetRole) return deny("room.not_member");
      if (targetRole === "owner" || (targetRole === "admin" && senderRole !== "owner")) return deny("room.forbidden");
      return allow;
    }

    case "member.ban": {
      if (!isAdmin || subject === undefined || subject === p.sender) return isAdmin ? deny("room.invalid") : deny("room.forbidden");
      if (state.bans.has(subject)) return deny("room.banned");
      const targetRole = state.members.get(subject);
      if (targetRole === "owner" || (targetRole === "admin" && senderRole !== "owner")) return deny("room.forbidden");
      return allow;
    }

    case "member.unban":
      if (!isAdmin) return deny("room.forbidden");
      return subject !== undefined && state.bans.has(subject) ? allow : deny("room.not_member");

    case "member.role": {
      if (!isAdmin) return deny("room.forbidden");
      const targetRole = subject === undefined ? undefined : state.members.get(subject);
      if (!targetRole) return deny("room.not_member");
      const role = p.content.role;
      const atAdminCap = isCommunity && state.adminCount >= ctx.limits.adminsPerCommunity;
      if (role === "owner") {
        if (senderRole !== "owner" || subject === p.sender) return deny("room.forbidden");
        // The old owner stays on as an admin, so handing ownership to a plain member adds an admin.
        return targetRole === "member" && atAdminCap ? deny("room.admin_limit") : allow;
      }
      if (targetRole === "owner") return deny("room.forbidden");
      if (role === targetRole) return allow;
      // Only the owner may remove an admin; were admins free to demote each other, any admin
      // could remove another in two steps. Stepping down oneself is always allowed.
      if (targetRole === "admin" && senderRole !== "owner" && subject !== p.sender) return deny("room.forbidden");
      if (role === "admin" && atAdminCap) return deny("room.admin_limit");
      return role === "admin" || role === "member" ? allow : deny("room.invalid");
    }

    case "member.invite":
      if (!isAdmin && state.settings.addMembersPolicy === "admins") return deny("room.forbidden");
      if (subject === undefined) return deny("room.invalid");
      if (state.members.has(subject)) return deny("room.already_member");
      if (state.bans.has(subject)) return deny("room.banned");
      if (state.invites.has(subject)) return deny("room.already_invited");
      return allow;

    case "join.reject":
      if (!isAdmin) return deny("room.forbidden");
      return subject !== undefined && state.requests.has(subject) ? allow : deny("room.no_request");

    case "room.profile":
      if (!isAdmin && (isCommunity || state.settings.editInfoPolicy === "admins")) return deny("room.forbidden");
      return allow;

    case "room.settings":
      if (!isAdmin) return deny("room.forbidden");
      // The announcement group is admins-only by definition; that cannot be switched off.
      if (isCommunity && p.content.sendPolicy !== undefined && p.content.sendPolicy !== "admins") return deny("room.invalid");
      if (!isCommunity && p.content.announcementReplies !== undefined) return deny("room.invalid");
      return allow;

    case "room.deactivate":
      if (!isCommunity) return deny("room.invalid");
      return senderRole === "owner" ? allow : deny("room.forbidden");

    case "room.server_acl": {
      if (!isCommunity) return deny("room.invalid");
      if (!isAdmin) return deny("room.forbidden");
      const { allow: allowed, deny: denied, allowIpLiterals } = p.content as { allow?: unknown; deny?: unknown; allowIpLiterals?: unknown };
      const isList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string" && x.length > 0);
      if (!isList(denied) || (allowed !== undefined && !isList(allowed)) || (allowIpLiterals !== undefined && allowIpLiterals !== false)) return deny("room.invalid");
      // The home server is never shut out of its own community: it sequences the log (nor by
      // refusing IP literals, when the home is named by one).
      const next: ServerAcl = { ...(allowed === undefined ? {} : { allow: allowed }), deny: denied, ...(allowIpLiterals === false ? { allowIpLiterals } : {}) };
      return aclDenies(next, originOf(state.id)) ? deny("room.acl_denies_home") : allow;
    }

    case "community.group.add":
      if (!isCommunity) return deny("room.invalid");
      if (!isAdmin) return deny("room.forbidden");
      if (state.groups.has(String(p.content.groupId))) return deny("room.group_linked");
      return state.groups.size >= ctx.limits.groupsPerCommunity ? deny("room.group_limit") : allow;

    case "community.group.remove":
      if (!isCommunity) return deny("room.invalid");
      // A group's own admin may take it out of the community: the removal then follows the
      // group's authorized unlink in the same transaction (`cascadeFrom` is that group).
      if (!isAdmin && !(ctx.cascadeFrom !== undefined && ctx.cascadeFrom === p.content.groupId)) return deny("room.forbidden");
      return state.groups.has(String(p.content.groupId)) ? allow : deny("room.not_found");

    case "message": {
      const body = p.content.body;
      if (typeof body === "string" && [...body].length > ctx.limits.messageChars) return deny("message.too_long");
      if (p.content.threadRoot !== undefined && p.content.threadRoot !== null) {
        if (!isCommunity) return deny("room.invalid");
        if (!ctx.target || ctx.target.deleted || ctx.target.threadRoot !== null) return deny("message.not_found");
        if (!isAdmin && !state.settings.announcementReplies) return deny("announcement.replies_off");
        return allow;
      }
      if (isCommunity && !isAdmin) return deny("announcement.admins_only");
      if (state.settings.sendPolicy === "admins" && !isAdmin) return deny("room.forbidden");
      if (p.content.replyTo !== undefined && p.content.replyTo !== null && (!ctx.target || ctx.target.deleted)) return deny("message.not_found");
      return allow;
    }

    case "message.edit": {
      if (!ctx.target) return deny("message.not_found");
      if (ctx.target.sender !== p.sender || ctx.target.deleted) return deny("message.not_editable");
      // A poll's or an event's text is its question or title: they change through their own ops.
      if (ctx.target.kind === "poll" || ctx.target.kind === "event") return deny("message.not_editable");
      const body = p.content.body;
      if (typeof body === "string" && [...body].length > ctx.limits.messageChars) return deny("message.too_long");
      return allow;
    }

    case "message.delete":
      if (!ctx.target || ctx.target.deleted) return deny("message.not_found");
      if (isAdmin) return allow;
      if (ctx.target.sender !== p.sender) return deny("room.forbidden");
      return ctx.now - ctx.target.ts <= ctx.limits.deleteWindowMs ? allow : deny("message.delete_window_passed");

    case "reaction":
      return ctx.target && !ctx.target.deleted ? allow : deny("message.not_found");

    // Pinned messages are room state every member sees: the room's admins choose them.
    case "message.pin": {
      if (!isAdmin) return deny("room.forbidden");
      if (!ctx.target || ctx.target.deleted) return deny("message.not_found");
      const pinned = state.pinned;
      if (pinned.includes(p.content.target as number)) return deny("message.already_pinned");
      return pinned.length >= maxPinnedMessages ? deny("message.pin_limit") : allow;
    }
    case "message.unpin":
      if (!isAdmin) return deny("room.forbidden");
      return state.pinned.includes(p.content.target as number) ? allow : deny("message.not_pinned");

    case "poll.vote": {
      if (!ctx.poll || !ctx.target || ctx.target.deleted) return deny("poll.not_found");
      if (ctx.poll.closed) return deny("poll.closed");
      const options = p.content.options as number[];
      const valid =
        Array.isArray(options) &&
        new Set(options).size === options.length &&
        options.every((o) => Number.isInteger(o) && o >= 0 && o < ctx.poll!.optionCount) &&
        (ctx.poll.multiple || options.length <= 1);
      return valid ? allow : deny("poll.invalid_choice");
    }

    case "poll.close":
      if (!ctx.poll || !ctx.target || ctx.target.deleted) return deny("poll.not_found");
      if (ctx.poll.closed) return deny("poll.closed");
      return ctx.poll.createdBy === p.sender || isAdmin ? allow : deny("room.forbidden");

    case "event.update":
    case "event.cancel":
      if (!ctx.calendar || !ctx.target || ctx.target.deleted) return deny("event.not_found");
      if (ctx.calendar.cancelled) return deny("event.cancelled");
      return ctx.calendar.createdBy === p.sender || isAdmin ? allow : deny("room.forbidden");

    case "event.rsvp":
      if (!ctx.calendar || !ctx.target || ctx.target.deleted) return deny("event.not_found");
      return ctx.calendar.cancelled ? deny("event.cancelled") : allow;

    default:
      return deny("room.invalid");
  }
}

/**
 * What a server admin may do to any room on this server, member or not. The owner's authority is
 * the rule inside a room; the operator's is above it, because the operator answers for what the
 * server hosts (spam, abuse) and can read and change the database anyway: doing it through the
 * log keeps every member's view, the caches and the audit trail right.
 */
function authorizeServerAdmin(state: RoomState, p: Proposal, subject: string | undefined): Decision {
  switch (p.type) {
    case "room.deactivate":
      if (state.kind !== "community") return deny("room.invalid");
      return state.deactivated ? deny("room.deactivated") : allow;
    case "community.group.remove":
      return state.kind === "community" && state.groups.has(String(p.content.groupId)) ? allow : deny("room.not_found");
    case "group.community":
      return state.kind === "group" && p.content.communityId === null && state.communityId !== null ? allow : deny("room.invalid");
    case "member.remove":
      // Also in a deactivated community, so that a purged account leaves no membership behind.
      return subject !== undefined && state.members.has(subject) ? allow : deny("room.not_member");
    case "member.role": {
      // Only to name a new owner for a room whose owner the server admin just removed.
      const ownerless = ![...state.members.values()].includes("owner");
      return p.content.role === "owner" && ownerless && subject !== undefined && state.members.has(subject) ? allow : deny("room.forbidden");
    }
    default:
      return deny("room.invalid");
  }
}
