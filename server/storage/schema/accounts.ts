/**
 * Accounts, devices and their tokens, registration tokens, the server's signing keys and
 * secrets.
 */
import { sqliteTable, text, integer, index } from "drizzle-orm/sqlite-core";

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
