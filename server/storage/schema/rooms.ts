/**
 * Rooms: every community and every group is a room with one ordered log (room_events). All other
 * room tables are projections of that log, written in the same transaction as the append.
 */
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";
import { sql } from "drizzle-orm";

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
