/**
 * Federation: the operator's server lists, the outbox's cursors and peers, kept ops, proposals
 * and nonces, replicas' floors, and what this server knows of other servers' rooms and people.
 */
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * Servers allowed or denied federation by the operator's CLI (`parley federation allow|deny`), on
 * top of `federation.allow` / `federation.deny` in the config.
 */
export const federationServers = sqliteTable("federation_servers", {
  server: text("server").primaryKey(),
  /** "allow" or "deny". */
  policy: text("policy").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * The federation outbox's cursors: the room log is the outbox, and this records, per destination
 * server and room, the last seq the destination acknowledged. `untilSeq`: the destination's last
 * member left at that seq; nothing after it is sent (until one of its users is a member again).
 */
export const federationCursors = sqliteTable(
  "federation_cursors",
  {
    destination: text("destination").notNull(),
    roomId: text("room_id").notNull(),
    ackedSeq: integer("acked_seq").notNull(),
    untilSeq: integer("until_seq"),
  },
  (t) => [primaryKey({ columns: [t.destination, t.roomId] })],
);

/** Delivery state per destination server (for backoff across restarts and `parley federation status`). */
export const federationPeers = sqliteTable("federation_peers", {
  server: text("server").primaryKey(),
  failures: integer("failures").notNull().default(0),
  nextAttemptAt: integer("next_attempt_at").notNull().default(0),
  lastSuccessAt: integer("last_success_at"),
  /** When the current run of failures began (null after a success): 72 h of it makes a peer dormant. */
  failingSince: integer("failing_since"),
  lastError: text("last_error"),
});

/**
 * Ops by local users (sends, edits, reactions, votes...) in rooms whose home could not be reached:
 * kept here (in order, per home) until the home answers, then the user is told the outcome (a
 * `message.outcome` push).
 */
export const federationPending = sqliteTable(
  "federation_pending",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    home: text("home").notNull(),
    sender: text("sender").notNull(),
    op: text("op").notNull(),
    params: text("params").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Sent with every proposal of this op: the home applies it once (federation_proposals). */
    proposalId: text("proposal_id"),
  },
  (t) => [index("federation_pending_home").on(t.home, t.id)],
);

/**
 * The answers this server gave to proposals that carried a `proposalId`, by origin server: the
 * same proposal again gets the same answer instead of running twice. Kept 8 days.
 */
export const federationProposals = sqliteTable(
  "federation_proposals",
  {
    origin: text("origin").notNull(),
    proposalId: text("proposal_id").notNull(),
    /**
     * JSON: `{step: value}`, the value of the op's n-th command, written in that command's own
     * transaction (proposal_id, then `proposal_id#n` for n > 0: federation/proposals.ts); or a
     * final answer written after the op, `{ok: false, code, message, details?}` (a refusal) or
     * `{ok: true, result}` (an op that queued no command).
     */
    answer: text("answer").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.origin, t.proposalId] }), index("federation_proposals_created").on(t.createdAt)],
);

/**
 * Nonces of signed requests received from other servers, kept until their signature's window
 * ends (`expires` + clock skew), so that a request replayed after a restart is still refused.
 */
export const federationNonces = sqliteTable(
  "federation_nonces",
  {
    origin: text("origin").notNull(),
    nonce: text("nonce").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.origin, t.nonce] }), index("federation_nonces_expiry").on(t.expiresAt)],
);

/**
 * Rooms hosted elsewhere that this server agreed to replicate: one of its users acted in them
 * through their home (a join, a send...). The inbox starts a replica only for these, or when the
 * batch itself names one of this server's users, so a server cannot push rooms on this one.
 */
/**
 * Replicas begun from a join snapshot (federation/inbox.ts): the snapshot's seq, and the lowest
 * seq held (`lowSeq`, every event from it on is held) with that event's `prev`, to which a page of
 * history fetched later from the home must link. `serverAcl`: the snapshot's server access list
 * (a community's), in force until a later `room.server_acl` event.
 */
export const replicaFloors = sqliteTable("replica_floors", {
  roomId: text("room_id").primaryKey(),
  snapshotSeq: integer("snapshot_seq").notNull(),
  lowSeq: integer("low_seq").notNull(),
  lowPrev: text("low_prev"),
  serverAcl: text("server_acl"),
  /** A community's groups as its join snapshot listed them (JSON array; null: not a community). */
  groups: text("groups"),
});

export const federationRooms = sqliteTable("federation_rooms", {
  roomId: text("room_id").primaryKey(),
  createdAt: integer("created_at").notNull(),
});

/**
 * Blocks of users of other servers by this server's users, still to be told to the blocked
 * person's server (federation/direct.ts): the newest state of each pair, dropped once delivered.
 * The blocked person's server needs it where it hosts the pair's chat or where they would open one.
 */
export const federationBlockNotices = sqliteTable(
  "federation_block_notices",
  {
    blocker: text("blocker").notNull(),
    blocked: text("blocked").notNull(),
    destination: text("destination").notNull(),
    /** 1: blocked; 0: unblocked. */
    on: integer("on").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.blocker, t.blocked] }), index("federation_block_notices_destination").on(t.destination)],
);

/**
 * A replicated community's groups list as its home last answered it (`community.groups`, asked on
 * a member's behalf): what the member's server shows of the groups it holds no copy of when the
 * home cannot be reached, also after a restart (federation/history.ts).
 */
export const remoteGroups = sqliteTable(
  "remote_groups",
  {
    communityId: text("community_id").notNull(),
    groupId: text("group_id").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull(),
    picture: text("picture"),
    memberCount: integer("member_count").notNull(),
    joinApproval: integer("join_approval", { mode: "boolean" }).notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.communityId, t.groupId] })],
);

/**
 * A purged account's leaves of rooms hosted elsewhere (federation/accounts.ts), kept until their
 * home answers: a purge at the command line with the server stopped, or while a home cannot be
 * reached, still leaves those rooms (at the next start, when the home wakes, or after backoff).
 */
export const federationDepartures = sqliteTable(
  "federation_departures",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: text("user_id").notNull(),
    roomId: text("room_id").notNull(),
    home: text("home").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("federation_departures_user_room").on(t.userId, t.roomId), index("federation_departures_home").on(t.home)],
);

/**
 * Profiles of users of other servers as their servers last answered (federation/profiles.ts):
 * names for people search, room.list and profile.get that survive a restart. `avatar` is only
 * the avatar the profile claims; federation/media.ts records it (media_refs) once the user's
 * server has sent bytes with that hash. Fresh for a minute after `fetched_at` for lists (people
 * search, room.list), after `asked_at` for `profile.get`: a profile fetched ahead (when the user
 * joined a room held here) may precede a change they made since, which looking at it shows.
 */
export const remoteProfiles = sqliteTable(
  "remote_profiles",
  {
    userId: text("user_id").primaryKey(),
    displayName: text("display_name").notNull(),
    about: text("about").notNull().default(""),
    avatar: text("avatar"),
    fetchedAt: integer("fetched_at").notNull(),
    /** When `profile.get` last had it from the user's server (null: only fetched for lists or ahead). */
    askedAt: integer("asked_at"),
  },
  (t) => [index("remote_profiles_avatar").on(t.avatar)],
);
