/**
 * The Drizzle schema: the one description of every table. `npm run migrations:generate` turns
 * changes here into SQL under migrations/, which start-up applies; a test fails when the two
 * disagree.
 */
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";
import { sql } from "drizzle-orm";

export const accounts = sqliteTable("accounts", {
  /** Full user id, `@alice:school.example`. */
  id: text("id").primaryKey(),
  /** The normalised localpart, unique on this server. */
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  displayName: text("display_name").notNull(),
  about: text("about").notNull().default(""),
  avatar: text("avatar"),
  isAdmin: integer("is_admin", { mode: "boolean" }).notNull().default(false),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
});

/** One device per login: it owns one session, its refresh tokens and at most one live socket. */
export const devices = sqliteTable(
  "devices",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    lastAddress: text("last_address"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("devices_user").on(t.userId), index("devices_revoked").on(t.revokedAt)],
);

/**
 * Refresh tokens are stored only as SHA-256 hashes. A used token is kept (with used_at) until it
 * expires, so that presenting it again is recognised as theft and revokes the device.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    hash: text("hash").primaryKey(),
    deviceId: text("device_id").notNull().references(() => devices.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("refresh_tokens_device").on(t.deviceId)],
);

/** Registration tokens for the invite-only policy, made by operators with the CLI. */
export const registrationTokens = sqliteTable("registration_tokens", {
  hash: text("hash").primaryKey(),
  usesLeft: integer("uses_left").notNull(),
  expiresAt: integer("expires_at"),
  createdAt: integer("created_at").notNull(),
});

/** The server's Ed25519 signing keys; retired keys stay (with validUntil) so old events verify. */
export const signingKeys = sqliteTable("signing_keys", {
  keyId: text("key_id").primaryKey(),
  publicJwk: text("public_jwk").notNull(),
  privateJwk: text("private_jwk").notNull(),
  createdAt: integer("created_at").notNull(),
  validUntil: integer("valid_until"),
});

/** Server-local secrets, such as the key that signs access tokens. */
export const secrets = sqliteTable("secrets", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  createdAt: integer("created_at").notNull(),
});

// ---------------------------------------------------------------------------------------------
// Rooms: every community and every group is a room with one ordered log (room_events). All other
// room tables are projections of that log, written in the same transaction as the append.

/** The log. `pos` orders all events of this server (the sync stream); `seq` orders one room. */
export const roomEvents = sqliteTable(
  "room_events",
  {
    pos: integer("pos").primaryKey({ autoIncrement: true }),
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    eventId: text("event_id").notNull().unique(),
    type: text("type").notNull(),
    sender: text("sender").notNull(),
    ts: integer("ts").notNull(),
    content: text("content").notNull(),
    /** For events only admins and their subject may see (announcement-group membership). */
    subject: text("subject"),
    restricted: integer("restricted", { mode: "boolean" }).notNull().default(false),
    /** The sender's client transaction id, so a retried send is stored once. */
    txnId: text("txn_id"),
    /** base64url SHA-256 of the canonical content (kept when the content is redacted). */
    contentHash: text("content_hash"),
    /** base64url SHA-256 of the event's skeleton, `prev` included: the hash chain (rooms/hash.ts). */
    hash: text("hash"),
    /**
     * On a replica: an event of the room's history fetched from its home after the replica began
     * (backfill on demand). It is history, not news: the sync stream never hands it out.
     */
    backfilled: integer("backfilled", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [
    uniqueIndex("room_events_room_seq").on(t.roomId, t.seq),
    // Partial: most events have no txnId (replicated ones, the server's own) and messages no
    // subject, so neither index takes an entry for them (a B-tree insert less per event); the
    // queries that use them (`txn_id = ?`, `subject = ?`) imply IS NOT NULL.
    uniqueIndex("room_events_txn").on(t.roomId, t.sender, t.txnId).where(sql`${t.txnId} IS NOT NULL`),
    index("room_events_room_pos").on(t.roomId, t.pos),
    index("room_events_subject").on(t.subject, t.pos).where(sql`${t.subject} IS NOT NULL`),
  ],
);

export const rooms = sqliteTable("rooms", {
  id: text("id").primaryKey(),
  kind: text("kind", { enum: ["community", "group", "direct"] }).notNull(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  picture: text("picture"),
  rules: text("rules").notNull().default(""),
  /** For a group linked to a community: the community's room id. */
  communityId: text("community_id"),
  settings: text("settings").notNull(),
  deactivated: integer("deactivated", { mode: "boolean" }).notNull().default(false),
  createdBy: text("created_by").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const roomMembers = sqliteTable(
  "room_members",
  {
    roomId: text("room_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    joinedAt: integer("joined_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("room_members_user").on(t.userId)],
);

/** When each user was in each room, in stream positions: what sync may show them. */
export const memberSpans = sqliteTable(
  "member_spans",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    roomId: text("room_id").notNull(),
    userId: text("user_id").notNull(),
    fromPos: integer("from_pos").notNull(),
    toPos: integer("to_pos"),
    /**
     * The seq from which the member reads the room, when their join is not an event this server
     * holds (a replica begun from a join snapshot); otherwise the seq of the event at `fromPos`.
     */
    fromSeq: integer("from_seq"),
  },
  (t) => [index("member_spans_user").on(t.userId, t.toPos), index("member_spans_room_user").on(t.roomId, t.userId, t.toPos)],
);

export const roomBans = sqliteTable(
  "room_bans",
  { roomId: text("room_id").notNull(), userId: text("user_id").notNull(), bannedBy: text("banned_by").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const joinRequests = sqliteTable(
  "join_requests",
  { roomId: text("room_id").notNull(), userId: text("user_id").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const roomInvites = sqliteTable(
  "room_invites",
  { roomId: text("room_id").notNull(), userId: text("user_id").notNull(), invitedBy: text("invited_by").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("room_invites_user").on(t.userId)],
);

export const messages = sqliteTable(
  "messages",
  {
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    eventId: text("event_id").notNull(),
    sender: text("sender").notNull(),
    /** text, file, poll or event. */
    kind: text("kind").notNull().default("text"),
    body: text("body"),
    /** For a file: its metadata as sent (JSON). */
    file: text("file"),
    replyTo: integer("reply_to"),
    /**
     * For a private reply: a snapshot (JSON) of the quoted message of another room, copied when
     * the reply was sent, so that the other person sees it without being in that room.
     */
    quote: text("quote"),
    /** In the announcement group: the announcement a member's reply belongs under. */
    threadRoot: integer("thread_root"),
    replyCount: integer("reply_count").notNull().default(0),
    ts: integer("ts").notNull(),
    editedAt: integer("edited_at"),
    deletedAt: integer("deleted_at"),
    deletedBy: text("deleted_by"),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] }), index("messages_thread").on(t.roomId, t.threadRoot, t.seq)],
);

/**
 * Direct chats: the one direct room of each pair of users, `userA` < `userB`. The primary key is
 * what makes two concurrent opens (from both sides) end in one room: the second insert fails
 * inside its own transaction, which then finds the first one's room.
 */
/**
 * How far the search index (messages_fts) has caught up with the log: every message of an event
 * up to `indexedPos` (room_events.pos) is indexed; later ones wait for the store's next indexing
 * batch (server/rooms/store.ts, "The search index"). One row.
 */
export const searchIndexState = sqliteTable("search_index_state", {
  id: integer("id").primaryKey(),
  indexedPos: integer("indexed_pos").notNull(),
});

export const directChats = sqliteTable(
  "direct_chats",
  {
    userA: text("user_a").notNull(),
    userB: text("user_b").notNull(),
    roomId: text("room_id").notNull().unique(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userA, t.userB] })],
);

/** Who blocked whom: private to the blocker, kept outside every room's log. */
export const userBlocks = sqliteTable(
  "user_blocks",
  { blocker: text("blocker").notNull(), blocked: text("blocked").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.blocker, t.blocked] })],
);

export const reactions = sqliteTable(
  "reactions",
  { roomId: text("room_id").notNull(), target: integer("target").notNull(), userId: text("user_id").notNull(), emoji: text("emoji").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.target, t.userId] })],
);

export const readMarkers = sqliteTable(
  "read_markers",
  { roomId: text("room_id").notNull(), userId: text("user_id").notNull(), seq: integer("seq").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("read_markers_room_seq").on(t.roomId, t.seq)],
);

/** Delivery markers: up to which seq each member's devices have received a room's events. */
export const deliveryMarkers = sqliteTable(
  "delivery_markers",
  { roomId: text("room_id").notNull(), userId: text("user_id").notNull(), seq: integer("seq").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("delivery_markers_room_seq").on(t.roomId, t.seq)],
);

/** Delete-for-me: messages a user hid from their own view. */
export const hiddenMessages = sqliteTable(
  "hidden_messages",
  { userId: text("user_id").notNull(), roomId: text("room_id").notNull(), seq: integer("seq").notNull() },
  (t) => [primaryKey({ columns: [t.userId, t.roomId, t.seq] })],
);

export const inviteLinks = sqliteTable(
  "invite_links",
  {
    id: text("id").primaryKey(),
    token: text("token").notNull().unique(),
    roomId: text("room_id").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    maxUses: integer("max_uses"),
    uses: integer("uses").notNull().default(0),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("invite_links_room").on(t.roomId)],
);

/** Every admin action, per community (or standalone group), for the admins to page through. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scopeId: text("scope_id").notNull(),
    roomId: text("room_id").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    details: text("details").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("audit_log_scope").on(t.scopeId, t.id)],
);

// ---------------------------------------------------------------------------------------------
// Media: content-addressed files (SHA-256), who uploaded them, and what references them.

export const media = sqliteTable("media", {
  /** The SHA-256 of the bytes, hex: the same file is stored once. */
  id: text("id").primaryKey(),
  size: integer("size").notNull(),
  /** Sniffed from the bytes, never taken from the client. */
  mime: text("mime").notNull(),
  width: integer("width"),
  height: integer("height"),
  hasPreview: integer("has_preview", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
});

/** Who uploaded what (for quotas and for the uploader's own access). */
export const uploads = sqliteTable(
  "uploads",
  {
    userId: text("user_id").notNull(),
    mediaId: text("media_id").notNull(),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.mediaId] }), index("uploads_media").on(t.mediaId)],
);

/**
 * What keeps a file alive and who may fetch it: a message in a room (members of the room), a
 * room's picture (members), a user's avatar (any signed-in user).
 */
export const mediaRefs = sqliteTable(
  "media_refs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    mediaId: text("media_id").notNull(),
    kind: text("kind", { enum: ["message", "room", "avatar"] }).notNull(),
    roomId: text("room_id"),
    seq: integer("seq"),
    userId: text("user_id"),
  },
  (t) => [index("media_refs_media").on(t.mediaId), index("media_refs_room").on(t.roomId, t.seq), index("media_refs_user").on(t.userId)],
);

// ---------------------------------------------------------------------------------------------
// Polls and calendar events: both are messages in a room's log; their answers are events too,
// and these tables are their projections. Anonymous poll votes are the one exception: who voted
// for what must never be readable through the log, so the vote rows live only here.

export const polls = sqliteTable(
  "polls",
  {
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    question: text("question").notNull(),
    options: text("options").notNull(),
    multiple: integer("multiple", { mode: "boolean" }).notNull(),
    anonymous: integer("anonymous", { mode: "boolean" }).notNull(),
    createdBy: text("created_by").notNull(),
    closedAt: integer("closed_at"),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

export const pollVotes = sqliteTable(
  "poll_votes",
  {
    roomId: text("room_id").notNull(),
    pollSeq: integer("poll_seq").notNull(),
    userId: text("user_id").notNull(),
    options: text("options").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.pollSeq, t.userId] })],
);

export const calendarEvents = sqliteTable(
  "calendar_events",
  {
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull(),
    startsAt: integer("starts_at").notNull(),
    endsAt: integer("ends_at"),
    timeZone: text("time_zone").notNull(),
    place: text("place"),
    link: text("link"),
    reminders: text("reminders").notNull(),
    createdBy: text("created_by").notNull(),
    cancelledAt: integer("cancelled_at"),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

export const rsvps = sqliteTable(
  "rsvps",
  {
    roomId: text("room_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    userId: text("user_id").notNull(),
    answer: text("answer", { enum: ["going", "maybe", "not_going"] }).notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.eventSeq, t.userId] })],
);

/** The durable reminder schedule. `doneAt` is set before the push, so none is sent twice. */
export const reminders = sqliteTable(
  "reminders",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    roomId: text("room_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    offsetSeconds: integer("offset_seconds").notNull(),
    dueAt: integer("due_at").notNull(),
    doneAt: integer("done_at"),
    outcome: text("outcome", { enum: ["sent", "skipped"] }),
  },
  (t) => [index("reminders_due").on(t.doneAt, t.dueAt), index("reminders_event").on(t.roomId, t.eventSeq)],
);

/**
 * Pushes kept for users who were offline when they were due (a reminder that fell due while they
 * were away, or at start-up before anyone reconnected): delivered on their next authentication,
 * unless they expired first.
 */
export const pendingPushes = sqliteTable(
  "pending_pushes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: text("user_id").notNull(),
    frame: text("frame").notNull(),
    expiresAt: integer("expires_at").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("pending_pushes_user").on(t.userId)],
);

// ---------------------------------------------------------------------------------------------
// Operations: what the server's admins (and the operator at the command line) did.

/**
 * The audit log of server-admin actions: disabling or purging an account, granting the admin
 * flag, revoking registration tokens, deactivating a community. `actor` is the admin's user id,
 * or `cli:<os user>` for the operator at the command line; `details` is JSON.
 */
export const serverAudit = sqliteTable("server_audit", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  actor: text("actor").notNull(),
  action: text("action").notNull(),
  target: text("target"),
  details: text("details").notNull(),
  at: integer("at").notNull(),
});
// Mentions, notification settings, pinned and saved messages, reports, Web Push.

/**
 * Who each message mentions (projected from the `mentions` and `mentionAll` of message events);
 * `@all` stands for a mention of everyone. Feeds the mention count of the room list.
 */
export const messageMentions = sqliteTable(
  "message_mentions",
  { roomId: text("room_id").notNull(), seq: integer("seq").notNull(), userId: text("user_id").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.userId, t.seq] })],
);

/** Each user's private settings of a room: notification level, mute, pinned to the top, archived. */
export const roomPrefs = sqliteTable(
  "room_prefs",
  {
    userId: text("user_id").notNull(),
    roomId: text("room_id").notNull(),
    level: text("level", { enum: ["all", "mentions", "none"] }).notNull().default("all"),
    /** Muted until this time (ms); null: not muted for a time. */
    mutedUntil: integer("muted_until"),
    pinnedAt: integer("pinned_at"),
    archivedAt: integer("archived_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roomId] })],
);

/** A room's pinned messages: a projection of message.pin / message.unpin (room state). */
export const pinnedMessages = sqliteTable(
  "pinned_messages",
  { roomId: text("room_id").notNull(), seq: integer("seq").notNull(), pinnedBy: text("pinned_by").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

/** Saved (starred) messages, private to each user; kept beside the log. */
export const savedMessages = sqliteTable(
  "saved_messages",
  { userId: text("user_id").notNull(), roomId: text("room_id").notNull(), seq: integer("seq").notNull(), at: integer("at").notNull() },
  (t) => [primaryKey({ columns: [t.userId, t.roomId, t.seq] }), index("saved_messages_user_at").on(t.userId, t.at)],
);

/** The moderation queue: reports of a message or a person to the admins of a scope. */
export const reports = sqliteTable(
  "reports",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** The community, or the standalone group, whose admins handle it (the audit scope). */
    scopeId: text("scope_id").notNull(),
    roomId: text("room_id").notNull(),
    /** The reported message, or null for a report of a person. */
    seq: integer("seq"),
    targetUser: text("target_user").notNull(),
    reporter: text("reporter").notNull(),
    reason: text("reason").notNull(),
    /** The reported message as it was when reported (JSON), so that a later deletion keeps the evidence. */
    snapshot: text("snapshot"),
    status: text("status", { enum: ["open", "resolved"] }).notNull().default("open"),
    action: text("action", { enum: ["dismiss", "delete", "remove", "ban"] }),
    resolvedBy: text("resolved_by"),
    resolvedAt: integer("resolved_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("reports_scope_status").on(t.scopeId, t.status, t.id), index("reports_reporter").on(t.reporter, t.id)],
);

/** Web Push subscriptions, one per browser (endpoint), each tied to the device that made it. */
export const pushSubscriptions = sqliteTable(
  "push_subscriptions",
  {
    endpoint: text("endpoint").primaryKey(),
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    p256dh: text("p256dh").notNull(),
    auth: text("auth").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("push_subscriptions_user").on(t.userId), index("push_subscriptions_device").on(t.deviceId)],
);
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
