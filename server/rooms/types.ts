/** The vocabulary of rooms: roles, settings, events and the in-memory state they project to. */
import { isIpLiteral } from "../names.ts";

export type Role = "owner" | "admin" | "member";
/** A direct room is a one-to-one chat: two members, no community, no admins. */
export type RoomKind = "community" | "group" | "direct";

/**
 * A room's settings: the wire type generated from protocol/common.json (RoomSettings), so that
 * the schema stays the one description of what each setting means.
 */
export type { RoomSettings } from "../../clients/sdk/protocol.gen.ts";
import type { RoomSettings } from "../../clients/sdk/protocol.gen.ts";

export const defaultGroupSettings: RoomSettings = {
  sendPolicy: "all",
  editInfoPolicy: "admins",
  addMembersPolicy: "admins",
  joinApproval: false,
  announcementReplies: true,
};

export const defaultCommunitySettings: RoomSettings = {
  sendPolicy: "admins",
  editInfoPolicy: "admins",
  addMembersPolicy: "admins",
  joinApproval: false,
  announcementReplies: true,
};

/**
 * A direct chat's settings: fixed (no op changes them, since a direct room takes no
 * `room.settings`); both members are plain members and may send.
 */
export const directSettings: RoomSettings = {
  sendPolicy: "all",
  editInfoPolicy: "admins",
  addMembersPolicy: "admins",
  joinApproval: false,
  announcementReplies: false,
};

/** What every kind of event carries; `content` depends on `type`. */
export interface RoomEvent {
  roomId: string;
  seq: number;
  eventId: string;
  type: EventType;
  sender: string;
  ts: number;
  content: Record<string, unknown>;
  /** Position in this server's stream; the sync token is the last one a client saw. */
  pos: number;
}

export type EventType =
  | "room.create"
  | "room.profile"
  | "room.settings"
  | "room.deactivate"
  | "room.server_acl"
  | "room.tombstone"
  | "community.group.add"
  | "community.group.remove"
  | "group.community"
  | "member.join"
  | "member.leave"
  | "member.remove"
  | "member.ban"
  | "member.unban"
  | "member.role"
  | "member.invite"
  | "member.invite.decline"
  | "join.request"
  | "join.request.cancel"
  | "join.reject"
  | "message"
  | "message.edit"
  | "message.delete"
  | "reaction"
  | "poll.vote"
  | "poll.tally"
  | "poll.close"
  | "event.update"
  | "event.cancel"
  | "event.rsvp"
  // pinned messages (notify-moderation)
  | "message.pin"
  | "message.unpin";

/** The current state of a room: a projection of its log, cached in memory by the core. */
export interface RoomState {
  id: string;
  kind: RoomKind;
  name: string;
  description: string;
  picture: string | null;
  rules: string;
  /** For a group: the community it is linked to, if any. */
  communityId: string | null;
  /** For a community: its linked groups. */
  groups: Set<string>;
  settings: RoomSettings;
  members: Map<string, Role>;
  bans: Set<string>;
  requests: Set<string>;
  invites: Set<string>;
  seq: number;
  deactivated: boolean;
  createdBy: string;
  createdAt: number;
  /** Count of admins and owner, kept so the admin cap is O(1). */
  adminCount: number;
  /** The pinned messages' seqs, oldest pin first. */
  pinned: number[];
  /**
   * For a community: its server access list (the last `room.server_acl`), which also governs its
   * linked groups. Absent or null: every server this server federates with.
   */
  serverAcl?: ServerAcl | null;
  /**
   * The room that replaces this one (its last `room.tombstone`): a pair's second direct room,
   * closed by its home once it learned of the pair's chat. Such a room takes no new messages.
   */
  replacedBy?: string | null;
  /** The hash of the room's last event (the next event's `prev`); null before the first hashed event. */
  head: string | null;
}

/** How many messages a room may have pinned at once (as WhatsApp: three). */
export const maxPinnedMessages = 3;

export const isAdminRole = (role: Role | undefined): boolean => role === "owner" || role === "admin";

/** A proposed event before the core sequences it. */
export interface Proposal {
  roomId: string;
  type: EventType;
  sender: string;
  content: Record<string, unknown>;
  txnId?: string;
}

export interface RoomLimits {
  groupsPerCommunity: number;
  membersPerGroup: number;
  membersPerCommunity: number;
  adminsPerCommunity: number;
  messageChars: number;
  deleteWindowMs: number;
}

/**
 * A community's server access list (as Matrix's m.room.server_acl): `allow` absent means every
 * server; otherwise only servers matching one of its entries. `deny` entries win over `allow`.
 * Entries are server names, with `*` (any run of characters) and `?` (one character) as wildcards.
 * `allowIpLiterals: false` (Matrix's `allow_ip_literals`) also refuses every server named by an IP
 * literal (IPv4, or bracketed IPv6, with or without a port); absent, they are judged by the lists
 * like any name.
 */
export interface ServerAcl {
  allow?: string[];
  deny: string[];
  allowIpLiterals?: false;
}

/** Whether a server name is an IP literal (server/names.ts, where server names are parsed). */
export { isIpLiteral };

const globCache = new Map<string, RegExp>();
function matchesGlob(glob: string, server: string): boolean {
  let re = globCache.get(glob);
  if (!re) {
    re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
    if (globCache.size > 1000) globCache.clear();
    globCache.set(glob, re);
  }
  return re.test(server);
}

/** Whether `acl` refuses users of `server` (a pure rule: the room core and the outbox both ask it). */
export function aclDenies(acl: ServerAcl | null | undefined, server: string): boolean {
  if (!acl) return false;
  if (acl.allowIpLiterals === false && isIpLiteral(server)) return true;
  if (acl.deny.some((g) => matchesGlob(g, server))) return true;
  return acl.allow !== undefined && !acl.allow.some((g) => matchesGlob(g, server));
}
