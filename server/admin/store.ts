import type { Storage } from "../storage/database.ts";

export interface UserListRow {
  userId: string;
  username: string;
  displayName: string;
  isAdmin: boolean;
  disabled: boolean;
  createdAt: number;
  devices: number;
  rooms: number;
}

export interface AuditRow {
  id: number;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: number;
}

export interface RegistrationTokenRow {
  id: string;
  usesLeft: number;
  expiresAt: number | null;
  createdAt: number;
}

export interface CommunityListRow {
  roomId: string;
  name: string;
  createdBy: string;
  createdAt: number;
  deactivated: boolean;
  members: number;
  groups: number;
  eventBytes: number;
  mediaBytes: number;
}

/** How much of a registration token's hash names it in lists (48 bits: unique in practice). */
export const tokenIdLength = 12;

/** A LIKE pattern that matches `text` anywhere, with LIKE's own wildcards escaped. */
function containing(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * All SQL of the server-admin area: lists across the whole server (accounts, communities,
 * registration tokens) and the server's audit log. Nothing here is on a hot path.
 */
export function createAdminStore(storage: Storage) {
  const { sqlite } = storage;
  const insertAudit = sqlite.prepare("INSERT INTO server_audit (actor, action, target, details, at) VALUES (?, ?, ?, ?, ?)");

  return {
    /** Runs fn in the server's write transaction (a savepoint inside the room core's). */
    write<T>(fn: () => T): T {
      return storage.write(fn);
    },

    listUsers(query: string, limit: number, offset: number): UserListRow[] {
      const rows = sqlite
        .prepare(
          `SELECT a.id, a.username, a.display_name, a.is_admin, a.disabled, a.created_at,
             (SELECT count(*) FROM devices d WHERE d.user_id = a.id AND d.revoked_at IS NULL) AS devices,
             (SELECT count(*) FROM room_members m WHERE m.user_id = a.id) AS rooms
           FROM accounts a
           WHERE ? = '' OR a.username LIKE ? ESCAPE '\\' OR a.display_name LIKE ? ESCAPE '\\'
           ORDER BY a.username LIMIT ? OFFSET ?`,
        )
        .all(query, containing(query.toLowerCase()), containing(query), limit, offset) as Record<string, any>[];
      return rows.map((r) => ({
        userId: r.id,
        username: r.username,
        displayName: r.display_name,
        isAdmin: r.is_admin === 1,
        disabled: r.disabled === 1,
        createdAt: r.created_at,
        devices: r.devices,
        rooms: r.rooms,
      }));
    },

    /** Every device that has not been revoked. */
    devicesOf(userId: string): { deviceId: string; name: string; createdAt: number; lastSeenAt: number; lastAddress: string | null }[] {
      return sqlite
        .prepare("SELECT id AS deviceId, name, created_at AS createdAt, last_seen_at AS lastSeenAt, last_address AS lastAddress FROM devices WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at")
        .all(userId) as never;
    },

    /** The rooms a user is in, with their role: communities first, then groups. */
    roomsOf(userId: string): { roomId: string; kind: "community" | "group"; name: string; role: "owner" | "admin" | "member"; communityId: string | null; deactivated: boolean }[] {
      const rows = sqlite
        .prepare(
          `SELECT r.id, r.kind, r.name, m.role, r.community_id, r.deactivated FROM room_members m JOIN rooms r ON r.id = m.room_id
           WHERE m.user_id = ? ORDER BY r.kind, r.name, r.id`,
        )
        .all(userId) as Record<string, any>[];
      return rows.map((r) => ({ roomId: r.id, kind: r.kind, name: r.name, role: r.role, communityId: r.community_id, deactivated: r.deactivated === 1 }));
    },

    listRegistrationTokens(): RegistrationTokenRow[] {
      const rows = sqlite.prepare("SELECT hash, uses_left, expires_at, created_at FROM registration_tokens ORDER BY created_at, hash").all() as Record<string, any>[];
      return rows.map((r) => ({ id: r.hash.slice(0, tokenIdLength), usesLeft: r.uses_left, expiresAt: r.expires_at, createdAt: r.created_at }));
    },

    /** Deletes the registration token named by `id` (the start of its hash); false if none. */
    deleteRegistrationToken(id: string): boolean {
      if (!/^[0-9a-f]+$/.test(id) || id.length !== tokenIdLength) return false;
      return sqlite.prepare("DELETE FROM registration_tokens WHERE substr(hash, 1, ?) = ?").run(tokenIdLength, id).changes > 0;
    },

    /**
     * Communities with their member and group counts and what they take on disk: the bytes of
     * the logs of the community and its linked groups, and of the distinct files shared in them.
     */
    listCommunities(query: string, limit: number, offset: number): CommunityListRow[] {
      const rows = sqlite
        .prepare(
          `WITH c AS (
             SELECT id, name, created_by, created_at, deactivated FROM rooms
             WHERE kind = 'community' AND (? = '' OR name LIKE ? ESCAPE '\\')
             ORDER BY name, id LIMIT ? OFFSET ?
           ), scope AS (
             SELECT c.id AS community, c.id AS room FROM c
             UNION ALL SELECT r.community_id, r.id FROM rooms r JOIN c ON r.community_id = c.id
           )
           SELECT c.id, c.name, c.created_by, c.created_at, c.deactivated,
             (SELECT count(*) FROM room_members m WHERE m.room_id = c.id) AS members,
             (SELECT count(*) FROM scope s WHERE s.community = c.id) - 1 AS groups,
             (SELECT coalesce(sum(length(CAST(e.content AS BLOB))), 0) FROM room_events e WHERE e.room_id IN (SELECT room FROM scope s WHERE s.community = c.id)) AS event_bytes,
             (SELECT coalesce(sum(f.size), 0) FROM media f WHERE f.id IN (
                SELECT media_id FROM media_refs WHERE room_id IN (SELECT room FROM scope s WHERE s.community = c.id))) AS media_bytes
           FROM c ORDER BY c.name, c.id`,
        )
        .all(query, containing(query), limit, offset) as Record<string, any>[];
      return rows.map((r) => ({
        roomId: r.id,
        name: r.name,
        createdBy: r.created_by,
        createdAt: r.created_at,
        deactivated: r.deactivated === 1,
        members: r.members,
        groups: r.groups,
        eventBytes: r.event_bytes,
        mediaBytes: r.media_bytes,
      }));
    },

    audit(actor: string, action: string, target: string | null, details: Record<string, unknown>, at: number): void {
      insertAudit.run(actor, action, target, JSON.stringify(details), at);
    },

    listAudit(before: number, limit: number): AuditRow[] {
      const rows = sqlite.prepare("SELECT id, actor, action, target, details, at FROM server_audit WHERE id < ? ORDER BY id DESC LIMIT ?").all(before, limit) as Record<string, any>[];
      return rows.map((r) => ({ id: r.id, actor: r.actor, action: r.action, target: r.target, details: JSON.parse(r.details), at: r.at }));
    },
  };
}

export type AdminStore = ReturnType<typeof createAdminStore>;
