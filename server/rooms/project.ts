import type { RoomStore } from "./store.ts";
import { isAdminRole, type Role, type RoomEvent, type RoomSettings, type RoomState } from "./types.ts";

/** Event types that are admin actions and go to the audit log. */
const auditedTypes = new Set([
  "member.remove",
  "member.ban",
  "member.unban",
  "member.role",
  "member.invite",
  "join.reject",
  "room.settings",
  "room.profile",
  "room.deactivate",
  "room.server_acl",
  "community.group.add",
  "community.group.remove",
  "poll.close",
  "event.update",
  "event.cancel",
  "message.pin",
  "message.unpin",
]);

/**
 * The event types that change what a message shows (its text, edits, deletion, reactions, votes,
 * answers): the only ones a replica projects for history it stores below its join snapshot.
 */
const historyTypes = new Set(["message", "message.edit", "message.delete", "reaction", "poll.vote", "poll.close", "event.update", "event.cancel", "event.rsvp"]);

/**
 * Applies one sequenced event to the room's projections, both the tables (inside the caller's
 * transaction) and the cached state. The only place state changes; replaying a room's log
 * through it rebuilds every projection.
 *
 * `history`: the event is older than the state already held (a replica begun from a join
 * snapshot, storing the snapshot's last events or a page fetched later from the home): only the
 * message projections take it (messages, edits, deletions, reactions, votes, answers); the room's
 * state (members, settings, pins...) and the audit log already are as of the snapshot.
 */
export function projectEvent(store: RoomStore, state: RoomState, e: RoomEvent, history = false): void {
  const c = e.content as Record<string, any>;
  const subject: string | undefined = typeof c.userId === "string" ? c.userId : undefined;
  if (history) {
    if (!historyTypes.has(e.type)) return;
  } else state.seq = e.seq;
  switch (e.type) {
    case "member.join": {
      const role: Role = c.role ?? "member";
      // The creator sees the room from its first event: createRoom appends room.create and this
      // join back to back in one transaction, so room.create's position is the one before.
      store.addMember(state.id, subject!, role, e.ts, c.via === "create" ? e.pos - 1 : e.pos);
      state.members.set(subject!, role);
      if (role !== "member") state.adminCount++;
      state.invites.delete(subject!);
      state.requests.delete(subject!);
      if (c.via === "approval") store.audit(scopeOf(state), state.id, e.sender, "join.approve", subject!, {}, e.ts);
      // The pair's one direct room, on replicas too (a chat hosted on the other person's server
      // is the one direct.open finds here). Of two made at once on both servers, the one whose
      // id sorts first is kept (store.insertDirect).
      if (c.via === "direct") store.insertDirect(e.sender, subject!, state.id, e.ts);
      break;
    }
    case "member.leave":
    case "member.remove":
    case "member.ban": {
      if (state.members.has(subject!)) {
        if (isAdminRole(state.members.get(subject!))) state.adminCount--;
        store.removeMember(state.id, subject!, e.pos);
        state.members.delete(subject!);
      }
      if (e.type === "member.ban") {
        store.addBan(state.id, subject!, e.sender, e.ts);
        state.bans.add(subject!);
        state.requests.delete(subject!);
        state.invites.delete(subject!);
      }
      break;
    }
    case "member.unban":
      store.removeBan(state.id, subject!);
      state.bans.delete(subject!);
      break;
    case "member.role": {
      const previous = state.members.get(subject!)!;
      const role = c.role as Role;
      if (role === "owner" && state.members.get(e.sender) === "owner") {
        // Transfer: the old owner stays on as an admin. (A cascade that names a new owner for
        // an ownerless group has a sender who is no owner, and demotes no one.)
        store.setRole(state.id, e.sender, "admin");
        state.members.set(e.sender, "admin");
      }
      store.setRole(state.id, subject!, role);
      state.members.set(subject!, role);
      if (!isAdminRole(previous) && isAdminRole(role)) state.adminCount++;
      if (isAdminRole(previous) && !isAdminRole(role)) state.adminCount--;
      break;
    }
    case "member.invite":
      store.addInvite(state.id, subject!, e.sender, e.ts);
      state.invites.add(subject!);
      break;
    case "member.invite.decline":
      store.removeInvite(state.id, subject!);
      state.invites.delete(subject!);
      break;
    case "join.request":
      store.addRequest(state.id, subject!, e.ts);
      state.requests.add(subject!);
      break;
    case "join.request.cancel":
    case "join.reject":
      store.removeRequest(state.id, subject!);
      state.requests.delete(subject!);
      break;
    case "room.profile":
      for (const key of ["name", "description", "picture", "rules"] as const) if (c[key] !== undefined) (state as any)[key] = c[key];
      store.updateProfile(state);
      if (c.picture !== undefined) store.setRoomPicture(state.id, c.picture);
      break;
    case "room.settings":
      state.settings = { ...state.settings, ...(c as Partial<RoomSettings>) };
      store.updateSettings(state);
      break;
    case "room.deactivate":
      state.deactivated = true;
      store.deactivate(state.id);
      break;
    case "room.tombstone":
      state.replacedBy = c.replacement;
      break;
    case "room.server_acl":
      state.serverAcl = { ...(Array.isArray(c.allow) ? { allow: c.allow as string[] } : {}), deny: c.deny as string[], ...(c.allowIpLiterals === false ? { allowIpLiterals: false as const } : {}) };
      break;
    case "community.group.add":
      state.groups.add(c.groupId);
      break;
    case "community.group.remove":
      state.groups.delete(c.groupId);
      break;
    case "group.community":
      state.communityId = c.communityId ?? null;
      store.setCommunity(state.id, state.communityId);
      break;
    case "message":
      store.insertMessage(e);
      if (Array.isArray(c.mentions) || c.mentionAll === true) store.addMentions(state.id, e.seq, [...(c.mentions ?? []), ...(c.mentionAll === true ? ["@all"] : [])]);
      if (c.kind === "file") store.addMessageMedia(c.file.mediaId, state.id, e.seq);
      else if (c.kind === "poll") store.insertPoll(state.id, e.seq, c as never, e.sender);
      else if (c.kind === "event") {
        store.insertCalendarEvent(state.id, e.seq, c as never, e.sender);
        store.scheduleReminders(state.id, e.seq, c.start, c.reminders ?? [3600]);
      }
      break;
    case "poll.vote":
      store.setVote(state.id, c.poll, e.sender, c.options, e.ts);
      break;
    case "poll.close":
      store.closePoll(state.id, c.poll, e.ts);
      break;
    case "poll.tally":
      // Anonymous polls: the vote itself was recorded outside the log (see polls service).
      break;
    case "event.update": {
      const current = store.findCalendarEvent(state.id, c.target);
      // A replica begun from a snapshot may not hold the event yet: applied when it arrives.
      if (!current) break;
      const merged = {
        title: c.title ?? current.title,
        description: c.description ?? current.description,
        start: c.start ?? current.starts_at,
        end: c.end !== undefined ? c.end : current.ends_at,
        timeZone: c.timeZone ?? current.time_zone,
        place: c.place !== undefined ? c.place : current.place,
        link: c.link !== undefined ? c.link : current.link,
        reminders: c.reminders ?? (JSON.parse(current.reminders) as number[]),
      };
      store.updateCalendarEvent(state.id, c.target, merged);
      if (c.start !== undefined || c.reminders !== undefined) store.scheduleReminders(state.id, c.target, merged.start, merged.reminders);
      break;
    }
    case "event.cancel":
      store.cancelCalendarEvent(state.id, c.target, e.ts);
      store.scheduleReminders(state.id, c.target, null, []);
      break;
    case "event.rsvp":
      store.setRsvp(state.id, c.target, e.sender, c.answer ?? null, e.ts);
      break;
    case "message.edit":
      store.editMessage(state.id, c.target, c.body, e.ts);
      break;
    case "message.delete":
      store.deleteMessage(state.id, c.target, e.ts, e.sender);
      store.redactMessage(state.id, c.target);
      // A file shared only by this message becomes collectable; a deleted event reminds no one.
      store.dropMessageMedia(state.id, c.target);
      store.scheduleReminders(state.id, c.target, null, []);
      // A message deleted for everyone is no longer pinned.
      if (!history && state.pinned.includes(c.target)) {
        state.pinned = state.pinned.filter((s) => s !== c.target);
        store.unpinMessage(state.id, c.target);
      }
      break;
    case "message.pin":
      state.pinned = [...state.pinned, c.target];
      store.pinMessage(state.id, c.target, e.sender, e.ts);
      break;
    case "message.unpin":
      state.pinned = state.pinned.filter((s) => s !== c.target);
      store.unpinMessage(state.id, c.target);
      break;
    case "reaction":
      store.setReaction(state.id, c.target, e.sender, c.emoji ?? null, e.ts);
      break;
    case "room.create":
      if (c.picture) store.setRoomPicture(state.id, c.picture);
      break;
  }
  if (history) return;
  if (auditedTypes.has(e.type) || (e.type === "message.delete" && c.bySender === false)) {
    store.audit(scopeOf(state), state.id, e.sender, e.type === "message.delete" ? "message.delete" : e.type, subject ?? (c.groupId as string | undefined) ?? null, auditDetails(e), e.ts);
  }
}

function auditDetails(e: RoomEvent): Record<string, unknown> {
  const { userId: _u, ...rest } = e.content;
  return { ...rest, seq: e.seq };
}

/** The audit scope: a community and its groups share one log; a standalone group has its own. */
export function scopeOf(state: RoomState): string {
  return state.kind === "community" ? state.id : (state.communityId ?? state.id);
}

/**
 * Which events only the room's admins (and the event's subject and sender) may see. In the
 * announcement group (the community room) members must not learn the member list, so every
 * membership change, poll vote and RSVP there is restricted; join requests and rejections are
 * admin business everywhere.
 */
export function isRestricted(state: RoomState, type: string): boolean {
  if (type === "join.request" || type === "join.request.cancel" || type === "join.reject") return true;
  if (state.kind !== "community") return false;
  // A vote, an answer or a reaction names its sender: seen by every member, it would tell them
  // who else is in the announcement group (members get poll tallies from the server instead,
  // and reaction counts in message views).
  return type.startsWith("member.") || type === "poll.vote" || type === "event.rsvp" || type === "reaction";
}
