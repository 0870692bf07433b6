/**
 * Media: content-addressed files (SHA-256), who uploaded them, and what references them.
 */
import { sqliteTable, text, integer, index, primaryKey } from "drizzle-orm/sqlite-core";

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
