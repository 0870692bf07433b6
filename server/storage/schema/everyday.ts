/**
 * Operations (what the server's admins, and the operator at the command line, did), and the
 * everyday features: mentions, notification settings, pinned and saved messages, reports, Web
 * Push.
 */
import { sqliteTable, text, integer, index, primaryKey } from "drizzle-orm/sqlite-core";

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
